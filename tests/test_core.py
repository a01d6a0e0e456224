"""uba_core against the independent high-precision formula of conftest and the identities of uba-math.md."""

from __future__ import annotations

import dataclasses
import json

import mpmath
import numpy as np
import pytest
from _hostile import assert_rejected, cases
from conftest import reference_factor, reference_rates, reference_remaining

import uba_core as uc
from uba_core import UBAConfig

REFERENCE_CONFIGS = [
    UBAConfig(total_steps=1, peak_lr=0.1, phi=2.0),
    UBAConfig(total_steps=7, peak_lr=1.0, phi=0.05, warmup_steps=3, warmup_start_lr=0.2),
    UBAConfig(total_steps=1000, peak_lr=3e-4, phi=50.0, min_lr=3e-6, warmup_steps=100),
    UBAConfig(total_steps=2**24 + 3, peak_lr=1.0, phi=0.5, min_lr=0.01, warmup_steps=2**20),
]


@pytest.mark.parametrize("cfg", REFERENCE_CONFIGS, ids=lambda c: f"T{c.total_steps}-phi{c.phi}")
def test_curve_matches_high_precision_formula(cfg: UBAConfig) -> None:
    W, T = cfg.warmup_steps, cfg.total_steps
    steps = np.unique(
        np.clip(
            np.concatenate(
                [[0, W - 1, W, W + 1, T - 1, T, T + 10], np.linspace(0, T + 5, 41), np.arange(W, W + 3) + 0.5]
            ),
            0,
            None,
        )
    )
    np.testing.assert_allclose(cfg(steps), reference_rates(cfg, steps), rtol=1e-12, atol=0)


@pytest.mark.parametrize("phi", [1e-3, 0.05, 0.5, 1.0, 2.0, 3.0, 8.0, 50.0, 1e4])
def test_factor_matches_formula_and_keeps_relative_precision_near_the_end(phi: float) -> None:
    progress = np.concatenate([np.linspace(0, 1, 101), 1 - np.logspace(-12, -1, 23)])
    expected = [reference_factor(p, phi) for p in progress]
    np.testing.assert_allclose(uc.uba_factor(progress, phi), expected, rtol=1e-12, atol=0)


class _Float32Numpy:
    """numpy's namespace without the float64 conversion (what a float32 framework sees)."""

    tan = staticmethod(np.tan)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)

    @staticmethod
    def clip(x, lo, hi):
        return np.clip(x, np.float32(lo), np.float32(hi))


@pytest.mark.parametrize("phi", [0.05, 2.0, 50.0])
def test_float32_keeps_relative_precision_in_the_last_steps(phi: float) -> None:
    """In float32, 1 + cos(pi p) loses every digit near the end; the curve must not."""
    cfg = UBAConfig(total_steps=1_000_000, peak_lr=1.0, phi=phi, warmup_steps=1000)
    steps = np.arange(cfg.total_steps - 2000, cfg.total_steps)
    got32 = uc.uba_lr(steps.astype(np.float32), cfg, xp=_Float32Numpy)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, cfg(steps), rtol=1e-5, atol=0)
    naive = np.float32(1) + np.cos(np.float32(np.pi) * ((steps - 1000) / np.float32(999_000)).astype(np.float32))
    assert np.max(np.abs(naive / (1 + np.cos(np.pi * (steps - 1000) / 999_000)) - 1)) > 1e-2


def test_phi_two_is_cosine() -> None:
    p = np.linspace(0, 1, 1001)
    np.testing.assert_allclose(uc.uba_factor(p, 2.0), (1 + np.cos(np.pi * p)) / 2, rtol=0, atol=1e-15)


@pytest.mark.parametrize("phi", [0.01, 0.3, 1.0, 2.0, 5.0, 40.0])
def test_moebius_reciprocal_and_mirror_forms(phi: float) -> None:
    p = np.linspace(0.0, 0.999, 999)
    f = uc.uba_factor(p, phi)
    c = np.cos(np.pi * p / 2) ** 2  # = (1 + cos(pi p)) / 2 without the cancellation at p = 1
    b = phi / 2
    np.testing.assert_allclose(f, c / (b + (1 - b) * c), rtol=1e-12, atol=1e-15)
    inner = p < 0.9
    np.testing.assert_allclose(1 / f[inner], (2 - phi) / 2 + phi / (1 + np.cos(np.pi * p[inner])), rtol=1e-12)
    np.testing.assert_allclose(f, 1 - uc.uba_factor(1 - p, 4 / phi), rtol=1e-12, atol=1e-15)


def test_limits_of_phi() -> None:
    p = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(uc.uba_factor(p, 1e-9), 1.0, atol=1e-7)
    np.testing.assert_allclose(uc.uba_factor(p, 1e9), 0.0, atol=1e-7)
    assert uc.uba_factor(0.0, 1e9) == 1.0 and uc.uba_factor(1.0, 1e-9) == 0.0


