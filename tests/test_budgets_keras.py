"""uba_tf.UBADecay with changing budgets: stable phases, re-budgets and cooldowns.

Each schedule is compared with the float64 core curve of the config it stands for
(``UBAConfig(...)`` called on the steps); the stable phase also with keras' own
``CosineDecay`` shifted by the stable steps. A re-budgeted schedule is a ``UBADecay``
again: its config survives JSON, keras serialization and ``model.save`` /
``keras.models.load_model``, and ``model.fit`` uses its rates after the switch.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

import numpy as np
import pytest
from _hostile import BUDGET, HOSTILE, Bad, assert_rejected, cases
from conftest import (
    assert_float32_close,
    assert_float32_matches_core,
    assert_weights_fall_by_lrs,
    framework,
    keras_eval,
    keras_fit_weights,
    keras_one_weight_model,
)

keras = framework("tf", "keras")

from uba_core import UBAConfig  # noqa: E402
from uba_tf import UBADecay  # noqa: E402

# Warmup 20 and stable 180 add to decay_steps 200: a budget of 400 steps.
WSD = {
    "initial_learning_rate": 0.01,
    "decay_steps": 200,
    "alpha": 0.01,
    "warmup_target": 0.3,
    "warmup_steps": 20,
    "phi": 5.0,
    "stable_steps": 180,
}
WSD_CFG = UBAConfig(
    total_steps=400, peak_lr=0.3, phi=5.0, min_lr=0.01 * 0.3, warmup_steps=20, warmup_start_lr=0.01, stable_steps=180
)
# Without warmup_target: the peak is initial_learning_rate, held for the stable steps.
HOLD = {"initial_learning_rate": 0.2, "decay_steps": 100, "phi": 0.5, "stable_steps": 50, "name": "hold"}
HOLD_CFG = UBAConfig(total_steps=150, peak_lr=0.2, phi=0.5, stable_steps=50)


def test_stable_steps_add_to_the_budget() -> None:
    assert UBADecay(**WSD).uba_config == WSD_CFG
    assert UBADecay(**HOLD).uba_config == HOLD_CFG
    # CosineDecay ignores warmup_steps without warmup_target; so does UBADecay (with a warning).
    with pytest.warns(UserWarning, match="no effect"):
        assert UBADecay(**HOLD, warmup_steps=7).uba_config == HOLD_CFG


@pytest.mark.parametrize("kwargs,cfg", [(WSD, WSD_CFG), (HOLD, HOLD_CFG)], ids=["warmup-stable", "stable"])
def test_stable_schedules_match_the_core(kwargs: dict, cfg: UBAConfig) -> None:
    sched = UBADecay(**kwargs)
    steps = np.arange(cfg.total_steps + 10)
    for dtype in ("int64", "int32"):
        out = keras_eval(sched, steps, dtype)
        assert out.dtype == np.float32
        assert_float32_close(out, cfg, steps)
    stable = (steps >= cfg.warmup_steps) & (steps <= cfg.warmup_steps + cfg.stable_steps)
    assert np.unique(out[stable]).size == 1  # flat


@pytest.mark.parametrize("phi", [2.0, None], ids=["phi=2", "default-phi"])
def test_stable_phi_two_is_cosine_decay_shifted_by_the_stable_steps(phi: float | None) -> None:
    W, S = WSD["warmup_steps"], WSD["stable_steps"]
    kwargs = {k: v for k, v in WSD.items() if k not in ("phi", "stable_steps")}
    ours = UBADecay(**kwargs, stable_steps=S, **({} if phi is None else {"phi": phi}))
    cosine = keras.optimizers.schedules.CosineDecay(**kwargs)
    steps = np.array([0, 5, W - 1, W, W + 1, 100, W + S - 1, W + S, W + S + 1, 250, 300, 399, 400, 410])
    theirs = [float(cosine(int(t) if t <= W else max(int(t) - S, W))) for t in steps]
    np.testing.assert_allclose(keras_eval(ours, steps), theirs, rtol=1e-6, atol=1e-6 * 0.3)


# --- re-budgets and cooldowns --------------------------------------------------------------

# (base arguments, changes): ("rebudget", step, total_steps) or ("cooldown", step, steps).
Change = tuple[str, int, int]
CASES: dict[str, tuple[dict, tuple[Change, ...]]] = {
    "decay-longer": (WSD, (("rebudget", 300, 600),)),
    "decay-shorter": (WSD, (("rebudget", 300, 320),)),
    "stable-longer": (WSD, (("rebudget", 100, 500),)),
    "longer-then-shorter": (WSD, (("rebudget", 300, 600), ("rebudget", 450, 480))),
    "no-warmup-shorter": (HOLD, (("rebudget", 120, 130),)),
    "cooldown-from-stable": (WSD, (("cooldown", 150, 60),)),
    "cooldown-in-decay": (WSD, (("cooldown", 300, 30),)),
    "rebudget-then-cooldown": (HOLD, (("rebudget", 60, 300), ("cooldown", 200, 40))),
}


def changed(sched, changes: Sequence[Change]):
    """A ``UBADecay`` or a ``UBAConfig`` after ``changes`` (both have rebudget and cooldown)."""
    for kind, step, length in changes:
        sched = sched.rebudget(step, length) if kind == "rebudget" else sched.cooldown(step, length)
    return sched


@pytest.fixture(params=list(CASES))
def case(request) -> tuple[UBADecay, tuple[Change, ...], UBAConfig]:
    """(the base schedule, the changes, the core's changed config)."""
    kwargs, changes = CASES[request.param]
    old = UBADecay(**kwargs)
    return old, changes, changed(old.uba_config, changes)


def case_steps(old: UBAConfig, new: UBAConfig, changes: Sequence[Change]) -> np.ndarray:
    marks = [0, old.warmup_steps + old.stable_steps, old.total_steps, new.warmup_steps + new.stable_steps]
    marks += [new.total_steps, *(s for _, s, _ in changes)]
    steps = np.concatenate([np.add.outer(marks, [-1, 0, 1]).ravel(), np.linspace(0, new.total_steps + 10, 61)])
    steps = np.unique(np.round(steps).astype(np.int64))
    return steps[steps >= 0]


def test_changed_schedules_match_the_core(case) -> None:
    old, changes, cfg = case
    new = changed(old, changes)
    assert type(new) is UBADecay
    assert new.uba_config == cfg
    config = new.get_config()
    assert config["decay_steps"] == cfg.total_steps - cfg.warmup_steps - cfg.stable_steps
    assert (config["stable_steps"], config["rebudgets"]) == (cfg.stable_steps, [list(k) for k in cfg.rebudgets])
    # The other arguments are kept, name and alpha included.
    kept = {k: v for k, v in old.get_config().items() if k not in ("decay_steps", "stable_steps", "rebudgets")}
    assert {k: config[k] for k in kept} == kept
    steps = case_steps(old.uba_config, cfg, changes)
    for dtype in ("int64", "int32"):
        out = keras_eval(new, steps, dtype)
        assert out.dtype == np.float32
        assert_float32_close(out, cfg, steps)
    before = steps < changes[0][1]
    assert_float32_close(out[before], old.uba_config, steps[before])


def test_changed_schedules_are_continuous_and_reach_the_floor(case) -> None:
    old, changes, cfg = case
    previous = changed(old, changes[:-1])
    step = changes[-1][1]
    # The core: no jump at the switch (float64).
    before, after = float(previous.uba_config(step)), float(cfg(step))
    assert abs(after - before) <= 1e-12 * before
    # The schedule: at the switch it gives the previous schedule's rate, to float32.
    assert_float32_close(keras_eval(changed(old, changes), [step]), previous.uba_config, [step])
    T = cfg.total_steps
    assert float(cfg(T - 1)) > cfg.min_lr
    floor = keras_eval(changed(old, changes), [T, T + 1, 2**40])
    np.testing.assert_array_equal(floor, np.float32(cfg.min_lr))


def test_from_uba_config_carries_stable_steps_and_rebudgets(case) -> None:
    _, _, cfg = case
    sched = UBADecay.from_uba_config(cfg, name="from_core")
    assert sched.uba_config == cfg
    assert sched.get_config()["decay_steps"] == cfg.total_steps - cfg.warmup_steps - cfg.stable_steps
    steps = np.arange(0, cfg.total_steps + 5, 3)
    assert_float32_close(keras_eval(sched, steps), cfg, steps)


def test_a_float64_rate_stays_float64_through_a_rebudget() -> None:
    sched = UBADecay(np.float64(0.1), 100, 0.01, stable_steps=20).rebudget(60, 150)
    cfg = UBAConfig(total_steps=120, peak_lr=0.1, min_lr=0.001, stable_steps=20).rebudget(60, 150)
    steps = np.arange(0, 160, 7)
    out = keras_eval(sched, steps)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, cfg(steps), rtol=1e-13, atol=1e-17)


