"""uba_jax: the core's curve under jit / vmap / grad, against optax's cosine and in real optax loops."""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import BUDGET, assert_rejected, cases
from conftest import EPS32, PARITY_CONFIGS, assert_float32_close, check_steps, framework, optax_eval

jax = framework("jax", "jax")
optax = framework("jax", "optax")
import jax.numpy as jnp  # noqa: E402

from uba_core import UBAConfig  # noqa: E402
from uba_jax import from_uba_config, uba_decay_schedule, warmup_uba_decay_schedule  # noqa: E402


def factory_schedule(cfg: UBAConfig):
    """The optax-style factory call that spells ``cfg`` with optax's argument names.

    Args:
        cfg: The config to reproduce.

    Returns:
        ``warmup_uba_decay_schedule(...)`` with the config's fields mapped onto
        ``init_value`` / ``peak_value`` / ``warmup_steps`` / ``decay_steps`` /
        ``end_value`` (``decay_steps`` includes the warmup, as in optax).
    """
    return warmup_uba_decay_schedule(
        init_value=cfg.warmup_start_lr,
        peak_value=cfg.peak_lr,
        warmup_steps=cfg.warmup_steps,
        decay_steps=cfg.total_steps,
        phi=cfg.phi,
        end_value=cfg.min_lr,
    )


# --- parity with the float64 core -------------------------------------------------------


def test_parity_from_uba_config(parity_config: UBAConfig) -> None:
    steps = check_steps(parity_config)
    out = optax_eval(from_uba_config(parity_config), steps)
    assert out.dtype == np.float32
    assert_float32_close(out, parity_config, steps)


def test_parity_warmup_factory(parity_config: UBAConfig) -> None:
    steps = check_steps(parity_config)
    assert_float32_close(optax_eval(factory_schedule(parity_config), steps), parity_config, steps)


@pytest.mark.parametrize("name", [n for n, c in PARITY_CONFIGS.items() if c.warmup_steps == 0])
def test_parity_decay_factory_without_warmup(name: str) -> None:
    cfg = PARITY_CONFIGS[name]
    # alpha * init_value rebuilds the floor through a division: off by ~1 float64 ulp,
    # far below the float32 tolerance of assert_float32_close.
    sched = uba_decay_schedule(cfg.peak_lr, cfg.total_steps, cfg.min_lr / cfg.peak_lr, phi=cfg.phi)
    steps = check_steps(cfg)
    assert_float32_close(optax_eval(sched, steps), cfg, steps)


@pytest.mark.parametrize("phi", [0.05, 0.5, 2.0, 8.0, 50.0], ids=lambda p: f"phi={p}")
def test_relative_precision_to_the_end_of_the_run(phi: float) -> None:
    # With a zero floor the last rates are tiny; 1 + cos(pi p) would lose all their
    # digits in float32. Each of the ~6 float32 operations costs at most eps32 / 2
    # relative (q and its square dominate): 16 eps32 bounds it with margin, no atol.
    cfg = UBAConfig(total_steps=10_000, peak_lr=0.1, phi=phi, warmup_steps=100)
    steps = np.arange(9_000, 10_000)
    out = optax_eval(from_uba_config(cfg), steps)
    np.testing.assert_allclose(out, cfg(steps), rtol=16 * EPS32, atol=0)


# --- phi = 2 is optax's own cosine --------------------------------------------------------


@pytest.mark.parametrize(
    "init_value,decay_steps,alpha",
    [(1.0, 1, 0.0), (0.1, 10, 0.0), (3e-4, 100, 0.1), (1.0, 1000, 0.01)],
    ids=["T1", "T10", "T100-alpha0.1", "T1000-alpha0.01"],
)
@pytest.mark.parametrize("shape", [{"phi": 2.0}, {}], ids=["phi=2", "default-phi"])
def test_phi_two_is_optax_cosine_decay(init_value: float, decay_steps: int, alpha: float, shape: dict) -> None:
    counts = jnp.arange(decay_steps + 11, dtype=jnp.int32)
    ours = np.asarray(jax.jit(uba_decay_schedule(init_value, decay_steps, alpha=alpha, **shape))(counts))
    theirs = np.asarray(jax.jit(optax.cosine_decay_schedule(init_value, decay_steps, alpha))(counts))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 * init_value)


