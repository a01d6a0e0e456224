"""Shared test code: framework imports, the reference formula, the parity grid, float32
tolerances, and each adapter's rates through its real path.

A missing framework skips its tests, unless UBA_REQUIRE_FRAMEWORKS names it
(CI sets torch,jax,tf), in which case the import error fails the run.
The one table of hostile constructor arguments is tests/_hostile.py.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import os
import warnings
from collections.abc import Iterator, Sequence
from types import ModuleType

import mpmath
import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from uba_core import UBAConfig

REQUIRED = {s.strip() for s in os.environ.get("UBA_REQUIRE_FRAMEWORKS", "").split(",") if s.strip()}

# torch must be imported before tensorflow: the other order can crash.
try:
    import torch  # noqa: F401
except ImportError:
    if "torch" in REQUIRED:
        raise


def framework(name: str, module: str) -> ModuleType:
    """Import ``module`` of framework ``name`` (torch, jax, tf), or skip if it cannot be imported.

    Any ImportError skips, not only ModuleNotFoundError: keras without its backend, or a
    framework built for another platform, is absent for these tests too (this is what
    ``pytest.importorskip(module, exc_type=ImportError)`` does; pytest >= 9 no longer
    skips on a bare ImportError by default). Skipping is refused when
    UBA_REQUIRE_FRAMEWORKS lists ``name``: the import error then fails the test.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if name in REQUIRED:
            raise
        pytest.skip(f"{name} is not installed: could not import {module!r} ({err})", allow_module_level=True)


# --- the reference: the closed form, independent of the library's tan form ---------------

_REFERENCE_DIGITS = 40


def _shape(p, phi):
    r"""The closed form's shape :math:`f(p) = 2u / (2\varphi + (2 - \varphi) u)`, :math:`u = 1 + \cos \pi p`
    (uba-math.md, "The closed form"), on mpmath numbers, ``p`` in [0, 1]."""
    u = 1 + mpmath.cos(mpmath.pi * p)
    return 2 * u / (2 * phi + (2 - phi) * u)


def reference_factor(p: float, phi: float) -> float:
    """:func:`_shape` in 40-digit arithmetic, with ``p`` clipped to [0, 1]."""
    with mpmath.workdps(_REFERENCE_DIGITS):
        return float(_shape(min(max(mpmath.mpf(float(p)), 0), 1), mpmath.mpf(float(phi))))


def reference_remaining(t, cfg: UBAConfig, changes: Sequence[tuple[int, int]] = ()):
    """The remaining fraction q = 1 - p of the decay at step ``t`` (an mpmath number), for
    ``cfg`` after the budget ``changes``, literally from what each one means.

    Without changes: 1 up to W + S, then piecewise linear through the knots of
    ``cfg.rebudgets``, from (W + S, 1) through each (s_i, q_i) to (T, 0), and 0 after T.

    A change (s, T') keeps the curve up to s and spreads what was left there, q(s), over
    the new budget: q'(t) = q(t) for t <= s, q(s) (T' - t) / (T' - s) after, 0 from T' on.
    Before the decay (s <= W + S) it is the plan itself with the total T' (no knots).
    """
    W, S = cfg.warmup_steps, cfg.stable_steps
    if not changes:
        knots = [(W + S, mpmath.mpf(1)), *((k, mpmath.mpf(q)) for k, q in cfg.rebudgets), (cfg.total_steps, 0)]
        if t <= W + S:
            return mpmath.mpf(1)
        for (a, qa), (b, qb) in itertools.pairwise(knots):
            if a <= t < b:  # find the segment, then interpolate in it
                return qa + (qb - qa) * (t - a) / mpmath.mpf(b - a)
        return mpmath.mpf(0)
    *before, (s, new_total) = changes
    if s <= W + S:
        return min(mpmath.mpf(1), max(mpmath.mpf(0), (new_total - t) / mpmath.mpf(new_total - W - S)))
    if t <= s:
        return reference_remaining(t, cfg, before)
    left = reference_remaining(mpmath.mpf(s), cfg, before)
    return left * max(mpmath.mpf(0), (new_total - t) / mpmath.mpf(new_total - s))


