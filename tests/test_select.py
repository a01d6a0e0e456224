"""Choosing phi: gradient_noise, the noisy quadratic model, the annealing law, select_phi and the adapters.

Every check compares with something computed here, independently of the code under
test: numpy's own covariance, SGD simulated on a known noisy quadratic, the annealing
law evaluated by the test's own S1 / S2, and closed-form least-squares gradients and
Hessians. The UBA curve is the closed form, written out in :func:`uba_rates`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from _bound import refined_bound_base_lr
from conftest import framework

from uba_core import stochastic_lanczos_quadrature
from uba_core.experimental import (
    CANDIDATE_PHIS,
    AnnealingLaw,
    GradientNoise,
    NoisyQuadratic,
    gradient_noise,
    select_phi,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def uba_rates(total: int, peak: float, phi: float, warmup: int = 0) -> np.ndarray:
    """lr_0 .. lr_{T-1} of UBA, from the formula: f = 2u / (2 phi + (2 - phi) u), u = 1 + cos(pi p)."""
    t = np.arange(total, dtype=np.float64)
    p = np.clip((t - warmup) / (total - warmup), 0.0, 1.0)
    u = 1.0 + np.cos(np.pi * p)
    lr = peak * 2.0 * u / (2.0 * phi + (2.0 - phi) * u)
    return np.where(t < warmup, peak * t / max(warmup, 1), lr)


def transfer_factor(total: int, phi: float, warmup: int = 0) -> float:
    """The guarded lr transfer from cosine, from the bound written out in tests/_bound.py."""
    ratio = refined_bound_base_lr(uba_rates(total, 1.0, phi, warmup)) / refined_bound_base_lr(
        uba_rates(total, 1.0, 2.0, warmup)
    )
    return min(ratio, 1.0)


def constant_rates(total: int, peak: float, warmup: int = 0) -> np.ndarray:
    t = np.arange(total, dtype=np.float64)
    return np.where(t < warmup, peak * t / max(warmup, 1), peak)


def simulate_sgd(h: np.ndarray, noise_sd: np.ndarray, schedules: np.ndarray, runs: int, seed: int) -> np.ndarray:
    """Final loss 0.5 sum h x_T^2 of SGD x <- x - lr (h x + noise_sd xi), x0 ~ N(0, I), per schedule and run.

    Every schedule sees the same x0 and the same noise draws (common random numbers),
    so differences between schedules are measured with far less noise than the losses.

    Returns:
        ``(schedules, runs)`` final losses.
    """
    rng = np.random.default_rng(seed)
    n, steps = schedules.shape
    x = np.broadcast_to(rng.standard_normal((runs, h.size)), (n, runs, h.size)).copy()
    for t in range(steps):
        xi = rng.standard_normal((runs, h.size))
        x -= schedules[:, t, None, None] * (h * x + noise_sd * xi)
    return 0.5 * np.sum(h * x * x, axis=2)


# --- gradient_noise ---------------------------------------------------------------------------


def test_gradient_noise_matches_numpys_covariance() -> None:
    rng = np.random.default_rng(0)
    k, d = 9, 6
    g = rng.standard_normal((k, d)) @ rng.standard_normal((d, d)) + rng.standard_normal(d)
    b = rng.standard_normal((d, d))
    h = b @ b.T + np.diag(np.arange(d, dtype=np.float64))  # symmetric, not diagonal
    losses = rng.uniform(1.0, 3.0, k)
    cov = np.cov(g.T)  # rows are observations of g: np.cov wants variables in rows
    calls = []

    def matvec(v: np.ndarray) -> np.ndarray:
        calls.append(v.shape)
        return h @ v

    noise = gradient_noise(g, losses, matvec)
    assert isinstance(noise, GradientNoise)
    assert noise.trace == pytest.approx(np.trace(cov), rel=1e-12)
    assert noise.curvature_trace == pytest.approx(np.trace(h @ cov), rel=1e-12)
    assert noise.loss == pytest.approx(losses.mean(), rel=1e-12)
    assert (noise.batches, noise.hvps) == (k, k)
    assert calls == [(d,)] * k

    plain = gradient_noise(g.tolist(), list(losses))
    assert plain.trace == pytest.approx(np.trace(cov), rel=1e-12)
    assert (plain.curvature_trace, plain.hvps, plain.batches) == (None, 0, k)


def test_gradient_noise_of_identical_gradients_is_zero() -> None:
    g = np.tile([1.0, -2.0, 3.0], (4, 1))
    noise = gradient_noise(g, [1.0] * 4, lambda v: 5.0 * v)
    assert noise.trace == 0.0 and noise.curvature_trace == 0.0


@pytest.mark.parametrize(
    "gradients,losses,message",
    [
        (np.ones((1, 3)), [1.0], r"`gradients` must be a finite \(batches, dim\) array.*Received: shape \(1, 3\)"),
        (np.ones(3), [1.0] * 3, r"`gradients`.*Received: shape \(3,\)"),
        (np.ones((3, 0)), [1.0] * 3, r"`gradients`.*Received: shape \(3, 0\)"),
        ([[1.0, np.nan], [0.0, 1.0]], [1.0, 1.0], r"`gradients`.*Received: shape \(2, 2\), with non-finite entries"),
        ([[1.0, np.inf], [0.0, 1.0]], [1.0, 1.0], r"`gradients`.*with non-finite entries"),
        (np.ones((3, 2)), [1.0, 1.0], r"`losses` must hold 3 finite values.*Received: losses=\[1\.0, 1\.0\]"),
        (np.ones((3, 2)), [1.0, np.nan, 1.0], r"`losses` must hold 3 finite values.*Received: losses=\[1\.0, nan"),
        (np.ones((2, 2)), [[1.0, 1.0]], r"`losses` must hold 2 finite values"),
    ],
    ids=["one-row", "1-D", "dim-0", "nan", "inf", "short-losses", "nan-loss", "2-D-losses"],
)
def test_gradient_noise_errors_name_the_argument(gradients, losses, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gradient_noise(gradients, losses)


# --- model (a): the noisy quadratic against simulated SGD ---------------------------------------

D_SIM, T_SIM, W_SIM = 50, 200, 10
H_SIM = np.logspace(-2.0, 0.0, D_SIM)


@pytest.mark.parametrize("noise_power", [0.0, 1.0], ids=["isotropic-noise", "hessian-shaped-noise"])
def test_noisy_quadratic_predicts_simulated_sgd(noise_power: float) -> None:
    """The issue's acceptance test: the predicted final loss is within 5 % of the simulated mean."""
    sigma = 0.1
    noise_sd = sigma * H_SIM ** (noise_power / 2)  # per-direction variance c lambda^gamma, c = sigma^2
    model = NoisyQuadratic.from_eigenvalues(
        H_SIM, loss_gap=H_SIM.sum() / 2, noise_trace=float(np.sum(noise_sd**2)), noise_power=noise_power
    )
    schedules = np.array([uba_rates(T_SIM, peak, phi, W_SIM) for peak in (0.5, 1.5) for phi in (2.0, 0.5, 8.0)])
    losses = simulate_sgd(H_SIM, noise_sd, schedules, runs=2000, seed=0)
    mean = losses.mean(axis=1)
    stderr = losses.std(axis=1, ddof=1) / math.sqrt(losses.shape[1])
    assert np.all(stderr < 0.01 * mean)  # Monte-Carlo error well under the 5 % tolerance

    predicted, predicted_err = model.predict(schedules)
    assert predicted.shape == (len(schedules),)
    np.testing.assert_array_equal(predicted_err, 0.0)  # one quadrature: no spread
    np.testing.assert_allclose(predicted, mean, rtol=0.05)


