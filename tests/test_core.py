"""uba_core against the independent high-precision formula of conftest and the identities of uba-math.md."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _hostile import assert_rejected, cases
from conftest import reference_factor, reference_rates

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
FIELDS = ("total_steps", "peak_lr", "phi", "min_lr", "warmup_steps", "warmup_start_lr", "exponent")
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


def test_config_json_round_trip() -> None:
    cfg = UBAConfig(**GOOD)
    again = UBAConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert UBAConfig.from_dict(json.loads(cfg.to_json())) == cfg
    steps = np.arange(0, 120)
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
