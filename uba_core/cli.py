"""The ``uba`` command: print and plot UBA curves, convert between phi and kappa, suggest phi.

Examples::

    uba curve --total-steps 1000 --peak-lr 0.1 --phi 0.5 2 8 --steps 0 500 999 \\
        --png curves.png --csv curves.csv
    uba phi --phi 8
    uba phi --kappa 100
    uba suggest-phi --task digits-mlp --total-steps 1500
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import numpy

from uba_core import __version__
from uba_core._chebyshev import describe_phi, phi_for_condition_number
from uba_core._schedule import DEFAULT_PHI, UBAConfig, make_config
from uba_core._validation import install_command
from uba_core._spectrum import suggest_phi


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="uba", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    curve = sub.add_parser("curve", help="learning rates of one or more phi values")
    curve.add_argument("--total-steps", type=int, required=True, help="budget T, warmup included")
    curve.add_argument("--peak-lr", type=float, required=True)
    curve.add_argument("--phi", type=float, nargs="+", default=[DEFAULT_PHI],
                       help=f"one or more phi > 0 (default {DEFAULT_PHI:g}, cosine)")
    curve.add_argument("--min-lr", type=float, default=0.0)
    curve.add_argument("--warmup-steps", type=int, default=0)
    curve.add_argument("--warmup-start-lr", type=float, default=0.0)
    curve.add_argument("--steps", type=int, nargs="+", help="steps to print (default: 11 evenly spaced)")
    curve.add_argument("--png", help="write a plot of the whole curves here (needs matplotlib)")
    curve.add_argument("--csv", help="write step,phi=... columns for every step 0..T here")

    phi = sub.add_parser("phi", help="phi <-> condition number, and what the shape does")
    group = phi.add_mutually_exclusive_group(required=True)
    group.add_argument("--phi", type=float, help="describe this phi")
    group.add_argument("--kappa", type=float, help="the phi of this condition number (2 kappa)")

    suggest = sub.add_parser("suggest-phi", help="estimate a benchmark task's Hessian spectrum "
                             "(stochastic Lanczos quadrature) and suggest phi for a budget")
    suggest.add_argument("--task", required=True, help="a task of benchmarks/tasks.py SPECTRUM_TASKS")
    suggest.add_argument("--total-steps", type=int, required=True, help="budget T")
    suggest.add_argument("--benchmarks", default="benchmarks",
                         help="folder holding tasks.py (default: ./benchmarks)")
    suggest.add_argument("--probes", type=int, default=4)
    suggest.add_argument("--lanczos-steps", type=int, default=40)
    suggest.add_argument("--max-hvps", type=int, help="refuse to run more Hessian-vector products")
    suggest.add_argument("--seed", type=int, default=0, help="model initialization and probes")
    suggest.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    return parser


_FLAGS = {key: "--" + key.replace("_", "-") for key in
          ("total_steps", "peak_lr", "phi", "min_lr", "warmup_steps", "warmup_start_lr")}


def _configs(args: argparse.Namespace) -> list[UBAConfig]:
    return [
        make_config(
            _FLAGS,
            total_steps=args.total_steps,
            peak_lr=args.peak_lr,
            phi=phi,
            min_lr=args.min_lr,
            warmup_steps=args.warmup_steps,
            warmup_start_lr=args.warmup_start_lr,
        )
        for phi in args.phi
    ]


def _plot(path: str, configs: list[UBAConfig], steps: numpy.ndarray) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            f"Writing a PNG needs matplotlib. Install it with: {install_command('plot')}"
        ) from err
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    colors = plt.cm.viridis(numpy.linspace(0.0, 0.92, len(configs)))
    for cfg, color in zip(configs, colors):
        style = "--" if cfg.phi == 2.0 else "-"
        label = f"phi = {cfg.phi:g}" + (" (cosine)" if cfg.phi == 2.0 else "")
        ax.plot(steps, cfg(steps), style, color=color, label=label, lw=1.8)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"UBA schedule, T = {configs[0].total_steps}: the phi family")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _curve(args: argparse.Namespace) -> None:
    configs = _configs(args)
    total = args.total_steps
    if args.steps is None:
        shown = numpy.unique(numpy.linspace(0, total, 11).round().astype(numpy.int64))
    else:
        shown = numpy.asarray(args.steps, dtype=numpy.int64)
        if numpy.any(shown < 0):
            raise ValueError(f"Argument `--steps` must be >= 0. Received: {args.steps}.")
    header = ["step"] + [f"phi={cfg.phi:g}" for cfg in configs]
    print("  ".join(f"{h:>12}" for h in header))
    for step in shown:
        print("  ".join([f"{step:>12d}"] + [f"{float(cfg(step)):>12.6g}" for cfg in configs]))
    if not (args.csv or args.png):
        return  # printing a few steps needs no curve of the whole budget
    every = numpy.arange(total + 1)
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            rates = numpy.stack([cfg(every) for cfg in configs], axis=1)
            for step, row in zip(every, rates):
                writer.writerow([int(step)] + [repr(float(x)) for x in row])
        print(f"wrote {args.csv}")
    if args.png:
        _plot(args.png, configs, every)
        print(f"wrote {args.png}")


def _phi(args: argparse.Namespace) -> None:
    phi = phi_for_condition_number(args.kappa) if args.kappa is not None else args.phi
    shape = describe_phi(phi)
    what = {
        "cosine": "cosine annealing exactly",
        "convex": "drops early and keeps a long low tail (Chebyshev shape of kappa = phi / 2)",
        "mirrored": "holds the rate high and drops late (mirror of the kappa = 2 / phi shape)",
    }[shape.branch]
    print(f"phi             {shape.phi:g}")
    print(f"kappa           {shape.kappa:g}")
    print(f"branch          {shape.branch}: {what}")
    print(f"mean lr factor  {shape.mean_lr_factor:.6g} (cosine: 0.5)")


def _load_tasks(folder: str) -> ModuleType:
    path = Path(folder).resolve() / "tasks.py"
    if not path.is_file():
        raise ValueError(f"Argument `--benchmarks` must be a folder holding tasks.py. "
                         f"Received: --benchmarks={folder!r} (no {path}).")
    sys.path.insert(0, str(path.parent))  # tasks.py imports its neighbours
    spec = importlib.util.spec_from_file_location("uba_benchmark_tasks", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    if not hasattr(module, "spectrum_problem"):
        raise ValueError(f"Argument `--benchmarks`: {path} has no spectrum_problem(task_name, seed).")
    return module


def _suggest_phi(args: argparse.Namespace) -> None:
    if args.total_steps < 1:  # before any work
        raise ValueError(f"Argument `--total-steps` must be >= 1. Received: --total-steps={args.total_steps}.")
    if args.seed < 0:
        raise ValueError(f"Argument `--seed` must be >= 0. Received: --seed={args.seed}.")
    tasks = _load_tasks(args.benchmarks)  # frameworks load there only: this module loads none
    start = time.perf_counter()
    spectrum = tasks.task_spectrum(args.task, args.seed, probes=args.probes,
                                   lanczos_steps=args.lanczos_steps, max_hvps=args.max_hvps,
                                   progress=not args.no_progress)
    seconds = time.perf_counter() - start
    print(f"task {args.task}, seed {args.seed}")
    print(spectrum)
    print(f"  time            {seconds:.3g} s ({spectrum.hvps} Hessian-vector products)")
    print(suggest_phi(spectrum, args.total_steps))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``uba`` command; bad arguments exit with status 2 and a message."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        {"curve": _curve, "phi": _phi, "suggest-phi": _suggest_phi}[args.command](args)
    except (TypeError, ValueError, ImportError) as err:
        parser.exit(2, f"uba {args.command}: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