def test_noisy_quadratic_without_noise_is_the_deterministic_recursion() -> None:
    """No noise: each direction shrinks by prod (1 - lr lambda); a diverging rate predicts inf."""
    h = np.array([0.1, 0.5, 2.0])
    lrs = np.array([0.3, 0.2, 0.7, 0.1])
    x0_sq = 2 * 3.0 / h.sum()  # isotropic start for a loss gap of 3
    expected = 0.5 * np.sum(h * x0_sq * np.prod((1 - np.outer(lrs, h)) ** 2, axis=0))
    model = NoisyQuadratic.from_eigenvalues(h, loss_gap=3.0, noise_trace=0.0)
    assert model.predict(lrs)[0][0] == pytest.approx(expected, rel=1e-12)
    assert model.predict(np.zeros((1, 5)))[0][0] == pytest.approx(3.0, rel=1e-12)  # lr 0: the gap stays
    assert model.predict(np.full((1, 2000), 1.2))[0][0] == math.inf  # |1 - 1.2 * 2| > 1


# --- select_phi on the noisy quadratic against the simulated best phi ----------------------------


@pytest.mark.parametrize("kappa,sigma", [(10.0, 0.1), (1000.0, 0.3)], ids=["kappa10", "kappa1000"])
def test_chosen_phi_is_within_one_step_of_the_simulated_best(kappa: float, sigma: float) -> None:
    d, total, warmup = 30, 200, 10
    h = np.logspace(-math.log10(kappa), 0.0, d)
    model = NoisyQuadratic.from_eigenvalues(h, loss_gap=h.sum() / 2, noise_trace=d * sigma**2)
    peaks = 2.0 ** np.arange(-4.0, 0.51, 0.25)  # below the stability limit 2 / lambda_max
    schedules = np.array([uba_rates(total, p, phi, warmup) for phi in CANDIDATE_PHIS for p in peaks])
    final = simulate_sgd(h, np.full(d, sigma), schedules, runs=300, seed=1).mean(axis=1)
    final = final.reshape(len(CANDIDATE_PHIS), peaks.size)
    best = CANDIDATE_PHIS[int(np.argmin(final.min(axis=1)))]
    tuned = float(peaks[int(np.argmin(final[CANDIDATE_PHIS.index(2.0)]))])  # the user's cosine-tuned lr

    pick = select_phi(model, total, peak_lr=tuned, warmup_steps=warmup)
    assert pick.problems == ()
    assert abs(CANDIDATE_PHIS.index(pick.phi) - CANDIDATE_PHIS.index(best)) <= 1, (pick.phi, best, final.min(axis=1))
    assert not pick.fallback
    assert [c.phi for c in pick.candidates] == list(CANDIDATE_PHIS)
    for c in pick.candidates:  # the headline lr is the transfer, never the model's own optimum
        assert c.lr_factor == pytest.approx(transfer_factor(total, c.phi, warmup), rel=1e-9)
    assert pick.lr_factor == pytest.approx(transfer_factor(total, pick.phi, warmup), rel=1e-9)
    assert pick.peak_lr == pytest.approx(tuned * pick.lr_factor, rel=1e-12)


def test_noisy_quadratic_lr_factor_is_each_phis_best_peak_on_the_grid() -> None:
    """model_lr_factor = argmin over the documented grid 2^-16 .. 2^2 (quarter octaves) / lambda_max, over
    cosine's; lr_factor is the transfer."""
    h = np.logspace(-2.0, 0.0, 20) * 4.0
    model = NoisyQuadratic.from_eigenvalues(h, loss_gap=3.0, noise_trace=0.5)
    total, warmup = 60, 5
    grid = 2.0 ** np.arange(-16.0, 2.01, 0.25) / h.max()
    best_lr = {}
    for phi in CANDIDATE_PHIS:
        losses = model.predict(np.array([uba_rates(total, p, phi, warmup) for p in grid]))[0]
        best_lr[phi] = (grid[int(np.argmin(losses))], float(losses.min()))
    tuned = best_lr[2.0][0]
    pick = select_phi(model, total, peak_lr=tuned, warmup_steps=warmup, z=0.0)
    for c in pick.candidates:
        assert c.model_lr_factor == pytest.approx(best_lr[c.phi][0] / best_lr[2.0][0], rel=1e-9)
        assert c.loss == pytest.approx(best_lr[c.phi][1], rel=1e-9)
        assert c.lr_factor == pytest.approx(transfer_factor(total, c.phi, warmup), rel=1e-9)
    assert pick.phi == min(pick.candidates, key=lambda c: c.loss).phi
    assert pick.peak_lr == pytest.approx(tuned * pick.lr_factor)


def test_a_model_far_from_the_users_lr_falls_back_and_says_why() -> None:
    h = np.logspace(-2.0, 0.0, 20) * 4.0
    model = NoisyQuadratic.from_eigenvalues(h, loss_gap=3.0, noise_trace=0.5)
    any_pick = select_phi(model, 60, peak_lr=1.0, z=0.0)
    own = next(c for c in any_pick.candidates if c.phi == 2.0)
    grid = 2.0 ** np.arange(-16.0, 2.01, 0.25) / h.max()
    cosine_best = grid[int(np.argmin(model.predict(np.array([uba_rates(60, p, 2.0) for p in grid]))[0]))]
    assert own.model_lr_factor == 1.0
    for factor, kept in ((1.9, False), (2.1, True), (1 / 1.9, False), (1 / 2.1, True)):
        pick = select_phi(model, 60, peak_lr=cosine_best * factor, z=0.0, candidates=(0.5, 2.0, 4.0))
        assert bool(pick.problems) == kept, (factor, pick.problems)
        if kept:
            assert pick.phi == 2.0 and pick.lr_factor == 1.0 and pick.peak_lr == cosine_best * factor
            assert re.search(r"own best cosine peak lr, .* times from your .*: it does not describe", pick.problems[0])
            assert "failed its validity checks" in pick.reason


# --- from_spectrum: a measured spectrum and measured noise -------------------------------------

D_SPEC = 1024
H_SPEC = np.logspace(-2.0, 0.0, D_SPEC)