@pytest.mark.parametrize("phi", [0.1, 0.5, 2.0, 8.0, 100.0])
def test_mean_of_f_and_f_squared(phi: float) -> None:
    n = 200_000
    p = (np.arange(n) + 0.5) / n  # midpoint rule, error O(1/n^2)
    f = uc.uba_factor(p, phi)
    s = np.sqrt(phi / 2)
    assert uc.mean_lr_factor(phi) == pytest.approx(1 / (1 + s), rel=1e-14)
    assert uc.mean_sq_lr_factor(phi) == pytest.approx((2 + s) / (2 * (1 + s) ** 2), rel=1e-14)
    assert f.mean() == pytest.approx(uc.mean_lr_factor(phi), rel=1e-8)
    assert (f**2).mean() == pytest.approx(uc.mean_sq_lr_factor(phi), rel=1e-8)


def test_named_mean_values() -> None:
    assert uc.mean_lr_factor(2.0) == 0.5
    assert uc.mean_lr_factor(8.0) == pytest.approx(1 / 3, rel=1e-15)
    assert uc.mean_sq_lr_factor(2.0) == 0.375


def test_rates_hit_peak_and_floor_exactly_and_hold_the_floor() -> None:
    cfg = UBAConfig(total_steps=100, peak_lr=0.3, phi=3.0, min_lr=0.1, warmup_steps=10, warmup_start_lr=0.07)
    assert cfg(0) == 0.07 and cfg(10) == 0.3 and cfg(100) == 0.1
    assert np.all(cfg(np.arange(100, 10_000, 7)) == 0.1)
    decay = cfg(np.arange(10, 101))
    assert np.all(np.diff(decay) < 0)


def test_scalar_and_array_calls_return_float64() -> None:
    cfg = UBAConfig(total_steps=10, peak_lr=1.0, phi=2.0)
    assert isinstance(cfg(3), np.float64)
    out = cfg(np.arange(4, dtype=np.int32))
    assert out.dtype == np.float64 and out.shape == (4,)
    assert cfg([[1, 2]]).shape == (1, 2)


@pytest.mark.parametrize("step", [-1, np.nan, np.inf, [0, -0.5]])
def test_bad_steps_are_rejected(step) -> None:
    cfg = UBAConfig(total_steps=10, peak_lr=1.0, phi=2.0)
    with pytest.raises(ValueError, match="step"):
        cfg(step)


# --- phi and the condition number ---------------------------------------------------


@pytest.mark.parametrize("mu,L,T", [(1.0, 10.0, 1), (1.0, 10.0, 8), (0.01, 1.0, 50), (2.0, 2000.0, 200)])
def test_chebyshev_config_reproduces_the_step_sizes(mu: float, L: float, T: int) -> None:
    k = np.arange(1, T + 1)
    independent = 2 / ((L + mu) - (L - mu) * np.cos((2 * k - 1) * np.pi / (2 * T)))
    np.testing.assert_allclose(uc.chebyshev_step_sizes(mu, L, T), independent, rtol=1e-15)
    cfg = uc.chebyshev_config(mu, L, T)
    assert cfg.phi == 2 * L / mu and cfg.peak_lr == 1 / mu and cfg.min_lr == 1 / L
    np.testing.assert_allclose(cfg(k - 0.5), independent, rtol=1e-13)


@pytest.mark.parametrize("mu,L,T", [(1.0, 1.5, 3), (1.0, 10.0, 8), (0.01, 1.0, 50), (2.0, 2000.0, 200)])
def test_the_closed_form_is_the_chebyshev_steps_at_phi_2_kappa(mu: float, L: float, T: int) -> None:
    """The identity that justifies the reconstructed closed form (docs/math.md, "Where the
    formula comes from"), on the formula itself: conftest's 40-digit reference of f, not
    the library, with phi = 2 L / mu, lr_peak = 1 / mu, lr_min = 1 / L at t = k - 1/2."""
    k = np.arange(1, T + 1)
    with mpmath.workdps(40):  # float64 would cancel in (L + mu) - (L - mu) cos near the end
        chebyshev = np.array(
            [float(2 / ((L + mu) - (L - mu) * mpmath.cos((2 * j - 1) * mpmath.pi / (2 * T)))) for j in k]
        )
    form = [1 / L + (1 / mu - 1 / L) * reference_factor((j - 0.5) / T, 2 * L / mu) for j in k]
    np.testing.assert_allclose(form, chebyshev, rtol=1e-14)
    # Another phi is another schedule: the identity pins phi = 2 kappa, not any phi.
    other = [1 / L + (1 / mu - 1 / L) * reference_factor((j - 0.5) / T, L / mu) for j in k]
    assert np.max(np.abs(np.array(other) / chebyshev - 1)) > 1e-2


