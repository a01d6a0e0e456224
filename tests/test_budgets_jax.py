"""uba_jax with changing budgets: stable phases, re-budgets and cooldowns.

Every schedule is compared with the float64 core curve of the config it stands for
(``UBAConfig(...)`` called on the steps), under ``jax.jit``; the re-budgeted core curves
themselves are checked against the shape they should keep (conftest's 40-digit reference
of the closed form), for continuity at the switch and for the floor at the new total.
Real optax loops switch schedules mid-run, keeping the optimizer state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

import numpy as np
import pytest
from _hostile import BUDGET, HOSTILE, WITHIN_BUDGET, Bad, assert_rejected, cases
from conftest import assert_float32_close, assert_float32_matches_core, framework, optax_eval, reference_rates

jax = framework("jax", "jax")
optax = framework("jax", "optax")
import jax.numpy as jnp  # noqa: E402

from uba_core import UBAConfig  # noqa: E402
from uba_jax import (  # noqa: E402
    cooldown,
    from_uba_config,
    rebudget,
    uba_decay_schedule,
    warmup_uba_decay_schedule,
)

# Warmup 20, stable 180, decay 200: the optax spelling is decay_steps=400 (the whole budget).
WSD = UBAConfig(
    total_steps=400, peak_lr=0.3, phi=5.0, min_lr=0.003, warmup_steps=20, warmup_start_lr=0.01, stable_steps=180
)
PLAIN = UBAConfig(total_steps=1000, peak_lr=1.0, phi=0.5, exponent=2.0)
CONSTANT = UBAConfig(total_steps=10**6, peak_lr=0.1, phi=8.0, warmup_steps=50, stable_steps=10**6 - 51)


def wsd_factory(cfg: UBAConfig):
    """``cfg`` spelled with ``warmup_uba_decay_schedule``'s arguments (``decay_steps`` is the total)."""
    return warmup_uba_decay_schedule(
        cfg.warmup_start_lr,
        cfg.peak_lr,
        cfg.warmup_steps,
        cfg.total_steps,
        cfg.min_lr,
        cfg.exponent,
        phi=cfg.phi,
        stable_steps=cfg.stable_steps,
    )


# (base config, budget changes): ("rebudget", step, total_steps) or ("cooldown", step, steps).
Change = tuple[str, int, int]
CASES: dict[str, tuple[UBAConfig, tuple[Change, ...]]] = {
    "decay-longer": (WSD, (("rebudget", 300, 600),)),
    "decay-shorter": (WSD, (("rebudget", 300, 320),)),
    "decay-last-step-longer": (WSD, (("rebudget", 399, 450),)),
    "decay-first-step-shorter": (WSD, (("rebudget", 201, 230),)),
    "stable-longer": (WSD, (("rebudget", 100, 500),)),
    "warmup-shorter": (WSD, (("rebudget", 10, 250),)),
    "longer-then-shorter": (WSD, (("rebudget", 300, 600), ("rebudget", 450, 480))),
    "no-warmup-exponent2-shorter": (PLAIN, (("rebudget", 700, 750),)),
    "cooldown-from-stable": (WSD, (("cooldown", 150, 60),)),
    "cooldown-at-warmup-end": (WSD, (("cooldown", 20, 100),)),
    "cooldown-in-decay": (WSD, (("cooldown", 300, 30),)),
    "cooldown-of-a-constant-run": (CONSTANT, (("cooldown", 5000, 500),)),
    "rebudget-then-cooldown": (WSD, (("rebudget", 300, 600), ("cooldown", 400, 50))),
}


def changed_config(cfg: UBAConfig, changes: Sequence[Change]) -> UBAConfig:
    for kind, step, length in changes:
        cfg = cfg.rebudget(step, length) if kind == "rebudget" else cfg.cooldown(step, length)
    return cfg


def changed_schedule(schedule, changes: Sequence[Change]):
    for kind, step, length in changes:
        schedule = rebudget(schedule, step, length) if kind == "rebudget" else cooldown(schedule, step, length)
    return schedule


