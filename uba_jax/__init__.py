"""Optax adapter: UBA schedules as ``count -> learning rate`` functions.

The pair mirrors ``optax.cosine_decay_schedule`` and
``optax.warmup_cosine_decay_schedule`` (``decay_steps`` includes the warmup, as in
optax). Each factory validates its arguments once and returns a trace-safe
closure over :func:`uba_core.uba_lr` evaluated with ``jax.numpy``: it works under
``jax.jit`` and ``jax.vmap``, is differentiable with respect to ``phi``, and stays
finite for int32 counts up to ``2**31 - 1``. Past the budget it holds the floor.
:func:`estimate_spectrum` gives the Hessian spectrum of a loss (for
:func:`uba_core.suggest_phi`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uba_core import (
    DEFAULT_PHI,
    UBAConfig,
    check_float32_positive,
    check_real,
    make_config,
    require_framework,
    uba_lr,
)

jax = require_framework("jax", "jax")
require_framework("optax", "jax")
import jax.numpy as jnp  # noqa: E402

from uba_jax._spectrum import estimate_spectrum  # noqa: E402

__all__ = ["estimate_spectrum", "schedule_from_config", "uba_decay_schedule", "warmup_uba_decay_schedule"]
__test__ = {"estimate_spectrum": estimate_spectrum}  # its Examples run with this module's doctests

Schedule = Callable[[Any], Any]


def schedule_from_config(config: UBAConfig, *, phi: Any = None) -> Schedule:
    """The optax schedule of a :class:`uba_core.UBAConfig`.

    Args:
        config: The schedule.
        phi: A phi overriding ``config.phi``, typically traced (to differentiate the
            curve with respect to phi); a concrete one is validated like the config's.

    Returns:
        ``schedule(count)``: float32 rates (float64 under ``jax_enable_x64``).

    Examples:
        >>> from uba_core import UBAConfig
        >>> sched = schedule_from_config(UBAConfig(total_steps=10, peak_lr=1.0, phi=2.0))
        >>> float(sched(5))
        0.5
    """
    if not isinstance(config, UBAConfig):
        raise TypeError(
            f"Argument `config` must be a UBAConfig. Received: config={config!r} "
            f"({type(config).__name__})."
        )

    check_float32_positive("phi", config.phi)
    if phi is not None and not isinstance(phi, jax.core.Tracer):
        phi = _checked_phi(phi)[0]
    total = config.total_steps

    def schedule(count: Any) -> Any:
        count = jnp.asarray(count)
        step = count.astype(jnp.result_type(float))
        remaining = None  # T - count in integers: exact for counts above 2**24
        if jnp.issubdtype(count.dtype, jnp.signedinteger) and total <= jnp.iinfo(count.dtype).max:
            remaining = (total - count).astype(step.dtype)
        return uba_lr(step, config, xp=jnp, phi=phi, remaining=remaining)

    return schedule


def _checked_phi(phi: Any) -> tuple[float, Any]:
    """``(value to validate the config with, traced phi or None)``.

    A concrete phi is validated (and must fit float32); a traced one (under
    ``jax.grad``) cannot be, and is passed through.
    """
    if isinstance(phi, jax.core.Tracer):
        return 2.0, phi
    return check_float32_positive("phi", check_real("phi", phi, positive=True)), None


def uba_decay_schedule(
    init_value: float, decay_steps: int, phi: Any = DEFAULT_PHI, alpha: float = 0.0
) -> Schedule:
    r"""UBA decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps``.

    Like ``optax.cosine_decay_schedule``; ``phi=2`` gives that curve.

    Args:
        init_value: Rate at count 0, >= 0.
        decay_steps: Budget, >= 1; the rate holds the floor afterwards.
        phi: Shape, > 0; default :data:`uba_core.DEFAULT_PHI`. Third positional
            argument, where ``cosine_decay_schedule`` has ``alpha``: pass ``alpha``
            by keyword.
        alpha: Floor as a fraction of ``init_value``, in [0, 1].

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.

    Examples:
        >>> sched = uba_decay_schedule(1.0, 100, phi=2.0)
        >>> round(float(sched(50)), 6), float(sched(10**9))
        (0.5, 0.0)
    """
    alpha = check_real("alpha", alpha, minimum=0.0, maximum=1.0)
    init = check_real("init_value", init_value, minimum=0.0)
    phi_value, traced = _checked_phi(phi)
    cfg = make_config({"total_steps": "decay_steps", "peak_lr": "init_value"},
                      total_steps=decay_steps, peak_lr=init, phi=phi_value, min_lr=alpha * init)
    return schedule_from_config(cfg, phi=traced)


def warmup_uba_decay_schedule(
    init_value: float,
    peak_value: float,
    warmup_steps: int,
    decay_steps: int,
    phi: Any = DEFAULT_PHI,
    end_value: float = 0.0,
) -> Schedule:
    r"""Linear warmup from ``init_value`` to ``peak_value``, then UBA decay to ``end_value``.

    Like ``optax.warmup_cosine_decay_schedule``: ``decay_steps`` is the whole budget,
    warmup included; ``phi=2`` gives that curve.

    Args:
        init_value: Rate at count 0, >= 0.
        peak_value: Rate at count ``warmup_steps``, >= 0.
        warmup_steps: Warmup length, 0 <= warmup_steps < decay_steps.
        decay_steps: Budget including warmup, >= 1.
        phi: Shape, > 0; default :data:`uba_core.DEFAULT_PHI`. Fifth positional
            argument, where ``warmup_cosine_decay_schedule`` has ``end_value``: pass
            ``end_value`` by keyword.
        end_value: Floor, 0 <= end_value <= peak_value.

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.

    Examples:
        >>> sched = warmup_uba_decay_schedule(0.0, 1.0, 10, 110, phi=2.0)
        >>> [round(float(sched(c)), 6) for c in (0, 5, 10, 60, 110)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    phi_value, traced = _checked_phi(phi)
    names = {"total_steps": "decay_steps", "peak_lr": "peak_value", "min_lr": "end_value",
             "warmup_start_lr": "init_value"}
    cfg = make_config(names, total_steps=decay_steps, peak_lr=peak_value, phi=phi_value,
                      min_lr=end_value, warmup_steps=warmup_steps, warmup_start_lr=init_value)
    return schedule_from_config(cfg, phi=traced)
