"""phi for a budget, chosen before training: uba_core.select_phi scored on held-out runs.

For every (task, budget) cell of the budgeted grid (tasks.py), with 5 seeds:

1. The sweep: cosine (the framework's built-in, phi = 2) and UBA with every other
   candidate phi, each at its own peak lr tuned on validation (protocol.py: the task's
   lr grid, extended at an edge). It gives the best phi of the sweep, cosine at its
   tuned lr (the user's current lr, ``lr_cos``) and every phi's tuned lr.
2. Each method chooses (phi, peak-lr factor) from what a user would have, with its
   constants fixed in uba_core and below before any net cell was scored:
   - curvature: ``NoisyQuadratic.from_spectrum`` on the model at initialization (seed 0):
     SLQ spectrum (4 probes x 40 Lanczos steps) and the gradient noise of 8 training
     minibatches; loss gap = the initial loss (lowest loss taken as 0). digits-keras
     uses the same MLP's numbers from digits-mlp (no keras estimator);
   - pilot: ``AnnealingLaw.fit`` on two pilot runs at ``lr_cos``, constant and cosine,
     each T // 4 steps (one seed, 100; warmup left out of the fit): half of one run.
   Both use ``select_phi`` with its defaults (candidates 0.25 .. 16, z = 1).
   - consensus: cosine unless both choices lie on the same side of phi = 2, then the
     one nearest 2 (``consensus``). It was fixed after the 18 main cells were scored:
     only the held-out cells (``--heldout``, budgets no method was designed on) test it.
3. The full run of each choice: phi at ``lr_cos`` times the method's factor (the user's
   scenario: keep the cosine-tuned lr, switch phi), the same seeds as the sweep.

Reported per method: cells within one std of the sweep's best phi (a tie or a win on
test), wins / ties / losses against cosine, mean rank among the sweep's schedules,
the cost as a fraction of one run, and how well the lr factor transfers.

    python benchmarks/selector.py              # the full grid (about 30 core-minutes: 15 min on 2 cores)
    python benchmarks/selector.py --heldout    # 12 held-out cells (about 30 core-minutes)
    python benchmarks/selector.py --quick      # the short budgets, 2 seeds (about 3 minutes)
    python benchmarks/selector.py --resume     # go on from the journals of a stopped run

Writes benchmarks/results/selector[-quick|-heldout].json, .md and .png.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from protocol import (  # noqa: E402
    choose,
    command_line,
    compare,
    fmt,
    mean_ranks,
    ranks,
    record_head,
    run_grid,
    run_job_with_losses,
    run_jobs,
    run_records,
    stats,
    versions,
)
from schedules import multipliers, phi_of, warmup_steps  # noqa: E402
from tasks import TASKS, task_gradient_noise, task_spectrum  # noqa: E402

import uba_core  # noqa: E402

RESULTS = HERE / "results"
SWEEP = tuple("cosine" if phi == 2 else f"uba-{phi:g}" for phi in uba_core.CANDIDATE_PHIS)
PILOTS = ("constant", "cosine")
PILOT_SEED = 100
NOISE_BATCHES = 8
SPECTRUM_OF = {"digits-keras": "digits-mlp"}
METHODS = ("curvature", "pilot", "consensus")
# Budgets none of the methods was designed on: `--heldout` scores them there. The consensus
# rule was fixed after the main 18 cells were scored, so only these cells test it.
HELDOUT = {
    "quadratic-k10": (200, 600),
    "quadratic-k1000": (200, 600),
    "digits-mlp": (300, 1000),
    "digits-optax": (300, 1000),
    "digits-keras": (200, 600),
    "char-lm": (80, 250),
}


def consensus(choices: list[uba_core.PhiSelection]) -> uba_core.PhiSelection:
    """Switch from cosine only where every model's choice lies on the same side of phi = 2;
    then take the agreeing choice nearest to 2 (in log phi), with its model's lr factor.
    Structurally different models that disagree are read as model error: keep cosine."""
    sides = {(c.phi > 2) - (c.phi < 2) for c in choices}
    if sides == {0} or len(sides) > 1:
        base = next(c for c in choices[0].candidates if c.phi == 2.0)
        why = "the models disagree on the side of phi = 2" if len(sides) > 1 else "every model keeps phi = 2"
        return dataclasses.replace(choices[0], phi=2.0, lr_factor=1.0, peak_lr=choices[0].peak_lr /
                                   choices[0].lr_factor, fallback=len(sides) > 1, reason=why,
                                   candidates=(base,), method="consensus")  # fmt: skip
    near = min(choices, key=lambda c: abs(math.log(c.phi / 2)))
    return dataclasses.replace(near, reason=f"the models agree: phi = {', '.join(f'{c.phi:g}' for c in choices)}",
                               method="consensus")  # fmt: skip


def name_of(phi: float) -> str:
    return "cosine" if phi == 2 else f"uba-{phi:g}"


def curvature_models(tasks: list[str], journal: Path) -> tuple[dict, dict]:
    """The noisy quadratic model of every task at initialization, and what it cost.

    The time is measured once, after a first untimed estimate (imports, compilation),
    and kept in ``journal``: a resumed run reuses it instead of timing again under
    whatever else the machine is doing."""
    timed = json.loads(journal.read_text()) if journal.exists() else {}
    models, cost = {}, {}
    for task in tasks:
        source = SPECTRUM_OF.get(task, task)
        if source not in models:

            def estimate(source: str = source) -> uba_core.NoisyQuadratic:
                spectrum = task_spectrum(source, 0, progress=False)
                noise = task_gradient_noise(source, 0, NOISE_BATCHES)
                return uba_core.NoisyQuadratic.from_spectrum(spectrum, noise)

            models[source] = estimate()
            if source not in timed:
                start = time.perf_counter()
                estimate()
                timed[source] = time.perf_counter() - start
                journal.write_text(json.dumps(timed))
            cost[source] = {"seconds": timed[source], "what": models[source].cost}
        models[task], cost[task] = models[source], cost[source]
    return models, cost


def pilot_law(pilots: dict, task: str, budget: int, lr: float) -> uba_core.AnnealingLaw:
    """The annealing law fitted to the two pilots of one cell."""
    n = budget // 4
    logs = []
    for schedule in PILOTS:
        losses = pilots[(task, n, schedule, lr)][0]["losses"]
        logs.append((lr * multipliers(schedule, n), losses))
    return uba_core.AnnealingLaw.fit(logs, skip_steps=warmup_steps(n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the short budget of every task, 2 seeds")
    parser.add_argument("--heldout", action="store_true", help="the held-out budgets (HELDOUT), not the main 18 cells")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", type=int, default=None, help="seeds per run (default 5, quick 2)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--resume", action="store_true", help="keep the jobs of an interrupted run (its journals)")
    args = parser.parse_args(argv)
    seeds = tuple(range(args.seeds or (2 if args.quick else 5)))
    if len(seeds) < 2:
        parser.error("--seeds must be >= 2 (ties are judged by the std over seeds)")
    if args.quick and args.heldout:
        parser.error("--quick and --heldout are exclusive")
    budgets = {t: (TASKS[t].quick_budget,) if args.quick else TASKS[t].budgets for t in args.tasks}
    if args.heldout:
        budgets = {t: HELDOUT[t] for t in args.tasks}
    out_dir = Path(args.out) if args.out else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "selector-quick" if args.quick else "selector-heldout" if args.heldout else "selector"
    journals = {k: out_dir / f"{stem}{k}.jobs.jsonl" for k in ("", ".pilots", ".runs")}
    if not args.resume:
        for journal in journals.values():
            journal.unlink(missing_ok=True)
        (out_dir / f"{stem}.curvature-seconds.json").unlink(missing_ok=True)
    start = time.perf_counter()
    cells = [(t, b) for t in args.tasks for b in budgets[t]]

    # 1. The sweep.
    sweep, _, extended = run_grid([(t, b, s) for t, b in cells for s in SWEEP], seeds, args.workers, journals[""])
    cosine = {(t, b): choose(sweep, t, b, "cosine") for t, b in cells}
    lr_cos = {cell: c["lr"] for cell, c in cosine.items()}

    # 2a. The curvature model: no training.
    models, curvature_cost = curvature_models(args.tasks, out_dir / f"{stem}.curvature-seconds.json")
    # 2b. The pilots: constant and cosine at lr_cos, T // 4 steps each, one seed.
    pilots: dict = {}
    pilot_cells = [(t, b // 4, s) for t, b in cells for s in PILOTS]
    pilot_lr = {(t, b // 4, s): [lr_cos[(t, b)]] for t, b in cells for s in PILOTS}
    run_jobs(
        pilot_cells,
        (PILOT_SEED,),
        args.workers,
        journals[".pilots"],
        lambda job, out, took: pilots.__setitem__(job[:4], out),
        pilots,
        run=run_job_with_losses,
        lrs=lambda cell: pilot_lr[cell],
        extend=False,
        desc="pilots",
    )
    choices: dict = {}
    for t, b in cells:
        w = warmup_steps(b)
        choices[("curvature", t, b)] = uba_core.select_phi(models[t], b, peak_lr=lr_cos[(t, b)], warmup_steps=w)
        law = pilot_law(pilots, t, b, lr_cos[(t, b)])
        choices[("pilot", t, b)] = uba_core.select_phi(law, b, peak_lr=lr_cos[(t, b)], warmup_steps=w)
        choices[("consensus", t, b)] = consensus([choices[("curvature", t, b)], choices[("pilot", t, b)]])

    # 3. The full runs of the choices (those the sweep has already are not run again).
    runs: dict = dict(sweep)
    wanted: dict = {}  # (task, budget, schedule) -> the lrs the methods chose for it
    for (_, t, b), c in choices.items():
        wanted.setdefault((t, b, name_of(c.phi)), set()).add(c.peak_lr)
    todo = [cell for cell, lrs in wanted.items() if any((*cell, lr) not in runs for lr in lrs)]
    run_jobs(
        todo,
        seeds,
        args.workers,
        journals[".runs"],
        lambda job, out, took: runs.__setitem__(job[:4], out),
        runs,
        lrs=lambda cell: sorted(lr for lr in wanted[cell] if (*cell, lr) not in runs),
        extend=False,
        desc="choices",
    )
    elapsed = time.perf_counter() - start

    unit = run_seconds(journals[""], cosine, seeds)
    compute = sum(
        json.loads(line)["seconds"]
        for journal in journals.values()
        if journal.exists()  # no job ran: nothing was written
        for line in journal.read_text().splitlines()
    ) + sum(c["seconds"] for t, c in curvature_cost.items() if t not in SPECTRUM_OF)
    summary = summarise(runs, sweep, cells, choices, cosine, unit, curvature_cost)
    table = markdown(summary, {t: TASKS[t].metric for t in args.tasks})
    print("\n" + table)
    command = command_line("selector.py", argv)
    record = {
        **record_head(command.strip(), elapsed, compute, args.workers, seeds),
        "budgets": budgets,
        "sweep": list(SWEEP),
        "extended_cells": {"/".join(map(str, k)): v for k, v in extended.items()},
        "versions": versions(),
        "choices": {f"{m}/{t}/{b}": str(c) for (m, t, b), c in choices.items()},
        "summary": summary,
        "runs": run_records(runs),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=1, default=float))
    header = (
        f"Measured with `{command.strip()}` ({len(seeds)} seeds, {args.workers} workers on {os.cpu_count()} cores): "
        f"{compute / 60:.1f} core-minutes of training and estimation"
        + (f" (this run resumed its journals and took {elapsed / 60:.1f} min)" if args.resume else "")
        + ".\n\n"
    )
    (out_dir / f"{stem}.md").write_text(header + table)
    plot(summary, out_dir / f"{stem}.png")
    print(f"wrote {out_dir / (stem + '.json')} and {stem}.md ({elapsed / 60:.1f} min)")
    return 0


def summarise(runs, sweep, cells, choices, cosine, run_seconds, curvature_cost) -> dict:
    rows = []
    per_method = {
        m: {"within": 0, "phi_within": 0, "cosine": {"win": 0, "tie": 0, "loss": 0}, "ranks": []} for m in METHODS
    }
    # The pilot law's factor is 1: its transfer is "keep lr", counted once.
    transfer = {m: [0, 0] for m in ("curvature", "keep lr")}
    for t, b in cells:
        chosen = {s: choose(sweep, t, b, s) for s in SWEEP}
        best = min(SWEEP, key=lambda s: (chosen[s]["val"], s))
        row = {"task": t, "budget": b, "best": best, "best_phi": phi_or_2(best), "sweep": {}, "methods": {}}
        for s in SWEEP:
            row["sweep"][s] = {k: chosen[s][k] for k in ("lr", "val", "test", "std")}
        for m in METHODS:
            c = choices[(m, t, b)]
            name = name_of(c.phi)
            out = runs[(t, b, name, c.peak_lr)]
            mean, std = stats(out)
            ours = {"test": mean, "std": std}
            tests = {s: chosen[s]["test"] for s in SWEEP} | {"ours": mean}
            rank = ranks(tests)["ours"]
            vs_best = compare(ours, chosen[best])
            vs_cos = compare(ours, cosine[(t, b)])
            per_method[m]["within"] += vs_best in ("win", "tie")
            # The same phi at its own tuned lr: was the phi right, whatever the lr factor?
            per_method[m]["phi_within"] += compare(chosen[name], chosen[best]) in ("win", "tie")
            per_method[m]["cosine"][vs_cos] += 1
            per_method[m]["ranks"].append(rank)
            # Cost in units of one full run (one seed) of cosine at lr_cos; the pilots are T / 2 steps.
            curvature = curvature_cost[t]["seconds"] / run_seconds[(t, b)]
            cost = {"curvature": curvature, "pilot": 0.5, "consensus": curvature + 0.5}[m]
            row["methods"][m] = {
                "phi": c.phi,
                "lr_factor": c.lr_factor,
                "lr": c.peak_lr,
                "fallback": c.fallback,
                "test": mean,
                "std": std,
                "vs_best": vs_best,
                "vs_cosine": vs_cos,
                "rank": rank,
                "cost": cost,
                "same_phi_tuned": {k: chosen[name][k] for k in ("lr", "test", "std")},
                "predicted": [[p.phi, p.lr_factor, p.loss, p.stderr] for p in c.candidates],
            }
            # Peak-lr transfer: the method's lr for every candidate phi against that phi's tuned lr.
            for p in c.candidates if m == "curvature" else ():
                tuned = chosen[name_of(p.phi)]["lr"]
                for who, factor in (("curvature", p.lr_factor), ("keep lr", 1.0)):
                    transfer[who][0] += 0.5 <= cosine[(t, b)]["lr"] * factor / tuned <= 2.0
                    transfer[who][1] += 1
        row["cosine_within_best"] = compare(chosen["cosine"], chosen[best]) in ("win", "tie")
        rows.append(row)
    cost_note = {t: v["what"] for t, v in curvature_cost.items()}
    return {
        "rows": rows,
        "methods": {
            m: {
                "within_best": v["within"],
                "phi_at_its_tuned_lr_within_best": v["phi_within"],
                "vs_cosine": v["cosine"],
                "mean_rank": statistics.fmean(v["ranks"]),
                "cells": len(cells),
            }
            for m, v in per_method.items()
        },
        "sweep_mean_rank": mean_ranks([{s: r["sweep"][s]["test"] for s in SWEEP} for r in rows]),
        "cosine_within_best": sum(r["cosine_within_best"] for r in rows),
        "lr_transfer": {m: {"within_2x": a, "pairs": n} for m, (a, n) in transfer.items()},
        "curvature_cost": cost_note,
    }


def plot(summary: dict, path: Path) -> None:
    """Test metric of each method's run and of the sweep's best phi, relative to tuned cosine, per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = summary["rows"]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(12, 4.2), layout="constrained")
    series = {"best phi of the sweep": lambda r: r["sweep"][r["best"]]}
    for m in METHODS:
        series[f"{m}: its phi, lr_cos x its factor"] = lambda r, m=m: r["methods"][m]
    cos = np.array([r["sweep"]["cosine"]["test"] for r in rows])
    for i, (label, get) in enumerate(series.items()):
        val = np.array([get(r)["test"] for r in rows])
        err = np.array([get(r)["std"] for r in rows])
        ax.errorbar(x + (i - 1.5) * 0.2, 100 * (val / cos - 1), yerr=100 * err / cos, fmt="o", ms=4, capsize=2,
                    label=label)  # fmt: skip
    ax.axhline(0, color="0.3", lw=1)
    ax.set_xticks(x, [f"{r['task']}\nT={r['budget']}" for r in rows], fontsize=6, rotation=60)
    ax.set(
        ylabel="test metric vs tuned cosine (%)", title="phi chosen before training, against cosine (lower is better)"
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_seconds(journal: Path, cosine: dict, seeds: tuple) -> dict:
    """Seconds of one seed's full run of cosine at its tuned lr, per cell (from the sweep's journal)."""
    out = {}
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        t, b, s, lr, job_seeds = entry["job"]
        if s == "cosine" and tuple(job_seeds) == seeds and (t, b) in cosine and cosine[(t, b)]["lr"] == lr:
            out[(t, b)] = entry["seconds"] / len(seeds)
    return out


def phi_or_2(schedule: str) -> float:
    return 2.0 if schedule == "cosine" else float(phi_of(schedule))


def markdown(summary: dict, metric: dict) -> str:
    out = [
        "| task (metric) | T | best phi of the sweep | cosine | curvature: phi, lr x: test | pilot: phi: test "
        "| consensus: phi: test | vs best phi (curvature / pilot / consensus) | vs cosine |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in summary["rows"]:
        best, cos = r["sweep"][r["best"]], r["sweep"]["cosine"]
        ms = [r["methods"][m] for m in METHODS]
        cols = [
            f"{c['phi']:g}" + (f", x{c['lr_factor']:.3g}" if m == "curvature" else "")
            + (" (fallback)" if c["fallback"] else "") + f": {fmt(c['test'], c['std'])}"
            for m, c in zip(METHODS, ms, strict=True)
        ]  # fmt: skip
        out.append(
            f"| {r['task']} ({metric[r['task']]}) | {r['budget']} "
            f"| {r['best_phi']:g}: {fmt(best['test'], best['std'])} | {fmt(cos['test'], cos['std'])} "
            f"| {' | '.join(cols)} | {' / '.join(c['vs_best'] for c in ms)} "
            f"| {' / '.join(c['vs_cosine'] for c in ms)} |"
        )
    out.append(
        "\n| method | cells within one std of the best phi | vs cosine (win / tie / loss) | mean rank "
        "| cost, runs (median, max) | targets met |"
    )
    out.append("|---|---:|---|---:|---:|---|")
    for m, v in summary["methods"].items():
        c, costs = v["vs_cosine"], [r["methods"][m]["cost"] for r in summary["rows"]]
        need = math.ceil(14 / 18 * v["cells"])  # the targets, for 18 cells: 14 within, <= 1 loss, >= 3 wins
        met = {
            f"within >= {need} of {v['cells']}": v["within_best"] >= need,
            "<= 1 loss": c["loss"] <= 1,
            ">= 3 wins": c["win"] >= 3,
            "cost <= 0.5": max(costs) <= 0.5,
        }
        out.append(
            f"| {m} | {v['within_best']} of {v['cells']} | {c['win']} / {c['tie']} / {c['loss']} "
            f"| {v['mean_rank']:.2f} | {statistics.median(costs):.2f}, {max(costs):.2f} "
            f"| {', '.join(k for k, ok in met.items() if ok) or 'none'} (of: {', '.join(met)}) |"
        )
    out.append(
        "\nFor scale: cosine itself (never switching) is within one std of the best phi in "
        f"{summary['cosine_within_best']} of {len(summary['rows'])} cells. Each method's phi at that phi's own "
        "tuned lr (from the sweep) is within one std of the best in "
        + ", ".join(f"{m} {v['phi_at_its_tuned_lr_within_best']}" for m, v in summary["methods"].items())
        + " cells."
    )
    out.append(
        "\nMean rank of the sweep's schedules (each at its tuned lr; a method's rank is among these 7 and itself): "
        + ", ".join(f"{s} {v:.2f}" for s, v in summary["sweep_mean_rank"].items())
    )
    out.append(
        "\nPeak-lr transfer, (cell, phi) pairs where lr_cos x the factor is within a factor 2 of that phi's tuned lr "
        "(keep lr: the factor 1, as the pilot law has it): "
        + ", ".join(
            f"{m} {v['within_2x']} of {v['pairs']} ({100 * v['within_2x'] / v['pairs']:.0f} %)"
            for m, v in summary["lr_transfer"].items()
        )
    )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