@pytest.mark.parametrize("kappa,T", [(10.0, 5), (10.0, 30), (100.0, 20), (1000.0, 64)])
def test_chebyshev_steps_attain_the_minimax_residual(kappa: float, T: int) -> None:
    mu, L = 1.0, kappa
    steps = uc.chebyshev_step_sizes(mu, L, T)
    bound = uc.chebyshev_residual_bound(kappa, T)
    rho = (np.sqrt(kappa) + 1) / (np.sqrt(kappa) - 1)
    assert bound == pytest.approx(2 / (rho**T + rho**-T), rel=1e-12)
    assert uc.worst_case_residual(steps, mu, L) == pytest.approx(bound, rel=1e-9)
    # A dense grid never exceeds the exact maximum, and comes close to it.
    lam = np.linspace(mu, L, 200_001)
    dense = np.max(np.abs(np.prod(1 - np.multiply.outer(lam, steps), axis=1)))
    assert dense <= uc.worst_case_residual(steps, mu, L) * (1 + 1e-12)
    assert dense == pytest.approx(bound, rel=1e-3)
    # Any other step sizes do worse: perturbations, and UBA on the integer grid.
    rng = np.random.default_rng(0)
    for _ in range(5):
        other = steps * np.exp(0.05 * rng.standard_normal(T))
        assert uc.worst_case_residual(other, mu, L) > bound
    integer_grid = uc.chebyshev_config(mu, L, T)(np.arange(T))
    assert uc.worst_case_residual(integer_grid, mu, L) > 2 * bound


def test_worst_case_residual_finds_an_interior_peak_a_grid_misses() -> None:
    # One step of size 1 / 5.5 on [1, 10]: |1 - lam / 5.5| peaks at the ends;
    # two steps with roots 2 and 9: the interior maximum is at the derivative's zero.
    steps = np.array([0.5, 1 / 9])
    lam = np.linspace(2, 9, 1_000_001)
    interior = np.max(np.abs((1 - 0.5 * lam) * (1 - lam / 9)))
    exact = uc.worst_case_residual(steps, 1.0, 10.0)
    ends = max(abs((1 - 0.5) * (1 - 1 / 9)), abs((1 - 5) * (1 - 10 / 9)))
    assert exact == pytest.approx(max(interior, ends), rel=1e-12)


def test_phi_condition_number_round_trip_and_branches() -> None:
    for kappa in (1.0, 3.0, 50.0, 1e6):
        assert uc.condition_number_for_phi(uc.phi_for_condition_number(kappa)) == kappa
    assert uc.condition_number_for_phi(0.5) == 4.0  # mirrored branch, kappa' = 2 / phi
    assert uc.describe_phi(2.0).branch == "cosine" and uc.describe_phi(2.0).kappa == 1.0
    assert uc.describe_phi(0.5).branch == "mirrored"
    assert uc.describe_phi(9.0).branch == "convex"
    # The mirrored branch is the point mirror of the 4 / phi shape, which has the same kappa.
    assert uc.condition_number_for_phi(0.5) == uc.condition_number_for_phi(4 / 0.5)


def test_helpers_reject_bad_shapes() -> None:
    with pytest.raises(ValueError, match="`L` must be >= `mu`"):
        uc.chebyshev_step_sizes(2.0, 1.0, 3)
    with pytest.raises(ValueError, match="total_steps"):
        uc.chebyshev_step_sizes(1.0, 2.0, 3.5)
    k = np.arange(1, 4)  # an integral float budget is the integer budget
    np.testing.assert_allclose(
        uc.chebyshev_step_sizes(1.0, 2.0, 3.0), 2 / (3.0 - np.cos((2 * k - 1) * np.pi / 6)), rtol=1e-15
    )
    with pytest.raises(ValueError, match="step_sizes"):
        uc.worst_case_residual([], 1.0, 2.0)
    with pytest.raises(ValueError, match="step_sizes"):
        uc.worst_case_residual([0.1, np.nan], 1.0, 2.0)


@pytest.mark.parametrize(
    "step_sizes",
    ["abc", None, [[0.1, 0.2]], [0.1, "x"], [0.1, np.inf]],
    ids=["str", "none", "2-d", "str-entry", "inf-entry"],
)
def test_worst_case_residual_rejects_bad_step_sizes_by_name(step_sizes) -> None:
    with pytest.raises((TypeError, ValueError), match="`step_sizes`"):
        uc.worst_case_residual(step_sizes, 1.0, 10.0)


# --- config validation and serialization --------------------------------------------

GOOD = {"total_steps": 100, "peak_lr": 0.1, "phi": 2.0, "min_lr": 0.001, "warmup_steps": 10, "warmup_start_lr": 0.0}
FIELDS = (
    "total_steps",
    "peak_lr",
    "phi",
    "min_lr",
    "warmup_steps",
    "warmup_start_lr",
    "exponent",
    "stable_steps",
    "rebudgets",
)
CHEBYSHEV = {"mu": 1.0, "L": 10.0, "total_steps": 5}