@pytest.mark.parametrize(
    "init_value,peak_value,warmup_steps,decay_steps,end_value",
    [(0.0, 1.0, 1, 2, 0.0), (0.0, 0.1, 10, 110, 0.0), (1e-5, 3e-4, 100, 1000, 3e-6), (0.05, 0.5, 7, 50, 0.05)],
    ids=["W1-T2", "W10-T110", "W100-T1000-end", "W7-T50-start=end"],
)
@pytest.mark.parametrize("shape", [{"phi": 2.0}, {}], ids=["phi=2", "default-phi"])
def test_phi_two_is_optax_warmup_cosine_decay(
    init_value: float, peak_value: float, warmup_steps: int, decay_steps: int, end_value: float, shape: dict
) -> None:
    counts = jnp.arange(decay_steps + 11, dtype=jnp.int32)
    ours = warmup_uba_decay_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value=end_value, **shape)
    theirs = optax.warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value)
    np.testing.assert_allclose(
        np.asarray(jax.jit(ours)(counts)),
        np.asarray(jax.jit(theirs)(counts)),
        rtol=1e-6,
        atol=1e-6 * max(peak_value, init_value),
    )


# --- transformations ----------------------------------------------------------------------

WARM_CFG = UBAConfig(total_steps=300, peak_lr=0.3, phi=5.0, min_lr=0.003, warmup_steps=20, warmup_start_lr=0.01)


def test_vmap_and_jit_over_counts() -> None:
    sched = factory_schedule(WARM_CFG)
    steps = np.arange(0, 320, 1)
    counts = jnp.asarray(steps, dtype=jnp.int32)
    assert_float32_close(np.asarray(jax.vmap(sched)(counts)), WARM_CFG, steps)
    assert_float32_close(np.asarray(jax.jit(jax.vmap(sched))(counts)), WARM_CFG, steps)
    # Plain array evaluation keeps the shape of the counts.
    grid = steps.reshape(16, 20)
    out = np.asarray(jax.jit(sched)(jnp.asarray(grid, dtype=jnp.int32)))
    assert out.shape == grid.shape
    assert_float32_close(out, WARM_CFG, grid)


def test_python_int_and_scalar_counts() -> None:
    sched = factory_schedule(WARM_CFG)
    for step in (0, 19, 20, 150, 299, 300, 10**6):
        assert_float32_close(sched(step), WARM_CFG, step)
        assert_float32_close(jax.jit(sched)(jnp.int32(step)), WARM_CFG, step)


def core_dlr_dphi(step: float, phi: float, total: int = 100, exponent: float = 1.0) -> float:
    """Central finite difference of the float64 core in phi, for ``peak_lr = 1``.

    Args:
        step: Update index.
        phi: Where to differentiate.
        total: Budget of the schedule.
        exponent: The config's exponent.

    Returns:
        d lr(step) / d phi, with truncation and rounding error ~1e-10.
    """
    h = 1e-5 * phi
    up = UBAConfig(total_steps=total, peak_lr=1.0, phi=phi + h, exponent=exponent)(step)
    down = UBAConfig(total_steps=total, peak_lr=1.0, phi=phi - h, exponent=exponent)(step)
    return float((up - down) / (2 * h))


@pytest.mark.parametrize("phi0", [0.3, 2.0, 8.0, 40.0], ids=lambda p: f"phi={p}")
def test_grad_with_respect_to_phi(phi0: float) -> None:
    counts = [0, 1, 10, 37, 50, 80, 99, 100, 150]
    got = [float(jax.grad(lambda phi, c=c: uba_decay_schedule(1.0, 100, phi=phi)(c))(phi0)) for c in counts]
    want = [core_dlr_dphi(c, phi0) for c in counts]
    # The gradient goes through ~6 float32 operations (tan, square, add, divide);
    # each adds a relative error of eps32 ~ 6e-8, so 1e-5 relative is ample margin;
    # atol 1e-7 covers counts 0 / 100 where the exact derivative is 0.
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # Also through jit, vmap over counts, and the warmup factory (decay phase only).
    grad_fn = jax.jit(jax.grad(lambda phi, c: uba_decay_schedule(1.0, 100, phi=phi)(c)))
    np.testing.assert_allclose(
        np.asarray(jax.vmap(grad_fn, in_axes=(None, 0))(jnp.float32(phi0), jnp.asarray(counts))),
        want,
        rtol=1e-5,
        atol=1e-7,
    )
    warm = [
        float(jax.grad(lambda phi, c=c: warmup_uba_decay_schedule(0.0, 1.0, 0, 100, phi=phi)(c))(phi0)) for c in counts
    ]
    np.testing.assert_allclose(warm, want, rtol=1e-5, atol=1e-7)


