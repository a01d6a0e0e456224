"""Edge cases and hostile input, in the core and in every adapter.

- Degenerate budgets (1 and 2 steps, warmup of T - 1 steps), phi at 1e-6 and 1e6, a
  zero peak and steps far past the budget: the core against the specification's
  formula in 40-digit arithmetic, every adapter against the float64 core.
- Step counters at the ends of their integer types: optax int32 counts up to
  2**31 - 1, keras int64 steps beyond 2**31, and the keras mixed_float16 policy.
- torch.compile of an optimizer step whose lr is a tensor that UBALR updates.
- Every public entry point given wrong types and values: it fails when it is built,
  with TypeError / ValueError naming the argument as the user spelled it and the
  value received. Combinations tests/test_core.py and tests/test_torch.py already
  check are left out (see ``COVERED``).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from conftest import (
    assert_float32_matches_core,
    framework,
    keras_rates,
    optax_rates,
    torch_rates,
)

import uba_core as uc
from uba_core import UBAConfig

mpmath.mp.dps = 40


def spec_lr(t: float, cfg: UBAConfig) -> float:
    """uba-math.md's closed form, literally (u = 1 + cos(pi p)), in 40-digit arithmetic."""
    t = mpmath.mpf(float(t))
    W, T = cfg.warmup_steps, cfg.total_steps
    start, peak, floor, phi = (mpmath.mpf(x) for x in (cfg.warmup_start_lr, cfg.peak_lr,
                                                       cfg.min_lr, cfg.phi))
    if t < W:
        return float(start + (peak - start) * t / W)
    p = min((t - W) / (T - W), 1)
    u = 1 + mpmath.cos(mpmath.pi * p)
    return float(floor + (peak - floor) * 2 * u / (2 * phi + (2 - phi) * u))


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
    "T2-warm1": UBAConfig(total_steps=2, peak_lr=1.0, phi=3.0, min_lr=0.2, warmup_steps=1,
                          warmup_start_lr=0.5),
    "T2-warm1-down": UBAConfig(total_steps=2, peak_lr=0.1, phi=1e-6, warmup_steps=1,
                               warmup_start_lr=2.0),
    "T1000-warm999-phi1e6": UBAConfig(total_steps=1000, peak_lr=0.1, phi=1e6, min_lr=1e-4,
                                      warmup_steps=999, warmup_start_lr=1e-3),
    "T1000-phi1e-6-floor": UBAConfig(total_steps=1000, peak_lr=0.1, phi=1e-6, min_lr=1e-3),
    "T1000-phi1e6": UBAConfig(total_steps=1000, peak_lr=0.1, phi=1e6),
    "peak0-warm-from-0.5": UBAConfig(total_steps=10, peak_lr=0.0, phi=3.0, warmup_steps=3,
                                     warmup_start_lr=0.5),
    "all-zero": UBAConfig(total_steps=10, peak_lr=0.0, phi=2.0),
    "T1e9-phi1e-6-warm": UBAConfig(total_steps=10**9, peak_lr=1.0, phi=1e-6, min_lr=0.5,
                                   warmup_steps=10**6),
}


def edge_steps(cfg: UBAConfig) -> np.ndarray:
    """0, the steps around W and T, the middle, 2T and 10T (integers, sorted, unique)."""
    W, T = cfg.warmup_steps, cfg.total_steps
    steps = np.array([0, 1, W - 2, W - 1, W, W + 1, (W + T) // 2, T - 2, T - 1, T, T + 1,
                      2 * T, 10 * T], dtype=np.int64)
    return np.unique(steps[steps >= 0])


# --- the core on edge configs ---------------------------------------------------------


