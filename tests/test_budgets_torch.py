"""Budgets that change, on the torch side: ``UBALR``'s stable phase, ``rebudget``, ``cooldown``
and the ``on_budget_change`` policy of ``load_state_dict``.

Compared with: an independent formula written here (the closed form's shape from
tests/conftest.py, placed on the steps by hand), transformers' ``get_wsd_schedule``
at phi = 2, the core's ``UBAConfig.rebudget`` / ``cooldown`` curves (exactly, since the
adapter evaluates the core), and a real HF ``Trainer`` resumed with a larger
``max_steps``. The lr an update used is read from the optimizer before the update
(in the Trainer, by an optimizer step pre-hook).

This file is also the Trainer's worker script (``python tests/test_budgets_torch.py
trainer_resume OUT_JSON ARGS_JSON``, a fresh interpreter, as tests/_stack_workers.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _processes import run_worker, worker_command, worker_env
from conftest import framework, group_lrs, past_the_budget, reference_factor, sgd, step_lrs

torch = framework("torch", "torch")

from uba_core import UBAConfig  # noqa: E402
from uba_torch import (  # noqa: E402
    UBALR,
    UBABudgetWarning,
    get_uba_schedule_with_warmup,
    get_uba_with_hard_restarts_schedule_with_warmup,
)

# Two groups with their own peaks and floors; warmup 10, stable 20, decay 70.
PEAKS, FLOORS = (0.1, 0.03), [0.001, 0.0]
PLAN = {"T_max": 100, "eta_min": FLOORS, "phi": 3.0, "warmup_steps": 10, "stable_steps": 20}


def configs(plan: dict[str, Any] = PLAN, peaks=PEAKS) -> list[UBAConfig]:
    """The core config of each group of ``UBALR(sgd(peaks), **plan)``."""
    floors = plan.get("eta_min", 0.0)
    floors = floors if isinstance(floors, list) else [floors] * len(peaks)
    return [
        UBAConfig(
            total_steps=plan["T_max"],
            peak_lr=peak,
            phi=plan.get("phi", 2.0),
            min_lr=floor,
            warmup_steps=plan.get("warmup_steps", 0),
            stable_steps=plan.get("stable_steps", 0),
        )
        for peak, floor in zip(peaks, floors, strict=True)
    ]


def reference(t: int, peak: float, floor: float, phi: float, *, W: int, S: int, T: int, q0=1.0, s0=None) -> float:
    """Warmup from 0 over W steps, the peak for S steps, then the closed form's shape f(1 - q) on the
    remaining fraction q, which falls linearly to 0 at T: from 1 at W + S, or (after a
    re-budget at step s0) from q0 at s0."""
    if t < W:
        return peak * t / W
    start, q_start = (W + S, 1.0) if s0 is None else (s0, q0)
    if t < start:
        return peak
    q = max(q_start * (T - t) / (T - start), 0.0)
    return floor + (peak - floor) * reference_factor(1.0 - q, phi)


def run(sched: UBALR, steps: int) -> np.ndarray:
    """The lrs (steps, groups) of the next ``steps`` updates of ``sched``'s optimizer."""
    return step_lrs(sched.optimizer, [sched], steps)