def test_grad_through_from_uba_config() -> None:
    cfg = UBAConfig(total_steps=100, peak_lr=1.0, phi=3.0)
    got = jax.grad(lambda phi: from_uba_config(cfg, phi=phi)(40))(3.0)
    np.testing.assert_allclose(float(got), core_dlr_dphi(40, 3.0), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "cfg",
    [
        UBAConfig(total_steps=1000, peak_lr=0.1, phi=3.0, min_lr=0.001, warmup_steps=10),
        UBAConfig(total_steps=2**31 - 1000, peak_lr=1.0, phi=0.7, min_lr=0.25, warmup_steps=2**30),
        UBAConfig(total_steps=2**31 - 1, peak_lr=1.0, phi=20.0),
    ],
    ids=["T1000", "T2^31-1000", "T2^31-1"],
)
def test_int32_counts_up_to_the_limit(cfg: UBAConfig) -> None:
    top = 2**31 - 1
    steps = np.array([2**24 + 1, 2**30, 2**31 - 1001, 2**31 - 1000, top - 128, top - 1, top], dtype=np.int64)
    for sched in (from_uba_config(cfg), factory_schedule(cfg)):
        out = optax_eval(sched, steps)
        assert np.all(np.isfinite(out))
        assert_float32_close(out, cfg, steps)
        # Every count >= T is the floor itself, exactly (no overflow, no drift).
        past = steps >= cfg.total_steps
        np.testing.assert_array_equal(out[past], np.float32(cfg.min_lr))


def test_schedules_are_stateless_callables() -> None:
    scheds = [
        uba_decay_schedule(0.1, 10, phi=2.0),
        warmup_uba_decay_schedule(0.0, 0.1, 2, 10, phi=2.0),
        from_uba_config(WARM_CFG),
    ]
    for sched in scheds:
        assert callable(sched)
        assert not hasattr(sched, "init")
        assert not hasattr(sched, "update")
        state = optax.inject_hyperparams(optax.sgd)(learning_rate=sched).init(jnp.zeros(()))
        # A stateless schedule is wrapped by optax, not run as a stateful one.
        assert type(state.hyperparams_states["learning_rate"]).__name__ == "WrappedScheduleState"


# --- real optax loops ---------------------------------------------------------------------

LOOP_CFG = UBAConfig(total_steps=26, peak_lr=0.3, phi=5.0, min_lr=0.003, warmup_steps=5, warmup_start_lr=0.02)
LOOP_STEPS = 32  # past the budget: the floor must hold


def loss(w):
    """Quadratic loss of a scalar parameter; its gradient is ``w``."""
    return 0.5 * w**2


def run_loop(tx, steps: int = LOOP_STEPS, direction=None):
    """Run ``steps`` jitted optax updates of a scalar parameter starting at 1.

    Args:
        tx: The gradient transformation.
        steps: Number of updates.
        direction: Optional transformation run on the same gradients alongside
            ``tx`` whose output is the update direction before the learning rate
            (e.g. ``scale_by_adam``); defaults to the gradient itself.

    Returns:
        ``(used, states)``: the lr update k actually used, recovered from the
        parameter change as ``-delta / direction``, and the optimizer state after
        each update (``states[0]`` is the state after ``init``).
    """
    params = jnp.float32(1.0)
    state = tx.init(params)
    ref = direction or optax.identity()
    ref_state = ref.init(params)

    @jax.jit
    def step(params, state, ref_state):
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        dirs, ref_state = ref.update(grads, ref_state, params)
        return optax.apply_updates(params, updates), state, ref_state, updates, dirs

    used, states = [], [state]
    for _ in range(steps):
        params, state, ref_state, updates, dirs = step(params, state, ref_state)
        # ``updates`` is the parameter change apply_updates adds: -lr * direction,
        # one float32 product, so lr is recovered to eps32 / 2 relative.
        used.append(-float(updates) / float(dirs))
        states.append(state)
    return np.array(used), states


def assert_uses_lr_k(used: np.ndarray, cfg: UBAConfig) -> None:
    """Update k used lr(k) of the core, up to float32 rounding.

    Args:
        used: The lr of update 0, 1, ... recovered from the loop.
        cfg: The config of the schedule.
    """
    assert_float32_close(used, cfg, np.arange(len(used)))