def walsh(x: np.ndarray) -> np.ndarray:
    """The orthonormal Walsh-Hadamard transform W x along the last axis (length a power of 2).

    W = Sylvester's Hadamard matrix / sqrt(n) is orthogonal, symmetric and its own
    inverse; W diag(lam) W is a dense, non-diagonal matrix with eigenvalues lam, whose
    product costs O(n log n) (no dense rotation to build or multiply).
    """
    x = np.asarray(x, dtype=np.float64)
    *lead, n = x.shape
    half = 1
    while half < n:
        y = x.reshape(*lead, n // (2 * half), 2, half)
        x = np.concatenate([y[..., :1, :] + y[..., 1:, :], y[..., :1, :] - y[..., 1:, :]], axis=-2).reshape(x.shape)
        half *= 2
    return x / math.sqrt(n)


def test_walsh_is_sylvesters_orthonormal_hadamard() -> None:
    sylvester = np.ones((1, 1))
    for _ in range(3):
        sylvester = np.kron(np.array([[1.0, 1.0], [1.0, -1.0]]), sylvester)
    np.testing.assert_allclose(walsh(np.eye(8)), sylvester / math.sqrt(8), atol=1e-15)
    lam = np.arange(1.0, 9.0)
    dense = walsh(walsh(np.diag(lam)).T)  # W diag(lam) W
    np.testing.assert_allclose(np.linalg.eigvalsh(dense), lam, rtol=1e-12)
    assert np.abs(dense - np.diag(np.diag(dense))).max() > 0.1


@pytest.mark.parametrize("noise_power", [0.0, 1.0], ids=["isotropic-noise", "hessian-shaped-noise"])
def test_from_spectrum_matches_the_true_model(noise_power: float) -> None:
    """H = W diag(lam) W (lam: the eigenvalues in a random order), gradients H x0 + noise of covariance
    sigma^2 H^gamma: the SLQ spectrum and the measured noise give the true model's predictions."""
    d, batches, sigma = D_SPEC, 100, 0.2
    rng = np.random.default_rng(3)
    lam = rng.permutation(H_SPEC)

    def hess(v: np.ndarray) -> np.ndarray:
        return walsh(lam * walsh(v))

    x0 = rng.standard_normal(d)
    gap = 0.5 * x0 @ hess(x0)
    grads = hess(x0) + walsh(rng.standard_normal((batches, d)) * (sigma * lam ** (noise_power / 2)))
    noise = gradient_noise(grads, np.full(batches, gap), hess)
    true_trace = sigma**2 * np.sum(H_SPEC**noise_power)
    assert noise.trace == pytest.approx(true_trace, rel=0.05)
    assert noise.curvature_trace == pytest.approx(sigma**2 * np.sum(H_SPEC ** (1 + noise_power)), rel=0.05)

    spectrum = stochastic_lanczos_quadrature(hess, d, probes=4, lanczos_steps=40, seed=2)
    model = NoisyQuadratic.from_spectrum(spectrum, noise)  # loss gap: noise.loss
    assert model.noise_power == pytest.approx(noise_power, abs=0.15)
    assert model.lambda_max == pytest.approx(1.0, rel=0.01)
    true = NoisyQuadratic.from_eigenvalues(H_SPEC, loss_gap=gap, noise_trace=true_trace, noise_power=noise_power)
    schedules = np.array([uba_rates(200, p, phi, 10) for p in (0.5, 1.0) for phi in (0.5, 2.0, 8.0)])
    predicted, stderr = model.predict(schedules)
    np.testing.assert_allclose(predicted, true.predict(schedules)[0], rtol=0.10)
    assert np.all((stderr > 0) & np.isfinite(stderr))  # 4 quadratures: a spread
    # Without the curvature trace the noise is taken to be shaped like the Hessian.
    shaped = NoisyQuadratic.from_spectrum(spectrum, gradient_noise(grads, np.full(batches, gap)), loss_gap=2 * gap)
    assert shaped.noise_power == 1.0
    assert shaped.predict(np.zeros((1, 3)))[0][0] == pytest.approx(2 * gap, rel=1e-12)


def test_from_spectrum_rejects_wrong_types() -> None:
    spectrum = stochastic_lanczos_quadrature(lambda v: v, 3, probes=1, lanczos_steps=3)
    noise = gradient_noise(np.eye(3), [1.0] * 3)
    with pytest.raises(TypeError, match=r"`spectrum` must be a uba_core\.Spectrum\. Received: ndarray"):
        NoisyQuadratic.from_spectrum(np.ones(3), noise)
    with pytest.raises(TypeError, match=r"`noise` must be a uba_core\.GradientNoise\. Received: float"):
        NoisyQuadratic.from_spectrum(spectrum, 1.0)
    with pytest.raises(ValueError, match="`loss_gap` must be > 0"):
        NoisyQuadratic.from_spectrum(spectrum, noise, loss_gap=0.0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"eigenvalues": []}, "`eigenvalues` must be finite with a positive largest value"),
        ({"eigenvalues": [-1.0, 0.0]}, r"`eigenvalues`.*Received: eigenvalues=\[-1\.0, 0\.0\]"),
        ({"eigenvalues": [1.0, np.nan]}, "`eigenvalues` must be finite"),
        ({"loss_gap": 0.0}, "`loss_gap` must be > 0"),
        ({"noise_trace": -1.0}, "`noise_trace` must be >= 0"),
        ({"noise_power": 2.5}, "`noise_power` must be <= 2"),
    ],
)
def test_from_eigenvalues_errors_name_the_argument(kwargs: dict, message: str) -> None:
    args = {"eigenvalues": [1.0, 0.5], "loss_gap": 1.0, "noise_trace": 0.1} | kwargs
    eigenvalues = args.pop("eigenvalues")
    with pytest.raises(ValueError, match=message):
        NoisyQuadratic.from_eigenvalues(eigenvalues, **args)


# --- model (b): the annealing law --------------------------------------------------------------

MIN_LOG_POINTS = 5  # the documented minimum of points per log after skip_steps
LAW = {"L0": 1.7, "A": 2.3, "alpha": 0.37, "C": 1.5, "decay": 0.5 ** (1 / 7)}  # off the fitting grids
N_PILOT, W_PILOT, PEAK = 100, 10, 0.1


def areas(lrs: np.ndarray, decay: float) -> tuple[np.ndarray, np.ndarray]:
    """S1(t), S2(t) for t = 0 .. n, from their definitions: m_0 = 0, m_i = decay m_{i-1} + max(lr_{i-1} - lr_i, 0)."""
    n = len(lrs)
    s1, s2, m = np.zeros(n + 1), np.zeros(n + 1), 0.0
    for i in range(n):
        m = decay * m + (max(lrs[i - 1] - lrs[i], 0.0) if i > 0 else 0.0)
        s1[i + 1] = s1[i] + lrs[i]
        s2[i + 1] = s2[i] + m
    return s1, s2


def law_losses(lrs: np.ndarray, L0: float, A: float, alpha: float, C: float, decay: float) -> np.ndarray:
    """L(t) = L0 + A S1(t)^-alpha - C S2(t) for t = 0 .. n (the last: after the last update); inf where S1 = 0."""
    s1, s2 = areas(lrs, decay)
    with np.errstate(divide="ignore"):
        return L0 + A * s1**-alpha - C * s2