def saved(sched: UBALR) -> dict[str, Any]:
    """``sched.state_dict()`` through ``torch.save`` and ``torch.load(weights_only=True)``."""
    buffer = io.BytesIO()
    torch.save(sched.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    """A block in which any warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# --- the stable phase -------------------------------------------------------------------------


def test_stable_phase_in_a_loop_is_the_core_and_the_independent_formula() -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    with past_the_budget():  # 110 updates of a budget of 100
        lrs = run(sched, 110)
    steps = np.arange(110)
    for g, cfg in enumerate(configs()):
        np.testing.assert_array_equal(lrs[:, g], cfg(steps))
        expected = [reference(t, cfg.peak_lr, cfg.min_lr, 3.0, W=10, S=20, T=100) for t in steps]
        np.testing.assert_allclose(lrs[:, g], expected, rtol=1e-12, atol=0)
        assert np.all(lrs[10:31, g] == cfg.peak_lr)  # the peak from W to W + S, the decay's first step included
        assert lrs[31, g] < cfg.peak_lr and np.all(lrs[100:, g] == cfg.min_lr)


@pytest.mark.parametrize("min_lr_ratio", [0.0, 0.05], ids=["floor-0", "floor-ratio"])
def test_phi_two_with_a_stable_phase_is_transformers_wsd_cosine(min_lr_ratio: float) -> None:
    optimization = framework("torch", "transformers.optimization")
    W, S, D, peak = 6, 15, 29, 0.3
    T = W + S + D

    def lrs(factory) -> np.ndarray:
        """The lr of steps 0 .. T, included."""
        opt = sgd((peak,))
        return np.append(step_lrs(opt, [factory(opt)], T)[:, 0], opt.param_groups[0]["lr"])

    theirs = lrs(
        lambda o: optimization.get_wsd_schedule(
            o, W, D, num_training_steps=T, decay_type="cosine", min_lr_ratio=min_lr_ratio
        )
    )
    if min_lr_ratio == 0.0:
        ours = lrs(lambda o: get_uba_schedule_with_warmup(o, W, T, num_stable_steps=S, phi=2.0))
    else:
        # get_wsd_schedule warms up from min_lr_ratio * peak and decays to it; the factory
        # warms up from 0, so UBALR is given that start.
        floor = min_lr_ratio * peak
        ours = lrs(lambda o: UBALR(o, T, floor, phi=2.0, warmup_steps=W, warmup_start_lr=floor, stable_steps=S))
    # Same conventions (checked here, not assumed): the warmup covers steps 0 .. W - 1, the peak
    # holds from W through W + S (the decay's first step is its peak, progress 0), and the floor
    # is reached at T = W + S + D exactly. No off-by-one between the two.
    np.testing.assert_array_equal(ours[W : W + S + 1], theirs[W : W + S + 1])  # the stable phase
    assert ours[T] == theirs[T] == min_lr_ratio * peak  # the floor: the same product
    if min_lr_ratio == 0.0:
        np.testing.assert_array_equal(ours[:W], theirs[:W])  # both form peak * (t / W)
    # The warmup with a start (start + (peak - start) t / W against peak (r + (1 - r) t / W)) and
    # the decay (tan form against 0.5 (1 + cos)) are different float expressions; transformers'
    # form loses the last digits of rates near 0.
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15 * peak)
    assert np.all(np.diff(ours[W + S :]) < 0)  # and it does decay from the peak at W + S


# --- hard restarts, as transformers' get_cosine_with_hard_restarts_schedule_with_warmup --------


def restart_lrs(factory, peaks, steps: int) -> np.ndarray:
    """Every group's lr at steps 0 .. steps - 1 of ``factory(opt)``, on a positional call."""
    opt = sgd(peaks)
    return step_lrs(opt, [factory(opt)], steps)


@pytest.mark.parametrize(
    "W,T,cycles",
    [(0, 60, 1), (5, 65, 3), (4, 50, 2.5), (10, 47, 4)],
    ids=["one-cycle", "three-cycles", "fractional-cycles", "cycles-off-the-grid"],
)
def test_hard_restarts_at_phi_two_are_transformers(W: int, T: int, cycles: float) -> None:
    optimization = framework("torch", "transformers.optimization")
    peaks = (0.3, 0.02)
    theirs = restart_lrs(
        lambda o: optimization.get_cosine_with_hard_restarts_schedule_with_warmup(o, W, T, cycles), peaks, T + 5
    )
    ours = restart_lrs(lambda o: get_uba_with_hard_restarts_schedule_with_warmup(o, W, T, cycles), peaks, T + 5)
    # transformers' 0.5 (1 + cos) loses the last digits of rates near 0 (see the WSD test above)
    for g, peak in enumerate(peaks):
        np.testing.assert_allclose(ours[:, g], theirs[:, g], rtol=1e-12, atol=1e-15 * peak)
    assert np.all(ours[T:] == 0.0)
    # each cycle that starts on a step starts at the peak
    starts = [W + k * (T - W) / cycles for k in range(math.ceil(cycles))]
    on_grid = [int(s) for s in starts if s == int(s)]
    np.testing.assert_array_equal(ours[on_grid], np.tile(peaks, (len(on_grid), 1)))


@pytest.mark.parametrize("phi,rate", [(0.5, 0.0), (6.0, 0.1)], ids=["phi-0.5", "phi-6-floor"])
def test_hard_restarts_at_another_phi_follow_the_independent_formula(phi: float, rate: float) -> None:
    W, T, cycles, peak = 4, 40, 3, 0.2
    ours = restart_lrs(
        lambda o: get_uba_with_hard_restarts_schedule_with_warmup(o, W, T, cycles, phi=phi, min_lr_rate=rate),
        (peak,),
        T + 3,
    )[:, 0]
    b = phi / 2  # f = c / (b + (1 - b) c), c the cosine profile (the Moebius form)
    expected = []
    for t in range(T + 3):
        if t < W:
            expected.append(peak * t / W)
        elif t >= T:
            expected.append(peak * rate)
        else:
            c = (1 + math.cos(math.pi * ((cycles * (t - W) / (T - W)) % 1.0))) / 2
            expected.append(peak * (rate + (1 - rate) * c / (b + (1 - b) * c)))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15 * peak)


