"""phi and its peak lr, chosen before training: the selectors of uba_core.experimental and
the lr transfer of uba_core.transfer_lr, scored on held-out runs.

For every (task, budget) cell, with 5 seeds:

1. The sweep: cosine (the framework's built-in, phi = 2) and UBA with every other
   candidate phi, each at its own peak lr tuned on validation (protocol.py: the task's
   lr grid, extended at an edge). It gives the best phi of the sweep, cosine's tuned lr
   (the user's lr, ``lr_cos``) and every phi's tuned lr. ``--reuse-sweep`` takes the
   sweep's runs from the results file this script wrote before (same tasks, seeds and
   protocol) instead of training them again.
2. Every method chooses a phi from what a user would have; its peak lr is always
   ``transfer_lr`` from cosine at ``lr_cos`` with its guard (never above ``lr_cos``).
   Every constant is fixed in uba_core and below before the cells are scored:
   - curvature: ``select_phi`` on ``NoisyQuadratic.from_spectrum`` at initialization
     (seed 0; SLQ 4 probes x 40 Lanczos steps, 8 noise minibatches; digits-keras and
     digits-sgd use the digits MLP's numbers), z = 2, with its validity checks;
   - pilot: ``select_phi`` on ``AnnealingLaw.fit`` of two pilots at ``lr_cos``,
     constant and cosine, T // 4 steps each (seed 100): half a run; z = 2 with the
     law's held-out tail error, and its validity checks;
   - consensus: ``consensus`` of those two;
   - compare: ``pilot_plan`` (cosine, phi 0.5 and phi 8 at their transferred lrs,
     2 paired seeds, half a run in all) and ``compare_phis`` on the pilots' validation
     metric (z = 2).
3. The full run of each choice at its transferred lr, the sweep's seeds.
4. The lr transfer: every phi at ``lr_cos`` times the bound's factor (raw and guarded)
   and at ``lr_cos`` itself (keep lr), against that phi at its grid-tuned lr.

Reported per method: cells within one std of the sweep's best phi, wins / ties / losses
against cosine at its tuned lr, mean rank, cost in runs, and the targets met; per lr
rule: (cell, phi) pairs within one std of the grid-tuned loss and within 2x of the tuned lr.

    python benchmarks/selector.py --reuse-sweep              # the 18 main cells
    python benchmarks/selector.py --heldout --reuse-sweep    # 12 held-out budgets
    python benchmarks/selector.py --new-task                 # digits-cnn (AdamW), 3 budgets, sweep included
    python benchmarks/selector.py --trial                    # a user's plain-SGD MLP at lr 0.8 and 0.1
    python benchmarks/selector.py --quick                    # the short budgets, 2 seeds
    python benchmarks/selector.py --resume ...               # go on from the journals of a stopped run

Writes benchmarks/results/selector[-heldout|-newtask|-trial|-quick].json, .md and .png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
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
    on_grid,
    ranks,
    record_head,
    run_grid,
    run_job_with_losses,
    run_jobs,
    run_records,
    stats,
    versions,
)
from schedules import multipliers, warmup_steps  # noqa: E402
from tasks import ALL_TASKS, EXTRA_TASKS, TASKS, task_gradient_noise, task_spectrum  # noqa: E402

import uba_core  # noqa: E402
from uba_core import experimental  # noqa: E402

RESULTS = HERE / "results"
CURVATURE_CACHE = "selector.curvature-models.pkl"
PHIS = experimental.CANDIDATE_PHIS
SWEEP = tuple("cosine" if phi == 2 else f"uba-{phi:g}" for phi in PHIS)
LAW_PILOTS = ("constant", "cosine")
LAW_SEED = 100
COMPARE_SEEDS = (100, 101)
NOISE_BATCHES = 8
SPECTRUM_OF = {"digits-keras": "digits-mlp", "digits-sgd": "digits-mlp"}
METHODS = ("curvature", "pilot", "consensus", "compare")
LR_RULES = ("bound, guarded", "bound", "keep lr")
# Budgets none of the methods was designed on.
HELDOUT = {
    "quadratic-k10": (200, 600),
    "quadratic-k1000": (200, 600),
    "digits-mlp": (300, 1000),
    "digits-optax": (300, 1000),
    "digits-keras": (200, 600),
    "char-lm": (80, 250),
}
# A user's trial: the plain-SGD digits MLP at T = 1500, tuned (0.8) and untuned (0.1) lrs.
TRIAL = {"digits-sgd": (1500,)}
TRIAL_LRS = (0.8, 0.1)


def name_of(phi: float) -> str:
    return "cosine" if phi == 2 else f"uba-{phi:g}"


def cosine_config(budget: int, lr: float) -> uba_core.UBAConfig:
    """The benchmark's cosine (its warmup) as a UBA config: what the lr transfer starts from."""
    return uba_core.UBAConfig(total_steps=budget, peak_lr=lr, phi=2.0, warmup_steps=warmup_steps(budget))