def reference_lr(t: float, cfg: UBAConfig, changes: Sequence[tuple[int, int]] = ()) -> float:
    """lr(t) of uba-math.md, literally: the linear warmup below W, the peak through the
    stable phase, then ``min_lr + (peak_lr - min_lr) * f(p) ** exponent`` with
    p = 1 - q from :func:`reference_remaining` (without stable steps or re-budgets,
    p = (t - W) / (T - W) clipped to [0, 1]), in 40-digit arithmetic. The exponent is 1
    (the UBA curve itself) unless set.

    ``changes``: budget changes ``(step, new_total)`` applied to ``cfg`` in order (what
    ``cfg.rebudget(step, new_total)`` promises), evaluated from their meaning, not from
    the knots the library stores.
    """
    with mpmath.workdps(_REFERENCE_DIGITS):
        t = mpmath.mpf(float(t))
        W = cfg.warmup_steps
        start, peak, floor = (mpmath.mpf(x) for x in (cfg.warmup_start_lr, cfg.peak_lr, cfg.min_lr))
        if t < W:
            return float(start + (peak - start) * t / W)
        f = _shape(1 - reference_remaining(t, cfg, list(changes)), mpmath.mpf(cfg.phi))
        return float(floor + (peak - floor) * f ** mpmath.mpf(cfg.exponent))


def reference_rates(cfg: UBAConfig, steps, changes: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """:func:`reference_lr` at every step of ``steps`` (any shape), as float64."""
    steps = np.asarray(steps, dtype=np.float64)
    return np.array([reference_lr(t, cfg, changes) for t in steps.ravel()]).reshape(steps.shape)


# --- the parity grid and float32 tolerances --------------------------------------------

# Configs every adapter must reproduce: with and without warmup, floor 0 and not,
# phi from 0.05 to 50, budgets from 1 step to above 2**24.
PARITY_CONFIGS = {
    "T1": UBAConfig(total_steps=1, peak_lr=0.1, phi=2.0),
    "T2-warm1-phi0.05": UBAConfig(total_steps=2, peak_lr=1.0, phi=0.05, warmup_steps=1),
    "T100-phi0.05": UBAConfig(total_steps=100, peak_lr=0.1, phi=0.05),
    "T1000-phi50-floor-warm": UBAConfig(
        total_steps=1000, peak_lr=3e-4, phi=50.0, min_lr=3e-6, warmup_steps=100, warmup_start_lr=1e-6
    ),
    "T5000-phi1-warm1": UBAConfig(total_steps=5000, peak_lr=0.5, phi=1.0, warmup_steps=1),
    "T10000-phi2-floor": UBAConfig(total_steps=10_000, peak_lr=0.2, phi=2.0, min_lr=0.02),
    "T2^24+-phi8-floor-warm": UBAConfig(
        total_steps=2**24 + 12_345, peak_lr=1e-3, phi=8.0, min_lr=1e-5, warmup_steps=2_000
    ),
    "T3*2^25-phi0.5-warm-start": UBAConfig(
        total_steps=3 * 2**25, peak_lr=1.0, phi=0.5, warmup_steps=2**24 + 1, warmup_start_lr=0.1
    ),
}


@pytest.fixture(params=list(PARITY_CONFIGS), ids=list(PARITY_CONFIGS))
def parity_config(request) -> UBAConfig:
    return PARITY_CONFIGS[request.param]


def check_steps(cfg: UBAConfig) -> np.ndarray:
    """Steps 0, W-1, W, W+1, T-1, T, T+10 and a few inside the decay, sorted, unique."""
    W, T = cfg.warmup_steps, cfg.total_steps
    inner = W + np.round(np.array([0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) * (T - W)).astype(np.int64)
    steps = np.concatenate([[0, W - 1, W, W + 1, T - 1, T, T + 10], inner])
    return np.unique(steps[steps >= 0])


EPS32 = float(np.finfo(np.float32).eps)
U32 = 2.0**-24
# XLA on CPU flushes float32 subnormals to zero; rates below float32's smallest normal
# number may come back as 0.
TINY32 = 4 * float(np.finfo(np.float32).tiny)


def assert_float32_close(actual, cfg: UBAConfig, steps) -> None:
    """Compare a float32 framework's rates with the float64 core at the same steps."""
    scale = max(cfg.peak_lr, cfg.warmup_start_lr)
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), cfg(steps), rtol=1e-6, atol=1e-6 * scale)


