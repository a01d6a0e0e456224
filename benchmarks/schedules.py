"""The schedules compared in benchmarks/budgeted.py, and how each framework runs them.

Every schedule shares the same linear warmup from 0 over the first ``W`` steps
(5 % of the budget), except one-cycle, whose own rise (30 % of the budget, from
peak / 25) is what defines it. After warmup, with ``p`` the progress of the decay
phase:

- constant: 1
- step: x0.1 at p = 0.5 and again at p = 0.75
- linear: 1 - p
- cosine: (1 + cos(pi p)) / 2 -- each framework's own built-in
- wsd: warmup-stable-decay, constant then linear to 0 over the last 20 % of the budget
- one-cycle: torch's OneCycleLR (cosine up from peak / 25 over 30 %, cosine down to peak / 2.5e5)
- rex: (1 - p) / (1/2 + (1 - p) / 2)
- uba-<phi>: the UBA curve of this package (uba_torch / uba_jax / uba_tf)

Schedules with a framework built-in (cosine) or our adapter (uba) run through it;
the others are tabulated from the numpy formulas below, the same in every framework.
"""

from __future__ import annotations

import math

import numpy as np

from uba_core import UBAConfig

PHIS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
BASELINES = ("constant", "step", "linear", "cosine", "wsd", "one-cycle", "rex")
SCHEDULES = BASELINES + tuple(f"uba-{phi:g}" for phi in PHIS)


def warmup_steps(budget: int) -> int:
    """The common warmup: 5 % of the budget, at least one step."""
    return max(1, round(0.05 * budget))


def phi_of(name: str) -> float | None:
    """The phi of a ``uba-<phi>`` schedule name, else None."""
    return float(name.split("-", 1)[1]) if name.startswith("uba-") else None


def uba_config(name: str, budget: int, peak: float) -> UBAConfig:
    return UBAConfig(total_steps=budget, peak_lr=peak, phi=phi_of(name), warmup_steps=warmup_steps(budget))


def multipliers(name: str, budget: int) -> np.ndarray:
    """lr(t) / peak for t = 0 .. budget - 1 (float64), from the formulas above."""
    t = np.arange(budget, dtype=np.float64)
    W = warmup_steps(budget)
    if name == "one-cycle":  # torch.optim.lr_scheduler.OneCycleLR's formula, two phases
        top = 0.3 * budget - 1  # the step of the peak
        lo, end = 1 / 25, 1 / 25 / 1e4

        def cos_anneal(a, b, frac):
            return b + (a - b) / 2 * (1 + np.cos(np.pi * frac))

        up = cos_anneal(lo, 1.0, t / top)
        down = cos_anneal(1.0, end, (t - top) / (budget - 1 - top))
        return np.where(t <= top, up, down)
    if name.startswith("uba-"):
        return uba_config(name, budget, 1.0)(t)
    p = np.clip((t - W) / (budget - W), 0.0, 1.0)
    decay = {
        "constant": lambda: np.ones_like(p),
        "step": lambda: 0.1 ** ((p >= 0.5).astype(float) + (p >= 0.75)),
        "linear": lambda: 1 - p,
        "cosine": lambda: (1 + np.cos(np.pi * p)) / 2,
        "wsd": lambda: np.clip((budget - t) / (0.2 * budget), 0.0, 1.0),
        "rex": lambda: (1 - p) / (0.5 + 0.5 * (1 - p)),
    }[name]()
    return np.where(t < W, t / W, decay)


# --- framework builders -----------------------------------------------------------------


def torch_scheduler(name: str, optimizer, budget: int, peak: float):
    """A torch LRScheduler for ``name``; the optimizer's lr must be ``peak``."""
    from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, SequentialLR

    from uba_torch import UBALR

    W = warmup_steps(budget)
    if name == "cosine":
        warm = LambdaLR(optimizer, lambda t: t / W)
        return SequentialLR(optimizer, [warm, CosineAnnealingLR(optimizer, T_max=budget - W)], milestones=[W])
    if name.startswith("uba-"):
        return UBALR(optimizer, T_max=budget, phi=phi_of(name), warmup_steps=W)
    table = multipliers(name, budget).tolist()
    return LambdaLR(optimizer, lambda t: table[min(t, budget - 1)])


def optax_schedule(name: str, budget: int, peak: float):
    """An optax schedule (count -> lr) for ``name``."""
    import jax.numpy as jnp
    import optax

    import uba_jax

    W = warmup_steps(budget)
    if name == "cosine":
        return optax.warmup_cosine_decay_schedule(0.0, peak, W, budget)
    if name.startswith("uba-"):
        return uba_jax.warmup_uba_decay_schedule(0.0, peak, W, budget, phi=phi_of(name))
    table = jnp.asarray(peak * multipliers(name, budget), dtype=jnp.float32)
    return lambda count: table[jnp.minimum(count, budget - 1)]


def keras_schedule(name: str, budget: int, peak: float):
    """A keras LearningRateSchedule for ``name``."""
    import keras

    from uba_tf import UBADecay

    W = warmup_steps(budget)
    if name == "cosine":
        return keras.optimizers.schedules.CosineDecay(0.0, budget - W, warmup_target=peak, warmup_steps=W)
    if name.startswith("uba-"):
        return UBADecay(0.0, budget - W, warmup_target=peak, warmup_steps=W, phi=phi_of(name))

    class Table(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, values: np.ndarray) -> None:
            self.values = keras.ops.convert_to_tensor(values.astype("float32"))

        def __call__(self, step):
            return keras.ops.take(self.values, keras.ops.minimum(step, budget - 1))

    return Table(peak * multipliers(name, budget))


def log_grid(lo: float, hi: float, per_decade: int = 2) -> list[float]:
    """Log-spaced values from lo to hi, ``per_decade`` per factor of 10."""
    n = round(math.log10(hi / lo) * per_decade)
    return [float(lo * 10 ** (i / per_decade)) for i in range(n + 1)]
