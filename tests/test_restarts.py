"""Warm restarts: the core's cycle arithmetic against a literal SGDR loop, each adapter against
the float64 core, round trips, and hostile arguments.

The parity with the built-ins at phi = 2 (torch's CosineAnnealingWarmRestarts, optax's
sgdr_schedule, keras' CosineDecayRestarts) and their upstream test cases are in
tests/test_upstream_cosine.py.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math

import numpy as np
import pytest
from _hostile import assert_rejected, cases
from conftest import (
    TINY32,
    U32,
    framework,
    keras_eval,
    keras_fit_weights,
    keras_one_weight_model,
    optax_eval,
    reference_factor,
    sgd,
)

from uba_core import RestartConfig, UBAConfig, uba_factor
from uba_core._restarts import restart_cycle

# --- the reference: SGDR's cycles walked one by one, the paper's shape in 40 digits ---------


def reference_restart(step: float, cfg: RestartConfig) -> float:
    """The rate at ``step``, from what the cycles mean: subtract each cycle's length until the
    step is inside one (as keras' test np_cosine_decay_restarts does), then the UBA shape of
    the progress through it, the amplitude scaled by m_mul per cycle. Past the end of
    shrinking cycles (the lengths sum to first_steps / (1 - t_mul)), the floor."""
    if cfg.t_mul < 1 and step >= cfg.first_steps / (1 - cfg.t_mul) * (1 - 1e-12):
        return cfg.min_lr
    length, factor = float(cfg.first_steps), 1.0
    while step >= length:
        step -= length
        length *= cfg.t_mul
        factor *= cfg.m_mul
    return cfg.min_lr + (cfg.peak_lr - cfg.min_lr) * factor * reference_factor(step / length, cfg.phi)


RESTART_CONFIGS = {
    "T0=10-equal-cycles-cosine": RestartConfig(first_steps=10, peak_lr=0.1, t_mul=1.0),
    "T0=10-doubling-phi8-floor": RestartConfig(first_steps=10, peak_lr=0.1, phi=8.0, t_mul=2.0, min_lr=1e-3),
    "T0=7-tripling-phi0.5": RestartConfig(first_steps=7, peak_lr=1.0, phi=0.5, t_mul=3.0),
    "T0=100-t1.5-m0.9-phi3": RestartConfig(first_steps=100, peak_lr=0.5, phi=3.0, t_mul=1.5, m_mul=0.9),
    "T0=20-m1.3-floor-above": RestartConfig(first_steps=20, peak_lr=0.01, min_lr=0.02, t_mul=2.0, m_mul=1.3),
    "T0=16-shrinking-t0.5": RestartConfig(first_steps=16, peak_lr=1.0, phi=4.0, t_mul=0.5, m_mul=0.8),
}


@pytest.fixture(params=list(RESTART_CONFIGS), ids=list(RESTART_CONFIGS))
def restart_config(request) -> RestartConfig:
    return RESTART_CONFIGS[request.param]


def test_core_matches_the_cycle_by_cycle_reference(restart_config) -> None:
    """Every integer step over several cycles, fractional steps, and each cycle's first and last step."""
    cfg = restart_config
    steps = np.concatenate([np.arange(0, 700), np.arange(0, 60, 0.1), [10**6 + 0.5]])
    expected = [reference_restart(float(s), cfg) for s in steps]
    np.testing.assert_allclose(cfg(steps), expected, rtol=1e-12, atol=1e-15)


def test_cycles_and_boundaries_exactly() -> None:
    """restart_cycle: index, start and length of the cycles T0 * t**k, exact on each boundary
    (where log(1 + s (t - 1) / T0) / log t rounds below the integer: T0=1, t=3, s=121)."""
    for t_mul, starts in {3.0: [0, 1, 4, 13, 40, 121, 364], 2.0: [0, 1, 3, 7, 15, 31, 63], 1.0: [0, 1, 2, 3]}.items():
        for k, start in enumerate(starts):
            for step, want in ((start, k), (start - 1e-9, k - 1)):
                if step < 0:
                    continue
                index, first, length = (float(x) for x in restart_cycle(step, 1, t_mul))
                assert (index, first, length) == (want, starts[want], t_mul**want), (t_mul, step)
    # The rate at a restart is the peak, and just before it the floor is nearly reached.
    cfg = RestartConfig(first_steps=1, peak_lr=1.0, t_mul=3.0)
    np.testing.assert_array_equal(cfg([121, 364]), [1.0, 1.0])


def test_shrinking_cycles_hold_the_floor_after_their_end() -> None:
    """t_mul < 1: cycles of 16, 8, 4, ... steps end at 32; from there the floor holds (no NaN)."""
    cfg = RestartConfig(first_steps=16, peak_lr=1.0, min_lr=0.1, t_mul=0.5, m_mul=2.0)
    rates = cfg(np.array([0.0, 16.0, 24.0, 31.999, 32.0, 33.0, 1e9]))
    assert np.all(np.isfinite(rates))
    np.testing.assert_allclose(rates[:3], [1.0, 0.1 + 0.9 * 2, 0.1 + 0.9 * 4], rtol=1e-15)
    np.testing.assert_array_equal(rates[4:], 0.1)


def test_phi_2_is_sgdr_cosine() -> None:
    """phi = 2: 0.5 (1 + cos(pi T_cur / T_i)) per cycle, written out."""
    cfg = RestartConfig(first_steps=10, peak_lr=2.0, min_lr=0.5, t_mul=2.0, m_mul=0.5)
    steps = np.arange(0, 150)
    _, start, length = restart_cycle(steps, 10, 2.0)
    k = np.log2(length / 10)
    expected = 0.5 + 1.5 * 0.5**k * 0.5 * (1 + np.cos(np.pi * (steps - start) / length))
    np.testing.assert_allclose(cfg(steps), expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(cfg(steps[steps < 10]), 0.5 + 1.5 * uba_factor(steps[steps < 10] / 10, 2.0), rtol=1e-15)


def test_config_round_trips_through_json() -> None:
    cfg = RESTART_CONFIGS["T0=100-t1.5-m0.9-phi3"]
    again = RestartConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    with pytest.raises(ValueError, match=r"Missing RestartConfig keys \['phi'\]"):
        RestartConfig.from_dict({"first_steps": 10, "peak_lr": 0.1})
    with pytest.raises(ValueError, match=r"Unknown RestartConfig keys \['T_0'\]"):
        RestartConfig.from_dict({**cfg.to_dict(), "T_0": 3})
    with pytest.raises(ValueError, match="must be finite and >= 0"):
        cfg(-1)


RESTART_FIELDS = ("first_steps", "peak_lr", "phi", "min_lr", "t_mul", "m_mul")


def adapter(name: str, module: str):
    """The adapter ``module``, or a skip when framework ``name`` is absent (a failure where it is required)."""
    framework(name, {"torch": "torch", "tf": "keras"}[name])
    return importlib.import_module(module)


HOSTILE_CASES = [
    *cases(
        "RestartConfig",
        lambda **kw: RestartConfig(**{"first_steps": 10, "peak_lr": 0.1, **kw}),
        {f: f for f in RESTART_FIELDS},
    ),
]

# --- torch: UBAWarmRestarts ---------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return framework("torch", "torch")


@pytest.fixture(scope="module")
def uba_torch(torch):
    return importlib.import_module("uba_torch")


def torch_restarts(uba_torch, cfg: RestartConfig, opt=None, **kwargs):
    """``cfg`` as a UBAWarmRestarts on ``opt`` (default: one group at cfg.peak_lr)."""
    opt = opt or sgd((cfg.peak_lr,))
    return opt, uba_torch.UBAWarmRestarts(opt, cfg.first_steps, int(cfg.t_mul), cfg.min_lr, phi=cfg.phi, **kwargs)


TORCH_CONFIGS = [k for k, c in RESTART_CONFIGS.items() if c.t_mul >= 1 and c.t_mul.is_integer() and c.m_mul == 1]


@pytest.mark.parametrize("name", TORCH_CONFIGS)
def test_torch_writes_the_core_curve(uba_torch, name) -> None:
    """Chained steps write the core's float64 rates exactly; step(epoch) with fractional epochs
    too, and plain steps after it go on from the fractional position."""
    cfg = RESTART_CONFIGS[name]
    opt, sched = torch_restarts(uba_torch, cfg)
    rows = []
    for _ in range(300):
        rows.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert all(type(x) is float for x in rows)
    np.testing.assert_array_equal(rows, cfg(np.arange(300)))
    for epoch in (2.5, 33.3, 0.0, 71.25):
        sched.step(epoch)
        np.testing.assert_array_equal(opt.param_groups[0]["lr"], cfg(epoch))
        assert sched.last_epoch == math.floor(epoch)
    sched.step()
    np.testing.assert_array_equal(opt.param_groups[0]["lr"], cfg(72.25))


def test_torch_tensor_lr_is_updated_in_place(torch, uba_torch) -> None:
    lr = torch.tensor(0.1)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(()))], lr=lr)
    sched = uba_torch.UBAWarmRestarts(opt, 5, 2, phi=4.0)
    tensor = opt.param_groups[0]["lr"]
    cfg = RestartConfig(first_steps=5, peak_lr=0.1, t_mul=2.0, phi=4.0)
    for t in range(1, 20):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] is tensor
        np.testing.assert_allclose(float(tensor), cfg(t), rtol=2**-23)