@pytest.mark.parametrize("name", list(EDGE_CONFIGS))
def test_core_edge_configs_follow_the_spec_formula(name: str) -> None:
    cfg = EDGE_CONFIGS[name]
    steps = edge_steps(cfg)
    expected = [spec_lr(t, cfg) for t in steps]
    np.testing.assert_allclose(cfg(steps), expected, rtol=1e-12, atol=0)
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
    "T2^24+3-warm2^24+1": UBAConfig(total_steps=2**24 + 3, peak_lr=1.0, phi=2.0, min_lr=0.1,
                                    warmup_steps=2**24 + 1, warmup_start_lr=0.5),
    "T1e9-decay100": UBAConfig(total_steps=10**9, peak_lr=1.0, phi=2.0, min_lr=0.1,
                               warmup_steps=10**9 - 100, warmup_start_lr=0.5),
    "T1e9-warm-T-1": UBAConfig(total_steps=10**9, peak_lr=1.0, phi=2.0, min_lr=0.1,
                               warmup_steps=10**9 - 1, warmup_start_lr=0.5),
    "Tint32max-warm-T-1": UBAConfig(total_steps=INT32_MAX, peak_lr=1.0, phi=2.0, min_lr=0.1,
                                    warmup_steps=INT32_MAX - 1, warmup_start_lr=0.5),
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
            from_uba_config(UBAConfig(total_steps=1000, peak_lr=0.1, phi=5.0, min_lr=0.003,
                                           warmup_steps=10, warmup_start_lr=0.01)), 0.003),
        "uba_decay_schedule": (uba_decay_schedule(0.1, 1000, phi=0.3, alpha=0.03), 0.1 * 0.03),
        "warmup_uba_decay_schedule": (
            warmup_uba_decay_schedule(0.0, 0.1, 10, 1000, phi=1e6, end_value=0.003), 0.003),
    }


@pytest.mark.parametrize("factory", ["from_uba_config", "uba_decay_schedule",
                                     "warmup_uba_decay_schedule"])
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
    cfg = UBAConfig(total_steps=INT32_MAX, peak_lr=1.0, phi=0.7, min_lr=0.25, warmup_steps=2**30,
                    warmup_start_lr=0.5)
    steps = np.array([0, 2**24 + 1, 2**30 - 1, 2**30, 2**30 + 1, 3 * 2**29, INT32_MAX - 1,
                      INT32_MAX], dtype=np.int64)
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
    cfg = UBAConfig(total_steps=3 * 2**31, peak_lr=0.1, phi=3.0, min_lr=1e-3, warmup_steps=2**31,
                    warmup_start_lr=0.01)
    steps = np.array([0, 2**30, 2**31 - 1, 2**31, 2**31 + 1, 2**32 + 5, 2 * 2**31 + 12_345,
                      3 * 2**31 - 1, 3 * 2**31, 2**40], dtype=np.int64)
    assert_float32_matches_core(keras_rates(cfg, steps), cfg, steps)


def test_keras_optimizer_iterations_beyond_int32() -> None:
    """The optimizer's own int64 counter past 2**31: the update uses lr(iterations)."""
    keras = framework("tf", "keras")
    from uba_tf import UBADecay

    cfg = UBAConfig(total_steps=3 * 2**31, peak_lr=0.1, phi=3.0, min_lr=1e-3, warmup_steps=2**31,
                    warmup_start_lr=0.01)
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


@pytest.fixture
def mixed_float16():
    keras = framework("tf", "keras")
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield keras
    finally:
        keras.config.set_dtype_policy(before.name)  # float32, the default, in this suite


def test_keras_schedule_computes_in_float32_under_mixed_float16(mixed_float16) -> None:
    keras = mixed_float16
    from uba_tf import UBADecay

    assert keras.config.dtype_policy().name == "mixed_float16"
    # A budget beyond float16's range (65504) and a floor below its resolution.
    cfg = UBAConfig(total_steps=200_000, peak_lr=3e-4, phi=20.0, min_lr=3e-7, warmup_steps=1000,
                    warmup_start_lr=1e-7)
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
    import torch._dynamo
    from torch._dynamo.testing import CompileCounterWithBackend

    from uba_torch import UBALR

    torch._dynamo.reset()
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
    torch._dynamo.reset()
    return frames, used


def test_torch_compile_tensor_lr_does_not_recompile() -> None:
    torch = framework("torch", "torch")
    frames, used = _compiled_sgd_run(torch.tensor(0.1, dtype=torch.float64), steps=8)
    assert frames[0] >= 1
    assert frames == [frames[0]] * 8, f"recompiled: frame counts {frames}"
    cfg = UBAConfig(total_steps=6, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=2,
                    warmup_start_lr=0.01)
    # The compiled step reads the tensor's current value: update k used lr(k).
    np.testing.assert_allclose(used, cfg(np.arange(8)), rtol=1e-12, atol=1e-15)


