"""Hypothesis properties of the UBA schedule over the whole valid config space.

The core is checked against facts of the specification (bounds, monotone decay,
continuity at the warmup hand-off, the phi mirror identity, exact endpoints), over
configs with a stable phase and re-budgets too, and against the mpmath reference of
conftest for budgets that change (continuity at every switch, the floor exactly at
each new total, re-budgeting and back, cooldowns); every adapter is checked against
the float64 core: torch exactly, optax and keras within a tolerance derived from
float32 (see ``conftest.float32_tolerance``).
"""

from __future__ import annotations

import dataclasses
import json
import math

import mpmath
import numpy as np
import pytest
from conftest import (
    assert_float32_matches_core,
    keras_rates,
    optax_rates,
    reference_rates,
    reference_remaining,
    torch_rates,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import uba_core as uc
from uba_core import UBAConfig

CORE = settings(max_examples=200, deadline=None)
ADAPTER = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EPS64 = 2.0**-52  # float64 machine epsilon (one ulp of 1.0)


# --- strategies ---------------------------------------------------------------------


def log_uniform(lo: float, hi: float) -> st.SearchStrategy[float]:
    """Floats spread evenly in log space over [lo, hi] (endpoints drawn explicitly too)."""
    return st.one_of(
        st.sampled_from([lo, hi]),
        st.floats(math.log(lo), math.log(hi)).map(math.exp),
    )


@st.composite
def configs(draw, *, budgets: bool = False) -> UBAConfig:
    """Any valid config: T in 1..1e9 (biased to small), W in 0..T-1, rates in [0, 10], phi in [1e-6, 1e30].

    With ``budgets``, also a stable phase and up to two re-budgets (:func:`budget_histories`).
    """
    if budgets:
        return draw(budget_histories())[2]
    total = draw(st.one_of(st.integers(1, 16), st.integers(1, 10_000), st.integers(1, 10**9)))
    warm = draw(st.one_of(st.just(0), st.just(total - 1), st.integers(0, total - 1)))
    peak = draw(st.one_of(st.sampled_from([0.0, 10.0]), st.floats(0.0, 10.0)))
    floor = draw(st.one_of(st.just(0.0), st.just(peak), st.floats(0.0, peak)))
    start = draw(st.one_of(st.just(0.0), st.just(peak), st.floats(0.0, 10.0)))
    # up to 1e30: a phi above tan(pi/2)^2 in float32 (~5e14) once pulled step W below the peak
    phi = draw(st.one_of(st.just(2.0), log_uniform(1e-6, 1e6), log_uniform(1e6, 1e30)))
    return UBAConfig(total_steps=total, peak_lr=peak, phi=phi, min_lr=floor, warmup_steps=warm, warmup_start_lr=start)


@st.composite
def stable_configs(draw) -> UBAConfig:
    """A config of :func:`configs` with a stable phase of 0..T-1-W steps (W + S < T)."""
    cfg = draw(configs())
    room = cfg.total_steps - 1 - cfg.warmup_steps
    stable = draw(st.one_of(st.just(0), st.just(room), st.integers(0, room)))
    return dataclasses.replace(cfg, stable_steps=stable)


@st.composite
def budget_histories(draw, *, changes: int | None = None) -> tuple[UBAConfig, list[tuple[int, int]], UBAConfig]:
    """(plan, changes, config): a :func:`stable_configs` plan, 0 to 2 (or ``changes``)
    budget changes ``(step, new total)`` at any step before the end (warmup, stable
    phase, decay, the last step, back before an earlier change), longer and shorter,
    and the config they make through ``UBAConfig.rebudget``. Totals stay below ~4e9 (and
    so the steps of re-budgets below 2**31), far from where a step's remaining fraction
    would round to the one before in float64."""
    plan = draw(stable_configs())
    cfg, history = plan, []
    for _ in range(draw(st.integers(0, 2)) if changes is None else changes):
        T, start = cfg.total_steps, cfg.warmup_steps + cfg.stable_steps
        step = draw(st.one_of(st.integers(0, T - 1), st.sampled_from([T - 1, min(start + 1, T - 1)])))
        lo = max(step, start) + 1
        total = draw(st.one_of(st.integers(lo, lo + 16), st.integers(lo, 2 * T + 16), st.integers(lo, max(lo, 10**9))))
        cfg = cfg.rebudget(step, total)
        history.append((step, total))
    return plan, history, cfg


def kinks(cfg: UBAConfig) -> list[int]:
    """Where the curve may bend: 0, W, W + S, each re-budget and T."""
    W, S = cfg.warmup_steps, cfg.stable_steps
    return [0, W, W + S, *(s for s, _ in cfg.rebudgets), cfg.total_steps]


@st.composite
def configs_and_steps(draw, *, budgets: bool = False) -> tuple[UBAConfig, np.ndarray]:
    """A config and sorted unique integer steps in [0, 2T]: each kink and its neighbours
    (W-1, W, T-1, T, ...) always among them."""
    cfg = draw(configs(budgets=budgets))
    T = cfg.total_steps
    special = [d + k for k in kinks(cfg) for d in (-1, 0, 1)] + [2 * T]
    anywhere = draw(st.lists(st.integers(0, 2 * T), max_size=10))
    near = draw(st.lists(st.integers(-3, 3), max_size=4))  # next to the kinks
    run_start = draw(st.integers(0, 2 * T))  # a run of consecutive steps
    steps = np.array(
        special + [k + d for k in kinks(cfg) for d in near] + anywhere + list(range(run_start, run_start + 8)),
        dtype=np.int64,
    )
    steps = np.unique(steps[(steps >= 0) & (steps <= 2 * T + 8)])
    return cfg, steps


# --- the core -----------------------------------------------------------------------


@CORE
@given(configs_and_steps(budgets=True))
# Hypothesis prefers "simple" floats, for which min + (peak - min) is exact; this one
# (found with a random search) rounds above peak_lr if the rate is built that way.
@example(
    (
        UBAConfig(total_steps=3, peak_lr=7.0127587478929785, phi=750.3021481958665, min_lr=1.5729529900633668),
        np.arange(5),
    )
)
def test_rates_are_finite_and_within_the_bounds(case) -> None:
    cfg, steps = case
    lr = cfg(steps)
    assert lr.dtype == np.float64 and np.all(np.isfinite(lr))
    warm = steps < cfg.warmup_steps
    # During warmup the rate runs between warmup_start_lr and peak_lr (so it may be
    # below min_lr when warmup_start_lr < min_lr); from step W on it is in [min_lr, peak_lr].
    lo, hi = sorted((cfg.warmup_start_lr, cfg.peak_lr))
    assert np.all((lr[warm] >= lo) & (lr[warm] <= hi)), (steps[warm], lr[warm] - hi, lo - lr[warm])
    decay = lr[~warm]
    assert np.all(decay >= cfg.min_lr), (steps[~warm], cfg.min_lr - decay)
    assert np.all(decay <= cfg.peak_lr), (steps[~warm], decay - cfg.peak_lr)


@CORE
@given(configs(budgets=True))
def test_endpoints_are_the_given_rates(cfg: UBAConfig) -> None:
    """lr(t >= T) is min_lr and lr(0) is warmup_start_lr to the bit; lr(W) is peak_lr
    or the float just below it (min + (peak - min) rounds; the curve never exceeds peak)."""
    W, T = cfg.warmup_steps, cfg.total_steps
    assert cfg(W) in (cfg.peak_lr, np.nextafter(cfg.peak_lr, -np.inf))
    assert np.all(cfg([T, T + 1, 2 * T]) == cfg.min_lr)
    if W > 0:
        assert cfg(0) == cfg.warmup_start_lr


@CORE
@given(configs_and_steps(budgets=True))
def test_non_increasing_after_warmup(case) -> None:
    cfg, steps = case
    decay = steps[steps >= cfg.warmup_steps]  # sorted by construction
    lr = cfg(decay)
    rises = np.diff(lr) > 0
    assert not np.any(rises), (decay[1:][rises], np.diff(lr)[rises])


@CORE
@given(configs(budgets=True), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8))
def test_non_increasing_at_fractional_steps_too(cfg: UBAConfig, fractions) -> None:
    """The core accepts float steps; the decay is monotone between the integers as well."""
    W, T = cfg.warmup_steps, cfg.total_steps
    steps = np.unique(np.array([W + x * (T - W) for x in fractions] + [W, T], dtype=np.float64))
    assert not np.any(np.diff(cfg(steps)) > 0)