def test_hard_restarts_state_dict_holds_the_schedule_in_plain_types(tmp_path) -> None:
    opt = sgd((0.1,))
    sched = get_uba_with_hard_restarts_schedule_with_warmup(opt, 2, 30, 3, phi=4.0)
    run(sched, 11)
    torch.save(sched.state_dict(), tmp_path / "sched.pt")
    # the HF Trainer's order: build, load the optimizer, then the scheduler
    fresh_opt = sgd((0.1,))
    fresh = get_uba_with_hard_restarts_schedule_with_warmup(fresh_opt, 0, 10, 1)  # another schedule
    fresh_opt.load_state_dict(opt.state_dict())
    fresh.load_state_dict(torch.load(tmp_path / "sched.pt", weights_only=True))
    np.testing.assert_array_equal(run(fresh, 25), run(sched, 25))


@pytest.mark.parametrize(
    "args,kwargs,error,match",
    [
        ((10, 10), {}, ValueError, r"`num_warmup_steps` must be < `num_training_steps`.*num_warmup_steps=10"),
        ((0, 10, 0), {}, ValueError, r"`num_cycles` must be > 0\. Received: num_cycles=0"),
        ((0, 10, "2"), {}, TypeError, r"`num_cycles` must be a real number"),
        ((0, 10), {"phi": -1.0}, ValueError, r"`phi` must be > 0"),
        ((0, 10), {"min_lr_rate": 1.5}, ValueError, r"`min_lr_rate` must be <= 1\.0\. Received: min_lr_rate=1\.5"),
    ],
    ids=["warmup-fills-the-budget", "zero-cycles", "str-cycles", "negative-phi", "floor-above-the-peak"],
)
def test_hard_restarts_bad_arguments_are_named(args, kwargs, error, match: str) -> None:
    with pytest.raises(error, match=match):
        get_uba_with_hard_restarts_schedule_with_warmup(sgd(), *args, **kwargs)


def test_from_uba_config_carries_the_stable_phase_and_the_rebudgets() -> None:
    cfg = UBAConfig(total_steps=80, peak_lr=0.2, phi=0.7, min_lr=0.01, warmup_steps=4, stable_steps=16)
    cfg = cfg.rebudget(40, 120).rebudget(70, 90)
    sched = UBALR.from_uba_config(sgd((0.5, 0.4)), cfg)
    assert sched.configs == [cfg, cfg]  # each group: the config itself, its peak included
    with past_the_budget():  # 95 updates of a budget of 90
        lrs = run(sched, 95)
    np.testing.assert_array_equal(lrs, np.stack([cfg(np.arange(95))] * 2, axis=1))


def test_the_factory_names_its_stable_steps_in_errors() -> None:
    with pytest.raises(ValueError, match=r"`num_stable_steps` must be >= 0\. Received: num_stable_steps=-1"):
        get_uba_schedule_with_warmup(sgd(), 2, 10, num_stable_steps=-1)
    with pytest.raises(
        ValueError,
        match=r"`num_warmup_steps` \+ `num_stable_steps` must be < `num_training_steps`.*"
        r"num_warmup_steps=2, num_stable_steps=8, num_training_steps=10",
    ):
        get_uba_schedule_with_warmup(sgd(), 2, 10, num_stable_steps=8)


# --- rebudget and cooldown in a plain loop --------------------------------------------------------


@pytest.mark.parametrize("total", [160, 75, 61], ids=["longer", "shorter", "one-step-left"])
@pytest.mark.parametrize("at", [25, 60], ids=["in-stable-phase", "in-decay"])
def test_rebudget_in_a_loop_is_continuous_and_ends_at_the_floor(at: int, total: int) -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    before = run(sched, at)
    holding = group_lrs(sched.optimizer)  # what update `at` will use
    sched.rebudget(total)
    assert group_lrs(sched.optimizer) == holding and sched.T_max == total and sched.last_epoch == at
    with past_the_budget():  # 5 updates past the new total
        after = run(sched, total - at + 5)
    steps = np.arange(at, total + 5)
    for g, cfg in enumerate(configs()):
        new = cfg.rebudget(at, total)
        assert sched.configs[g] == new
        np.testing.assert_array_equal(before[:, g], cfg(np.arange(at)))  # the past is untouched
        np.testing.assert_array_equal(after[:, g], new(steps))  # the future is the core's curve
        assert abs(after[0, g] - holding[g]) <= 1e-12 * holding[g]  # continuous at `at`
        assert np.all(after[total - at :, g] == cfg.min_lr)  # the floor from the new total on
        assert after[total - at - 1, g] > cfg.min_lr  # and not before
        q0 = cfg.remaining_fraction(at)
        expected = [
            reference(t, cfg.peak_lr, cfg.min_lr, 3.0, W=10, S=20, T=total, q0=q0, s0=max(at, 30)) for t in steps
        ]
        np.testing.assert_allclose(after[:, g], expected, rtol=1e-12, atol=0)


