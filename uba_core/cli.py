"""The ``uba`` command: print and plot UBA curves, convert between phi and kappa.

Examples::

    uba curve --total-steps 1000 --peak-lr 0.1 --phi 0.5 2 8 --steps 0 500 999 \\
        --png curves.png --csv curves.csv
    uba curve --total-steps 1000 --peak-lr 0.1 --stable-steps 600 --rebudget 800 1500
    uba curve --total-steps 700 --peak-lr 0.1 --phi 2 8 --restart-steps 100 --restart-mult 2
    uba phi --phi 8
    uba phi --kappa 100
    uba transfer-lr --total-steps 4000 --peak-lr 3e-4 --warmup-steps 200 --phi 0.5 8
    uba select-phi --log constant.csv --log cosine.csv --total-steps 4000 --peak-lr 3e-4 \\
        --warmup-steps 200 --png predicted.png

It needs numpy only (matplotlib for ``--png``). Exit status 2 is a usage error (a bad,
missing or too large argument, or a malformed ``--log``; nothing is printed or
written), 1 a file that cannot be read or written, or a missing matplotlib; every failure is a message on stderr, not a
traceback. Suggesting phi from a benchmark task's curvature is
``python benchmarks/suggested.py task``, in a checkout.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn, Protocol

import numpy

from uba_core import __version__
from uba_core._chebyshev import describe_phi, phi_for_condition_number
from uba_core._restarts import RestartConfig, make_restart_config
from uba_core._schedule import DEFAULT_PHI, UBAConfig, make_config
from uba_core._select import AnnealingLaw, PhiSelection, check_plan, select_phi
from uba_core._transfer import transfer_lr
from uba_core._validation import check_int, install_command

# Steps are evaluated in float64, which holds every integer up to 2**53 exactly.
_MAX_STEP = 2**53
# --csv writes a row per step (about 25 bytes per phi): 10**7 rows is a quarter of a
# gigabyte per phi. They are computed a block at a time, so memory stays small.
_MAX_CSV_STEPS = 10**7
_CSV_BLOCK = 65_536
# --png draws at most this many evenly spaced steps (and the end of warmup): a figure
# a thousand pixels wide shows no more, and any budget plots in bounded memory.
_PLOT_POINTS = 100_001
# select-phi evaluates the fitted law at every step of every candidate phi.
_MAX_SELECT_STEPS = 10**7

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


_SELECT_EPILOG = (
    "A log is a CSV file with a header naming the columns step, lr and loss (others are "
    "ignored); loss is the training loss measured before the update of that step, with that "
    "lr. Logs may skip steps. At least one pilot's lr must decay. Pilots of a quarter of the "
    "budget make the law extrapolate 4x, and its standard errors cover the fit only: on the "
    "benchmark, its choices lost to cosine more often than they won. Exit status: 2 for a bad "
    "argument or log content, 1 for a log that cannot be read or a --png that cannot be written."
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
    _add_restart_flags(curve)
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

    select = sub.add_parser(
        "select-phi",
        help="choose phi for a budget from short pilot runs' logs",
        description="Fit the annealing law of Tissue et al. (2024) to the (step, lr, loss) logs of short "
        "pilot runs (for example constant and cosine, each a quarter of the budget, at your peak lr) and "
        "print each phi's predicted final loss at the full budget, and the phi to use.",
        epilog=_SELECT_EPILOG,
    )
    select.add_argument(
        "--log", action="append", required=True, help="a pilot's CSV with columns step, lr, loss (repeatable)"
    )
    select.add_argument("--total-steps", type=int, required=True, help="the full budget T, warmup included")
    select.add_argument(
        "--peak-lr",
        type=float,
        required=True,
        help="the peak lr of the full run: the pilots' (checked against the logs)",
    )
    select.add_argument("--warmup-steps", type=int, default=0, help="warmup steps of the full run (default 0)")
    select.add_argument("--min-lr", type=float, default=0.0, help="floor of the full run's schedule (default 0)")
    select.add_argument(
        "--skip-steps", type=int, help="steps left out at the start of every log (default: each log's warmup)"
    )
    select.add_argument(
        "--z",
        type=float,
        default=2.0,
        help="keep cosine unless a phi wins by z standard errors, model error included (default 2)",
    )
    select.add_argument(
        "--allow-increase",
        action="store_true",
        help="let the lr transfer raise the peak lr above --peak-lr (default: never)",
    )
    select.add_argument("--png", help="plot the pilots and the predicted curves here, as PNG (needs matplotlib)")

    transfer = sub.add_parser(
        "transfer-lr",
        help="move a tuned peak lr to another phi at the same budget, at no cost",
        description="The peak lr for other phis from a peak lr tuned for one schedule (default cosine), by "
        "the optimal base lr of the refined last-iterate bound for convex problems (Defazio et al. 2023; "
        "Schaipp et al. 2025). A factor above 1 is not applied unless --allow-increase.",
    )
    transfer.add_argument("--total-steps", type=int, required=True, help="the budget T, warmup included")
    transfer.add_argument("--peak-lr", type=float, required=True, help="the tuned peak lr")
    transfer.add_argument(
        "--from-phi", type=float, default=DEFAULT_PHI, help=f"the phi it was tuned for (default {DEFAULT_PHI:g})"
    )
    transfer.add_argument("--phi", type=float, nargs="+", required=True, help="one or more target phis")
    transfer.add_argument("--warmup-steps", type=int, default=0, help="warmup steps (default 0)")
    transfer.add_argument("--stable-steps", type=int, default=0, help="steps at the peak after warmup (default 0)")
    transfer.add_argument("--min-lr", type=float, default=0.0, help="the floor (default 0)")
    transfer.add_argument(
        "--allow-increase", action="store_true", help="apply a factor above 1 (you know the larger lr is stable)"
    )
    return parser, {"curve": curve, "phi": phi, "select-phi": select, "transfer-lr": transfer}


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


def _add_restart_flags(curve: argparse.ArgumentParser) -> None:
    curve.add_argument(
        "--restart-steps",
        type=int,
        metavar="T0",
        help="warm restarts: the first cycle's length; each cycle decays from --peak-lr to --min-lr "
        "(RestartConfig, as CosineAnnealingWarmRestarts' T_0), over --total-steps",
    )
    curve.add_argument(
        "--restart-mult",
        type=float,
        metavar="M",
        help="with --restart-steps: each cycle is M times as long as the one before (default 1)",
    )


class _Curve(Protocol):
    """What the printing, --csv and --png code reads of a curve (a UBAConfig, or a _RestartCurve)."""

    @property
    def total_steps(self) -> int: ...
    @property
    def warmup_steps(self) -> int: ...
    @property
    def stable_steps(self) -> int: ...
    @property
    def rebudgets(self) -> tuple[tuple[int, float], ...]: ...
    @property
    def phi(self) -> float: ...

    def __call__(self, step: Any) -> Any: ...


@dataclasses.dataclass(frozen=True)
class _RestartCurve:
    """One phi's curve with warm restarts, drawn over 0..total_steps."""

    restarts: RestartConfig
    total_steps: int
    warmup_steps: int = 0
    stable_steps: int = 0
    rebudgets: tuple[tuple[int, float], ...] = ()

    @property
    def phi(self) -> float:
        return self.restarts.phi

    def __call__(self, step: Any) -> Any:
        return self.restarts(step)