def test_loop_inject_hyperparams_sgd() -> None:
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=factory_schedule(LOOP_CFG))
    used, states = run_loop(tx)
    assert_uses_lr_k(used, LOOP_CFG)
    # optax 0.2.8: init stores lr(0); after update k the state holds the lr that
    # update k used, lr(k) (it is the *last* lr, not the next one).
    assert_float32_close(states[0].hyperparams["learning_rate"], LOOP_CFG, 0)
    reported = np.array([float(s.hyperparams["learning_rate"]) for s in states[1:]])
    assert_uses_lr_k(reported, LOOP_CFG)
    assert [int(s.count) for s in states] == list(range(LOOP_STEPS + 1))


def test_loop_sgd_with_schedule() -> None:
    used, _ = run_loop(optax.sgd(learning_rate=factory_schedule(LOOP_CFG)))
    assert_uses_lr_k(used, LOOP_CFG)


def test_loop_chain_scale_by_schedule() -> None:
    sched = from_uba_config(LOOP_CFG)
    used, _ = run_loop(optax.chain(optax.scale_by_schedule(lambda c: -sched(c))))
    assert_uses_lr_k(used, LOOP_CFG)


# Adam betas exactly representable in float32: inject_hyperparams turns them into
# float32 arrays, and 1 - 0.999 in float32 is off by ~1e-5 relative from the Python
# value the reference direction uses, which would swamp the float32 lr tolerance.
ADAM = {"b1": 0.5, "b2": 0.75, "eps": 1e-8, "weight_decay": 0.0625}


def adam_direction():
    """``adamw`` without its learning rate: the direction the lr multiplies."""
    return optax.chain(
        optax.scale_by_adam(b1=ADAM["b1"], b2=ADAM["b2"], eps=ADAM["eps"]),
        optax.add_decayed_weights(ADAM["weight_decay"]),
    )


def test_loop_adamw_with_schedule() -> None:
    used, _ = run_loop(optax.adamw(learning_rate=factory_schedule(LOOP_CFG), **ADAM), direction=adam_direction())
    assert_uses_lr_k(used, LOOP_CFG)


def test_loop_inject_hyperparams_adamw() -> None:
    tx = optax.inject_hyperparams(optax.adamw)(learning_rate=factory_schedule(LOOP_CFG), **ADAM)
    used, states = run_loop(tx, direction=adam_direction())
    assert_uses_lr_k(used, LOOP_CFG)
    assert_float32_close(states[0].hyperparams["learning_rate"], LOOP_CFG, 0)
    reported = np.array([float(s.hyperparams["learning_rate"]) for s in states[1:]])
    assert_uses_lr_k(reported, LOOP_CFG)


# --- hostile arguments: tests/_hostile.py's table in optax's argument names ----------------

DECAY = {"init_value": 0.1, "decay_steps": BUDGET, "phi": 2.0, "alpha": 0.0}
WARMUP = {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 10, "decay_steps": BUDGET, "phi": 2.0, "end_value": 0.0}
HOSTILE_CASES = [
    *cases(
        "uba_decay_schedule",
        lambda **kw: uba_decay_schedule(**{**DECAY, **kw}),
        {"peak_lr": "init_value", "total_steps": "decay_steps", "alpha": "alpha", "phi": "phi", "exponent": "exponent"},
        valid={"alpha": {"above-one"}},  # a floor above the peak, as optax's (tests/test_upstream_cosine.py)
    ),
    *cases(
        "warmup_uba_decay_schedule",
        lambda **kw: warmup_uba_decay_schedule(**{**WARMUP, **kw}),
        {
            "warmup_start_lr": "init_value",
            "peak_lr": "peak_value",
            "warmup_steps": "warmup_steps",
            "total_steps": "decay_steps",
            "min_lr": "end_value",
            "phi": "phi",
            "exponent": "exponent",
        },
    ),
    # phi overrides the config's phi (meant for a traced phi under jax.grad); a concrete
    # one must be as valid as the config's. None means "the config's".
    *cases(
        "from_uba_config",
        lambda **kw: from_uba_config(**{"config": UBAConfig(total_steps=BUDGET, peak_lr=0.1), **kw}),
        {"phi": "phi", "config": "config"},
        valid={"phi": {"none"}},
    ),
]


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_hostile_arguments_fail_at_construction_naming_them(build, arg: str, bad) -> None:
    assert_rejected(build, arg, bad)


# --- the rates are ArrayLike, as in optax ---------------------------------------------