def test_rebudget_keeps_an_external_factor() -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 50)
    sched.optimizer.param_groups[1]["lr"] *= 0.5  # a ReduceLROnPlateau-style cut
    run(sched, 5)
    holding = group_lrs(sched.optimizer)
    sched.rebudget(130)
    with past_the_budget():  # to 135
        after = run(sched, 80)
    steps = np.arange(55, 135)
    for g, (cfg, factor) in enumerate(zip(configs(), (1.0, 0.5), strict=True)):
        assert after[0, g] == holding[g]
        np.testing.assert_allclose(after[:, g], factor * cfg.rebudget(55, 130)(steps), rtol=1e-15, atol=0)


def test_two_rebudgets_chain() -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 40)
    sched.rebudget(200)
    run(sched, 60)
    sched.rebudget(150)
    with past_the_budget():  # to 160
        after = run(sched, 60)
    for g, cfg in enumerate(configs()):
        chained = cfg.rebudget(40, 200).rebudget(100, 150)
        assert sched.configs[g] == chained and len(chained.rebudgets) == 2
        np.testing.assert_array_equal(after[:, g], chained(np.arange(100, 160)))


def test_cooldown_from_a_stable_phase_run() -> None:
    # A constant-rate run: warmup 5, then the peak "forever"; cool down over 30 steps from step 50.
    plan = {"T_max": 10**6, "eta_min": 0.002, "phi": 1.5, "warmup_steps": 5, "stable_steps": 10**6 - 6}
    sched = UBALR(sgd(PEAKS), **plan)
    before = run(sched, 50)
    assert np.all(before[5:] == PEAKS)
    sched.cooldown(30)
    assert group_lrs(sched.optimizer) == list(PEAKS) and sched.T_max == 80
    with past_the_budget():  # to 85, past the cooldown's end at 80
        after = run(sched, 35)
    for g, cfg in enumerate(configs(plan)):
        new = cfg.cooldown(50, 30)
        assert sched.configs[g] == new and (new.stable_steps, new.total_steps) == (45, 80)
        np.testing.assert_array_equal(after[:, g], new(np.arange(50, 85)))
        expected = [reference(t, cfg.peak_lr, 0.002, 1.5, W=5, S=45, T=80) for t in range(50, 85)]
        np.testing.assert_allclose(after[:, g], expected, rtol=1e-12, atol=0)
        assert after[0, g] == cfg.peak_lr and np.all(after[30:, g] == 0.002)


def test_cooldown_inside_the_decay_is_a_rebudget() -> None:
    a, b = UBALR(sgd(PEAKS), **PLAN), UBALR(sgd(PEAKS), **PLAN)
    run(a, 70), run(b, 70)
    a.cooldown(12)
    b.rebudget(82)
    assert a.configs == b.configs and a.T_max == 82
    with past_the_budget():  # both to 85, past 82
        np.testing.assert_array_equal(run(a, 15), run(b, 15))


def _bad_calls() -> list[Any]:
    """(method, argument name, value, error, rule), at step 40 of PLAN (warmup 10, T 100)."""
    return [
        pytest.param("rebudget", "total_steps", True, TypeError, "must be an integer", id="rebudget-bool"),
        pytest.param("rebudget", "total_steps", "150", TypeError, "must be an integer", id="rebudget-str"),
        pytest.param("rebudget", "total_steps", None, TypeError, "must be an integer", id="rebudget-none"),
        pytest.param("rebudget", "total_steps", 150.5, ValueError, "a float is accepted only", id="rebudget-fraction"),
        pytest.param("rebudget", "total_steps", 0, ValueError, "must be >= 1", id="rebudget-zero"),
        pytest.param("rebudget", "total_steps", 40, ValueError, "must be > the scheduler's current step", id="at-step"),
        pytest.param("rebudget", "total_steps", 12, ValueError, "must be > the scheduler's current step", id="past"),
        pytest.param("cooldown", "steps", 0, ValueError, "must be >= 1", id="cooldown-zero"),
        pytest.param("cooldown", "steps", 2.5, ValueError, "a float is accepted only", id="cooldown-fraction"),
        pytest.param("cooldown", "steps", [3], TypeError, "must be an integer", id="cooldown-list"),
    ]


@pytest.mark.parametrize("method,arg,value,error,rule", _bad_calls())
def test_bad_arguments_are_named_and_change_nothing(method: str, arg: str, value, error, rule: str) -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 40)
    state, lrs = sched.state_dict(), group_lrs(sched.optimizer)
    with pytest.raises(error) as info:
        getattr(sched, method)(value)
    message = str(info.value)
    assert f"`{arg}`" in message and f"{arg}={value!r}" in message and rule in message, message
    assert sched.state_dict() == state and group_lrs(sched.optimizer) == lrs
    with past_the_budget():  # to 110, past 100
        np.testing.assert_array_equal(run(sched, 70)[:, 0], configs()[0](np.arange(40, 110)))


