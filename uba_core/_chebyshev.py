r"""phi and the condition number: the Chebyshev link behind UBA.

Gradient descent on a quadratic whose Hessian spectrum lies in $[\mu, L]$
($\kappa = L / \mu$) leaves the error $e_T = \prod_t (I - \eta_t H) e_0$.
The step sizes minimising the worst case over the spectrum for $T$ steps are

$$
\eta_k^* = \frac{2}{(L + \mu) - (L - \mu)\cos\frac{(2k - 1)\pi}{2T}}, \quad k = 1..T,
$$

and UBA with $\varphi = 2\kappa$, $\mathrm{lr}_{peak} = 1/\mu$,
$\mathrm{lr}_{min} = 1/L$, evaluated at the half-integer points
$t = k - 1/2$, reproduces them exactly. This identity is the justification of the
closed form that the package can prove (the form is a reconstruction: the paper's
body could not be read); $\varphi = 2\kappa$ is our derivation from it, not a
relation quoted from the paper, whose abstract says only that $\varphi$ is
connected to the condition number.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy
from numpy.typing import NDArray

from uba_core._schedule import UBAConfig
from uba_core._validation import as_real_array, check_int, check_real

__all__ = [
    "PhiShape",
    "chebyshev_config",
    "chebyshev_residual_bound",
    "chebyshev_step_sizes",
    "condition_number_for_phi",
    "describe_phi",
    "mean_lr_factor",
    "mean_sq_lr_factor",
    "phi_for_condition_number",
    "worst_case_residual",
]


def phi_for_condition_number(kappa: float) -> float:
    r"""The phi whose UBA shape is the Chebyshev shape for condition number kappa.

    $\varphi = 2\kappa$ (the convex branch, $\varphi \ge 2$).

    Args:
        kappa: Condition number $L / \mu \ge 1$.

    Returns:
        $2\kappa$.

    Raises:
        ValueError: ``kappa`` < 1, NaN or infinite.

    Examples:
        >>> phi_for_condition_number(50.0)
        100.0
    """
    return 2.0 * check_real("kappa", kappa, minimum=1.0)


def condition_number_for_phi(phi: float) -> float:
    r"""The condition number whose Chebyshev shape phi reproduces.

    For $\varphi \ge 2$ (drops early, long low tail) this is
    $\kappa = \varphi / 2$. For $\varphi < 2$ the UBA shape is the point
    mirror of the $4/\varphi$ shape ($f_\varphi(p) = 1 - f_{4/\varphi}(1 - p)$),
    so it is the *mirrored* Chebyshev shape of $\kappa' = 2 / \varphi$: it holds
    the rate high and drops late. Both branches give $\kappa \ge 1$, and
    $\varphi = 2$ (cosine) is $\kappa = 1$. Use [`describe_phi`][uba_core.describe_phi] to
    learn which branch a phi is on.

    Args:
        phi: Shape parameter, > 0 and finite.

    Returns:
        $\varphi / 2$ if $\varphi \ge 2$, else $2 / \varphi$.

    Raises:
        ValueError: ``phi`` <= 0, NaN or infinite.

    Examples:
        >>> condition_number_for_phi(100.0), condition_number_for_phi(0.5)
        (50.0, 4.0)
    """
    phi = check_real("phi", phi, positive=True)
    return phi / 2.0 if phi >= 2.0 else 2.0 / phi


def mean_lr_factor(phi: float) -> float:
    r"""Mean of $f$ over the decay phase: $1 / (1 + \sqrt{\varphi / 2})$.

    The mean learning rate of the decay phase is
    $\mathrm{lr}_{min} + (\mathrm{lr}_{peak} - \mathrm{lr}_{min})$ times this.

    Examples:
        >>> mean_lr_factor(2.0), round(mean_lr_factor(8.0), 12)
        (0.5, 0.333333333333)
    """
    phi = check_real("phi", phi, positive=True)
    return 1.0 / (1.0 + math.sqrt(phi / 2.0))


def mean_sq_lr_factor(phi: float) -> float:
    r"""Mean of $f^2$ over the decay phase: $(2 + s) / (2 (1 + s)^2)$, $s = \sqrt{\varphi / 2}$.

    Examples:
        >>> mean_sq_lr_factor(2.0)
        0.375
    """
    s = math.sqrt(check_real("phi", phi, positive=True) / 2.0)
    return (2.0 + s) / (2.0 * (1.0 + s) ** 2)


@dataclasses.dataclass(frozen=True)
class PhiShape:
    """What a phi means: the condition number it encodes and the shape it draws.

    Attributes:
        phi: The shape parameter.
        kappa: [`condition_number_for_phi`][uba_core.condition_number_for_phi] of it.
        branch: ``"cosine"`` (phi = 2), ``"convex"`` (phi > 2: drops early, long
            low tail, Chebyshev for kappa = phi / 2) or ``"mirrored"`` (phi < 2: holds
            high, drops late, the mirror of the kappa = 2 / phi Chebyshev shape).
        mean_lr_factor: Mean of the shape over the decay (cosine: 0.5).
    """

    phi: float
    kappa: float
    branch: str
    mean_lr_factor: float


def describe_phi(phi: float) -> PhiShape:
    """Describe the shape a phi draws.

    Examples:
        >>> describe_phi(8.0).branch, describe_phi(8.0).kappa
        ('convex', 4.0)
    """
    phi = check_real("phi", phi, positive=True)
    branch = "cosine" if phi == 2.0 else ("convex" if phi > 2.0 else "mirrored")
    return PhiShape(phi, condition_number_for_phi(phi), branch, mean_lr_factor(phi))


def _check_spectrum(mu: Any, L: Any) -> tuple[float, float]:
    mu = check_real("mu", mu, positive=True)
    L = check_real("L", L, positive=True)
    if mu > L:
        raise ValueError(f"Argument `L` must be >= `mu`. Received: L={L!r}, mu={mu!r}.")
    return mu, L


def chebyshev_step_sizes(mu: float, L: float, total_steps: int) -> NDArray[numpy.float64]:
    r"""The minimax step sizes $\eta_k^*$, k = 1..T, for spectrum $[\mu, L]$.

    Args:
        mu: Smallest curvature, > 0.
        L: Largest curvature, >= mu.
        total_steps: Budget $T$ >= 1.

    Returns:
        float64 array of length T (their order does not change the residual).

    Examples:
        >>> chebyshev_step_sizes(1.0, 1.0, 3).tolist()
        [1.0, 1.0, 1.0]
    """
    mu, L = _check_spectrum(mu, L)
    T = check_int("total_steps", total_steps, minimum=1, integral_float=True)
    k = numpy.arange(1, T + 1, dtype=numpy.float64)
    return 2.0 / ((L + mu) - (L - mu) * numpy.cos((2.0 * k - 1.0) * numpy.pi / (2.0 * T)))


def chebyshev_config(mu: float, L: float, total_steps: int) -> UBAConfig:
    r"""The UBA config whose values at $t = k - 1/2$ are the Chebyshev step sizes.

    $\varphi = 2\kappa$, $\mathrm{lr}_{peak} = 1/\mu$,
    $\mathrm{lr}_{min} = 1/L$, no warmup.

    Examples:
        >>> cfg = chebyshev_config(1.0, 100.0, 20)
        >>> k = numpy.arange(1, 21)
        >>> bool(numpy.allclose(cfg(k - 0.5), chebyshev_step_sizes(1.0, 100.0, 20), rtol=1e-13))
        True
    """
    mu, L = _check_spectrum(mu, L)
    return UBAConfig(total_steps=total_steps, peak_lr=1.0 / mu, phi=2.0 * (L / mu), min_lr=1.0 / L)


def chebyshev_residual_bound(kappa: float, total_steps: int) -> float:
    r"""Worst-case residual of the Chebyshev steps: $2 / (\rho^T + \rho^{-T})$.

    $\rho = (\sqrt\kappa + 1) / (\sqrt\kappa - 1)$; this is
    $1 / T_T((\kappa + 1) / (\kappa - 1))$, the best any T-step gradient
    method with fixed step sizes can guarantee on $[\mu, \kappa\mu]$.

    Examples:
        >>> chebyshev_residual_bound(1.0, 5)
        0.0
    """
    kappa = check_real("kappa", kappa, minimum=1.0)
    T = check_int("total_steps", total_steps, minimum=1, integral_float=True)
    if kappa == 1.0:
        return 0.0
    r = math.sqrt(kappa)
    log_rho = math.log1p(2.0 / (r - 1.0))
    x = math.exp(-T * log_rho)  # rho^-T, in (0, 1): no overflow for any T
    return 2.0 * x / (1.0 + x * x)


def _log_abs_residual(lam: NDArray[numpy.float64], steps: NDArray[numpy.float64]) -> NDArray[numpy.float64]:
    out: NDArray[numpy.float64] = numpy.sum(numpy.log(numpy.abs(1.0 - numpy.multiply.outer(lam, steps))), axis=-1)
    return out


def worst_case_residual(step_sizes: Any, mu: float, L: float) -> float:
    r"""Exact $\max_{\lambda \in [\mu, L]} |\prod_k (1 - \eta_k \lambda)|$.

    Between two consecutive roots $1/\eta_k$ the function
    $\log|r(\lambda)| = \sum_k \log|1 - \eta_k \lambda|$ is strictly concave,
    so on each such piece of $[\mu, L]$ the maximum is at an end or at the
    single zero of the (decreasing) derivative
    $\sum_k \eta_k / (\eta_k \lambda - 1)$, found by bisection to machine
    precision. No grid is involved.

    Args:
        step_sizes: 1-D array of step sizes (any real values, finite).
        mu: Lower end of the spectrum, > 0.
        L: Upper end, >= mu.

    Returns:
        The worst-case contraction factor of the error norm.

    Examples:
        >>> steps = chebyshev_step_sizes(1.0, 10.0, 8)
        >>> abs(worst_case_residual(steps, 1.0, 10.0) - chebyshev_residual_bound(10.0, 8)) < 1e-12
        True
    """
    mu, L = _check_spectrum(mu, L)
    steps = as_real_array("step_sizes", step_sizes)
    if steps.ndim != 1 or steps.size == 0 or not numpy.all(numpy.isfinite(steps)):
        raise ValueError(
            "Argument `step_sizes` must be a non-empty 1-D array of finite numbers. "
            f"Received: step_sizes={step_sizes!r} (shape {steps.shape})."
        )
    roots = numpy.sort(1.0 / steps[steps > 0])
    inner = roots[(roots > mu) & (roots < L)]
    edges = numpy.concatenate([[mu], inner, [L]])
    lo, hi = edges[:-1].copy(), edges[1:].copy()

    def slope(lam: NDArray[numpy.float64]) -> NDArray[numpy.float64]:
        with numpy.errstate(divide="ignore"):
            out: NDArray[numpy.float64] = numpy.sum(steps / (numpy.multiply.outer(lam, steps) - 1.0), axis=-1)
        return out

    # The derivative decreases on every piece and is +inf just right of a root and
    # -inf just left of one; only the outer ends mu and L need evaluating.
    rising = numpy.ones(lo.size, dtype=bool)
    falling = numpy.ones(lo.size, dtype=bool)
    rising[0] = slope(lo[:1])[0] > 0
    falling[-1] = slope(hi[-1:])[0] < 0
    a, b = lo.copy(), hi.copy()
    for _ in range(120):
        mid = 0.5 * (a + b)
        up = slope(mid) > 0
        a, b = numpy.where(up, mid, a), numpy.where(up, b, mid)
    candidates = numpy.concatenate([[mu, L], numpy.where(rising & falling, 0.5 * (a + b), mu)])
    with numpy.errstate(divide="ignore"):
        return float(numpy.exp(numpy.max(_log_abs_residual(candidates, steps))))
