"""A schedule costs no retrace per step and no host callback: optax under jax.jit, keras in a
tf.function and in model.fit (TensorFlow backend).

A Python counter inside the traced function (or the schedule) counts traces: it runs once
per trace, never per step. The jaxpr of the jitted update is searched for callbacks.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from conftest import framework, keras_fit_weights, keras_one_weight_model

STEPS = 60


# --- optax ----------------------------------------------------------------------------------


OPTAX_SCHEDULES = {
    "warmup_uba_decay_schedule": lambda m: m.warmup_uba_decay_schedule(0.0, 0.1, 5, 40, 0.001, phi=4.0),
    "uba_sgdr_schedule": lambda m: m.uba_sgdr_schedule(
        [dict(init_value=0.0, peak_value=0.1, warmup_steps=3, decay_steps=20)] * 3, phi=0.5
    ),
}


def callbacks_in(jaxpr) -> list[str]:
    """Names of the callback primitives in ``jaxpr`` and every jaxpr nested in it."""
    found = []
    for eqn in jaxpr.eqns:
        if "callback" in eqn.primitive.name:
            found.append(eqn.primitive.name)
        for value in eqn.params.values():
            for sub in value if isinstance(value, list | tuple) else [value]:
                inner = getattr(sub, "jaxpr", sub)  # a ClosedJaxpr holds a Jaxpr
                if hasattr(inner, "eqns"):
                    found += callbacks_in(inner)
    return found


@pytest.mark.parametrize("name", list(OPTAX_SCHEDULES))
def test_optax_update_traces_once_and_calls_no_host(jax, optax, uba_jax, name) -> None:
    """optax.adamw(learning_rate=schedule): a jitted update, STEPS times, is traced once, its
    jaxpr holds no callback, and the lr it used (inject_hyperparams) is the schedule's."""
    schedule = OPTAX_SCHEDULES[name](uba_jax)
    opt = optax.inject_hyperparams(optax.adamw)(learning_rate=schedule)
    params = {"w": jax.numpy.ones(3)}
    traces = []

    @jax.jit
    def update(params, state):
        traces.append(1)  # Python: runs when traced, not when the compiled update runs
        grads = jax.tree_util.tree_map(jax.numpy.ones_like, params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    state = opt.init(params)
    used = []
    for _ in range(STEPS):
        params, state = update(params, state)
        used.append(float(state.hyperparams["learning_rate"]))
    assert len(traces) == 1
    assert callbacks_in(jax.make_jaxpr(update)(params, state).jaxpr) == []
    # hyperparams hold the rate of the update just made: lr(0), lr(1), ...
    np.testing.assert_allclose(used, np.asarray(jax.jit(schedule)(np.arange(STEPS))), rtol=1e-6)


# --- keras (TensorFlow backend) ----------------------------------------------------------


@pytest.fixture(scope="module")
def tf():
    keras = framework("tf", "keras")
    if keras.backend.backend() != "tensorflow":
        pytest.skip(f"the TensorFlow backend is not the one in use ({keras.backend.backend()})")
    return framework("tf", "tensorflow")


@pytest.fixture(scope="module")
def uba_tf(tf):
    return importlib.import_module("uba_tf")


KERAS_SCHEDULES = {
    "UBADecay": lambda m: m.UBADecay(0.0, 30, warmup_target=0.1, warmup_steps=5, phi=4.0),
    "UBADecayRestarts": lambda m: m.UBADecayRestarts(0.1, 8, phi=0.5),
}


@pytest.mark.parametrize("name", list(KERAS_SCHEDULES))
def test_keras_optimizer_in_tf_function_traces_once(tf, uba_tf, name) -> None:
    """SGD(learning_rate=schedule).apply_gradients inside a tf.function, STEPS times: one trace,
    and the variable falls by lr(0), lr(1), ... (gradient 1)."""
    keras = framework("tf", "keras")
    schedule = KERAS_SCHEDULES[name](uba_tf)
    opt = keras.optimizers.SGD(learning_rate=schedule)
    var = keras.Variable(np.float32(100.0))

    @tf.function
    def step():
        opt.apply_gradients([(tf.ones_like(var), var)])

    weights = [float(var.numpy())]
    for _ in range(STEPS):
        step()
        weights.append(float(var.numpy()))
    assert step.experimental_get_tracing_count() == 1
    expected = keras.ops.convert_to_numpy(schedule(np.arange(STEPS)))
    np.testing.assert_allclose(-np.diff(weights), expected, rtol=1e-6, atol=2.0**-23 * 100)


@pytest.mark.parametrize("name", list(KERAS_SCHEDULES))
def test_keras_fit_does_not_call_the_schedule_per_step(tf, uba_tf, name) -> None:
    """model.fit: the schedule's Python __call__ runs when the train step is traced, not per
    step; a second fit of as many steps on the same model adds no call."""
    schedule = KERAS_SCHEDULES[name](uba_tf)
    calls = []
    original = type(schedule).__call__

    class Counted(type(schedule)):
        def __call__(self, step):
            calls.append(1)
            return original(self, step)

    schedule.__class__ = Counted
    model = keras_one_weight_model(schedule)
    keras_fit_weights(model, batches=STEPS // 2)
    first = len(calls)
    keras_fit_weights(model, batches=STEPS // 2)
    assert 1 <= first <= 3 and len(calls) == first, (first, len(calls))