def test_rebudget_into_no_decay_from_the_warmup_is_refused_by_the_core_rule() -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 5)
    with pytest.raises(ValueError, match=r"`warmup_steps` \+ `stable_steps` must be < `total_steps`.*total_steps=30"):
        sched.rebudget(30)
    assert sched.T_max == 100


@pytest.mark.parametrize("method,arg", [("rebudget", 150), ("cooldown", 10)])
def test_at_or_past_the_budget_there_is_nothing_to_continue(method: str, arg: int) -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 100)  # last_epoch = T_max: the floor
    with pytest.raises(ValueError, match=rf"UBALR\.{method}: the scheduler is at step 100 >= T_max=100"):
        getattr(sched, method)(arg)
    assert sched.configs == configs()


def test_cooldown_in_the_warmup_is_refused() -> None:
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 7)
    with pytest.raises(ValueError, match=r"the scheduler is at step 7 < warmup_steps=10"):
        sched.cooldown(20)
    assert sched.configs == configs()


# --- state_dict and the load_state_dict policies ---------------------------------------------------


def _rebudgeted_run() -> tuple[UBALR, dict[str, Any], np.ndarray]:
    """A run rebudgeted to 150 at step 60, saved at step 80, and the lrs it goes on with."""
    sched = UBALR(sgd(PEAKS), **PLAN)
    run(sched, 60)
    sched.rebudget(150)
    run(sched, 20)
    state = saved(sched)
    with past_the_budget():  # to 155
        return sched, state, run(sched, 75)


@pytest.mark.parametrize("built_with", [100, 150], ids=["planned-budget-keep", "new-budget-rebudget"])
def test_state_dict_round_trip_after_a_rebudget(built_with: int) -> None:
    _, state, future = _rebudgeted_run()
    policy = "keep" if built_with == 100 else "rebudget"
    fresh = UBALR(sgd(PEAKS), **{**PLAN, "T_max": built_with}, on_budget_change=policy)
    if policy == "keep":  # the built plan lacks the re-budget: the checkpoint's schedule wins, with a warning
        with pytest.warns(UserWarning, match="the checkpoint's schedule differs"):
            fresh.load_state_dict(state)
    else:  # same budget; the re-budget that led the checkpoint there is no difference to warn of
        with no_warnings():
            fresh.load_state_dict(state)
    assert fresh.state_dict() == state and fresh.T_max == 150
    with past_the_budget():
        np.testing.assert_array_equal(run(fresh, 75), future)


def _checkpoint_at(step: int, plan: dict[str, Any] = PLAN) -> tuple[dict[str, Any], list[float]]:
    sched = UBALR(sgd(PEAKS), **plan)
    run(sched, step)
    return saved(sched), group_lrs(sched.optimizer)


def test_on_budget_change_keep_continues_the_checkpoints_budget_with_a_warning(caplog) -> None:
    state, holding = _checkpoint_at(40)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 150}, on_budget_change="keep")
    with pytest.warns(UserWarning, match=r"(?s)checkpoint.*'total_steps': 100.*'total_steps': 150"):
        sched.load_state_dict(state)
    assert sched.configs == configs() and sched.T_max == 100 and group_lrs(sched.optimizer) == holding
    assert sched.budget_change == {
        "step": 40,
        "checkpoint_T_max": 100,
        "T_max": 150,
        "on_budget_change": "keep",
        "action": "kept",
    }
    assert "keeping the budget of the checkpoint (T_max=100, at step 40)" in caplog.text
    with pytest.warns(UBABudgetWarning, match=r"T_max=100 at step 40, built here with T_max=150; .*kept"):
        lrs = run(sched, 70)  # the past-budget warning names the resumed checkpoint
    np.testing.assert_array_equal(lrs, np.stack([c(np.arange(40, 110)) for c in configs()], axis=1))


def test_the_default_adopts_the_new_budget_and_says_so_in_the_log(caplog) -> None:
    state, holding = _checkpoint_at(40)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 150})
    assert sched.budget_change is None
    with no_warnings(), caplog.at_level("WARNING", logger="uba_torch"):
        sched.load_state_dict(state)
    expected = [c.rebudget(40, 150) for c in configs()]
    assert sched.configs == expected and sched.T_max == 150 and group_lrs(sched.optimizer) == holding
    assert sched.budget_change == {
        "step": 40,
        "checkpoint_T_max": 100,
        "T_max": 150,
        "on_budget_change": "adopt",
        "action": "continued",
    }
    [log] = [r for r in caplog.records if r.name == "uba_torch"]
    assert "continuing the checkpoint (T_max=100, at step 40) to this scheduler's T_max=150" in log.getMessage()
    np.testing.assert_array_equal(run(sched, 110), np.stack([c(np.arange(40, 150)) for c in expected], axis=1))
    assert "budget_change" not in sched.state_dict()  # what a load did is not part of the run