def _ulp(x: float) -> float:
    return float(np.spacing(abs(x))) if x else 0.0


@CORE
@given(configs().filter(lambda c: c.warmup_steps > 0))
@example(UBAConfig(total_steps=129, peak_lr=10.0, phi=math.exp(23.0), warmup_steps=128))
@example(UBAConfig(total_steps=16071053, peak_lr=10.0, phi=math.exp(41.0), warmup_steps=1))
def test_continuous_at_the_warmup_hand_off(cfg: UBAConfig) -> None:
    """lr(W - eps) -> peak and lr(W + eps) -> peak as eps -> 0 (core accepts float steps)."""
    W, span = cfg.warmup_steps, cfg.total_steps - cfg.warmup_steps
    peak, start, floor, b = cfg.peak_lr, cfg.warmup_start_lr, cfg.min_lr, cfg.phi / 2
    # Rounding allowance of the ramp start + (peak - start) * t / W and of the decay:
    # a few ulps of the largest rate involved.
    slack = 4 * _ulp(max(peak, start))
    for eps in (0.5, 1e-1, 1e-3, 1e-6, 1e-9, 1e-12):
        left = W - eps
        exact_eps = W - left  # exact (Sterbenz): the distance the core really sees
        # The ramp is linear with slope (peak - start) / W.
        assert abs(cfg(left) - peak) <= abs(peak - start) * exact_eps / W + slack, eps
        right = W + eps
        p = (right - W) / span  # <= 0.5: eps <= 0.5 and span >= 1
        # 1 - f(p) = b tan^2 / (1 + b tan^2) <= b tan^2(pi p / 2): the decay leaves the
        # peak quadratically. The core evaluates tan(pi q / 2) with q = (T - t) / (T - W)
        # formed in float64: the roundings of T - t, of the division, of pi / 2 and of the
        # product put the angle it sees within 4 * 2**-53 (in units of p) of the exact
        # one. That matters once b tan^2 is large enough to show (phi above ~1e10).
        p_seen = p + 4 * 2.0**-53
        bound = (peak - floor) * min(1.0, b * math.tan(math.pi * p_seen / 2) ** 2 * (1 + 1e-9))
        assert abs(cfg(right) - peak) <= bound + slack, eps


