"""Hessian spectra by stochastic Lanczos quadrature: core, torch and jax estimators, suggest_phi, CLI.

The quadratics have a known spectrum (log-uniform or uniform in [L / kappa, L], rotated
by a random orthogonal matrix); every check compares with it or with a formula
written here, never with the code under test.
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _hostile import assert_rejected, cases
from conftest import framework

from uba_core import Spectrum, stochastic_lanczos_quadrature
from uba_core._spectrum import (
    gauss_quadrature,
    kappa_cap,
    lanczos,
    spectral_density,
    spectral_quantile,
    spectrum_from_tridiagonals,
)
from uba_core.experimental import suggest_phi

ROOT = Path(__file__).resolve().parents[1]
DIM, L = 240, 3.0
KAPPAS = (10.0, 100.0, 1000.0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def eigenvalues(kappa: float, kind: str) -> np.ndarray:
    if kind == "log":
        return L * np.logspace(0.0, -math.log10(kappa), DIM)
    return np.linspace(L / kappa, L, DIM)


def hessian(kappa: float, kind: str = "log") -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(1234).standard_normal((DIM, DIM)))
    h = (q * eigenvalues(kappa, kind)) @ q.T
    return 0.5 * (h + h.T)


def lanczos_steps(kappa: float) -> int:
    """The documented rule of thumb: 4 sqrt(kappa) steps, 40 at least."""
    return max(40, math.ceil(4 * math.sqrt(kappa)))


def assert_recovers(spec: Spectrum, kappa: float) -> None:
    assert abs(spec.lambda_max / L - 1.0) < 0.02, spec.lambda_max
    assert abs(spec.kappa / kappa - 1.0) < 0.10, spec.kappa
    assert spec.discarded_mass == 0.0


# --- core ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["log", "uniform"])
@pytest.mark.parametrize("kappa", KAPPAS, ids=lambda k: f"kappa{k:g}")
def test_core_recovers_a_known_spectrum(kappa: float, kind: str) -> None:
    h = hessian(kappa, kind)
    spec = stochastic_lanczos_quadrature(lambda v: h @ v, DIM, probes=4, lanczos_steps=lanczos_steps(kappa))
    assert_recovers(spec, kappa)
    # Ritz values lie inside the spectrum: lambda_max and mu_eff are bounds from inside.
    assert spec.lambda_max <= L * (1 + 1e-12) and spec.mu_eff >= (L / kappa) * (1 - 1e-12)
    np.testing.assert_allclose(spec.weights.sum(), 1.0, rtol=1e-12)
    assert spec.hvps == 4 * lanczos_steps(kappa) and spec.probes == 4


def test_gauss_quadrature_matches_the_probe_moments() -> None:
    """k Lanczos steps give a Gauss rule exact for v^T H^j v, j < 2k."""
    h, seen = hessian(100.0), []

    def matvec(v: np.ndarray) -> np.ndarray:
        seen.append(v.copy())
        return h @ v

    k = 6
    nodes, weights = gauss_quadrature(*lanczos(matvec, DIM, k, np.random.default_rng(3)))
    v = seen[0]
    np.testing.assert_allclose(np.linalg.norm(v), 1.0, rtol=1e-14)
    assert set(np.abs(v * math.sqrt(DIM)).round(12)) == {1.0}  # a normalised Rademacher probe
    hv = v.copy()
    for j in range(2 * k):
        np.testing.assert_allclose(np.sum(weights * nodes**j), v @ hv, rtol=1e-9, atol=1e-12)
        hv = h @ hv


def test_full_dimension_gives_the_exact_eigenvalues_and_breakdown_stops_early() -> None:
    lam = np.linspace(1.0, 4.0, 30)
    alpha, beta = lanczos(lambda v: lam * v, 30, 100, 0, probe="gaussian")
    assert alpha.size == 30 and beta.size == 29  # steps beyond the dimension are not run
    np.testing.assert_allclose(gauss_quadrature(alpha, beta)[0], lam, rtol=1e-10)
    few = np.repeat([0.5, 2.0, 7.0], 10)
    alpha, beta = lanczos(lambda v: few * v, 30, 20, 0)
    assert alpha.size == 3  # three distinct eigenvalues: an invariant Krylov space
    nodes, weights = gauss_quadrature(alpha, beta)
    np.testing.assert_allclose(nodes, [0.5, 2.0, 7.0], rtol=1e-12)
    np.testing.assert_allclose(weights, [1 / 3] * 3, rtol=1e-12)  # Rademacher: 10 / 30 each
    spec = stochastic_lanczos_quadrature(lambda v: few * v, 30, probes=2, lanczos_steps=20)
    assert spec.hvps == 6 and spec.kappa == pytest.approx(14.0, rel=1e-12)


def test_mu_eff_rule_discards_flat_and_negative_curvature() -> None:
    """Half the mass at zero, some negative: mu_eff is the smallest curvature >= tol * lambda_max."""
    lam = np.concatenate([np.zeros(100), -np.linspace(0.1, 1.0, 20), np.linspace(0.5, 5.0, 120)])
    spec = stochastic_lanczos_quadrature(lambda v: lam * v, lam.size, probes=3, lanczos_steps=lam.size)
    assert spec.lambda_max == pytest.approx(5.0, rel=1e-10)
    assert spec.mu_eff == pytest.approx(0.5, rel=1e-8) and spec.kappa == pytest.approx(10.0, rel=1e-8)
    assert spec.discarded_mass == pytest.approx(120 / 240, abs=0.1)
    assert spec.tol == 1e-3 and "median over the 3 probes" in spec.rule  # the documented default
    # An eigenvalue exactly at the threshold (kappa = 1 / tol) is kept.
    edge = np.linspace(1.0, 1000.0, 50)
    spec = stochastic_lanczos_quadrature(lambda v: edge * v, 50, probes=2, lanczos_steps=50)
    assert spec.kappa == pytest.approx(1000.0, rel=1e-8)
    assert spec.with_tol(2e-3).mu_eff == pytest.approx(edge[1], rel=1e-8)  # re-derived, no new products


def test_quantiles_density_and_summary() -> None:
    h = hessian(10.0, "uniform")
    spec = stochastic_lanczos_quadrature(lambda v: h @ v, DIM, probes=4, lanczos_steps=40)
    # The pooled measure approximates the uniform eigenvalue distribution on [0.3, 3].
    for q in (0.25, 0.5, 0.75):
        assert abs(spec.quantile(q) - (0.3 + q * 2.7)) < 0.15
    assert spec.quantile(0.0) == spec.nodes[0] and spec.quantile(1.0) == spec.nodes[-1]
    assert spectral_quantile([1.0, 2.0, 3.0], [1, 1, 2], 0.5) == 2.0
    grid = np.linspace(-1.0, 4.5, 4001)
    dens = spec.density(grid)
    assert np.all(dens >= 0) and np.sum(dens) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-3)
    assert spec.density(grid, width=0.2).max() < dens.max()  # wider kernel, flatter density
    text = str(spec)
    assert f"kappa           {spec.kappa:.6g}" in text and "160 Hessian-vector products" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.kappa = 1.0  # type: ignore[misc]
    assert not spec.nodes.flags.writeable


def test_max_hvps_is_enforced_before_any_work() -> None:
    calls = []

    def matvec(v: np.ndarray) -> np.ndarray:
        calls.append(1)
        return v

    with pytest.raises(ValueError, match=r"`max_hvps`.*4 \* 40 = 160.*max_hvps=159"):
        stochastic_lanczos_quadrature(matvec, 300, max_hvps=159)
    assert calls == []
    spec = stochastic_lanczos_quadrature(matvec, 300, max_hvps=160)
    assert len(calls) <= 160 and spec.hvps == len(calls)


def test_progress_needs_tqdm_only_when_asked(monkeypatch) -> None:
    lam = np.linspace(1.0, 2.0, 20)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    with pytest.raises(ImportError, match=r"pip install 'tqdm>=4\.60', or pass progress=False"):
        stochastic_lanczos_quadrature(lambda v: lam * v, 20, progress=True)
    spec = stochastic_lanczos_quadrature(lambda v: lam * v, 20, probes=1, lanczos_steps=5, progress=False)
    assert spec.hvps == 5


def test_progress_bar_counts_the_products(capsys) -> None:
    framework("torch", "tqdm")  # the torch extra installs tqdm (so does the jax one)
    lam = np.linspace(1.0, 2.0, 20)
    spec = stochastic_lanczos_quadrature(lambda v: lam * v, 20, probes=2, lanczos_steps=5, progress=True)
    assert spec.hvps == 10
    assert "10/10" in capsys.readouterr().err  # tqdm writes to stderr


# --- suggest_phi ------------------------------------------------------------------------------


def spectrum_with(kappa: float, lambda_max: float = 2.0) -> Spectrum:
    """A one-probe spectrum with Ritz values lambda_max / kappa and lambda_max."""
    return spectrum_from_tridiagonals([([lambda_max / kappa, lambda_max], [0.0])])


@pytest.mark.parametrize(
    "kappa,total_steps", [(50.0, 100), (500.0, 10), (1.0, 7), (37.5, 1), (999.0, 31), (999.0, 32), (0.5, 100)]
)
def test_suggest_phi_rule(kappa: float, total_steps: int) -> None:
    spec = spectrum_with(max(kappa, 1.0))
    if kappa < 1.0:  # no real spectrum gives kappa < 1; the floor still holds
        spec = dataclasses.replace(spec, kappa=kappa)
    assert spec.kappa == pytest.approx(kappa, rel=1e-12)
    s = suggest_phi(spec, total_steps)
    used = min(max(kappa, 1.0), float(total_steps * total_steps))  # written independently
    assert s.kappa_used == pytest.approx(used, rel=1e-12) and s.kappa_estimated == spec.kappa
    assert s.phi == pytest.approx(2.0 * used, rel=1e-12) and s.kappa_cap == total_steps**2
    assert s.branch == ("cosine" if used == 1.0 else "convex")
    assert s.mean_lr_factor == pytest.approx(1.0 / (1.0 + math.sqrt(used)), rel=1e-12)
    word = "capped" if kappa > total_steps**2 else ("floored" if kappa < 1.0 else "within")
    assert word in s.reason and f"phi             {s.phi:.6g}" in str(s)


def test_kappa_cap_is_where_chebyshev_acceleration_runs_out() -> None:
    from uba_core import chebyshev_residual_bound

    for T in (10, 300, 3000):
        assert kappa_cap(T) == T * T
        # The best T-step worst case at kappa = T^2 is about 1 / cosh(2): little progress left.
        assert chebyshev_residual_bound(kappa_cap(T), T) == pytest.approx(1 / math.cosh(2.0), rel=0.02)


BAD_ARGS = [
    (lambda: lanczos(3, 10, 5, 0), TypeError, "`matvec` must be callable"),
    (lambda: lanczos(lambda v: v, 0, 5, 0), ValueError, "`dim` must be >= 1. Received: dim=0"),
    (lambda: lanczos(lambda v: v, 10, 0, 0), ValueError, "`steps` must be >= 1. Received: steps=0"),
    (lambda: lanczos(lambda v: v, 10, 5.0, 0), TypeError, "`steps` must be an integer"),
    (lambda: lanczos(lambda v: v, 10, 5, "seed"), TypeError, "`rng` must be a numpy.random.Generator"),
    (lambda: lanczos(lambda v: v, 10, 5, 0, probe="sobol"), ValueError, "probe='sobol'"),
    (lambda: lanczos(lambda v: v[:3], 10, 5, 0), ValueError, r"`matvec` must return a finite vector of shape \(10,\)"),
    (lambda: lanczos(lambda v: v * np.nan, 10, 5, 0), ValueError, "10 non-finite entries"),
    (
        lambda: stochastic_lanczos_quadrature(lambda v: v, 10, probes=0),
        ValueError,
        "`probes` must be >= 1. Received: probes=0",
    ),
    (lambda: stochastic_lanczos_quadrature(lambda v: v, 10, lanczos_steps=2.5), TypeError, "`lanczos_steps`"),
    (lambda: stochastic_lanczos_quadrature(lambda v: v, 10, seed=-1), ValueError, "seed=-1"),
    (lambda: stochastic_lanczos_quadrature(lambda v: v, 10, max_hvps=0), ValueError, "max_hvps=0"),
    (lambda: stochastic_lanczos_quadrature(lambda v: v, 10, tol=0.0), ValueError, "`tol` must be > 0"),
    (lambda: spectrum_from_tridiagonals([]), ValueError, "`tridiagonals` must be a non-empty"),
    (lambda: spectrum_from_tridiagonals([([1.0], [])], tol=1.5), ValueError, "`tol` must be <= 1.0"),
    (lambda: gauss_quadrature([1.0, 2.0], [1.0, 1.0]), ValueError, "`alpha` and `beta`"),
    (lambda: spectral_quantile([1.0], [1.0], 1.5), ValueError, "`q` must be <= 1.0. Received: q=1.5"),
    (lambda: spectral_density([1.0], [-1.0], [0.0], 1.0), ValueError, "`weights` must be >= 0"),
    (lambda: spectral_density([1.0], [1.0], [0.0], 0.0), ValueError, "`width` must be > 0"),
    (lambda: suggest_phi("spectrum", 10), TypeError, "`spectrum` must be a Spectrum"),
    (
        lambda: suggest_phi(spectrum_from_tridiagonals([([-2.0, -1.0], [0.0])]), 10),
        ValueError,
        "no positive curvature.*lambda_max=-1.0",
    ),
]


@pytest.mark.parametrize("call,error,message", BAD_ARGS, ids=[m[:30] for *_, m in BAD_ARGS])
def test_bad_arguments_name_the_argument_and_value(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


# The budget follows UBAConfig.total_steps' rule: tests/_hostile.py's table.
@pytest.mark.parametrize(
    "build,arg,bad",
    [
        *cases("suggest_phi", lambda **kw: suggest_phi(spectrum_with(4.0), **kw), {"total_steps": "total_steps"}),
        *cases("kappa_cap", kappa_cap, {"total_steps": "total_steps"}),
    ],
)
def test_the_budget_is_checked_like_a_configs(build, arg: str, bad) -> None:
    assert_rejected(build, arg, bad)


# --- torch and jax estimators -------------------------------------------------------------------


def torch_quadratic(h: np.ndarray):
    """A parameter vector x with loss 0.5 x^T B x per batch B; batches H + E and H - E average to H."""
    torch = framework("torch", "torch")

    class Quadratic(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.x = torch.nn.Parameter(torch.ones(h.shape[0], dtype=torch.float64))

        def forward(self, b: torch.Tensor) -> torch.Tensor:
            return 0.5 * self.x @ (b @ self.x)

    e = np.random.default_rng(5).standard_normal(h.shape) * 0.1
    batches = [torch.from_numpy(h + e + e.T), torch.from_numpy(h - e - e.T)]
    return Quadratic(), (lambda model, batch: model(batch)), batches


def jax_quadratic(h: np.ndarray):
    framework("jax", "optax")
    jnp = framework("jax", "jax.numpy")
    e = np.random.default_rng(5).standard_normal(h.shape) * 0.1
    return (lambda p, b: 0.5 * p["x"] @ (b @ p["x"])), {"x": jnp.ones(h.shape[0])}, [h + e + e.T, h - e - e.T]


def torch_estimate(h: np.ndarray, **kwargs) -> Spectrum:
    framework("torch", "torch")
    from uba_torch import estimate_spectrum

    model, loss_fn, batches = torch_quadratic(h)
    return estimate_spectrum(model, loss_fn, batches, progress=False, **kwargs)


def jax_estimate(h: np.ndarray, **kwargs) -> Spectrum:
    jax = framework("jax", "jax")
    from uba_jax import estimate_spectrum

    with jax.enable_x64(True):
        loss_fn, params, batches = jax_quadratic(h)
        return estimate_spectrum(loss_fn, params, batches, progress=False, **kwargs)


ESTIMATORS = {"torch": torch_estimate, "jax": jax_estimate}


@pytest.mark.parametrize("kappa", KAPPAS, ids=lambda k: f"kappa{k:g}")
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimator_recovers_a_known_spectrum(name: str, kappa: float) -> None:
    spec = ESTIMATORS[name](hessian(kappa), probes=4, lanczos_steps=lanczos_steps(kappa), seed=1)
    assert_recovers(spec, kappa)
    assert spec.hvps == 4 * lanczos_steps(kappa)


def test_torch_and_jax_agree_on_the_same_quadratic() -> None:
    h = hessian(100.0)
    a = torch_estimate(h, probes=3, lanczos_steps=40, seed=11)
    b = jax_estimate(h, probes=3, lanczos_steps=40, seed=11)
    core = stochastic_lanczos_quadrature(lambda v: h @ v, DIM, probes=3, lanczos_steps=40, seed=11)
    for spec in (a, b):
        np.testing.assert_allclose(spec.nodes, core.nodes, rtol=1e-9, atol=1e-12 * L)
        np.testing.assert_allclose(spec.weights, core.weights, rtol=1e-7, atol=1e-12)
        assert spec.kappa == pytest.approx(core.kappa, rel=1e-9)


def tiny_mlp_problem(dtype: str):
    """A 64-16-10 tanh MLP on 200 digits, built in torch; the same weights as a jax list."""
    torch = framework("torch", "torch")
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = (data.data[:200] / 16.0).astype(dtype), data.target[:200]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 16), torch.nn.Tanh(), torch.nn.Linear(16, 10))
    model = model.to(getattr(torch, dtype))
    batches = [
        (torch.from_numpy(x[:100]), torch.from_numpy(y[:100])),
        (torch.from_numpy(x[100:]), torch.from_numpy(y[100:])),
    ]
    return model, batches


def torch_mlp(dtype: str, **kwargs) -> Spectrum:
    torch = framework("torch", "torch")
    from uba_torch import estimate_spectrum

    model, batches = tiny_mlp_problem(dtype)
    return estimate_spectrum(
        model, lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), batches, progress=False, **kwargs
    )


def jax_mlp(dtype: str, **kwargs) -> Spectrum:
    jax = framework("jax", "jax")
    framework("jax", "optax")
    import jax.numpy as jnp

    from uba_jax import estimate_spectrum

    model, batches = tiny_mlp_problem(dtype)
    # A list keeps torch's parameter order; (out, in) weights keep its memory layout.
    params = [jnp.asarray(p.detach().numpy()) for p in model.parameters()]
    data = [(jnp.asarray(x.numpy()), jnp.asarray(y.numpy())) for x, y in batches]

    def loss_fn(p, batch):
        logits = jnp.tanh(batch[0] @ p[0].T + p[1]) @ p[2].T + p[3]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), batch[1][:, None], axis=1))

    return estimate_spectrum(loss_fn, params, data, progress=False, **kwargs)


@pytest.mark.parametrize("name,estimate", [("torch", torch_mlp), ("jax", jax_mlp)], ids=["torch", "jax"])
def test_a_small_real_net_runs_end_to_end(name, estimate) -> None:
    spec = estimate("float32", probes=2, lanczos_steps=20, seed=0)
    assert math.isfinite(spec.lambda_max) and spec.lambda_max > 0
    assert math.isfinite(spec.mu_eff) and spec.mu_eff > 0 and spec.kappa >= 1.0
    assert spec.hvps <= 40 and np.all(np.isfinite(spec.nodes))
    s = suggest_phi(spec, 500)
    assert s.phi >= 2.0 and math.isfinite(s.phi)


def test_torch_and_jax_agree_on_a_small_real_net() -> None:
    jax = framework("jax", "jax")
    a = torch_mlp("float64", probes=2, lanczos_steps=25, seed=3)
    with jax.enable_x64(True):
        b = jax_mlp("float64", probes=2, lanczos_steps=25, seed=3)
    np.testing.assert_allclose(a.nodes, b.nodes, rtol=1e-7, atol=1e-10 * a.lambda_max)
    assert a.lambda_max == pytest.approx(b.lambda_max, rel=1e-10)
    assert a.kappa == pytest.approx(b.kappa, rel=1e-7)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimator_enforces_max_hvps(name: str) -> None:
    h = np.diag(np.linspace(1.0, 2.0, DIM))
    with pytest.raises(ValueError, match=r"`max_hvps`.*2 \* 10 = 20.*max_hvps=19"):
        ESTIMATORS[name](h, probes=2, lanczos_steps=10, max_hvps=19)
    assert ESTIMATORS[name](h, probes=2, lanczos_steps=10, max_hvps=20).hvps == 20


def test_estimator_bad_arguments() -> None:
    torch = framework("torch", "torch")
    from uba_torch import estimate_spectrum

    model, loss_fn, batches = torch_quadratic(np.eye(4))
    with pytest.raises(TypeError, match=r"`model` must be a torch\.nn\.Module\. Received: model='net'"):
        estimate_spectrum("net", loss_fn, batches)
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        estimate_spectrum(model, None, batches)
    with pytest.raises(ValueError, match="`batches` must hold at least one batch"):
        estimate_spectrum(model, loss_fn, iter([]))
    with pytest.raises(ValueError, match="`model` has no parameter with requires_grad"):
        estimate_spectrum(torch.nn.ReLU(), loss_fn, batches)
    with pytest.raises(ValueError, match=r"`probes` must be >= 1\. Received: probes=0"):
        estimate_spectrum(model, loss_fn, batches, probes=0)


def test_jax_estimator_bad_arguments() -> None:
    framework("jax", "optax")
    framework("jax", "jax")
    from uba_jax import estimate_spectrum

    loss_fn, params, batches = jax_quadratic(np.eye(4))
    with pytest.raises(TypeError, match="`loss_fn` must be callable"):
        estimate_spectrum("loss", params, batches)
    with pytest.raises(ValueError, match="`batches` must hold at least one batch"):
        estimate_spectrum(loss_fn, params, [])
    with pytest.raises(ValueError, match="`params` must hold floating-point arrays"):
        estimate_spectrum(loss_fn, {}, batches)
    with pytest.raises(ValueError, match=r"`lanczos_steps` must be >= 1\. Received: lanczos_steps=0"):
        estimate_spectrum(loss_fn, params, batches, lanczos_steps=0)


# --- benchmarks/suggested.py task: the command that was `uba suggest-phi` -----------------------


def suggested(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "suggested.py"), "task", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_suggested_task_on_the_quadratic_task() -> None:
    proc = suggested("quadratic-k10", "--total-steps", "300", "--no-progress")  # tqdm is a bench extra
    assert proc.returncode == 0, proc.stderr
    kappa = float(re.search(r"^  kappa +(\S+)$", proc.stdout, re.M).group(1))
    phi = float(re.search(r"^  phi +(\S+)$", proc.stdout, re.M).group(1))
    assert abs(kappa / 10.0 - 1.0) < 0.10  # benchmarks/tasks.py: eigenvalues log-spaced in [0.1, 1]
    assert phi == pytest.approx(2.0 * kappa, rel=1e-5)
    assert "160 Hessian-vector products" in proc.stdout and "convex" in proc.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["digits-keras"], "invalid choice: 'digits-keras'"),
        (["quadratic-k10", "--total-steps", "0"], "`--total-steps` must be >= 1"),
        (["quadratic-k10", "--max-hvps", "100"], "max_hvps=100"),
        (["quadratic-k10", "--probes", "0"], "`probes` must be >= 1"),
    ],
)
def test_suggested_task_errors_exit_2(args: list[str], message: str) -> None:
    proc = suggested("--total-steps", "300", "--no-progress", *args)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