@pytest.mark.parametrize("weights_only", [True, False], ids=["weights_only", "pickle"])
def test_torch_state_dict_resumes_the_same_curve(torch, uba_torch, tmp_path, weights_only) -> None:
    """state_dict through torch.save / torch.load, into a scheduler built with other arguments:
    the resumed run writes what the uninterrupted one does, fractional position included."""
    cfg = RESTART_CONFIGS["T0=10-doubling-phi8-floor"]
    opt, sched = torch_restarts(uba_torch, cfg)
    for _ in range(13):
        opt.step()
        sched.step()
    sched.step(13.5)
    torch.save(sched.state_dict(), tmp_path / "sched.pt")
    state = torch.load(tmp_path / "sched.pt", weights_only=weights_only)
    opt2 = sgd((cfg.peak_lr,))
    resumed = uba_torch.UBAWarmRestarts(opt2, 3, phi=0.5)
    resumed.load_state_dict(state)
    assert (resumed.T_0, resumed.T_mult, resumed.phi, resumed.T_cur, resumed.T_i) == (10, 2, 8.0, 3.5, 20)
    runs = []
    for o, s in ((opt, sched), (opt2, resumed)):
        lrs = []
        for _ in range(40):
            o.step()
            s.step()
            lrs.append(o.param_groups[0]["lr"])
        runs.append(lrs)
    np.testing.assert_array_equal(runs[1], runs[0])
    np.testing.assert_array_equal(runs[0], cfg(13.5 + np.arange(1, 41)))
    with pytest.raises(ValueError, match="takes the state of a UBAWarmRestarts"):
        resumed.load_state_dict({"last_epoch": 3})