def _abs_dfdp(p: np.ndarray, phi: float) -> np.ndarray:
    r"""|df/dp| analytically: f = c^2 / (c^2 + b s^2), b = phi / 2, theta = pi p / 2, so
    df/dtheta = -2 b s c / (c^2 + b s^2)^2 and dtheta/dp = pi / 2."""
    theta = np.pi * p / 2
    s, c, b = np.sin(theta), np.cos(theta), phi / 2
    return (np.pi / 2) * 2 * b * s * c / (c * c + b * s * s) ** 2


@CORE
@given(log_uniform(1e-6, 1e6), st.lists(st.floats(0.0, 1.0), min_size=1, max_size=32))
def test_phi_mirror_identity(phi: float, progress) -> None:
    r"""f_phi(p) = 1 - f_{4/phi}(1 - p), exact in real arithmetic.

    Tolerance, in float64 (u = 2**-53, the unit roundoff), for any evaluation of f
    by a trigonometric function of pi p / 2 followed by a square, a sum and a quotient:
    - values: those last three are about 3 roundings (relative 3u on a number in
      [0, 1]); 4 / phi adds u / 2 relative to phi, which moves f by at most
      |d f / d ln phi| * u / 2 <= u / 8; 1 - f is one more rounding: about 8u = 2**-50
      absolute in all. atol 2**-48 leaves a factor 4.
    - arguments: the test rounds 1 - p once, the core forms 1 - p (or p) again, and
      pi / 2 * q and the sine / tangent each add about u in progress units, so the
      two sides see progress values up to ~2**-50 apart. That moves f by
      |df/dp| * 2**-50, and |df/dp| reaches ~1e3 at phi = 1e-6 or 1e6; again a factor
      4 of margin: |df/dp| * 2**-48, with df/dp computed analytically in float64.
    """
    p = np.array(progress, dtype=np.float64)
    left = uc.uba_factor(p, phi)
    right = 1.0 - uc.uba_factor(1.0 - p, 4.0 / phi)
    tol = 2.0**-48 + _abs_dfdp(p, phi) * 2.0**-48
    assert np.all(np.abs(left - right) <= tol), (p, left - right, tol)