def assert_weight_drops_use_lrs(drops, cfg: UBAConfig, steps, *, weight: float = 1.0) -> None:
    """Each update lowered a float32 weight by the core's lr at its step (d loss / dw = 1).

    Args:
        drops: How much the weight fell at each update (``-np.diff`` of the weights).
        cfg: The schedule.
        steps: The step of each update.
        weight: The largest magnitude of the weight: each float32 weight is rounded to
            half an ulp, so a drop is exact to ``eps32 * weight``, on top of the float32
            tolerance of the rate itself.
    """
    np.testing.assert_allclose(
        np.asarray(drops, dtype=np.float64), cfg(steps), rtol=1e-6, atol=EPS32 * weight + 1e-6 * cfg.peak_lr
    )


def assert_weights_fall_by_lrs(weights, cfg: UBAConfig, first: int = 0) -> None:
    """A float32 weight, recorded before each update and after the last one, fell by the
    core's lr(first), lr(first + 1), ... (d loss / dw = 1)."""
    weights = np.asarray(weights, dtype=np.float64)
    assert_weight_drops_use_lrs(
        -np.diff(weights), cfg, first + np.arange(len(weights) - 1), weight=float(np.max(np.abs(weights)))
    )


def float32_tolerance(cfg: UBAConfig, steps, *, strict: bool = False) -> np.ndarray:
    r"""Absolute error allowed for a float32 evaluation of the curve at integer ``steps``.

    A float32 framework rounds the step (and W, T) to float32, 2**-24 relative each;
    the error that causes is the core's change over a window of steps around t,
    evaluated in float64 (a secant, so kinks and fast drops are covered), plus
    rtol 1e-6 (17 ulps) of the rate and atol 1e-6 of the largest rate for the
    float32 arithmetic, plus :data:`TINY32`.

    ``strict=False`` (what tests/test_properties.py uses): the window is
    ``8 * 2**-24 * (t + T)`` steps, the error of forming q = (T - t) / (T - W) from
    float32-rounded t, T and W (three operand roundings and four operation roundings).

    ``strict=True``: what uba-math.md asks ("keep steps above 2**24 correct"): only
    the *distance* to the next kink may carry a relative error: the window is
    ``4 * 2**-24 * t`` on the ramp (never past W) and ``4 * 2**-24 * (T - t)`` in the
    decay. An implementation that forms T - t and t - W in integers before the cast
    meets it; one that casts t first does not when the decay or warmup is short next
    to 2**-24 * T.
    """
    t = np.asarray(steps, dtype=np.float64)
    W, T = cfg.warmup_steps, cfg.total_steps
    if strict:
        h = np.where(t < W, 4 * U32 * t, 4 * U32 * np.maximum(T - t, 0.0))
        lo = np.where(t < W, np.maximum(t - h, 0.0), np.maximum(t - h, W))
        hi = np.where(t < W, np.minimum(t + h, W), t + h)
        window = [lo, hi]
    else:
        h = 8 * U32 * (t + T)
        lo, hi = np.maximum(t - h, 0.0), t + h
        window = [lo, hi, np.clip(W, lo, hi)]
    lr = cfg(t)
    step_term = np.max([np.abs(cfg(x) - lr) for x in window], axis=0)
    scale = max(cfg.peak_lr, cfg.warmup_start_lr)
    return step_term + 1e-6 * np.abs(lr) + 1e-6 * scale + TINY32