# The core's entry points on tests/_hostile.py's table: mu and L follow phi's rule.
HOSTILE_CASES = [
    *cases("UBAConfig", lambda **kw: UBAConfig(**{**GOOD, **kw}), {f: f for f in FIELDS}),
    *cases(
        "phi_for_condition_number",
        lambda **kw: uc.phi_for_condition_number(**{"kappa": 10.0, **kw}),
        {"kappa": "kappa"},
    ),
    *cases("condition_number_for_phi", lambda **kw: uc.condition_number_for_phi(**{"phi": 4.0, **kw}), {"phi": "phi"}),
    *cases("mean_lr_factor", lambda **kw: uc.mean_lr_factor(**{"phi": 2.0, **kw}), {"phi": "phi"}),
    *cases("mean_sq_lr_factor", lambda **kw: uc.mean_sq_lr_factor(**{"phi": 2.0, **kw}), {"phi": "phi"}),
    *cases("describe_phi", lambda **kw: uc.describe_phi(**{"phi": 2.0, **kw}), {"phi": "phi"}),
    *cases(
        "chebyshev_step_sizes",
        lambda **kw: uc.chebyshev_step_sizes(**{**CHEBYSHEV, **kw}),
        {"phi": "mu", "total_steps": "total_steps"},
    ),
    *cases("chebyshev_step_sizes", lambda **kw: uc.chebyshev_step_sizes(**{**CHEBYSHEV, **kw}), {"phi": "L"}),
    *cases(
        "chebyshev_config",
        lambda **kw: uc.chebyshev_config(**{**CHEBYSHEV, **kw}),
        {"phi": "mu", "total_steps": "total_steps"},
    ),
    *cases("chebyshev_config", lambda **kw: uc.chebyshev_config(**{**CHEBYSHEV, **kw}), {"phi": "L"}),
    *cases(
        "chebyshev_residual_bound",
        lambda **kw: uc.chebyshev_residual_bound(**{"kappa": 10.0, "total_steps": 5, **kw}),
        {"kappa": "kappa", "total_steps": "total_steps"},
    ),
    *cases(
        "worst_case_residual",
        lambda **kw: uc.worst_case_residual(**{"step_sizes": [0.1, 0.2], "mu": 1.0, "L": 10.0, **kw}),
        {"phi": "mu"},
    ),
    *cases(
        "worst_case_residual",
        lambda **kw: uc.worst_case_residual(**{"step_sizes": [0.1, 0.2], "mu": 1.0, "L": 10.0, **kw}),
        {"phi": "L"},
    ),
]


# rebudget's and cooldown's step follows warmup_steps' rule (a count below the budget),
# their new total and length total_steps' rule (a count >= 1).
PLAN = UBAConfig(total_steps=100, peak_lr=0.1, min_lr=0.001, warmup_steps=10, stable_steps=20)
PAST_THE_END = (ValueError, "must be < this schedule's total_steps=100")
HOSTILE_CASES += [
    *cases(
        "UBAConfig.rebudget",
        lambda **kw: PLAN.rebudget(**{"step": 50, "total_steps": 200, **kw}),
        {"warmup_steps": "step", "total_steps": "total_steps"},
        errors={
            ("warmup_steps", "at-budget"): PAST_THE_END,
            ("warmup_steps", "past-budget"): (ValueError, "must be > `step`"),
        },
    ),
    *cases(
        "UBAConfig.cooldown",
        lambda **kw: PLAN.cooldown(**{"step": 50, "steps": 100, **kw}),
        {"warmup_steps": "step", "total_steps": "steps"},
        errors={("warmup_steps", "at-budget"): PAST_THE_END, ("warmup_steps", "past-budget"): PAST_THE_END},
    ),
    *cases(
        "UBAConfig.remaining_fraction",
        lambda **kw: PLAN.remaining_fraction(**{"step": 50, **kw}),
        {"warmup_steps": "step"},
        valid={"warmup_steps": {"at-budget", "past-budget"}},  # 0 from the end on
    ),
]


@pytest.mark.parametrize("build,arg,bad", HOSTILE_CASES)
def test_core_entry_points_reject_hostile_arguments(build, arg: str, bad) -> None:
    assert_rejected(build, arg, bad)


def test_config_is_frozen_and_keyword_only() -> None:
    cfg = UBAConfig(**GOOD)
    with pytest.raises(AttributeError):
        cfg.phi = 3.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        UBAConfig(100, 0.1, 2.0)  # type: ignore[misc]


def test_config_normalises_numpy_scalars_to_plain_types() -> None:
    cfg = UBAConfig(total_steps=np.int64(100), peak_lr=np.float32(0.5), phi=np.float64(3.0))
    assert type(cfg.total_steps) is int and type(cfg.peak_lr) is float and type(cfg.phi) is float


@pytest.mark.parametrize(
    "cfg",
    [
        UBAConfig(**GOOD),
        UBAConfig(**GOOD, stable_steps=30),
        UBAConfig(**GOOD, stable_steps=30).rebudget(60, 250).rebudget(200, 220),
    ],
    ids=["plain", "stable", "stable-rebudgeted-twice"],
)
def test_config_json_round_trip(cfg: UBAConfig) -> None:
    again = UBAConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert UBAConfig.from_dict(json.loads(cfg.to_json())) == cfg
    steps = np.arange(0, cfg.total_steps + 20)
    np.testing.assert_array_equal(again(steps), cfg(steps))


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    with pytest.raises(ValueError, match=r"Unknown UBAConfig keys.*'lr'"):
        UBAConfig.from_dict({**GOOD, "lr": 0.1})
    with pytest.raises(ValueError, match=r"Missing UBAConfig keys.*'phi'"):
        UBAConfig.from_dict({"total_steps": 10, "peak_lr": 0.1})
    with pytest.raises(TypeError, match="mapping"):
        UBAConfig.from_dict([("phi", 2.0)])  # type: ignore[arg-type]