@CORE
@given(configs(budgets=True))
def test_config_round_trips_through_dict_and_json(cfg: UBAConfig) -> None:
    as_dict = cfg.to_dict()
    assert all(type(v) in (int, float) for k, v in as_dict.items() if k != "rebudgets")
    assert as_dict["rebudgets"] == [list(k) for k in cfg.rebudgets]
    assert all([type(s), type(q)] == [int, float] for s, q in as_dict["rebudgets"])
    assert UBAConfig.from_dict(as_dict) == cfg
    assert UBAConfig.from_dict(json.loads(json.dumps(as_dict))) == cfg
    again = UBAConfig.from_dict(json.loads(cfg.to_json()))
    assert again == cfg
    # Same fields bit for bit and of the same types (== alone accepts -0.0 for 0.0
    # and 3.0 for 3): the JSON texts agree.
    assert json.dumps(again.to_dict()) == json.dumps(as_dict)


# --- the stable phase, re-budgets and cooldowns ----------------------------------------


def _same_curve_tolerance(cfg: UBAConfig, steps: np.ndarray, expected: np.ndarray, q: np.ndarray) -> np.ndarray:
    """What two float64 evaluations of the same curve may differ by: 1e-12 of the rate, plus
    what a remaining fraction q off by a few roundings (2**-44 of q, a factor ~100 over the
    ~5 roundings of two knot levels) moves the rate, |df/dp| q 2**-44 times peak - floor,
    plus 2**-50 of peak - floor for the shape's own roundings, plus 4 ulps of the largest
    rate for the warmup ramp's."""
    span = abs(cfg.peak_lr - cfg.min_lr)
    ramp = 4 * _ulp(max(cfg.peak_lr, cfg.warmup_start_lr, cfg.min_lr))
    return 1e-12 * np.abs(expected) + span * (_abs_dfdp(1.0 - q, cfg.phi) * q * 2.0**-44 + 2.0**-50) + ramp


@CORE
@given(budget_histories(), st.lists(st.integers(0, 10**9), max_size=6))
def test_budget_changes_match_the_reference(history, extra) -> None:
    """Every config made by rebudget equals the mpmath reference of the plan and its
    changes (conftest: each change keeps the curve up to its step and spreads what was
    left there over the new budget)."""
    plan, changes, cfg = history
    T = cfg.total_steps
    near = [k + d for k in kinks(cfg) + [s for s, _ in changes] + [t for _, t in changes] for d in (-1, 0, 1)]
    steps = np.unique([t for t in near + [e % (T + 2) for e in extra] if t >= 0]).astype(np.float64)
    with mpmath.workdps(40):
        q = np.array([float(reference_remaining(mpmath.mpf(t), plan, changes)) for t in steps])
    expected = reference_rates(plan, steps, changes)
    got = cfg(steps)
    tol = _same_curve_tolerance(cfg, steps, expected, q)
    assert np.all(np.abs(got - expected) <= tol), (steps, got - expected, tol)