def assert_float32_matches_core(actual, cfg: UBAConfig, steps, *, strict: bool = False) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = cfg(np.asarray(steps, dtype=np.float64))
    tol = float32_tolerance(cfg, steps, strict=strict)
    bad = ~(np.abs(actual - expected) <= tol)  # NaN fails too
    assert not np.any(bad), (
        f"steps {np.asarray(steps)[bad]}: got {actual[bad]}, core {expected[bad]}, tolerance {tol[bad]}"
    )


# --- torch: an optimizer and the loop that steps it ------------------------------------------


def sgd(lrs=(0.1,), *, dtype: str = "float64", momentum: float = 0.0):
    """torch SGD over one scalar parameter per group, one group per lr in ``lrs``."""
    torch = framework("torch", "torch")
    groups = [{"params": [torch.nn.Parameter(torch.zeros((), dtype=getattr(torch, dtype)))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0], momentum=momentum)


def group_lrs(opt) -> list[float]:
    """The lr of every param group, as floats (a tensor lr read as its value)."""
    return [float(g["lr"]) for g in opt.param_groups]


@contextlib.contextmanager
def past_the_budget() -> Iterator[None]:
    """A block that steps a ``UBALR`` past its budget on purpose: it must warn
    (``UBABudgetWarning``), and that warning stays out of the run's summary.

    Not ``pytest.warns``: it records every warning and re-emits the others without their
    module, so the pytest config's filters by module (torch's own deprecations) would no
    longer apply to them. Here the other warnings meet the filters as usual.
    """
    budget_warning = framework("torch", "uba_torch").UBABudgetWarning
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", budget_warning)
        yield
    ours = [w for w in caught if issubclass(w.category, budget_warning)]
    assert ours, "UBALR was stepped past its budget and gave no UBABudgetWarning"
    for w in ours:
        assert "stepped past its budget" in str(w.message), w.message
    for w in caught:
        if w not in ours:  # what no filter silenced: shown as if this block were not there
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)


def step_lrs(opt, schedulers, steps: int) -> np.ndarray:
    """Record every group's lr, then step the optimizer and each scheduler in order; ``steps`` times.

    Returns:
        The lrs, shape (steps, groups): row k holds the lrs update k used.
    """
    rows = []
    for _ in range(steps):
        rows.append(group_lrs(opt))
        opt.step()  # without gradients a no-op, but the order torch expects
        for sched in schedulers:
            sched.step()
    return np.array(rows)


# --- each adapter's rates at given steps, through its real path ------------------------


def torch_rates(cfg: UBAConfig, steps) -> np.ndarray:
    """The lr UBALR writes for update t, reached by loading last_epoch = t - 1 and stepping."""
    framework("torch", "torch")
    from uba_torch import UBALR

    opt = sgd((1.0,))
    sched = UBALR.from_uba_config(opt, cfg)
    out = []
    # Past the budget it warns, once: the state carries that it did.
    past = any(int(t) > cfg.total_steps for t in steps)
    with past_the_budget() if past else contextlib.nullcontext():
        for t in steps:
            state = sched.state_dict()
            state["last_epoch"] = int(t) - 1
            sched.load_state_dict(state)
            opt.step()  # no gradients: a no-op, but the order torch expects
            sched.step()
            out.append(opt.param_groups[0]["lr"])
    assert all(type(x) is float for x in out)
    return np.array(out)


def optax_eval(schedule, steps, *, jit: bool = True) -> np.ndarray:
    """An optax schedule on ``steps`` given as int32 counts (optax's count dtype), jitted or eager."""
    jax = framework("jax", "jax")
    import jax.numpy as jnp

    counts = jnp.asarray(np.asarray(steps, dtype=np.int64), dtype=jnp.int32)
    return np.asarray((jax.jit(schedule) if jit else schedule)(counts))