def test_default_phi_is_the_cosine_shape() -> None:
    # The default chosen from the benchmark (README, "Results") is phi = 2.
    assert uc.DEFAULT_PHI == 2.0
    plain = UBAConfig(total_steps=40, peak_lr=0.3, min_lr=0.03)
    assert plain.phi == uc.DEFAULT_PHI == uc._schedule.make_config(total_steps=40, peak_lr=0.3).phi
    t = np.arange(41)
    np.testing.assert_allclose(plain(t), 0.03 + 0.27 * 0.5 * (1 + np.cos(np.pi * t / 40)), rtol=1e-12)


def test_make_config_reports_the_callers_names() -> None:
    with pytest.raises(ValueError, match=r"`T_max` must be >= 1\. Received: T_max=0"):
        uc._schedule.make_config({"total_steps": "T_max"}, total_steps=0, peak_lr=0.1, phi=2.0)
    with pytest.raises(ValueError, match=r"`eta_min` must be >= 0\.0\. Received: eta_min=-0\.5"):
        uc._schedule.make_config(
            {"min_lr": "eta_min", "peak_lr": "peak"}, total_steps=5, peak_lr=0.1, phi=2.0, min_lr=-0.5
        )


def test_integral_float_budgets_are_accepted_as_ints() -> None:
    cfg = UBAConfig(total_steps=10.0, peak_lr=1.0, warmup_steps=np.float32(2.0))
    assert (cfg.total_steps, cfg.warmup_steps) == (10, 2)
    assert type(cfg.total_steps) is int and type(cfg.warmup_steps) is int
    assert cfg == UBAConfig(total_steps=10, peak_lr=1.0, warmup_steps=2)


def test_a_floor_above_the_peak_makes_the_curve_rise_to_it() -> None:
    # torch's CosineAnnealingLR accepts eta_min above the lr: the rate climbs to eta_min.
    cfg = UBAConfig(total_steps=8, peak_lr=0.0, phi=2.0, min_lr=0.5)
    t = np.arange(12)
    np.testing.assert_allclose(cfg(t), reference_rates(cfg, t), rtol=0, atol=1e-16)
    assert cfg(0) == 0.0 and cfg(8) == 0.5 and np.all(np.diff(cfg(t)) >= 0)


@pytest.mark.parametrize("exponent", [0.5, 2.0, 3.0])
def test_exponent_raises_the_shape_to_a_power(exponent: float) -> None:
    cfg = UBAConfig(total_steps=50, peak_lr=1.0, phi=4.0, min_lr=0.1, warmup_steps=5, exponent=exponent)
    t = np.arange(0, 60)
    np.testing.assert_allclose(cfg(t), reference_rates(cfg, t), rtol=1e-13, atol=0)
    assert UBAConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("phi", [1e12, 1e30, 1e300])
def test_a_huge_phi_still_starts_the_decay_exactly_at_the_peak(phi: float) -> None:
    cfg = UBAConfig(total_steps=10, peak_lr=0.5, phi=phi, min_lr=0.01, warmup_steps=2)
    assert cfg(2) == 0.5 and cfg(10) == 0.01
    # just after the peak the curve is already at the floor, to the last digit the shape allows
    t = np.arange(3, 10)
    np.testing.assert_allclose(cfg(t), reference_rates(cfg, t), rtol=1e-12)


def test_curve_caches_of_one_config_compare_equal_whatever_block_they_hold() -> None:
    cfg = UBAConfig(total_steps=5000, peak_lr=1.0)
    a, b = uc._schedule.CurveCache(cfg, block=16), uc._schedule.CurveCache(cfg, block=16)
    a(4000)  # a holds another block than b now
    assert a == b
    assert a != uc._schedule.CurveCache(UBAConfig(total_steps=5000, peak_lr=0.5), block=16)
    assert a != uc._schedule.CurveCache(cfg, block=8) and a != cfg


def test_curve_cache_rejects_a_negative_step_with_value_error() -> None:
    cache = uc._schedule.CurveCache(UBAConfig(total_steps=10, peak_lr=1.0))
    with pytest.raises(ValueError, match=r"`step` must be >= 0\. Received: step=-1"):
        cache(-1)
    assert cache(3) == float(UBAConfig(total_steps=10, peak_lr=1.0)(3))
    with pytest.raises(ValueError, match=r"`step` must be >= 0\. Received: step=-5"):
        cache(-5)