@CORE
@given(budget_histories(changes=2))
def test_no_jump_at_any_switch_and_the_floor_exactly_at_each_new_total(history) -> None:
    plan, changes, _ = history
    configs_ = [plan]
    for step, total in changes:
        before = configs_[-1]
        after = before.rebudget(step, total)
        configs_.append(after)
        # the rate where the budget changes is the one the schedule had there
        assert abs(after(step) - before(step)) <= 1e-12 * abs(before(step))
        assert after.remaining_fraction(step) == before.remaining_fraction(step)
        # the floor exactly at the new total, and held after it
        assert np.all(after([total, total + 1, 2 * total]) == after.min_lr)
        assert after(total - 1) >= after.min_lr
    (first, _), (second, _) = changes
    if first <= second:  # the second change kept the first's curve up to its own step
        assert abs(configs_[2](first) - plan(first)) <= 1e-12 * abs(plan(first))


@CORE
@given(configs(budgets=True).filter(lambda c: len(c.rebudgets) > 0))
def test_continuous_across_every_rebudget(cfg: UBAConfig) -> None:
    """On either side of a re-budget's step s the rate tends to lr(s): the jump over
    s +- eps shrinks in proportion to eps (a step in the curve would not).

    f changes by a relative O(dq / min(q, 1 - q)) (d ln f / dq and d ln (1 - f) / dq are
    at most ~2 / min(q, 1 - q)), so over eps below 2**-12 of the steps in which q moves
    by min(q, 1 - q) it is linear in eps to well within a factor 2; the small eps is
    2**-10 of the large one (as the float steps next to s round them)."""
    span = abs(cfg.peak_lr - cfg.min_lr)
    start = cfg.warmup_steps + cfg.stable_steps
    knots = [(start, 1.0), *cfg.rebudgets, (cfg.total_steps, 0.0)]
    for (a, qa), (s, q), (b, qb) in zip(knots, knots[1:], knots[2:], strict=False):
        mid = cfg(s)
        slack = 4 * _ulp(max(cfg.peak_lr, cfg.min_lr)) + span * float(_abs_dfdp(np.array(1.0 - q), cfg.phi)) * 2.0**-48
        for side, slope, length in ((-1.0, (qa - q) / (s - a), s - a), (1.0, (q - qb) / (b - s), b - s)):
            scale = min(min(q, 1.0 - q) / slope, length)  # steps, within the segment
            big, small = s + side * scale * 2.0**-12, s + side * scale * 2.0**-22
            eps_big, eps_small = abs(big - s), abs(small - s)  # exact (Sterbenz)
            if not 0 < eps_big <= scale * 2.0**-11:
                continue  # no float step that close to s
            jump_big, jump_small = abs(cfg(big) - mid), abs(cfg(small) - mid)
            assert jump_small <= 2 * jump_big * (eps_small / eps_big) + slack, (s, side, jump_big, jump_small, slack)


@CORE
@given(configs(budgets=True))
def test_continuous_where_the_decay_starts(cfg: UBAConfig) -> None:
    """The peak is held through W + S, and the decay leaves it continuously (as
    test_continuous_at_the_warmup_hand_off, with the slope of the first decay segment)."""
    W, S = cfg.warmup_steps, cfg.stable_steps
    start, peak, floor, b = W + S, cfg.peak_lr, cfg.min_lr, cfg.phi / 2
    assert cfg(start) in (peak, np.nextafter(peak, -np.inf))
    if S:
        assert np.all(cfg(np.unique(np.linspace(W, start, 9).round())) == cfg(start))
    first_step, first_q = cfg.rebudgets[0] if cfg.rebudgets else (cfg.total_steps, 0.0)
    slope = (1.0 - first_q) / (first_step - start)  # of q, per step
    slack = 4 * _ulp(max(peak, floor))
    for eps in (0.5, 1e-1, 1e-3, 1e-6, 1e-9):
        right = start + eps
        p_seen = (right - start) * slope + 8 * 2.0**-53  # q = 1 + (q1 - 1) x rounds near 1 too
        bound = abs(peak - floor) * min(1.0, b * math.tan(math.pi * min(p_seen, 0.5) / 2) ** 2 * (1 + 1e-9))
        assert abs(cfg(right) - cfg(start)) <= bound + slack, eps