def pilot_logs(noise: float = 0.0, seed: int = 0, **changes: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """A constant and a cosine pilot with warmup; losses before each update from :data:`LAW`.

    Where S1 = 0 (steps 0 and 1: the warmup starts at lr 0) the law is undefined; those
    points get a loss of 100, which ruins any fit that does not drop them.
    """
    rng = np.random.default_rng(seed)
    logs = []
    for lrs in (constant_rates(N_PILOT, PEAK, W_PILOT), uba_rates(N_PILOT, PEAK, 2.0, W_PILOT)):
        losses = law_losses(lrs, **(LAW | changes))[:N_PILOT]
        losses = np.where(np.isfinite(losses), losses + noise * rng.standard_normal(N_PILOT), 100.0)
        logs.append((lrs, losses))
    return logs


def assert_recovers_law(fit: AnnealingLaw, rel: float) -> None:
    for name in ("L0", "A", "alpha", "C", "decay"):
        assert getattr(fit, name) == pytest.approx(LAW[name], rel=rel), name
    half_life = -1 / math.log2(fit.decay)
    assert half_life == pytest.approx(7.0, rel=5 * rel)


@pytest.mark.parametrize("noise", [0.0, 1e-3], ids=["exact", "noisy"])
def test_annealing_law_recovers_its_parameters(noise: float) -> None:
    logs = pilot_logs(noise)
    assert logs[0][1][0] == 100.0 and logs[0][1][2] < 100.0
    default = AnnealingLaw.fit(logs)  # by default, each log's warmup (W_PILOT steps) is left out
    assert_recovers_law(default, rel=0.01 if noise == 0 else 0.03)
    assert default.points == 2 * (N_PILOT - W_PILOT)
    assert default.peak_lr == PEAK
    fit = AnnealingLaw.fit(logs, skip_steps=0)  # then only the S1 = 0 points (2 per log) are dropped
    assert_recovers_law(fit, rel=0.01 if noise == 0 else 0.03)
    assert fit.points == 2 * (N_PILOT - 2)
    assert fit.pilot_steps == 2 * N_PILOT

    # A new schedule, longer than the pilots, at their peak: the law's final loss.
    for lrs in (uba_rates(150, PEAK, 8.0, W_PILOT), uba_rates(300, PEAK, 0.5, 30)):
        expected = law_losses(lrs, **LAW)[-1]
        mean, err = fit.predict(lrs)
        assert mean.shape == err.shape == (1,)
        assert mean[0] == pytest.approx(expected, rel=1e-4 if noise == 0 else 5e-3)
        assert err[0] >= 0
        # curve: the loss before updates 1 .. T and after the last
        np.testing.assert_allclose(fit.curve(lrs), law_losses(lrs, **LAW)[1:], rtol=1e-4 if noise == 0 else 5e-3)


def test_annealing_law_reads_step_logs_and_skips_warmup() -> None:
    """(steps, lrs, losses) logged every 2nd step (rates interpolated in between) and skip_steps."""
    logs = pilot_logs()
    steps = np.arange(0, N_PILOT, 2)
    sparse = [(steps, lrs[steps], losses[steps]) for lrs, losses in logs]
    fit = AnnealingLaw.fit(sparse, skip_steps=W_PILOT)
    assert_recovers_law(fit, rel=0.03)
    assert fit.points == 2 * steps[steps >= W_PILOT].size
    fit = AnnealingLaw.fit(logs, skip_steps=[W_PILOT, 2 * W_PILOT])
    assert fit.points == (N_PILOT - W_PILOT) + (N_PILOT - 2 * W_PILOT)
    assert_recovers_law(fit, rel=0.01)


def good_logs() -> list[tuple[np.ndarray, np.ndarray]]:
    return pilot_logs()


def _with(index: int, part: int, position: int, value: float):
    logs = good_logs()
    arrays = [a.copy() for a in logs[index]]
    arrays[part][position] = value
    logs[index] = tuple(arrays)
    return logs


def _constant_loss():
    logs = good_logs()
    logs[1] = (logs[1][0], np.full(N_PILOT, 2.0))
    return logs


def _short():
    logs = good_logs()
    logs[1] = (logs[1][0][:6], logs[1][1][:6])  # 6 points, the first 2 at S1 = 0: 4 left
    return logs


def _lengths():
    logs = good_logs()
    logs[0] = (logs[0][0], logs[0][1][:-1])
    return logs


def _decreasing_steps():
    logs = good_logs()
    steps = np.arange(N_PILOT)
    steps[[40, 41]] = steps[[41, 40]]
    logs[1] = (steps, *logs[1])
    return logs


def _constant_lr_only():
    const = constant_rates(N_PILOT, PEAK, W_PILOT)  # warmup then flat: the rate never decays
    return [(const, law_losses(const, **LAW)[:N_PILOT].clip(None, 100.0))] * 2


BAD_LOGS = {
    "too-short": (
        _short,
        r"`logs\[1\]` is too short: 4 of its 6 points are at or after step 2 \(after the skipped steps and "
        r"the first update\), at least 5 needed\.",
    ),
    "constant-loss": (_constant_loss, r"`logs\[1\]` has a constant loss \(2\.0\)"),
    "nan-loss": (lambda: _with(1, 1, 7, np.nan), r"`logs\[1\]` must hold finite losses\. Received: losses\[7\] = nan"),
    "inf-loss": (lambda: _with(0, 1, 9, np.inf), r"`logs\[0\]` must hold finite losses\. Received: losses\[9\] = inf"),
    "inf-lr": (lambda: _with(0, 0, 3, np.inf), r"`logs\[0\]` must hold finite lrs\. Received: lrs\[3\] = inf"),
    "nan-lr": (lambda: _with(1, 0, 50, np.nan), r"`logs\[1\]` must hold finite lrs\. Received: lrs\[50\] = nan"),
    "lengths": (_lengths, r"`logs\[0\]` must hold 1-D steps, lrs, losses of one length\. Received: losses \(99,\)"),
    "decreasing-steps": (
        _decreasing_steps,
        r"`logs\[1\]`: steps must be integers >= 0, strictly increasing\. "
        r"Received: steps\[40\] = 41\.0, steps\[41\] = 40\.0\.",
    ),
    "negative-lr": (lambda: _with(0, 0, 20, -0.01), r"`logs\[0\]`: lrs must be >= 0\. Received: min -0\.01"),
    "not-a-log": (
        lambda: [*good_logs(), "log.csv"],
        r"`logs\[2\]` must be \(lrs, losses\) or \(steps, lrs, losses\)"
        r"\. Received: str",
    ),
    "one-array": (lambda: [(np.ones(10),)], r"`logs\[0\]` must be \(lrs, losses\).*Received: tuple"),
    "no-annealing": (_constant_lr_only, r"Argument `logs` must contain a run whose rate decays.*constant or rising"),
    "empty": (lambda: [], r"Argument `logs` must be a non-empty sequence of pilot logs\. Received: logs=\[\]"),
}


@pytest.mark.parametrize("name", list(BAD_LOGS))
def test_bad_logs_name_the_log_and_what_was_received(name: str) -> None:
    build, message = BAD_LOGS[name]
    with pytest.raises(ValueError, match=message):
        AnnealingLaw.fit(build(), skip_steps=0)


def test_skip_steps_can_make_a_log_too_short() -> None:
    skip = N_PILOT - MIN_LOG_POINTS + 1
    with pytest.raises(ValueError, match=rf"`logs\[0\]` is too short: {MIN_LOG_POINTS - 1} of its {N_PILOT} points"):
        AnnealingLaw.fit(good_logs(), skip_steps=skip)
    assert AnnealingLaw.fit(good_logs(), skip_steps=skip - 1).points == 2 * MIN_LOG_POINTS
    with pytest.raises(ValueError, match=r"`skip_steps` must be one integer or one per log \(2\)"):
        AnnealingLaw.fit(good_logs(), skip_steps=[0, 0, 0])


# --- select_phi: arguments, the fallback rule, the report ---------------------------------------


@pytest.fixture(scope="module")
def exact_law() -> AnnealingLaw:
    return AnnealingLaw.fit(pilot_logs())


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"total_steps": 1}, ValueError, r"`total_steps` must be >= 2\. Received: total_steps=1"),
        ({"total_steps": 50.0}, TypeError, r"`total_steps` must be an integer"),
        ({"peak_lr": 0.0}, ValueError, r"`peak_lr` must be > 0\. Received: peak_lr=0\.0"),
        ({"peak_lr": -0.1}, ValueError, r"`peak_lr` must be > 0"),
        ({"warmup_steps": 50}, ValueError, r"`warmup_steps` must be < total_steps = 50\. Received: warmup_steps=50"),
        ({"warmup_steps": -1}, ValueError, r"`warmup_steps` must be >= 0"),
        ({"min_lr": 0.1}, ValueError, r"`min_lr` must be < peak_lr = 0\.1\. Received: min_lr=0\.1"),
        ({"min_lr": -0.01}, ValueError, r"`min_lr` must be >= 0"),
        ({"candidates": (0.5, 4.0)}, ValueError, r"`candidates` must contain 2.*Received: \(0\.5, 4\.0\)"),
        ({"candidates": ()}, ValueError, r"`candidates` must be a non-empty sequence"),
        ({"candidates": (2.0, -1.0)}, ValueError, r"`candidates` must be > 0"),
        ({"z": -1.0}, ValueError, r"`z` must be >= 0"),
        ({"z": math.nan}, ValueError, r"`z` must be finite"),
        ({"model": object()}, TypeError, r"`model` must be a NoisyQuadratic or AnnealingLaw.*Received: object"),
        ({"model": "law"}, TypeError, r"`model`.*Received: str"),
    ],
)
def test_select_phi_errors_name_the_argument(exact_law, kwargs: dict, error, message: str) -> None:
    args = {"model": exact_law, "total_steps": 50, "peak_lr": 0.1} | kwargs
    model, total = args.pop("model"), args.pop("total_steps")
    with pytest.raises(error, match=message):
        select_phi(model, total, **args)


