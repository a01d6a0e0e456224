"""Edge cases in the core and in every adapter.

- Degenerate budgets (1 and 2 steps, warmup of T - 1 steps), phi at 1e-6 and 1e6, a
  zero peak and steps far past the budget: the core against the reference formula of
  conftest (40-digit arithmetic), every adapter against the float64 core.
- Step counters at the ends of their integer types: optax int32 counts up to
  2**31 - 1, keras int64 steps beyond 2**31, and the keras mixed_float16 policy.
- torch.compile of an optimizer step whose lr is a tensor that UBALR updates.

Hostile arguments are one table, tests/_hostile.py, which each entry point's own test
file runs.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import (
    assert_float32_matches_core,
    framework,
    keras_rates,
    optax_rates,
    past_the_budget,
    reference_rates,
    torch_rates,
)

from uba_core import UBAConfig

# Steps this far out are only given to the core (float steps) and to int64 keras;
# torch gets FAR_INT, optax its int32 maximum.
FAR = [1e12, 2.0**62, 1e300]
FAR_INT = 10**12
INT32_MAX = 2**31 - 1

EDGE_CONFIGS = {
    "T1": UBAConfig(total_steps=1, peak_lr=0.1, phi=2.0),
    "T1-floor-phi1e6": UBAConfig(total_steps=1, peak_lr=0.3, phi=1e6, min_lr=0.1),
    "T2-phi1e-6": UBAConfig(total_steps=2, peak_lr=1.0, phi=1e-6),
    "T2-phi1e6-floor": UBAConfig(total_steps=2, peak_lr=1.0, phi=1e6, min_lr=0.25),
    "T2-warm1": UBAConfig(total_steps=2, peak_lr=1.0, phi=3.0, min_lr=0.2, warmup_steps=1, warmup_start_lr=0.5),
    "T2-warm1-down": UBAConfig(total_steps=2, peak_lr=0.1, phi=1e-6, warmup_steps=1, warmup_start_lr=2.0),
    "T1000-warm999-phi1e6": UBAConfig(
        total_steps=1000, peak_lr=0.1, phi=1e6, min_lr=1e-4, warmup_steps=999, warmup_start_lr=1e-3
    ),
    "T1000-phi1e-6-floor": UBAConfig(total_steps=1000, peak_lr=0.1, phi=1e-6, min_lr=1e-3),
    "T1000-phi1e6": UBAConfig(total_steps=1000, peak_lr=0.1, phi=1e6),
    "peak0-warm-from-0.5": UBAConfig(total_steps=10, peak_lr=0.0, phi=3.0, warmup_steps=3, warmup_start_lr=0.5),
    "all-zero": UBAConfig(total_steps=10, peak_lr=0.0, phi=2.0),
    "T1e9-phi1e-6-warm": UBAConfig(total_steps=10**9, peak_lr=1.0, phi=1e-6, min_lr=0.5, warmup_steps=10**6),
}


def edge_steps(cfg: UBAConfig) -> np.ndarray:
    """0, the steps around W and T, the middle, 2T and 10T (integers, sorted, unique)."""
    W, T = cfg.warmup_steps, cfg.total_steps
    steps = np.array(
        [0, 1, W - 2, W - 1, W, W + 1, (W + T) // 2, T - 2, T - 1, T, T + 1, 2 * T, 10 * T], dtype=np.int64
    )
    return np.unique(steps[steps >= 0])


# --- the core on edge configs ---------------------------------------------------------


@pytest.mark.parametrize("name", list(EDGE_CONFIGS))
def test_core_edge_configs_follow_the_spec_formula(name: str) -> None:
    cfg = EDGE_CONFIGS[name]
    steps = edge_steps(cfg)
    np.testing.assert_allclose(cfg(steps), reference_rates(cfg, steps), rtol=1e-12, atol=0)
    # Far past the budget the floor holds: no restart, overflow or NaN.
    np.testing.assert_array_equal(cfg(FAR), cfg.min_lr)
    assert cfg(FAR_INT) == cfg.min_lr


def test_core_phi_limits_on_a_two_step_budget() -> None:
    """T = 2: the only decay step is p = 1/2, where f = 2 / (2 + phi) exactly."""
    for phi in (1e-6, 1e6):
        cfg = UBAConfig(total_steps=2, peak_lr=1.0, phi=phi)
        assert cfg(1) == pytest.approx(2 / (2 + phi), rel=1e-14)
        assert cfg(0) == 1.0 and cfg(2) == 0.0


def test_core_zero_peak_is_zero_after_warmup() -> None:
    cfg = EDGE_CONFIGS["peak0-warm-from-0.5"]
    np.testing.assert_allclose(cfg([0, 1, 2]), 0.5 * (1 - np.array([0, 1, 2]) / 3), rtol=1e-15)
    np.testing.assert_array_equal(cfg(np.arange(3, 40)), 0.0)


# --- every adapter on edge configs ----------------------------------------------------


@pytest.mark.parametrize("name", list(EDGE_CONFIGS))
def test_torch_edge_configs_equal_the_core(name: str) -> None:
    cfg = EDGE_CONFIGS[name]
    steps = np.append(edge_steps(cfg), FAR_INT)
    np.testing.assert_array_equal(torch_rates(cfg, steps), cfg(steps))
    assert torch_rates(cfg, [FAR_INT])[0] == cfg.min_lr


@pytest.mark.parametrize("name", list(EDGE_CONFIGS))
def test_optax_edge_configs_match_the_core(name: str) -> None:
    cfg = EDGE_CONFIGS[name]
    steps = np.append(edge_steps(cfg), INT32_MAX)
    assert_float32_matches_core(optax_rates(cfg, steps), cfg, steps)
    assert optax_rates(cfg, [INT32_MAX])[0] == np.float32(cfg.min_lr)


@pytest.mark.parametrize("name", list(EDGE_CONFIGS))
def test_keras_edge_configs_match_the_core(name: str) -> None:
    cfg = EDGE_CONFIGS[name]
    steps = np.append(edge_steps(cfg), [FAR_INT, 2**62])
    assert_float32_matches_core(keras_rates(cfg, steps), cfg, steps)
    np.testing.assert_array_equal(keras_rates(cfg, [FAR_INT, 2**62]), np.float32(cfg.min_lr))


# Budgets above 2**24 whose warmup or decay is short: float32 cannot hold the step,
# but the spec asks for these steps to stay correct.
BIG_SHORT = {
    "T2^24+3-warm2^24+1": UBAConfig(
        total_steps=2**24 + 3, peak_lr=1.0, phi=2.0, min_lr=0.1, warmup_steps=2**24 + 1, warmup_start_lr=0.5
    ),
    "T1e9-decay100": UBAConfig(
        total_steps=10**9, peak_lr=1.0, phi=2.0, min_lr=0.1, warmup_steps=10**9 - 100, warmup_start_lr=0.5
    ),
    "T1e9-warm-T-1": UBAConfig(
        total_steps=10**9, peak_lr=1.0, phi=2.0, min_lr=0.1, warmup_steps=10**9 - 1, warmup_start_lr=0.5
    ),
    "Tint32max-warm-T-1": UBAConfig(
        total_steps=INT32_MAX, peak_lr=1.0, phi=2.0, min_lr=0.1, warmup_steps=INT32_MAX - 1, warmup_start_lr=0.5
    ),
}


@pytest.mark.parametrize("adapter", ["optax", "keras"])
@pytest.mark.parametrize("name", list(BIG_SHORT))
def test_float32_adapters_keep_steps_above_2_24_correct(adapter: str, name: str) -> None:
    cfg = BIG_SHORT[name]
    W, T = cfg.warmup_steps, cfg.total_steps
    steps = np.unique(np.array([W - 2, W - 1, W, W + 1, T - 1, T], dtype=np.int64))
    got = optax_rates(cfg, steps) if adapter == "optax" else keras_rates(cfg, steps)
    assert_float32_matches_core(got, cfg, steps, strict=True)


@pytest.mark.parametrize("adapter", ["optax", "keras"])
@pytest.mark.parametrize("phi", [1e-300, 1e-50, 1e39, 1e300])
def test_float32_adapters_never_return_nan_for_a_valid_phi(adapter: str, phi: float) -> None:
    """The core accepts any finite phi > 0; a float32 adapter must either refuse a phi it
    cannot represent when it is built (naming `phi`) or return finite rates."""
    cfg = UBAConfig(total_steps=10, peak_lr=0.1, phi=phi, min_lr=0.01)
    steps = np.arange(0, 13)
    try:
        got = optax_rates(cfg, steps) if adapter == "optax" else keras_rates(cfg, steps)
    except ValueError as err:
        assert "`phi`" in str(err) and repr(phi) in str(err)
        return
    assert np.all(np.isfinite(got)), got
    assert np.all((got >= np.float32(cfg.min_lr)) & (got <= np.float32(cfg.peak_lr))), got


# --- optax: int32 counts at the top of their range ---------------------------------


def _optax_factories():
    framework("jax", "optax")
    from uba_jax import from_uba_config, uba_decay_schedule, warmup_uba_decay_schedule

    return {
        "from_uba_config": (
            from_uba_config(
                UBAConfig(total_steps=1000, peak_lr=0.1, phi=5.0, min_lr=0.003, warmup_steps=10, warmup_start_lr=0.01)
            ),
            0.003,
        ),
        "uba_decay_schedule": (uba_decay_schedule(0.1, 1000, phi=0.3, alpha=0.03), 0.1 * 0.03),
        "warmup_uba_decay_schedule": (warmup_uba_decay_schedule(0.0, 0.1, 10, 1000, phi=1e6, end_value=0.003), 0.003),
    }


@pytest.mark.parametrize("factory", ["from_uba_config", "uba_decay_schedule", "warmup_uba_decay_schedule"])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_optax_counts_near_int32_max_hold_the_floor(factory: str, jit: bool) -> None:
    jax = framework("jax", "jax")
    import jax.numpy as jnp

    sched, floor = _optax_factories()[factory]
    counts = jnp.array([INT32_MAX, INT32_MAX - 1, INT32_MAX - 128, 2**30, 2**24 + 1], dtype=jnp.int32)
    got = np.asarray((jax.jit(sched) if jit else sched)(counts))
    assert got.dtype == np.float32 and np.all(np.isfinite(got))
    np.testing.assert_array_equal(got, np.float32(floor))
    scalar = (jax.jit(sched) if jit else sched)(jnp.int32(INT32_MAX))
    assert scalar.shape == () and float(scalar) == float(np.float32(floor))


def test_optax_budget_of_int32_max_steps() -> None:
    """A budget of 2**31 - 1 steps: every int32 count is inside it or at its end."""
    cfg = UBAConfig(total_steps=INT32_MAX, peak_lr=1.0, phi=0.7, min_lr=0.25, warmup_steps=2**30, warmup_start_lr=0.5)
    steps = np.array([0, 2**24 + 1, 2**30 - 1, 2**30, 2**30 + 1, 3 * 2**29, INT32_MAX - 1, INT32_MAX], dtype=np.int64)
    for jit in (False, True):
        got = optax_rates(cfg, steps, jit=jit)
        assert_float32_matches_core(got, cfg, steps)
        assert got[-1] == np.float32(cfg.min_lr)


def test_optax_update_loop_at_the_int32_limit() -> None:
    """scale_by_schedule with its count 3 below the int32 maximum: optax saturates the
    count; every update must use the floor, finite, and never wrap to a negative count."""
    optax = framework("jax", "optax")
    jax = framework("jax", "jax")
    import jax.numpy as jnp

    from uba_jax import warmup_uba_decay_schedule

    sched = warmup_uba_decay_schedule(0.0, 0.1, 10, 1000, phi=3.0, end_value=0.003)
    tx = optax.scale_by_schedule(lambda c: -sched(c))
    state = optax.ScaleByScheduleState(count=jnp.asarray(INT32_MAX - 3, dtype=jnp.int32))
    params = jnp.zeros((), dtype=jnp.float32)

    @jax.jit
    def step(params, state):
        updates, state = tx.update(jnp.ones((), dtype=jnp.float32), state, params)
        return optax.apply_updates(params, updates), updates, state

    for _ in range(5):
        params, updates, state = step(params, state)
        assert float(updates) == -float(np.float32(0.003))  # -lr * grad, grad = 1
        assert int(state.count) > 0
    assert int(state.count) == INT32_MAX
    assert float(params) == pytest.approx(-5 * 0.003, rel=1e-6)


# --- keras: int64 steps beyond int32, mixed precision ------------------------------


def test_keras_int64_steps_beyond_int32_hold_the_floor() -> None:
    keras = framework("tf", "keras")
    from uba_tf import UBADecay

    sched = UBADecay(0.0, decay_steps=990, phi=7.0, alpha=0.02, warmup_target=0.1, warmup_steps=10)
    steps = np.array([2**31 - 1, 2**31, 2**31 + 1, 2**32 + 5, 2**40, 2**53 + 1, 2**62, 2**63 - 1])
    got = keras.ops.convert_to_numpy(sched(keras.ops.convert_to_tensor(steps, dtype="int64")))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.float32(0.1 * 0.02))


def test_keras_budget_beyond_int32() -> None:
    """decay_steps and warmup_steps above 2**31, evaluated at int64 steps."""
    cfg = UBAConfig(total_steps=3 * 2**31, peak_lr=0.1, phi=3.0, min_lr=1e-3, warmup_steps=2**31, warmup_start_lr=0.01)
    steps = np.array(
        [0, 2**30, 2**31 - 1, 2**31, 2**31 + 1, 2**32 + 5, 2 * 2**31 + 12_345, 3 * 2**31 - 1, 3 * 2**31, 2**40],
        dtype=np.int64,
    )
    assert_float32_matches_core(keras_rates(cfg, steps), cfg, steps)


def test_keras_optimizer_iterations_beyond_int32() -> None:
    """The optimizer's own int64 counter past 2**31: the update uses lr(iterations)."""
    keras = framework("tf", "keras")
    from uba_tf import UBADecay

    cfg = UBAConfig(total_steps=3 * 2**31, peak_lr=0.1, phi=3.0, min_lr=1e-3, warmup_steps=2**31, warmup_start_lr=0.01)
    opt = keras.optimizers.SGD(learning_rate=UBADecay.from_uba_config(cfg))
    var = keras.Variable(np.float32(0.0))
    opt.build([var])
    k = 2**31 + 2**30
    opt.iterations.assign(k)
    assert_float32_matches_core([float(opt.learning_rate)], cfg, [k])
    opt.apply_gradients([(keras.ops.convert_to_tensor(np.float32(1.0)), var)])
    used = -float(keras.ops.convert_to_numpy(var))  # 0 - lr * 1, exact in float32
    assert_float32_matches_core([used], cfg, [k])
    assert int(keras.ops.convert_to_numpy(opt.iterations)) == k + 1