def test_the_default_keeps_the_checkpoints_budget_when_the_new_one_is_already_over(caplog) -> None:
    """torch's own test_cosine_lr_state_dict loads a finished run into a scheduler built with a
    shorter T_max: nothing of that budget is left to adopt."""
    state, holding = _checkpoint_at(60)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 50})
    with pytest.warns(UserWarning, match="the checkpoint's schedule differs"):
        sched.load_state_dict(state)
    assert sched.configs == configs() and group_lrs(sched.optimizer) == holding
    assert sched.budget_change is not None and sched.budget_change["action"] == "kept"
    assert "this T_max=50 leaves no step after the checkpoint's" in caplog.text


def test_the_default_refuses_to_extend_a_finished_run_and_says_how(caplog) -> None:
    state, _ = _checkpoint_at(100)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 150})
    before = sched.state_dict()
    with pytest.raises(ValueError, match=r"cannot extend the checkpoint \(T_max=100, at step 100\).*before step 100"):
        sched.load_state_dict(state)
    assert sched.state_dict() == before and sched.budget_change is None and not caplog.records


@pytest.mark.parametrize("policy", ["rebudget", "adopt"])
@pytest.mark.parametrize("new_total", [150, 70], ids=["longer", "shorter"])
def test_on_budget_change_rebudget_continues_to_the_new_total(new_total: int, policy: str) -> None:
    state, holding = _checkpoint_at(40)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": new_total}, on_budget_change=policy)
    with no_warnings():
        sched.load_state_dict(state)
    expected = [c.rebudget(40, new_total) for c in configs()]
    assert sched.configs == expected and sched.T_max == new_total and sched.last_epoch == 40
    assert group_lrs(sched.optimizer) == holding
    with past_the_budget():  # 3 updates past the new total
        after = run(sched, new_total - 40 + 3)
    np.testing.assert_array_equal(after, np.stack([c(np.arange(40, new_total + 3)) for c in expected], axis=1))
    np.testing.assert_allclose(after[0], holding, rtol=1e-12, atol=0)  # continuous at the checkpoint's step
    assert np.all(after[new_total - 40 :] == FLOORS)  # the floor at the new total


def test_on_budget_change_rebudget_still_warns_of_other_differences() -> None:
    state, _ = _checkpoint_at(40)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 150, "phi": 5.0}, on_budget_change="rebudget")
    with pytest.warns(UserWarning, match=r"(?s)checkpoint.*'phi': 3\.0.*'phi': 5\.0"):
        sched.load_state_dict(state)
    assert sched.configs == [c.rebudget(40, 150) for c in configs()]  # the checkpoint's phi, continued


def test_on_budget_change_raise_names_both_totals_and_changes_nothing() -> None:
    state, _ = _checkpoint_at(40)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 150}, on_budget_change="raise")
    before, lrs = sched.state_dict(), group_lrs(sched.optimizer)
    with pytest.raises(ValueError, match=r"checkpoint's budget T_max=100 differs from this scheduler's T_max=150"):
        sched.load_state_dict(state)
    assert sched.state_dict() == before and group_lrs(sched.optimizer) == lrs
    same = UBALR(sgd(PEAKS), **PLAN, on_budget_change="raise")
    with no_warnings():
        same.load_state_dict(state)  # the same budget loads silently
    assert same.state_dict() == state


@pytest.mark.parametrize(
    "step,new_total,match",
    [
        (100, 150, r"T_max=100, at step 100.*its decay is over"),
        (40, 40, r"the new T_max=40 must be > the checkpoint.s step 40"),
    ],
    ids=["checkpoint-at-its-end", "new-total-not-after-the-step"],
)
def test_on_budget_change_rebudget_refuses_what_it_cannot_continue(step: int, new_total: int, match: str) -> None:
    state, _ = _checkpoint_at(step)
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": new_total}, on_budget_change="rebudget")
    before = sched.state_dict()
    with pytest.raises(ValueError, match=match):
        sched.load_state_dict(state)
    assert sched.state_dict() == before


def test_on_budget_change_rebudget_continues_a_cosine_annealing_checkpoint() -> None:
    opt = sgd((0.2,))
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=40, eta_min=0.001)
    first = step_lrs(opt, [cosine], 15)[:, 0]
    opt2 = sgd((0.2,))
    opt2.load_state_dict(opt.state_dict())
    ours = UBALR(opt2, 60, 0.001, phi=2.0, on_budget_change="rebudget")
    with pytest.warns(UserWarning, match="CosineAnnealingLR checkpoint"):
        ours.load_state_dict(cosine.state_dict())
    cfg = UBAConfig(total_steps=40, peak_lr=0.2, min_lr=0.001)
    np.testing.assert_allclose(first, cfg(np.arange(15)), rtol=1e-12)
    assert ours.T_max == 60 and ours.configs == [cfg.rebudget(15, 60)]
    with past_the_budget():  # to 65, past the new T_max of 60
        after = run(ours, 50)[:, 0]
    # update 15 uses the rate CosineAnnealingLR wrote (its recursion, equal to the curve to
    # rounding); from 16 on, the continued core curve, reaching the floor at the new T_max
    np.testing.assert_allclose(after[0], cfg(15), rtol=1e-12)
    np.testing.assert_array_equal(after[1:], cfg.rebudget(15, 60)(np.arange(16, 65)))
    assert np.all(after[45:] == 0.001) and after[44] > 0.001