def test_law_candidates_are_the_laws_final_loss_on_each_uba_curve(exact_law) -> None:
    """Each candidate: the law (the test's S1 / S2, the fitted numbers) on the formula's curve at the
    transferred peak lr."""
    total, warmup = 300, 20
    pick = select_phi(exact_law, total, peak_lr=PEAK, warmup_steps=warmup, min_lr=0.0, z=0.0)
    fitted = {name: getattr(exact_law, name) for name in LAW}
    factor = {phi: transfer_factor(total, phi, warmup) for phi in CANDIDATE_PHIS}
    expected = {
        phi: law_losses(uba_rates(total, PEAK * factor[phi], phi, warmup), **fitted)[-1] for phi in CANDIDATE_PHIS
    }
    assert [c.phi for c in pick.candidates] == list(CANDIDATE_PHIS)
    for c in pick.candidates:
        assert c.loss == pytest.approx(expected[c.phi], rel=1e-9)
        assert c.lr_factor == pytest.approx(factor[c.phi], rel=1e-9)
        assert math.isnan(c.model_lr_factor)
    best = min(expected, key=expected.get)
    assert exact_law.tail_error < 1e-3  # an exact law: its refit predicts the tail to the fit's precision
    # This law's annealing term takes its predictions below its L0 at 3x the pilots: the check keeps cosine.
    assert any("below its own floor" in p for p in pick.problems) and pick.phi == 2.0 and best == 2.0
    assert pick.lr_factor == pytest.approx(factor[best], rel=1e-9)
    assert pick.peak_lr == pytest.approx(PEAK * factor[best], rel=1e-9)
    assert pick.total_steps == total


def test_a_floor_raises_the_law_candidates_curves(exact_law) -> None:
    total, floor = 200, 0.02
    pick = select_phi(exact_law, total, peak_lr=PEAK, min_lr=floor, z=0.0)
    fitted = {name: getattr(exact_law, name) for name in LAW}
    for c in pick.candidates:  # the whole schedule moves by the transfer factor, floor included
        lrs = c.lr_factor * (floor + (PEAK - floor) * uba_rates(total, 1.0, c.phi))
        assert c.loss == pytest.approx(law_losses(lrs, **fitted)[-1], rel=1e-9)


def test_a_law_without_annealing_term_is_not_an_answer() -> None:
    """Losses that rise with the lr area and on annealing: A = C = 0, every phi predicts L0; C = 0 is a
    failed validity check (such a law can only reward lr area), and cosine is kept."""
    steps = np.arange(N_PILOT)
    pilots = (constant_rates(N_PILOT, PEAK, W_PILOT), uba_rates(N_PILOT, PEAK, 2.0, W_PILOT))
    logs = [(lrs, 1.0 + 0.01 * steps + 0.3 * (PEAK - lrs)) for lrs in pilots]
    flat = AnnealingLaw.fit(logs)
    assert flat.A == 0.0 and flat.C == 0.0
    for z in (0.0, 1.0):
        pick = select_phi(flat, 300, peak_lr=PEAK, warmup_steps=W_PILOT, z=z)
        assert (pick.phi, pick.lr_factor, pick.peak_lr) == (2.0, 1.0, PEAK)
        assert pick.problems == ("its annealing term is zero (C = 0): it can only reward lr area, so it favours "
                                 "the smallest phi",)  # fmt: skip
        assert "failed its validity checks" in pick.reason


def law_with(**changes) -> AnnealingLaw:
    """A fitted law with some fields replaced: the validity checks read nothing else."""
    import dataclasses

    return dataclasses.replace(AnnealingLaw.fit(pilot_logs()), **changes)


