r"""The UBA curve, written once against an array namespace.

Progress through the decay phase is $p = (t - W) / (T - W)$, clipped to
$[0, 1]$, where $t$ is the 0-based update index, $W$ the warmup
length and $T$ the total budget (warmup included). With
$u(p) = 1 + \cos(\pi p)$ the shape is

$$
f(p) = \frac{2u}{2\varphi + (2 - \varphi) u},
\qquad \mathrm{lr}(t) = \mathrm{lr}_{min} + (\mathrm{lr}_{peak} - \mathrm{lr}_{min}) f(p).
$$

This closed form is a reconstruction: the UBA paper's body could not be read for
this package. It rests on the paper's abstract (one shape parameter $\varphi$,
connected to the condition number), on an exact identity we prove and test (with
$\varphi = 2\kappa$, $\mathrm{lr}_{peak} = 1/\mu$, $\mathrm{lr}_{min} = 1/L$, it
equals the Chebyshev step sizes of gradient descent on a quadratic of condition
number $\kappa = L/\mu$ at the half-integer points; see ``uba_core.chebyshev_config``),
and on a public third-party implementation of UBA. "$\varphi = 2$ is cosine"
follows from the form and "$\varphi = 2\kappa$" is our derivation; neither is
quoted from the paper (docs/math.md, "Where the formula comes from").

The code evaluates the algebraically identical form

$$
f = \frac{\tau^2}{\tau^2 + \varphi / 2}, \qquad \tau = \tan\left(\tfrac{\pi}{2} q\right),
\qquad q = 1 - p = \frac{T - t}{T - W},
$$

(from $u = 2\cos^2(\pi p / 2) = 2\sin^2(\pi q / 2)$, divided through by
$\cos^2(\pi q / 2)$). Nothing cancels for any $\varphi > 0$; the
remaining fraction $q$ is computed from the step itself, so near the end
of the run $f \approx (\pi q)^2 / (2\varphi)$ keeps full relative precision
in float32; at $q = 1$, $f = 1$ is set exactly (the tangent there is
only large, which a huge $\varphi$ would notice); at $q = 0$,
$f = 0$ exactly, so the floor is exact. Above $f = 1/2$ it is computed
as $1 - (\varphi/2) / (\tau^2 + \varphi/2)$, whose rounded values never rise
from one step to the next. One transcendental per step, and the expression stays
differentiable in $\varphi$ everywhere.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, NamedTuple

import numpy

from uba_core._validation import as_real_array, check_int, check_real

_HALF_PI = math.pi / 2

__all__ = ["CurveCache", "UBAConfig", "make_config", "uba_factor", "uba_lr"]


def _shape(q: Any, phi: Any, xp: ModuleType) -> Any:
    """$f$ from the remaining fraction ``q = 1 - p`` (already in [0, 1]).

    At ``q = 1`` the tangent is large but finite, so a phi of that size or more would
    pull the first decay step below the peak: it is set to 1 there, exactly.
    """
    tau = xp.tan(_HALF_PI * q)
    tt = tau * tau
    half_phi = 0.5 * phi
    inv = 1.0 / (tt + half_phi)
    # Above 1/2, f = 1 - (phi / 2) / (tt + phi / 2): the subtracted term only grows from
    # step to step, so the rounded rates never rise, even by one ulp, where consecutive
    # steps differ by less than that (long budgets, small phi). Below 1/2, tt / (...)
    # keeps the relative precision to the last step.
    f = xp.where(tt > half_phi, 1.0 - half_phi * inv, tt * inv)
    return xp.where(q < 1.0, f, 1.0)


def uba_factor(progress: Any, phi: Any, *, xp: ModuleType = numpy) -> Any:
    r"""The UBA shape $f(p) = 2u / (2\varphi + (2 - \varphi) u)$, $u = 1 + \cos \pi p$.

    Args:
        progress: Fraction of the decay phase done, $p$; clipped to [0, 1].
        phi: Shape parameter $\varphi > 0$ (2 is cosine). Not validated here:
            this is the traced inner function; validate through
            [`UBAConfig`][uba_core.UBAConfig].
        xp: Array namespace (numpy, jax.numpy, keras.ops) that evaluates it.

    Returns:
        $f(p)$ in [0, 1]: 1 at the start, 0 at the end.

    Examples:
        >>> round(float(uba_factor(0.5, 2.0)), 15)  # cosine at mid-run
        0.5
        >>> round(float(uba_factor(0.5, 8.0)), 12)  # phi = 8 drops early
        0.2
    """
    if xp is numpy:
        progress = numpy.asarray(progress, dtype=numpy.float64)
    return _shape(1.0 - xp.clip(progress, 0.0, 1.0), phi, xp)


def uba_lr(
    step: Any,
    config: UBAConfig,
    *,
    xp: ModuleType = numpy,
    remaining: Any = None,
    phi: Any = None,
    peak_lr: Any = None,
    min_lr: Any = None,
    warmup_start_lr: Any = None,
) -> Any:
    r"""Learning rate at update index ``step``: linear warmup, UBA decay, then the floor.

    $$
    \mathrm{lr}(t) = \begin{cases}
      \mathrm{lr}_{start} + (\mathrm{lr}_{peak} - \mathrm{lr}_{start})\, t / W & t < W \\
      \mathrm{lr}_{min} + (\mathrm{lr}_{peak} - \mathrm{lr}_{min})\, f(p)^{e} & W \le t < T \\
      \mathrm{lr}_{min} & t \ge T
    \end{cases}
    $$

    with $e$ the config's ``exponent`` (1 unless set).

    Trace-safe: no Python branch depends on ``step``, only on the (static) config.

    Args:
        step: Update index $t$ (the k-th update uses $\mathrm{lr}(k)$), a
            scalar or array. Non-integer values are allowed (the Chebyshev helpers
            use $t = k - 1/2$). With numpy it is converted to float64; other
            namespaces expect a floating array already (the adapters cast it).
        config: The validated schedule.
        xp: Array namespace that evaluates the expression.
        remaining: $T - t$ as a floating array, computed exactly (in integers)
            by the caller. A float32 framework cannot hold steps above $2^{24}$;
            with the exact distance to the end, a short decay inside a huge budget
            stays right. Default: ``total_steps - step``.
        phi: Overrides ``config.phi``, typically with a traced array (so that JAX
            can differentiate or vmap with respect to it, which a config cannot
            hold). Not validated here.
        peak_lr: Overrides ``config.peak_lr``, in the same way.
        min_lr: Overrides ``config.min_lr``, in the same way.
        warmup_start_lr: Overrides ``config.warmup_start_lr``, in the same way.

    Returns:
        The learning rate(s), same shape as ``step``.

    Examples:
        >>> cfg = UBAConfig(total_steps=100, peak_lr=1.0, phi=2.0)
        >>> [float(uba_lr(t, cfg)) for t in (0, 100, 150)]
        [1.0, 0.0, 0.0]
    """
    rates = _Rates(
        config.phi if phi is None else phi,
        config.peak_lr if peak_lr is None else peak_lr,
        config.min_lr if min_lr is None else min_lr,
        config.warmup_start_lr if warmup_start_lr is None else warmup_start_lr,
    )
    if xp is numpy:
        step = numpy.asarray(step, dtype=numpy.float64)
    lr = _decay(step, config, rates, xp, remaining)
    return _warmup(step, lr, config, rates, xp) if config.warmup_steps > 0 else lr


class _Rates(NamedTuple):
    """The values of a config that a caller may replace by arrays."""

    phi: Any
    peak_lr: Any
    min_lr: Any
    warmup_start_lr: Any


def _decay(step: Any, config: UBAConfig, rates: _Rates, xp: ModuleType, remaining: Any) -> Any:
    """The UBA decay and the floor after it, for every step (warmup not applied)."""
    if remaining is None:
        remaining = float(config.total_steps) - step
    f = _shape(_remaining_fraction(step, remaining, config, xp), rates.phi, xp)
    if config.exponent != 1.0:  # 0 ** e in the where's other branch would make grad NaN
        positive = f > 0.0
        f = xp.where(positive, xp.where(positive, f, 1.0) ** config.exponent, 0.0)
    peak, floor = rates.peak_lr, rates.min_lr
    # At f = 1 (the warmup's end, the stable phase) the rate is the peak itself, not
    # floor + (peak - floor), which can round one ulp away from it.
    lr = xp.where(f >= 1.0, peak, floor + (peak - floor) * f)
    # 0 <= f <= 1, but floor + (peak - floor) can round one ulp past the peak: keep the
    # bound (the floor side needs none: floor plus a product of its sign stays past it).
    if isinstance(peak, float) and isinstance(floor, float):
        return xp.minimum(lr, peak) if floor <= peak else xp.maximum(lr, peak)
    return xp.clip(lr, xp.minimum(peak, floor), xp.maximum(peak, floor))


def _remaining_fraction(step: Any, remaining: Any, config: UBAConfig, xp: ModuleType) -> Any:
    """$q = 1 - p$, the fraction of the decay still to go, in [0, 1].

    Without re-budgets it is ``remaining / (T - W - S)``: 1 through the warmup and the
    stable phase, 0 from $T$ on. Each re-budget $(s_i, q_i)$ is a knot: $q$ runs
    linearly between consecutive knots (from $(W + S, 1)$ to $(T, 0)$), so that after
    the last knot the rest of the decay, from $q_k$ down to 0, is spread over the
    new budget. The last segment uses the exact ``remaining``; at a knot both sides
    give $q_i$ itself, so the rate does not jump.
    """
    if not config.rebudgets:
        return xp.clip(remaining / float(config.total_steps - config.warmup_steps - config.stable_steps), 0.0, 1.0)
    last_step, last_q = config.rebudgets[-1]
    q = xp.clip(last_q * (remaining / float(config.total_steps - last_step)), 0.0, last_q)
    knots = [(config.warmup_steps + config.stable_steps, 1.0), *config.rebudgets]
    for (a, qa), (b, qb) in reversed(list(itertools.pairwise(knots))):
        segment = xp.clip(qa + (qb - qa) * ((step - float(a)) / float(b - a)), qb, 1.0 if a == knots[0][0] else qa)
        q = xp.where(step < float(b), segment, q)
    return q


def _warmup(step: Any, lr: Any, config: UBAConfig, rates: _Rates, xp: ModuleType) -> Any:
    """``lr`` with the linear warmup ramp in place at the steps below ``warmup_steps``."""
    warm = config.warmup_steps
    r = xp.clip(step / float(warm), 0.0, 1.0)
    ramp = rates.warmup_start_lr + (rates.peak_lr - rates.warmup_start_lr) * r
    return xp.where(step < warm, ramp, lr)


_FIELDS = (
    "total_steps",
    "peak_lr",
    "phi",
    "min_lr",
    "warmup_steps",
    "warmup_start_lr",
    "exponent",
    "stable_steps",
    "rebudgets",
)


def _validated(fields: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """Check the config fields; errors use the caller's argument names."""

    def n(key: str) -> str:
        return names.get(key, key)

    total = check_int(n("total_steps"), fields["total_steps"], minimum=1, integral_float=True)
    warm = check_int(n("warmup_steps"), fields["warmup_steps"], minimum=0, integral_float=True)
    stable = check_int(n("stable_steps"), fields["stable_steps"], minimum=0, integral_float=True)
    if warm + stable >= total:
        parts = [(key, value) for key, value in (("warmup_steps", warm), ("stable_steps", stable)) if value]
        parts = parts or [("warmup_steps", warm)]
        rule = " + ".join(f"`{n(key)}`" for key, _ in parts)
        received = ", ".join(f"{n(key)}={value}" for key, value in parts)
        raise ValueError(
            f"Argument {rule} must be < `{n('total_steps')}` (the decay needs at least one step). "
            f"Received: {received}, {n('total_steps')}={total}."
        )
    return {
        "total_steps": total,
        "peak_lr": check_real(n("peak_lr"), fields["peak_lr"], minimum=0.0),
        "phi": check_real(n("phi"), fields["phi"], positive=True),
        "min_lr": check_real(n("min_lr"), fields["min_lr"], minimum=0.0),
        "warmup_steps": warm,
        "warmup_start_lr": check_real(n("warmup_start_lr"), fields["warmup_start_lr"], minimum=0.0),
        "exponent": check_real(n("exponent"), fields["exponent"], positive=True),
        "stable_steps": stable,
        "rebudgets": _checked_rebudgets(n("rebudgets"), fields["rebudgets"], warm + stable, total),
    }