BIG = UBAConfig(total_steps=3 * 2**31, peak_lr=0.1, phi=3.0, min_lr=1e-3, warmup_steps=2**30, stable_steps=2**31)
SWITCH = 2**31 + 2**30 + 12_345  # inside BIG's decay


@pytest.mark.parametrize(
    "changes",
    [(("rebudget", SWITCH, 2**33 + 5),), (("cooldown", 2**31, 2**20),), (("cooldown", SWITCH, 1000),)],
    ids=["rebudget-past-2^33", "cooldown-from-stable", "short-cooldown"],
)
def test_int64_steps_beyond_int32(changes: tuple[Change, ...]) -> None:
    cfg = changed(BIG, changes)
    sched = changed(UBADecay.from_uba_config(BIG), changes)
    assert sched.uba_config == cfg
    last = changes[-1][1]
    T = cfg.total_steps
    steps = np.unique(np.array([0, 2**30, 2**31 - 1, last - 1, last, last + 1, last + 999, T - 1, T, T + 1, 2**62]))
    out = keras_eval(sched, steps)
    # Before the last switch a float32 step is off by up to 2**-24 of itself.
    assert_float32_matches_core(out, cfg, steps)
    # After it, the distance to the end is exact (T - step in int64): float32 precision.
    after = steps >= last
    assert_float32_close(out[after], cfg, steps[after])
    np.testing.assert_array_equal(out[steps >= T], np.float32(cfg.min_lr))