@pytest.mark.parametrize(
    "cfg",
    [
        UBAConfig(total_steps=634441525, peak_lr=10.0, phi=0.01261245351885681, min_lr=3.9511343854138037),
        UBAConfig(total_steps=312685727, peak_lr=1.9721617871562047, phi=0.012205942326553499),
        UBAConfig(
            total_steps=561528627,
            peak_lr=10.0,
            phi=6.823276153121079e-05,
            min_lr=2.626252384531237,
            warmup_steps=473756793,
        ),
    ],
    ids=["T6e8-floor", "T3e8", "T5e8-warm"],
)
def test_rates_never_rise_by_an_ulp_at_the_start_of_a_long_decay(cfg: UBAConfig) -> None:
    # consecutive rates there differ by less than one ulp; rounding once made some rise by one
    steps = np.arange(cfg.warmup_steps, cfg.warmup_steps + 5000)
    assert np.all(np.diff(cfg(steps)) <= 0)


# --- the stable phase, re-budgets and cooldowns (issue 12) ---------------------------------


def budget_steps(cfg: UBAConfig, *switches: int) -> np.ndarray:
    """Every step next to a kink (W, W + S, each switch, T) and a spread over 0..T + 5."""
    W, S, T = cfg.warmup_steps, cfg.stable_steps, cfg.total_steps
    kinks = [0, W, W + S, T, *switches, *(s for s, _ in cfg.rebudgets)]
    near = [k + d for k in kinks for d in (-1, 0, 1)]
    steps = np.concatenate([near, np.linspace(0, T + 5, 61).round(), [W + S + 0.5, T - 0.5]])
    return np.unique(steps[steps >= 0])


STABLE_CONFIGS = [
    UBAConfig(total_steps=2, peak_lr=1.0, stable_steps=1),
    UBAConfig(total_steps=100, peak_lr=0.1, phi=2.0, stable_steps=80),
    UBAConfig(total_steps=1000, peak_lr=3e-4, phi=50.0, min_lr=3e-6, warmup_steps=100, stable_steps=500),
    UBAConfig(total_steps=1000, peak_lr=1.0, phi=0.05, warmup_steps=10, warmup_start_lr=0.2, stable_steps=989),
    UBAConfig(total_steps=500, peak_lr=1.0, phi=4.0, min_lr=0.1, stable_steps=100, exponent=2.0),
    UBAConfig(total_steps=2**24 + 3, peak_lr=1.0, phi=0.5, min_lr=0.01, warmup_steps=2**20, stable_steps=2**23),
]