def test_torch_compile_counter_sees_recompiles_with_a_float_lr() -> None:
    """Control for the test above: with a Python float lr dynamo guards on its value and
    recompiles when UBALR changes it, so the counter is able to fail that test."""
    frames, used = _compiled_sgd_run(0.1, steps=8)
    assert frames[-1] > frames[0]


# --- hostile input: every entry point fails at construction, naming the argument ------

NAN, INF = math.nan, math.inf

# value kinds: id -> (value, expected error)
INT_KINDS = {
    "str": ("3", TypeError), "none": (None, TypeError), "bool": (True, TypeError),
    "float": (3.0, TypeError), "nan": (NAN, TypeError), "numpy-bool": (np.True_, TypeError),
    "list": ([3], TypeError), "negative": (-2, ValueError),
}
REAL_KINDS = {
    "str": ("0.5", TypeError), "none": (None, TypeError), "bool": (True, TypeError),
    "list": ([0.5], TypeError), "nan": (NAN, ValueError), "inf": (INF, ValueError),
    "negative": (-0.5, ValueError),
}
POSITIVE_KINDS = {**REAL_KINDS, "zero": (0.0, ValueError)}
# Step counts accept an integral float (10.0), as the frameworks' built-ins do.
COUNT_KINDS = {**INT_KINDS, "float": (3.5, ValueError), "nan": (NAN, ValueError)}
BUDGET_KINDS = {**COUNT_KINDS, "zero": (0, ValueError)}


def _torch():
    torch = framework("torch", "torch")
    from uba_torch import UBALR

    return torch, UBALR


def _two_group_optimizer():
    torch, _ = _torch()
    groups = [{"params": [torch.nn.Parameter(torch.zeros(()))], "lr": lr} for lr in (0.1, 0.05)]
    return torch.optim.SGD(groups, lr=0.1)


def _ubalr(**kw):
    _, UBALR = _torch()
    args = dict(T_max=10, phi=2.0, eta_min=0.0, last_epoch=-1, warmup_steps=2, warmup_start_lr=0.0)
    return UBALR(_two_group_optimizer(), **{**args, **kw})


def _ubalr_from_config(**kw):
    _, UBALR = _torch()
    args = dict(config=UBAConfig(total_steps=10, peak_lr=0.1, phi=2.0), last_epoch=-1)
    return UBALR.from_uba_config(_two_group_optimizer(), **{**args, **kw})


def _optax(name: str):
    framework("jax", "optax")
    import uba_jax

    return getattr(uba_jax, name)


def _keras():
    framework("tf", "keras")
    from uba_tf import UBADecay

    return UBADecay


CFG = dict(total_steps=100, peak_lr=0.1, phi=2.0, min_lr=0.001, warmup_steps=10, warmup_start_lr=0.0)

