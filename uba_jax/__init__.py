"""Optax adapter: UBA schedules as ``count -> learning rate`` functions.

The pair mirrors ``optax.cosine_decay_schedule`` and
``optax.warmup_cosine_decay_schedule`` (``decay_steps`` includes the warmup, as in
optax). Each factory validates its arguments once and returns a trace-safe
callable over [`uba_core.uba_lr`][uba_core.uba_lr] evaluated with ``jax.numpy``: it works under
``jax.jit`` and ``jax.vmap``, is differentiable with respect to ``phi`` and the
rates, and stays finite for any budget and int32 counts up to ``2**31 - 1``. The
rates may be arrays, as in optax (a sweep over learning rates in one ``jit``); the
rate returned is weakly typed when they are Python floats, so ``lr * bf16`` stays
bfloat16. Past the budget it holds the floor. ``stable_steps`` holds the peak after the
warmup (warmup-stable-decay) inside ``decay_steps``, and when the budget changes
mid-run, [`rebudget`][uba_jax.rebudget] and [`cooldown`][uba_jax.cooldown] build the
continued schedule from the old one and the step of the switch.
[`estimate_spectrum`][uba_jax.estimate_spectrum] gives the Hessian spectrum of a loss (for
[`uba_core.experimental.suggest_phi`][uba_core.experimental.suggest_phi]).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from uba_core._schedule import DEFAULT_PHI, UBAConfig, check_config, make_config, uba_lr
from uba_core._validation import check_float32_positive, check_real, require_framework

if TYPE_CHECKING:
    import jax
    import optax
    from jax.typing import ArrayLike
else:
    jax = require_framework("jax", "jax")
    optax = require_framework("optax", "jax")
import jax.core
import jax.numpy as jnp
import numpy

from uba_jax._spectrum import estimate_gradient_noise, estimate_spectrum

__all__ = [
    "cooldown",
    "estimate_gradient_noise",
    "estimate_spectrum",
    "from_uba_config",
    "rebudget",
    "uba_decay_schedule",
    "uba_sgdr_schedule",
    "warmup_uba_decay_schedule",
]
__test__: dict[str, object] = {
    "estimate_spectrum": estimate_spectrum,
    "estimate_gradient_noise": estimate_gradient_noise,
}  # its Examples run with this module's doctests

#: What the factories return: a schedule optax accepts (an ``optax.Schedule``) whose rate
#: is a ``jax.Array``.
Schedule: TypeAlias = "Callable[[ArrayLike], jax.Array]"


def from_uba_config(config: UBAConfig, *, phi: ArrayLike | None = None) -> Schedule:
    """The optax schedule of a [`uba_core.UBAConfig`][uba_core.UBAConfig].

    Args:
        config: The schedule, its stable phase and re-budgets included.
        phi: A phi overriding ``config.phi``, typically traced (to differentiate the
            curve with respect to phi); a concrete one is validated like the config's.

    Returns:
        ``schedule(count)``: float32 rates (float64 under ``jax_enable_x64``).

    Examples:
        >>> from uba_core import UBAConfig
        >>> sched = from_uba_config(UBAConfig(total_steps=10, peak_lr=1.0, phi=2.0))
        >>> float(sched(5))
        0.5
    """
    check_config(config)
    if phi is None:
        return _schedule(config)
    value, array = _split("phi", phi, placeholder=config.phi, positive=True)
    return _schedule(dataclasses.replace(config, phi=value), phi=array)


def _schedule(config: UBAConfig, **overrides: Any) -> Schedule:
    """The schedule of the validated ``config``; ``overrides`` are array values (or None)."""
    check_float32_positive("phi", config.phi)
    return _UBASchedule(config, {k: v for k, v in overrides.items() if v is not None})


class _UBASchedule:
    """``count -> rate``, what every factory returns (an ``optax.Schedule``).

    An object rather than a closure so that [`rebudget`][uba_jax.rebudget] can read the
    config it evaluates. The config is not public: where a rate or phi is an array, the
    config holds a placeholder for it and ``overrides`` the array.
    """

    def __init__(self, config: UBAConfig, overrides: dict[str, Any]) -> None:
        self._config = config
        self._overrides = overrides

    def __call__(self, count: ArrayLike) -> jax.Array:
        count = jnp.asarray(count)
        step = count * 1.0  # a weakly typed float, as in optax
        remaining = None  # T - count in integers: exact for counts above 2**24
        total = self._config.total_steps
        # jnp.iinfo is ml_dtypes.iinfo, which has no annotations.
        if jnp.issubdtype(count.dtype, jnp.signedinteger) and total <= jnp.iinfo(count.dtype).max:  # type: ignore[no-untyped-call]
            remaining = (total - count) * 1.0
        rate: jax.Array = uba_lr(step, self._config, xp=jnp, remaining=remaining, **self._overrides)
        return rate

    def __repr__(self) -> str:
        return f"<uba_jax schedule of {self._config!r}>"


def rebudget(schedule: Schedule, step: int, total_steps: int) -> Schedule:
    """``schedule`` continued from count ``step`` with the new budget ``total_steps``.

    The rates up to ``step`` are unchanged; from there the rest of the decay is spread
    over the new budget, continuous at ``step``, reaching the floor at ``total_steps``
    (see [`uba_core.UBAConfig.rebudget`][uba_core.UBAConfig.rebudget]). Longer and
    shorter budgets both work, and so does re-budgeting again. To switch, build the
    same optimizer with the new schedule (``optax.adamw(learning_rate=new)``), jit its
    update again, and go on with the old optimizer state: its count goes on too.

    Args:
        schedule: A schedule built by this module (its factories, `from_uba_config`,
            or `rebudget` / `cooldown` themselves).
        step: The count at which the budget changes.
        total_steps: The new budget, counted from 0 like ``decay_steps`` (warmup included).

    Returns:
        The new schedule; rates given as arrays (or traced) stay arrays.

    Raises:
        TypeError: ``schedule`` was not built here (a plain function has no config).
        ValueError: ``step`` is past the schedule's end or not below ``total_steps``.

    Examples:
        >>> sched = warmup_uba_decay_schedule(0.0, 1.0, 10, 110, phi=2.0)
        >>> longer = rebudget(sched, 60, 160)
        >>> float(longer(60)) == float(sched(60)), float(longer(160))
        (True, 0.0)
    """
    old = _ours(schedule)
    return _UBASchedule(old._config.rebudget(step, total_steps), old._overrides)


def cooldown(schedule: Schedule, step: int, steps: int) -> Schedule:
    """``schedule`` cooled down from count ``step`` to its floor over ``steps`` counts.

    From the stable phase, the decay starts at ``step`` from the peak; inside the decay
    it is ``rebudget(schedule, step, step + steps)`` (see
    [`uba_core.UBAConfig.cooldown`][uba_core.UBAConfig.cooldown]).

    Args:
        schedule: A schedule built by this module.
        step: Where the cooldown starts, at or after the warmup's end.
        steps: Its length, >= 1.

    Returns:
        The new schedule, at its floor from count ``step + steps`` on.

    Raises:
        TypeError: ``schedule`` was not built here.
        ValueError: ``step`` is inside the warmup or past the schedule's end, or
            ``steps`` < 1.

    Examples:
        >>> run = warmup_uba_decay_schedule(0.0, 1.0, 10, 10**6, stable_steps=10**6 - 11)
        >>> cool = cooldown(run, 500, 100)
        >>> [round(float(cool(c)), 6) for c in (499, 500, 550, 600)]
        [1.0, 1.0, 0.5, 0.0]
    """
    old = _ours(schedule)
    return _UBASchedule(old._config.cooldown(step, steps), old._overrides)


def _ours(schedule: Any) -> _UBASchedule:
    if not isinstance(schedule, _UBASchedule):
        raise TypeError(
            "Argument `schedule` must be a schedule built by uba_jax (its factories, from_uba_config, "
            f"rebudget or cooldown), which knows its config. Received: schedule={schedule!r} "
            f"({type(schedule).__name__})."
        )
    return schedule


def _split(name: str, value: ArrayLike, *, placeholder: float, **rules: Any) -> tuple[float, jax.Array | None]:
    """``(value for the config, array override or None)`` of an ArrayLike argument.

    A Python or 0-d value is checked against ``rules`` (those of ``check_real``) and
    goes into the config. A concrete array (a learning-rate sweep) is checked element
    by element, and a traced one (under jit, vmap or grad) is passed through; the
    config then holds ``placeholder``.
    """
    if isinstance(value, jax.core.Tracer):
        # A Tracer is a jax.Array (registered as a virtual subclass, which type checkers do not see).
        return placeholder, cast("jax.Array", value)
    if numpy.ndim(value) == 0 or not hasattr(value, "shape"):
        return check_real(name, value, **rules), None
    for item in numpy.asarray(value).ravel():
        check_real(name, item, **rules)
    return placeholder, jnp.asarray(value)


def uba_decay_schedule(
    init_value: ArrayLike,
    decay_steps: int,
    alpha: ArrayLike = 0.0,
    exponent: float = 1.0,
    *,
    phi: ArrayLike = DEFAULT_PHI,
    stable_steps: int = 0,
) -> Schedule:
    r"""UBA decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``.

    Same arguments as ``optax.cosine_decay_schedule``, which ``phi=2`` reproduces.
    With ``stable_steps`` $S$ the rate holds ``init_value`` for $S$ counts and
    decays over the remaining ``decay_steps - S``.

    Args:
        init_value: Rate at count 0, >= 0; a float or an array (vmap, grad).
        decay_steps: Budget, >= 1 (an integral float is accepted); the rate holds
            the floor afterwards.
        alpha: Floor as a fraction of ``init_value``, >= 0; a float or an array. Above 1 the
            rate rises from ``init_value`` to ``alpha * init_value``, as optax's does.
        exponent: The shape is raised to this power, > 0 (as in optax).
        phi: Shape, > 0; default [`uba_core.DEFAULT_PHI`][uba_core.DEFAULT_PHI]. May be traced
            (``jax.grad`` with respect to phi).
        stable_steps: Counts at ``init_value`` before the decay, inside ``decay_steps``:
            0 <= stable_steps < decay_steps.

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.

    Examples:
        >>> sched = uba_decay_schedule(1.0, 100, phi=2.0)
        >>> round(float(sched(50)), 6), float(sched(10**9))
        (0.5, 0.0)
    """
    init, init_array = _split("init_value", init_value, placeholder=0.0, minimum=0.0)
    frac, alpha_array = _split("alpha", alpha, placeholder=0.0, minimum=0.0)
    floor = None  # the floor as an array where either factor is one
    if init_array is not None or alpha_array is not None:
        floor = jnp.asarray(init_value) * jnp.asarray(alpha)
    phi_value, traced = _split("phi", phi, placeholder=DEFAULT_PHI, positive=True)
    cfg = make_config(
        {"total_steps": "decay_steps", "peak_lr": "init_value"},
        total_steps=decay_steps,
        peak_lr=init,
        phi=phi_value,
        min_lr=frac * init,
        exponent=exponent,
        stable_steps=stable_steps,
    )
    return _schedule(cfg, phi=traced, peak_lr=init_array, min_lr=floor)


def warmup_uba_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: ArrayLike = 0.0,
    exponent: float = 1.0,
    *,
    phi: ArrayLike = DEFAULT_PHI,
    stable_steps: int = 0,
) -> Schedule:
    r"""Linear warmup from ``init_value`` to ``peak_value``, then UBA decay to ``end_value``.

    Same arguments as ``optax.warmup_cosine_decay_schedule``, which ``phi=2``
    reproduces: ``decay_steps`` is the whole budget, warmup included. With
    ``stable_steps`` $S$ the rate holds ``peak_value`` for $S$ counts after the
    warmup $W$ (warmup-stable-decay); the budget stays ``decay_steps``, so the
    decay runs over the last ``decay_steps - W - S`` counts.

    Args:
        init_value: Rate at count 0, >= 0; a float or an array.
        peak_value: Rate at count ``warmup_steps``, >= 0; a float or an array.
        warmup_steps: Warmup length, 0 <= warmup_steps < decay_steps.
        decay_steps: Budget including warmup, >= 1 (an integral float is accepted).
        end_value: Floor, >= 0; a float or an array.
        exponent: The shape is raised to this power, > 0 (as in optax).
        phi: Shape, > 0; default [`uba_core.DEFAULT_PHI`][uba_core.DEFAULT_PHI]. May be traced.
        stable_steps: Counts at ``peak_value`` after the warmup, inside ``decay_steps``:
            warmup_steps + stable_steps < decay_steps.

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.

    Examples:
        >>> sched = warmup_uba_decay_schedule(0.0, 1.0, 10, 110, phi=2.0)
        >>> [round(float(sched(c)), 6) for c in (0, 5, 10, 60, 110)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
        >>> wsd = warmup_uba_decay_schedule(0.0, 1.0, 10, 110, stable_steps=60, phi=2.0)
        >>> [round(float(wsd(c)), 6) for c in (10, 70, 90, 110)]
        [1.0, 1.0, 0.5, 0.0]
    """
    start, start_array = _split("init_value", init_value, placeholder=0.0, minimum=0.0)
    peak, peak_array = _split("peak_value", peak_value, placeholder=0.0, minimum=0.0)
    end, end_array = _split("end_value", end_value, placeholder=0.0, minimum=0.0)
    phi_value, traced = _split("phi", phi, placeholder=DEFAULT_PHI, positive=True)
    names = {
        "total_steps": "decay_steps",
        "peak_lr": "peak_value",
        "min_lr": "end_value",
        "warmup_start_lr": "init_value",
    }
    cfg = make_config(
        names,
        total_steps=decay_steps,
        peak_lr=peak,
        phi=phi_value,
        min_lr=end,
        warmup_steps=warmup_steps,
        warmup_start_lr=start,
        exponent=exponent,
        stable_steps=stable_steps,
    )
    return _schedule(cfg, phi=traced, peak_lr=peak_array, min_lr=end_array, warmup_start_lr=start_array)


def uba_sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, Any]], *, phi: ArrayLike = DEFAULT_PHI) -> Schedule:
    """Warm restarts: UBA cycles with warmup, one after the other, like ``optax.sgdr_schedule``.

    Each dict holds the arguments of one [`warmup_uba_decay_schedule`][uba_jax.warmup_uba_decay_schedule]
    cycle (``init_value``, ``peak_value``, ``warmup_steps``, ``decay_steps``, and optionally
    ``end_value``, ``exponent``, ``stable_steps``, or a ``phi`` of its own); cycle ``i`` runs for
    its ``decay_steps`` counts, and the next starts from its own count 0. They are joined by
    ``optax.join_schedules``, as optax's SGDR joins its cosines, so every cycle sees an exact
    integer count. After the last cycle its floor holds. ``phi=2`` gives ``optax.sgdr_schedule``.

    Args:
        cosine_kwargs: The cycles, in order; at least one.
        phi: Shape of every cycle that does not set its own, > 0.

    Returns:
        ``schedule(count)``, trace-safe (jit, vmap).

    Raises:
        TypeError, ValueError: no cycle, or a cycle's arguments are invalid; the message names
            the cycle (``cosine_kwargs[i]``) and the argument.

    Examples:
        >>> cycles = [dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=10)] * 2
        >>> sched = uba_sgdr_schedule(cycles, phi=2.0)
        >>> [round(float(sched(c)), 6) for c in (0, 2, 6, 10, 12, 16)]
        [0.0, 1.0, 0.5, 0.0, 1.0, 0.5]
    """
    schedules: list[Schedule] = []
    boundaries: list[int] = []
    for i, kwargs in enumerate(cosine_kwargs):
        try:
            if not isinstance(kwargs, Mapping):
                raise TypeError(f"Received: {kwargs!r} ({type(kwargs).__name__}), not a dict of arguments.")
            schedule = _ours(warmup_uba_decay_schedule(**{"phi": phi, **kwargs}))
        except (TypeError, ValueError) as err:
            raise type(err)(f"Argument `cosine_kwargs[{i}]` is not a valid cycle: {err}") from err
        schedules.append(schedule)
        boundaries.append((boundaries[-1] if boundaries else 0) + schedule._config.total_steps)
    if not schedules:
        raise ValueError("Argument `cosine_kwargs` must hold at least one cycle. Received: no cycle.")
    # optax annotates its schedules' rate as ArrayLike; join_schedules' is a jnp.where, a jax.Array.
    return cast("Schedule", optax.join_schedules(schedules, boundaries[:-1]))