@pytest.mark.parametrize("cfg", STABLE_CONFIGS, ids=lambda c: f"T{c.total_steps}-S{c.stable_steps}-phi{c.phi}")
def test_stable_phase_matches_the_reference(cfg: UBAConfig) -> None:
    steps = budget_steps(cfg)
    np.testing.assert_allclose(cfg(steps), reference_rates(cfg, steps), rtol=1e-12, atol=0)
    W, S = cfg.warmup_steps, cfg.stable_steps
    held = np.arange(W, W + S + 1)
    assert np.all(cfg(held[:: max(1, S // 1000)]) == cfg.peak_lr)  # the peak exactly, through W + S
    assert cfg.remaining_fraction(W + S) == 1.0 and cfg.remaining_fraction(cfg.total_steps) == 0.0


@pytest.mark.parametrize("warm,stable,total", [(0, 0, 50), (0, 70, 100), (10, 60, 100), (100, 8000, 10_000)])
def test_phi_two_with_a_stable_phase_is_wsd_with_a_cosine_cooldown(warm: int, stable: int, total: int) -> None:
    """WSD (warmup-stable-decay), written here: linear warmup to the peak, the peak held
    until W + S, then the cosine cooldown (1 + cos(pi (t - W - S) / D)) / 2 over the last
    D = T - W - S steps, and the floor after them."""
    peak, floor, start = 0.3, 0.003, 0.01
    cfg = UBAConfig(
        total_steps=total, peak_lr=peak, phi=2.0, min_lr=floor, warmup_steps=warm, warmup_start_lr=start,
        stable_steps=stable,
    )  # fmt: skip
    t = np.arange(total + 10, dtype=np.float64)
    cooldown = total - warm - stable
    progress = np.clip((t - warm - stable) / cooldown, 0.0, 1.0)
    wsd = np.where(
        t < warm,
        start + (peak - start) * t / max(warm, 1),
        floor + (peak - floor) * 0.5 * (1 + np.cos(np.pi * progress)),
    )
    np.testing.assert_allclose(cfg(t), wsd, rtol=1e-13, atol=1e-16)


# (plan, budget changes (step, new total) applied in order): longer and shorter, one and two,
# from inside the decay, the stable phase and the warmup.
REBUDGETS = {
    "longer": (UBAConfig(total_steps=100, peak_lr=1.0, phi=2.0), [(50, 150)]),
    "shorter": (UBAConfig(total_steps=100, peak_lr=1.0, phi=8.0, min_lr=0.05), [(50, 60)]),
    "to-the-next-step": (UBAConfig(total_steps=100, peak_lr=1.0, phi=0.5), [(50, 51)]),
    "first-decay-step": (UBAConfig(total_steps=100, peak_lr=1.0, phi=3.0, warmup_steps=10), [(11, 300)]),
    "last-step": (UBAConfig(total_steps=100, peak_lr=1.0, phi=3.0, min_lr=0.2), [(99, 500)]),
    "warm-stable-longer": (
        UBAConfig(total_steps=1000, peak_lr=3e-4, phi=50.0, min_lr=3e-6, warmup_steps=100, stable_steps=500),
        [(700, 1500)],
    ),
    "twice-longer-shorter": (
        UBAConfig(total_steps=1000, peak_lr=0.5, phi=0.2, warmup_steps=50, warmup_start_lr=0.05, stable_steps=200),
        [(400, 2000), (1200, 1300)],
    ),
    "twice-shorter-longer": (
        UBAConfig(total_steps=1000, peak_lr=0.5, phi=5.0, min_lr=0.01, stable_steps=100),
        [(300, 600), (500, 5000)],
    ),
    "twice-at-the-same-step": (UBAConfig(total_steps=200, peak_lr=1.0, phi=1.0), [(80, 400), (80, 120)]),
    "back-before-the-first": (
        UBAConfig(total_steps=200, peak_lr=1.0, phi=1.0, stable_steps=20),
        [(150, 400), (100, 300)],  # the second goes back to before the first: its knot goes
    ),
    "in-the-stable-phase": (UBAConfig(total_steps=100, peak_lr=1.0, phi=4.0, stable_steps=50), [(30, 300)]),
    "stable-phase-after-a-rebudget": (
        UBAConfig(total_steps=100, peak_lr=1.0, phi=4.0, warmup_steps=5, stable_steps=50),
        [(70, 300), (40, 60)],
    ),
    "warmup-shorter": (UBAConfig(total_steps=100, peak_lr=1.0, warmup_steps=20, warmup_start_lr=0.1), [(5, 40)]),
    "exponent": (UBAConfig(total_steps=100, peak_lr=1.0, phi=4.0, min_lr=0.1, exponent=2.0), [(40, 70)]),
    "huge-budget": (
        UBAConfig(total_steps=2**24 + 3, peak_lr=1.0, phi=0.5, min_lr=0.01, warmup_steps=2**20, stable_steps=2**22),
        [(2**23, 2**25 + 7), (2**25, 2**25 + 1000)],
    ),
}


def apply(plan: UBAConfig, changes) -> list[UBAConfig]:
    """``plan`` and each config after the next change, in order."""
    out = [plan]
    for step, total in changes:
        out.append(out[-1].rebudget(step, total))
    return out


@pytest.mark.parametrize("name", list(REBUDGETS))
def test_rebudget_matches_the_reference(name: str) -> None:
    plan, changes = REBUDGETS[name]
    history = apply(plan, changes)
    cfg = history[-1]
    steps = np.unique(np.concatenate([budget_steps(c, *(s for s, _ in changes)) for c in history]))
    np.testing.assert_allclose(cfg(steps), reference_rates(plan, steps, changes), rtol=1e-12, atol=0)
    # the stored knots are the remaining fractions the reference gives at those steps
    for step, q in cfg.rebudgets:
        with mpmath.workdps(40):
            assert q == pytest.approx(float(reference_remaining(mpmath.mpf(step), plan, changes)), rel=1e-15)
    assert cfg.total_steps == changes[-1][1] and cfg(cfg.total_steps) == cfg.min_lr


@pytest.mark.parametrize("name", list(REBUDGETS))
def test_rebudget_keeps_the_curve_up_to_the_switch(name: str) -> None:
    plan, changes = REBUDGETS[name]
    history = apply(plan, changes)
    for before, after, (step, _) in zip(history[:-1], history[1:], changes, strict=True):
        t = np.unique(np.linspace(0, step, 201).round())
        np.testing.assert_allclose(after(t), before(t), rtol=1e-14, atol=0)
        assert after(step) == before(step)  # no jump at the switch


def test_rebudget_before_the_decay_only_changes_the_total() -> None:
    plan = UBAConfig(total_steps=100, peak_lr=1.0, phi=4.0, min_lr=0.1, warmup_steps=10, stable_steps=30)
    for step in (0, 5, 10, 25, 40):
        for total in (41, 100, 1000):
            assert plan.rebudget(step, total) == dataclasses.replace(plan, total_steps=total)
    # re-budgets after the step are undone with the rest of the future
    later = plan.rebudget(70, 200).rebudget(90, 300)
    assert later.rebudget(20, 60) == dataclasses.replace(plan, total_steps=60)


def test_rebudget_with_the_same_total_or_back_again_keeps_the_curve() -> None:
    plan = UBAConfig(total_steps=1000, peak_lr=1.0, phi=3.0, min_lr=0.01, warmup_steps=50, stable_steps=100)
    t = np.arange(1100)
    np.testing.assert_allclose(plan.rebudget(400, 1000)(t), plan(t), rtol=1e-13, atol=0)
    np.testing.assert_allclose(plan.rebudget(400, 3000).rebudget(400, 1000)(t), plan(t), rtol=1e-13, atol=0)


@pytest.mark.parametrize(
    "plan,step,steps",
    [
        (UBAConfig(total_steps=10**6, peak_lr=0.1, stable_steps=10**6 - 1), 1000, 200),  # a constant run
        (UBAConfig(total_steps=1000, peak_lr=0.1, phi=4.0, min_lr=1e-3, warmup_steps=100, stable_steps=600), 100, 50),
        (UBAConfig(total_steps=1000, peak_lr=0.1, phi=4.0, min_lr=1e-3, warmup_steps=100, stable_steps=600), 350, 900),
        (UBAConfig(total_steps=1000, peak_lr=0.1, phi=4.0, min_lr=1e-3, warmup_steps=100, stable_steps=600), 700, 1),
        (UBAConfig(total_steps=1000, peak_lr=0.1, phi=4.0, warmup_steps=100, stable_steps=600).rebudget(800, 900),
         500, 100),
    ],
    ids=["constant-run", "at-the-warmup-end", "inside-stable", "at-the-stable-end", "stable-after-a-rebudget"],
)  # fmt: skip
def test_cooldown_from_the_stable_phase_decays_from_the_peak(plan: UBAConfig, step: int, steps: int) -> None:
    cool = plan.cooldown(step, steps)
    W = plan.warmup_steps
    # warmup W, stable step - W, then a decay of `steps`: the reference of that plan
    expected = UBAConfig(**{**plan.to_dict(), "total_steps": step + steps, "stable_steps": step - W, "rebudgets": []})
    assert cool == expected
    t = budget_steps(cool, step)
    np.testing.assert_allclose(cool(t), reference_rates(expected, t), rtol=1e-12, atol=0)
    assert cool(step) == plan.peak_lr and cool(step + steps) == plan.min_lr
    # the same decay as a fresh one of `steps` steps, shifted to start at `step`
    d = np.arange(steps + 1)
    fresh = UBAConfig(total_steps=steps, peak_lr=plan.peak_lr, phi=plan.phi, min_lr=plan.min_lr)
    np.testing.assert_allclose(cool(step + d), fresh(d), rtol=1e-14, atol=0)


@pytest.mark.parametrize("step,steps", [(701, 300), (800, 20), (800, 5000), (999, 1)])
def test_cooldown_inside_the_decay_is_a_rebudget(step: int, steps: int) -> None:
    plan = UBAConfig(total_steps=1000, peak_lr=0.1, phi=4.0, min_lr=1e-3, warmup_steps=100, stable_steps=600)
    cool = plan.cooldown(step, steps)
    assert cool == plan.rebudget(step, step + steps)
    t = budget_steps(cool, step)
    np.testing.assert_allclose(cool(t), reference_rates(plan, t, [(step, step + steps)]), rtol=1e-12, atol=0)


def test_remaining_fraction_is_one_before_the_decay_and_zero_from_the_end() -> None:
    cfg = UBAConfig(total_steps=100, peak_lr=1.0, warmup_steps=10, stable_steps=30).rebudget(70, 130)
    assert [cfg.remaining_fraction(t) for t in (0, 10, 40, 130, 10**6)] == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert cfg.remaining_fraction(70) == 0.5 and cfg.remaining_fraction(100) == 0.25  # 30 / 60, then half of it
    assert cfg.remaining_fraction(10.0) == 1.0  # an integral float is a step


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: PLAN.rebudget(50, 50), r"`total_steps` must be > `step`.*Received: step=50, total_steps=50\."),
        (lambda: PLAN.rebudget(50, 40), r"`total_steps` must be > `step`.*Received: step=50, total_steps=40\."),
        (lambda: PLAN.rebudget(100, 200), r"`step` must be < this schedule's total_steps=100.*Received: step=100\."),
        (lambda: PLAN.rebudget(150, 200), r"`step` must be < this schedule's total_steps=100.*Received: step=150\."),
        # a new total that leaves the warmup and the stable phase (30 steps) no decay
        (lambda: PLAN.rebudget(20, 30), r"`warmup_steps` \+ `stable_steps` must be < `total_steps`"),
        (lambda: PLAN.cooldown(5, 10), r"`step` must be >= warmup_steps=10.*Received: step=5\."),
        (lambda: PLAN.cooldown(50, 0), r"`steps` must be >= 1\. Received: steps=0"),
        (lambda: PLAN.cooldown(100, 10), r"`step` must be < this schedule's total_steps=100"),
        (lambda: PLAN.remaining_fraction(-1), r"`step` must be >= 0\. Received: step=-1"),
    ],
    ids=["total-at-step", "total-below-step", "step-at-end", "step-past-end", "no-decay-left", "cooldown-in-warmup",
         "cooldown-of-zero-steps", "cooldown-past-end", "negative-step"],
)  # fmt: skip
def test_rebudget_and_cooldown_reject_impossible_requests(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