# entry point -> (builder taking keyword overrides, {argument: value kinds})
ENTRIES = {
    "UBAConfig": (lambda **kw: UBAConfig(**{**CFG, **kw}), {
        "total_steps": BUDGET_KINDS, "warmup_steps": COUNT_KINDS, "peak_lr": REAL_KINDS,
        "phi": POSITIVE_KINDS, "min_lr": REAL_KINDS, "warmup_start_lr": REAL_KINDS}),
    "UBALR": (_ubalr, {
        "T_max": BUDGET_KINDS, "phi": POSITIVE_KINDS, "warmup_steps": COUNT_KINDS,
        "last_epoch": INT_KINDS,
        # per-group options: a list of the right length is valid, so no "list" kind here
        "eta_min": {k: v for k, v in REAL_KINDS.items() if k != "list"},
        "warmup_start_lr": {k: v for k, v in REAL_KINDS.items() if k != "list"},
        "peak_lr": {k: v for k, v in REAL_KINDS.items() if k not in ("list", "none")}}),
    "UBALR.from_config": (_ubalr_from_config, {"last_epoch": INT_KINDS}),
    "uba_decay_schedule": (lambda **kw: _optax("uba_decay_schedule")(**{
        "init_value": 0.1, "decay_steps": 100, "phi": 2.0, "alpha": 0.0, **kw}), {
        "init_value": REAL_KINDS, "decay_steps": BUDGET_KINDS, "phi": POSITIVE_KINDS,
        "alpha": {**REAL_KINDS, "above-one": (1.5, ValueError)}}),
    "warmup_uba_decay_schedule": (lambda **kw: _optax("warmup_uba_decay_schedule")(**{
        "init_value": 0.0, "peak_value": 0.1, "warmup_steps": 10, "decay_steps": 100, "phi": 2.0,
        "end_value": 0.0, **kw}), {
        "init_value": REAL_KINDS, "peak_value": REAL_KINDS, "warmup_steps": COUNT_KINDS,
        "decay_steps": BUDGET_KINDS, "phi": POSITIVE_KINDS, "end_value": REAL_KINDS}),
    "from_uba_config": (lambda **kw: _optax("from_uba_config")(
        UBAConfig(total_steps=100, peak_lr=0.1, phi=2.0), **kw), {
        # phi overrides the config's phi (meant for a traced phi under jax.grad); a
        # concrete one must be as valid as the config's. None means "the config's".
        "phi": {k: v for k, v in POSITIVE_KINDS.items() if k != "none"}}),
    "UBADecay": (lambda **kw: _keras()(**{
        "initial_learning_rate": 0.1, "decay_steps": 100, "phi": 2.0, **kw}), {
        "initial_learning_rate": REAL_KINDS, "decay_steps": BUDGET_KINDS, "phi": POSITIVE_KINDS,
        "alpha": {**REAL_KINDS, "above-one": (1.5, ValueError)},
        "warmup_steps": COUNT_KINDS,
        "name": {"none": (None, TypeError), "int": (3, TypeError)},
        "min_learning_rate": {k: v for k, v in REAL_KINDS.items() if k != "none"}}),
    "UBADecay(warmup_target)": (lambda **kw: _keras()(**{
        "initial_learning_rate": 0.0, "decay_steps": 100, "phi": 2.0, "warmup_target": 0.1,
        "warmup_steps": 10, **kw}), {
        "warmup_target": {k: v for k, v in REAL_KINDS.items() if k != "none"},
        "min_learning_rate": {k: v for k, v in REAL_KINDS.items() if k != "none"}}),
    "UBADecay.from_uba_config": (lambda **kw: _keras().from_uba_config(
        UBAConfig(total_steps=100, peak_lr=0.1, phi=2.0), **kw), {
        "name": {"none": (None, TypeError), "int": (3, TypeError)}}),
    "phi_for_condition_number": (lambda **kw: uc.phi_for_condition_number(**{"kappa": 10.0, **kw}), {
        "kappa": {**POSITIVE_KINDS, "below-one": (0.5, ValueError)}}),
    "condition_number_for_phi": (lambda **kw: uc.condition_number_for_phi(**{"phi": 4.0, **kw}), {
        "phi": POSITIVE_KINDS}),
    "chebyshev_step_sizes": (lambda **kw: uc.chebyshev_step_sizes(**{
        "mu": 1.0, "L": 10.0, "total_steps": 5, **kw}), {
        "mu": POSITIVE_KINDS, "L": POSITIVE_KINDS, "total_steps": BUDGET_KINDS}),
    "chebyshev_config": (lambda **kw: uc.chebyshev_config(**{
        "mu": 1.0, "L": 10.0, "total_steps": 5, **kw}), {
        "mu": POSITIVE_KINDS, "L": POSITIVE_KINDS, "total_steps": BUDGET_KINDS}),
    "chebyshev_residual_bound": (lambda **kw: uc.chebyshev_residual_bound(**{
        "kappa": 10.0, "total_steps": 5, **kw}), {
        "kappa": {**POSITIVE_KINDS, "below-one": (0.5, ValueError)}, "total_steps": BUDGET_KINDS}),
    "worst_case_residual": (lambda **kw: uc.worst_case_residual(**{
        "step_sizes": [0.1, 0.2], "mu": 1.0, "L": 10.0, **kw}), {
        "mu": POSITIVE_KINDS, "L": POSITIVE_KINDS}),
    "mean_lr_factor": (lambda **kw: uc.mean_lr_factor(**{"phi": 2.0, **kw}), {"phi": POSITIVE_KINDS}),
    "mean_sq_lr_factor": (lambda **kw: uc.mean_sq_lr_factor(**{"phi": 2.0, **kw}), {"phi": POSITIVE_KINDS}),
    "describe_phi": (lambda **kw: uc.describe_phi(**{"phi": 2.0, **kw}), {"phi": POSITIVE_KINDS}),
}

