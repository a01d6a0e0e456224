"""Budgeted training: UBA against common schedules, tasks x budgets x schedules x seeds.

Protocol (see tasks.py and schedules.py for the tasks and the schedules, protocol.py
for the rules shared with suggested.py):
- every schedule gets its own peak lr, chosen from the task's log grid by the mean
  validation metric over the seeds; where the best lr sits at an edge of the grid,
  the grid is extended for that cell (up to 3 times) until it brackets the optimum;
- "UBA, best phi" chooses phi (and its lr) on the same validation metric;
- every win, tie or loss is counted on the held-out test metric at the chosen lr:
  a tie is a difference within one standard deviation over the seeds.

    python benchmarks/budgeted.py            # the full grid (about an hour on 2 cores)
    python benchmarks/budgeted.py --quick    # a small subset (17.5 min measured on 2 busy cores)
    python benchmarks/budgeted.py --replot   # only redraw the PNGs from the stored json

``python benchmarks/suggested.py grid`` then trains the phi drawn from each task's
curvature on the same grid.

Writes benchmarks/results/budgeted[-quick].json and .md and a PNG per task.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from protocol import choose, command_line, compare, fmt, mean_ranks, record_head, run_grid, run_records, versions  # noqa: E402
from schedules import SCHEDULES, multipliers, phi_of  # noqa: E402
from tasks import TASKS, corpus  # noqa: E402

RESULTS = HERE / "results"
QUICK_SCHEDULES = ("constant", "linear", "cosine", "wsd", "rex", "uba-0.5", "uba-1", "uba-2", "uba-4", "uba-8")


def summarise(results: dict, tasks: list[str], schedules: tuple, budgets: dict) -> dict:
    cells = []
    for task in tasks:
        for budget in budgets[task]:
            chosen = {s: choose(results, task, budget, s) for s in schedules}
            ubas = [s for s in schedules if s.startswith("uba-")]
            best_uba = min(ubas, key=lambda s: (chosen[s]["val"], s))
            others = [s for s in schedules if not s.startswith("uba-")]
            best_other = min(others, key=lambda s: chosen[s]["test"])
            cells.append(
                {
                    "task": task,
                    "budget": budget,
                    "chosen": chosen,
                    "uba_best_phi": phi_of(best_uba),
                    "best_other": best_other,
                    "uba_best_vs_best_other": compare(chosen[best_uba], chosen[best_other]),
                    "fixed_phi_vs_cosine": {s: compare(chosen[s], chosen["cosine"]) for s in ubas},
                }
            )
    ubas = [s for s in schedules if s.startswith("uba-")]
    tally = {k: sum(c["uba_best_vs_best_other"] == k for c in cells) for k in ("win", "tie", "loss")}
    per_phi = {
        s: {k: sum(c["fixed_phi_vs_cosine"][s] == k for c in cells) for k in ("win", "tie", "loss")} for s in ubas
    }
    return {
        "cells": cells,
        "uba_best_vs_best_other": tally,
        "fixed_phi_vs_cosine": per_phi,
        # Mean rank of each schedule over the cells (1 = best test mean; protocol.ranks).
        "mean_rank": mean_ranks([{s: c["chosen"][s]["test"] for s in schedules} for c in cells]),
    }


def overview(summary: dict, metric: dict) -> str:
    """One row per (task, budget): cosine, the best other schedule, UBA with the best phi."""
    out = [
        "| task (metric) | T | cosine | best other schedule | UBA, phi chosen on val | UBA vs best other |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for c in summary["cells"]:
        ch = c["chosen"]
        uba = ch[f"uba-{c['uba_best_phi']:g}"]
        other = ch[c["best_other"]]
        out.append(
            f"| {c['task']} ({metric[c['task']]}) | {c['budget']} | "
            f"{fmt(ch['cosine']['test'], ch['cosine']['std'])} | "
            f"{c['best_other']}: {fmt(other['test'], other['std'])} | "
            f"phi = {c['uba_best_phi']:g}: {fmt(uba['test'], uba['std'])} | "
            f"{c['uba_best_vs_best_other']} |"
        )
    return "\n".join(out) + "\n"


def markdown(summary: dict, tasks: list[str], schedules: tuple, budgets: dict, metric: dict) -> str:
    out = ["### Overview (test metric, mean ± std over seeds, lower is better)\n", overview(summary, metric)]
    for task in tasks:
        cells = {c["budget"]: c for c in summary["cells"] if c["task"] == task}
        out.append(f"### {task} ({metric[task]}, lower is better)\n")
        out.append("| schedule | " + " | ".join(f"T = {b}" for b in budgets[task]) + " |")
        out.append("|---|" + "---:|" * len(budgets[task]))
        for s in schedules:
            row = []
            for b in budgets[task]:
                ch = cells[b]["chosen"][s]
                best = min(cells[b]["chosen"].values(), key=lambda v: v["test"])["test"]
                text = f"{fmt(ch['test'], ch['std'])} (lr {ch['lr']:.3g})"
                row.append(f"**{text}**" if ch["test"] == best else text)
            out.append(f"| {s} | " + " | ".join(row) + " |")
        out.append(
            "| *UBA, best phi on val* | "
            + " | ".join(
                f"phi = {cells[b]['uba_best_phi']:g}: {cells[b]['uba_best_vs_best_other']} vs {cells[b]['best_other']}"
                for b in budgets[task]
            )
            + " |\n"
        )
    t = summary["uba_best_vs_best_other"]
    out.append(
        f"**UBA with the best phi (chosen on validation) against the best other schedule "
        f"(best on test):** {t['win']} wins, {t['tie']} ties, {t['loss']} losses "
        f"over {sum(t.values())} (task, budget) cells.\n"
    )
    ubas = list(summary["fixed_phi_vs_cosine"])
    out.append("| fixed phi vs cosine | wins | ties | losses | mean rank |")
    out.append("|---|---:|---:|---:|---:|")
    for s, v in summary["fixed_phi_vs_cosine"].items():
        out.append(f"| {s} | {v['win']} | {v['tie']} | {v['loss']} | {summary['mean_rank'][s]:.2f} |")
    out.append("\nFixed phi against cosine per cell (w win, t tie, l loss), by task and budget:\n")
    out.append("| task | T | " + " | ".join(ubas) + " |")
    out.append("|---|---:|" + ":---:|" * len(ubas))
    for c in summary["cells"]:
        out.append(
            f"| {c['task']} | {c['budget']} | " + " | ".join(c["fixed_phi_vs_cosine"][s][0] for s in ubas) + " |"
        )
    out.append(
        "\nMean rank of every schedule over all cells (1 = best): "
        + ", ".join(f"{s} {r:.2f}" for s, r in sorted(summary["mean_rank"].items(), key=lambda kv: kv[1]))
    )
    return "\n".join(out) + "\n"


def plot(summary: dict, task: str, budget: int, schedules: tuple, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = figure(summary, task, budget, schedules)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def figure(summary: dict, task: str, budget: int, schedules: tuple):
    """The lr and training-loss curves of one cell, each schedule at its chosen lr."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cell = next(c for c in summary["cells"] if c["task"] == task and c["budget"] == budget)
    ubas = [s for s in schedules if s.startswith("uba-")]
    best_uba = f"uba-{cell['uba_best_phi']:g}"
    # Every other schedule, but only three UBA curves (more would be unreadable): the phi
    # chosen on validation, and 0.5 and 4 for the two sides of cosine. The title says so.
    drawn = [s for s in ubas if s in (best_uba, "uba-4", "uba-0.5")]
    shown = [s for s in schedules if not s.startswith("uba-")] + drawn
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 5.2), layout="constrained")
    colors = plt.cm.tab10(np.linspace(0, 1, 10))
    for i, s in enumerate(shown):
        ch = cell["chosen"][s]
        style = dict(
            color=colors[i % 10],
            lw=2.2 if s == best_uba else 1.3,
            ls="-" if s.startswith("uba-") or s == "cosine" else "--",
        )
        label = s + (" (best phi)" if s == best_uba else "") + (", on cosine's curve" if s == "uba-2" else "")
        ax1.plot(ch["lr"] * multipliers(s, budget), **style)
        x = np.linspace(0, budget, len(ch["curve"]))
        ax2.plot(x, ch["curve"], label=f"{label}: test {fmt(ch['test'], ch['std'])}", **style)
    ax1.set(title="lr of each schedule's chosen run", xlabel="step", ylabel="learning rate")
    ax2.set(title="training loss (mean over seeds, windowed)", xlabel="step", ylabel="train loss", yscale="log")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    phis = ", ".join(s.removeprefix("uba-") + (" (best on validation)" if s == best_uba else "") for s in drawn)
    left_out = [s.removeprefix("uba-") for s in ubas if s not in drawn]
    fig.suptitle(
        f"{task}, T = {budget}: every schedule at its chosen lr; UBA for phi = {phis}"
        + (f" (not drawn: phi = {', '.join(left_out)}; all are in the table)" if left_out else ""),
        fontsize=10,
    )
    # Below the axes, where it hides no curve.
    fig.legend(loc="outside lower center", ncols=min(4, len(shown)), fontsize=7, frameon=False)
    return fig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short budgets, fewer schedules, 2 seeds")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--seeds", type=int, default=None, help="seeds per run (default 3, quick 2)")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    parser.add_argument(
        "--resume", action="store_true", help="keep the jobs an interrupted run finished (results/*.jobs.jsonl)"
    )
    parser.add_argument(
        "--replot", action="store_true", help="redraw the PNGs from results/budgeted[-quick].json, training nothing"
    )
    args = parser.parse_args(argv)
    seeds = tuple(range(args.seeds or (2 if args.quick else 3)))
    if len(seeds) < 2:
        parser.error("--seeds must be >= 2 (ties are judged by the std over seeds)")
    schedules = QUICK_SCHEDULES if args.quick else SCHEDULES
    budgets = {t: (TASKS[t].quick_budget,) if args.quick else TASKS[t].budgets for t in args.tasks}
    out_dir = Path(args.out) if args.out else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "budgeted-quick" if args.quick else "budgeted"
    if args.replot:
        record = json.loads((out_dir / f"{stem}.json").read_text())
        for task, task_budgets in record["budgets"].items():
            plot(record["summary"], task, task_budgets[-1], tuple(record["schedules"]), out_dir / f"{stem}-{task}.png")
        print(f"redrew {', '.join(f'{stem}-{task}.png' for task in record['budgets'])} in {out_dir}")
        return 0

    cells = [(t, b, s) for t in args.tasks for b in budgets[t] for s in schedules]
    start = time.perf_counter()
    journal = out_dir / f"{stem}.jobs.jsonl"
    if not args.resume:
        journal.unlink(missing_ok=True)
    results, seconds, extended = run_grid(cells, seeds, args.workers, journal)
    elapsed = time.perf_counter() - start

    summary = summarise(results, args.tasks, schedules, budgets)
    metric = {t: TASKS[t].metric for t in args.tasks}
    table = markdown(summary, args.tasks, schedules, budgets, metric)
    print("\n" + table)
    still_edge = [
        f"{c['task']}/T={c['budget']}/{s}" for c in summary["cells"] for s, ch in c["chosen"].items() if ch["at_edge"]
    ]
    if still_edge:
        print("best lr still at the grid edge after extension:", ", ".join(still_edge))
    for task in args.tasks:
        budget = budgets[task][-1]
        plot(summary, task, budget, schedules, out_dir / f"{stem}-{task}.png")
    command = command_line("budgeted.py", argv)
    compute = sum(seconds.values())
    record = {
        **record_head(command.strip(), elapsed, compute, args.workers, seeds),
        "seconds_per_task": seconds,
        "schedules": list(schedules),
        "budgets": budgets,
        "lr_grids": {t: list(TASKS[t].lr_grid) for t in args.tasks},
        "extended_cells": {"/".join(map(str, k)): v for k, v in extended.items()},
        "still_at_edge": still_edge,
        "versions": versions(),
        "corpus": corpus()[1] if "char-lm" in args.tasks else None,
        "summary": summary,
        "runs": run_records(results),
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=1, default=float))
    header = (
        f"Measured with `{command.strip()}` ({len(seeds)} seeds, {args.workers} workers on "
        f"{os.cpu_count()} cores): {compute / 60:.1f} core-minutes of training, about "
        f"{compute / 60 / args.workers:.0f} min of wall time"
        + (f" (this run resumed a journal and took {elapsed / 60:.1f} min)" if args.resume else "")
        + ".\n\n"
    )
    (out_dir / f"{stem}.md").write_text(header + table)
    print(f"wrote {out_dir / (stem + '.json')}, {stem}.md and one PNG per task ({elapsed / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