@pytest.mark.parametrize(
    "changes,total,problem",
    [
        ({"L0": -0.5}, 300, r"the fitted floor L0 = -0\.5 is negative for a loss that is never below 0"),
        ({"L0": -5.0, "A": 0.1}, 300, r"it predicts a loss below 0 \(-"),
        ({"L0": 1.0, "A": 0.0, "C": 1.0}, 300, r"it predicts a loss below its own floor L0 = 1"),
        ({}, 421, r"the budget is 4\.21 times the longest pilot \(100 steps\): more than 4\.2 times"),
        ({"tail_error": math.inf}, 300, r"could not be refitted without the pilots' last quarter"),
    ],
    ids=["negative-floor", "negative-loss", "below-its-floor", "extrapolation", "no-tail-error"],
)
def test_an_impossible_or_untrusted_law_keeps_cosine_and_says_why(changes, total, problem) -> None:
    law = law_with(**changes)
    pick = select_phi(law, total, peak_lr=PEAK, warmup_steps=W_PILOT, z=0.0)
    assert (pick.phi, pick.lr_factor, pick.peak_lr) == (2.0, 1.0, PEAK)
    assert any(re.search(problem, p) for p in pick.problems), pick.problems
    assert "problem   " in str(pick)


def test_the_limit_of_extrapolation_is_inclusive() -> None:
    problems = select_phi(law_with(), 420, peak_lr=PEAK, warmup_steps=W_PILOT, z=0.0).problems
    assert not any("times the longest pilot" in p for p in problems)


def test_logs_at_different_peak_lrs_are_an_error_naming_the_logs() -> None:
    logs = pilot_logs()
    lrs, losses = logs[1]
    with pytest.raises(ValueError, match=r"one peak lr .*logs\[0\] peaks at 0\.1 and logs\[1\] at 0\.8"):
        AnnealingLaw.fit([logs[0], (lrs * 8.0, losses)])


def test_the_tail_error_is_the_refit_error_on_the_held_out_quarter() -> None:
    """Noisy pilots: the tail error is computed here from the law refitted on the first 75 % of each log."""
    logs = pilot_logs(noise=0.02, seed=4)
    law = AnnealingLaw.fit(logs)
    head = AnnealingLaw.fit([(lrs[:75], losses[:75]) for lrs, losses in logs])
    fitted = {name: getattr(head, name) for name in LAW}
    errors = []
    for lrs, losses in logs:
        predicted = law_losses(lrs, **fitted)[:N_PILOT]  # the loss before each update
        errors.append(float(np.mean(predicted[75:] - losses[75:])))
    assert law.tail_error == pytest.approx(math.sqrt(np.mean(np.square(errors))), rel=1e-6)
    assert law.tail_error > 0


def test_cosine_as_the_best_is_no_fallback(exact_law) -> None:
    pick = select_phi(exact_law, N_PILOT, peak_lr=PEAK, warmup_steps=W_PILOT, candidates=(2.0, 16.0), z=1e6)
    assert pick.candidates[0].loss < pick.candidates[1].loss
    assert (pick.phi, pick.fallback) == (2.0, False)


def test_fallback_when_the_gain_is_within_z_standard_errors() -> None:
    """Noisy pilots: the best phi is chosen when its gain exceeds z standard errors of the difference, else cosine.

    The standard error of the difference is computed here: the features (1, S1^-alpha, -S2)
    at the end of each curve (at its transferred lr, raised: ``allow_increase``), by the test's
    own S1 / S2, through the fitted covariance, with the law's tail error added in quadrature.
    A small annealing term keeps every prediction above the floor.
    """
    law = AnnealingLaw.fit(pilot_logs(noise=0.02, seed=4, A=1.0, C=0.05))
    total, warmup = 300, W_PILOT
    up = {"allow_increase": True}
    chosen = select_phi(law, total, peak_lr=PEAK, warmup_steps=warmup, z=0.0, **up)
    best = min(chosen.candidates, key=lambda c: c.loss)
    cosine = next(c for c in chosen.candidates if c.phi == 2.0)
    assert best.phi != 2.0 and best.loss < cosine.loss
    assert (chosen.phi, chosen.fallback) == (best.phi, False)

    def features(phi: float) -> np.ndarray:
        raised = refined_bound_base_lr(uba_rates(total, 1.0, phi, warmup)) / refined_bound_base_lr(
            uba_rates(total, 1.0, 2.0, warmup)
        )
        s1, s2 = areas(uba_rates(total, PEAK * raised, phi, warmup), law.decay)
        return np.array([1.0, s1[-1] ** -law.alpha, -s2[-1]])

    diff = features(best.phi) - features(2.0)
    se = math.hypot(math.sqrt(diff @ law.covariance @ diff), law.tail_error)
    gain = cosine.loss - best.loss
    assert gain == pytest.approx(diff @ [law.L0, law.A, law.C] * -1, rel=1e-9)
    ratio = gain / se
    assert 0.0 < ratio < 1e5

    kept = select_phi(law, total, peak_lr=PEAK, warmup_steps=warmup, z=1e6, **up)
    assert (kept.phi, kept.fallback, kept.lr_factor, kept.peak_lr) == (2.0, True, 1.0, PEAK)
    assert kept.candidates == chosen.candidates
    assert re.search(rf"phi = {best.phi:g} is predicted better by .*within 1e\+06 standard errors", kept.reason)
    assert select_phi(law, total, peak_lr=PEAK, warmup_steps=warmup, z=1.01 * ratio, **up).fallback
    below = select_phi(law, total, peak_lr=PEAK, warmup_steps=warmup, z=0.99 * ratio, **up)
    assert (below.phi, below.fallback) == (best.phi, False)


def test_noisy_quadratic_fallback_uses_the_spread_of_the_quadratures() -> None:
    """Several quadratures (an SLQ spectrum): the gain is judged against its standard error over them."""
    d = 256
    lam = np.random.default_rng(11).permutation(np.logspace(-1.0, 0.0, d))

    def hess(v: np.ndarray) -> np.ndarray:
        return walsh(lam * walsh(v))

    spectrum = stochastic_lanczos_quadrature(hess, d, probes=4, lanczos_steps=30, seed=0)
    g = np.random.default_rng(12).standard_normal((20, d)) * 0.05
    model = NoisyQuadratic.from_spectrum(spectrum, gradient_noise(g, np.full(20, 10.0), hess))
    total = 300
    each = {}
    grid = 2.0 ** np.arange(-16.0, 2.01, 0.25) / model.lambda_max
    per = {phi: model.predict_each(np.array([uba_rates(total, p, phi) for p in grid])) for phi in CANDIDATE_PHIS}
    best_at = {phi: int(np.argmin(v.mean(axis=0))) for phi, v in per.items()}
    tuned = float(grid[best_at[2.0]])  # the user's lr: the model's own cosine optimum
    chosen = select_phi(model, total, peak_lr=tuned, z=0.0)
    assert chosen.phi != 2.0 and not chosen.fallback and chosen.problems == ()
    for phi in (chosen.phi, 2.0):
        each[phi] = per[phi][:, best_at[phi]]
    diff = each[2.0] - each[chosen.phi]
    ratio = diff.mean() / (diff.std(ddof=1) / math.sqrt(diff.size))
    assert ratio > 0
    kept = select_phi(model, total, peak_lr=tuned, z=1.01 * ratio)
    assert (kept.phi, kept.fallback, kept.lr_factor, kept.peak_lr) == (2.0, True, 1.0, tuned)
    assert select_phi(model, total, peak_lr=tuned, z=0.99 * ratio).phi == chosen.phi