def case_steps(old: UBAConfig, new: UBAConfig, changes: Sequence[Change]) -> np.ndarray:
    """The phase boundaries of both configs and the switches, +-1, and a grid over the new budget."""
    marks = [0, old.warmup_steps, old.warmup_steps + old.stable_steps, old.total_steps]
    marks += [new.warmup_steps + new.stable_steps, new.total_steps, *(s for _, s, _ in changes)]
    steps = np.concatenate([np.add.outer(marks, [-1, 0, 1]).ravel(), np.linspace(0, new.total_steps + 10, 97)])
    steps = np.unique(np.round(steps).astype(np.int64))
    return steps[steps >= 0]


@pytest.fixture(params=list(CASES))
def case(request) -> tuple[UBAConfig, tuple[Change, ...], UBAConfig]:
    """(old config, changes, new config from the core)."""
    old, changes = CASES[request.param]
    return old, changes, changed_config(old, changes)


# --- the core's re-budgeted curves: continuity, floor and the UBA shape -------------------


def test_core_is_continuous_at_each_switch(case) -> None:
    old, changes, _ = case
    cfg = old
    for i, (_, step, _) in enumerate(changes):
        new = changed_config(cfg, changes[i : i + 1])
        before, after = float(cfg(step)), float(new(step))
        assert abs(after - before) <= 1e-12 * before, (step, before, after)
        history = np.arange(max(step - 50, 0), step)
        np.testing.assert_allclose(new(history), cfg(history), rtol=1e-12, atol=0)
        cfg = new


def test_core_reaches_the_floor_exactly_at_the_new_total(case) -> None:
    _, _, new = case
    T = new.total_steps
    assert float(new(T - 1)) > new.min_lr
    assert np.all(new([T, T + 1, 10 * T]) == new.min_lr)


def meaning(old: UBAConfig, changes: Sequence[Change]) -> tuple[UBAConfig, list[tuple[int, int]]]:
    """``changes`` as conftest's reference takes them: a plan and its (step, new total) re-budgets.

    A cooldown is a re-budget to ``step + steps``, except one that starts in the stable
    phase (only ever the first change here): that ends the stable phase at ``step``, a plan
    with ``step - W`` stable steps and the total ``step + steps``.
    """
    plan, pairs = old, []
    for kind, step, length in changes:
        if kind == "cooldown" and step <= plan.warmup_steps + plan.stable_steps:
            assert not pairs
            plan = dataclasses.replace(plan, stable_steps=step - plan.warmup_steps, total_steps=step + length)
        else:
            pairs.append((step, length if kind == "rebudget" else step + length))
    return plan, pairs


def test_core_matches_the_reference_formula(case) -> None:
    old, changes, new = case
    plan, pairs = meaning(old, changes)
    steps = case_steps(old, new, changes)
    want = reference_rates(plan, steps, pairs)
    np.testing.assert_allclose(new(steps), want, rtol=1e-12, atol=1e-15 * new.peak_lr)


# --- the optax schedules against the core ---------------------------------------------


@pytest.mark.parametrize("build", ["factory", "from_uba_config"])
def test_stable_schedules_match_the_core(build: str) -> None:
    sched = wsd_factory(WSD) if build == "factory" else from_uba_config(WSD)
    steps = case_steps(WSD, WSD, ())
    out = optax_eval(sched, steps)
    assert out.dtype == np.float32
    assert_float32_close(out, WSD, steps)
    # The stable phase is flat (one value, the float32 peak to an ulp: floor + (peak - floor) * 1).
    assert np.unique(out[(steps >= 20) & (steps <= 200)]).size == 1