# --- serialization ----------------------------------------------------------------------


def test_get_config_json_round_trip(case) -> None:
    old, changes, cfg = case
    new = changed(old, changes)
    config = new.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON primitives: lists, ints, floats
    again = UBADecay.from_config(json.loads(json.dumps(config)))
    assert again.get_config() == config
    assert again.uba_config == cfg
    blob = json.loads(json.dumps(keras.optimizers.schedules.serialize(new)))
    assert keras.optimizers.schedules.deserialize(blob).uba_config == cfg
    steps = case_steps(old.uba_config, cfg, changes)
    np.testing.assert_array_equal(keras_eval(again, steps), keras_eval(new, steps))


# --- model.fit: switching the schedule of a compiled model ------------------------------

FIT = {
    "initial_learning_rate": 0.02,
    "decay_steps": 20,
    "alpha": 0.01,
    "warmup_target": 0.3,
    "warmup_steps": 4,
    "phi": 5.0,
    "stable_steps": 16,
}


def fit_recording(model, batches: int):
    """Fit ``batches`` steps; the weights (before each step, after the last) and the
    optimizer's lr and iterations read before each step."""
    lrs: list[float] = []
    iterations: list[int] = []

    def record(*_, **__) -> None:
        lrs.append(float(model.optimizer.learning_rate))
        iterations.append(int(model.optimizer.iterations))

    callback = keras.callbacks.LambdaCallback(on_train_batch_begin=record)
    weights = keras_fit_weights(model, batches=batches, callbacks=[callback])
    return weights, np.array(lrs), iterations


def switch(model, schedule: UBADecay) -> None:
    """Give a compiled model a new schedule: the compiled train step holds the old one."""
    model.optimizer.learning_rate = schedule
    model.make_train_function(force=True)


@pytest.mark.parametrize(
    "change", [("rebudget", 30, 48), ("rebudget", 30, 33), ("cooldown", 12, 10)], ids=["longer", "shorter", "cooldown"]
)
def test_fit_switches_to_the_changed_schedule(change: Change) -> None:
    old = UBADecay(**FIT)
    cfg = changed(old.uba_config, (change,))
    model = keras_one_weight_model(old)
    first, _, _ = fit_recording(model, change[1])
    switch(model, changed(old, (change,)))
    rest, lrs, iterations = fit_recording(model, cfg.total_steps + 3 - change[1])
    assert iterations == list(range(change[1], cfg.total_steps + 3))
    assert_float32_close(lrs, cfg, iterations)
    assert_weights_fall_by_lrs(np.concatenate([first, rest[1:]]), cfg)