def test_the_report_lists_every_candidate(exact_law) -> None:
    pick = select_phi(exact_law, 300, peak_lr=PEAK, warmup_steps=W_PILOT)
    text = str(pick)
    lines = text.splitlines()
    assert lines[0].startswith("phi for a budget of 300 steps: phi = ")
    rows = [line for line in lines if re.match(r"\s+phi = ", line)]
    assert len(rows) == len(CANDIDATE_PHIS)
    for row, c in zip(rows, pick.candidates, strict=True):
        assert row.split()[2] == f"{c.phi:g}"
        assert f"{c.loss:.6g}" in row
        assert row.endswith(" <") == (c.phi == pick.phi)
    assert pick.method in text and pick.cost in text and pick.reason in text


# --- adapters: least squares, closed-form gradients and Hessian --------------------------------


def least_squares_problem(batches: int = 6, n: int = 8, d: int = 5):
    """Batches (X, y) and parameters (w, b) for the loss 0.5 mean((X w + b - y)^2) per batch."""
    rng = np.random.default_rng(21)
    data = [(rng.standard_normal((n, d)), rng.standard_normal(n)) for _ in range(batches)]
    return data, rng.standard_normal(d), float(rng.standard_normal())


def expected_noise(data, w: np.ndarray, b: float) -> tuple[float, float, float]:
    """tr(Sigma), tr(H Sigma) and the mean loss, from the closed forms (parameters in the order w, b)."""
    p = np.append(w, b)
    grads, hessians, losses = [], [], []
    for x, y in data:
        xa = np.hstack([x, np.ones((len(x), 1))])
        r = xa @ p - y
        grads.append(xa.T @ r / len(x))
        hessians.append(xa.T @ xa / len(x))
        losses.append(0.5 * np.mean(r * r))
    cov = np.cov(np.array(grads).T)
    return float(np.trace(cov)), float(np.trace(np.mean(hessians, axis=0) @ cov)), float(np.mean(losses))


def test_torch_gradient_noise_of_least_squares() -> None:
    torch = framework("torch", "torch")
    from uba_torch import estimate_gradient_noise

    data, w, b = least_squares_problem()
    model = torch.nn.Linear(w.size, 1).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(w[None, :]))
        model.bias.fill_(b)
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]

    def loss_fn(m, batch):
        x, y = batch
        return 0.5 * ((m(x)[:, 0] - y) ** 2).mean()

    trace, curvature, loss = expected_noise(data, w, b)
    noise = estimate_gradient_noise(model, loss_fn, batches)
    assert noise.trace == pytest.approx(trace, rel=1e-10)
    assert noise.curvature_trace == pytest.approx(curvature, rel=1e-10)
    assert noise.loss == pytest.approx(loss, rel=1e-12)
    assert (noise.batches, noise.hvps) == (len(data), len(data))
    np.testing.assert_array_equal(model.weight.detach().numpy(), w[None, :])  # not modified

    plain = estimate_gradient_noise(model, loss_fn, iter(batches), curvature=False)
    assert plain.trace == pytest.approx(trace, rel=1e-10)
    assert (plain.curvature_trace, plain.hvps) == (None, 0)
    with pytest.raises(ValueError, match=r"`batches` must hold at least 2 minibatches\. Received: 1"):
        estimate_gradient_noise(model, loss_fn, batches[:1])


def test_jax_gradient_noise_of_least_squares() -> None:
    jax = framework("jax", "jax")
    from uba_jax import estimate_gradient_noise

    data, w, b = least_squares_problem()
    trace, curvature, loss = expected_noise(data, w, b)

    def loss_fn(params, batch):
        x, y = batch
        return 0.5 * ((x @ params["w"] + params["b"] - y) ** 2).mean()

    with jax.enable_x64(True):
        import jax.numpy as jnp

        params = {"w": jnp.asarray(w), "b": jnp.asarray(b)}
        batches = [(jnp.asarray(x), jnp.asarray(y)) for x, y in data]
        noise = estimate_gradient_noise(loss_fn, params, batches)
        plain = estimate_gradient_noise(loss_fn, params, batches, curvature=False)
        with pytest.raises(ValueError, match=r"`batches` must hold at least 2 minibatches\. Received: 1"):
            estimate_gradient_noise(loss_fn, params, batches[:1])
    assert noise.trace == pytest.approx(trace, rel=1e-10)
    assert noise.curvature_trace == pytest.approx(curvature, rel=1e-10)
    assert noise.loss == pytest.approx(loss, rel=1e-12)
    assert (noise.batches, noise.hvps) == (len(data), len(data))
    assert plain.trace == pytest.approx(trace, rel=1e-10)
    assert (plain.curvature_trace, plain.hvps) == (None, 0)


# --- review regressions ------------------------------------------------------------------------


def test_noise_power_zero_is_the_limit_of_small_powers() -> None:
    """The noise lies on the positive curvature for every gamma, 0 included: no jump at 0."""
    lam = [1.0, 0.0, -0.5, 0.5]
    at_zero = NoisyQuadratic.from_eigenvalues(lam, loss_gap=1.0, noise_trace=1.0, noise_power=0.0)
    near_zero = NoisyQuadratic.from_eigenvalues(lam, loss_gap=1.0, noise_trace=1.0, noise_power=1e-9)
    rates = np.full((1, 50), 0.3)
    assert at_zero.predict(rates)[0][0] == pytest.approx(near_zero.predict(rates)[0][0], rel=1e-6)
    # Two positive directions of 4 carry the trace: c = 1 / (2 / 4) per unit density; one step of
    # rate 0.3 from x = 0 in direction lambda = 1 leaves 0.3^2 c, weighted lambda / 2 and 1 / 4.
    no_start = NoisyQuadratic.from_eigenvalues([1.0, 0.0], loss_gap=1e-300, noise_trace=1.0)
    assert no_start.predict(np.full((1, 1), 0.3))[0][0] == pytest.approx(0.5 * 0.5 * 0.09 * 2.0, rel=1e-9)


def test_from_spectrum_without_noise_or_without_a_positive_loss() -> None:
    spectrum = stochastic_lanczos_quadrature(lambda v: np.array([1.0, 0.5, 0.25]) * v, 3, probes=2, lanczos_steps=3)
    still = gradient_noise(np.ones((4, 3)), [1.0] * 4, lambda v: v)  # identical gradients: no noise
    model = NoisyQuadratic.from_spectrum(spectrum, still)
    assert model.noise_power == 1.0 and np.all(model.noise_scale == 0.0)
    negative = gradient_noise(np.eye(3), [-1.0] * 3)
    with pytest.raises(ValueError, match=r"`loss_gap` must be given when `noise\.loss`.*Received: noise\.loss=-1\.0"):
        NoisyQuadratic.from_spectrum(spectrum, negative)
    assert NoisyQuadratic.from_spectrum(spectrum, negative, loss_gap=2.0).predict(np.zeros((1, 2)))[0][0] > 0


