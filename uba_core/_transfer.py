r"""Moving a tuned peak lr to another schedule shape at the same budget, at no cost.

The rule is the optimal base lr of the refined last-iterate bound for convex,
Lipschitz problems (Defazio, Cutkosky, Mehta and Mishchenko, 2023, "Optimal linear
decay learning rate schedules and further refinements", Theorem 10), which Schaipp,
Hägele, Taylor, Simsekli and Bach (ICML 2025, "The surprising agreement between
convex optimization theory and learning-rate scheduling for large model training")
use to move a tuned lr between schedules. For rates $\eta_t = \gamma s_t$,
$t = 1 .. T$, a distance $D$ to the solution and a gradient-norm bound $G$, the bound
on $E f(x_T) - f_*$ is $t_1 / \gamma + \gamma (t_2 + t_3)$ with

$$t_1 = \frac{D^2}{2 \sum_t s_t}, \quad t_2 = \frac{G^2 \sum_t s_t^2}{2 \sum_t s_t}, \quad
t_3 = \frac{G^2}{2} \sum_{k=1}^{T-1} \frac{s_k}{\sum_{t>k} s_t}
      \cdot \frac{\sum_{t \ge k} s_t^2}{\sum_{t \ge k} s_t},$$

minimised by $\gamma_* = \sqrt{t_1 / (t_2 + t_3)}$. $D$ and $G$ are unknown but shared
by two shapes on one problem: the transfer is the ratio of their $\gamma_*$, and
they cancel.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy

from uba_core._schedule import UBAConfig, check_config

__all__ = ["LRTransfer", "transfer_lr"]

#: The fields of the target shape ``transfer_lr`` accepts (every field but the peak lr).
_SHAPE_FIELDS = ("phi", "min_lr", "warmup_steps", "warmup_start_lr", "exponent", "stable_steps")


@dataclasses.dataclass(frozen=True)
class LRTransfer:
    """The result of [`transfer_lr`][uba_core.transfer_lr].

    Attributes:
        peak_lr: The peak lr to use (``config.peak_lr``).
        config: The target schedule at that peak lr, its floor and warmup start moved by
            the same factor (pass it to an adapter's ``from_uba_config``).
        factor: ``peak_lr`` over the tuned peak lr.
        bound_factor: The factor the bound gives, before the guard.
        guarded: True when the bound asked for a larger peak lr than the tuned one and
            the tuned one was kept (``allow_increase=False``).
        reason: What was done, in words.
    """

    peak_lr: float
    config: UBAConfig
    factor: float
    bound_factor: float
    guarded: bool
    reason: str

    def __str__(self) -> str:
        return f"peak lr {self.peak_lr:.6g} (x {self.factor:.4g} the tuned lr): {self.reason}"


def bound_optimal_lr(rates: Any) -> float:
    r"""$\gamma_*$ of the refined last-iterate bound for the shape ``rates`` (with $D = G = 1$).

    ``rates`` are the $T$ rates of one run in order, >= 0, with a positive sum; a rate
    followed only by zeros makes $t_3$ infinite (the bound then asks for $\gamma_* = 0$).
    """
    s = numpy.asarray(rates, dtype=numpy.float64)
    total = float(s.sum())
    if s.ndim != 1 or s.size < 1 or not numpy.all(numpy.isfinite(s)) or numpy.any(s < 0) or not total > 0:
        raise ValueError(f"Argument `rates` must be finite rates >= 0 with a positive sum. Received: shape {s.shape}.")
    # Suffix sums, from the end, so that no sum is a difference of two large ones.
    tail = numpy.cumsum(s[::-1])[::-1]  # sum_{t >= k} s_t
    tail_sq = numpy.cumsum((s * s)[::-1])[::-1]  # sum_{t >= k} s_t^2
    after = tail[1:]  # sum_{t > k} s_t, k = 1 .. T - 1
    head = s[:-1]
    with numpy.errstate(divide="ignore", invalid="ignore"):
        terms = numpy.where(head > 0, head / after * tail_sq[:-1] / tail[:-1], 0.0)
    t1 = 1.0 / (2.0 * total)
    t2 = float(numpy.sum(s * s)) / (2.0 * total)
    t3 = 0.5 * float(numpy.sum(terms))
    return math.sqrt(t1 / (t2 + t3)) if math.isfinite(t3) else 0.0


def transfer_lr(tuned: UBAConfig, *, allow_increase: bool = False, **target: Any) -> LRTransfer:
    r"""The peak lr for another schedule shape, from a peak lr tuned for ``tuned``, at no cost.

    The factor is the ratio of the optimal base lrs of the refined last-iterate bound
    for convex Lipschitz problems (module docs: Defazio et al. 2023, Theorem 10, as used
    by Schaipp et al. 2025) of the two shapes, each taken as its rates over the budget
    relative to its peak lr (its warmup, stable phase, floor and exponent included). The
    whole target schedule moves by the factor: its floor and warmup start scale with its
    peak, so the rates you run are the shape the bound scored. Budgets of a few steps
    give erratic factors (the bound is about long runs).

    The bound knows nothing of stability: a cosine-tuned lr often sits near the largest
    stable lr, and a larger peak can diverge. So a factor above 1 is not applied unless
    ``allow_increase=True`` (say so when you know the larger lr is stable, for example
    from a short pilot at it); the result says when this guard acted.

    Only shapes at the same budget: across budgets no rule we measured moved a tuned
    lr reliably (docs: choosing phi), so ``total_steps`` cannot change.

    Args:
        tuned: The schedule whose ``peak_lr`` you tuned (e.g. cosine: phi = 2).
        allow_increase: Apply a factor above 1 (default: keep the tuned peak lr then).
        **target: The fields of the new shape that differ: ``phi``, ``min_lr``,
            ``warmup_steps``, ``warmup_start_lr``, ``exponent``, ``stable_steps``
            (validated as in [`UBAConfig`][uba_core.UBAConfig]; the others are kept).

    Returns:
        An [`LRTransfer`][uba_core.LRTransfer]: the peak lr, the target config at it,
        the factor, the bound's own factor and whether the guard acted.

    Raises:
        TypeError: ``tuned`` is not a UBAConfig, or ``allow_increase`` is not a bool.
        ValueError: a target field is unknown or invalid, ``tuned.peak_lr`` is 0, a floor
            is not below its peak (the schedule must decay), or a shape's rates vanish in
            float64 (an extreme ``exponent``).

    Examples:
        >>> from uba_core import UBAConfig
        >>> cosine = UBAConfig(total_steps=1000, peak_lr=0.1, phi=2.0, warmup_steps=50)
        >>> round(transfer_lr(cosine, phi=0.5).factor, 3)
        0.764
        >>> up = transfer_lr(cosine, phi=8.0)
        >>> up.peak_lr, up.guarded, round(up.bound_factor, 2)
        (0.1, True, 1.38)
        >>> round(transfer_lr(cosine, phi=8.0, allow_increase=True).peak_lr, 4)
        0.1379
    """
    tuned = check_config(tuned)
    if not isinstance(allow_increase, bool):
        raise TypeError(f"Argument `allow_increase` must be a bool. Received: allow_increase={allow_increase!r}.")
    unknown = sorted(set(target) - set(_SHAPE_FIELDS))
    if unknown:
        budget = " (across budgets no rule met its bar: tune at the new budget)" if "total_steps" in unknown else ""
        raise ValueError(
            f"transfer_lr takes the target shape's fields {', '.join(_SHAPE_FIELDS)}; "
            f"`{unknown[0]}` is not one{budget}. Received: {unknown[0]}={target[unknown[0]]!r}."
        )
    if not tuned.peak_lr > 0:
        raise ValueError(f"Argument `tuned` must have a peak_lr > 0. Received: tuned.peak_lr={tuned.peak_lr!r}.")
    shape = dataclasses.replace(tuned, **target)  # validates the new fields
    for name, cfg in (("tuned", tuned), ("target", shape)):
        if not cfg.min_lr < cfg.peak_lr:
            raise ValueError(
                f"transfer_lr needs decaying schedules: the {name} floor must be < its peak lr {cfg.peak_lr!r}. "
                f"Received: min_lr={cfg.min_lr!r}."
            )
    steps = numpy.arange(tuned.total_steps, dtype=numpy.float64)
    gammas = []
    for name, cfg in (("tuned", tuned), ("target", shape)):
        gamma = bound_optimal_lr(cfg(steps) / cfg.peak_lr)
        if not gamma > 0:
            raise ValueError(
                f"transfer_lr cannot score the {name} schedule: its rates after the first step vanish in float64 "
                f"(exponent={cfg.exponent!r}). Received: {cfg!r}."
            )
        gammas.append(gamma)
    bound = gammas[1] / gammas[0]
    guarded = bound > 1.0 and not allow_increase
    factor = 1.0 if guarded else bound
    peak = tuned.peak_lr * factor
    if guarded:
        reason = (
            f"the bound asks for x {bound:.4g}; the tuned peak lr is kept (a larger peak may be unstable: "
            "pass allow_increase=True if you know it is not)"
        )
    else:
        reason = f"the bound's factor x {bound:.4g}" + (" (allowed above 1)" if bound > 1.0 else "")
    if factor == 1.0:
        config = dataclasses.replace(shape, peak_lr=peak)
    else:  # the whole schedule moves: the floor and the warmup start keep their ratio to the peak
        config = dataclasses.replace(
            shape, peak_lr=peak, min_lr=shape.min_lr * factor, warmup_start_lr=shape.warmup_start_lr * factor
        )
    return LRTransfer(peak, config, factor, bound, guarded, reason)