@CORE
@given(budget_histories(), st.data())
def test_rebudget_and_back_keeps_the_curve(history, data) -> None:
    """Changing the budget and changing it back at the same step gives the curve before
    (to the rounding of the remaining fraction); so does a change to the same total. The
    step is at or after the last re-budget: one before it rewrites the future, that
    re-budget included, and changing back cannot know of it."""
    _, _, cfg = history
    T = cfg.total_steps
    step = data.draw(st.integers(cfg.rebudgets[-1][0] if cfg.rebudgets else 0, T - 1))
    lo = max(step, cfg.warmup_steps + cfg.stable_steps) + 1
    other = data.draw(st.integers(lo, max(lo, 10**9)))
    if step <= cfg.warmup_steps + cfg.stable_steps:
        assert cfg.rebudget(step, other).rebudget(step, T) == dataclasses.replace(cfg, rebudgets=())
        return
    steps = np.unique(np.concatenate([np.linspace(0, T + 1, 60).round(), kinks(cfg), [step - 1, step, step + 1]]))
    steps = steps[steps >= 0]
    expected = cfg(steps)
    q = np.array([cfg.remaining_fraction(int(t)) for t in steps])
    tol = _same_curve_tolerance(cfg, steps, expected, q)
    for back in (cfg.rebudget(step, other).rebudget(step, T), cfg.rebudget(step, T)):
        assert back.total_steps == T
        assert np.all(np.abs(back(steps) - expected) <= tol), (steps, back(steps) - expected, tol)


@CORE
@given(budget_histories(), st.data())
def test_rebudget_before_the_decay_only_changes_the_total(history, data) -> None:
    _, _, cfg = history
    start = cfg.warmup_steps + cfg.stable_steps
    step = data.draw(st.integers(0, start))
    total = data.draw(st.one_of(st.integers(start + 1, start + 20), st.integers(start + 1, max(start + 1, 10**9))))
    assert cfg.rebudget(step, total) == dataclasses.replace(cfg, total_steps=total, rebudgets=())


@CORE
@given(budget_histories(), st.data())
def test_cooldown_reaches_the_floor_after_its_steps(history, data) -> None:
    _, _, cfg = history
    W, start, T = cfg.warmup_steps, cfg.warmup_steps + cfg.stable_steps, cfg.total_steps
    step = data.draw(st.integers(W, T - 1))
    steps = data.draw(st.one_of(st.integers(1, 16), st.integers(1, 10**9)))
    cool = cfg.cooldown(step, steps)
    assert cool.total_steps == step + steps
    assert np.all(cool([step + steps, step + steps + 1]) == cfg.min_lr)
    assert cool(step) == cfg(step)  # no jump where it starts
    if step <= start:  # from the peak: the stable phase ends at `step`
        assert cool == dataclasses.replace(cfg, total_steps=step + steps, stable_steps=step - W, rebudgets=())
    else:
        assert cool == cfg.rebudget(step, step + steps)


# --- every adapter equals the core --------------------------------------------------

ADAPTERS = {"torch": (torch_rates, True), "optax": (optax_rates, False), "keras": (keras_rates, False)}


@pytest.fixture(scope="module", params=list(ADAPTERS), ids=list(ADAPTERS))
def adapter(request):
    """(rates(cfg, steps) of one framework, whether it must equal the core exactly)."""
    rates, exact = ADAPTERS[request.param]
    rates(UBAConfig(total_steps=2, peak_lr=1.0, phi=2.0), [0])  # skips a missing framework here
    return rates, exact


@ADAPTER
@given(case=configs_and_steps(budgets=True))  # stable phases and re-budgets included
def test_adapter_equals_the_core(adapter, case) -> None:
    rates, exact = adapter
    cfg, steps = case
    got = rates(cfg, steps)
    if exact:  # torch writes the core's float64 value
        np.testing.assert_array_equal(got, cfg(steps), err_msg=f"steps {steps}")
    else:
        assert_float32_matches_core(got, cfg, steps)