_CHECKED_HELPER = {"zero", "negative", "nan", "inf", "str", "none", "bool"}
# (entry, argument) -> value kinds tests/test_core.py or tests/test_torch.py already check.
COVERED = {
    ("UBAConfig", "phi"): {"zero", "negative", "nan", "inf", "str", "none", "bool"},
    ("UBAConfig", "total_steps"): {"zero", "negative", "float", "bool", "str"},
    ("UBAConfig", "warmup_steps"): {"negative", "float", "bool"},
    ("UBAConfig", "peak_lr"): {"negative", "nan", "str"},
    ("UBAConfig", "min_lr"): {"negative", "inf"},
    ("UBAConfig", "warmup_start_lr"): {"negative", "none"},
    ("UBALR", "T_max"): {"zero", "negative", "float", "bool", "str"},
    ("UBALR", "phi"): {"zero", "negative", "nan", "inf", "str", "none", "bool"},
    ("UBALR", "eta_min"): {"negative", "str"},
    ("UBALR", "warmup_steps"): {"negative", "float"},
    ("UBALR", "warmup_start_lr"): {"negative", "nan"},
    ("UBALR", "peak_lr"): {"negative", "str"},
    ("UBALR", "last_epoch"): {"negative", "float"},
    ("phi_for_condition_number", "kappa"): _CHECKED_HELPER,
    ("condition_number_for_phi", "phi"): _CHECKED_HELPER,
    ("chebyshev_residual_bound", "kappa"): _CHECKED_HELPER,
    ("chebyshev_step_sizes", "mu"): _CHECKED_HELPER,
    ("chebyshev_config", "L"): _CHECKED_HELPER,
    ("worst_case_residual", "mu"): _CHECKED_HELPER,
}

BAD_CASES = [
    pytest.param(entry, arg, value, error, id=f"{entry}-{arg}-{kind}")
    for entry, (_, args) in ENTRIES.items()
    for arg, kinds in args.items()
    for kind, (value, error) in kinds.items()
    if kind not in COVERED.get((entry, arg), set())
]


def _check_message(err: BaseException, arg: str, shown: str) -> None:
    message = str(err)
    assert f"`{arg}`" in message, f"argument `{arg}` not named in: {message}"
    assert shown in message, f"received value {shown} not shown in: {message}"


@pytest.mark.parametrize("entry,arg,value,error", BAD_CASES)
def test_bad_argument_fails_at_construction_naming_it(entry: str, arg: str, value, error) -> None:
    build = ENTRIES[entry][0]
    with pytest.raises(error) as info:
        build(**{arg: value})
    _check_message(info.value, arg, repr(value))


# Per-group torch options: lists of the wrong length, and lists holding a bad entry.
PER_GROUP = ["eta_min", "warmup_start_lr", "peak_lr"]


@pytest.mark.parametrize("arg", PER_GROUP)
@pytest.mark.parametrize("value", [[0.01], [0.01, 0.01, 0.01], [], (0.01,)],
                         ids=["short", "long", "empty", "tuple"])
def test_torch_per_group_lists_of_the_wrong_length(arg: str, value) -> None:
    with pytest.raises(ValueError) as info:
        _ubalr(**{arg: value})
    _check_message(info.value, arg, repr(value))
    assert "(2)" in str(info.value) and f"{len(value)} values" in str(info.value)


@pytest.mark.parametrize("arg", PER_GROUP)
@pytest.mark.parametrize("bad,error", [("0.01", TypeError), (NAN, ValueError), (-0.01, ValueError),
                                       (True, TypeError)], ids=["str", "nan", "negative", "bool"])