def test_the_policy_is_the_loaders_not_the_checkpoints() -> None:
    source = UBALR(sgd(PEAKS), **PLAN, on_budget_change="raise")
    run(source, 40)
    state = saved(source)
    assert "_on_budget_change" not in state
    state["_on_budget_change"] = "raise"  # even if a checkpoint carried one
    sched = UBALR(sgd(PEAKS), **{**PLAN, "T_max": 150}, on_budget_change="rebudget")
    sched.load_state_dict(state)
    assert sched.T_max == 150 and sched._on_budget_change == "rebudget"


@pytest.mark.parametrize(
    "value,error", [("Rebudget", ValueError), ("", ValueError), (None, TypeError), (True, TypeError)]
)
@pytest.mark.parametrize("entry", ["UBALR", "get_uba_schedule_with_warmup", "from_uba_config"])
def test_on_budget_change_is_validated_at_construction(entry: str, value, error) -> None:
    build = {
        "UBALR": lambda v: UBALR(sgd(), 10, on_budget_change=v),
        "get_uba_schedule_with_warmup": lambda v: get_uba_schedule_with_warmup(sgd(), 2, 10, on_budget_change=v),
        "from_uba_config": lambda v: UBALR.from_uba_config(sgd(), configs()[0], on_budget_change=v),
    }[entry]
    with pytest.raises(error) as info:
        build(value)
    message = str(info.value)
    assert "`on_budget_change`" in message and f"on_budget_change={value!r}" in message
    assert "'adopt', 'rebudget', 'keep', 'raise'" in message


# --- a real HF Trainer resumed with a larger max_steps ----------------------------------------------

# The first run plans 14 updates (warmup 2, stable 3) and checkpoints every 6; the resumed run,
# from checkpoint-6, is given max_steps 24.
HF_CFG = UBAConfig(total_steps=14, peak_lr=0.05, phi=3.0, min_lr=0.0005, warmup_steps=2, stable_steps=3)
HF_SAVE, HF_MAX = 6, 24


@pytest.fixture(scope="module")
def trainer_resume(tmp_path_factory) -> dict[str, Any]:
    framework("torch", "transformers")
    framework("torch", "accelerate")
    tmp = tmp_path_factory.mktemp("trainer-budget")
    out = tmp / "out.json"
    args = {"cfg": HF_CFG.to_dict(), "save": HF_SAVE, "new_max": HF_MAX, "out_dir": str(tmp)}
    run_worker(worker_command(Path(__file__), "trainer_resume", out, **args), tmp, worker_env())
    return json.loads(out.read_text())


@pytest.mark.parametrize("policy", ["default", "rebudget"], ids=["default-adopt", "rebudget"])
def test_trainer_resume_with_a_larger_max_steps_rebudgets_continuously(trainer_resume, policy: str) -> None:
    first, resumed = trainer_resume["first"], trainer_resume[policy]
    np.testing.assert_array_equal(np.asarray(first["lrs"])[:, 0], HF_CFG(np.arange(HF_CFG.total_steps)))
    assert resumed["global_steps"] == list(range(HF_SAVE, HF_MAX))
    lrs = np.asarray(resumed["lrs"])  # (updates, groups): the Trainer's decay / no-decay groups
    new = HF_CFG.rebudget(HF_SAVE, HF_MAX)
    for group in lrs.T:
        np.testing.assert_array_equal(group, new(np.arange(HF_SAVE, HF_MAX)))
        # continuous at the resume step: the update there uses what the first run used
        assert abs(group[0] - first["lrs"][HF_SAVE][0]) <= 1e-12 * group[0]
        assert group[-1] > HF_CFG.min_lr
    # The log the user reads (the checkpoint's history, then the resumed run): one curve to 24.
    np.testing.assert_array_equal(resumed["logged"], new(np.arange(HF_MAX)))
    assert resumed["last_epoch"] == HF_MAX and resumed["T_max"] == HF_MAX
    assert resumed["final_lrs"] == [HF_CFG.min_lr] * lrs.shape[1]  # the floor at the new max_steps
    assert not np.any(lrs == HF_CFG.min_lr)  # no update at the floor before the new end
    # Said where the Trainer cannot swallow it: the log, and the record on the scheduler.
    change = {"step": HF_SAVE, "checkpoint_T_max": HF_CFG.total_steps, "T_max": HF_MAX, "action": "continued"}
    assert resumed["budget_change"] == {**change, "on_budget_change": "adopt" if policy == "default" else policy}
    assert [m for m in resumed["log"] if f"to this scheduler's T_max={HF_MAX}" in m]