def _checked_rebudgets(name: str, value: Any, start: int, total: int) -> tuple[tuple[int, float], ...]:
    """``rebudgets`` as a tuple of ``(step, q)`` pairs: steps rising inside the decay, q falling in (0, 1)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(
            f"Argument `{name}` must be a sequence of (step, remaining fraction) pairs. "
            f"Received: {name}={value!r} ({type(value).__name__})."
        )
    knots: list[tuple[int, float]] = []
    previous = (start, 1.0)
    for i, pair in enumerate(value):
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise TypeError(
                f"Argument `{name}[{i}]` must be a (step, remaining fraction) pair. Received: {name}[{i}]={pair!r}."
            )
        step = check_int(f"{name}[{i}][0]", pair[0], minimum=0, integral_float=True)
        q = check_real(f"{name}[{i}][1]", pair[1], positive=True)
        if not previous[0] < step < total or not q < previous[1]:
            raise ValueError(
                f"Argument `{name}` must hold steps rising from the decay's start ({start}) to below the "
                f"total ({total}) with remaining fractions falling from 1 towards 0, each re-budget continuing "
                f"the one before. Received: {name}[{i}]=({step!r}, {q!r}) after {previous!r}."
            )
        knots.append((step, q))
        previous = (step, q)
    return tuple(knots)


DEFAULT_PHI: float = 2.0
"""The phi every constructor uses when none is given: 2, the cosine shape. No other
fixed phi does better across the budgeted benchmark (benchmarks/results/budgeted.md),
so the default is the curve users already know, and phi is a knob to turn for a
reason (the guideline on the docs' "Choosing phi" page, or `suggest_phi`)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class UBAConfig:
    r"""One UBA schedule: budget, rates, shape and warmup, validated on construction.

    The curve is the closed form of the module docstring, a reconstruction of the
    paper's schedule (its body could not be read), justified by its exact identity
    with the Chebyshev step sizes of gradient descent on a quadratic.

    Attributes:
        total_steps: Budget $T$ in updates, warmup included (>= 1).
        peak_lr: Rate at the end of warmup (or at step 0 without warmup), >= 0.
        phi: Shape $\varphi > 0$, finite; default
            [`DEFAULT_PHI`][uba_core.DEFAULT_PHI] (2, cosine). Below 2 holds the rate
            high longer, above 2 drops early (see
            [`describe_phi`][uba_core.describe_phi]).
        min_lr: Floor reached at step $T$ and held after it, >= 0. Above
            ``peak_lr`` the curve rises to it instead (as torch's
            ``CosineAnnealingLR`` does with such an ``eta_min``).
        warmup_steps: Linear warmup length $W$, 0 <= W < T.
        warmup_start_lr: Rate at step 0 when warming up, >= 0.
        exponent: The shape is raised to this power, > 0 (optax's cosine schedules
            have it); 1 is the UBA curve itself.
        stable_steps: Steps $S$ at the peak after the warmup, before the decay
            (warmup-stable-decay); $W + S < T$. The decay then runs over the last
            $T - W - S$ steps; with phi = 2 it is WSD's cosine cooldown.
        rebudgets: The re-budgets this schedule went through, as $(s_i, q_i)$ pairs:
            at step $s_i$ the decay had the fraction $q_i$ of its progress left, and
            from there it was spread over a new budget. Written by
            [`rebudget`][uba_core.UBAConfig.rebudget]; empty for a planned schedule.

    Calling the config on a step or an array of steps returns float64 rates.

    Raises:
        TypeError: A field has the wrong type (a bool where an int belongs, a
            string where a number belongs).
        ValueError: A field is out of its domain; the message names it and the value.

    Examples:
        >>> cfg = UBAConfig(total_steps=10, peak_lr=0.1, phi=2.0, warmup_steps=2)
        >>> [round(float(x), 4) for x in cfg([0, 1, 2, 6, 10])]
        [0.0, 0.05, 0.1, 0.05, 0.0]
        >>> UBAConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    total_steps: int
    peak_lr: float
    phi: float = DEFAULT_PHI
    min_lr: float = 0.0
    warmup_steps: int = 0
    warmup_start_lr: float = 0.0
    exponent: float = 1.0
    stable_steps: int = 0
    rebudgets: tuple[tuple[int, float], ...] = ()

    def __post_init__(self) -> None:
        clean = _validated({k: getattr(self, k) for k in _FIELDS}, {})
        for key, value in clean.items():
            object.__setattr__(self, key, value)

    def __call__(self, step: Any) -> Any:
        """Rates at ``step`` (scalar or array) as float64.

        Raises:
            TypeError: ``step`` holds something other than integers or floats.
            ValueError: a step is negative or not finite.
        """
        steps = as_real_array("step", step)
        bad = ~numpy.isfinite(steps) | (steps < 0)
        if numpy.any(bad):
            raise ValueError(f"Argument `step` must be finite and >= 0. Received: step={steps[bad].ravel()[0]!r}.")
        out = uba_lr(steps, self)
        return out[()] if out.ndim == 0 else out

    def remaining_fraction(self, step: int) -> float:
        """$q$ at ``step``: the fraction of the decay still to go (1 before it, 0 from $T$ on)."""
        step = check_int("step", step, minimum=0, integral_float=True)
        return float(_remaining_fraction(float(step), float(self.total_steps - step), self, numpy))

    def rebudget(self, step: int, total_steps: int) -> UBAConfig:
        r"""This schedule, continued from ``step`` with a new budget ``total_steps``.

        The curve up to ``step`` is unchanged. From ``step`` on, the rest of the decay
        (what this schedule had left at ``step``) is spread over ``total_steps - step``
        steps: the rate is continuous at ``step``, keeps the UBA shape, and reaches
        the floor exactly at the new total. Longer and shorter budgets both work.
        Before the decay has started (in the warmup or the stable phase) only the
        total changes.

        Args:
            step: The step at which the budget changes, ``0 <= step < total_steps``,
                and before this schedule's end.
            total_steps: The new budget $T'$ (all steps, from 0).

        Returns:
            The new config.

        Raises:
            ValueError: ``step`` is past this schedule's end or not below the new
                total, or the new total leaves the warmup and stable phase no decay.

        Examples:
            >>> cfg = UBAConfig(total_steps=100, peak_lr=1.0, phi=2.0)
            >>> longer = cfg.rebudget(50, 150)
            >>> float(cfg(50)) == float(longer(50)), float(longer(150))
            (True, 0.0)
        """
        step = check_int("step", step, minimum=0, integral_float=True)
        total = check_int("total_steps", total_steps, minimum=1, integral_float=True)
        if not step < total:
            raise ValueError(
                f"Argument `total_steps` must be > `step` (the new budget continues after it). "
                f"Received: step={step}, total_steps={total}."
            )
        if step >= self.total_steps:
            raise ValueError(
                f"Argument `step` must be < this schedule's total_steps={self.total_steps}: it has reached its "
                f"floor, and there is no decay left to spread. Received: step={step}."
            )
        start = self.warmup_steps + self.stable_steps
        if step <= start:
            return dataclasses.replace(self, total_steps=total, rebudgets=())
        knots = tuple(k for k in self.rebudgets if k[0] < step)
        return dataclasses.replace(self, total_steps=total, rebudgets=(*knots, (step, self.remaining_fraction(step))))

    def cooldown(self, step: int, steps: int) -> UBAConfig:
        r"""Cool down from ``step``: decay to the floor over the next ``steps`` steps.

        From the stable phase (or a constant-rate run, written as a long stable
        phase), this starts the UBA decay from the peak at ``step``: the schedule
        becomes warmup, ``step - W`` stable steps, then ``steps`` of decay. Inside the
        decay it is [`rebudget`][uba_core.UBAConfig.rebudget]``(step, step + steps)``.

        Args:
            step: Where the cooldown starts, at or after the warmup's end.
            steps: Its length $D \ge 1$.

        Returns:
            The new config, ending at ``step + steps``.

        Examples:
            >>> run = UBAConfig(total_steps=10**6, peak_lr=0.1, stable_steps=10**6 - 1)
            >>> cool = run.cooldown(1000, 200)
            >>> cool.total_steps, cool.stable_steps, float(cool(1000)), float(cool(1200))
            (1200, 1000, 0.1, 0.0)
        """
        step = check_int("step", step, minimum=0, integral_float=True)
        steps = check_int("steps", steps, minimum=1, integral_float=True)
        if step < self.warmup_steps:
            raise ValueError(
                f"Argument `step` must be >= warmup_steps={self.warmup_steps}: a cooldown starts after the "
                f"warmup. Received: step={step}."
            )
        if step <= self.warmup_steps + self.stable_steps:
            return dataclasses.replace(
                self, total_steps=step + steps, stable_steps=step - self.warmup_steps, rebudgets=()
            )
        return self.rebudget(step, step + steps)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python ints, floats and lists (JSON-able)."""
        out = {key: getattr(self, key) for key in _FIELDS}
        out["rebudgets"] = [list(k) for k in self.rebudgets]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UBAConfig:
        """Rebuild a config from [`to_dict`][uba_core.UBAConfig.to_dict] output (or its JSON).

        Raises:
            TypeError: ``data`` is not a mapping.
            ValueError: unknown or missing keys, or invalid values. ``phi`` is
                required here although the constructor has a default: a saved
                schedule keeps its shape even if the default changes.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"Argument `data` must be a mapping. Received: data={data!r} ({type(data).__name__}).")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"Unknown UBAConfig keys {unknown}; allowed keys are {list(_FIELDS)}.")
        missing = [k for k in ("total_steps", "peak_lr", "phi") if k not in data]
        if missing:
            raise ValueError(f"Missing UBAConfig keys {missing}. Received keys: {sorted(data)}.")
        return cls(**data)

    def to_json(self) -> str:
        """The config as a JSON object string."""
        return json.dumps(self.to_dict(), sort_keys=True)


def check_config(config: Any) -> UBAConfig:
    """``config`` itself if it is a `UBAConfig`, else a TypeError naming the argument."""
    if not isinstance(config, UBAConfig):
        received = f"config={config!r} ({type(config).__name__})"
        raise TypeError(f"Argument `config` must be a UBAConfig. Received: {received}.")
    return config


# The fields a caller may leave out, with the dataclass's own defaults.
_CONFIG_DEFAULTS = {f.name: f.default for f in dataclasses.fields(UBAConfig) if f.default is not dataclasses.MISSING}


def make_config(names: Mapping[str, str] | None = None, /, **fields: Any) -> UBAConfig:
    """Build a `UBAConfig`, reporting errors under the caller's argument names.

    Adapters use it so that a bad ``T_max`` is reported as ``T_max``, not
    ``total_steps``.

    Args:
        names: Maps a config field to the argument name the user typed.
        **fields: The config fields.

    Returns:
        The validated config.
    """
    clean = _validated({**_CONFIG_DEFAULTS, **fields}, names or {})
    return UBAConfig(**clean)


class CurveCache:
    """Rates of one config at integer steps, computed vectorised a block at a time.

    A scheduler asks for one step at a time, almost always the next one; this
    evaluates `uba_lr` (numpy, the same values as ``config(steps)``) for a
    block of ``block`` consecutive steps and serves them as Python floats, so a
    step costs a list lookup. Non-integer steps are computed directly.

    Examples:
        >>> cfg = UBAConfig(total_steps=10, peak_lr=1.0, phi=3.0)
        >>> cache = CurveCache(cfg, block=4)
        >>> [cache(t) for t in range(12)] == cfg(numpy.arange(12)).tolist()
        True
    """

    def __init__(self, config: UBAConfig, block: int = 1024) -> None:
        check_config(config)
        self.config = config
        self._block = check_int("block", block, minimum=1)
        self._index: int | None = None
        self._values: list[float] = []

    def __eq__(self, other: object) -> bool:
        # Two caches of one config serve the same rates, whichever block each holds now: a
        # scheduler's state then compares equal to the one it was loaded from.
        if not isinstance(other, CurveCache):
            return NotImplemented
        return self.config == other.config and self._block == other._block

    __hash__ = None  # type: ignore[assignment]  # equal caches hold different blocks: no hash

    def __call__(self, step: int) -> float:
        if type(step) is not int:
            return float(self.config(step))
        index, offset = divmod(step, self._block)
        if index != self._index:
            if step < 0:  # only a new block can hold one: cached blocks start at >= 0
                raise ValueError(f"Argument `step` must be >= 0. Received: step={step!r}.")
            first = index * self._block
            self._values = uba_lr(numpy.arange(first, first + self._block), self.config).tolist()
            self._index = index
        return self._values[offset]
