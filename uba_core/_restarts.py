r"""Warm restarts: the UBA decay repeated over cycles that grow geometrically.

Cycle $k = 0, 1, \dots$ is $L_k = T_0 t^k$ steps long and starts at
$S_k = T_0 (t^k - 1) / (t - 1)$ ($k T_0$ when $t = 1$), with $T_0$ the first
cycle's length and $t$ the length multiplier. Inside a cycle the rate is the UBA
decay over that cycle, its amplitude scaled by $m^k$:

$$
\mathrm{lr}(s) = \mathrm{lr}_{min} + (\mathrm{lr}_{peak} - \mathrm{lr}_{min})\, m^k f(p),
\qquad p = (s - S_k) / L_k,
$$

with $f$ the UBA shape of [`uba_factor`][uba_core.uba_factor]. With $\varphi = 2$ this is
SGDR (Loshchilov and Hutter, 2017): torch's ``CosineAnnealingWarmRestarts``
($m = 1$, integer $t$) and keras' ``CosineDecayRestarts``. The cycle arithmetic is
written once against an array namespace, like the curve, so that the traced JAX and
Keras paths run it; fractional steps are allowed (torch's ``step(epoch)``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy

from uba_core._schedule import DEFAULT_PHI, _shape
from uba_core._validation import as_real_array, check_int, check_real

__all__ = ["RestartCache", "RestartConfig", "make_restart_config", "restart_cycle", "restart_lr"]

_FIELDS = ("first_steps", "peak_lr", "phi", "min_lr", "t_mul", "m_mul")


def restart_cycle(step: Any, first_steps: int, t_mul: float, *, xp: ModuleType = numpy) -> tuple[Any, Any, Any]:
    r"""The cycle that holds ``step``: ``(k, S_k, L_k)``, its index, start and length.

    Trace-safe: the only Python branch is on ``t_mul``, a static value. The index
    comes from $k = \lfloor \log(1 + s (t - 1) / T_0) / \log t \rfloor$; a step on a
    cycle boundary can round into the neighbouring cycle there, so the index is then
    moved by one to the cycle whose $[S_k, S_k + L_k)$ holds the step. With an integral
    $t$ the starts and lengths are integers and computed exactly (below $2^{24}$ in
    float32); with another $t$, a float32 step that falls exactly on a boundary may be
    placed on either side of it. With $t < 1$ the
    cycles shrink and end at $T_0 / (1 - t)$: from there $k$ is infinite, and so is
    ``S_k`` the end itself with ``L_k = 0`` ([`restart_lr`][uba_core.restart_lr]
    holds the floor there).

    Args:
        step: Steps (scalar or array, floating for namespaces other than numpy).
        first_steps: $T_0$, the first cycle's length.
        t_mul: $t > 0$, the factor from one cycle's length to the next.
        xp: Array namespace (numpy, jax.numpy, keras.ops).

    Returns:
        Index, start and length, as arrays of the step's shape (floats).

    Examples:
        >>> [float(x) for x in restart_cycle(25.0, 10, 2.0)]  # cycles [0, 10), [10, 30), ...
        [1.0, 10.0, 20.0]
    """
    if xp is numpy:
        step = numpy.asarray(step, dtype=numpy.float64)
    first = float(first_steps)
    if t_mul == 1.0:
        index = xp.floor(step / first)
        return index, index * first, index * 0.0 + first
    log_t, scale = math.log(t_mul), first / (t_mul - 1.0)
    x = step * ((t_mul - 1.0) / first)
    if t_mul < 1.0:  # past the end of the shrinking cycles, 1 + x <= 0: no finite k holds the step
        ended = x <= -1.0
        x = xp.where(ended, 0.0, x)
    # With an integral t every start and length is an integer; rounding them keeps them exact
    # where the namespace's power is not (float32 pow is exp(log), one ulp off 3.0 ** 4).
    exact = xp.round if float(t_mul).is_integer() else (lambda value: value)
    index = xp.floor(xp.log1p(x) / log_t)
    start = exact(scale * (xp.power(t_mul, index) - 1.0))
    index = xp.where(step < start, index - 1.0, index)
    start = exact(scale * (xp.power(t_mul, index + 1.0) - 1.0))  # the start of the next cycle
    index = xp.where(step >= start, index + 1.0, index)
    power = xp.power(t_mul, index)
    start, length = exact(scale * (power - 1.0)), exact(first * power)
    if t_mul < 1.0:
        index = xp.where(ended, math.inf, index)
        start, length = xp.where(ended, -scale, start), xp.where(ended, 0.0, length)
    return index, start, length


def restart_lr(step: Any, config: RestartConfig, *, xp: ModuleType = numpy) -> Any:
    r"""Learning rate at ``step`` (scalar or array) of the restarting schedule ``config``.

    $\mathrm{lr}_{min} + (\mathrm{lr}_{peak} - \mathrm{lr}_{min})\, m^k f(p)$ in cycle $k$ at
    progress $p$ through it (see the module's docstring); the fraction of the cycle left,
    $1 - p$, is computed from the distance to the cycle's end. Past the end of shrinking
    cycles ($t < 1$) the rate holds ``min_lr``. Trace-safe, like
    [`uba_lr`][uba_core.uba_lr].

    Args:
        step: Update index (the k-th update uses lr(k)); fractional values are allowed.
            With numpy it is converted to float64; other namespaces expect a floating array.
        config: The validated schedule.
        xp: Array namespace that evaluates the expression.

    Returns:
        The learning rate(s), same shape as ``step``.

    Examples:
        >>> cfg = RestartConfig(first_steps=10, peak_lr=1.0, t_mul=2.0)
        >>> [round(float(restart_lr(s, cfg)), 6) for s in (0, 5, 10, 20, 30)]
        [1.0, 0.5, 1.0, 0.5, 1.0]
    """
    if xp is numpy:
        step = numpy.asarray(step, dtype=numpy.float64)
    index, start, length = restart_cycle(step, config.first_steps, config.t_mul, xp=xp)
    ended = length <= 0.0  # only past the end of shrinking cycles
    left = xp.where(ended, 0.0, (start + length - step) / xp.where(ended, 1.0, length))
    f = _shape(xp.clip(left, 0.0, 1.0), config.phi, xp)
    peak, floor = config.peak_lr, config.min_lr
    if config.m_mul != 1.0:
        # m ** k for an infinite k past the end would be 0 or inf; f is 0 there anyway
        amplitude = (peak - floor) * xp.power(config.m_mul, xp.where(ended, 0.0, index))
        return floor + amplitude * f
    return xp.where(f >= 1.0, peak, floor + (peak - floor) * f)


def _validated(fields: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """Check the fields; errors use the caller's argument names."""

    def n(key: str) -> str:
        return names.get(key, key)

    return {
        "first_steps": check_int(n("first_steps"), fields["first_steps"], minimum=1, integral_float=True),
        "peak_lr": check_real(n("peak_lr"), fields["peak_lr"], minimum=0.0),
        "phi": check_real(n("phi"), fields["phi"], positive=True),
        "min_lr": check_real(n("min_lr"), fields["min_lr"], minimum=0.0),
        "t_mul": check_real(n("t_mul"), fields["t_mul"], positive=True),
        "m_mul": check_real(n("m_mul"), fields["m_mul"], positive=True),
    }


@dataclasses.dataclass(frozen=True, kw_only=True)
class RestartConfig:
    r"""A UBA schedule with warm restarts, validated on construction.

    Attributes:
        first_steps: $T_0 \ge 1$, the length of the first cycle (an integral float is
            accepted).
        peak_lr: Rate at the start of the first cycle, >= 0.
        phi: Shape $\varphi > 0$ of every cycle's decay (2 is cosine, SGDR itself).
        min_lr: Floor every cycle decays to, >= 0 (above ``peak_lr`` the cycles rise to it).
        t_mul: $t > 0$: each cycle is ``t_mul`` times as long as the one before (1:
            equal cycles). Below 1 the cycles shrink and end at $T_0 / (1 - t)$; the rate
            holds ``min_lr`` from there.
        m_mul: $m > 0$: each cycle's amplitude above the floor is ``m_mul`` times the
            one before (as keras' ``CosineDecayRestarts``).

    Calling the config on a step or an array of steps returns float64 rates.

    Raises:
        TypeError: A field has the wrong type.
        ValueError: A field is out of its domain; the message names it and the value.

    Examples:
        >>> cfg = RestartConfig(first_steps=4, peak_lr=1.0, phi=2.0, m_mul=0.5)
        >>> [round(float(x), 4) for x in cfg([0, 2, 4, 6, 8])]
        [1.0, 0.5, 0.5, 0.25, 0.25]
        >>> RestartConfig.from_dict(cfg.to_dict()) == cfg
        True
    """

    first_steps: int
    peak_lr: float
    phi: float = DEFAULT_PHI
    min_lr: float = 0.0
    t_mul: float = 1.0
    m_mul: float = 1.0

    def __post_init__(self) -> None:
        for key, value in _validated({k: getattr(self, k) for k in _FIELDS}, {}).items():
            object.__setattr__(self, key, value)

    def __call__(self, step: Any) -> Any:
        """Rates at ``step`` (scalar or array; fractional steps allowed) as float64.

        Raises:
            TypeError: ``step`` holds something other than integers or floats.
            ValueError: a step is negative or not finite.
        """
        steps = as_real_array("step", step)
        bad = ~numpy.isfinite(steps) | (steps < 0)
        if numpy.any(bad):
            raise ValueError(f"Argument `step` must be finite and >= 0. Received: step={steps[bad].ravel()[0]!r}.")
        out = restart_lr(steps, self)
        return out[()] if out.ndim == 0 else out

    def cycle(self, step: float) -> tuple[float, float, float]:
        """``(index, position, length)`` of the cycle holding ``step``, position = step - its start
        (past the end of shrinking cycles: ``(inf, step - end, 0.0)``).

        Examples:
            >>> RestartConfig(first_steps=10, peak_lr=1.0, t_mul=2.0).cycle(32.5)
            (2.0, 2.5, 40.0)
        """
        step = check_real("step", step, minimum=0.0)
        index, start, length = (float(x) for x in restart_cycle(step, self.first_steps, self.t_mul))
        return index, step - start, length

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain Python ints and floats (JSON-able)."""
        return {key: getattr(self, key) for key in _FIELDS}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RestartConfig:
        """Rebuild a config from [`to_dict`][uba_core.RestartConfig.to_dict] output.

        Raises:
            TypeError: ``data`` is not a mapping.
            ValueError: unknown or missing keys (``phi`` is required here, so that a saved
                schedule keeps its shape), or invalid values.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"Argument `data` must be a mapping. Received: data={data!r} ({type(data).__name__}).")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"Unknown RestartConfig keys {unknown}; allowed keys are {list(_FIELDS)}.")
        missing = [k for k in ("first_steps", "peak_lr", "phi") if k not in data]
        if missing:
            raise ValueError(f"Missing RestartConfig keys {missing}. Received keys: {sorted(data)}.")
        return cls(**data)


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(RestartConfig) if f.default is not dataclasses.MISSING}