def test_stable_decay_factory_matches_the_core() -> None:
    cfg = UBAConfig(total_steps=300, peak_lr=0.2, phi=3.0, min_lr=0.02, stable_steps=120)
    # alpha * init_value rebuilds the floor through a division: far below float32's tolerance.
    sched = uba_decay_schedule(0.2, 300, 0.1, phi=3.0, stable_steps=120)
    steps = case_steps(cfg, cfg, ())
    assert_float32_close(optax_eval(sched, steps), cfg, steps)


@pytest.mark.parametrize("phi", [2.0, None], ids=["phi=2", "default-phi"])
def test_stable_phi_two_is_optax_warmup_constant_cosine(phi: float | None) -> None:
    W, S, D, start, peak, end = 20, 180, 200, 0.01, 0.3, 0.003
    shape = {} if phi is None else {"phi": phi}
    ours = warmup_uba_decay_schedule(start, peak, W, W + S + D, end, stable_steps=S, **shape)
    theirs = optax.join_schedules(
        [
            optax.linear_schedule(start, peak, W),
            optax.constant_schedule(peak),
            optax.cosine_decay_schedule(peak, D, alpha=end / peak),
        ],
        [W, W + S],
    )
    counts = jnp.arange(W + S + D + 11, dtype=jnp.int32)
    np.testing.assert_allclose(
        np.asarray(jax.jit(ours)(counts)), np.asarray(jax.jit(theirs)(counts)), rtol=1e-6, atol=1e-6 * peak
    )


@pytest.mark.parametrize("build", ["factory", "from_uba_config"])
def test_changed_schedules_match_the_core(case, build: str) -> None:
    old, changes, new = case
    base = wsd_factory(old) if build == "factory" else from_uba_config(old)
    sched = changed_schedule(base, changes)
    steps = case_steps(old, new, changes)
    out = optax_eval(sched, steps)
    assert out.dtype == np.float32
    assert_float32_close(out, new, steps)
    # The steps before the first switch keep the old schedule's rates.
    before = steps < changes[0][1]
    assert_float32_close(out[before], old, steps[before])
    # from_uba_config of the core's new config is the same schedule.
    assert_float32_close(optax_eval(from_uba_config(new), steps), new, steps)


def test_changed_schedules_are_continuous_and_reach_the_floor(case) -> None:
    old, changes, new = case
    sched = changed_schedule(wsd_factory(old), changes)
    step = changes[-1][1]
    previous = changed_schedule(wsd_factory(old), changes[:-1])
    # At the switch, both schedules give the rate the previous one had there.
    assert_float32_close(optax_eval(sched, [step]), changed_config(old, changes[:-1]), [step])
    assert_float32_close(optax_eval(previous, [step]), changed_config(old, changes[:-1]), [step])
    T = new.total_steps
    np.testing.assert_array_equal(optax_eval(sched, [T, T + 1, 2**31 - 1]), np.float32(new.min_lr))


def test_changed_schedules_vmap_and_eager(case) -> None:
    old, changes, new = case
    sched = changed_schedule(from_uba_config(old), changes)
    steps = case_steps(old, new, changes)
    counts = jnp.asarray(steps, dtype=jnp.int32)
    assert_float32_close(np.asarray(jax.jit(jax.vmap(sched))(counts)), new, steps)
    assert_float32_close(optax_eval(sched, steps, jit=False), new, steps)
    assert_float32_close(sched(int(steps[-1])), new, steps[-1])  # a Python int count


def test_array_rates_stay_arrays_through_a_rebudget() -> None:
    sched = rebudget(uba_decay_schedule(np.array([0.1, 0.2]), 100, np.array([0.0, 0.5]), stable_steps=20), 50, 150)
    steps = np.array([0, 20, 49, 50, 51, 100, 149, 150, 200])
    out = np.asarray(jax.jit(jax.vmap(sched))(jnp.asarray(steps, jnp.int32)))
    assert out.shape == (len(steps), 2)
    for i, (peak, alpha) in enumerate(((0.1, 0.0), (0.2, 0.5))):
        cfg = UBAConfig(total_steps=100, peak_lr=peak, min_lr=peak * alpha, stable_steps=20).rebudget(50, 150)
        assert_float32_close(out[:, i], cfg, steps)