def test_torch_per_group_floors(uba_torch) -> None:
    opt = sgd((0.1, 0.5))
    sched = uba_torch.UBAWarmRestarts(opt, 4, 1, [0.01, 0.02], phi=2.0)
    rows = []
    for _ in range(12):
        rows.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    for g, (peak, floor) in enumerate(((0.1, 0.01), (0.5, 0.02))):
        cfg = RestartConfig(first_steps=4, peak_lr=peak, min_lr=floor)
        np.testing.assert_array_equal(np.array(rows)[:, g], cfg(np.arange(12)))
    assert sched.eta_min == [0.01, 0.02]


HOSTILE_CASES += [
    *cases(
        "UBAWarmRestarts",
        lambda **kw: adapter("torch", "uba_torch").UBAWarmRestarts(
            sgd((0.1, 0.05)), **{"T_0": 10, "T_mult": 1, "eta_min": 0.0, "phi": 2.0, **kw}
        ),
        {"first_steps": "T_0", "T_mult": "T_mult", "min_lr": "eta_min", "phi": "phi", "last_epoch": "last_epoch"},
        errors={("min_lr", "list"): (ValueError, "must have one value per param group (2)")},
    ),
]

# --- keras: UBADecayRestarts --------------------------------------------------------------


def keras_restarts(uba_tf, cfg: RestartConfig):
    """``cfg`` in CosineDecayRestarts' argument names (its floor is alpha * peak)."""
    return uba_tf.UBADecayRestarts(
        cfg.peak_lr, cfg.first_steps, cfg.t_mul, cfg.m_mul, alpha=cfg.min_lr / cfg.peak_lr, phi=cfg.phi
    )


def restart_float32_tolerance(cfg: RestartConfig, steps) -> np.ndarray:
    """What a float32 evaluation may be off by at integer ``steps``: the curve's change over
    ``8 * 2**-24 * (t + L)`` steps inside the step's own cycle (rounding the step, the
    cycle's start and length), plus rtol and atol 1e-6 of the cycle's peak, plus TINY32."""
    t = np.asarray(steps, dtype=np.float64)
    index, start, length = restart_cycle(t, cfg.first_steps, cfg.t_mul)
    length = np.where(length > 0, length, 1.0)  # past the end of shrinking cycles (the floor)
    p = (t - start) / length
    h = 8 * U32 * (t + length) / length
    amplitude = abs(cfg.peak_lr - cfg.min_lr) * cfg.m_mul**index
    change = [np.abs(uba_factor(np.clip(p + d, 0, 1), cfg.phi) - uba_factor(p, cfg.phi)) for d in (-h, h)]
    scale = np.maximum(cfg.min_lr, cfg.min_lr + amplitude)
    return amplitude * np.max(change, axis=0) + 1e-6 * scale + TINY32


