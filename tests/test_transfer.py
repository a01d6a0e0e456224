"""The lr transfer (uba_core.transfer_lr) and the direct comparison (uba_core.experimental).

The transfer is checked against the refined bound written out from its statement
(tests/_bound.py) on rates computed here from the formula; the comparison against paired
differences computed here.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys

import numpy as np
import pytest
from _bound import refined_bound_base_lr
from conftest import reference_rates

from uba_core import LRTransfer, UBAConfig, transfer_lr
from uba_core.experimental import compare_phis, pilot_plan


def bound_factor(tuned: UBAConfig, target: UBAConfig) -> float:
    steps = np.arange(tuned.total_steps)
    before = refined_bound_base_lr(reference_rates(tuned, steps) / tuned.peak_lr)
    after = refined_bound_base_lr(reference_rates(target, steps) / tuned.peak_lr)
    return after / before


SHAPES = {
    "phi-0.25": {"phi": 0.25},
    "phi-0.5": {"phi": 0.5},
    "phi-8": {"phi": 8.0},
    "phi-16-no-warmup": {"phi": 16.0, "warmup_steps": 0},
    "longer-warmup": {"warmup_steps": 30},
    "stable-phase": {"phi": 4.0, "stable_steps": 60},
    "floor": {"phi": 1.0, "min_lr": 0.01},
    "exponent": {"exponent": 2.0},
    "warmup-start": {"phi": 0.5, "warmup_start_lr": 0.02},
}


@pytest.mark.parametrize("target", list(SHAPES.values()), ids=list(SHAPES))
@pytest.mark.parametrize("allow_increase", [False, True], ids=["guarded", "raised"])
def test_transfer_is_the_ratio_of_the_bounds_optimal_base_lrs(target: dict, allow_increase: bool) -> None:
    tuned = UBAConfig(total_steps=200, peak_lr=0.3, phi=2.0, warmup_steps=10)
    got = transfer_lr(tuned, allow_increase=allow_increase, **target)
    shape = UBAConfig(**(tuned.to_dict() | target))
    expected = bound_factor(tuned, shape)
    assert isinstance(got, LRTransfer)
    assert got.bound_factor == pytest.approx(expected, rel=1e-9)
    guarded = expected > 1 and not allow_increase
    assert got.guarded == guarded
    assert got.factor == (1.0 if guarded else got.bound_factor)
    assert got.peak_lr == pytest.approx(0.3 * got.factor, rel=1e-12)
    moved = {"peak_lr": got.peak_lr, "min_lr": shape.min_lr * got.factor}
    moved["warmup_start_lr"] = shape.warmup_start_lr * got.factor
    assert got.config == UBAConfig(**(shape.to_dict() | moved))
    if guarded:
        assert got.peak_lr == 0.3 and "the tuned peak lr is kept" in got.reason


def test_the_uba_factors_at_a_long_budget_stay_put() -> None:
    """A regression check of the factors the docs quote (5 % warmup, T = 1000, raised)."""
    tuned = UBAConfig(total_steps=1000, peak_lr=1.0, warmup_steps=50)
    got = [transfer_lr(tuned, phi=phi, allow_increase=True).factor for phi in (0.25, 0.5, 1.0, 4.0, 8.0, 16.0)]
    np.testing.assert_allclose(got, [0.685, 0.764, 0.867, 1.169, 1.379, 1.633], atol=5e-4)


def test_the_bound_by_hand_on_three_constant_rates() -> None:
    """s = (1, 1, 1): t1 = 1/6, t2 = 3/6, t3 = (1/2)(1/2 * 3/3 + 1/1 * 2/2) = 3/4, gamma* = sqrt(2/15)."""
    from uba_core._transfer import bound_optimal_lr

    assert refined_bound_base_lr([1.0, 1.0, 1.0]) == pytest.approx(math.sqrt(2 / 15), rel=1e-15)
    assert bound_optimal_lr([1.0, 1.0, 1.0]) == pytest.approx(math.sqrt(2 / 15), rel=1e-15)
    # s = (2, 1): t1 = 1/6, t2 = 5/6, t3 = (1/2)(2/1 * 5/3) = 5/3, gamma* = sqrt(1/15)
    assert bound_optimal_lr([2.0, 1.0]) == pytest.approx(math.sqrt(1 / 15), rel=1e-15)


def test_the_whole_schedule_moves_floor_and_warmup_start_included() -> None:
    tuned = UBAConfig(total_steps=300, peak_lr=0.2, min_lr=0.02, warmup_steps=15, warmup_start_lr=0.01)
    got = transfer_lr(tuned, phi=0.5)
    steps = np.arange(300)
    shape = UBAConfig(**(tuned.to_dict() | {"phi": 0.5}))
    np.testing.assert_allclose(got.config(steps), got.factor * shape(steps), rtol=1e-12)
    assert got.factor == pytest.approx(bound_factor(tuned, shape), rel=1e-9)
    assert transfer_lr(tuned, phi=8.0).config.min_lr == 0.02  # guarded: factor 1, the floor as given


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"min_lr": 0.3}, r"the target floor must be < its peak lr 0\.2\. Received: min_lr=0\.3"),
        ({"exponent": 400.0}, r"cannot score the target schedule: its rates after the first step vanish"),
    ],
)
def test_schedules_the_bound_cannot_score_are_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        transfer_lr(UBAConfig(total_steps=1000, peak_lr=0.2), **kwargs)


def test_the_same_shape_transfers_to_itself() -> None:
    tuned = UBAConfig(total_steps=50, peak_lr=0.1, phi=4.0, warmup_steps=5)
    got = transfer_lr(tuned)
    assert (got.factor, got.peak_lr, got.guarded) == (1.0, 0.1, False)
    assert got.bound_factor == pytest.approx(1.0, rel=1e-12)


def test_a_constant_schedule_needs_a_lower_peak_than_cosine() -> None:
    """phi -> 0 approaches a constant rate: the bound's own optimum for a constant rate
    is sqrt(t1 / (t2 + t3)) with t3 a harmonic sum; the transfer moves towards it."""
    tuned = UBAConfig(total_steps=100, peak_lr=1.0)
    tiny = transfer_lr(tuned, phi=1e-3).factor
    constant = refined_bound_base_lr(np.ones(100)) / refined_bound_base_lr(reference_rates(tuned, np.arange(100)))
    assert tiny == pytest.approx(constant, rel=0.05)
    assert tiny < transfer_lr(tuned, phi=0.25).factor < 1.0


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"total_steps": 400}, ValueError, r"`total_steps` is not one \(across budgets no rule met its bar"),
        ({"peak_lr": 0.2}, ValueError, r"`peak_lr` is not one.*Received: peak_lr=0\.2"),
        ({"phi": 0.0}, ValueError, r"`phi` must be > 0"),
        ({"warmup_steps": 300}, ValueError, r"warmup_steps"),
        ({"allow_increase": 1}, TypeError, r"`allow_increase` must be a bool\. Received: allow_increase=1"),
    ],
)
def test_transfer_errors_name_the_argument(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        transfer_lr(UBAConfig(total_steps=200, peak_lr=0.1), **kwargs)


def test_transfer_needs_a_config_with_a_positive_peak() -> None:
    with pytest.raises(TypeError, match=r"`config` must be a UBAConfig"):
        transfer_lr({"total_steps": 10, "peak_lr": 0.1}, phi=4.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`tuned` must have a peak_lr > 0\. Received: tuned\.peak_lr=0\.0"):
        transfer_lr(UBAConfig(total_steps=10, peak_lr=0.0), phi=4.0)


def test_uba_transfer_lr_prints_the_librarys_numbers() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "uba_core.cli", "transfer-lr", "--total-steps", "300", "--peak-lr", "0.2",
         "--warmup-steps", "15", "--phi", "0.5", "8"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    tuned = UBAConfig(total_steps=300, peak_lr=0.2, warmup_steps=15)
    lines = proc.stdout.splitlines()
    assert lines[0] == "tuned: phi = 2, peak lr 0.2, 300 steps"
    low, high = transfer_lr(tuned, phi=0.5), transfer_lr(tuned, phi=8.0)
    assert lines[1].split()[:5] == ["phi", "=", "0.5", "peak", "lr"] and f"{low.peak_lr:.5g}" in lines[1]
    assert f"{high.peak_lr:.5g}" in lines[2] and "pass --allow-increase" in lines[2]


def test_uba_transfer_lr_names_its_flags() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "uba_core.cli", "transfer-lr", "--total-steps", "300", "--peak-lr", "0.2",
         "--phi", "-1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Argument `--phi` must be > 0. Received: --phi=-1.0" in proc.stderr


# --- the direct comparison ------------------------------------------------------------


def paired(base: list[float], other: list[float]) -> tuple[float, float]:
    diffs = [b - o for b, o in zip(base, other, strict=True)]
    return statistics.fmean(diffs), statistics.stdev(diffs) / math.sqrt(len(diffs))


def test_compare_switches_only_beyond_z_paired_standard_errors() -> None:
    base = [0.50, 0.52, 0.47, 0.55]
    better = [0.45, 0.49, 0.43, 0.52]  # better on every seed
    noisy = [0.40, 0.60, 0.41, 0.58]  # better on average, not beyond noise
    gain, se = paired(base, better)
    result = compare_phis(base, {0.5: better, 8.0: noisy})
    assert (result.phi, result.switched) == (0.5, True)
    assert result.gains[0.5] == pytest.approx((gain, se), rel=1e-12)
    assert result.gains[8.0] == pytest.approx(paired(base, noisy), rel=1e-12)
    assert compare_phis(base, {0.5: better}, z=0.99 * gain / se).switched
    kept = compare_phis(base, {0.5: better}, z=1.01 * gain / se)
    assert (kept.phi, kept.switched) == (2.0, False) and "is kept" in kept.reason


def test_compare_takes_the_largest_passing_gain_and_rejects_diverged_pilots() -> None:
    base = [1.0, 1.1, 0.9]
    result = compare_phis(base, {0.5: [0.9, 1.0, 0.8], 8.0: [0.8, 0.9, 0.71], 16.0: [0.1, math.inf, 0.1]}, z=1.0)
    assert result.phi == 8.0
    assert result.gains[16.0][0] == -math.inf
    assert not compare_phis([1.0, math.nan], {0.5: [0.5, 0.5]}).switched


@pytest.mark.parametrize(
    "args,kwargs,message",
    [
        (([0.1], {0.5: [0.1]}), {}, r"`baseline` must hold at least 2 losses"),
        (([0.1, 0.2], {0.5: [0.1]}), {}, r"`candidates\[0\.5\]` must hold one loss per baseline seed \(2\)"),
        (([0.1, 0.2], {2.0: [0.1, 0.2]}), {}, r"must not contain the baseline's phi 2"),
        (([0.1, 0.2], {}), {}, r"`candidates` must be a non-empty"),
        (([0.1, 0.2], {0.5: [0.1, 0.2]}), {"z": -1.0}, r"`z` must be >= 0"),
        (("0.1",), {}, r"`baseline` must be a sequence"),
    ],
)
def test_compare_errors_name_the_argument(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compare_phis(*args if len(args) == 2 else (*args, {0.5: [0.1]}), **kwargs)


def test_pilot_plan_spends_its_cost_on_paired_short_pilots() -> None:
    tuned = UBAConfig(total_steps=1200, peak_lr=0.1, warmup_steps=60, stable_steps=120)
    plan = pilot_plan(tuned, candidates=(0.5, 8.0), seeds=2, cost=0.5)
    assert plan.pilot_steps == 1200 // 12 == 100
    assert plan.cost == pytest.approx(3 * 2 * 100 / 1200)
    assert plan.baseline == UBAConfig(total_steps=100, peak_lr=0.1, warmup_steps=5, stable_steps=10)
    for phi, cfg in plan.candidates.items():
        assert cfg == transfer_lr(plan.baseline, phi=phi).config
    assert plan.candidates[8.0].peak_lr == 0.1  # guarded
    assert plan.candidates[0.5].peak_lr < 0.1


def test_pilot_plan_declines_pilots_too_short_to_say_anything() -> None:
    plan = pilot_plan(UBAConfig(total_steps=200, peak_lr=0.1))
    assert (plan.pilot_steps, plan.baseline, plan.candidates, plan.cost) == (0, None, {}, 0.0)
    assert "fewer than 20: too short to compare; keep phi = 2" in plan.reason
    with pytest.raises(ValueError, match=r"`candidates` must be distinct phis other than the tuned one \(2\)"):
        pilot_plan(UBAConfig(total_steps=2000, peak_lr=0.1), candidates=(2.0, 8.0))
    with pytest.raises(ValueError, match=r"`seeds` must be >= 2"):
        pilot_plan(UBAConfig(total_steps=2000, peak_lr=0.1), seeds=1)
    with pytest.raises(ValueError, match=r"`cost` must be <= 1"):
        pilot_plan(UBAConfig(total_steps=2000, peak_lr=0.1), cost=10.0)
    plan = pilot_plan(UBAConfig(total_steps=2400, peak_lr=0.1, warmup_steps=1200, stable_steps=1199),
                      candidates=np.array([0.5]))  # fmt: skip
    assert list(plan.candidates) == [0.5] and plan.baseline.stable_steps == 0
    assert "do not fit: no stable phase" in plan.reason