def optax_rates(cfg: UBAConfig, steps, *, jit: bool = True) -> np.ndarray:
    framework("jax", "optax")
    from uba_jax import from_uba_config

    return optax_eval(from_uba_config(cfg), steps, jit=jit).astype(np.float64)


def keras_eval(schedule, steps, dtype: str = "int64") -> np.ndarray:
    """A keras schedule on ``steps`` given as an integer tensor of ``dtype`` (the optimizer's
    iterations are int64 on TensorFlow, int32 on JAX and torch); the rates as numpy."""
    keras = framework("tf", "keras")
    return keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(np.asarray(steps), dtype)))


def keras_named(cfg: UBAConfig, scale: int = 1):
    """``cfg`` spelled with UBADecay's keras argument names, every step count times ``scale``
    (``decay_steps`` excludes the warmup)."""
    framework("tf", "keras")
    from uba_tf import UBADecay

    return UBADecay(
        initial_learning_rate=cfg.warmup_start_lr,
        decay_steps=scale * (cfg.total_steps - cfg.warmup_steps),
        phi=cfg.phi,
        warmup_target=cfg.peak_lr,
        warmup_steps=scale * cfg.warmup_steps,
        min_learning_rate=cfg.min_lr,
    )


def keras_one_weight_model(learning_rate, accumulation: int | None = None):
    """``y = w x`` (w = 1) compiled with ``SGD(learning_rate)``, optionally accumulating gradients.

    The mean absolute error against targets far below the prediction makes d loss / dw = 1
    exactly, so each applied update lowers w by exactly its lr (also when the gradient is
    averaged over accumulated micro-batches).
    """
    keras = framework("tf", "keras")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, gradient_accumulation_steps=accumulation),
        loss="mean_absolute_error",
    )
    return model


def keras_fit_weights(model, batches: int, epochs: int = 1, callbacks=()) -> np.ndarray:
    """Fit a :func:`keras_one_weight_model` ``epochs`` epochs of ``batches`` batches, in order.

    Returns:
        The weight before every batch and after the last one.
    """
    keras = framework("tf", "keras")
    weights: list[float] = []

    def record(*_, **__) -> None:
        weights.append(float(model.get_weights()[0].ravel()[0]))

    x = np.ones((4 * batches, 1), "float32")
    model.fit(
        x,
        np.full_like(x, -100.0),
        batch_size=4,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.LambdaCallback(on_train_batch_begin=record), *callbacks],
    )
    record()
    return np.asarray(weights, dtype=np.float64)


def keras_rates(cfg: UBAConfig, steps) -> np.ndarray:
    framework("tf", "keras")
    from uba_tf import UBADecay

    out = keras_eval(UBADecay.from_uba_config(cfg), np.asarray(steps, dtype=np.int64))
    assert out.dtype == np.float32
    return out.astype(np.float64)


@pytest.fixture
def mixed_float16():
    """keras, under the ``mixed_float16`` dtype policy for one test (the policy before restored)."""
    keras = framework("tf", "keras")
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield keras
    finally:
        keras.config.set_dtype_policy(before.name)


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a module of tiny problems: it avoids OpenMP spin-waits
    on busy cores (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    try:
        import torch
    except ImportError:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- the frameworks and adapters as module fixtures (a missing framework skips) ----------------


@pytest.fixture(scope="module")
def jax() -> ModuleType:
    return framework("jax", "jax")


@pytest.fixture(scope="module")
def optax(jax: ModuleType) -> ModuleType:
    return framework("jax", "optax")


@pytest.fixture(scope="module")
def uba_jax(optax: ModuleType) -> ModuleType:
    return importlib.import_module("uba_jax")


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    return framework("tf", "keras")


@pytest.fixture(scope="module")
def uba_tf(keras: ModuleType) -> ModuleType:
    return importlib.import_module("uba_tf")
