"""uba_tf.UBADecay: the core's curve, keras' CosineDecay at phi = 2, model.fit, saving and mixed precision."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
from conftest import PARITY_CONFIGS, assert_float32_close, check_steps, framework

keras = framework("tf", "keras")
tf = framework("tf", "tensorflow")

from uba_core import UBAConfig  # noqa: E402
from uba_tf import UBADecay  # noqa: E402

EPS32 = float(np.finfo(np.float32).eps)


def evaluate(schedule, steps, dtype: str = "int64") -> np.ndarray:
    """Call a keras schedule on ``steps`` given as an integer tensor.

    Args:
        schedule: A ``LearningRateSchedule``.
        steps: Non-negative integer steps.
        dtype: Integer dtype of the step tensor (the optimizer's iterations are
            int64 on TensorFlow, int32 on JAX / torch).

    Returns:
        The rates as a numpy array.
    """
    return keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(np.asarray(steps), dtype)))


def keras_named(cfg: UBAConfig) -> UBADecay:
    """``cfg`` spelled with keras' argument names (``decay_steps`` excludes the warmup).

    Args:
        cfg: The config to reproduce.

    Returns:
        The equivalent ``UBADecay`` built through its constructor.
    """
    return UBADecay(
        initial_learning_rate=cfg.warmup_start_lr,
        decay_steps=cfg.total_steps - cfg.warmup_steps,
        phi=cfg.phi,
        warmup_target=cfg.peak_lr,
        warmup_steps=cfg.warmup_steps,
        min_learning_rate=cfg.min_lr,
    )


# --- parity with the float64 core -------------------------------------------------------


def test_parity_from_uba_config(parity_config: UBAConfig) -> None:
    sched = UBADecay.from_uba_config(parity_config)
    assert sched.uba_config == parity_config
    steps = check_steps(parity_config)
    out = evaluate(sched, steps)
    assert out.dtype == np.float32
    assert_float32_close(out, parity_config, steps)


def test_parity_keras_argument_names(parity_config: UBAConfig) -> None:
    sched = keras_named(parity_config)
    assert sched.uba_config == parity_config
    steps = check_steps(parity_config)
    assert_float32_close(evaluate(sched, steps), parity_config, steps)
    # int32 steps (the JAX / torch backends' iterations) give the same rates.
    if steps.max() < 2**31:
        assert_float32_close(evaluate(sched, steps, "int32"), parity_config, steps)


@pytest.mark.parametrize("phi", [0.05, 0.5, 2.0, 8.0, 50.0], ids=lambda p: f"phi={p}")
def test_relative_precision_to_the_end_of_the_run(phi: float) -> None:
    # With a zero floor the last rates are tiny; 1 + cos(pi p) would lose all their
    # digits in float32. Each of the ~6 float32 operations costs at most eps32 / 2
    # relative (q and its square dominate): 16 eps32 bounds it with margin, no atol.
    cfg = UBAConfig(total_steps=10_000, peak_lr=0.1, phi=phi, warmup_steps=100)
    steps = np.arange(9_000, 10_000)
    np.testing.assert_allclose(evaluate(UBADecay.from_uba_config(cfg), steps), cfg(steps), rtol=16 * EPS32, atol=0)


# --- phi = 2 is keras' own CosineDecay ----------------------------------------------------

COSINE_CASES = {
    "T1": {"initial_learning_rate": 0.1, "decay_steps": 1},
    "T100": {"initial_learning_rate": 0.1, "decay_steps": 100},
    "T1000-alpha0.1": {"initial_learning_rate": 3e-4, "decay_steps": 1000, "alpha": 0.1},
    "warm10-T100": {"initial_learning_rate": 0.0, "decay_steps": 100, "warmup_target": 0.5, "warmup_steps": 10},
    "warm1-T1-alpha0.1": {
        "initial_learning_rate": 0.01, "decay_steps": 1, "warmup_target": 0.1, "warmup_steps": 1, "alpha": 0.1,
    },
    "warm100-T900-alpha0.1": {
        "initial_learning_rate": 1e-5, "decay_steps": 900, "alpha": 0.1, "warmup_target": 1e-3, "warmup_steps": 100,
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
    ours = evaluate(UBADecay(**shape, **kwargs), steps)
    theirs = evaluate_one_by_one(keras.optimizers.schedules.CosineDecay(**kwargs), steps)
    peak = max(kwargs["initial_learning_rate"], kwargs.get("warmup_target") or 0.0)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * peak)


# --- model.fit ----------------------------------------------------------------------------

FIT_CFG = UBAConfig(total_steps=16, peak_lr=0.1, phi=5.0, min_lr=0.002, warmup_steps=4, warmup_start_lr=0.01)
BATCH = 8  # one batch = the whole data set = one optimizer step


class LrRecorder(keras.callbacks.Callback):
    """Before each batch, record the optimizer's reported lr, its iterations and the weight.

    In Keras 3, ``optimizer.learning_rate`` evaluates ``schedule(iterations)``: the
    lr of the update that the coming batch makes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lrs: list[float] = []
        self.iterations: list[int] = []
        self.weights: list[float] = []
        self.dtypes: list[str] = []

    def on_train_batch_begin(self, batch, logs=None) -> None:
        lr = self.model.optimizer.learning_rate
        self.lrs.append(float(lr))
        self.dtypes.append(str(keras.backend.standardize_dtype(lr.dtype)))
        self.iterations.append(int(self.model.optimizer.iterations))
        self.weights.append(float(self.model.get_weights()[0].ravel()[0]))