def test_keras_schedule_computes_in_float32_under_mixed_float16(mixed_float16) -> None:
    keras = mixed_float16
    from uba_tf import UBADecay

    assert keras.config.dtype_policy().name == "mixed_float16"
    # A budget beyond float16's range (65504) and a floor below its resolution.
    cfg = UBAConfig(total_steps=200_000, peak_lr=3e-4, phi=20.0, min_lr=3e-7, warmup_steps=1000, warmup_start_lr=1e-7)
    sched = UBADecay.from_uba_config(cfg)
    steps = np.array([0, 1, 999, 1000, 1001, 70_000, 199_999, 200_000, 2**40], dtype=np.int64)
    out = sched(keras.ops.convert_to_tensor(steps, dtype="int64"))
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    assert_float32_matches_core(keras.ops.convert_to_numpy(out), cfg, steps)
    opt = keras.optimizers.SGD(learning_rate=sched)
    var = keras.Variable(np.float32(0.0))
    opt.build([var])
    opt.iterations.assign(70_000)
    assert keras.backend.standardize_dtype(opt.learning_rate.dtype) == "float32"
    assert_float32_matches_core([float(opt.learning_rate)], cfg, [70_000])


# --- torch: tensor lr under torch.compile -------------------------------------------


def _compiled_sgd_run(lr, steps: int):
    """Compile opt.step once and run ``steps`` updates with UBALR updating the group's lr.

    The backend is a ``CompileCounterWithBackend("aot_eager")``: its ``frame_count`` is
    the number of frames dynamo compiled (each recompilation adds one), and aot_eager
    runs dynamo and AOTAutograd without generating code. inductor works on this CPU
    setup too but takes ~15 s for the optimizer step on 2 cores; whether dynamo
    recompiles is decided by its guards, before and independently of the backend.
    """
    torch = framework("torch", "torch")
    import torch._dynamo as dynamo
    from torch._dynamo.testing import CompileCounterWithBackend

    from uba_torch import UBALR

    dynamo.reset()
    w = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    w.grad = torch.ones((), dtype=torch.float64)  # d loss / dw = 1: w moves by -lr each step
    opt = torch.optim.SGD([w], lr=lr)
    sched = UBALR(opt, T_max=6, phi=3.0, eta_min=0.001, warmup_steps=2, warmup_start_lr=0.01)
    counter = CompileCounterWithBackend("aot_eager")
    step = torch.compile(opt.step, backend=counter)
    frames, used = [], []
    group = opt.param_groups[0]
    tensor = group["lr"]
    for _ in range(steps):
        before = float(w.detach())
        step()
        sched.step()
        used.append(before - float(w.detach()))
        frames.append(counter.frame_count)
        if isinstance(tensor, torch.Tensor):
            assert group["lr"] is tensor  # UBALR copies into the same tensor
    dynamo.reset()
    return frames, used


def test_torch_compile_tensor_lr_does_not_recompile() -> None:
    torch = framework("torch", "torch")
    with past_the_budget():  # 8 steps of a budget of 6: the floor is held
        frames, used = _compiled_sgd_run(torch.tensor(0.1, dtype=torch.float64), steps=8)
    assert frames[0] >= 1
    assert frames == [frames[0]] * 8, f"recompiled: frame counts {frames}"
    cfg = UBAConfig(total_steps=6, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=2, warmup_start_lr=0.01)
    # The compiled step reads the tensor's current value: update k used lr(k).
    np.testing.assert_allclose(used, cfg(np.arange(8)), rtol=1e-12, atol=1e-15)


def test_torch_compile_counter_sees_recompiles_with_a_float_lr() -> None:
    """Control for the test above: with a Python float lr dynamo guards on its value and
    recompiles when UBALR changes it, so the counter is able to fail that test."""
    with past_the_budget():
        frames, _ = _compiled_sgd_run(0.1, steps=8)
    assert frames[-1] > frames[0]