def test_trainer_resume_keep_holds_the_old_budget_and_its_warning_is_swallowed(trainer_resume) -> None:
    kept = trainer_resume["keep"]
    lrs = np.asarray(kept["lrs"])[:, 0]
    np.testing.assert_array_equal(lrs, HF_CFG(np.arange(HF_SAVE, HF_MAX)))  # the floor from step 14 on
    assert kept["T_max"] == HF_CFG.total_steps
    assert not [w for w in kept["warnings"] if "checkpoint's schedule differs" in w]  # the Trainer swallowed it
    assert [m for m in kept["log"] if "keeping the budget of the checkpoint" in m]  # the log still says it
    assert kept["budget_change"]["action"] == "kept"


def trainer_resume_worker(cfg: dict[str, Any], save: int, new_max: int, out_dir: str) -> dict[str, Any]:
    """In a fresh interpreter: train with ``transformers.Trainer`` for ``cfg``'s budget,
    checkpointing every ``save`` updates, then resume ``checkpoint-{save}`` with
    ``max_steps=new_max`` under the default ``on_budget_change``, ``"rebudget"`` and ``"keep"``.

    The scheduler is built by a ``create_scheduler`` override from the Trainer's own
    ``num_training_steps`` (its ``max_steps``): resuming with a larger ``max_steps`` builds
    it with the new budget, and ``load_state_dict`` meets the checkpoint's.
    """
    from _stack_workers import tiny_trainer_task
    from transformers import Trainer, TrainerCallback, TrainingArguments

    torch.set_num_threads(1)

    Tiny, Data = tiny_trainer_task()

    class Steps(TrainerCallback):
        def __init__(self) -> None:
            self.global_steps: list[int] = []

        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            self.global_steps.append(state.global_step)

    class Log(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    def train(name: str, max_steps: int, policy: str | None, resume: str | None = None) -> dict[str, Any]:
        policy_kwarg = {} if policy is None else {"on_budget_change": policy}

        class UBATrainer(Trainer):
            def create_scheduler(self, num_training_steps, optimizer=None):
                if self.lr_scheduler is None:
                    self.lr_scheduler = get_uba_schedule_with_warmup(
                        self.optimizer if optimizer is None else optimizer,
                        cfg["warmup_steps"],
                        num_training_steps,
                        num_stable_steps=cfg["stable_steps"],
                        phi=cfg["phi"],
                        min_lr=cfg["min_lr"],
                        **policy_kwarg,
                    )
                return self.lr_scheduler

        args = TrainingArguments(
            output_dir=os.path.join(out_dir, name),
            max_steps=max_steps,
            per_device_train_batch_size=2,
            learning_rate=cfg["peak_lr"],
            logging_steps=1,
            save_strategy="steps",
            save_steps=save,
            report_to="none",
            use_cpu=True,
            disable_tqdm=True,
            seed=0,
        )
        steps = Steps()
        trainer = UBATrainer(model=Tiny(), args=args, train_dataset=Data(2 * max_steps), callbacks=[steps])
        trainer.create_optimizer()
        used: list[list[float]] = []
        trainer.optimizer.register_step_pre_hook(
            lambda opt, a, k: used.append([float(g["lr"]) for g in opt.param_groups])
        )
        log = Log()
        logging.getLogger("uba_torch").addHandler(log)
        try:
            with warnings.catch_warnings(record=True) as caught:  # the stack's own filters stay in place
                trainer.train(resume_from_checkpoint=resume)
        finally:
            logging.getLogger("uba_torch").removeHandler(log)
        return {
            "lrs": used,
            "global_steps": steps.global_steps,
            "logged": [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h],
            "final_lrs": [float(g["lr"]) for g in trainer.optimizer.param_groups],
            "last_epoch": trainer.lr_scheduler.last_epoch,
            "T_max": trainer.lr_scheduler.T_max,
            "warnings": [str(w.message) for w in caught],
            "log": log.messages,
            "budget_change": trainer.lr_scheduler.budget_change,
        }

    first = train("first", cfg["total_steps"], None)
    checkpoint = os.path.join(out_dir, "first", f"checkpoint-{save}")
    return {
        "first": first,
        "default": train("default", new_max, None, checkpoint),
        "rebudget": train("rebudget", new_max, "rebudget", checkpoint),
        "keep": train("keep", new_max, "keep", checkpoint),
    }


if __name__ == "__main__":
    _, out, kwargs = sys.argv[1:]
    result = {"trainer_resume": trainer_resume_worker}[sys.argv[1]](**json.loads(kwargs))
    Path(out).write_text(json.dumps(result))
