"""Moving a tuned peak lr across budgets: four rules scored on the selector's stored sweeps.

The sweeps of benchmarks/selector.py (every phi at its peak lr tuned on validation over
the task's lr grid, 5 seeds, at the main and held-out budgets of each task, and the new
task's; the other runs of those files are left out) give, per
(task, schedule), the tuned lr at four or five budgets. For every pair T0 < T1 of one
task and schedule, each rule predicts the tuned lr at T1 from what it knows:

- keep lr: the lr tuned at T0;
- 1/sqrt(T): the lr tuned at T0 times sqrt(T0 / T1);
- bound: the lr tuned at T0 times the ratio of the refined last-iterate bound's optimal
  base lrs of the shape at T1 and at T0 (``uba_core.transfer_lr``'s rule, across budgets);
- power law: a T^b through the lrs tuned at the two largest budgets below T1 (pairs with
  at least two shorter budgets only).

A prediction lands when it is within 2x of the tuned lr at T1. The bar for offering a rule
in the API: 90 % of pairs. Only the stored results are read: no training.

    python benchmarks/transfer.py

Writes benchmarks/results/transfer.json and transfer.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from protocol import choose, command_line, on_grid  # noqa: E402
from schedules import phi_of, warmup_steps  # noqa: E402

import uba_core  # noqa: E402
from uba_core._transfer import bound_optimal_lr  # noqa: E402

RESULTS = HERE / "results"
SOURCES = ("selector.json", "selector-heldout.json", "selector-newtask.json")
RULES = ("keep lr", "1/sqrt(T)", "bound", "power law")


def shape_rates(schedule: str, budget: int):
    phi = 2.0 if schedule == "cosine" else phi_of(schedule)
    cfg = uba_core.UBAConfig(total_steps=budget, peak_lr=1.0, phi=phi, warmup_steps=warmup_steps(budget))
    import numpy as np

    return cfg(np.arange(budget, dtype=np.float64))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args(argv)
    out_dir = Path(args.out) if args.out else RESULTS
    runs: dict = {}
    used = []
    for name in SOURCES:
        path = RESULTS / name
        if not path.exists():
            continue
        used.append(name)
        record = json.loads(path.read_text())
        sweep = set(record["sweep"])
        for run in record["runs"]:
            if run["schedule"] in sweep and on_grid(run["task"], run["lr"]):  # the sweep's lrs only
                runs[(run["task"], run["budget"], run["schedule"], run["lr"])] = run["seeds"]
    schedules = sorted({k[2] for k in runs})
    tasks = sorted({k[0] for k in runs})
    tuned = {}
    for t, s in itertools.product(tasks, schedules):
        for b in sorted({k[1] for k in runs if k[0] == t and k[2] == s}):
            tuned[(t, s, b)] = choose(runs, t, b, s)["lr"]
    bound = {}

    def gamma(s: str, b: int) -> float:
        if (s, b) not in bound:
            bound[(s, b)] = bound_optimal_lr(shape_rates(s, b))
        return bound[(s, b)]

    pairs = []
    for t, s in itertools.product(tasks, schedules):
        budgets = sorted(b for (tt, ss, b) in tuned if (tt, ss) == (t, s))
        for i, j in itertools.combinations(range(len(budgets)), 2):
            t0, t1 = budgets[i], budgets[j]
            lr0, lr1 = tuned[(t, s, t0)], tuned[(t, s, t1)]
            pred = {
                "keep lr": lr0,
                "1/sqrt(T)": lr0 * math.sqrt(t0 / t1),
                "bound": lr0 * gamma(s, t1) / gamma(s, t0),
            }
            if j >= 2:
                (ta, la), (tb, lb) = [(budgets[k], tuned[(t, s, budgets[k])]) for k in (j - 2, j - 1)]
                slope = math.log(lb / la) / math.log(tb / ta)
                pred["power law"] = lb * (t1 / tb) ** slope
            pairs.append({"task": t, "schedule": s, "T0": t0, "T1": t1, "tuned": lr1,
                          "log2_error": {r: math.log2(p / lr1) for r, p in pred.items()}})  # fmt: skip
    summary = {}
    for rule in RULES:
        errs = [p["log2_error"][rule] for p in pairs if rule in p["log2_error"]]
        summary[rule] = {
            "pairs": len(errs),
            "within_2x": sum(abs(e) <= 1 for e in errs),
            "mean_abs_log2": statistics.fmean(abs(e) for e in errs),
            "median_log2": statistics.median(errs),
        }
    command = command_line("transfer.py", argv)
    lines = [
        f"Measured with `{command}` from the stored sweeps of {', '.join(used)} (no training): the tuned lr of "
        f"{len(schedules)} schedules at every stored budget of {len(tasks)} tasks, {len(pairs)} (task, schedule, "
        "T0 -> T1) pairs with T0 < T1.\n",
        "| rule | pairs | within 2x of the tuned lr at T1 | mean abs log2 error | median log2(predicted / tuned) |",
        "|---|---:|---:|---:|---:|",
    ]
    for rule, v in summary.items():
        share = 100 * v["within_2x"] / v["pairs"]
        lines.append(
            f"| {rule} | {v['pairs']} | {v['within_2x']} ({share:.0f} %) | {v['mean_abs_log2']:.2f} "
            f"| {v['median_log2']:+.2f} |"
        )
    met = [r for r, v in summary.items() if v["within_2x"] >= 0.9 * v["pairs"]]
    lines.append(
        "\nThe bar for the API (within 2x in at least 90 % of pairs) is met by: " + (", ".join(met) or "no rule") + "."
    )
    per_task = {}
    for t in tasks:
        mine = [p for p in pairs if p["task"] == t]
        per_task[t] = {r: statistics.fmean(p["log2_error"][r] for p in mine if r in p["log2_error"])
                       for r in RULES if any(r in p["log2_error"] for p in mine)}  # fmt: skip
    lines.append("\nMean log2(predicted / tuned) per task (negative: the rule's lr is too low):\n")
    lines.append("| task | " + " | ".join(RULES) + " |")
    lines.append("|---|" + "---:|" * len(RULES))
    for t, v in per_task.items():
        lines.append(f"| {t} | " + " | ".join(f"{v[r]:+.2f}" if r in v else "" for r in RULES) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "transfer.md").write_text(text)
    record = {"command": command, "sources": used, "summary": summary, "per_task": per_task, "pairs": pairs}
    (out_dir / "transfer.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
