"""Keras 3 adapter: [`UBADecay`][uba_tf.UBADecay], a ``LearningRateSchedule`` like ``CosineDecay``,
and [`UBADecayRestarts`][uba_tf.UBADecayRestarts], like ``CosineDecayRestarts``.

Runs on keras.ops only, so it works inside ``model.fit`` on every Keras backend
(TensorFlow by default).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from uba_core._restarts import make_restart_config, restart_lr
from uba_core._schedule import DEFAULT_PHI, UBAConfig, check_config, make_config, uba_lr
from uba_core._validation import check_float32_positive, check_int, check_real, require_framework

if TYPE_CHECKING:
    import keras
else:
    keras = require_framework("keras", "tf")
from keras import ops

__all__ = ["UBADecay", "UBADecayRestarts"]


@keras.saving.register_keras_serializable(package="uba_schedule")
class UBADecay(keras.optimizers.schedules.LearningRateSchedule):
    r"""UBA decay with optional linear warmup, a drop-in for ``keras.optimizers.schedules.CosineDecay``.

    Same positional arguments and warmup convention as ``CosineDecay``; the UBA
    knobs are keyword-only. ``decay_steps`` *excludes* the warmup; with
    ``warmup_target`` the rate climbs linearly from ``initial_learning_rate`` to
    ``warmup_target`` over ``warmup_steps``, then decays from ``warmup_target``;
    without it the rate decays from ``initial_learning_rate`` (and ``warmup_steps``
    is ignored, as ``CosineDecay`` does, with a warning). The floor is ``alpha``
    times the peak (or ``min_learning_rate`` exactly), held after the budget.
    ``phi=2`` gives ``CosineDecay``'s curve.

    ``stable_steps`` hold the peak between the warmup and the decay
    (warmup-stable-decay). They add to the budget, as the warmup does: the run is
    ``warmup_steps + stable_steps + decay_steps`` steps, and ``decay_steps`` is the
    length of the cooldown. When the budget changes mid-run,
    [`rebudget`][uba_tf.UBADecay.rebudget] and [`cooldown`][uba_tf.UBADecay.cooldown]
    return the continued schedule, again a `UBADecay`: it records the switch in
    ``rebudgets``, so that it saves and reloads like any other. To give it to a
    compiled model, set ``model.optimizer.learning_rate = new`` and call
    ``model.make_train_function(force=True)``: the train step compiled before still
    evaluates the old schedule (a model saved after the assignment and reloaded
    has the new one).

    The optimizer evaluates ``schedule(iterations)`` before incrementing, so the
    k-th update uses $\mathrm{lr}(k)$. The rate has the dtype of
    ``initial_learning_rate`` as ``CosineDecay``'s has (float32 for a Python float,
    float64 for a float64 value or tensor); it is float32, also under a
    ``mixed_float16`` policy, otherwise. ``get_config`` holds plain floats, so a
    reloaded schedule is float32 (``CosineDecay``'s JSON loses the dtype too). The
    curve is [`uba_core.uba_lr`][uba_core.uba_lr] on keras.ops.

    Args:
        initial_learning_rate: Peak, or the warmup start when ``warmup_target`` is
            set; a float or a scalar tensor.
        decay_steps: Length of the decay phase, >= 1 (an integral float is accepted).
        alpha: Floor as a fraction of the peak, in [0, 1].
        name: Name of the schedule.
        warmup_target: Peak reached after warmup, or None for no warmup.
        warmup_steps: Warmup length (used with ``warmup_target``).
        phi: Shape, > 0 (2 is cosine); default [`uba_core.DEFAULT_PHI`][uba_core.DEFAULT_PHI].
        exponent: The shape is raised to this power, > 0; 1 is UBA.
        min_learning_rate: The floor as an absolute rate, instead of ``alpha``
            (used by [`from_uba_config`][uba_tf.UBADecay.from_uba_config], so no floor is rebuilt by a division).
        stable_steps: Steps at the peak after the warmup, >= 0, not counted in ``decay_steps``.
        rebudgets: The budget changes this schedule went through, as (step, remaining
            fraction) pairs (see [`uba_core.UBAConfig.rebudgets`][uba_core.UBAConfig]);
            written by `rebudget` and `cooldown`, empty for a planned schedule.

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.

    Examples:
        >>> sched = UBADecay(0.1, 100, phi=2.0)
        >>> round(float(sched(50)), 6)
        0.05
        >>> wsd = UBADecay(0.0, 100, warmup_target=0.1, warmup_steps=10, stable_steps=90)
        >>> [round(float(wsd(t)), 6) for t in (10, 100, 150, 200)]
        [0.1, 0.1, 0.05, 0.0]
    """

    # The core schedule, and the validated arguments get_config() returns.
    uba_config: UBAConfig
    initial_learning_rate: float
    decay_steps: int
    alpha: float
    name: str
    warmup_target: float | None
    warmup_steps: int
    phi: float
    exponent: float
    min_learning_rate: float | None
    stable_steps: int

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        alpha: float = 0.0,
        name: str = "UBADecay",
        warmup_target: float | None = None,
        warmup_steps: int = 0,
        *,
        phi: float = DEFAULT_PHI,
        exponent: float = 1.0,
        min_learning_rate: float | None = None,
        stable_steps: int = 0,
        rebudgets: Sequence[Sequence[float]] = (),
    ) -> None:
        super().__init__()
        if not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a str. Received: name={name!r} ({type(name).__name__}).")
        decay = check_int("decay_steps", decay_steps, minimum=1, integral_float=True)
        warm = check_int("warmup_steps", warmup_steps, minimum=0, integral_float=True)
        stable = check_int("stable_steps", stable_steps, minimum=0, integral_float=True)
        alpha = check_real("alpha", alpha, minimum=0.0, maximum=1.0)
        dtype = keras.backend.standardize_dtype(getattr(initial_learning_rate, "dtype", None) or keras.backend.floatx())
        self._dtype = "float64" if dtype == "float64" else "float32"
        init = check_real("initial_learning_rate", _scalar(initial_learning_rate), minimum=0.0)
        names = {"min_lr": "alpha"}
        if warmup_target is None:
            if warm != 0:
                warnings.warn(
                    f"UBADecay: warmup_steps={warm} has no effect without `warmup_target` (as in "
                    "CosineDecay): the rate decays from initial_learning_rate at step 0.",
                    UserWarning,
                    stacklevel=2,
                )
            peak, start, used_warm = init, 0.0, 0
            names["peak_lr"] = "initial_learning_rate"
        else:
            peak = check_real("warmup_target", _scalar(warmup_target), minimum=0.0)
            start, used_warm = init, warm
            names.update(peak_lr="warmup_target", warmup_start_lr="initial_learning_rate")
        if min_learning_rate is None:
            floor = alpha * peak
        elif alpha != 0.0:
            raise ValueError(
                "Give the floor as `alpha` or as `min_learning_rate`, not both. "
                f"Received: alpha={alpha!r}, min_learning_rate={min_learning_rate!r}."
            )
        else:
            floor = min_learning_rate
            names["min_lr"] = "min_learning_rate"
        self.uba_config = make_config(
            names,
            total_steps=decay + used_warm + stable,
            peak_lr=peak,
            phi=phi,
            min_lr=floor,
            warmup_steps=used_warm,
            warmup_start_lr=start,
            exponent=exponent,
            stable_steps=stable,
            rebudgets=rebudgets,
        )
        # The validated plain values, so that get_config() is JSON-able as it is.
        cfg = self.uba_config
        check_float32_positive("phi", cfg.phi)
        self.initial_learning_rate = init
        self.decay_steps = decay
        self.phi = cfg.phi
        self.exponent = cfg.exponent
        self.alpha = alpha
        self.name = name
        self.warmup_target = None if warmup_target is None else cfg.peak_lr
        self.warmup_steps = used_warm  # the warning above is not repeated on every reload
        self.min_learning_rate = None if min_learning_rate is None else cfg.min_lr
        self.stable_steps = cfg.stable_steps

    def __call__(self, step: Any) -> Any:
        step = ops.convert_to_tensor(step)
        total = self.uba_config.total_steps
        remaining = None  # T - step in integers: exact for steps above 2**24
        dtype = keras.backend.standardize_dtype(step.dtype)
        if dtype in ("int32", "int64") and total < 2 ** (31 if dtype == "int32" else 63):
            remaining = ops.cast(ops.subtract(total, step), self._dtype)
        return uba_lr(ops.cast(step, self._dtype), self.uba_config, xp=ops, remaining=remaining)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
            "phi": self.phi,
            "exponent": self.exponent,
            "min_learning_rate": self.min_learning_rate,
            "stable_steps": self.stable_steps,
            "rebudgets": [list(knot) for knot in self.uba_config.rebudgets],
        }

    def rebudget(self, step: int, total_steps: int) -> UBADecay:
        """This schedule continued from iteration ``step`` with the new budget ``total_steps``.

        The rates up to ``step`` are unchanged; from there the rest of the decay is
        spread over the new budget, continuous at ``step``, reaching the floor at
        ``total_steps`` (see [`uba_core.UBAConfig.rebudget`][uba_core.UBAConfig.rebudget]).
        The other arguments are kept; ``decay_steps`` becomes
        ``total_steps - warmup_steps - stable_steps``.

        Args:
            step: The iteration at which the budget changes.
            total_steps: The new budget, all iterations from 0 (warmup and stable
                steps included).

        Returns:
            The new schedule.

        Raises:
            ValueError: ``step`` is past this schedule's end or not below ``total_steps``.

        Examples:
            >>> sched = UBADecay(0.1, 100, phi=2.0)
            >>> longer = sched.rebudget(50, 150)
            >>> float(longer(50)) == float(sched(50)), float(longer(150)), longer.decay_steps
            (True, 0.0, 150)
        """
        return self._continued(self.uba_config.rebudget(step, total_steps))

    def cooldown(self, step: int, steps: int) -> UBADecay:
        """This schedule cooled down from iteration ``step`` to its floor over ``steps`` iterations.

        From the stable phase, the decay starts at ``step`` from the peak (``stable_steps``
        becomes ``step - warmup_steps`` and ``decay_steps`` becomes ``steps``); inside the
        decay it is ``rebudget(step, step + steps)`` (see
        [`uba_core.UBAConfig.cooldown`][uba_core.UBAConfig.cooldown]).

        Args:
            step: Where the cooldown starts, at or after the warmup's end.
            steps: Its length, >= 1.

        Returns:
            The new schedule, at its floor from iteration ``step + steps`` on.

        Raises:
            ValueError: ``step`` is inside the warmup or past this schedule's end, or
                ``steps`` < 1.

        Examples:
            >>> run = UBADecay(0.1, 1, stable_steps=10**6)
            >>> cool = run.cooldown(500, 100)
            >>> [round(float(cool(t)), 6) for t in (500, 550, 600)], cool.stable_steps
            ([0.1, 0.05, 0.0], 500)
        """
        return self._continued(self.uba_config.cooldown(step, steps))

    def _continued(self, cfg: UBAConfig) -> UBADecay:
        """This schedule's arguments with the budget, stable phase and re-budgets of ``cfg``."""
        args = self.get_config()
        args.update(
            decay_steps=cfg.total_steps - cfg.warmup_steps - cfg.stable_steps,
            stable_steps=cfg.stable_steps,
            rebudgets=cfg.rebudgets,
        )
        continued = type(self)(**args)
        continued._dtype = self._dtype  # get_config holds a plain float: keep a float64 rate float64
        return continued

    @classmethod
    def from_uba_config(cls, config: UBAConfig, name: str = "UBADecay") -> UBADecay:
        """Build from a [`uba_core.UBAConfig`][uba_core.UBAConfig] (its floor is kept exactly).

        ``decay_steps`` is the config's total less its warmup and stable steps; its
        re-budgets are carried over.
        """
        check_config(config)
        return cls(
            config.warmup_start_lr,
            config.total_steps - config.warmup_steps - config.stable_steps,
            name=name,
            warmup_target=config.peak_lr,
            warmup_steps=config.warmup_steps,
            phi=config.phi,
            exponent=config.exponent,
            min_learning_rate=config.min_lr,
            stable_steps=config.stable_steps,
            rebudgets=config.rebudgets,
        )


@keras.saving.register_keras_serializable(package="uba_schedule")
class UBADecayRestarts(keras.optimizers.schedules.LearningRateSchedule):
    r"""UBA decay with warm restarts, a drop-in for ``keras.optimizers.schedules.CosineDecayRestarts``.

    Same positional arguments as ``CosineDecayRestarts``; ``phi`` is keyword-only and
    ``phi=2`` gives its curve. The first cycle decays from ``initial_learning_rate`` to
    ``alpha * initial_learning_rate`` over ``first_decay_steps``; each cycle is ``t_mul``
    times as long as the one before, and its amplitude above the floor ``m_mul`` times
    (see [`uba_core.RestartConfig`][uba_core.RestartConfig]; the cycle arithmetic is the
    core's, on keras.ops). With ``t_mul < 1`` the cycles shrink and end at
    ``first_decay_steps / (1 - t_mul)``; the rate holds the floor from there (where
    ``CosineDecayRestarts`` gives NaN). The rate has the dtype of
    ``initial_learning_rate``, as [`UBADecay`][uba_tf.UBADecay]'s; the optimizer evaluates
    ``schedule(iterations)`` before incrementing, so the k-th update uses lr(k).

    Args:
        initial_learning_rate: Peak of the first cycle, >= 0; a float or a scalar tensor.
        first_decay_steps: Length of the first cycle, an integer >= 1 (an integral float
            is accepted).
        t_mul: Factor from one cycle's length to the next, > 0.
        m_mul: Factor from one cycle's amplitude to the next, > 0.
        alpha: Floor as a fraction of ``initial_learning_rate``, in [0, 1].
        name: Name of the schedule.
        phi: Shape, > 0 (2 is cosine); default [`uba_core.DEFAULT_PHI`][uba_core.DEFAULT_PHI].

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.

    Examples:
        >>> sched = UBADecayRestarts(0.1, 10, phi=2.0)  # cycles of 10, 20, 40, ... steps
        >>> [round(float(sched(t)), 6) for t in (0, 5, 10, 20, 30)]
        [0.1, 0.05, 0.1, 0.05, 0.1]
    """

    def __init__(
        self,
        initial_learning_rate: float,
        first_decay_steps: int,
        t_mul: float = 2.0,
        m_mul: float = 1.0,
        alpha: float = 0.0,
        name: str = "SGDRDecay",
        *,
        phi: float = DEFAULT_PHI,
    ) -> None:
        super().__init__()
        if not isinstance(name, str):
            raise TypeError(f"Argument `name` must be a str. Received: name={name!r} ({type(name).__name__}).")
        dtype = keras.backend.standardize_dtype(getattr(initial_learning_rate, "dtype", None) or keras.backend.floatx())
        self._dtype = "float64" if dtype == "float64" else "float32"
        init = check_real("initial_learning_rate", _scalar(initial_learning_rate), minimum=0.0)
        self.alpha = check_real("alpha", alpha, minimum=0.0, maximum=1.0)
        self.restart_config = make_restart_config(
            {"first_steps": "first_decay_steps", "peak_lr": "initial_learning_rate", "min_lr": "alpha"},
            first_steps=first_decay_steps,
            peak_lr=init,
            min_lr=self.alpha * init,
            t_mul=t_mul,
            m_mul=m_mul,
            phi=phi,
        )
        cfg = self.restart_config
        check_float32_positive("phi", cfg.phi)
        self.initial_learning_rate = init
        self.first_decay_steps = cfg.first_steps
        self.t_mul, self.m_mul, self.phi, self.name = cfg.t_mul, cfg.m_mul, cfg.phi, name

    def __call__(self, step: Any) -> Any:
        return restart_lr(ops.cast(step, self._dtype), self.restart_config, xp=ops)

    def get_config(self) -> dict[str, Any]:
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
            "phi": self.phi,
        }


def _scalar(value: Any) -> Any:
    """A backend tensor as a numpy value (so that it is validated like a number)."""
    return ops.convert_to_numpy(value) if ops.is_tensor(value) else value