def _with_restarts(args: argparse.Namespace, configs: list[UBAConfig]) -> Sequence[_Curve]:
    """``configs`` with warm restarts where --restart-steps asks for them; errors name the flags."""
    if args.restart_steps is None:
        if args.restart_mult is not None:
            raise ValueError(
                f"Argument `--restart-mult` needs --restart-steps. Received: --restart-mult={args.restart_mult}."
            )
        return configs
    for flag, value in (("--warmup-steps", args.warmup_steps), ("--stable-steps", args.stable_steps)):
        if value:
            raise ValueError(
                f"Argument `{flag}` cannot be combined with --restart-steps (every cycle decays from the peak). "
                f"Received: {flag}={value}."
            )
    if args.rebudget:
        raise ValueError(
            "Argument `--rebudget` cannot be combined with --restart-steps. Received: --rebudget {} {}.".format(
                *args.rebudget[0]
            )
        )
    names = {"first_steps": "--restart-steps", "t_mul": "--restart-mult", "peak_lr": "--peak-lr", "min_lr": "--min-lr"}
    mult = 1.0 if args.restart_mult is None else args.restart_mult
    return [
        _RestartCurve(
            make_restart_config(
                names, first_steps=args.restart_steps, t_mul=mult, peak_lr=cfg.peak_lr, min_lr=cfg.min_lr, phi=cfg.phi
            ),
            cfg.total_steps,
        )
        for cfg in configs
    ]


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


