"""phi from the model's own curvature, measured on the budgeted grid.

For every (task, budget) cell of the full grid, the phi that ``uba_core.suggest_phi``
draws from the task's Hessian spectrum at initialisation (stochastic Lanczos
quadrature, default probes and steps) is trained like every other schedule: the
same lr grid (extended at an edge), seeds, validation choice and held-out test
metric. It is then compared with the best phi of the sweep (chosen on validation),
with cosine and with the library's default phi; "within one std" is a tie or a win.

digits-keras has no keras estimator: it uses the spectrum of the same MLP on the
same data from the torch task (digits-mlp).

    python benchmarks/budgeted.py --suggested      # needs results/budgeted.json

Writes benchmarks/results/suggested.json and suggested.md.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from budgeted import choose, compare, fmt, run_grid
from tasks import task_spectrum

import uba_core

SPECTRUM_OF = {"digits-keras": "digits-mlp"}


def run(results_dir: Path, workers: int) -> int:
    """Estimate, suggest, train and compare; write the JSON and markdown reports."""
    record = json.loads((results_dir / "budgeted.json").read_text())
    seeds = tuple(record["seeds"])
    main = {(r["task"], r["budget"], r["schedule"], r["lr"]): r["seeds"] for r in record["runs"]}
    tasks = list(record["budgets"])
    spectra, suggestions, cost = {}, {}, {}
    for task in tasks:
        source = SPECTRUM_OF.get(task, task)
        if source not in spectra:
            start = time.perf_counter()
            spectra[source] = task_spectrum(source, 0, progress=False)
            cost[source] = {"seconds": time.perf_counter() - start, "hvps": spectra[source].hvps}
        for budget in record["budgets"][task]:
            suggestions[(task, budget)] = uba_core.suggest_phi(spectra[source], budget)
    name = {cell: f"uba-{s.phi:.6g}" for cell, s in suggestions.items()}
    cells = [(task, budget, name[(task, budget)]) for task, budget in suggestions]
    start = time.perf_counter()
    results, _, extended = run_grid(cells, seeds, workers, results_dir / "suggested.jobs.jsonl")
    elapsed = time.perf_counter() - start

    default = f"uba-{uba_core.DEFAULT_PHI:g}"
    rows, tally = [], {"best": {}, "cosine": {}, "default": {}}
    for (task, budget), suggestion in suggestions.items():
        cell = next(c for c in record["summary"]["cells"] if (c["task"], c["budget"]) == (task, budget))
        best = f"uba-{cell['uba_best_phi']:g}"
        ours = choose(results, task, budget, name[(task, budget)])
        against = {"best": choose(main, task, budget, best), "cosine": choose(main, task, budget, "cosine"),
                   "default": choose(main, task, budget, default)}
        outcome = {k: compare(ours, v) for k, v in against.items()}
        for k, v in outcome.items():
            tally[k][v] = tally[k].get(v, 0) + 1
        rows.append({"task": task, "budget": budget, "kappa_estimated": suggestion.kappa_estimated,
                     "phi": suggestion.phi, "best_phi": cell["uba_best_phi"],
                     "suggested": {k: ours[k] for k in ("lr", "test", "std")},
                     **{k: {kk: v[kk] for kk in ("schedule", "lr", "test", "std")} for k, v in against.items()},
                     "outcome": outcome})

    lines = ["| task | T | kappa est. | suggested phi | suggested | best phi of the sweep | cosine | "
             f"default phi = {uba_core.DEFAULT_PHI:g} | vs best / cosine / default |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['budget']} | {r['kappa_estimated']:.3g} | {r['phi']:.3g} | "
            f"{fmt(r['suggested']['test'], r['suggested']['std'])} | "
            f"{r['best_phi']:g}: {fmt(r['best']['test'], r['best']['std'])} | "
            f"{fmt(r['cosine']['test'], r['cosine']['std'])} | "
            f"{fmt(r['default']['test'], r['default']['std'])} | "
            f"{r['outcome']['best']} / {r['outcome']['cosine']} / {r['outcome']['default']} |")
    within = tally["best"].get("win", 0) + tally["best"].get("tie", 0)
    lines.append(
        f"\nThe suggested phi is within one std of the best phi of the sweep (or better) in {within} of "
        f"{len(rows)} cells. Against cosine: {_counts(tally['cosine'])}. Against the default phi "
        f"{uba_core.DEFAULT_PHI:g}: {_counts(tally['default'])}.")
    table = "\n".join(lines) + "\n"
    command = "python benchmarks/budgeted.py --suggested"
    header = (f"Measured with `{command}` in {elapsed / 60:.1f} min ({len(seeds)} seeds); spectra "
              "(4 probes x 40 Lanczos steps at initialisation): " + ", ".join(
                  f"{t} {c['hvps']} HVPs in {c['seconds']:.1f} s" for t, c in cost.items()) + ".\n\n")
    print("\n" + table)
    (results_dir / "suggested.md").write_text(header + table)
    (results_dir / "suggested.json").write_text(json.dumps(
        {"command": command, "elapsed_s": elapsed, "spectrum_cost": cost, "tally": tally, "rows": rows,
         "suggestions": {f"{t}/{b}": str(s) for (t, b), s in suggestions.items()},
         "extended_cells": {"/".join(map(str, k)): v for k, v in extended.items()}},
        indent=1, default=float))
    print(f"wrote {results_dir / 'suggested.md'} and suggested.json ({elapsed / 60:.1f} min)")
    return 0


def _counts(t: dict) -> str:
    return f"{t.get('win', 0)} wins, {t.get('tie', 0)} ties, {t.get('loss', 0)} losses"