def make_restart_config(names: Mapping[str, str] | None = None, /, **fields: Any) -> RestartConfig:
    """Build a `RestartConfig`, reporting errors under the caller's argument names (``T_0``, ...)."""
    return RestartConfig(**_validated({**_DEFAULTS, **fields}, names or {}))


class RestartCache:
    """Rates of one `RestartConfig` at integer steps, computed vectorised a block at a time.

    A scheduler asks for one step at a time, almost always the next one: this evaluates
    [`restart_lr`][uba_core.restart_lr] (numpy, the values of ``config(steps)``) for
    ``block`` consecutive steps and serves them as Python floats. Fractional steps are
    computed directly. Two caches of the same config compare equal (what they hold is a
    function of it), so a scheduler's state compares equal after loading.

    Examples:
        >>> cfg = RestartConfig(first_steps=3, peak_lr=1.0, t_mul=2.0, phi=3.0)
        >>> cache = RestartCache(cfg, block=4)
        >>> [cache(t) for t in range(12)] == cfg(numpy.arange(12)).tolist(), cache(2.5) == float(cfg(2.5))
        (True, True)
    """

    def __init__(self, config: RestartConfig, block: int = 1024) -> None:
        if not isinstance(config, RestartConfig):
            raise TypeError(f"Argument `config` must be a RestartConfig. Received: config={config!r}.")
        self.config = config
        self._block = check_int("block", block, minimum=1)
        self._index: int | None = None
        self._values: list[float] = []

    def __call__(self, step: float) -> float:
        if not float(step).is_integer() or step < 0:
            return float(self.config(step))
        index, offset = divmod(int(step), self._block)
        if index != self._index:
            first = index * self._block
            self._values = restart_lr(numpy.arange(first, first + self._block), self.config).tolist()
            self._index = index
        return self._values[offset]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RestartCache) and (self.config, self._block) == (other.config, other._block)

    __hash__ = None  # type: ignore[assignment]  # mutable, equal by config: not hashable