def test_grad_in_phi_through_a_rebudget() -> None:
    cfg = UBAConfig(total_steps=100, peak_lr=1.0, phi=3.0, stable_steps=10)

    def core(phi: float, count: int) -> float:
        changed = UBAConfig(total_steps=100, peak_lr=1.0, phi=phi, stable_steps=10).rebudget(40, 130)
        return float(changed(count))

    for count in (20, 39, 40, 41, 90, 129):
        got = jax.jit(jax.grad(lambda phi, c=count: rebudget(from_uba_config(cfg, phi=phi), 40, 130)(c)))(3.0)
        h = 3e-5
        want = (core(3.0 + h, count) - core(3.0 - h, count)) / (2 * h)
        # float32 through ~6 operations (as in test_jax.py's phi gradient): 1e-5 relative.
        np.testing.assert_allclose(float(got), want, rtol=1e-5, atol=1e-7)


def test_changed_schedules_are_stateless_callables() -> None:
    for sched in (rebudget(wsd_factory(WSD), 300, 600), cooldown(from_uba_config(WSD), 100, 50)):
        assert callable(sched)
        assert not hasattr(sched, "init") and not hasattr(sched, "update")
        state = optax.inject_hyperparams(optax.sgd)(learning_rate=sched).init(jnp.zeros(()))
        assert type(state.hyperparams_states["learning_rate"]).__name__ == "WrappedScheduleState"


# --- budgets and counts at the ends of int32 ------------------------------------------

BIG = UBAConfig(
    total_steps=2**31 - 1,
    peak_lr=1.0,
    phi=3.0,
    min_lr=0.25,
    warmup_steps=2**28,
    warmup_start_lr=0.5,
    stable_steps=2**29,
)
BIG_START = 2**28 + 2**29  # the decay's first step
TOP = 2**31 - 1


@pytest.mark.parametrize(
    "changes",
    [
        (("rebudget", 2**30 + 12_345, 2**31 - 1000),),
        (("rebudget", 2**30 + 12_345, 2**33),),
        (("rebudget", 2**30 + 12_345, 2**40),),
        (("cooldown", BIG_START - 5, 2**30),),
        (("cooldown", 2**31 - 5000, 1000),),
        (("rebudget", 2**30, 2**34), ("cooldown", TOP - 3000, 2000)),
    ],
    ids=["shorter", "longer-past-int32", "2^40", "cooldown-from-stable", "short-cooldown-at-2^31", "twice"],
)
def test_budgets_near_and_past_int32(changes: tuple[Change, ...]) -> None:
    new = changed_config(BIG, changes)
    last = changes[-1][1]
    steps = np.unique(
        np.array(
            [0, 2**24 + 1, BIG_START - 1, BIG_START, BIG_START + 1, 2**30, last - 1, last, last + 1, last + 500]
            + [min(new.total_steps, TOP) - k for k in (1000, 1, 0)]
            + [TOP - 1, TOP],
            dtype=np.int64,
        )
    )
    steps = steps[(steps >= 0) & (steps <= TOP)]
    for sched in (changed_schedule(wsd_factory(BIG), changes), changed_schedule(from_uba_config(BIG), changes)):
        out = optax_eval(sched, steps)
        assert np.all(np.isfinite(out))
        # Before the last switch a float32 count is off by up to 2**-24 of itself.
        assert_float32_matches_core(out, new, steps)
        # After it, the distance to the end is exact (T - count in integers, or the float
        # of a total beyond int32): the rates match to float32 precision.
        after = steps >= last
        assert_float32_close(out[after], new, steps[after])
        np.testing.assert_array_equal(out[steps >= new.total_steps], np.float32(new.min_lr))


# --- real optax loops that switch schedules mid-run -------------------------------------

LOOP = UBAConfig(
    total_steps=40, peak_lr=0.3, phi=5.0, min_lr=0.003, warmup_steps=4, warmup_start_lr=0.02, stable_steps=16
)