KERAS_CONFIGS = [k for k, c in RESTART_CONFIGS.items() if c.min_lr <= c.peak_lr]


@pytest.mark.parametrize("name", KERAS_CONFIGS)
def test_keras_matches_the_core(uba_tf, name) -> None:
    """int64 steps (TensorFlow's iterations) over many cycles, every step from 0 to 20,000."""
    cfg = RESTART_CONFIGS[name]
    sched = keras_restarts(uba_tf, cfg)
    np.testing.assert_allclose(sched.restart_config.min_lr, cfg.min_lr, rtol=1e-15)
    steps = np.arange(0, 20_001)
    got = keras_eval(sched, steps).astype(np.float64)
    expected = sched.restart_config(steps)
    tol = restart_float32_tolerance(sched.restart_config, steps)
    bad = ~(np.abs(got - expected) <= tol)
    assert not np.any(bad), f"steps {steps[bad][:5]}: got {got[bad][:5]}, core {expected[bad][:5]}"


def test_keras_fit_uses_lr_k_at_update_k(uba_tf) -> None:
    """model.fit with SGD: update k lowers the weight by lr(k) (d loss / dw = 1), over two restarts."""
    cfg = RestartConfig(first_steps=4, peak_lr=0.05, phi=3.0, t_mul=2.0)
    model = keras_one_weight_model(keras_restarts(uba_tf, cfg))
    weights = keras_fit_weights(model, batches=14)
    drops = -np.diff(weights)
    np.testing.assert_allclose(drops, cfg(np.arange(14)), rtol=1e-6, atol=2**-23 * np.max(np.abs(weights)))


def test_keras_config_round_trips_through_json(uba_tf) -> None:
    keras = framework("tf", "keras")
    sched = uba_tf.UBADecayRestarts(0.05, 10, 3.0, 0.5, 0.1, name="my_cdr", phi=6.0)
    config = sched.get_config()
    revived = uba_tf.UBADecayRestarts.from_config(json.loads(json.dumps(config)))
    assert revived.get_config() == config
    assert revived.restart_config == sched.restart_config
    blob = json.dumps(keras.saving.serialize_keras_object(sched))
    again = keras.saving.deserialize_keras_object(json.loads(blob))
    assert type(again) is uba_tf.UBADecayRestarts and again.get_config() == config
    steps = np.arange(0, 200)
    np.testing.assert_array_equal(keras_eval(again, steps), keras_eval(sched, steps))


def test_keras_float64_rate(uba_tf) -> None:
    """A float64 initial_learning_rate gives float64 rates (as CosineDecayRestarts), to 1e-12 of the core."""
    sched = uba_tf.UBADecayRestarts(np.float64(0.3), 7, phi=5.0)
    steps = np.arange(0, 500)
    got = keras_eval(sched, steps)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, sched.restart_config(steps), rtol=1e-12, atol=1e-15)


HOSTILE_CASES += [
    *cases(
        "UBADecayRestarts",
        lambda **kw: adapter("tf", "uba_tf").UBADecayRestarts(
            **{"initial_learning_rate": 0.1, "first_decay_steps": 10, "phi": 2.0, **kw}
        ),
        {
            "peak_lr": "initial_learning_rate",
            "first_steps": "first_decay_steps",
            "t_mul": "t_mul",
            "m_mul": "m_mul",
            "alpha": "alpha",
            "phi": "phi",
            "name": "name",
        },
    ),
]

# --- optax: uba_sgdr_schedule -------------------------------------------------------------


CYCLES = [
    dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=100, end_value=0.01),
    dict(init_value=0.01, peak_value=0.5, warmup_steps=0, decay_steps=250, phi=0.5),
    dict(init_value=0.0, peak_value=0.25, warmup_steps=20, decay_steps=400, stable_steps=100, exponent=2.0),
]