def transferred(budget: int, lr: float, phi: float, allow_increase: bool = False) -> float:
    return uba_core.transfer_lr(cosine_config(budget, lr), phi=phi, allow_increase=allow_increase).peak_lr


def curvature_models(tasks: list[str], journal: Path) -> tuple[dict, dict]:
    """The noisy quadratic model of every task at initialization, and its seconds.

    The time is measured once per task, warm, after a first untimed estimate, and kept in
    ``journal``; a time another mode of this script already measured (its own journal) is
    reused. The model itself (deterministic: seed 0) is kept in CURVATURE_CACHE, so that
    every mode estimates each task once."""
    timed = {}
    for other in sorted(journal.parent.glob("selector*.curvature-seconds.json")):
        timed |= json.loads(other.read_text())
    cache_path = journal.parent / CURVATURE_CACHE
    cache = pickle.loads(cache_path.read_bytes()) if cache_path.exists() else {}
    models, seconds = {}, {}
    for task in tasks:
        source = SPECTRUM_OF.get(task, task)
        if source not in models:

            def estimate(source: str = source) -> experimental.NoisyQuadratic:
                spectrum = task_spectrum(source, 0, progress=False)
                noise = task_gradient_noise(source, 0, NOISE_BATCHES)
                return experimental.NoisyQuadratic.from_spectrum(spectrum, noise)

            if source not in cache:
                cache[source] = estimate()
                cache_path.write_bytes(pickle.dumps(cache))
            models[source] = cache[source]
            if source not in timed:
                start = time.perf_counter()
                estimate()
                timed[source] = time.perf_counter() - start
            journal.write_text(json.dumps(timed))
            seconds[source] = timed[source]
        models[task], seconds[task] = models[source], seconds[source]
    return models, seconds


def stored_sweep(path: Path, journal: Path, cells: list[tuple], seeds: tuple) -> int:
    """Write the sweep runs of ``cells`` from a results file of this script into ``journal``
    (the lrs of the task's grid and of its extensions only); returns how many."""
    record = json.loads(path.read_text())
    if tuple(record["seeds"]) != seeds:
        raise SystemExit(f"--reuse-sweep: {path} has seeds {record['seeds']}, not {list(seeds)}")
    lines = []
    for run in record["runs"]:
        t, b, s, lr = run["task"], run["budget"], run["schedule"], run["lr"]
        if (t, b) in cells and s in SWEEP and on_grid(t, lr):
            lines.append(json.dumps({"job": [t, b, s, lr, list(seeds)], "out": run["seeds"], "seconds": 0.0}))
    journal.write_text("\n".join(lines) + "\n")
    return len(lines)


