"""uba_tf.UBADecay: the core's curve, keras' CosineDecay at phi = 2, model.fit, saving and mixed precision."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest
from _hostile import BUDGET, assert_rejected, cases
from _processes import run_worker, worker_env
from conftest import (
    EPS32,
    PARITY_CONFIGS,
    assert_float32_close,
    assert_weights_fall_by_lrs,
    check_steps,
    framework,
    keras_eval,
    keras_fit_weights,
    keras_named,
    keras_one_weight_model,
)

keras = framework("tf", "keras")
tf = framework("tf", "tensorflow")

from uba_core import UBAConfig  # noqa: E402
from uba_tf import UBADecay  # noqa: E402

# --- parity with the float64 core -------------------------------------------------------


def test_parity_from_uba_config(parity_config: UBAConfig) -> None:
    sched = UBADecay.from_uba_config(parity_config)
    assert sched.uba_config == parity_config
    steps = check_steps(parity_config)
    out = keras_eval(sched, steps)
    assert out.dtype == np.float32
    assert_float32_close(out, parity_config, steps)


def test_parity_keras_argument_names(parity_config: UBAConfig) -> None:
    sched = keras_named(parity_config)
    assert sched.uba_config == parity_config
    steps = check_steps(parity_config)
    assert_float32_close(keras_eval(sched, steps), parity_config, steps)
    # int32 steps (the JAX / torch backends' iterations) give the same rates.
    if steps.max() < 2**31:
        assert_float32_close(keras_eval(sched, steps, "int32"), parity_config, steps)


@pytest.mark.parametrize("phi", [0.05, 0.5, 2.0, 8.0, 50.0], ids=lambda p: f"phi={p}")
def test_relative_precision_to_the_end_of_the_run(phi: float) -> None:
    # With a zero floor the last rates are tiny; 1 + cos(pi p) would lose all their
    # digits in float32. Each of the ~6 float32 operations costs at most eps32 / 2
    # relative (q and its square dominate): 16 eps32 bounds it with margin, no atol.
    cfg = UBAConfig(total_steps=10_000, peak_lr=0.1, phi=phi, warmup_steps=100)
    steps = np.arange(9_000, 10_000)
    np.testing.assert_allclose(keras_eval(UBADecay.from_uba_config(cfg), steps), cfg(steps), rtol=16 * EPS32, atol=0)


# --- phi = 2 is keras' own CosineDecay ----------------------------------------------------

COSINE_CASES = {
    "T1": {"initial_learning_rate": 0.1, "decay_steps": 1},
    "T100": {"initial_learning_rate": 0.1, "decay_steps": 100},
    "T1000-alpha0.1": {"initial_learning_rate": 3e-4, "decay_steps": 1000, "alpha": 0.1},
    "warm10-T100": {"initial_learning_rate": 0.0, "decay_steps": 100, "warmup_target": 0.5, "warmup_steps": 10},
    "warm1-T1-alpha0.1": {
        "initial_learning_rate": 0.01,
        "decay_steps": 1,
        "warmup_target": 0.1,
        "warmup_steps": 1,
        "alpha": 0.1,
    },
    "warm100-T900-alpha0.1": {
        "initial_learning_rate": 1e-5,
        "decay_steps": 900,
        "alpha": 0.1,
        "warmup_target": 1e-3,
        "warmup_steps": 100,
    },
    "target-without-warmup": {"initial_learning_rate": 0.01, "decay_steps": 50, "warmup_target": 0.2},
}


def evaluate_one_by_one(schedule, steps) -> np.ndarray:
    """Call a schedule that only takes scalar steps (keras' warmup uses ``ops.cond``).

    Args:
        schedule: A ``LearningRateSchedule``.
        steps: Non-negative integer steps.

    Returns:
        The rates as a numpy array, one traced call per step via ``tf.map_fn``.
    """
    fn = tf.function(lambda s: tf.map_fn(schedule, s, fn_output_signature=tf.float32))
    return fn(tf.constant(np.asarray(steps), tf.int64)).numpy()


@pytest.mark.parametrize("shape", [{"phi": 2.0}, {}], ids=["phi=2", "default-phi"])
@pytest.mark.parametrize("name", list(COSINE_CASES))
def test_phi_two_is_keras_cosine_decay(name: str, shape: dict) -> None:
    kwargs = COSINE_CASES[name]
    total = kwargs["decay_steps"] + kwargs.get("warmup_steps", 0)
    steps = np.arange(total + 11)
    ours = keras_eval(UBADecay(**shape, **kwargs), steps)
    theirs = evaluate_one_by_one(keras.optimizers.schedules.CosineDecay(**kwargs), steps)
    peak = max(kwargs["initial_learning_rate"], kwargs.get("warmup_target") or 0.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * peak)


# --- model.fit ----------------------------------------------------------------------------

FIT_CFG = UBAConfig(total_steps=16, peak_lr=0.1, phi=5.0, min_lr=0.002, warmup_steps=4, warmup_start_lr=0.01)


class LrRecorder(keras.callbacks.Callback):
    """Before each batch, record the optimizer's reported lr, its dtype and its iterations.

    In Keras 3, ``optimizer.learning_rate`` evaluates ``schedule(iterations)``: the
    lr of the update that the coming batch makes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lrs: list[float] = []
        self.iterations: list[int] = []
        self.dtypes: list[str] = []
        self.weights = np.zeros(0)  # set by fit()

    def on_train_batch_begin(self, batch, logs=None) -> None:
        lr = self.model.optimizer.learning_rate
        self.lrs.append(float(lr))
        self.dtypes.append(str(keras.backend.standardize_dtype(lr.dtype)))
        self.iterations.append(int(self.model.optimizer.iterations))


def fit(model, epochs: int) -> LrRecorder:
    """Train ``epochs`` optimizer steps (one batch per epoch); the recorder, with the weight
    before each step and after the last one."""
    recorder = LrRecorder()
    recorder.weights = keras_fit_weights(model, batches=1, epochs=epochs, callbacks=[recorder])
    return recorder


def test_fit_uses_lr_k_at_step_k() -> None:
    epochs = FIT_CFG.total_steps + 4  # past the budget: the floor holds
    model = keras_one_weight_model(UBADecay.from_uba_config(FIT_CFG))
    rec = fit(model, epochs)
    assert rec.iterations == list(range(epochs))
    assert_float32_close(rec.lrs, FIT_CFG, np.arange(epochs))
    assert_weights_fall_by_lrs(rec.weights, FIT_CFG)
    assert int(model.optimizer.iterations) == epochs


# --- serialization ------------------------------------------------------------------------

SERIAL_CASES = {
    "plain": {"initial_learning_rate": 0.1, "decay_steps": 100, "phi": 3.0},
    "alpha": {"initial_learning_rate": 0.1, "decay_steps": 100, "phi": 0.5, "alpha": 0.1, "name": "my_uba"},
    "warmup": {
        "initial_learning_rate": 1e-4,
        "decay_steps": 90,
        "phi": 8.0,
        "warmup_target": 1e-2,
        "warmup_steps": 10,
    },
    "min_lr": {
        "initial_learning_rate": 0.0,
        "decay_steps": 95,
        "phi": 1.5,
        "warmup_target": 0.3,
        "warmup_steps": 5,
        "min_learning_rate": 0.003,
    },
}
MANY_STEPS = np.concatenate([np.arange(0, 120), [1000, 2**31 - 1]])


@pytest.mark.parametrize("name", list(SERIAL_CASES))
def test_get_config_json_round_trip(name: str) -> None:
    sched = UBADecay(**SERIAL_CASES[name])
    config = sched.get_config()
    assert {k: config[k] for k in SERIAL_CASES[name]} == SERIAL_CASES[name]
    again = UBADecay.from_config(json.loads(json.dumps(config)))
    assert again.get_config() == config
    assert again.uba_config == sched.uba_config
    assert_float32_close(keras_eval(again, MANY_STEPS), sched.uba_config, MANY_STEPS)


@pytest.mark.parametrize("name", list(SERIAL_CASES))
def test_keras_serialize_deserialize(name: str) -> None:
    sched = UBADecay(**SERIAL_CASES[name])
    blob = json.loads(json.dumps(keras.optimizers.schedules.serialize(sched)))
    again = keras.optimizers.schedules.deserialize(blob)
    assert type(again) is UBADecay
    assert again.uba_config == sched.uba_config
    assert_float32_close(keras_eval(again, MANY_STEPS), sched.uba_config, MANY_STEPS)


def test_get_config_is_json_for_numpy_scalar_arguments() -> None:
    # numpy scalars are accepted as arguments (they are Real / Integral); the
    # config must still be JSON primitives, as keras' get_config contract requires.
    sched = UBADecay(
        np.float32(0.5),
        np.int64(90),
        warmup_target=np.float32(1.0),
        warmup_steps=np.int32(10),
        phi=np.float64(3.0),
        min_learning_rate=np.float64(0.25),
    )
    again = UBADecay.from_config(json.loads(json.dumps(sched.get_config())))
    assert (
        again.uba_config
        == sched.uba_config
        == UBAConfig(total_steps=100, peak_lr=1.0, phi=3.0, min_lr=0.25, warmup_steps=10, warmup_start_lr=0.5)
    )


def test_save_and_load_model_without_custom_objects(tmp_path) -> None:
    first = 5
    model = keras_one_weight_model(UBADecay.from_uba_config(FIT_CFG))
    fit(model, first)
    path = tmp_path / "m.keras"
    model.save(path)

    loaded = keras.models.load_model(path)
    # optimizer.learning_rate is the current value; the schedule object itself is
    # what Keras 3 keeps in the private `_learning_rate`.
    sched = loaded.optimizer._learning_rate
    assert type(sched) is UBADecay
    assert sched.uba_config == FIT_CFG
    assert sched.get_config() == model.optimizer._learning_rate.get_config()
    assert_float32_close(keras_eval(sched, MANY_STEPS), FIT_CFG, MANY_STEPS)

    # The step counter was saved: training goes on at iteration `first`.
    assert int(loaded.optimizer.iterations) == first
    assert_float32_close(float(loaded.optimizer.learning_rate), FIT_CFG, first)
    rec = fit(loaded, 4)
    assert rec.iterations == list(range(first, first + 4))
    assert_float32_close(rec.lrs, FIT_CFG, np.arange(first, first + 4))
    assert_weights_fall_by_lrs(rec.weights, FIT_CFG, first=first)


# --- mixed precision ----------------------------------------------------------------------


@pytest.mark.usefixtures("mixed_float16")
def test_mixed_precision_keeps_float32_rates() -> None:
    assert keras.mixed_precision.global_policy().name == "mixed_float16"
    for cfg in (FIT_CFG, PARITY_CONFIGS["T1000-phi50-floor-warm"]):
        steps = check_steps(cfg)
        out = UBADecay.from_uba_config(cfg)(keras.ops.convert_to_tensor(steps, "int64"))
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        assert_float32_close(keras.ops.convert_to_numpy(out), cfg, steps)


@pytest.mark.usefixtures("mixed_float16")
def test_mixed_precision_fit_uses_lr_k() -> None:
    epochs = 6
    model = keras_one_weight_model(UBADecay.from_uba_config(FIT_CFG))
    rec = fit(model, epochs)
    assert set(rec.dtypes) == {"float32"}
    assert_float32_close(rec.lrs, FIT_CFG, np.arange(epochs))
    assert_weights_fall_by_lrs(rec.weights, FIT_CFG)


# --- hostile arguments: tests/_hostile.py's table in keras' argument names ---------------

# decay_steps excludes the warmup: any warmup length is inside the budget. None is
# valid for warmup_target (no warmup) and min_learning_rate (the floor from alpha).
KERAS_NAMES = {
    "total_steps": "decay_steps",
    "phi": "phi",
    "alpha": "alpha",
    "exponent": "exponent",
    "min_lr": "min_learning_rate",
    "name": "name",
}
HOSTILE_CASES = [
    # Without warmup_target, a valid warmup_steps is ignored (with a warning, as CosineDecay
    # ignores it); an invalid one is still rejected.
    *cases(
        "UBADecay",
        lambda **kw: UBADecay(**{"initial_learning_rate": 0.1, "decay_steps": BUDGET, **kw}),
        {**KERAS_NAMES, "peak_lr": "initial_learning_rate", "warmup_steps": "warmup_steps"},
        valid={"min_lr": {"none"}, "warmup_steps": {"at-budget", "past-budget"}},
    ),
    *cases(
        "UBADecay(warmup_target)",
        lambda **kw: UBADecay(
            **{"initial_learning_rate": 0.0, "decay_steps": BUDGET, "warmup_target": 0.1, "warmup_steps": 10, **kw}
        ),
        {
            "warmup_start_lr": "initial_learning_rate",
            "peak_lr": "warmup_target",
            "warmup_steps": "warmup_steps",
            "min_lr": "min_learning_rate",
        },
        valid={"peak_lr": {"none"}, "min_lr": {"none"}, "warmup_steps": {"at-budget", "past-budget"}},
    ),
    *cases(
        "UBADecay.from_uba_config",
        lambda **kw: UBADecay.from_uba_config(**{"config": UBAConfig(total_steps=BUDGET, peak_lr=0.1), **kw}),
        {"name": "name", "config": "config"},
    ),
]


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_hostile_arguments_fail_at_construction_naming_them(build, arg: str, bad) -> None:
    assert_rejected(build, arg, bad)


def test_the_floor_is_alpha_or_min_learning_rate_not_both() -> None:
    with pytest.raises(ValueError, match="`alpha` or as `min_learning_rate`, not both") as info:
        UBADecay(0.1, BUDGET, alpha=0.1, min_learning_rate=0.01)
    assert "alpha=0.1, min_learning_rate=0.01" in str(info.value)


# --- what CosineDecay accepts, UBADecay accepts --------------------------------------


def cosine_decay_rates(schedule, steps) -> np.ndarray:
    """CosineDecay one step at a time (its warmup branch needs a scalar step)."""
    return np.array([keras.ops.convert_to_numpy(schedule(int(t))) for t in steps])


STEPS = np.array([0, 1, 5, 10, 37, 50, 99, 100, 110, 400])


def test_a_float64_initial_rate_gives_float64_rates_like_cosine_decay() -> None:
    ours = UBADecay(np.float64(0.1), 100, 0.01)
    theirs = keras.optimizers.schedules.CosineDecay(np.float64(0.1), 100, 0.01)
    got = keras_eval(ours, STEPS)
    assert got.dtype == np.float64 and cosine_decay_rates(theirs, STEPS).dtype == np.float64
    np.testing.assert_allclose(got, cosine_decay_rates(theirs, STEPS), rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(got, UBAConfig(total_steps=100, peak_lr=0.1, min_lr=0.001)(STEPS), rtol=1e-13)


def test_a_tensor_initial_rate_is_accepted() -> None:
    sched = UBADecay(keras.ops.convert_to_tensor(0.5), 20, phi=3.0)
    assert sched.initial_learning_rate == 0.5
    assert_float32_close(keras_eval(sched, STEPS), UBAConfig(total_steps=20, peak_lr=0.5, phi=3.0), STEPS)
    json.dumps(sched.get_config())


def test_a_cosine_decay_config_loads_and_gives_its_curve() -> None:
    # warmup_steps without warmup_target: CosineDecay ignores it; so does UBADecay, saying so.
    cosine = keras.optimizers.schedules.CosineDecay(0.1, 100, alpha=0.05, warmup_steps=10)
    with pytest.warns(UserWarning, match="warmup_steps=10 has no effect without `warmup_target`"):
        ours = UBADecay.from_config(json.loads(json.dumps(cosine.get_config())))
    np.testing.assert_allclose(keras_eval(ours, STEPS), cosine_decay_rates(cosine, STEPS), rtol=1e-6, atol=1e-7)
    assert ours.get_config()["warmup_steps"] == 0  # what it uses: a reload does not warn again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        UBADecay.from_config(ours.get_config())


def test_an_integral_float_decay_steps_is_accepted() -> None:
    assert UBADecay(0.1, 100.0, warmup_target=0.2, warmup_steps=10.0).uba_config == UBAConfig(
        total_steps=110, peak_lr=0.2, warmup_steps=10, warmup_start_lr=0.1
    )


def test_giant_budgets_on_the_jax_backend(tmp_path) -> None:
    """decay_steps >= 2**31 overflowed the int32 arithmetic of the JAX backend."""
    framework("jax", "jax")
    code = (
        "import keras, numpy as np\n"
        "from uba_tf import UBADecay\n"
        "assert keras.backend.backend() == 'jax'\n"
        "for T in (2**31, 10**10):\n"
        "    s = UBADecay(1000.0, T)\n"
        "    ours = [float(s(c)) for c in (0, 5, 10**9)]\n"
        "    theirs = [float(keras.optimizers.schedules.CosineDecay(1000.0, T)(c)) for c in (0, 5, 10**9)]\n"
        "    np.testing.assert_allclose(ours, theirs, rtol=1e-6)\n"
        "print('ok')\n"
    )
    out = run_worker([sys.executable, "-c", code], tmp_path, worker_env(KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"))
    assert out.strip() == "ok"
