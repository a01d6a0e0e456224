"""The public API used the way the README shows it, checked by mypy --strict and pyright.

tests/test_typing.py runs this file as a script (tiny models, a few steps) and type-checks
it. Each ``assert_type`` fails the type check if an adapter's type regresses to ``Any`` or
to a wrong type; each ``# type: ignore[arg-type]`` marks a call that must stay a type error
(both checkers report an ignore that is no longer needed).
"""

# pyright: reportUnnecessaryTypeIgnoreComment=true

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch  # before keras, which imports tensorflow: the other order can crash

# isort: split
import jax
import jax.numpy as jnp
import keras
import optax
from jax.typing import ArrayLike

import uba_jax
from uba_core import PhiShape, UBAConfig, describe_phi, uba_lr
from uba_tf import UBADecay
from uba_torch import UBALR, get_uba_schedule_with_warmup

if sys.version_info >= (3, 11):
    from typing import assert_type
else:
    from typing_extensions import assert_type


def core() -> UBAConfig:
    cfg = UBAConfig(total_steps=20, peak_lr=0.1, phi=4.0, warmup_steps=5)
    assert_type(cfg.total_steps, int)
    assert_type(cfg.peak_lr, float)
    assert_type(UBAConfig.from_dict(cfg.to_dict()), UBAConfig)
    assert_type(cfg.to_dict(), dict[str, Any])
    shape = describe_phi(4.0)
    assert_type(shape, PhiShape)
    assert_type(shape.kappa, float)
    assert shape.branch == "convex" and shape.kappa == 2.0
    assert float(uba_lr(5, cfg)) == 0.1
    return cfg


def pytorch(cfg: UBAConfig) -> None:
    model = torch.nn.Linear(10, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    sched = UBALR(opt, T_max=20, eta_min=3e-6, phi=4.0, warmup_steps=5)  # T_max counts the warmup
    assert_type(sched, UBALR)
    assert_type(sched.T_max, int)
    assert_type(sched.eta_min, float | list[float])
    assert_type(sched.configs, list[UBAConfig])
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(4, 10)).pow(2).mean().backward()
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == float(sched.configs[0](3))

    built = UBALR.from_uba_config(torch.optim.SGD(model.parameters(), lr=1.0), cfg)
    assert_type(built, UBALR)
    warm = get_uba_schedule_with_warmup(torch.optim.SGD(model.parameters(), lr=1.0), 5, 20, phi=4.0)
    assert_type(warm, UBALR)
    assert_type(warm.state_dict(), dict[str, Any])
    try:
        UBALR("not an optimizer", 20)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        raise AssertionError("UBALR accepted a string as its optimizer")


def optax_(cfg: UBAConfig) -> None:
    schedule = uba_jax.warmup_uba_decay_schedule(0.0, 1e-2, warmup_steps=5, decay_steps=20, end_value=1e-4, phi=4.0)
    assert_type(schedule, Callable[[ArrayLike], jax.Array])
    assert_type(schedule(5), jax.Array)
    as_optax: optax.Schedule = schedule  # what optax's learning_rate takes
    opt = optax.adamw(learning_rate=as_optax)
    params: optax.Params = jnp.ones(3)
    state = opt.init(params)
    for _ in range(3):
        grads = jax.grad(lambda p: jnp.sum(p**2))(params)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    assert abs(float(schedule(5)) - 1e-2) < 1e-8  # float32

    decay = uba_jax.uba_decay_schedule(0.1, 20, alpha=0.01, phi=4.0)
    assert_type(decay, Callable[[ArrayLike], jax.Array])
    from_config = uba_jax.from_uba_config(cfg)
    assert_type(from_config, Callable[[ArrayLike], jax.Array])
    assert jax.jit(from_config)(jnp.arange(20)).shape == (20,)
    try:
        uba_jax.uba_decay_schedule("0.1", 20)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        raise AssertionError("uba_decay_schedule accepted a string as its init_value")


def keras_(cfg: UBAConfig) -> None:
    schedule = UBADecay(0.0, decay_steps=15, alpha=0.01, warmup_target=1e-2, warmup_steps=5, phi=4.0)
    assert_type(schedule, UBADecay)
    assert_type(schedule.uba_config, UBAConfig)
    assert_type(schedule.get_config(), dict[str, Any])
    assert_type(UBADecay.from_uba_config(cfg), UBADecay)
    # keras leaves `learning_rate` unannotated and pyright infers float from its default,
    # so it rejects every LearningRateSchedule there, keras's own CosineDecay too.
    opt = keras.optimizers.Adam(learning_rate=schedule)  # pyright: ignore[reportArgumentType]
    variable = keras.Variable(1.0)
    for _ in range(3):
        opt.apply_gradients([(keras.ops.ones(()), variable)])
    assert keras.ops.convert_to_numpy(opt.iterations) == 3
    try:
        UBADecay("0.1", 100)  # type: ignore[arg-type]
    except TypeError:
        pass
    else:
        raise AssertionError("UBADecay accepted a string as its initial_learning_rate")


if __name__ == "__main__":
    config = core()
    pytorch(config)
    optax_(config)
    keras_(config)
    print("readme_usage: ok")