def test_a_model_needs_method_and_cost_and_candidates_are_distinct(exact_law) -> None:
    class Bare:
        def predict(self, lrs):
            return np.zeros(len(lrs)), np.zeros(len(lrs))

    with pytest.raises(TypeError, match=r"`model` must be .*the strings method and cost.*Received: Bare"):
        select_phi(Bare(), 50, peak_lr=0.1)
    with pytest.raises(ValueError, match=r"`candidates` must not repeat a phi"):
        select_phi(exact_law, 50, peak_lr=0.1, candidates=(2.0, 4.0, 4.0))
    as_array = select_phi(exact_law, 50, peak_lr=0.1, candidates=np.array([0.5, 2.0, 8.0]))
    assert [c.phi for c in as_array.candidates] == [0.5, 2.0, 8.0]


def test_models_compare_by_identity_and_the_law_is_read_only(exact_law) -> None:
    assert exact_law == exact_law and exact_law != AnnealingLaw.fit(pilot_logs())
    assert len({exact_law}) == 1
    with pytest.raises(ValueError, match="read-only"):
        exact_law.covariance[0, 0] = 1.0
    with pytest.raises(ValueError, match=r"`lrs` must be one rate sequence\. Received: 2 rows"):
        exact_law.curve(np.full((2, 10), 0.1))


def test_one_quadrature_says_that_z_has_no_effect() -> None:
    model = NoisyQuadratic.from_eigenvalues(np.logspace(0, -1, 20), loss_gap=10.0, noise_trace=0.1)
    pick = select_phi(model, 300, peak_lr=0.5, z=1e9)
    assert pick.phi != 2.0 and not pick.fallback
    assert "no standard error (one quadrature" in pick.reason


def test_torch_estimators_check_the_model_before_reading_the_batches() -> None:
    framework("torch", "torch")
    from uba_torch import estimate_gradient_noise, estimate_spectrum

    def batches():
        raise AssertionError("the batches were read before the model was checked")
        yield  # a generator

    for estimate in (estimate_spectrum, estimate_gradient_noise):
        with pytest.raises(TypeError, match=r"`model` must be a torch\.nn\.Module\. Received: model='notamodel'"):
            estimate("notamodel", lambda m, b: 0.0, batches())


def test_a_best_lr_at_the_end_of_the_grid_is_reported() -> None:
    """Started at the minimum, noise is all there is: the smaller the rate the lower the loss, so every
    phi's best peak lr is the grid's smallest, 2^-16 / lambda_max: a failed check, and cosine."""
    model = NoisyQuadratic.from_eigenvalues([1.0, 0.5], loss_gap=1e-30, noise_trace=1.0)
    pick = select_phi(model, 20, peak_lr=2.0**-16)
    assert pick.problems == ("the model's best peak lr of phi = 0.25, 0.5, 1, 2, 4, 8, 16 is at an end of its lr grid",)
    assert all(c.model_lr_factor == 1.0 for c in pick.candidates)  # all at the same (smallest) lr
    assert (pick.phi, pick.peak_lr) == (2.0, 2.0**-16)


def test_skip_steps_may_be_an_array_one_per_log() -> None:
    logs = pilot_logs()
    as_list = AnnealingLaw.fit(logs, skip_steps=[W_PILOT, 2 * W_PILOT])
    as_array = AnnealingLaw.fit(logs, skip_steps=np.array([W_PILOT, 2 * W_PILOT]))
    assert (as_array.points, as_array.alpha, as_array.C) == (as_list.points, as_list.alpha, as_list.C)
    assert as_list.points == 2 * N_PILOT - 3 * W_PILOT
    with pytest.raises(ValueError, match=r"`skip_steps` must be one integer or one per log \(2\)"):
        AnnealingLaw.fit(logs, skip_steps=np.array([1, 2, 3]))


def test_the_default_skip_is_the_warmup_whatever_the_last_digits() -> None:
    logs = pilot_logs()
    lrs, losses = logs[0]
    bumped = lrs.copy()
    bumped[60] = np.nextafter(PEAK, 1.0)  # one ulp above the peak, long after the warmup
    fit = AnnealingLaw.fit([(bumped, losses), logs[1]])
    assert fit.points == 2 * (N_PILOT - W_PILOT)
    assert f"skipped steps: {W_PILOT}, {W_PILOT}" in fit.method


def test_the_law_predicts_only_at_its_pilots_peak_lr(exact_law) -> None:
    with pytest.raises(ValueError, match=r"`peak_lr` must be the pilots' peak lr, 0\.1.*Received: peak_lr=0\.3"):
        select_phi(exact_law, 300, peak_lr=0.3)
    report = str(select_phi(exact_law, 300, peak_lr=PEAK))
    assert "caution   experimental: on the benchmark cells no model met its bar" in report


# --- the consensus of several selections ---------------------------------------------------


def _selection(phi: float, factor: float = 1.0):
    from uba_core.experimental import PhiCandidate, PhiSelection

    cands = tuple(PhiCandidate(p, 1.0, 1.0, 0.0) for p in (0.5, 2.0, 8.0))
    return PhiSelection(phi, factor, 0.1 * factor, cands, False, "", "m", "c", 100, (), 0.1)


@pytest.mark.parametrize(
    "phis,expected",
    [
        ((8.0, 0.5), (2.0, 1.0, True)),  # opposite sides: cosine, as a fallback
        ((2.0, 2.0), (2.0, 1.0, False)),  # both keep cosine
        ((2.0, 8.0), (2.0, 1.0, True)),  # one keeps cosine, the other switches: not the same side
        ((16.0, 4.0), (4.0, 0.7, False)),  # the same side: the choice nearest 2, with its factor
        ((0.25, 1.0), (1.0, 0.7, False)),
    ],
)
def test_the_consensus_switches_only_where_the_models_agree(phis, expected) -> None:
    from uba_core.experimental import consensus

    first, second = _selection(phis[0], 1.5), _selection(phis[1], 0.7)
    got = consensus([first, second])
    assert (got.phi, got.lr_factor, got.fallback) == expected
    assert got.peak_lr == pytest.approx(0.1 * got.lr_factor)


def test_the_consensus_needs_two_selections_of_one_budget() -> None:
    from uba_core.experimental import consensus

    with pytest.raises(ValueError, match=r"`selections` must hold at least 2 selections"):
        consensus([_selection(2.0)])
    other = _selection(8.0)
    import dataclasses

    with pytest.raises(ValueError, match=r"`selections` must be of one budget\. Received: total_steps \[100, 200\]"):
        consensus([other, dataclasses.replace(other, total_steps=200)])