# Adam betas exactly representable in float32 (as in test_jax.py): the reference direction
# then matches inject_hyperparams' float32 ones.
ADAM = {"b1": 0.5, "b2": 0.75, "eps": 1e-8, "weight_decay": 0.0625}


def switching_loop(tx_before, tx_after, switch: int, steps: int, direction=None):
    """Jitted updates of a scalar parameter (loss w**2 / 2): ``tx_before`` for the first
    ``switch`` updates, then ``tx_after`` on the same optimizer state.

    Returns:
        ``(used, reported)``: the lr each update used, recovered from the parameter change
        as ``-update / direction`` (``direction`` is the transformation giving the update
        before the lr; default the gradient), and the state's ``hyperparams`` lr after each
        update (None without inject_hyperparams).
    """
    ref = direction or optax.identity()

    def step_fn(tx):
        @jax.jit
        def step(params, state, ref_state):
            grads = params  # d (w**2 / 2) / dw
            updates, state = tx.update(grads, state, params)
            dirs, ref_state = ref.update(grads, ref_state, params)
            return optax.apply_updates(params, updates), state, ref_state, updates, dirs

        return step

    before, after = step_fn(tx_before), step_fn(tx_after)
    params = jnp.float32(1.0)
    state, ref_state = tx_before.init(params), ref.init(params)
    used, reported = [], []
    for k in range(steps):
        params, state, ref_state, updates, dirs = (before if k < switch else after)(params, state, ref_state)
        used.append(-float(updates) / float(dirs))
        hyper = getattr(state, "hyperparams", None)
        reported.append(None if hyper is None else float(hyper["learning_rate"]))
    return np.array(used), reported


@pytest.mark.parametrize(
    "change", [("rebudget", 30, 52), ("rebudget", 30, 34), ("cooldown", 12, 10)], ids=["longer", "shorter", "cooldown"]
)
def test_sgd_loop_switches_to_the_changed_schedule(change: Change) -> None:
    sched = wsd_factory(LOOP)
    new = changed_config(LOOP, (change,))
    steps = new.total_steps + 5  # past the new budget: the floor holds
    used, _ = switching_loop(optax.sgd(sched), optax.sgd(changed_schedule(sched, (change,))), change[1], steps)
    assert_float32_close(used, new, np.arange(steps))
    assert_float32_close(used[: change[1]], LOOP, np.arange(change[1]))


def test_inject_hyperparams_adamw_loop_cools_down() -> None:
    run = warmup_uba_decay_schedule(0.02, 0.3, 4, 10**6, 0.003, phi=5.0, stable_steps=10**6 - 5)
    switch, length = 15, 12
    new = UBAConfig(
        total_steps=10**6,
        peak_lr=0.3,
        phi=5.0,
        min_lr=0.003,
        warmup_steps=4,
        warmup_start_lr=0.02,
        stable_steps=10**6 - 5,
    ).cooldown(switch, length)
    assert (new.stable_steps, new.total_steps) == (switch - 4, switch + length)
    adamw = optax.inject_hyperparams(optax.adamw)
    direction = optax.chain(
        optax.scale_by_adam(b1=ADAM["b1"], b2=ADAM["b2"], eps=ADAM["eps"]),
        optax.add_decayed_weights(ADAM["weight_decay"]),
    )
    steps = switch + length + 4
    used, reported = switching_loop(
        adamw(learning_rate=run, **ADAM),
        adamw(learning_rate=cooldown(run, switch, length), **ADAM),
        switch,
        steps,
        direction,
    )
    assert_float32_close(used, new, np.arange(steps))
    # optax 0.2.8: after update k the state holds the lr update k used.
    assert_float32_close(np.array(reported, dtype=np.float64), new, np.arange(steps))


# --- hostile arguments: tests/_hostile.py's rows, spelled for the new arguments ----------