def test_a_switched_model_saves_and_resumes(tmp_path) -> None:
    old = UBADecay(**FIT)
    new = old.rebudget(28, 50)
    cfg = new.uba_config
    model = keras_one_weight_model(old)
    fit_recording(model, 28)
    switch(model, new)
    fit_recording(model, 4)
    path = tmp_path / "switched.keras"
    model.save(path)

    loaded = keras.models.load_model(path)
    sched = loaded.optimizer._learning_rate  # the schedule object (optimizer.learning_rate is its value)
    assert type(sched) is UBADecay
    assert sched.get_config() == new.get_config()
    assert sched.uba_config == cfg
    steps = np.arange(0, 60)
    np.testing.assert_array_equal(keras_eval(sched, steps), keras_eval(new, steps))
    weights, lrs, iterations = fit_recording(loaded, 25)
    assert iterations == list(range(32, 57))
    assert_float32_close(lrs, cfg, iterations)
    assert_weights_fall_by_lrs(weights, cfg, first=32)


# --- hostile arguments: tests/_hostile.py's rows, spelled for the new arguments -----------


def relabeled(field: str, arg: str, drop: Collection[str] = ()) -> list[Bad]:
    """The table's rows of ``field`` for an argument ``arg`` that follows the same rule."""
    return [row._replace(field=arg) for row in HOSTILE if row.field == field and row.kind not in drop]


def params(entry: str, build, rows: Sequence[Bad]) -> list:
    """The pytest params ``(build, arg, bad)`` of ``rows``."""
    return [pytest.param(build, row.field, row, id=f"{entry}-{row.field}-{row.kind}") for row in rows]


# A budget of BUDGET steps whose decay starts at step 30 (the table's rebudgets rows need
# it to start before 40). stable_steps adds to the budget, as warmup_steps does: any
# count >= 0 is valid, the table's "at-budget" and "past-budget" included.
SMALL = {"initial_learning_rate": 0.0, "decay_steps": BUDGET - 30, "warmup_target": 0.1, "warmup_steps": 10}
HOSTILE_CASES = [
    *cases(
        "UBADecay",
        lambda **kw: UBADecay(**{**SMALL, "stable_steps": 20, **kw}),
        {"stable_steps": "stable_steps", "rebudgets": "rebudgets"},
        valid={"stable_steps": {"at-budget", "past-budget"}},
    ),
    *cases(
        "UBADecay(no warmup)",
        lambda **kw: UBADecay(**{"initial_learning_rate": 0.1, "decay_steps": BUDGET - 30, "stable_steps": 30, **kw}),
        {"stable_steps": "stable_steps", "rebudgets": "rebudgets"},
        valid={"stable_steps": {"at-budget", "past-budget"}},
    ),
    *params(
        "UBADecay.rebudget",
        lambda **kw: UBADecay(**WSD).rebudget(**{"step": 300, "total_steps": 600, **kw}),
        [
            *relabeled("warmup_steps", "step", drop={"at-budget", "past-budget"}),
            Bad("step", "at-the-end", 400, ValueError, "must be < this schedule's total_steps=400"),
            Bad("step", "past-new-total", 700, ValueError, "must be > `step`"),
            *relabeled("total_steps", "total_steps"),
            Bad("total_steps", "at-step", 300, ValueError, "must be > `step`"),
        ],
    ),
    *params(
        "UBADecay.rebudget(stable)",
        lambda **kw: UBADecay(**WSD).rebudget(**{"step": 100, "total_steps": 600, **kw}),
        [Bad("total_steps", "inside-stable", 200, ValueError, "must be < `total_steps`")],
    ),
    *params(
        "UBADecay.cooldown",
        lambda **kw: UBADecay(**WSD).cooldown(**{"step": 300, "steps": 50, **kw}),
        [
            *relabeled("warmup_steps", "step", drop={"at-budget", "past-budget"}),
            Bad("step", "in-warmup", 19, ValueError, "must be >= warmup_steps=20"),
            Bad("step", "at-the-end", 400, ValueError, "must be < this schedule's total_steps=400"),
            *relabeled("total_steps", "steps"),
        ],
    ),
]


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_hostile_arguments_fail_naming_them(build, arg: str, bad: Bad) -> None:
    assert_rejected(build, arg, bad)
