r"""Choosing phi by a direct comparison: short paired pilots of cosine and a few other phis.

[`pilot_plan`][uba_core.experimental.pilot_plan] lays out the pilots for a budget: every arm runs a
whole schedule over a short budget (the full budget's shape, warmup and stable phase
scaled down), the others at the peak lr [`transfer_lr`][uba_core.transfer_lr] gives
them, every arm with the same seeds (same initialization and data order), so that the
differences between arms are paired. [`compare_phis`][uba_core.experimental.compare_phis] reads the
pilots' final validation losses and switches from the tuned schedule only when a
paired gain is larger than ``z`` standard errors.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

import numpy

from uba_core._schedule import UBAConfig, check_config
from uba_core._transfer import transfer_lr
from uba_core._validation import check_int, check_real

__all__ = ["PhiComparison", "PilotPlan", "compare_phis", "pilot_plan"]

#: The phis a comparison tries by default, one on each side of cosine.
COMPARE_PHIS = (0.5, 8.0)
#: A pilot shorter than this many steps says too little: no comparison is planned.
MIN_PILOT_STEPS = 20


@dataclasses.dataclass(frozen=True)
class PilotPlan:
    """The pilots of a comparison, from [`pilot_plan`][uba_core.experimental.pilot_plan].

    Attributes:
        pilot_steps: Each pilot's budget (0 when the budget is too short to compare).
        baseline: The tuned schedule, shortened (empty plan: None).
        candidates: ``{phi: config}`` of the other arms at their transferred peak lrs.
        seeds: Seeds per arm (run every arm with the same seeds).
        cost: The pilots' steps over the full budget's.
        reason: What the plan is, or why there is none.
    """

    pilot_steps: int
    baseline: UBAConfig | None
    candidates: dict[float, UBAConfig]
    seeds: int
    cost: float
    reason: str


def pilot_plan(
    tuned: UBAConfig, *, candidates: Sequence[float] = COMPARE_PHIS, seeds: int = 2, cost: float = 0.5
) -> PilotPlan:
    r"""The short paired pilots that compare ``candidates`` with the tuned schedule for ``cost`` runs.

    Each of the ``len(candidates) + 1`` arms runs ``seeds`` pilots of
    $\lfloor \text{cost} \cdot T / ((\text{arms}) \cdot \text{seeds}) \rfloor$ steps: the
    tuned schedule's shape with its warmup and stable phase scaled to that budget, the
    baseline at the tuned peak lr and each candidate at its transferred, guarded peak
    lr. Below ``MIN_PILOT_STEPS`` (20) steps no pilot is planned: keep the tuned schedule.

    Args:
        tuned: Your schedule at its tuned peak lr (usually cosine, phi = 2).
        candidates: The other phis to try (> 0, distinct, not ``tuned.phi``).
        seeds: Pilots per arm (>= 2: the paired differences need a spread).
        cost: The pilots' total steps as a fraction of one full run (> 0, <= 1).

    Examples:
        >>> from uba_core import UBAConfig
        >>> plan = pilot_plan(UBAConfig(total_steps=1200, peak_lr=0.1, warmup_steps=60))
        >>> plan.pilot_steps, plan.baseline.warmup_steps, round(plan.candidates[0.5].peak_lr, 4)
        (100, 5, 0.0764)
    """
    tuned = check_config(tuned)
    count = check_int("seeds", seeds, minimum=2)
    share = check_real("cost", cost, positive=True, maximum=1.0)
    if isinstance(candidates, (str, bytes)) or numpy.ndim(candidates) != 1 or not len(candidates):
        raise ValueError(f"Argument `candidates` must be a non-empty sequence of phis. Received: {candidates!r}.")
    phis = [check_real("candidates", c, positive=True) for c in candidates]
    if len(set(phis)) != len(phis) or tuned.phi in phis:
        raise ValueError(
            f"Argument `candidates` must be distinct phis other than the tuned one ({tuned.phi:g}). "
            f"Received: {candidates!r}."
        )
    arms = len(phis) + 1
    steps = math.floor(share * tuned.total_steps / (arms * count))
    if steps < MIN_PILOT_STEPS:
        reason = (
            f"{arms} arms x {count} seeds at {share:g} of a run leave {steps} steps per pilot, fewer than "
            f"{MIN_PILOT_STEPS}: too short to compare; keep phi = {tuned.phi:g}"
        )
        return PilotPlan(0, None, {}, count, 0.0, reason)

    def scaled(n: int) -> int:
        return round(n * steps / tuned.total_steps)

    warmup, stable = scaled(tuned.warmup_steps), scaled(tuned.stable_steps)
    dropped = ""
    if warmup + stable >= steps:
        dropped = f" (the scaled warmup and stable phase, {warmup} + {stable} steps, do not fit: no stable phase)"
        warmup, stable = min(warmup, steps - 1), 0
    short = dataclasses.replace(tuned, total_steps=steps, warmup_steps=warmup, stable_steps=stable, rebudgets=())
    others = {phi: transfer_lr(short, phi=phi).config for phi in phis}
    used = arms * count * steps / tuned.total_steps
    reason = (
        f"{arms} arms x {count} paired seeds x {steps} steps = {used:.3g} of a run: phi = {tuned.phi:g} at the tuned "
        "peak lr, " + ", ".join(f"phi = {phi:g} at {c.peak_lr:.4g}" for phi, c in others.items()) + dropped
    )
    return PilotPlan(steps, short, others, count, used, reason)


@dataclasses.dataclass(frozen=True)
class PhiComparison:
    """The result of [`compare_phis`][uba_core.experimental.compare_phis].

    Attributes:
        phi: The phi to use (``baseline_phi`` unless a candidate passed).
        switched: True when a candidate passed the test.
        gains: ``{phi: (gain, stderr)}``: the mean paired gain over the baseline (> 0 is
            better) and its standard error, per candidate.
        z: The threshold in standard errors.
        reason: Why, in words.
    """

    phi: float
    switched: bool
    gains: dict[float, tuple[float, float]]
    z: float
    reason: str

    def __str__(self) -> str:
        lines = [f"phi = {self.phi:g}: {self.reason}"]
        for phi, (gain, se) in self.gains.items():
            lines.append(f"  phi = {phi:<6g} paired gain {gain:+.4g} ± {se:.2g}")
        return "\n".join(lines)


def _losses(name: str, values: Any) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"Argument `{name}` must be a sequence of final losses, one per seed. Received: {values!r}.")
    out = []
    for v in values:
        if isinstance(v, bool) or (not isinstance(v, (int, float)) and not hasattr(v, "__float__")):
            raise TypeError(f"Argument `{name}` must hold numbers. Received: {v!r}.")
        out.append(float(v))
    return out


def compare_phis(
    baseline: Sequence[float],
    candidates: Mapping[float, Sequence[float]],
    *,
    baseline_phi: float = 2.0,
    z: float = 2.0,
) -> PhiComparison:
    r"""Switch from the baseline phi only when a paired pilot gain exceeds ``z`` standard errors.

    For each candidate, the paired differences $d_i = L_{\text{baseline}, i} -
    L_{\text{candidate}, i}$ over the seeds give the gain $\bar d$ and its standard error
    $s_d / \sqrt{n}$. A candidate passes when $\bar d > z \cdot s_d / \sqrt{n}$; of
    those that pass, the largest gain is taken. A non-finite loss (a diverged pilot)
    fails its candidate; a non-finite baseline loss fails every candidate.

    With few seeds the test is weak (with 2 seeds and ``z`` = 2, a candidate no better
    than the baseline passes about 15 % of the time): the pilots only decide between
    schedules whose full runs at their transferred lrs were measured to tie or win
    (docs: choosing phi), so a false pass costs little; it never raises the lr.

    Args:
        baseline: The baseline's final validation losses, one per seed (>= 2 seeds).
        candidates: ``{phi: losses}``, the same seeds in the same order.
        baseline_phi: The baseline's phi (cosine: 2).
        z: The threshold in standard errors (>= 0).

    Raises:
        ValueError: fewer than 2 seeds, lengths that differ, a candidate equal to the
            baseline's phi, or an invalid phi or ``z``.

    Examples:
        >>> result = compare_phis([0.30, 0.32], {0.5: [0.27, 0.29], 8.0: [0.31, 0.33]})
        >>> result.phi, result.switched
        (0.5, True)
    """
    base = _losses("baseline", baseline)
    if len(base) < 2:
        raise ValueError(f"Argument `baseline` must hold at least 2 losses (seeds). Received: {baseline!r}.")
    phi0 = check_real("baseline_phi", baseline_phi, positive=True)
    threshold = check_real("z", z, minimum=0.0)
    if not isinstance(candidates, Mapping) or not candidates:
        raise ValueError(
            f"Argument `candidates` must be a non-empty {{phi: losses}} mapping. Received: {candidates!r}."
        )
    gains: dict[float, tuple[float, float]] = {}
    passed: list[float] = []
    for key, values in candidates.items():
        phi = check_real("candidates", key, positive=True)
        if phi == phi0:
            raise ValueError(f"Argument `candidates` must not contain the baseline's phi {phi0:g}. Received: {key!r}.")
        losses = _losses(f"candidates[{phi:g}]", values)
        if len(losses) != len(base):
            raise ValueError(
                f"Argument `candidates[{phi:g}]` must hold one loss per baseline seed ({len(base)}). "
                f"Received: {len(losses)}."
            )
        diffs = [b - c for b, c in zip(base, losses, strict=True)]
        if not all(math.isfinite(d) for d in diffs):
            gains[phi] = (-math.inf, math.nan)
            continue
        gain = statistics.fmean(diffs)
        se = statistics.stdev(diffs) / math.sqrt(len(diffs))
        gains[phi] = (gain, se)
        if gain > 0 and gain > threshold * se:
            passed.append(phi)
    if not passed:
        return PhiComparison(
            phi0, False, gains, threshold,
            f"no candidate's paired gain exceeds {threshold:g} standard errors: phi = {phi0:g} is kept",
        )  # fmt: skip
    best = max(passed, key=lambda phi: gains[phi][0])
    gain, se = gains[best]
    ratio = f"{gain / se:.3g} standard errors" if se > 0 else "every seed agrees exactly"
    reason = f"phi = {best:g} beat phi = {phi0:g} by {gain:.4g} on paired pilots ({ratio}, z = {threshold:g})"
    return PhiComparison(best, True, gains, threshold, reason)