def make_model(schedule) -> keras.Model:
    """A one-weight linear model ``y = w x`` (w = 1) compiled with SGD(schedule).

    The loss is the mean absolute error against targets far below the prediction,
    so d loss / dw = x = 1 exactly at every step: the weight drops by exactly the lr.
    """
    model = keras.Sequential(
        [keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")]
    )
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mean_absolute_error")
    return model


def fit(model: keras.Model, epochs: int) -> LrRecorder:
    """Train ``epochs`` steps (one full batch per epoch) and return the recorder.

    Args:
        model: A model from :func:`make_model`.
        epochs: Number of epochs, i.e. optimizer steps.

    Returns:
        The callback, with one record per step plus the final weight appended.
    """
    x = np.ones((BATCH, 1), "float32")
    y = np.full((BATCH, 1), -100.0, "float32")
    recorder = LrRecorder()
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0, callbacks=[recorder])
    recorder.weights.append(float(model.get_weights()[0].ravel()[0]))
    return recorder


def assert_weight_deltas_use_lr_k(weights: list[float], cfg: UBAConfig, first: int = 0) -> None:
    """Step k changed the weight by -lr(k) (the gradient is exactly 1).

    Args:
        weights: The weight before each step and after the last one.
        cfg: The schedule's config.
        first: The iteration of the first recorded step.
    """
    used = -np.diff(np.asarray(weights, dtype=np.float64))
    # Each float32 weight is rounded to half an ulp, eps32 / 2 * |w|, and the lr
    # itself is a rounded float32: the difference is exact to eps32 * max|w|.
    atol = EPS32 * np.max(np.abs(weights)) + 1e-6 * cfg.peak_lr
    np.testing.assert_allclose(used, cfg(first + np.arange(len(used))), rtol=1e-6, atol=atol)


def test_fit_uses_lr_k_at_step_k() -> None:
    epochs = FIT_CFG.total_steps + 4  # past the budget: the floor holds
    model = make_model(UBADecay.from_uba_config(FIT_CFG))
    rec = fit(model, epochs)
    assert rec.iterations == list(range(epochs))
    assert_float32_close(rec.lrs, FIT_CFG, np.arange(epochs))
    assert_weight_deltas_use_lr_k(rec.weights, FIT_CFG)
    assert int(model.optimizer.iterations) == epochs


# --- serialization ------------------------------------------------------------------------