def _check_writable(flag: str, path: str | None) -> None:
    """Fail before any output if ``path`` cannot be written: the whole curve is printed
    before the files are written, and a typo in a folder name should not cost that wait.
    Opening for append changes no existing file; a file created here is removed again."""
    if path is None:
        return
    existed = os.path.lexists(path)
    try:
        with open(path, "ab"):
            pass
    except OSError as err:
        raise _Failed(f"cannot write {flag} {path!r}: {err.strerror or err}") from err
    if not existed:
        os.remove(path)


def _write_csv(path: str, header: list[str], configs: Sequence[_Curve]) -> None:
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


def _save_png(path: str, plt: ModuleType, fig: object, dpi: int) -> None:
    """Write ``fig`` as PNG to exactly ``path``, whatever the name ends with; close it."""
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=dpi)  # type: ignore[attr-defined]
    plt.close(fig)
    try:
        with open(path, "wb") as handle:
            handle.write(image.getvalue())
    except OSError as err:
        raise _Failed(f"cannot write --png {path!r}: {err.strerror or err}") from err


def _write_png(path: str, plt: ModuleType, configs: Sequence[_Curve]) -> None:
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
    _save_png(path, plt, fig, dpi=120)


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
        curves = _with_restarts(args, [_rebudgeted(cfg, changes) for cfg in configs])
        _check_steps("--steps", args.steps or [])
        total = curves[0].total_steps  # the final budget
        if args.csv and total > _MAX_CSV_STEPS:
            what = "`--rebudget` TOTAL (the final budget)" if changes else "`--total-steps`"
            received = "--rebudget {} {}".format(*changes[-1]) if changes else f"--total-steps={total}"
            raise ValueError(
                f"Argument {what} must be <= {_MAX_CSV_STEPS} with --csv (a row per step). Received: {received}."
            )
    except (TypeError, ValueError) as err:
        usage(str(err))
    plt = _pyplot() if args.png else None
    _check_writable("--csv", args.csv)
    _check_writable("--png", args.png)
    if args.steps is None:
        shown = numpy.unique(numpy.linspace(0, total, 11).round().astype(numpy.int64))
    else:
        shown = numpy.asarray(args.steps, dtype=numpy.int64)
    header = ["step"] + [f"phi={cfg.phi:g}" for cfg in curves]
    print("  ".join(f"{h:>12}" for h in header))
    for step in shown:
        print("  ".join([f"{step:>12d}"] + [f"{float(cfg(step)):>12.6g}" for cfg in curves]))
    if args.csv:
        _write_csv(args.csv, header, curves)
        print(f"wrote {args.csv}")
    if plt is not None:
        _write_png(args.png, plt, curves)
        print(f"wrote {args.png}")


def _phi(args: argparse.Namespace, usage: Callable[[str], NoReturn]) -> None:
    try:
        phi = phi_for_condition_number(args.kappa) if args.kappa is not None else args.phi
        shape = describe_phi(phi)
    except (TypeError, ValueError) as err:
        flag = "kappa" if args.kappa is not None else "phi"  # the core names its argument; the user typed a flag
        usage(str(err).replace(f"`{flag}`", f"`--{flag}`").replace(f"Received: {flag}=", f"Received: --{flag}="))
    what = {
        "cosine": "cosine annealing exactly",
        "convex": "drops early and keeps a long low tail (Chebyshev shape of kappa = phi / 2)",
        "mirrored": "holds the rate high and drops late (mirror of the kappa = 2 / phi shape)",
    }[shape.branch]
    print(f"phi             {shape.phi:g}")
    print(f"kappa           {shape.kappa:g}")
    print(f"branch          {shape.branch}: {what}")
    print(f"mean lr factor  {shape.mean_lr_factor:.6g} (cosine: 0.5)")


