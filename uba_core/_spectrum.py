r"""Hessian spectra by stochastic Lanczos quadrature (SLQ), and the phi they suggest.

SLQ estimates the eigenvalue distribution of a symmetric operator $H$ (here
the Hessian of a loss, $d \times d$) from products $v \mapsto Hv$ only.
For a unit probe $v$ (Rademacher or Gaussian, normalised), ``k`` Lanczos
steps build an orthonormal basis $V_k$ of the Krylov space
$\mathrm{span}\{v, Hv, \dots, H^{k-1}v\}$ and the tridiagonal
$T_k = V_k^\top H V_k$ (diagonal $\alpha$, off-diagonal $\beta$).
With $T_k = Q \Theta Q^\top$, the Ritz values $\theta_j$ and the weights
$w_j = Q_{1j}^2$ ($\sum_j w_j = 1$) are the k-point Gauss quadrature of
the probe's spectral measure $\sum_i (v^\top u_i)^2 \delta_{\lambda_i}$,
whose expectation over the probe is the eigenvalue distribution
$\frac1d \sum_i \delta_{\lambda_i}$. Pooling the quadratures of several probes
(each weighted $1 / \mathrm{probes}$) gives the spectral density estimate.

The extreme Ritz values converge first, from inside: $\theta_{max} \le
\lambda_{max}$ is accurate after a few steps, while the bottom of a spectrum that is
dense near its lower end (log-uniform, say) is resolved only to about
$\lambda_{max} / k^2$: use ``lanczos_steps`` of at least
$4\sqrt\kappa$ to see a condition number $\kappa$ (40 for 100, 127 for 1000).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy
from numpy.typing import NDArray

from uba_core._chebyshev import describe_phi, mean_lr_factor
from uba_core._validation import check_int, check_real

__all__ = [
    "MU_EFF_TOL",
    "PhiSuggestion",
    "Spectrum",
    "check_loss_and_batches",
    "gauss_quadrature",
    "kappa_cap",
    "lanczos",
    "spectral_density",
    "spectral_quantile",
    "spectrum_from_tridiagonals",
    "stochastic_lanczos_quadrature",
    "suggest_phi",
]

#: Ritz values below ``MU_EFF_TOL * lambda_max`` count as flat (see `Spectrum`).
MU_EFF_TOL = 1e-3
_SLACK = 1e-9  # keeps a Ritz value exactly at the threshold (a kappa = 1 / tol spectrum) despite rounding

_BREAKDOWN = 1e-10  # beta below this times the norm estimate: the Krylov space is invariant
Matvec = Callable[[NDArray[numpy.float64]], Any]


def check_loss_and_batches(loss_fn: object, batches: Iterable[Any]) -> list[Any]:
    """The checks every framework estimator starts with; returns the batches as a list.

    Raises:
        TypeError: ``loss_fn`` is not callable.
        ValueError: ``batches`` is empty.
    """
    if not callable(loss_fn):
        raise TypeError(f"Argument `loss_fn` must be callable. Received: loss_fn={loss_fn!r}.")
    batches = list(batches)
    if not batches:
        raise ValueError("Argument `batches` must hold at least one batch. Received: batches=[].")
    return batches


def _check_rng(rng: Any) -> numpy.random.Generator:
    if isinstance(rng, numpy.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool) and int(rng) >= 0:
        return numpy.random.default_rng(int(rng))
    raise TypeError(
        "Argument `rng` must be a numpy.random.Generator or a seed (an integer >= 0). "
        f"Received: rng={rng!r} ({type(rng).__name__})."
    )


def lanczos(
    matvec: Matvec, dim: int, steps: int, rng: Any, *, probe: str = "rademacher"
) -> tuple[NDArray[numpy.float64], NDArray[numpy.float64]]:
    r"""Lanczos tridiagonalisation with full reorthogonalisation, from a random probe.

    Every new vector is orthogonalised against all previous ones (classical
    Gram-Schmidt, twice), so the basis stays orthonormal to machine precision and no
    spurious copies of converged Ritz values appear. This stores ``steps`` vectors:
    ``8 * steps * dim`` bytes (160 MB for 40 steps and $5 \cdot 10^5$
    parameters).

    Args:
        matvec: $v \mapsto Hv$ for a symmetric $H$; receives a float64
            numpy vector of shape ``(dim,)`` and returns anything numpy converts to one.
        dim: Dimension $d$ >= 1.
        steps: Lanczos steps $k$ >= 1, each one call of ``matvec``.
        rng: A ``numpy.random.Generator`` (or an integer seed) drawing the probe.
        probe: ``"rademacher"`` (entries $\pm 1$) or ``"gaussian"``, normalised.

    Returns:
        ``(alpha, beta)``: the diagonal (length $m \le k$) and off-diagonal
        (length $m - 1$) of $T_m$. The run stops early (*breakdown*,
        $m < k$) when the Krylov space is invariant ($\beta_m \le 10^{-10}$
        times the norm estimate), which always happens by $m = d$; then
        $T_m$ is exact on that space. ``len(alpha)`` is the number of ``matvec``
        calls made.

    Raises:
        TypeError: ``matvec`` is not callable, or ``dim``, ``steps``, ``rng`` mistyped.
        ValueError: ``dim`` or ``steps`` < 1, unknown ``probe``, or ``matvec``
            returned a wrong shape or non-finite values.

    Examples:
        >>> h = numpy.linspace(1.0, 10.0, 50)  # a diagonal H
        >>> alpha, beta = lanczos(lambda v: h * v, 50, 30, numpy.random.default_rng(0))
        >>> alpha.shape, beta.shape
        ((30,), (29,))
        >>> alpha, beta = lanczos(lambda v: numpy.repeat([1.0, 2.0], 10) * v, 20, 30, 0)
        >>> alpha.shape  # two distinct eigenvalues: breakdown after 2 steps
        (2,)
    """
    if not callable(matvec):
        raise TypeError(f"Argument `matvec` must be callable. Received: matvec={matvec!r}.")
    dim = check_int("dim", dim, minimum=1)
    steps = check_int("steps", steps, minimum=1)
    rng = _check_rng(rng)
    if probe == "rademacher":
        v = rng.choice(numpy.array([-1.0, 1.0]), size=dim)
    elif probe == "gaussian":
        v = rng.standard_normal(dim)
    else:
        raise ValueError(f"Argument `probe` must be 'rademacher' or 'gaussian'. Received: probe={probe!r}.")
    basis = numpy.empty((min(steps, dim), dim))
    basis[0] = v / numpy.linalg.norm(v)
    alpha: list[float] = []
    beta: list[float] = []
    scale = 0.0
    for j in range(basis.shape[0]):
        w = numpy.asarray(matvec(basis[j].copy()), dtype=numpy.float64)
        if w.shape != (dim,) or not numpy.all(numpy.isfinite(w)):
            raise ValueError(
                f"Argument `matvec` must return a finite vector of shape ({dim},). "
                f"Received at Lanczos step {j}: shape {w.shape}, "
                f"{int(numpy.sum(~numpy.isfinite(w)))} non-finite entries."
            )
        alpha.append(float(basis[j] @ w))
        for _ in range(2):  # "twice is enough"
            w -= basis[: j + 1].T @ (basis[: j + 1] @ w)
        b = float(numpy.linalg.norm(w))
        scale = max(scale, abs(alpha[-1]), b)
        if j + 1 == basis.shape[0] or b <= _BREAKDOWN * scale:
            break
        beta.append(b)
        basis[j + 1] = w / b
    return numpy.array(alpha), numpy.array(beta)


def gauss_quadrature(alpha: Any, beta: Any) -> tuple[NDArray[numpy.float64], NDArray[numpy.float64]]:
    r"""Ritz values and Gauss-quadrature weights of a Lanczos tridiagonal.

    Args:
        alpha: Diagonal, length $m \ge 1$.
        beta: Off-diagonal, length $m - 1$.

    Returns:
        ``(nodes, weights)``: the eigenvalues $\theta_j$ of $T_m$
        (ascending) and the squared first components of its eigenvectors (sum 1).

    Raises:
        ValueError: wrong lengths or non-finite entries.

    Examples:
        >>> nodes, weights = gauss_quadrature([2.0, 2.0], [1.0])
        >>> nodes.tolist(), weights.round(12).tolist()
        ([1.0, 3.0], [0.5, 0.5])
    """
    a = numpy.asarray(alpha, dtype=numpy.float64)
    b = numpy.asarray(beta, dtype=numpy.float64)
    if (
        a.ndim != 1
        or a.size == 0
        or b.shape != (a.size - 1,)
        or not (numpy.all(numpy.isfinite(a)) and numpy.all(numpy.isfinite(b)))
    ):
        raise ValueError(
            "Arguments `alpha` and `beta` must be finite 1-D arrays of lengths m >= 1 and "
            f"m - 1. Received: alpha of shape {a.shape}, beta of shape {b.shape}."
        )
    nodes, vectors = numpy.linalg.eigh(numpy.diag(a) + numpy.diag(b, 1) + numpy.diag(b, -1))
    weights = vectors[0] ** 2
    return nodes, weights / weights.sum()


def _check_quadrature(nodes: Any, weights: Any) -> tuple[NDArray[numpy.float64], NDArray[numpy.float64]]:
    x = numpy.asarray(nodes, dtype=numpy.float64)
    w = numpy.asarray(weights, dtype=numpy.float64)
    if x.ndim != 1 or x.size == 0 or w.shape != x.shape or not numpy.all(numpy.isfinite(x)):
        raise ValueError(
            "Arguments `nodes` and `weights` must be finite 1-D arrays of the same length >= 1. "
            f"Received: nodes of shape {x.shape}, weights of shape {w.shape}."
        )
    if not (numpy.all(w >= 0) and numpy.isfinite(w.sum()) and w.sum() > 0):
        raise ValueError(f"Argument `weights` must be >= 0 with a positive sum. Received: weights={w!r}.")
    return x, w / w.sum()


def spectral_quantile(nodes: Any, weights: Any, q: float) -> float:
    r"""The q-quantile of the discrete spectral measure $\sum_j w_j \delta_{\theta_j}$.

    The smallest node whose cumulative weight (ascending nodes) reaches ``q``;
    ``q = 0`` gives the smallest node, ``q = 1`` the largest.

    Examples:
        >>> spectral_quantile([3.0, 1.0, 2.0], [0.25, 0.25, 0.5], 0.5)
        2.0
    """
    x, w = _check_quadrature(nodes, weights)
    q = check_real("q", q, minimum=0.0, maximum=1.0)
    order = numpy.argsort(x, kind="stable")
    cumulative = numpy.cumsum(w[order])
    index = min(int(numpy.searchsorted(cumulative, q * cumulative[-1] * (1 - 1e-12))), x.size - 1)
    return float(x[order][index])


def spectral_density(nodes: Any, weights: Any, grid: Any, width: float) -> NDArray[numpy.float64]:
    r"""Gaussian-smoothed spectral density $\sum_j w_j \mathcal N(x; \theta_j, \sigma^2)$ on ``grid``.

    Args:
        nodes: Ritz values.
        weights: Their quadrature weights (normalised to sum 1 here).
        grid: Points $x$ (any shape).
        width: Standard deviation $\sigma$ > 0 of the kernel.

    Returns:
        The density at each grid point (integrates to 1 over the real line).

    Examples:
        >>> grid = numpy.linspace(-5.0, 6.0, 2201)
        >>> dens = spectral_density([0.0, 1.0], [0.5, 0.5], grid, width=0.5)
        >>> round(float(dens.sum() * (grid[1] - grid[0])), 6)
        1.0
    """
    x, w = _check_quadrature(nodes, weights)
    sigma = check_real("width", width, positive=True)
    g = numpy.asarray(grid, dtype=numpy.float64)
    z = (g[..., None] - x) / sigma
    density: NDArray[numpy.float64] = numpy.exp(-0.5 * z * z) @ w / (sigma * math.sqrt(2.0 * math.pi))
    return density


@dataclasses.dataclass(frozen=True, eq=False)
class Spectrum:
    r"""A Hessian spectrum estimated by SLQ, with its largest and effective smallest curvature.

    **The mu_eff rule.** Neural-net Hessians carry most of their mass at or near zero
    and some negative curvature, so the smallest eigenvalue says nothing about how
    conditioned training is. With $\lambda_{max}$ the largest Ritz value over all
    probes and ``tol`` = ``MU_EFF_TOL`` = $10^{-3}$:

    1. Ritz values $\theta < \mathrm{tol} \cdot \lambda_{max}$ (negative and
       near-zero curvature; a relative slack of $10^{-9}$ keeps a value exactly at
       the threshold) are treated as flat directions and discarded; their pooled weight
       is ``discarded_mass``. This bounds $\kappa \le 1 / \mathrm{tol} = 1000$.
    2. Each probe's smallest remaining Ritz value is an estimate of the bottom of the
       positive spectrum (on a positive definite $H$ it is an upper bound on
       $\lambda_{min}$ that decreases with every step).
    3. $\mu_{eff}$ is the **median over probes** of these per-probe minima
       (probes with no remaining Ritz value are skipped), and
       $\kappa = \lambda_{max} / \mu_{eff}$.

    The median keeps one probe whose Krylov space caught (or missed) an isolated low
    eigenvalue from deciding $\kappa$ alone. A quantile of the pooled *mass* is
    deliberately not used: a converged Ritz value at $\lambda_{min}$ carries
    weight about $1/d$, so any mass quantile above $1/d$ overshoots
    $\lambda_{min}$ of a uniform spectrum many times over
    ([`quantile`][uba_core.Spectrum.quantile] gives those numbers when wanted). On a positive definite
    quadratic with $\lambda_{min} \ge \mathrm{tol} \cdot \lambda_{max}$, nothing
    is discarded and $\mu_{eff} \to \lambda_{min}$ from above as the steps grow:
    within 10 % with 40 steps up to $\kappa = 100$, and with 127 steps
    ($4\sqrt\kappa$) at $\kappa = 1000$, even for a log-uniform spectrum
    (the hardest case: dense at the bottom). Too few steps make $\kappa$ an
    underestimate.
    Without positive curvature ($\lambda_{max} \le 0$), ``mu_eff`` and
    ``kappa`` are NaN.

    A net at initialization typically has most of the measure in a lump of Ritz values
    near zero, some negative curvature, and a little positive curvature well above the
    lump. Where the lump's Ritz values fall below the threshold they are discarded and
    ``kappa`` comes from the positive curvature; where they fall just above it they set
    ``mu_eff``, and ``kappa`` is far larger (benchmarks/results/suggested.md has the
    benchmark nets' values). ``kappa`` of a net therefore depends on ``tol`` when its flat
    lump lies near the threshold: look at ``discarded_mass`` and [`quantile`][uba_core.Spectrum.quantile], and
    compare [`with_tol`][uba_core.Spectrum.with_tol] (no new products).

    Attributes:
        lambda_max: Largest Ritz value over the probes ($\le \lambda_{max}(H)$).
        mu_eff: Effective smallest curvature (the rule above).
        kappa: ``lambda_max / mu_eff``.
        nodes: Pooled Ritz values of all probes, ascending (read-only array).
        weights: Their Gauss-quadrature weights divided by the number of probes (sum 1).
        hvps: Hessian-vector products (``matvec`` calls) used.
        probes: Number of probes.
        tol: The discard threshold relative to ``lambda_max``.
        discarded_mass: Weight of the discarded Ritz values (near-zero and negative).
        rule: The mu_eff rule in words, with the numbers used.
        tridiagonals: The ``(alpha, beta)`` of each probe, as ``lanczos`` returned them.
    """

    lambda_max: float
    mu_eff: float
    kappa: float
    nodes: NDArray[numpy.float64]
    weights: NDArray[numpy.float64]
    hvps: int
    probes: int
    tol: float
    discarded_mass: float
    rule: str
    tridiagonals: tuple[tuple[NDArray[numpy.float64], NDArray[numpy.float64]], ...]

    def with_tol(self, tol: float) -> Spectrum:
        """The same estimate under another discard threshold ``tol`` (no new products)."""
        return spectrum_from_tridiagonals(self.tridiagonals, tol=tol)

    def quantile(self, q: float) -> float:
        """The q-quantile of the pooled spectral measure (see ``spectral_quantile``)."""
        return spectral_quantile(self.nodes, self.weights, q)

    def density(self, grid: Any, width: float | None = None) -> NDArray[numpy.float64]:
        """Gaussian-smoothed density on ``grid``; ``width`` defaults to 1 % of the node range."""
        if width is None:
            width = max(0.01 * float(self.nodes[-1] - self.nodes[0]), 1e-12 * abs(self.lambda_max), 1e-300)
        return spectral_density(self.nodes, self.weights, grid, width)

    def __str__(self) -> str:
        quantiles = ", ".join(f"{q:g}: {self.quantile(q):.4g}" for q in (0.05, 0.5, 0.95))
        return "\n".join(
            [
                f"Hessian spectrum (stochastic Lanczos quadrature: {self.probes} probes, "
                f"{self.hvps} Hessian-vector products)",
                f"  lambda_max      {self.lambda_max:.6g}",
                f"  mu_eff          {self.mu_eff:.6g}",
                f"  kappa           {self.kappa:.6g}",
                f"  discarded mass  {100 * self.discarded_mass:.3g} % (curvature < {self.tol:g} lambda_max)",
                f"  quantiles       {quantiles}",
                f"  rule            {self.rule}",
            ]
        )


def spectrum_from_tridiagonals(tridiagonals: Sequence[tuple[Any, Any]], *, tol: float = MU_EFF_TOL) -> Spectrum:
    """Pool the Lanczos tridiagonals of several probes into a [`Spectrum`][uba_core.Spectrum].

    Args:
        tridiagonals: One ``(alpha, beta)`` pair per probe, from ``lanczos``.
        tol: Discard threshold relative to ``lambda_max``, in (0, 1] (see [`Spectrum`][uba_core.Spectrum]).

    Returns:
        The spectrum; ``hvps`` is the total length of the ``alpha`` arrays.

    Raises:
        ValueError: no tridiagonal, a malformed one, or ``tol`` outside (0, 1].

    Examples:
        >>> spec = spectrum_from_tridiagonals([([2.0, 2.0], [1.0]), ([5.0], [])])
        >>> spec.lambda_max, spec.mu_eff, spec.hvps
        (5.0, 3.0, 3)
    """
    tol = check_real("tol", tol, positive=True, maximum=1.0)
    if isinstance(tridiagonals, (str, bytes)) or not isinstance(tridiagonals, Sequence) or not tridiagonals:
        raise ValueError(
            "Argument `tridiagonals` must be a non-empty sequence of (alpha, beta) pairs. "
            f"Received: tridiagonals={tridiagonals!r}."
        )
    quadratures = [gauss_quadrature(*pair) for pair in tridiagonals]
    probes = len(quadratures)
    nodes = numpy.concatenate([x for x, _ in quadratures])
    weights = numpy.concatenate([w for _, w in quadratures]) / probes
    order = numpy.argsort(nodes, kind="stable")
    nodes, weights = nodes[order], weights[order]
    lambda_max = float(nodes[-1])
    threshold = tol * lambda_max * (1.0 - _SLACK)
    minima = [float(x[x > threshold].min()) for x, _ in quadratures if numpy.any(x > threshold)]
    mu_eff = float(numpy.median(minima)) if lambda_max > 0 else math.nan
    kappa = lambda_max / mu_eff if lambda_max > 0 else math.nan
    discarded = float(weights[nodes <= threshold].sum()) if lambda_max > 0 else 1.0
    nodes.flags.writeable = weights.flags.writeable = False
    rule = (
        f"median over the {len(minima)} probes of each probe's smallest Ritz value >= "
        f"tol * lambda_max = {tol:g} * {lambda_max:.4g} = {tol * lambda_max:.4g}; smaller Ritz "
        "values (near-zero and negative curvature) are discarded"
    )
    pairs = tuple(
        (
            numpy.atleast_1d(numpy.asarray(a, dtype=numpy.float64)),
            numpy.atleast_1d(numpy.asarray(b, dtype=numpy.float64)),
        )
        for a, b in tridiagonals
    )
    hvps = sum(a.size for a, _ in pairs)
    return Spectrum(lambda_max, mu_eff, kappa, nodes, weights, hvps, probes, tol, discarded, rule, pairs)


def _progress_bar(enabled: bool, total: int, desc: str) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError as err:
        raise ImportError(
            f"progress=True needs tqdm, which could not be imported ({err}). Install it with: "
            "pip install 'tqdm>=4.60', or pass progress=False."
        ) from err
    return tqdm(total=total, desc=desc, unit="hvp")


def stochastic_lanczos_quadrature(
    matvec: Matvec,
    dim: int,
    *,
    probes: int = 4,
    lanczos_steps: int = 40,
    max_hvps: int | None = None,
    seed: int = 0,
    tol: float = MU_EFF_TOL,
    progress: bool = False,
    probe: str = "rademacher",
) -> Spectrum:
    r"""Estimate the spectrum of $H$ from ``probes`` Lanczos runs of ``lanczos_steps`` steps.

    The framework adapters (``uba_torch.estimate_spectrum``,
    ``uba_jax.estimate_spectrum``) call this with their Hessian-vector product.

    Args:
        matvec: $v \mapsto Hv$ on float64 numpy vectors of shape ``(dim,)``.
        dim: Dimension >= 1.
        probes: Independent random probes >= 1.
        lanczos_steps: Lanczos steps per probe >= 1 (one ``matvec`` call each).
        max_hvps: Budget of ``matvec`` calls; ``probes * lanczos_steps`` above it is
            an error (raised before any work), never silently truncated.
        seed: Seed (integer >= 0) of the probes; equal seeds give equal probes.
        tol: Discard threshold of the mu_eff rule ([`Spectrum`][uba_core.Spectrum]).
        progress: Show a tqdm bar over the Hessian-vector products.
        probe: ``"rademacher"`` or ``"gaussian"``.

    Returns:
        The [`Spectrum`][uba_core.Spectrum].

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.
        ImportError: ``progress=True`` and tqdm is missing.

    Examples:
        >>> h = numpy.logspace(0, -2, 200)  # eigenvalues from 0.01 to 1: kappa 100
        >>> spec = stochastic_lanczos_quadrature(lambda v: h * v, 200, lanczos_steps=60)
        >>> round(spec.lambda_max, 9), spec.hvps, bool(abs(spec.kappa / 100 - 1) < 0.1)
        (1.0, 240, True)
    """
    if not callable(matvec):
        raise TypeError(f"Argument `matvec` must be callable. Received: matvec={matvec!r}.")
    dim = check_int("dim", dim, minimum=1)
    probes = check_int("probes", probes, minimum=1)
    steps = check_int("lanczos_steps", lanczos_steps, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    check_real("tol", tol, positive=True, maximum=1.0)
    if max_hvps is not None:
        max_hvps = check_int("max_hvps", max_hvps, minimum=1)
        if probes * steps > max_hvps:
            raise ValueError(
                f"Argument `max_hvps` must be >= probes * lanczos_steps = {probes} * {steps} = "
                f"{probes * steps} Hessian-vector products. Received: max_hvps={max_hvps}. "
                "Lower `probes` or `lanczos_steps`, or raise `max_hvps`."
            )
    bar = _progress_bar(progress, probes * min(steps, dim), "Hessian spectrum (SLQ)")

    def counted(v: NDArray[numpy.float64]) -> Any:
        out = matvec(v)
        if bar is not None:
            bar.update(1)
        return out

    rng = numpy.random.default_rng(seed)
    try:
        runs = [lanczos(counted, dim, steps, rng, probe=probe) for _ in range(probes)]
    finally:
        if bar is not None:
            bar.close()
    return spectrum_from_tridiagonals(runs, tol=tol)


def kappa_cap(total_steps: int) -> float:
    r"""The largest condition number a budget of T steps can act on: $T^2$.

    Gradient descent with any T step sizes is a degree-T polynomial $p$ in
    $H$ with $p(0) = 1$; the best worst case on $[\mu, L]$ is the
    Chebyshev residual $1 / T_T(\frac{\kappa + 1}{\kappa - 1}) \approx
    1 / \cosh(2T / \sqrt\kappa)$. At $\kappa = T^2$ even that optimum shrinks
    the error along $\lambda = \mu$ only by $\cosh 2 \approx 3.8$ (residual
    0.27), and curvatures far below $L / T^2$ are left essentially untouched,
    whatever the schedule. Raising phi past $2T^2$ would only make the curve
    drop sooner (mean lr factor $1/(1 + T)$ at the cap) without resolving them.

    Examples:
        >>> kappa_cap(300)
        90000.0
    """
    T = check_int("total_steps", total_steps, minimum=1, integral_float=True)
    return float(T) ** 2


@dataclasses.dataclass(frozen=True)
class PhiSuggestion:
    """The phi [`suggest_phi`][uba_core.experimental.suggest_phi] proposes for a spectrum and a budget.

    Attributes:
        phi: ``2 * kappa_used`` (convex branch; 2, cosine, when ``kappa_used = 1``).
        kappa_used: ``min(max(kappa_estimated, 1), kappa_cap)``.
        kappa_estimated: The spectrum's ``kappa``.
        kappa_cap: ``kappa_cap`` of the budget, $T^2$.
        total_steps: The budget T.
        branch: [`uba_core.describe_phi`][uba_core.describe_phi] branch of ``phi``: ``"convex"`` or ``"cosine"``.
        mean_lr_factor: Mean of the shape over the decay (cosine: 0.5).
        reason: Why ``kappa_used`` is what it is.
    """

    phi: float
    kappa_used: float
    kappa_estimated: float
    kappa_cap: float
    total_steps: int
    branch: str
    mean_lr_factor: float
    reason: str

    def __str__(self) -> str:
        return "\n".join(
            [
                f"Suggested phi for a budget of T = {self.total_steps} steps",
                f"  phi             {self.phi:.6g}",
                f"  branch          {self.branch}",
                f"  kappa used      {self.kappa_used:.6g} (estimated {self.kappa_estimated:.6g}; "
                f"floor 1, cap T^2 = {self.kappa_cap:.6g})",
                f"  mean lr factor  {self.mean_lr_factor:.4g} (cosine: 0.5)",
                f"  reason          {self.reason}",
            ]
        )


def suggest_phi(spectrum: Spectrum, total_steps: int) -> PhiSuggestion:
    r"""phi = 2 kappa for an estimated spectrum, limited to what T steps can resolve.

    $\kappa_{used} = \min(\max(\kappa, 1), T^2)$ (``kappa_cap``), and
    $\varphi = 2\kappa_{used}$: the UBA shape that reproduces the Chebyshev step
    sizes of $[\mu_{eff}, \lambda_{max}]$ (convex branch, $\varphi \ge 2$).

    Args:
        spectrum: From [`stochastic_lanczos_quadrature`][uba_core.stochastic_lanczos_quadrature] or an adapter's
            ``estimate_spectrum``.
        total_steps: Budget T >= 1.

    Raises:
        TypeError: ``spectrum`` is not a [`Spectrum`][uba_core.Spectrum], or ``total_steps`` not an int.
        ValueError: ``total_steps`` < 1, or the spectrum has no positive curvature.

    Examples:
        >>> spec = spectrum_from_tridiagonals([([2.0, 2.0], [1.0])])  # Ritz values 1, 3
        >>> s = suggest_phi(spec, total_steps=100)
        >>> s.phi, s.branch
        (6.0, 'convex')
        >>> suggest_phi(spec, total_steps=1).phi  # T = 1 resolves nothing: cosine
        2.0
    """
    if not isinstance(spectrum, Spectrum):
        raise TypeError(
            f"Argument `spectrum` must be a Spectrum. Received: spectrum={spectrum!r} ({type(spectrum).__name__})."
        )
    T = check_int("total_steps", total_steps, minimum=1, integral_float=True)
    kappa = spectrum.kappa
    if not (spectrum.lambda_max > 0 and math.isfinite(kappa)):
        raise ValueError(
            "Argument `spectrum` has no positive curvature to condition a schedule on. "
            f"Received: spectrum.lambda_max={spectrum.lambda_max!r}, spectrum.kappa={kappa!r}."
        )
    cap = kappa_cap(T)
    if kappa > cap:
        used = cap
        reason = (
            f"capped: kappa {kappa:.4g} > T^2 = {cap:.4g}; with T = {T} steps curvatures below "
            "lambda_max / T^2 are not resolved by any schedule"
        )
    elif kappa < 1.0:
        used, reason = 1.0, f"floored: kappa {kappa:.4g} < 1 (cosine)"
    else:
        used, reason = kappa, f"kappa {kappa:.4g} is within [1, T^2 = {cap:.4g}]: phi = 2 kappa"
    phi = 2.0 * used
    return PhiSuggestion(phi, used, kappa, cap, T, describe_phi(phi).branch, mean_lr_factor(phi), reason)
