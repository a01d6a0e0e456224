"""phi from the model's own curvature: one task's suggestion, or the whole budgeted grid.

    python benchmarks/suggested.py task digits-mlp --total-steps 1500
    python benchmarks/suggested.py grid      # needs results/budgeted.json (budgeted.py)

``task`` estimates a task's Hessian spectrum at initialisation (stochastic Lanczos
quadrature, uba_core / uba_torch / uba_jax) and prints the phi that
``uba_core.experimental.suggest_phi`` draws from it for a budget of T steps.

``grid``: for every (task, budget) cell of the full grid, the suggested phi (default
probes and steps) is trained like every other schedule: the same lr grid (extended
at an edge), seeds, validation choice and held-out test metric (protocol.py). It is
then compared with the best phi of the sweep (chosen on validation), with cosine and
with the library's default phi; "within one std" is a tie or a win. digits-keras has
no keras estimator: it uses the spectrum of the same MLP on the same data from the
torch task (digits-mlp). Writes benchmarks/results/suggested.json and suggested.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from protocol import choose, command_line, compare, fmt, run_grid
from tasks import SPECTRUM_TASKS, task_spectrum

import uba_core
import uba_core.experimental

RESULTS = Path(__file__).resolve().parent / "results"
SPECTRUM_OF = {"digits-keras": "digits-mlp"}


def grid(results_dir: Path, workers: int, resume: bool, command: str) -> int:
    """Estimate, suggest, train and compare; write the JSON and markdown reports."""
    journal = results_dir / "suggested.jobs.jsonl"
    if not resume:
        journal.unlink(missing_ok=True)
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
            suggestions[(task, budget)] = uba_core.experimental.suggest_phi(spectra[source], budget)
    name = {cell: f"uba-{s.phi:.6g}" for cell, s in suggestions.items()}
    cells = [(task, budget, name[(task, budget)]) for task, budget in suggestions]
    start = time.perf_counter()
    results, _, extended = run_grid(cells, seeds, workers, journal)
    elapsed = time.perf_counter() - start

    default = f"uba-{uba_core.DEFAULT_PHI:g}"
    rows, tally = [], {"best": {}, "cosine": {}, "default": {}}
    for (task, budget), suggestion in suggestions.items():
        cell = next(c for c in record["summary"]["cells"] if (c["task"], c["budget"]) == (task, budget))
        best = f"uba-{cell['uba_best_phi']:g}"
        ours = choose(results, task, budget, name[(task, budget)])
        against = {
            "best": choose(main, task, budget, best),
            "cosine": choose(main, task, budget, "cosine"),
            "default": choose(main, task, budget, default),
        }
        outcome = {k: compare(ours, v) for k, v in against.items()}
        for k, v in outcome.items():
            tally[k][v] = tally[k].get(v, 0) + 1
        rows.append(
            {
                "task": task,
                "budget": budget,
                "kappa_estimated": suggestion.kappa_estimated,
                "phi": suggestion.phi,
                "best_phi": cell["uba_best_phi"],
                "suggested": {k: ours[k] for k in ("lr", "test", "std")},
                **{k: {kk: v[kk] for kk in ("schedule", "lr", "test", "std")} for k, v in against.items()},
                "outcome": outcome,
            }
        )

    lines = [
        "| task | T | kappa est. | suggested phi | suggested | best phi of the sweep | cosine | "
        f"default phi = {uba_core.DEFAULT_PHI:g} | vs best / cosine / default |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['task']} | {r['budget']} | {r['kappa_estimated']:.3g} | {r['phi']:.3g} | "
            f"{fmt(r['suggested']['test'], r['suggested']['std'])} | "
            f"{r['best_phi']:g}: {fmt(r['best']['test'], r['best']['std'])} | "
            f"{fmt(r['cosine']['test'], r['cosine']['std'])} | "
            f"{fmt(r['default']['test'], r['default']['std'])} | "
            f"{r['outcome']['best']} / {r['outcome']['cosine']} / {r['outcome']['default']} |"
        )
    within = tally["best"].get("win", 0) + tally["best"].get("tie", 0)
    lines.append(
        f"\nThe suggested phi is within one std of the best phi of the sweep (or better) in {within} of "
        f"{len(rows)} cells. Against cosine: {_counts(tally['cosine'])}. Against the default phi "
        f"{uba_core.DEFAULT_PHI:g}: {_counts(tally['default'])}."
    )
    table = "\n".join(lines) + "\n"
    header = (
        f"Measured with `{command}` in {elapsed / 60:.1f} min ({len(seeds)} seeds); spectra "
        "(4 probes x 40 Lanczos steps at initialisation): "
        + ", ".join(f"{t} {c['hvps']} HVPs in {c['seconds']:.1f} s" for t, c in cost.items())
        + ".\n\n"
    )
    print("\n" + table)
    (results_dir / "suggested.md").write_text(header + table)
    (results_dir / "suggested.json").write_text(
        json.dumps(
            {
                "command": command,
                "elapsed_s": elapsed,
                "spectrum_cost": cost,
                "tally": tally,
                "rows": rows,
                "suggestions": {f"{t}/{b}": str(s) for (t, b), s in suggestions.items()},
                "extended_cells": {"/".join(map(str, k)): v for k, v in extended.items()},
            },
            indent=1,
            default=float,
        )
    )
    print(f"wrote {results_dir / 'suggested.md'} and suggested.json ({elapsed / 60:.1f} min)")
    return 0


def _counts(t: dict) -> str:
    return f"{t.get('win', 0)} wins, {t.get('tie', 0)} ties, {t.get('loss', 0)} losses"


def one_task(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print one task's spectrum and the phi suggested for ``--total-steps``."""
    if args.total_steps < 1:  # before any work
        parser.error(f"Argument `--total-steps` must be >= 1. Received: --total-steps={args.total_steps}.")
    if args.seed < 0:
        parser.error(f"Argument `--seed` must be >= 0. Received: --seed={args.seed}.")
    start = time.perf_counter()
    try:
        spectrum = task_spectrum(
            args.task,
            args.seed,
            probes=args.probes,
            lanczos_steps=args.lanczos_steps,
            max_hvps=args.max_hvps,
            progress=not args.no_progress,
        )
    except (TypeError, ValueError) as err:  # the estimators name the argument
        parser.error(str(err))
    except ImportError as err:  # a framework or tqdm is missing: the message says what to install
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    print(f"task {args.task}, seed {args.seed}")
    print(spectrum)
    print(f"  time            {seconds:.3g} s ({spectrum.hvps} Hessian-vector products)")
    print(uba_core.experimental.suggest_phi(spectrum, args.total_steps))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/suggested.py",
        description="phi from the model's own curvature: one task's suggestion, or the budgeted grid",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser(
        "task", help="estimate a task's Hessian spectrum (stochastic Lanczos quadrature) and suggest phi for a budget"
    )
    one.add_argument("task", choices=SPECTRUM_TASKS, help="the task (digits-keras has no estimator)")
    one.add_argument("--total-steps", type=int, required=True, help="budget T")
    one.add_argument("--probes", type=int, default=4)
    one.add_argument("--lanczos-steps", type=int, default=40)
    one.add_argument("--max-hvps", type=int, help="refuse to run more Hessian-vector products")
    one.add_argument("--seed", type=int, default=0, help="model initialization and probes")
    one.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    many = sub.add_parser(
        "grid",
        help="train the suggested phi of every cell of the full budgeted "
        "grid and compare it with the grid's results (results/budgeted.json)",
    )
    many.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    many.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    many.add_argument(
        "--resume", action="store_true", help="keep the jobs an interrupted run finished (results/suggested.jobs.jsonl)"
    )
    args = parser.parse_args(argv)
    if args.command == "task":
        return one_task(args, one)
    out = Path(args.out) if args.out else RESULTS
    if not (out / "budgeted.json").is_file():
        many.error(f"{out / 'budgeted.json'} not found: run python benchmarks/budgeted.py first")
    command = command_line("suggested.py", argv)
    return grid(out, args.workers, args.resume, command.strip())


if __name__ == "__main__":
    sys.exit(main())