def _read_log(path: str) -> tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]:
    """(steps, lrs, losses) of a pilot's CSV; a bad table is a ValueError naming the file and the line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a spreadsheet's BOM is not a name
            reader = csv.reader(handle)
            rows = [(reader.line_num, row) for row in reader]  # the line a row ends on, as an editor counts
    except (OSError, UnicodeDecodeError) as err:
        raise _Failed(f"cannot read --log {path!r}: {getattr(err, 'strerror', None) or err}") from err
    header = [h.strip().lower() for h in rows[0][1]] if rows else []
    missing = [c for c in ("step", "lr", "loss") if c not in header]
    if missing:
        raise ValueError(
            f"Argument `--log` {path!r} must have a header with the columns step, lr and loss. "
            f"Received: header {rows[0][1] if rows else []!r}."
        )
    names = ("step", "lr", "loss")
    cols = [header.index(c) for c in names]
    table = []
    for line, row in rows[1:]:
        if not row:
            continue
        if len(row) <= max(cols):
            raise ValueError(
                f"Argument `--log` {path!r} must have a value in step, lr and loss on every row: line {line} has "
                f"{len(row)} fields where the header has {len(header)}. Received: line {line} = {row!r}."
            )
        try:
            table.append([float(row[c]) for c in cols])
        except ValueError as err:
            raise ValueError(
                f"Argument `--log` {path!r} must hold numbers in step, lr and loss: line {line}: {err}."
            ) from err
    if not table:
        raise ValueError(f"Argument `--log` {path!r} has no rows. Received: an empty table.")
    data = numpy.array(table, dtype=numpy.float64)
    return data[:, 0], data[:, 1], data[:, 2]


def _check_select_flags(args: argparse.Namespace) -> None:
    """The scalar flags of select-phi, checked before any log is read; errors name the flag."""
    flags = {k: "--" + k.replace("_", "-") for k in ("total_steps", "peak_lr", "warmup_steps", "min_lr", "z")}
    check_plan(args.total_steps, args.peak_lr, args.warmup_steps, args.min_lr, args.z, flags)
    if args.total_steps > _MAX_SELECT_STEPS:
        raise ValueError(
            f"Argument `--total-steps` must be <= {_MAX_SELECT_STEPS} (the law is evaluated at every step of "
            f"every candidate). Received: --total-steps={args.total_steps}."
        )
    if args.skip_steps is not None:
        check_int("--skip-steps", args.skip_steps, minimum=0)


def _select_phi(args: argparse.Namespace, usage: Callable[[str], NoReturn]) -> None:
    try:
        _check_select_flags(args)
        _check_writable("--png", args.png)  # before the logs are read and fitted
        logs = [_read_log(path) for path in args.log]  # unreadable: exit 1 (_Failed), malformed: 2
        law = AnnealingLaw.fit(logs, skip_steps=args.skip_steps)  # None: each log's warmup
        report = select_phi(
            law,
            args.total_steps,
            peak_lr=args.peak_lr,
            warmup_steps=args.warmup_steps,
            min_lr=args.min_lr,
            z=args.z,
            allow_increase=args.allow_increase,
        )
    except (TypeError, ValueError) as err:
        message = str(err)
        for i, path in enumerate(args.log):  # name the file, not the list index
            message = message.replace(f"`logs[{i}]`", f"`--log` {path!r}")
        message = message.replace("`logs`", "`--log`").replace("`skip_steps`", "`--skip-steps`")
        usage(message.replace("`peak_lr`", "`--peak-lr`").replace("Received: peak_lr=", "Received: --peak-lr="))
    plt = _pyplot() if args.png else None
    print(report)
    if plt is not None:
        _plot_selection(args.png, plt, law, report, logs, args)
        print(f"wrote {args.png}")


def _plot_selection(
    path: str,
    plt: ModuleType,
    law: AnnealingLaw,
    report: PhiSelection,
    logs: list[tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray]],
    args: argparse.Namespace,
) -> None:
    total = report.total_steps
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    shades = plt.cm.Greys(numpy.linspace(0.45, 0.8, len(logs)))
    for (steps, lrs, losses), name, shade in zip(logs, args.log, shades, strict=True):
        name = Path(name).name
        ax1.plot(steps, lrs, color=shade, lw=1, ls=":", label=f"pilot {name}")
        ax2.plot(steps, losses, ".", color=shade, ms=2, label=f"pilot {name}")
        rates = numpy.interp(numpy.arange(int(steps[-1])), steps, lrs)  # the law through the pilot
        ax2.plot(numpy.arange(1, rates.size + 1), law.curve(rates), color=shade, lw=1, ls="--")
    colors = plt.cm.viridis(numpy.linspace(0.0, 0.92, len(report.candidates)))
    zoom = ax2.inset_axes((0.45, 0.1, 0.52, 0.38))  # the last fifth, where the candidates part
    tail = numpy.arange(1, total + 1) > 0.8 * total
    for cand, color in zip(report.candidates, colors, strict=True):
        cfg = UBAConfig(
            total_steps=total, peak_lr=report.tuned_lr * cand.lr_factor, phi=cand.phi,
            warmup_steps=args.warmup_steps, min_lr=args.min_lr,
        )  # fmt: skip
        rates = cfg(numpy.arange(total, dtype=numpy.float64))
        width = 2.4 if cand.phi == report.phi else 1.2
        label = f"phi = {cand.phi:g}: {cand.loss:.4g}" + (" (chosen)" if cand.phi == report.phi else "")
        ax1.plot(numpy.arange(total), rates, color=color, lw=width)
        predicted = law.curve(rates)
        ax2.plot(numpy.arange(1, total + 1), predicted, color=color, lw=width, label=label)
        zoom.plot(numpy.arange(1, total + 1)[tail], predicted[tail], color=color, lw=width)
    # The loss axis spans the fitted part of the pilots and the predictions, not the first steps.
    fitted = numpy.concatenate([loss[len(loss) // 10 :] for _, _, loss in logs])
    finals = [c.loss for c in report.candidates]
    low, high = min(fitted.min(), *finals), max(fitted.max(), *finals)
    ax2.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    ax1.set(title="learning rate", xlabel="step", ylabel="lr")
    ax2.set(
        title=f"fitted law (dashed: on the pilots), to T = {total}",
        xlabel="step",
        ylabel="training loss",
    )
    zoom.set_title("last fifth", fontsize=7)
    zoom.tick_params(labelsize=6)
    zoom.grid(alpha=0.3)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper right")
    _save_png(path, plt, fig, dpi=110)


def _transfer_lr(args: argparse.Namespace, usage: Callable[[str], NoReturn]) -> None:
    try:
        tuned = make_config(
            _FLAGS | {"phi": "--from-phi"},
            total_steps=args.total_steps,
            peak_lr=args.peak_lr,
            phi=args.from_phi,
            warmup_steps=args.warmup_steps,
            stable_steps=args.stable_steps,
            min_lr=args.min_lr,
        )
        results = [(phi, transfer_lr(tuned, phi=phi, allow_increase=args.allow_increase)) for phi in args.phi]
    except (TypeError, ValueError) as err:
        message = str(err).replace("Argument `phi`", "Argument `--phi`").replace("Received: phi=", "Received: --phi=")
        usage(
            message.replace("Argument `tuned` must have a peak_lr", "Argument `--peak-lr` must be").replace(
                "tuned.peak_lr=", "--peak-lr="
            )
        )
    print(f"tuned: phi = {tuned.phi:g}, peak lr {tuned.peak_lr:g}, {tuned.total_steps} steps")
    for phi, result in results:
        reason = result.reason.replace("pass allow_increase=True", "pass --allow-increase")
        print(f"phi = {phi:<6g} peak lr {result.peak_lr:<10.5g} x {result.factor:<6.4g} {reason}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``uba`` command: 0 done, 2 a usage error, 1 a file that cannot be read or written."""
    parser, commands = _build_parser()
    args = parser.parse_args(argv)
    command = commands[args.command]
    try:
        {"curve": _curve, "phi": _phi, "select-phi": _select_phi, "transfer-lr": _transfer_lr}[args.command](
            args, command.error
        )
    except _Failed as err:
        print(f"{command.prog}: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