def relabeled(field: str, arg: str, drop: Collection[str] = ()) -> list[Bad]:
    """The table's rows of ``field`` for an argument ``arg`` that follows the same rule."""
    return [row._replace(field=arg) for row in HOSTILE if row.field == field and row.kind not in drop]


def params(entry: str, build, rows: Sequence[Bad]) -> list:
    """The pytest params ``(build, arg, bad)`` of rows whose field is the argument itself."""
    return [pytest.param(build, row.field, row, id=f"{entry}-{row.field}-{row.kind}") for row in rows]


DECAY = {"init_value": 0.1, "decay_steps": BUDGET}
WARMUP = {"init_value": 0.0, "peak_value": 0.1, "warmup_steps": 10, "decay_steps": BUDGET}
OUTSIDE = "must be a schedule built by uba_jax"
NOT_OURS = [
    Bad("schedule", "optax-cosine", optax.cosine_decay_schedule(0.1, 100), TypeError, OUTSIDE),
    Bad("schedule", "lambda", lambda count: 0.1 * count, TypeError, OUTSIDE),
    Bad("schedule", "none", None, TypeError, OUTSIDE),
    Bad("schedule", "float", 0.1, TypeError, OUTSIDE),
    Bad("schedule", "config", WSD, TypeError, OUTSIDE),
]
# The budget is decay_steps here (the other rows of these factories are in test_jax.py).
IN_DECAY_STEPS = {
    ("stable_steps", kind): (ValueError, WITHIN_BUDGET.format(total_steps="decay_steps"))
    for kind in ("at-budget", "past-budget")
}
HOSTILE_CASES = [
    *cases(
        "uba_decay_schedule",
        lambda **kw: uba_decay_schedule(**{**DECAY, **kw}),
        {"stable_steps": "stable_steps"},
        errors=IN_DECAY_STEPS,
    ),
    *cases(
        "warmup_uba_decay_schedule",
        lambda **kw: warmup_uba_decay_schedule(**{**WARMUP, **kw}),
        {"stable_steps": "stable_steps"},
        errors=IN_DECAY_STEPS,
    ),
    *params(
        "warmup_uba_decay_schedule",
        lambda **kw: warmup_uba_decay_schedule(**{**WARMUP, **kw}),
        [Bad("stable_steps", "fills-the-rest", BUDGET - 10, ValueError, "must be < `decay_steps`")],
    ),
    *params(
        "rebudget",
        lambda **kw: rebudget(**{"schedule": from_uba_config(WSD), "step": 300, "total_steps": 600, **kw}),
        [
            *relabeled("warmup_steps", "step", drop={"at-budget", "past-budget"}),
            Bad("step", "at-the-end", 400, ValueError, "must be < this schedule's total_steps=400"),
            Bad("step", "past-new-total", 700, ValueError, "must be > `step`"),
            *relabeled("total_steps", "total_steps"),
            Bad("total_steps", "at-step", 300, ValueError, "must be > `step`"),
            *NOT_OURS,
        ],
    ),
    *params(
        "rebudget(stable)",
        lambda **kw: rebudget(**{"schedule": from_uba_config(WSD), "step": 100, "total_steps": 600, **kw}),
        [Bad("total_steps", "inside-stable", 200, ValueError, "must be < `total_steps`")],
    ),
    *params(
        "cooldown",
        lambda **kw: cooldown(**{"schedule": from_uba_config(WSD), "step": 300, "steps": 50, **kw}),
        [
            *relabeled("warmup_steps", "step", drop={"at-budget", "past-budget"}),
            Bad("step", "in-warmup", 19, ValueError, "must be >= warmup_steps=20"),
            Bad("step", "at-the-end", 400, ValueError, "must be < this schedule's total_steps=400"),
            *relabeled("total_steps", "steps"),
            *NOT_OURS,
        ],
    ),
]


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_hostile_arguments_fail_naming_them(build, arg: str, bad: Bad) -> None:
    assert_rejected(build, arg, bad)