def law_choice(pilots: dict, task: str, budget: int, lr: float) -> experimental.PhiSelection:
    n = budget // 4
    logs = [(lr * multipliers(s, n), pilots[(task, n, s, lr)][0]["losses"]) for s in LAW_PILOTS]
    law = experimental.AnnealingLaw.fit(logs, skip_steps=warmup_steps(n))
    return experimental.select_phi(law, budget, peak_lr=lr, warmup_steps=warmup_steps(budget))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the short budget of every task, 2 seeds")
    mode.add_argument("--heldout", action="store_true", help="the held-out budgets (HELDOUT)")
    mode.add_argument("--new-task", action="store_true", help="the new task, digits-cnn, at its 3 budgets")
    mode.add_argument("--trial", action="store_true", help="a user's plain-SGD MLP at lr 0.8 and 0.1 (T = 1500)")
    parser.add_argument("--tasks", nargs="+", choices=list(ALL_TASKS), default=None)
    parser.add_argument("--seeds", type=int, default=None, help="seeds per run (default 5, quick 2)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument("--resume", action="store_true", help="keep the jobs of an interrupted run (its journals)")
    parser.add_argument(
        "--reuse-sweep", action="store_true", help="take the sweep from this mode's results file instead of training it"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # the curvature estimates run here beside the workers: no oversubscription
    seeds = tuple(range(args.seeds or (2 if args.quick else 5)))
    if len(seeds) < 2:
        parser.error("--seeds must be >= 2 (ties are judged by the std over seeds)")
    if args.heldout:
        budgets = dict(HELDOUT)
    elif args.new_task:
        budgets = {t: task.budgets for t, task in EXTRA_TASKS.items() if t != "digits-sgd"}
    elif args.trial:
        budgets = dict(TRIAL)
    else:
        budgets = {t: (TASKS[t].quick_budget,) if args.quick else TASKS[t].budgets for t in TASKS}
    if args.tasks:
        budgets = {t: b for t, b in budgets.items() if t in args.tasks}
    out_dir = Path(args.out) if args.out else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "selector" + next((f"-{m}" for m in ("quick", "heldout", "newtask", "trial")
                              if getattr(args, m.replace("newtask", "new_task"))), "")  # fmt: skip
    journals = {k: out_dir / f"{stem}{k}.jobs.jsonl" for k in ("", ".pilots", ".runs")}
    if not args.resume:
        for journal in journals.values():
            journal.unlink(missing_ok=True)
        (out_dir / f"{stem}.curvature-seconds.json").unlink(missing_ok=True)
    start = time.perf_counter()
    cells = [(t, b) for t in budgets for b in budgets[t]]
    tasks = list(budgets)
    reused = 0
    if args.reuse_sweep and not journals[""].exists():
        reused = stored_sweep(out_dir / f"{stem}.json", journals[""], cells, seeds)

    # 1. The sweep (a user's trial has none: the user's lrs are given).
    if args.trial:
        sweep: dict = {}
        scenarios = [(t, b, lr) for t, b in cells for lr in TRIAL_LRS]
    else:
        sweep, _, _ = run_grid([(t, b, s) for t, b in cells for s in SWEEP], seeds, args.workers, journals[""])
        scenarios = [(t, b, choose(sweep, t, b, "cosine")["lr"]) for t, b in cells]

    # 2. The methods' inputs: the curvature model, then every pilot (one journal).
    models, curvature_seconds = curvature_models(tasks, out_dir / f"{stem}.curvature-seconds.json")
    plans = {sc: experimental.pilot_plan(cosine_config(sc[1], sc[2])) for sc in scenarios}
    pilot_jobs: dict = {}  # (task, steps, schedule) -> {lr: seeds}
    for t, b, lr in scenarios:
        for s in LAW_PILOTS:
            pilot_jobs.setdefault((t, b // 4, s, (LAW_SEED,)), set()).add(lr)
        plan = plans[(t, b, lr)]
        if plan.pilot_steps:
            pilot_jobs.setdefault((t, plan.pilot_steps, "cosine", COMPARE_SEEDS), set()).add(lr)
            for phi, cfg in plan.candidates.items():
                pilot_jobs.setdefault((t, plan.pilot_steps, name_of(phi), COMPARE_SEEDS), set()).add(cfg.peak_lr)
    pilots: dict = {}
    for pilot_seeds in ((LAW_SEED,), COMPARE_SEEDS):
        run_jobs(
            [key[:3] for key in pilot_jobs if key[3] == pilot_seeds],
            pilot_seeds,
            args.workers,
            journals[".pilots"],
            lambda job, out, took: pilots.__setitem__(job[:4], out),
            pilots,
            run=run_job_with_losses,
            lrs=lambda cell, s=pilot_seeds: sorted(pilot_jobs[(*cell, s)]),
            extend=False,
            desc="pilots",
        )
    choices: dict = {}
    for t, b, lr in scenarios:
        w = warmup_steps(b)
        curv = experimental.select_phi(models[t], b, peak_lr=lr, warmup_steps=w)
        law = law_choice(pilots, t, b, lr)
        both = experimental.consensus([curv, law])
        plan = plans[(t, b, lr)]
        if plan.pilot_steps:
            arms = [("cosine", lr)] + [(name_of(p), c.peak_lr) for p, c in plan.candidates.items()]
            val = {name: [r["val"] for r in pilots[(t, plan.pilot_steps, name, arm_lr)]] for name, arm_lr in arms}
            result = experimental.compare_phis(val["cosine"], {p: val[name_of(p)] for p in plan.candidates})
            comp = {"phi": result.phi, "note": str(result), "fallback": not result.switched, "cost": plan.cost}
        else:
            comp = {"phi": 2.0, "note": plan.reason, "fallback": True, "cost": 0.0}
        for m, sel in (("curvature", curv), ("pilot", law), ("consensus", both)):
            choices[(m, t, b, lr)] = {"phi": sel.phi, "note": str(sel), "fallback": sel.fallback or bool(sel.problems)}
        choices[("compare", t, b, lr)] = comp
        for c in (choices[(m, t, b, lr)] for m in METHODS):
            c["lr"] = transferred(b, lr, c["phi"])

    # 3 and 4. Full runs: every choice, every lr rule's lr for every phi, and (trial) cosine.
    runs: dict = dict(sweep)
    wanted: dict = {}
    for (_, t, b, _), c in choices.items():
        wanted.setdefault((t, b, name_of(c["phi"])), set()).add(c["lr"])
    for t, b, lr in scenarios:
        if args.trial:
            wanted.setdefault((t, b, "cosine"), set()).add(lr)
            continue
        for phi in PHIS:
            if phi != 2:
                wanted.setdefault((t, b, name_of(phi)), set()).update(
                    {transferred(b, lr, phi), transferred(b, lr, phi, allow_increase=True), lr}
                )
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
        desc="runs",
    )
    elapsed = time.perf_counter() - start

    unit = run_seconds(journals[".runs"], seeds)
    compute = sum(
        json.loads(line)["seconds"]
        for journal in journals.values()
        if journal.exists()
        for line in journal.read_text().splitlines()
    ) + sum(s for t, s in curvature_seconds.items() if t not in SPECTRUM_OF)
    if args.trial:
        summary = summarise_trial(runs, scenarios, choices)
        table = markdown_trial(summary)
    else:
        summary = summarise(runs, sweep, scenarios, choices, unit, curvature_seconds, args.heldout)
        table = markdown(summary, {t: ALL_TASKS[t].metric for t in tasks})
    print("\n" + table)
    command = command_line("selector.py", argv)
    record = {
        **record_head(command.strip(), elapsed, compute, args.workers, seeds),
        "budgets": budgets,
        "sweep": list(SWEEP),
        "sweep_runs_reused": reused,
        "versions": versions(),
        "choices": {"/".join(map(str, k)): v for k, v in choices.items()},
        "summary": summary,
        "runs": run_records(runs),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=1, default=float))
    header = (
        f"Measured with `{command.strip()}` ({len(seeds)} seeds, {args.workers} workers on {os.cpu_count()} cores): "
        f"{compute / 60:.1f} core-minutes of training and estimation"
        + (f", the sweep's {reused} runs taken from the results file this command wrote before" if reused else "")
        + (f" (this run resumed its journals and took {elapsed / 60:.1f} min)" if args.resume else "")
        + ".\n\n"
    )
    (out_dir / f"{stem}.md").write_text(header + table)
    if not args.trial:
        plot(summary, out_dir / f"{stem}.png")
    print(f"wrote {out_dir / (stem + '.json')} and {stem}.md ({elapsed / 60:.1f} min)")
    return 0


def run_seconds(journal: Path, seeds: tuple) -> dict:
    """Seconds of one seed's full run per cell: the median over the cell's full-run jobs."""
    per: dict = {}
    if journal.exists():
        for line in journal.read_text().splitlines():
            entry = json.loads(line)
            t, b, _, _, job_seeds = entry["job"]
            per.setdefault((t, b), []).append(entry["seconds"] / len(job_seeds))
    return {cell: statistics.median(v) for cell, v in per.items()}


def summarise(runs, sweep, scenarios, choices, unit, curvature_seconds, heldout) -> dict:
    rows = []
    per_method = {
        m: {"within": 0, "cosine": {"win": 0, "tie": 0, "loss": 0}, "ranks": [], "costs": []} for m in METHODS
    }
    transfer = {rule: {"within_std": 0, "within_2x": 0, "log2": [], "pairs": 0} for rule in LR_RULES}
    for t, b, lr_cos in scenarios:
        chosen = {s: choose(sweep, t, b, s) for s in SWEEP}
        best = min(SWEEP, key=lambda s: (chosen[s]["val"], s))
        cosine = chosen["cosine"]
        row = {"task": t, "budget": b, "best": best, "best_phi": phi_or_2(best), "sweep": {}, "methods": {},
               "transfer": {}}  # fmt: skip
        for s in SWEEP:
            row["sweep"][s] = {k: chosen[s][k] for k in ("lr", "val", "test", "std")}
        for m in METHODS:
            c = choices[(m, t, b, lr_cos)]
            mean, std = stats(runs[(t, b, name_of(c["phi"]), c["lr"])])
            ours = {"test": mean, "std": std}
            rank = ranks({s: chosen[s]["test"] for s in SWEEP} | {"ours": mean})["ours"]
            vs_best, vs_cos = compare(ours, chosen[best]), compare(ours, cosine)
            curvature = curvature_seconds[t] / unit[(t, b)]
            cost = {"curvature": curvature, "pilot": 0.5, "consensus": curvature + 0.5, "compare": c["cost"]
                    if m == "compare" else 0.0}[m]  # fmt: skip
            v = per_method[m]
            v["within"] += vs_best in ("win", "tie")
            v["cosine"][vs_cos] += 1
            v["ranks"].append(rank)
            v["costs"].append(cost)
            row["methods"][m] = {"phi": c["phi"], "lr": c["lr"], "fallback": c["fallback"], "test": mean, "std": std,
                                 "vs_best": vs_best, "vs_cosine": vs_cos, "rank": rank, "cost": cost}  # fmt: skip
        for phi in PHIS:
            if phi == 2:
                continue
            name, tuned = name_of(phi), chosen[name_of(phi)]
            lrs = {"bound, guarded": transferred(b, lr_cos, phi), "bound": transferred(b, lr_cos, phi, True),
                   "keep lr": lr_cos}  # fmt: skip
            row["transfer"][name] = {}
            for rule, lr in lrs.items():
                mean, std = stats(runs[(t, b, name, lr)])
                verdict = compare({"test": mean, "std": std}, tuned)
                err = math.log2(lr / tuned["lr"])
                rec = transfer[rule]
                rec["within_std"] += verdict in ("win", "tie")
                rec["within_2x"] += abs(err) <= 1
                rec["log2"].append(abs(err))
                rec["pairs"] += 1
                row["transfer"][name][rule] = {"lr": lr, "test": mean, "std": std, "vs_tuned": verdict}
        row["cosine_within_best"] = compare(cosine, chosen[best]) in ("win", "tie")
        rows.append(row)
    cells = len(rows)
    need = {18: 16, 12: 11}.get(cells, cells)  # the targets: 16 of 18, 11 of 12
    return {
        "rows": rows,
        "methods": {
            m: {
                "within_best": v["within"],
                "vs_cosine": v["cosine"],
                "mean_rank": statistics.fmean(v["ranks"]),
                "cost_median": statistics.median(v["costs"]),
                "cost_max": max(v["costs"]),
                "cells": cells,
                "targets": {
                    f"within >= {need} of {cells}": v["within"] >= need,
                    "no loss": v["cosine"]["loss"] == 0,
                    ">= 2 wins": v["cosine"]["win"] >= 2,
                    "cost <= 0.5": max(v["costs"]) <= 0.5,
                },
            }
            for m, v in per_method.items()
        },
        "sweep_mean_rank": mean_ranks([{s: r["sweep"][s]["test"] for s in SWEEP} for r in rows]),
        "cosine_within_best": sum(r["cosine_within_best"] for r in rows),
        "lr_transfer": {
            rule: {
                "within_std": v["within_std"],
                "within_2x": v["within_2x"],
                "mean_abs_log2": statistics.fmean(v["log2"]),
                "pairs": v["pairs"],
            }
            for rule, v in transfer.items()
        },
    }


def summarise_trial(runs, scenarios, choices) -> dict:
    rows = []
    for t, b, lr in scenarios:
        cos_mean, cos_std = stats(runs[(t, b, "cosine", lr)])
        row = {"task": t, "budget": b, "lr": lr, "cosine": {"test": cos_mean, "std": cos_std}, "methods": {}}
        for m in METHODS:
            c = choices[(m, t, b, lr)]
            mean, std = stats(runs[(t, b, name_of(c["phi"]), c["lr"])])
            verdict = compare({"test": mean, "std": std}, {"test": cos_mean, "std": cos_std})
            row["methods"][m] = {"phi": c["phi"], "lr": c["lr"], "test": mean, "std": std, "vs_cosine": verdict}
        rows.append(row)
    return {"rows": rows}


def markdown_trial(summary: dict) -> str:
    out = [
        "| user's lr | cosine at that lr | " + " | ".join(f"{m}: phi, lr: test" for m in METHODS) + " |",
        "|---:|---:|" + "---:|" * len(METHODS),
    ]
    for r in summary["rows"]:
        cols = [f"{c['phi']:g}, {c['lr']:.3g}: {fmt(c['test'], c['std'])} ({c['vs_cosine']})"
                for c in r["methods"].values()]  # fmt: skip
        out.append(f"| {r['lr']:g} | {fmt(r['cosine']['test'], r['cosine']['std'])} | {' | '.join(cols)} |")
    out.append(
        "\nThe bar: no recommendation trains worse than cosine at the same lr by more than one std "
        "(a 'loss' in brackets)."
    )
    return "\n".join(out) + "\n"


def plot(summary: dict, path: Path) -> None:
    """Test metric of each method's run and of the sweep's best phi, relative to tuned cosine, per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows = summary["rows"]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(12, 4.6), layout="constrained")
    series = {"best phi of the sweep": lambda r: r["sweep"][r["best"]]}
    for m in METHODS:
        series[f"{m}: its phi at the transferred lr"] = lambda r, m=m: r["methods"][m]
    cos = np.array([r["sweep"]["cosine"]["test"] for r in rows])
    width = 0.8 / len(series)
    for i, (label, get) in enumerate(series.items()):
        val = np.array([get(r)["test"] for r in rows])
        err = np.array([get(r)["std"] for r in rows])
        ax.errorbar(x + (i - (len(series) - 1) / 2) * width, 100 * (val / cos - 1), yerr=100 * err / cos, fmt="o",
                    ms=4, capsize=2, label=label)  # fmt: skip
    ax.axhline(0, color="0.3", lw=1)
    ax.set_yscale("symlog", linthresh=20)  # linear within +-20 %, where most cells are; a loss of 500 % still shows
    ticks = [t for t in (-50, -20, -10, 0, 10, 20, 50, 100, 200, 500) if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
    ax.set_yticks(ticks, [f"{t:+d}" if t else "0" for t in ticks])
    ax.set_xticks(x, [f"{r['task']}\nT={r['budget']}" for r in rows], fontsize=6, rotation=60)
    ax.set(
        ylabel="test metric vs tuned cosine (%)", title="phi chosen before training, against cosine (lower is better)"
    )
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def phi_or_2(schedule: str) -> float:
    return 2.0 if schedule == "cosine" else float(schedule.split("-", 1)[1])


def markdown(summary: dict, metric: dict) -> str:
    out = [
        "| task (metric) | T | best phi of the sweep | cosine | "
        + " | ".join(f"{m}: phi: test" for m in METHODS)
        + " | vs best phi | vs cosine |",
        "|---|---:|---:|---:|" + "---:|" * len(METHODS) + "---|---|",
    ]
    for r in summary["rows"]:
        best, cos = r["sweep"][r["best"]], r["sweep"]["cosine"]
        ms = [r["methods"][m] for m in METHODS]
        cols = [f"{c['phi']:g}" + (" (fb)" if c["fallback"] and c["phi"] == 2 else "") + f": {fmt(c['test'], c['std'])}"
                for c in ms]  # fmt: skip
        out.append(
            f"| {r['task']} ({metric[r['task']]}) | {r['budget']} "
            f"| {r['best_phi']:g}: {fmt(best['test'], best['std'])} | {fmt(cos['test'], cos['std'])} "
            f"| {' | '.join(cols)} | {' / '.join(c['vs_best'] for c in ms)} "
            f"| {' / '.join(c['vs_cosine'] for c in ms)} |"
        )
    out.append(
        "\n(fb): phi = 2 kept although the method's model preferred another phi (within its error, or a failed "
        "validity check). Every chosen phi ran at cosine's tuned lr moved by `transfer_lr` with its guard."
    )
    out.append(
        "\n| method | cells within one std of the best phi | vs cosine (win / tie / loss) | mean rank "
        "| cost, runs (median, max) | targets met |"
    )
    out.append("|---|---:|---|---:|---:|---|")
    for m, v in summary["methods"].items():
        c = v["vs_cosine"]
        met = ", ".join(k for k, ok in v["targets"].items() if ok) or "none"
        out.append(
            f"| {m} | {v['within_best']} of {v['cells']} | {c['win']} / {c['tie']} / {c['loss']} "
            f"| {v['mean_rank']:.2f} | {v['cost_median']:.2f}, {v['cost_max']:.2f} "
            f"| {met} (of: {', '.join(v['targets'])}) |"
        )
    out.append(
        f"\nFor scale: cosine itself (never switching) is within one std of the best phi in "
        f"{summary['cosine_within_best']} of {len(summary['rows'])} cells."
    )
    out.append(
        "\nMean rank of the sweep's schedules (each at its tuned lr): "
        + ", ".join(f"{s} {v:.2f}" for s, v in summary["sweep_mean_rank"].items())
    )
    out.append(
        "\nPeak-lr transfer from cosine's tuned lr, over (cell, phi) pairs, against that phi at its grid-tuned lr:\n"
    )
    out.append("| rule | within one std of the tuned loss | within 2x of the tuned lr | mean abs log2(lr / tuned) |")
    out.append("|---|---:|---:|---:|")
    for rule, v in summary["lr_transfer"].items():
        n = v["pairs"]
        out.append(
            f"| {rule} | {v['within_std']} of {n} ({100 * v['within_std'] / n:.0f} %) "
            f"| {v['within_2x']} of {n} ({100 * v['within_2x'] / n:.0f} %) | {v['mean_abs_log2']:.2f} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