def test_torch_per_group_lists_with_a_bad_entry(arg: str, bad, error) -> None:
    with pytest.raises(error) as info:
        _ubalr(**{arg: [0.0, bad] if arg != "peak_lr" else [0.1, bad]})
    _check_message(info.value, arg, repr(bad))


@pytest.mark.parametrize("config", [None, '{"total_steps": 10}', 3], ids=["none", "json", "int"])
@pytest.mark.parametrize("entry", ["UBALR.from_config", "from_uba_config",
                                   "UBADecay.from_uba_config"])
def test_from_config_entry_points_reject_non_configs(entry: str, config) -> None:
    if entry == "UBALR.from_config":
        build = lambda: _ubalr_from_config(config=config)  # noqa: E731
    elif entry == "from_uba_config":
        build = lambda: _optax("from_uba_config")(config)  # noqa: E731
    else:
        build = lambda: _keras().from_uba_config(config)  # noqa: E731
    with pytest.raises(TypeError) as info:
        build()
    _check_message(info.value, "config", repr(config))


def test_ubalr_rejects_a_non_optimizer() -> None:
    _, UBALR = _torch()
    with pytest.raises(TypeError) as info:
        UBALR(None, T_max=10, phi=2.0)
    _check_message(info.value, "optimizer", "None")


# Rules between two arguments: both are named, with the values received.
CROSS = {
    "warmup_uba_decay_schedule-warmup>=decay": (
        lambda: _optax("warmup_uba_decay_schedule")(0.0, 0.1, 100, 100, phi=2.0),
        ValueError, ["`warmup_steps`", "`decay_steps`", "warmup_steps=100", "decay_steps=100"]),
    "UBADecay-alpha-and-min_learning_rate": (
        lambda: _keras()(0.1, 100, alpha=0.1, min_learning_rate=0.01),
        ValueError, ["`alpha`", "`min_learning_rate`", "alpha=0.1", "min_learning_rate=0.01"]),
    "UBAConfig-warmup>total": (
        lambda: UBAConfig(total_steps=5, peak_lr=0.1, phi=2.0, warmup_steps=10**12),
        ValueError, ["`warmup_steps`", "`total_steps`", f"warmup_steps={10**12}"]),
    "UBALR-warmup>=T_max": (
        lambda: _ubalr(T_max=3, warmup_steps=3),
        ValueError, ["`warmup_steps`", "`T_max`", "warmup_steps=3", "T_max=3"]),
}


@pytest.mark.parametrize("case", list(CROSS))
def test_rules_between_arguments_name_both(case: str) -> None:
    build, error, parts = CROSS[case]
    with pytest.raises(error) as info:
        build()
    for part in parts:
        assert part in str(info.value), f"{part!r} not in: {info.value}"


@pytest.mark.parametrize("value", [np.True_, np.str_("2.0"), np.array("2.0"),
                                   np.complex128(2 + 1j)],
                         ids=["numpy-bool", "numpy-str", "0d-str-array", "numpy-complex"])
def test_numpy_scalars_that_are_not_real_numbers_are_rejected(value) -> None:
    """Python's bool, str and complex are rejected; numpy's must be too (not read as
    1.0, 2.0 and the real part). One validator serves the core and every adapter."""
    with pytest.raises(TypeError) as info:
        UBAConfig(total_steps=10, peak_lr=0.1, phi=value)
    _check_message(info.value, "phi", repr(value))


@pytest.mark.parametrize("value", [np.array(-1.0), np.float32(np.nan)], ids=["0d-array", "float32-nan"])
def test_numpy_numbers_are_checked_like_floats(value) -> None:
    with pytest.raises(ValueError) as info:
        UBAConfig(total_steps=10, peak_lr=0.1, phi=value)
    _check_message(info.value, "phi", repr(value))


@pytest.mark.parametrize("step_sizes", ["abc", None, [[0.1, 0.2]], [0.1, "x"], [0.1, np.inf]],
                         ids=["str", "none", "2-d", "str-entry", "inf-entry"])
def test_worst_case_residual_rejects_bad_step_sizes_by_name(step_sizes) -> None:
    with pytest.raises((TypeError, ValueError), match="`step_sizes`"):
        uc.worst_case_residual(step_sizes, 1.0, 10.0)
