"""The ``uba`` command: print and plot UBA curves, convert between phi and kappa.

Examples::

    uba curve --total-steps 1000 --peak-lr 0.1 --phi 0.5 2 8 --steps 0 500 999 \\
        --png curves.png --csv curves.csv
    uba curve --total-steps 1000 --peak-lr 0.1 --stable-steps 600 --rebudget 800 1500
    uba phi --phi 8
    uba phi --kappa 100

It needs numpy only (matplotlib for ``--png``). Exit status 2 is a usage error (a bad,
missing or too large argument; nothing is printed or written), 1 a file that cannot
be written or a missing matplotlib; every failure is a message on stderr, not a
traceback. Suggesting phi from a benchmark task's curvature is
``python benchmarks/suggested.py task``, in a checkout.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import NoReturn

import numpy

from uba_core import __version__
from uba_core._chebyshev import describe_phi, phi_for_condition_number
from uba_core._schedule import DEFAULT_PHI, UBAConfig, make_config
from uba_core._validation import install_command

# Steps are evaluated in float64, which holds every integer up to 2**53 exactly.
_MAX_STEP = 2**53
# --csv writes a row per step (about 25 bytes per phi): 10**7 rows is a quarter of a
# gigabyte per phi. They are computed a block at a time, so memory stays small.
_MAX_CSV_STEPS = 10**7
_CSV_BLOCK = 65_536
# --png draws at most this many evenly spaced steps (and the end of warmup): a figure
# a thousand pixels wide shows no more, and any budget plots in bounded memory.
_PLOT_POINTS = 100_001

# Help text lives here, not in docstrings: `python -OO` strips those.
_DESCRIPTION = "Print and plot UBA learning-rate curves; convert between phi and kappa."
_EPILOG = (
    "Exit status: 0 done; 2 usage error (bad, missing or too large argument; nothing is "
    "printed or written); 1 a file could not be written, or --png without matplotlib. "
    "Suggesting phi from a benchmark task's curvature: python benchmarks/suggested.py "
    "task, in a checkout of the repository."
)
_CURVE_EPILOG = (
    f"Limits: --total-steps, TOTAL and --steps up to 2**53 = {_MAX_STEP} (steps are "
    f"evaluated in float64, exact up to there); --csv writes every step 0..T, for T up to "
    f"{_MAX_CSV_STEPS}; --png plots at most {_PLOT_POINTS} evenly spaced steps of any T. "
    "With --rebudget, the curve printed, plotted and written is the final one, over "
    "0..the last TOTAL: each --rebudget STEP TOTAL keeps the curve up to STEP and spreads "
    "the rest of the decay over the new budget TOTAL (UBAConfig.rebudget)."
)


class _Failed(Exception):
    """A failure that is not a usage error: exit status 1, the message on stderr."""


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(prog="uba", description=_DESCRIPTION, epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    curve = sub.add_parser(
        "curve",
        help="learning rates of one or more phi values",
        description="Print the learning rates of one or more phi values at "
        "a few steps; write every step as CSV, or plot the curves.",
        epilog=_CURVE_EPILOG,
    )
    curve.add_argument("--total-steps", type=int, required=True, help="budget T, warmup included")
    curve.add_argument("--peak-lr", type=float, required=True)
    curve.add_argument(
        "--phi",
        type=float,
        nargs="+",
        default=[DEFAULT_PHI],
        help=f"one or more phi > 0 (default {DEFAULT_PHI:g}, cosine)",
    )
    curve.add_argument("--min-lr", type=float, default=0.0)
    curve.add_argument("--warmup-steps", type=int, default=0)
    curve.add_argument("--warmup-start-lr", type=float, default=0.0)
    curve.add_argument(
        "--stable-steps",
        type=int,
        default=0,
        help="steps held at the peak after the warmup, before the decay (warmup-stable-decay)",
    )
    curve.add_argument(
        "--rebudget",
        type=int,
        nargs=2,
        action="append",
        metavar=("STEP", "TOTAL"),
        help="at STEP, change the budget to TOTAL steps (repeatable, applied in order)",
    )
    curve.add_argument("--steps", type=int, nargs="+", help="steps to print (default: 11 evenly spaced)")
    curve.add_argument("--png", help="write a plot of the whole curves here, as PNG (needs matplotlib)")
    curve.add_argument("--csv", help="write step,phi=... columns for every step 0..T here")

    phi = sub.add_parser(
        "phi",
        help="phi <-> condition number, and what the shape does",
        description="Describe a phi, or the phi of a condition number.",
    )
    group = phi.add_mutually_exclusive_group(required=True)
    group.add_argument("--phi", type=float, help="describe this phi")
    group.add_argument("--kappa", type=float, help="the phi of this condition number (2 kappa)")
    return parser, {"curve": curve, "phi": phi}


_FLAGS = {
    key: "--" + key.replace("_", "-")
    for key in ("total_steps", "peak_lr", "phi", "min_lr", "warmup_steps", "warmup_start_lr", "stable_steps")
}


def _check_steps(flag: str, values: Sequence[int]) -> None:
    for value in values:
        if value < 0:
            raise ValueError(f"Argument `{flag}` must be >= 0. Received: {flag}={value}.")
        if value > _MAX_STEP:
            raise ValueError(
                f"Argument `{flag}` must be <= 2**53 = {_MAX_STEP} (steps are evaluated "
                f"in float64, exact up to there). Received: {flag}={value}."
            )


def _rebudgeted(config: UBAConfig, changes: Sequence[Sequence[int]]) -> UBAConfig:
    """``config`` after each ``--rebudget STEP TOTAL`` in turn; errors name the flag."""
    for step, total in changes:
        received = f"Received: --rebudget {step} {total}."
        start = config.warmup_steps + config.stable_steps
        if step < 0:
            raise ValueError(f"Argument `--rebudget` STEP must be >= 0. {received}")
        if total > _MAX_STEP:
            raise ValueError(
                f"Argument `--rebudget` TOTAL must be <= 2**53 = {_MAX_STEP} (steps are evaluated "
                f"in float64, exact up to there). {received}"
            )
        if not step < total:
            raise ValueError(
                f"Argument `--rebudget` TOTAL must be > STEP (the new budget continues after it). {received}"
            )
        if not step < config.total_steps:
            raise ValueError(
                f"Argument `--rebudget` STEP must be < the budget it changes, {config.total_steps} (the "
                f"schedule is at its floor from there on). {received}"
            )
        if not start < total:
            raise ValueError(
                f"Argument `--rebudget` TOTAL must be > --warmup-steps + --stable-steps = {start} "
                f"(the decay needs at least one step). {received}"
            )
        try:
            config = config.rebudget(step, total)
        except (TypeError, ValueError) as err:  # what the checks above do not foresee
            raise ValueError(f"Argument `--rebudget` cannot continue the schedule: {err} {received}") from err
    return config


def _pyplot() -> ModuleType:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise _Failed(
            f"--png needs matplotlib, which could not be imported ({err}). Install it with: {install_command('plot')}"
        ) from err
    return plt


def _write_csv(path: str, header: list[str], configs: list[UBAConfig]) -> None:
    last = configs[0].total_steps
    try:
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for start in range(0, last + 1, _CSV_BLOCK):
                steps = numpy.arange(start, min(start + _CSV_BLOCK, last + 1))
                rates = numpy.stack([cfg(steps) for cfg in configs], axis=1)
                writer.writerows(
                    [int(step)] + [repr(float(x)) for x in row] for step, row in zip(steps, rates, strict=True)
                )
    except OSError as err:
        raise _Failed(f"cannot write --csv {path!r}: {err.strerror or err}") from err


def _write_png(path: str, plt: ModuleType, configs: list[UBAConfig]) -> None:
    first = configs[0]
    total, warm = first.total_steps, first.warmup_steps
    switches = [step for step, _ in first.rebudgets]
    if total < _PLOT_POINTS:
        steps = numpy.arange(total + 1, dtype=numpy.float64)
    else:  # the kinks exactly: the warmup's and the stable phase's ends, each re-budget
        kinks = [warm, warm + first.stable_steps, *switches]
        steps = numpy.unique(numpy.append(numpy.linspace(0, total, _PLOT_POINTS).round(), kinks))
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    colors = plt.cm.viridis(numpy.linspace(0.0, 0.92, len(configs)))
    for cfg, color in zip(configs, colors, strict=True):
        style = "--" if cfg.phi == 2.0 else "-"
        label = f"phi = {cfg.phi:g}" + (" (cosine)" if cfg.phi == 2.0 else "")
        ax.plot(steps, cfg(steps), style, color=color, label=label, lw=1.8)
    for i, step in enumerate(switches):
        ax.axvline(step, color="0.5", ls=":", lw=1, label=None if i else "re-budget")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"UBA schedule, T = {total}: the phi family")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    image = io.BytesIO()  # PNG whatever the file name ends with, written to that exact path
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    try:
        with open(path, "wb") as handle:
            handle.write(image.getvalue())
    except OSError as err:
        raise _Failed(f"cannot write --png {path!r}: {err.strerror or err}") from err


def _curve(args: argparse.Namespace, usage: Callable[[str], NoReturn]) -> None:
    try:  # every check before any output
        configs = [
            make_config(
                _FLAGS,
                total_steps=args.total_steps,
                peak_lr=args.peak_lr,
                phi=phi,
                min_lr=args.min_lr,
                warmup_steps=args.warmup_steps,
                warmup_start_lr=args.warmup_start_lr,
                stable_steps=args.stable_steps,
            )
            for phi in args.phi
        ]
        _check_steps("--total-steps", [args.total_steps])  # the warmup is shorter
        changes = args.rebudget or []
        configs = [_rebudgeted(cfg, changes) for cfg in configs]
        _check_steps("--steps", args.steps or [])
        total = configs[0].total_steps  # the final budget
        if args.csv and total > _MAX_CSV_STEPS:
            what = "`--rebudget` TOTAL (the final budget)" if changes else "`--total-steps`"
            received = "--rebudget {} {}".format(*changes[-1]) if changes else f"--total-steps={total}"
            raise ValueError(
                f"Argument {what} must be <= {_MAX_CSV_STEPS} with --csv (a row per step). Received: {received}."
            )
    except (TypeError, ValueError) as err:
        usage(str(err))
    plt = _pyplot() if args.png else None
    if args.steps is None:
        shown = numpy.unique(numpy.linspace(0, total, 11).round().astype(numpy.int64))
    else:
        shown = numpy.asarray(args.steps, dtype=numpy.int64)
    header = ["step"] + [f"phi={cfg.phi:g}" for cfg in configs]
    print("  ".join(f"{h:>12}" for h in header))
    for step in shown:
        print("  ".join([f"{step:>12d}"] + [f"{float(cfg(step)):>12.6g}" for cfg in configs]))
    if args.csv:
        _write_csv(args.csv, header, configs)
        print(f"wrote {args.csv}")
    if plt is not None:
        _write_png(args.png, plt, configs)
        print(f"wrote {args.png}")


def _phi(args: argparse.Namespace, usage: Callable[[str], NoReturn]) -> None:
    try:
        phi = phi_for_condition_number(args.kappa) if args.kappa is not None else args.phi
        shape = describe_phi(phi)
    except (TypeError, ValueError) as err:
        usage(str(err))
    what = {
        "cosine": "cosine annealing exactly",
        "convex": "drops early and keeps a long low tail (Chebyshev shape of kappa = phi / 2)",
        "mirrored": "holds the rate high and drops late (mirror of the kappa = 2 / phi shape)",
    }[shape.branch]
    print(f"phi             {shape.phi:g}")
    print(f"kappa           {shape.kappa:g}")
    print(f"branch          {shape.branch}: {what}")
    print(f"mean lr factor  {shape.mean_lr_factor:.6g} (cosine: 0.5)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``uba`` command: 0 done, 2 a usage error, 1 a file that cannot be written."""
    parser, commands = _build_parser()
    args = parser.parse_args(argv)
    command = commands[args.command]
    try:
        {"curve": _curve, "phi": _phi}[args.command](args, command.error)
    except _Failed as err:
        print(f"{command.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