def sgdr_core_rates(cycles, phi: float, steps) -> np.ndarray:
    """Each cycle's UBAConfig at the step minus the cycle's start; the last one's floor after it."""
    steps = np.asarray(steps)
    starts = np.cumsum([0] + [c["decay_steps"] for c in cycles])
    out = np.empty(steps.shape)
    for i, c in enumerate(cycles):
        cfg = UBAConfig(
            total_steps=c["decay_steps"],
            peak_lr=c["peak_value"],
            phi=c.get("phi", phi),
            min_lr=c.get("end_value", 0.0),
            warmup_steps=c["warmup_steps"],
            warmup_start_lr=c["init_value"],
            exponent=c.get("exponent", 1.0),
            stable_steps=c.get("stable_steps", 0),
        )
        inside = steps >= starts[i] if i == len(cycles) - 1 else (steps >= starts[i]) & (steps < starts[i + 1])
        out[inside] = cfg(steps[inside] - starts[i])
    return out


def test_optax_sgdr_matches_the_core_under_jit(uba_jax) -> None:
    """Cycles of their own shape, rates and warmups (one sets its own phi), every count to past the end."""
    sched = uba_jax.uba_sgdr_schedule(CYCLES, phi=8.0)
    steps = np.arange(0, 900)
    got = optax_eval(sched, steps).astype(np.float64)
    np.testing.assert_allclose(got, sgdr_core_rates(CYCLES, 8.0, steps), rtol=1e-6, atol=1e-6)


def test_optax_sgdr_huge_counts(uba_jax) -> None:
    """Cycles of 2**30 counts: each cycle sees its own exact int32 count up to 2**31 - 1."""
    cycles = [dict(init_value=0.0, peak_value=1.0, warmup_steps=1000, decay_steps=2**30, end_value=0.0)] * 2
    sched = uba_jax.uba_sgdr_schedule(cycles, phi=3.0)
    steps = np.array([0, 999, 1000, 2**29, 2**30 - 1, 2**30, 2**30 + 500, 2**30 + 1000, 2**31 - 2, 2**31 - 1])
    got = optax_eval(sched, steps).astype(np.float64)
    expected = sgdr_core_rates(cycles, 3.0, steps)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * 1.0)
    assert got[5] == 0.0 and got[6] == pytest.approx(0.5, rel=1e-6)  # a restart: the next warmup from 0


def test_optax_sgdr_errors_name_the_cycle(uba_jax) -> None:
    with pytest.raises(ValueError, match=r"`cosine_kwargs\[1\]`.*Argument `decay_steps` must be >= 1"):
        uba_jax.uba_sgdr_schedule([CYCLES[0], {**CYCLES[0], "decay_steps": 0}])
    with pytest.raises(TypeError, match=r"`cosine_kwargs\[0\]`.*unexpected keyword argument 'T_0'"):
        uba_jax.uba_sgdr_schedule([{**CYCLES[0], "T_0": 3}])
    with pytest.raises(TypeError, match=r"`cosine_kwargs\[0\]`.*not a dict"):
        uba_jax.uba_sgdr_schedule([3])
    with pytest.raises(ValueError, match="at least one cycle"):
        uba_jax.uba_sgdr_schedule([])
    with pytest.raises(ValueError, match=r"`cosine_kwargs\[0\]`.*Argument `phi` must be > 0"):
        uba_jax.uba_sgdr_schedule([CYCLES[0]], phi=0.0)


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_hostile_arguments_fail_at_construction_naming_them(build, arg: str, bad) -> None:
    assert_rejected(build, arg, bad)


# --- the drop-ins keep the built-ins' positional arguments ---------------------------------

DROP_INS = {
    "torch": ("torch", "uba_torch", "UBAWarmRestarts", "torch.optim.lr_scheduler", "CosineAnnealingWarmRestarts"),
    "optax": ("jax", "uba_jax", "uba_sgdr_schedule", "optax", "sgdr_schedule"),
    "keras": ("tf", "uba_tf", "UBADecayRestarts", "keras.optimizers.schedules", "CosineDecayRestarts"),
}


@pytest.mark.parametrize("framework_name", list(DROP_INS))
def test_drop_ins_keep_the_builtins_positional_arguments(framework_name: str) -> None:
    """Same names, order and defaults as the built-in's positional parameters; phi keyword-only."""
    name, module, ours, builtin_module, builtin = DROP_INS[framework_name]
    framework(name, builtin_module.split(".")[0])
    ours_sig = inspect.signature(getattr(importlib.import_module(module), ours))
    builtin_sig = inspect.signature(getattr(importlib.import_module(builtin_module), builtin))

    def positional(sig):
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [(p.name, p.default) for p in sig.parameters.values() if p.kind in kinds and p.name != "self"]

    assert positional(ours_sig) == positional(builtin_sig)
    assert ours_sig.parameters["phi"].kind is inspect.Parameter.KEYWORD_ONLY