def test_vmap_and_grad_over_learning_rates_match_optax() -> None:
    lrs = jnp.array([0.1, 0.3, 1.0])
    for count in (0, 7, 30, 99, 100, 250):
        ours = jax.jit(jax.vmap(lambda lr, c=count: uba_decay_schedule(lr, 100, 0.1)(c)))(lrs)
        theirs = jax.jit(jax.vmap(lambda lr, c=count: optax.cosine_decay_schedule(lr, 100, 0.1)(c)))(lrs)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-6, atol=1e-7)
        g_ours = jax.grad(lambda lr, c=count: uba_decay_schedule(lr, 100, 0.1)(c))(0.5)
        g_theirs = jax.grad(lambda lr, c=count: optax.cosine_decay_schedule(lr, 100, 0.1)(c))(0.5)
        np.testing.assert_allclose(float(g_ours), float(g_theirs), rtol=1e-6, atol=1e-7)
        # optax's warmup pair cannot be vmapped over its peak (it branches on it): the core instead
        warm = jax.jit(
            jax.vmap(lambda lr, c=count: warmup_uba_decay_schedule(lr / 100, lr, 10, 100, lr / 10, phi=3.0)(c))
        )(lrs)
        want = [
            UBAConfig(total_steps=100, peak_lr=lr, phi=3.0, min_lr=lr / 10, warmup_steps=10, warmup_start_lr=lr / 100)(
                count
            )
            for lr in (0.1, 0.3, 1.0)
        ]
        np.testing.assert_allclose(np.asarray(warm), want, rtol=1e-6, atol=1e-7)


def test_an_array_of_rates_gives_one_curve_each() -> None:
    sched = uba_decay_schedule(np.array([0.1, 0.2]), 50, np.array([0.0, 0.5]), phi=4.0)
    out = np.asarray(jax.jit(sched)(20))
    want = [UBAConfig(total_steps=50, peak_lr=p, phi=4.0, min_lr=p * a)(20) for p, a in ((0.1, 0.0), (0.2, 0.5))]
    np.testing.assert_allclose(out, want, rtol=1e-6)


@pytest.mark.parametrize("name", ["init_value", "peak_value", "end_value"])
def test_an_array_rate_is_checked_element_by_element(name: str) -> None:
    with pytest.raises(ValueError, match=f"`{name}` must be >= 0.0"):
        warmup_uba_decay_schedule(**{**WARMUP, name: np.array([0.1, -0.1])})


@pytest.mark.parametrize(
    "factory,args",
    [
        (uba_decay_schedule, (1e-3, 1000)),
        (warmup_uba_decay_schedule, (0.0, 1e-3, 10, 1000)),
    ],
    ids=["decay", "warmup"],
)
def test_the_rate_is_weakly_typed_so_bfloat16_stays_bfloat16(factory, args) -> None:
    lr = jax.jit(factory(*args))(jnp.int32(500))
    assert lr.weak_type
    assert (lr * jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16


@pytest.mark.parametrize("decay_steps", [2**31, 2**40, int(1e10), 1e10])
def test_budgets_beyond_int32_do_not_overflow(decay_steps) -> None:
    ours, theirs = uba_decay_schedule(1000.0, decay_steps), optax.cosine_decay_schedule(1000.0, decay_steps)
    for count in (0, 5, 10**9, 2**31 - 1):
        np.testing.assert_allclose(float(jax.jit(ours)(count)), float(theirs(count)), rtol=1e-6)


def test_a_concrete_phi_override_is_used() -> None:
    cfg = UBAConfig(total_steps=10, peak_lr=1.0, phi=2.0)
    got = np.asarray(from_uba_config(cfg, phi=8.0)(jnp.arange(12)))
    assert_float32_close(got, UBAConfig(total_steps=10, peak_lr=1.0, phi=8.0), np.arange(12))


def test_grad_in_phi_is_finite_with_an_exponent_below_one() -> None:
    # f ** 0.5 has an infinite slope at f = 0 (counts >= 100): the gradient there must be 0, not NaN.
    counts = (0, 50, 99, 100, 200)
    got = [
        float(jax.grad(lambda phi, c=c: uba_decay_schedule(0.1, 100, exponent=0.5, phi=phi)(c))(3.0)) for c in counts
    ]
    want = [0.1 * core_dlr_dphi(c, 3.0, exponent=0.5) for c in counts]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_a_bfloat16_rate_is_accepted() -> None:
    sched = uba_decay_schedule(jnp.bfloat16(0.5), 100)
    np.testing.assert_allclose(float(sched(50)), 0.25, rtol=1e-6)