SERIAL_CASES = {
    "plain": {"initial_learning_rate": 0.1, "decay_steps": 100, "phi": 3.0},
    "alpha": {"initial_learning_rate": 0.1, "decay_steps": 100, "phi": 0.5, "alpha": 0.1, "name": "my_uba"},
    "warmup": {
        "initial_learning_rate": 1e-4, "decay_steps": 90, "phi": 8.0, "warmup_target": 1e-2, "warmup_steps": 10,
    },
    "min_lr": {
        "initial_learning_rate": 0.0, "decay_steps": 95, "phi": 1.5, "warmup_target": 0.3,
        "warmup_steps": 5, "min_learning_rate": 0.003,
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
    assert_float32_close(evaluate(again, MANY_STEPS), sched.uba_config, MANY_STEPS)


@pytest.mark.parametrize("name", list(SERIAL_CASES))
def test_keras_serialize_deserialize(name: str) -> None:
    sched = UBADecay(**SERIAL_CASES[name])
    blob = json.loads(json.dumps(keras.optimizers.schedules.serialize(sched)))
    again = keras.optimizers.schedules.deserialize(blob)
    assert type(again) is UBADecay
    assert again.uba_config == sched.uba_config
    assert_float32_close(evaluate(again, MANY_STEPS), sched.uba_config, MANY_STEPS)


def test_get_config_is_json_for_numpy_scalar_arguments() -> None:
    # numpy scalars are accepted as arguments (they are Real / Integral); the
    # config must still be JSON primitives, as keras' get_config contract requires.
    sched = UBADecay(np.float32(0.5), np.int64(90), warmup_target=np.float32(1.0),
                     warmup_steps=np.int32(10), phi=np.float64(3.0), min_learning_rate=np.float64(0.25))
    again = UBADecay.from_config(json.loads(json.dumps(sched.get_config())))
    assert again.uba_config == sched.uba_config


def test_save_and_load_model_without_custom_objects(tmp_path) -> None:
    first = 5
    model = make_model(UBADecay.from_uba_config(FIT_CFG))
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
    assert_float32_close(evaluate(sched, MANY_STEPS), FIT_CFG, MANY_STEPS)

    # The step counter was saved: training goes on at iteration `first`.
    assert int(loaded.optimizer.iterations) == first
    assert_float32_close(float(loaded.optimizer.learning_rate), FIT_CFG, first)
    rec = fit(loaded, 4)
    assert rec.iterations == list(range(first, first + 4))
    assert_float32_close(rec.lrs, FIT_CFG, np.arange(first, first + 4))
    assert_weight_deltas_use_lr_k(rec.weights, FIT_CFG, first=first)


# --- mixed precision ----------------------------------------------------------------------


@pytest.fixture
def mixed_float16():
    """Run a test under the ``mixed_float16`` policy, restoring ``float32`` after it."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


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
    model = make_model(UBADecay.from_uba_config(FIT_CFG))
    rec = fit(model, epochs)
    assert set(rec.dtypes) == {"float32"}
    assert_float32_close(rec.lrs, FIT_CFG, np.arange(epochs))
    assert_weight_deltas_use_lr_k(rec.weights, FIT_CFG)


# --- bad input ----------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
VALID = {"initial_learning_rate": 0.1, "decay_steps": 100, "phi": 2.0}
BAD = [
    ("initial_learning_rate", {}, -1.0), ("initial_learning_rate", {}, NAN), ("initial_learning_rate", {}, INF),
    ("initial_learning_rate", {}, "0.1"), ("initial_learning_rate", {}, None), ("initial_learning_rate", {}, True),
    ("decay_steps", {}, 0), ("decay_steps", {}, -3), ("decay_steps", {}, 10.5), ("decay_steps", {}, NAN),
    ("decay_steps", {}, True), ("decay_steps", {}, None),
    ("phi", {}, 0), ("phi", {}, -2.0), ("phi", {}, INF), ("phi", {}, NAN), ("phi", {}, "2"), ("phi", {}, None),
    ("phi", {}, True),
    ("alpha", {}, -0.1), ("alpha", {}, 1.1), ("alpha", {}, NAN), ("alpha", {}, "0"),
    ("warmup_target", {"warmup_steps": 5}, -1.0), ("warmup_target", {"warmup_steps": 5}, NAN),
    ("warmup_target", {"warmup_steps": 5}, "1"),
    ("warmup_steps", {"warmup_target": 1.0}, -1), ("warmup_steps", {"warmup_target": 1.0}, 2.5),
    ("warmup_steps", {"warmup_target": 1.0}, True),
    ("exponent", {}, 0.0), ("exponent", {}, "1"),
    ("min_learning_rate", {}, -0.01), ("min_learning_rate", {}, NAN), ("min_learning_rate", {}, "0"),
    ("min_learning_rate", {"alpha": 0.1}, 0.01),
    ("name", {}, 3), ("name", {}, None),
]


def bad_id(case: tuple[str, dict, object]) -> str:
    """Readable pytest id ``argument=value[+other=...]`` for a bad-input case."""
    name, extra, value = case
    return "+".join([f"{name}={value!r}", *(f"{k}={v!r}" for k, v in extra.items())])


@pytest.mark.parametrize("case", BAD, ids=bad_id)
def test_bad_input_names_argument_and_value(case: tuple[str, dict, object]) -> None:
    name, extra, value = case
    with pytest.raises((ValueError, TypeError), match=re.escape(f"{name}={value!r}")) as info:
        UBADecay(**{**VALID, **extra, name: value})
    assert f"`{name}`" in str(info.value)


def test_from_uba_config_rejects_other_types() -> None:
    bad = {"total_steps": 10, "peak_lr": 0.1, "phi": 2.0}
    with pytest.raises(TypeError, match=re.escape(f"config={bad!r}")):
        UBADecay.from_uba_config(bad)


# --- what CosineDecay accepts, UBADecay accepts --------------------------------------


def cosine_decay_rates(schedule, steps) -> np.ndarray:
    """CosineDecay one step at a time (its warmup branch needs a scalar step)."""
    return np.array([keras.ops.convert_to_numpy(schedule(int(t))) for t in steps])


STEPS = np.array([0, 1, 5, 10, 37, 50, 99, 100, 110, 400])


def test_a_float64_initial_rate_gives_float64_rates_like_cosine_decay() -> None:
    ours = UBADecay(np.float64(0.1), 100, 0.01)
    theirs = keras.optimizers.schedules.CosineDecay(np.float64(0.1), 100, 0.01)
    got = evaluate(ours, STEPS)
    assert got.dtype == np.float64 and cosine_decay_rates(theirs, STEPS).dtype == np.float64
    np.testing.assert_allclose(got, cosine_decay_rates(theirs, STEPS), rtol=1e-13, atol=1e-17)
    np.testing.assert_allclose(got, UBAConfig(total_steps=100, peak_lr=0.1, min_lr=0.001)(STEPS), rtol=1e-13)


def test_a_tensor_initial_rate_is_accepted() -> None:
    sched = UBADecay(keras.ops.convert_to_tensor(0.5), 20, phi=3.0)
    assert sched.initial_learning_rate == 0.5
    assert_float32_close(evaluate(sched, STEPS), UBAConfig(total_steps=20, peak_lr=0.5, phi=3.0), STEPS)
    json.dumps(sched.get_config())


def test_a_cosine_decay_config_loads_and_gives_its_curve() -> None:
    # warmup_steps without warmup_target: CosineDecay ignores it; so does UBADecay, saying so.
    cosine = keras.optimizers.schedules.CosineDecay(0.1, 100, alpha=0.05, warmup_steps=10)
    with pytest.warns(UserWarning, match="warmup_steps=10 has no effect without `warmup_target`"):
        ours = UBADecay.from_config(json.loads(json.dumps(cosine.get_config())))
    np.testing.assert_allclose(evaluate(ours, STEPS), cosine_decay_rates(cosine, STEPS), rtol=1e-6, atol=1e-7)
    assert ours.get_config()["warmup_steps"] == 0  # what it uses: a reload does not warn again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        UBADecay.from_config(ours.get_config())


def test_an_integral_float_decay_steps_is_accepted() -> None:
    assert UBADecay(0.1, 100.0, warmup_target=0.2, warmup_steps=10.0).uba_config == UBAConfig(
        total_steps=110, peak_lr=0.2, warmup_steps=10, warmup_start_lr=0.1)


def test_giant_budgets_on_the_jax_backend(tmp_path) -> None:
    """decay_steps >= 2**31 overflowed the int32 arithmetic of the JAX backend."""
    import subprocess
    import sys

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
    env = {**__import__("os").environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]
