r"""Choosing phi and its peak lr for a budget: two loss models and one selection rule.

A model predicts the final training loss of any learning-rate sequence, with an
uncertainty; [`select_phi`][uba_core.experimental.select_phi] scores every candidate phi with it
and keeps phi = 2 (cosine) unless another candidate is predicted better by more than
``z`` standard errors of the difference.

- [`NoisyQuadratic`][uba_core.experimental.NoisyQuadratic], zero training runs: the noisy
  quadratic model on a Hessian spectrum (SLQ), a measured gradient-noise level and
  the initial loss gap. It also predicts how the best peak lr moves with phi.
- [`AnnealingLaw`][uba_core.experimental.AnnealingLaw]: the loss-curve law of Tissue et al. (2024),
  fitted to the (step, lr, loss) logs of short pilot runs. It predicts at the pilots'
  peak lr and cannot move it.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from typing import Any, Protocol

import numpy
from numpy.typing import ArrayLike, NDArray

from uba_core._schedule import UBAConfig
from uba_core._spectrum import Spectrum, gauss_quadrature
from uba_core._transfer import transfer_lr
from uba_core._validation import check_int, check_real

__all__ = [
    "CANDIDATE_PHIS",
    "AnnealingLaw",
    "GradientNoise",
    "NoisyQuadratic",
    "PhiCandidate",
    "PhiSelection",
    "consensus",
    "gradient_noise",
    "select_phi",
]

#: The phis [`select_phi`][uba_core.experimental.select_phi] scores by default (2 is cosine).
CANDIDATE_PHIS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)

#: Peak lrs the noisy quadratic model searches, in units of 1 / lambda_max: 2^-16 .. 2^2.
_LR_GRID = 2.0 ** numpy.arange(-16.0, 2.0 + 1e-9, 0.25)
#: The noise exponent gamma of s(lambda) = c lambda^gamma is fitted in this range.
_GAMMA_RANGE = (0.0, 2.0)
#: The annealing law's exponent alpha and momentum half-life (steps) are fitted on these grids.
_ALPHAS = numpy.geomspace(0.05, 2.0, 32)
_HALF_LIVES = 10
#: A pilot log needs at least this many points after its warmup.
MIN_LOG_POINTS = 5


FloatArray = NDArray[numpy.float64]


class LossModel(Protocol):
    """What [`select_phi`][uba_core.experimental.select_phi] needs of a model."""

    @property
    def method(self) -> str: ...
    @property
    def cost(self) -> str: ...
    def predict(self, lrs: ArrayLike) -> tuple[FloatArray, FloatArray]: ...


# --- gradient noise -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GradientNoise:
    r"""The minibatch gradient noise at one point of the loss, from ``batches`` gradients.

    Attributes:
        trace: $\mathrm{tr}\,\Sigma$, the expected squared distance of one minibatch
            gradient from their mean (the unbiased estimate over the batches).
        curvature_trace: $\mathrm{tr}(H\Sigma)$, the same deviations measured in the
            Hessian's norm; None when no Hessian-vector product was given.
        loss: Mean loss over the batches (the initial loss, at initialization).
        batches: Number of minibatch gradients.
        hvps: Hessian-vector products used.
    """

    trace: float
    curvature_trace: float | None
    loss: float
    batches: int
    hvps: int


def gradient_noise(gradients: ArrayLike, losses: ArrayLike, matvec: Any = None) -> GradientNoise:
    r"""Summarise minibatch gradients taken at one point as a [`GradientNoise`][uba_core.experimental.GradientNoise].

    ``uba_torch.estimate_gradient_noise`` and ``uba_jax.estimate_gradient_noise``
    call this with their models' gradients.

    Args:
        gradients: ``(batches, dim)`` array: one flattened minibatch gradient per row,
            at least 2 rows, all finite.
        losses: The ``batches`` minibatch losses (finite).
        matvec: Optional $v \mapsto Hv$ on float64 vectors of shape ``(dim,)``; with it,
            ``curvature_trace`` is measured (one product per batch).

    Raises:
        ValueError: malformed or non-finite gradients or losses; the message names the argument.

    Examples:
        >>> g = numpy.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
        >>> noise = gradient_noise(g, [1.0, 1.0, 1.0, 1.0], lambda v: numpy.array([1.0, 0.5]) * v)
        >>> round(noise.trace, 6), round(noise.curvature_trace, 6)
        (3.333333, 2.0)
    """
    g = numpy.asarray(gradients, dtype=numpy.float64)
    if g.ndim != 2 or g.shape[0] < 2 or g.shape[1] < 1 or not numpy.all(numpy.isfinite(g)):
        raise ValueError(
            "Argument `gradients` must be a finite (batches, dim) array with batches >= 2 and dim >= 1. "
            f"Received: shape {g.shape}" + ("" if numpy.all(numpy.isfinite(g)) else ", with non-finite entries") + "."
        )
    loss = numpy.asarray(losses, dtype=numpy.float64)
    if loss.shape != (g.shape[0],) or not numpy.all(numpy.isfinite(loss)):
        raise ValueError(
            f"Argument `losses` must hold {g.shape[0]} finite values, one per gradient. Received: losses={losses!r}."
        )
    dev = g - g.mean(axis=0)
    k = g.shape[0]
    trace = float(numpy.sum(dev * dev) / (k - 1))
    curvature = None
    if matvec is not None:
        curvature = float(sum(float(d @ numpy.asarray(matvec(d), dtype=numpy.float64)) for d in dev) / (k - 1))
    return GradientNoise(trace, curvature, float(loss.mean()), k, k if matvec is not None else 0)


def noise_of_batches(loss_and_grad: Any, batches: list[Any], matvec: Any) -> GradientNoise:
    """`gradient_noise` of ``loss_and_grad(batch) -> (loss, flat gradient)`` over ``batches``
    (at least 2), as the adapters' ``estimate_gradient_noise`` measure it."""
    if len(batches) < 2:
        raise ValueError(f"Argument `batches` must hold at least 2 minibatches. Received: {len(batches)}.")
    losses, grads = zip(*(loss_and_grad(b) for b in batches), strict=True)
    return gradient_noise(numpy.stack(grads), losses, matvec)


# --- model (a): the noisy quadratic model -------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class NoisyQuadratic:
    r"""The noisy quadratic model: SGD on $\frac12 \sum_i \lambda_i x_i^2$ with gradient noise.

    In each eigen-direction the second moment of the error obeys

    $$E[x_{t+1}^2] = (1 - \eta_t \lambda)^2 E[x_t^2] + \eta_t^2 s(\lambda),$$

    and the expected loss after the run is $\frac12 \sum_i \lambda_i E[x_T^2]$: exact
    for SGD on a quadratic with additive noise. The eigenvalues come as one or more
    quadratures (``nodes``, ``weights`` rows, e.g. one per SLQ probe); the prediction
    is their mean and its uncertainty their standard error. The start is isotropic,
    $E[x_0^2] = 2\,\mathrm{gap} / \mathrm{tr}H$, and the noise is
    $s(\lambda) = c\,\lambda^\gamma$ with $c$ from the measured $\mathrm{tr}\,\Sigma$
    ($\gamma = 0$: isotropic noise; $\gamma = 1$: noise shaped like the Hessian).
    Curvature below ``tol * lambda_max`` (flat and negative directions) adds no loss.

    The learning rates are those of plain SGD. Momentum $\beta$ scales the effective
    rate by about $1 / (1 - \beta)$; the model is used only for ratios of rates
    ([`select_phi`][uba_core.experimental.select_phi] reports the peak lr of each phi relative to that
    of cosine), which such a uniform rescaling leaves unchanged. Adam rescales each
    direction differently: for it the model is a rougher guide.

    Cost of a prediction: one pass over the ``T`` rates per schedule, vectorised over
    the nodes (``select_phi`` scores 73 peak lrs per phi: about ``T`` x 73 x nodes
    operations and memory for 73 x ``T`` rates per phi).

    Attributes:
        nodes: ``(quadratures, m)`` eigenvalues (curvature below the threshold removed:
            its weight is zero).
        weights: ``(quadratures, m)`` their weights (each row sums to at most 1).
        initial: $d \cdot E[x_0^2]$ per quadrature ($d$ the dimension, which cancels:
            the quadrature weights are densities).
        noise_scale: $d \cdot c$ per quadrature.
        noise_power: $\gamma$.
        lambda_max: Largest eigenvalue.
        method: Description for the report.
        cost: What the inputs cost.
    """

    nodes: FloatArray = dataclasses.field(repr=False)
    weights: FloatArray = dataclasses.field(repr=False)
    initial: FloatArray = dataclasses.field(repr=False)
    noise_scale: FloatArray = dataclasses.field(repr=False)
    noise_power: float
    lambda_max: float
    method: str
    cost: str

    @classmethod
    def from_spectrum(
        cls, spectrum: Spectrum, noise: GradientNoise, *, loss_gap: float | None = None
    ) -> NoisyQuadratic:
        r"""The model of a net: its SLQ spectrum and its minibatch gradient noise at initialization.

        $\gamma$ solves $\mathrm{tr}(H\Sigma) / \mathrm{tr}\,\Sigma =
        \sum w \lambda^{1+\gamma} / \sum w \lambda^\gamma$ over the pooled spectrum
        (within [0, 2]; without ``curvature_trace`` it is 1, noise shaped like the Hessian).

        Args:
            spectrum: From ``stochastic_lanczos_quadrature`` or an adapter's ``estimate_spectrum``.
            noise: From [`gradient_noise`][uba_core.experimental.gradient_noise] or an adapter's
                ``estimate_gradient_noise``, at the same point.
            loss_gap: Initial loss minus the lowest reachable loss (> 0); default
                ``noise.loss``, i.e. a lowest loss of 0 (cross-entropy, squared errors).
        """
        if not isinstance(spectrum, Spectrum):
            raise TypeError(f"Argument `spectrum` must be a uba_core.Spectrum. Received: {type(spectrum).__name__}.")
        if not isinstance(noise, GradientNoise):
            raise TypeError(f"Argument `noise` must be a uba_core.GradientNoise. Received: {type(noise).__name__}.")
        if loss_gap is None and not noise.loss > 0:
            raise ValueError(
                "Argument `loss_gap` must be given when `noise.loss` (its default, the initial loss) is not > 0. "
                f"Received: noise.loss={noise.loss!r}."
            )
        gap = check_real("loss_gap", noise.loss if loss_gap is None else loss_gap, positive=True)
        if not spectrum.lambda_max > 0:
            raise ValueError(
                f"Argument `spectrum` has no positive curvature (lambda_max = {spectrum.lambda_max!r}): "
                "the noisy quadratic model needs some."
            )
        rows = [gauss_quadrature(a, b) for a, b in spectrum.tridiagonals]
        width = max(x.size for x, _ in rows)
        nodes = numpy.zeros((len(rows), width))
        weights = numpy.zeros((len(rows), width))
        for i, (x, w) in enumerate(rows):
            nodes[i, : x.size], weights[i, : x.size] = x, w
        gamma = 1.0  # without a measured shape (or without noise), noise shaped like the Hessian
        if noise.curvature_trace is not None and noise.trace > 0:
            gamma = _noise_power(spectrum.nodes, spectrum.weights, noise.curvature_trace / noise.trace)
        bound = " (at the bound of [0, 2])" if gamma in _GAMMA_RANGE and noise.curvature_trace is not None else ""
        cost = (
            f"{spectrum.hvps} Hessian-vector products (spectrum), {noise.batches} minibatch gradients"
            f" and {noise.hvps} products (noise)"
        )
        method = (
            f"noisy quadratic model (its losses are above the minimum): SLQ spectrum ({spectrum.probes} probes), "
            "noise tr(Sigma) = "
            f"{noise.trace:.4g} shaped s(lambda) ~ lambda^{gamma:.2f}{bound}, loss gap {gap:.4g}"
        )
        return cls._build(nodes, weights, spectrum.tol, gap, noise.trace, gamma, method, cost)

    @classmethod
    def from_eigenvalues(
        cls, eigenvalues: ArrayLike, *, loss_gap: float, noise_trace: float, noise_power: float = 0.0
    ) -> NoisyQuadratic:
        r"""The model of a known quadratic: all its eigenvalues, one quadrature of equal weights.

        Args:
            eigenvalues: The Hessian's eigenvalues (finite, the largest > 0).
            loss_gap: Initial loss minus the minimum (> 0).
            noise_trace: $\mathrm{tr}\,\Sigma$ of one gradient's noise (>= 0).
            noise_power: $\gamma$ of $s(\lambda) = c \lambda^\gamma$ (0: isotropic).

        Examples:
            >>> model = NoisyQuadratic.from_eigenvalues([1.0], loss_gap=0.5, noise_trace=0.0)
            >>> float(model.predict([[0.5, 0.5]])[0][0])  # x halves twice: 0.5 / 16
            0.03125
        """
        lam = numpy.asarray(eigenvalues, dtype=numpy.float64).ravel()
        if lam.size == 0 or not numpy.all(numpy.isfinite(lam)) or not lam.max() > 0:
            raise ValueError(
                "Argument `eigenvalues` must be finite with a positive largest value. "
                f"Received: eigenvalues={eigenvalues!r}."
            )
        gap = check_real("loss_gap", loss_gap, positive=True)
        trace = check_real("noise_trace", noise_trace, minimum=0.0)
        gamma = check_real("noise_power", noise_power, minimum=_GAMMA_RANGE[0], maximum=_GAMMA_RANGE[1])
        weights = numpy.full((1, lam.size), 1.0 / lam.size)
        method = (
            f"noisy quadratic model (its losses are above the minimum): {lam.size} known eigenvalues, "
            f"noise tr(Sigma) = {trace:.4g}"
        )
        return cls._build(lam[None, :], weights, 0.0, gap, trace, gamma, method, "none (known spectrum)")

    @classmethod
    def _build(
        cls,
        nodes: FloatArray,
        weights: FloatArray,
        tol: float,
        gap: float,
        trace: float,
        gamma: float,
        method: str,
        cost: str,
    ) -> NoisyQuadratic:
        lambda_max = float(nodes.max())
        positive = numpy.clip(nodes, 0.0, None)
        # Per quadrature; the dimension cancels: loss = sum w lambda m / 2 per unit dimension.
        initial = 2.0 * gap / numpy.sum(weights * positive, axis=1)
        # The noise lies on the positive curvature (flat directions add no loss and take none).
        noise_mass = numpy.sum(weights * numpy.where(positive > 0, positive, 1.0) ** gamma * (positive > 0), axis=1)
        noise_scale = trace / noise_mass
        keep = nodes > tol * lambda_max
        nodes = numpy.where(keep, nodes, 0.0)
        weights = numpy.where(keep, weights, 0.0)
        for array in (nodes, weights, initial, noise_scale):
            array.flags.writeable = False
        return cls(nodes, weights, initial, noise_scale, float(gamma), lambda_max, method, cost)

    def predict(self, lrs: ArrayLike) -> tuple[FloatArray, FloatArray]:
        r"""Expected final loss (above the minimum) of each learning-rate sequence, with its standard error.

        Args:
            lrs: ``(schedules, T)`` rates $\eta_0 .. \eta_{T-1}$ (or one sequence).

        Returns:
            ``(mean, stderr)``, one value per schedule: the mean over the quadratures and
            its standard error (0 with one quadrature). A diverging sequence predicts inf.
        """
        per = self.predict_each(lrs)
        err = _stderr(per)
        return per.mean(axis=0), numpy.where(numpy.isfinite(err), err, numpy.inf)

    def predict_each(self, lrs: ArrayLike) -> FloatArray:
        """The prediction of every quadrature: ``(quadratures, schedules)``."""
        eta = _lr_rows(lrs)
        lam = self.nodes[None, :, :]  # (1, q, m)
        noise = self.noise_scale[None, :, None] * numpy.where(lam > 0, lam, 0.0) ** self.noise_power
        m = numpy.broadcast_to(self.initial[None, :, None], (eta.shape[0], *self.nodes.shape)).copy()
        with numpy.errstate(over="ignore", invalid="ignore"):
            for t in range(eta.shape[1]):
                e = eta[:, t, None, None]
                m = (1.0 - e * lam) ** 2 * m + e * e * noise
            loss = 0.5 * numpy.sum(self.weights[None] * lam * m, axis=2)  # (schedules, q)
        return numpy.where(numpy.isfinite(loss), loss, numpy.inf).T


def _stderr(values: FloatArray) -> FloatArray:
    """Standard error of the mean over the first axis (the quadratures); 0 with one."""
    q = values.shape[0]
    return values.std(axis=0, ddof=1) / math.sqrt(q) if q > 1 else numpy.zeros(values.shape[1:])


def _noise_power(nodes: FloatArray, weights: FloatArray, ratio: float) -> float:
    """gamma in _GAMMA_RANGE with sum w l^(1+g) / sum w l^g = ratio (bisection; the ratio grows with g)."""
    lam = numpy.clip(nodes, 0.0, None)
    w = numpy.where(lam > 0, weights, 0.0)
    lam = numpy.where(lam > 0, lam, 1.0)

    def rho(g: float) -> float:
        return float(numpy.sum(w * lam ** (1 + g)) / numpy.sum(w * lam**g))

    lo, hi = _GAMMA_RANGE
    if not math.isfinite(ratio) or ratio <= rho(lo):
        return lo
    if ratio >= rho(hi):
        return hi
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rho(mid) < ratio else (lo, mid)
    return 0.5 * (lo + hi)


def _lr_rows(lrs: ArrayLike) -> FloatArray:
    eta = numpy.asarray(lrs, dtype=numpy.float64)
    if eta.ndim == 1:
        eta = eta[None, :]
    if eta.ndim != 2 or eta.shape[1] < 1 or not numpy.all(numpy.isfinite(eta)) or numpy.any(eta < 0):
        raise ValueError(
            "Argument `lrs` must be a (schedules, steps) array of finite rates >= 0 with steps >= 1. "
            f"Received: shape {eta.shape}."
        )
    return eta


# --- model (b): the annealing law ---------------------------------------------------------


def _areas(lrs: FloatArray, decay: float) -> tuple[FloatArray, FloatArray]:
    r"""$S_1$ and $S_2$ after 0 .. n updates (length n + 1) of the rates ``lrs``."""
    s1 = numpy.concatenate([[0.0], numpy.cumsum(lrs)])
    drops = numpy.concatenate([[0.0], numpy.clip(lrs[:-1] - lrs[1:], 0.0, None)])
    m = numpy.empty_like(drops)
    acc = 0.0
    for i, d in enumerate(drops):
        acc = decay * acc + d
        m[i] = acc
    s2 = numpy.concatenate([[0.0], numpy.cumsum(m)])
    return s1, s2


def warmup_of(steps: FloatArray, lrs: FloatArray) -> int:
    """The warmup of a log: the steps before its rate first comes within 1e-6 (relative) of its largest."""
    top = float(lrs.max())
    return int(steps[int(numpy.argmax(lrs >= top * (1 - 1e-6)))])


def _check_log(i: int, log: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(steps, lrs, losses) of ``logs[i]`` given as (lrs, losses) or (steps, lrs, losses)."""
    name = f"logs[{i}]"
    if not isinstance(log, (tuple, list)) or len(log) not in (2, 3):
        raise ValueError(
            f"Argument `{name}` must be (lrs, losses) or (steps, lrs, losses). Received: {type(log).__name__}."
        )
    arrays = [numpy.asarray(a, dtype=numpy.float64) for a in log]
    if len(arrays) == 2:
        arrays.insert(0, numpy.arange(arrays[0].size, dtype=numpy.float64))
    steps, lrs, losses = arrays
    parts = ("steps", "lrs", "losses")
    for part, a in zip(parts, arrays, strict=True):
        if a.ndim != 1 or a.size != steps.size:
            raise ValueError(
                f"Argument `{name}` must hold 1-D {', '.join(parts)} of one length. Received: {part} {a.shape}."
            )
        if not numpy.all(numpy.isfinite(a)):
            bad = int(numpy.flatnonzero(~numpy.isfinite(a))[0])
            raise ValueError(f"Argument `{name}` must hold finite {part}. Received: {part}[{bad}] = {float(a[bad])!r}.")
    bad_steps = numpy.flatnonzero((steps < 0) | (steps != numpy.round(steps)) | (numpy.diff(steps, prepend=-1) <= 0))
    if bad_steps.size:
        k = int(bad_steps[0])
        raise ValueError(
            f"Argument `{name}`: steps must be integers >= 0, strictly increasing. Received: "
            + (f"steps[{k - 1}] = {float(steps[k - 1])!r}, " if k else "")
            + f"steps[{k}] = {float(steps[k])!r}."
        )
    if numpy.any(lrs < 0):
        raise ValueError(f"Argument `{name}`: lrs must be >= 0. Received: min {float(lrs.min())!r}.")
    return steps, lrs, losses


@dataclasses.dataclass(frozen=True, eq=False)
class AnnealingLaw:
    r"""The loss-curve law of Tissue et al. (2024), "Scaling law with learning rate annealing":

    $$L(t) = L_0 + A\,S_1(t)^{-\alpha} - C\,S_2(t),$$

    with $S_1(t) = \sum_{i<t} \eta_i$ the area under the rates before step $t$ and
    $S_2(t) = \sum_{i<t} m_i$, $m_i = \lambda m_{i-1} + \max(\eta_{i-1} - \eta_i, 0)$
    the annealing area with momentum $\lambda$ (rises, as in warmup, count 0).

    [`fit`][uba_core.experimental.AnnealingLaw.fit] fits it to pilot logs: for every $\alpha$ of a
    log grid (0.05 .. 2) and momentum half-life $h$ (0, then 1 step .. the longest log,
    log-spaced; $\lambda = 2^{-1/h}$), $L_0$, $A \ge 0$, $C \ge 0$ by least squares
    on relative residuals (when every loss is positive); the best pair is then refined
    by a finer grid and golden-section searches around it, which may step a little
    outside the grids (an $\alpha$ above 2, say). $\lambda$ is the law's own decay, not
    your optimizer's momentum. The uncertainty of a prediction is the
    least-squares standard error of $(L_0, A, C)$ at that pair, with the residual
    variance inflated by the residuals' lag-1 autocorrelation ($\alpha$ and $\lambda$
    are taken as known: the error is a lower bound).

    Attributes:
        L0, A, alpha, C, decay: The law's parameters ($\lambda$ = ``decay``).
        covariance: 3 x 3 covariance of ``(L0, A, C)`` (rows and columns of a
            coefficient fixed at 0 are 0).
        residual_std: Standard deviation of the fit's residuals.
        points: Loss points fitted.
        method: Description for the report.
        cost: The pilots' steps, in words.
        pilot_steps: The pilots' steps (the last logged step + 1 of each log, summed).
        peak_lr: The largest rate in the logs (every log peaks there): the law predicts
            at this peak lr.
        pilot_length: The longest log's steps: predictions for a budget more than
            ``MAX_EXTRAPOLATION`` times longer are not trusted.
        nonnegative: Every fitted loss is >= 0 (a loss that cannot go below 0).
        tail_error: The model's own error: the law is fitted again without the last
            quarter of each log, and this is the root mean square over the logs of its
            mean error on that held-out tail (inf when that fit is impossible).
            [`select_phi`][uba_core.experimental.select_phi] adds it to the standard
            error of every predicted difference.
    """

    L0: float
    A: float
    alpha: float
    C: float
    decay: float
    covariance: FloatArray
    residual_std: float
    points: int
    method: str
    cost: str
    pilot_steps: int
    peak_lr: float
    pilot_length: int
    nonnegative: bool
    tail_error: float

    @classmethod
    def fit(cls, logs: Sequence[Any], *, skip_steps: int | Sequence[int] | None = None) -> AnnealingLaw:
        r"""Fit the law to pilot logs (any framework: plain arrays).

        Args:
            logs: One or more logs, each ``(lrs, losses)`` with one entry per step from
                step 0, or ``(steps, lrs, losses)`` for logs that skip steps (the rate
                between logged steps is interpolated linearly). ``losses[k]`` is the
                training loss measured before the update at ``steps[k]`` with rate
                ``lrs[k]``. The rates must anneal in at least one log, or $C$ is unknown.
            skip_steps: Steps at the start of each log left out of the fit; one value for
                all logs or one per log. Default: each log's warmup, the steps before its
                rate first comes within $10^{-6}$ (relative) of its largest rate
                (``uba select-phi`` does the same). Points before the first update with a
                positive rate are always left out ($S_1 = 0$: the law is undefined there).

        Raises:
            ValueError: a log is malformed, non-finite, too short (fewer than
                5 points after ``skip_steps``), has a constant loss,
                or no log anneals; the message names the argument.

        Examples:
            >>> const = numpy.full(100, 0.1)
            >>> cosine = 0.05 * (1 + numpy.cos(numpy.pi * numpy.arange(100) / 100))
            >>> def law(lrs):  # L0 = 2, A = 3, alpha = 0.5, C = 1, no momentum: S2 = the drop so far
            ...     s1 = numpy.r_[0.0, numpy.cumsum(lrs)][:-1]
            ...     before = numpy.r_[lrs[0], lrs[:-1]]  # the rate of the last update before each point
            ...     return 2.0 + 3.0 * numpy.r_[1.0, s1[1:]] ** -0.5 - 1.0 * (lrs[0] - before)
            >>> fit = AnnealingLaw.fit([(const, law(const)), (cosine, law(cosine))])
            >>> round(fit.L0, 3), round(fit.A, 3), round(fit.alpha, 3), round(fit.C, 3), fit.decay
            (2.0, 3.0, 0.5, 1.0, 0.0)
        """
        if isinstance(logs, (str, bytes)) or not isinstance(logs, Sequence) or not logs:
            raise ValueError(f"Argument `logs` must be a non-empty sequence of pilot logs. Received: logs={logs!r}.")
        parsed = [_check_log(i, log) for i, log in enumerate(logs)]
        if skip_steps is None:
            skip_steps = [warmup_of(steps, lrs) for steps, lrs, _ in parsed]
        one = isinstance(skip_steps, str) or numpy.ndim(skip_steps) == 0  # else one per log (a list or an array)
        given: list[Any] = [skip_steps] * len(logs) if one else list(numpy.asarray(skip_steps).tolist())
        if len(given) != len(logs):
            raise ValueError(
                f"Argument `skip_steps` must be one integer or one per log ({len(logs)}). Received: {skip_steps!r}."
            )
        skips = [check_int("skip_steps", s, minimum=0) for s in given]
        annealing = False
        for i, (steps, lrs, _) in enumerate(parsed):  # the law needs S1 > 0: at least one update with rate > 0
            positive = numpy.flatnonzero(lrs > 0)
            first = int(steps[positive[0]]) + 1 if positive.size else int(steps[-1]) + 1
            skips[i] = max(skips[i], first)
        for i, ((steps, lrs, losses), skip) in enumerate(zip(parsed, skips, strict=True)):
            used = steps >= skip
            if used.sum() < MIN_LOG_POINTS:
                raise ValueError(
                    f"Argument `logs[{i}]` is too short: {int(used.sum())} of its {steps.size} points are at or after "
                    f"step {skip} (after the skipped steps and the first update), at least {MIN_LOG_POINTS} needed."
                )
            if numpy.ptp(losses[used]) == 0:
                raise ValueError(
                    f"Argument `logs[{i}]` has a constant loss ({float(losses[used][0])!r}): "
                    "it says nothing about the law."
                )
            annealing |= bool(numpy.any(numpy.diff(lrs[used]) < 0))
        peaks = [float(lrs.max()) for _, lrs, _ in parsed]
        for i, top in enumerate(peaks):
            if not math.isclose(top, peaks[0], rel_tol=1e-6):
                raise ValueError(
                    f"Argument `logs` must come from pilots at one peak lr (the law predicts at that lr): logs[0] "
                    f"peaks at {peaks[0]!r} and logs[{i}] at {top!r}. Fit one law per peak lr."
                )
        if not annealing:
            raise ValueError(
                "Argument `logs` must contain a run whose rate decays (e.g. a cosine pilot): with constant or rising "
                f"rates only, the annealing term of the law cannot be fitted. Received: {len(logs)} log(s) whose rates "
                "never fall after skip_steps."
            )
        L0, A, alpha, C, decay, cov, resid_std, n = _fit_law(parsed, skips)
        tail_error = _tail_error(parsed, skips)
        pilot = sum(int(s[-1]) + 1 for s, _, _ in parsed)
        peak = max(float(lrs.max()) for _, lrs, _ in parsed)
        method = (
            f"annealing law (Tissue et al. 2024) fitted to {len(logs)} pilot log(s) with peak lr {peak:.4g}, "
            f"{n} points (skipped steps: {', '.join(map(str, skips))}): L0 = {L0:.4g}, A = {A:.4g}, "
            f"alpha = {alpha:.3g}, C = {C:.4g}, annealing decay lambda = {decay:.4g}"
        )
        return cls(
            L0, A, alpha, C, decay, cov, resid_std, n, method,
            f"{pilot} pilot steps", pilot, peak, max(int(s[-1]) + 1 for s, _, _ in parsed),
            bool(all(numpy.all(loss >= 0) for _, _, loss in parsed)), tail_error,
        )  # fmt: skip

    def curve(self, lrs: ArrayLike) -> FloatArray:
        """The law's loss after each update 1 .. T (length T) of one rate sequence."""
        rows = _lr_rows(lrs)
        if rows.shape[0] != 1:
            raise ValueError(f"Argument `lrs` must be one rate sequence. Received: {rows.shape[0]} rows.")
        eta = rows[0]
        s1, s2 = _areas(eta, self.decay)
        with numpy.errstate(divide="ignore"):
            return numpy.asarray(self.L0 + self.A * s1[1:] ** -self.alpha - self.C * s2[1:])

    def predict(self, lrs: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """The law's final loss of each rate sequence (after its last update), with its standard error.

        Args:
            lrs: ``(schedules, T)`` rates (or one sequence).

        Returns:
            ``(mean, stderr)``, one value per schedule.
        """
        return self._predict_rows(self.features(lrs))

    def _predict_rows(self, rows: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``predict`` from the rows of ``features``."""
        return rows @ numpy.array([self.L0, self.A, self.C]), self._stderr_of(rows)

    def _stderr_of(self, rows: FloatArray) -> FloatArray:
        """The standard error of ``rows @ (L0, A, C)`` (rows of ``features``, or differences of them)."""
        form = numpy.einsum("ij,jk,ik->i", rows, self.covariance, rows)
        return numpy.asarray(numpy.sqrt(form.clip(0.0)), dtype=numpy.float64)

    def features(self, lrs: ArrayLike) -> FloatArray:
        """``(schedules, 3)`` rows ``(1, S1^-alpha, -S2)`` at the end of each sequence."""
        eta = _lr_rows(lrs)
        out = numpy.empty((eta.shape[0], 3))
        for i, row in enumerate(eta):
            s1, s2 = _areas(row, self.decay)
            out[i] = (1.0, s1[-1] ** -self.alpha if s1[-1] > 0 else numpy.inf, -s2[-1])
        return out


def _fit_law(parsed: list[Any], skips: list[int]) -> tuple[float, float, float, float, float, FloatArray, float, int]:
    """(L0, A, alpha, C, decay, covariance, residual std, points) of the law fitted to checked logs."""
    longest = max(int(s[-1]) + 1 for s, _, _ in parsed)
    half_lives = numpy.concatenate([[0.0], numpy.geomspace(1.0, max(longest, 2), _HALF_LIVES)])
    grids = []
    for steps, lrs, losses in parsed:
        full = numpy.interp(numpy.arange(int(steps[-1]) + 1), steps, lrs)
        grids.append((steps.astype(int), full, losses))
    ys = numpy.concatenate([loss[s >= k] for (s, _, loss), k in zip(grids, skips, strict=True)])
    # Relative residuals when every loss is positive: the fit follows the late, low part
    # of a curve (what decides the final loss) as closely as its early transient.
    sw = 1.0 / ys if numpy.all(ys > 0) else numpy.ones_like(ys)

    def at(alpha: float, h: float) -> tuple[float, float, float, FloatArray, FloatArray]:
        decay = 0.0 if h == 0 else 0.5 ** (1.0 / h)
        coef, sse, free = _nonneg_lstsq(_design(grids, skips, alpha, decay) * sw[:, None], ys * sw)
        return (sse, alpha, decay, coef, free)

    def best_of(alphas: Any, lives: Any) -> tuple[tuple[float, float, float, FloatArray, FloatArray], float]:
        fits = [(at(float(a), float(h)), float(h)) for h in lives for a in alphas]
        return min(fits, key=lambda f: f[0][0])

    best, h = best_of(_ALPHAS, half_lives)
    # Refine around the best grid point: one grid cell either side, 9 x 9 points.
    i, j = int(numpy.argmin(abs(_ALPHAS - best[1]))), int(numpy.argmin(abs(half_lives - h)))
    a_lo, a_hi = _ALPHAS[max(i - 1, 0)], _ALPHAS[min(i + 1, _ALPHAS.size - 1)]
    h_lo, h_hi = half_lives[max(j - 1, 1)], half_lives[min(j + 1, half_lives.size - 1)]
    lives = numpy.geomspace(h_lo, h_hi, 9) if j > 0 else numpy.concatenate([[0.0], numpy.geomspace(h_lo, h_hi, 8)])
    fine, h = best_of(numpy.geomspace(a_lo, a_hi, 9), lives)
    best = min(best, fine, key=lambda f: f[0])
    # Then alpha, the half-life and alpha again by golden-section search (log scale).
    a = math.log(best[1])
    a = _golden(lambda x: at(math.exp(x), h)[0], a - 0.15, a + 0.15)
    if h > 0:
        h = math.exp(_golden(lambda x: at(math.exp(a), math.exp(x))[0], math.log(h) - 0.3, math.log(h) + 0.3))
    a = _golden(lambda x: at(math.exp(x), h)[0], a - 0.05, a + 0.05)
    best = min(best, at(math.exp(a), h), key=lambda f: f[0])
    sse, alpha, decay, coef, free = best
    L0, A, C = (float(v) for v in coef)
    x = _design(grids, skips, alpha, decay) * sw[:, None]
    n, p = ys.size, int(sum(free))
    resid = ys * sw - x @ numpy.array([L0, A, C])
    var = sse / max(n - p - 2, 1)
    rho = float(numpy.corrcoef(resid[:-1], resid[1:])[0, 1]) if n > 3 and numpy.std(resid) > 0 else 0.0
    rho = max(rho, 0.0) if math.isfinite(rho) else 0.0
    var *= (1 + rho) / (1 - rho) if rho < 0.99 else 199.0
    cov = numpy.zeros((3, 3))
    idx = numpy.flatnonzero(free)
    xf = x[:, idx]
    cov[numpy.ix_(idx, idx)] = var * numpy.linalg.pinv(xf.T @ xf)
    cov.flags.writeable = False
    return L0, A, alpha, C, decay, cov, float(numpy.std(resid / sw)), n


def _tail_error(parsed: list[Any], skips: list[int]) -> float:
    """The law refitted without each log's last quarter: the RMS over the logs of its mean
    error on that held-out tail (inf when the shortened logs cannot be fitted)."""
    heads, tails = [], []
    for steps, lrs, losses in parsed:
        cut = 0.75 * (steps[-1] + 1)
        keep = steps < cut
        heads.append((steps[keep], lrs[keep], losses[keep]))
        tails.append((steps, lrs, losses, ~keep))
    try:
        if not any(numpy.any(numpy.diff(lrs[s >= k]) < 0) for (s, lrs, _), k in zip(heads, skips, strict=True)):
            return math.inf
        if any(int((s >= k).sum()) < MIN_LOG_POINTS for (s, _, _), k in zip(heads, skips, strict=True)):
            return math.inf
        L0, A, alpha, C, decay, *_ = _fit_law(heads, skips)
    except (ValueError, numpy.linalg.LinAlgError):
        return math.inf
    errors = []
    for steps, lrs, losses, held in tails:
        if not numpy.any(held):
            continue
        full = numpy.interp(numpy.arange(int(steps[-1]) + 1), steps, lrs)
        s1, s2 = _areas(full, decay)
        at = steps[held].astype(int)
        with numpy.errstate(divide="ignore"):
            predicted = L0 + A * s1[at] ** -alpha - C * s2[at]
        errors.append(float(numpy.mean(predicted - losses[held])))
    return math.sqrt(statistics.fmean(e * e for e in errors)) if errors else math.inf


def _design(grids: list[Any], skips: list[int], alpha: float, decay: float) -> FloatArray:
    rows = []
    for (s, full, _), k in zip(grids, skips, strict=True):
        s1, s2 = _areas(full, decay)
        sel = s[s >= k]
        rows.append(numpy.stack([numpy.ones(sel.size), s1[sel] ** -alpha, -s2[sel]], axis=1))
    return numpy.concatenate(rows)


def _golden(f: Any, lo: float, hi: float, iterations: int = 40) -> float:
    """The minimiser of ``f`` on [lo, hi] by golden-section search."""
    ratio = (math.sqrt(5) - 1) / 2
    c, d = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fc, fd = f(c), f(d)
    for _ in range(iterations):
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - ratio * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + ratio * (hi - lo)
            fd = f(d)
    return (lo + hi) / 2


def _nonneg_lstsq(x: FloatArray, y: FloatArray) -> tuple[FloatArray, float, FloatArray]:
    """Least squares with the 2nd and 3rd coefficients >= 0 (the 4 active sets tried)."""
    best: tuple[FloatArray, float, FloatArray] | None = None
    for free in ([True, True, True], [True, False, True], [True, True, False], [True, False, False]):
        mask = numpy.array(free)
        coef = numpy.zeros(3)
        coef[mask] = numpy.linalg.lstsq(x[:, mask], y, rcond=None)[0]
        if numpy.any(coef[1:] < 0):
            continue
        sse = float(numpy.sum((y - x @ coef) ** 2))
        if best is None or sse < best[1]:
            best = (coef, sse, mask)
    assert best is not None  # the constant-only fit is always feasible
    return best


# --- the selection ------------------------------------------------------------------------

#: A fitted law is not trusted for a budget more than this many times its longest pilot.
MAX_EXTRAPOLATION = 4.2
#: The noisy quadratic model is not trusted when its own best cosine peak lr is more than
#: this factor from the user's (it then does not describe the training).
MAX_LR_MISMATCH = 2.0


@dataclasses.dataclass(frozen=True)
class PhiCandidate:
    """One candidate of a [`PhiSelection`][uba_core.experimental.PhiSelection].

    Attributes:
        phi: The candidate's phi.
        lr_factor: Its peak lr relative to yours: [`transfer_lr`][uba_core.transfer_lr]
            from your (cosine-tuned) schedule, with its guard (never above 1 unless
            ``allow_increase``).
        loss: The predicted final loss.
        stderr: Its standard error.
        model_lr_factor: The noisy quadratic model's own best peak lr for this phi over
            its best for cosine (a diagnostic, never applied); nan for the annealing law.
    """

    phi: float
    lr_factor: float
    loss: float
    stderr: float
    model_lr_factor: float = math.nan


@dataclasses.dataclass(frozen=True)
class PhiSelection:
    """The report of [`select_phi`][uba_core.experimental.select_phi].

    Attributes:
        phi: The chosen phi (2 on a fallback).
        lr_factor: Multiply your current peak lr by this: the lr transfer of
            [`transfer_lr`][uba_core.transfer_lr], guarded (1 for phi = 2).
        peak_lr: ``lr_factor`` times the peak lr you gave.
        candidates: Every candidate's prediction.
        fallback: True when phi = 2 was kept although another candidate was predicted
            better: the gain was within ``z`` standard errors of the difference (model
            error included), or the model failed a validity check (``problems``).
        reason: Why this phi, in words.
        method: The model, with its fitted numbers.
        cost: What the model's inputs cost.
        total_steps: The budget T.
        problems: The validity checks the model failed (empty when it passed them all);
            any problem means phi = 2.
        tuned_lr: The peak lr you gave (tuned for cosine).
    """

    phi: float
    lr_factor: float
    peak_lr: float
    candidates: tuple[PhiCandidate, ...]
    fallback: bool
    reason: str
    method: str
    cost: str
    total_steps: int
    problems: tuple[str, ...] = ()
    tuned_lr: float = math.nan

    def __str__(self) -> str:
        lines = [
            f"phi for a budget of {self.total_steps} steps: phi = {self.phi:g}, peak lr x {self.lr_factor:.3g}"
            f" = {self.peak_lr:.4g}" + (" (fallback to cosine)" if self.fallback else ""),
            f"  reason    {self.reason}",
            f"  method    {self.method}",
            f"  cost      {self.cost}",
        ]
        lines += [f"  problem   {p}" for p in self.problems]
        lines += [
            "  caution   experimental: on the benchmark cells no model met its bar (docs: Choosing phi); "
            "when unsure, keep phi = 2",
            "  candidates (predicted final loss ± standard error; lr x: the transferred peak lr):",
        ]
        for c in self.candidates:
            mark = " <" if c.phi == self.phi else ""
            model = f"  (model's own lr x {c.model_lr_factor:.3g})" if math.isfinite(c.model_lr_factor) else ""
            lines.append(f"    phi = {c.phi:<6g} lr x {c.lr_factor:<7.3g} {c.loss:.6g} ± {c.stderr:.2g}{model}{mark}")
        return "\n".join(lines)


def check_plan(
    total_steps: Any, peak_lr: Any, warmup_steps: Any, min_lr: Any, z: Any, names: dict[str, str] | None = None
) -> tuple[int, float, int, float, float]:
    """The budget, peak lr, warmup, floor and ``z`` of [`select_phi`][uba_core.experimental.select_phi],
    checked; errors name each argument as ``names`` spells it (``uba select-phi`` passes its flags)."""
    n = {k: k for k in ("total_steps", "peak_lr", "warmup_steps", "min_lr", "z")} | (names or {})
    total = check_int(n["total_steps"], total_steps, minimum=2)
    peak = check_real(n["peak_lr"], peak_lr, positive=True)
    warmup = check_int(n["warmup_steps"], warmup_steps, minimum=0)
    if warmup >= total:
        raise ValueError(
            f"Argument `{n['warmup_steps']}` must be < {n['total_steps']} = {total}. "
            f"Received: {n['warmup_steps']}={warmup}."
        )
    floor = check_real(n["min_lr"], min_lr, minimum=0.0)
    if floor >= peak:
        raise ValueError(
            f"Argument `{n['min_lr']}` must be < {n['peak_lr']} = {peak!r}. Received: {n['min_lr']}={floor!r}."
        )
    return total, peak, warmup, floor, check_real(n["z"], z, minimum=0.0)


def law_problems(law: AnnealingLaw, total_steps: int, predicted: FloatArray) -> list[str]:
    """Why a fitted annealing law is not an answer for ``total_steps`` (its ``predicted`` final
    losses of the candidates): an impossible fit, no annealing term, or too long an extrapolation."""
    out = []
    if law.nonnegative and law.L0 < 0:
        out.append(f"the fitted floor L0 = {law.L0:.4g} is negative for a loss that is never below 0")
    if law.nonnegative and numpy.any(predicted < 0):
        out.append(f"it predicts a loss below 0 ({float(predicted.min()):.4g})")
    if numpy.any(predicted < law.L0):
        out.append(f"it predicts a loss below its own floor L0 = {law.L0:.4g} ({float(predicted.min()):.4g})")
    if not law.C > 0:
        out.append("its annealing term is zero (C = 0): it can only reward lr area, so it favours the smallest phi")
    stretch = total_steps / law.pilot_length
    if stretch > MAX_EXTRAPOLATION:
        out.append(
            f"the budget is {stretch:.3g} times the longest pilot ({law.pilot_length} steps): more than "
            f"{MAX_EXTRAPOLATION:g} times is an extrapolation the law is not trusted for"
        )
    if not math.isfinite(law.tail_error):
        out.append("the law could not be refitted without the pilots' last quarter, so its error is unknown")
    return out


def select_phi(
    model: LossModel,
    total_steps: int,
    *,
    peak_lr: float,
    warmup_steps: int = 0,
    min_lr: float = 0.0,
    candidates: Sequence[float] = CANDIDATE_PHIS,
    z: float = 2.0,
    allow_increase: bool = False,
) -> PhiSelection:
    r"""Choose phi for a budget of ``total_steps`` from a loss model (experimental).

    Every candidate phi is scored by ``model.predict`` on its UBA curve (``warmup_steps``,
    ``min_lr``):

    - [`NoisyQuadratic`][uba_core.experimental.NoisyQuadratic]: each phi at the model's
      own best peak lr (a log grid, $2^{-16} .. 2^2$ times $1/\lambda_{max}$, in
      quarter octaves). That lr is a diagnostic (``model_lr_factor``), never the answer.
    - [`AnnealingLaw`][uba_core.experimental.AnnealingLaw]: each phi at the peak lr it
      would be run at: the pilots' ``peak_lr`` times the transfer factor.

    The answer's peak lr is always [`transfer_lr`][uba_core.transfer_lr] from cosine at
    your ``peak_lr`` (taken to be tuned for cosine), with its guard: no factor above 1
    unless ``allow_increase``.

    Validity comes before confidence: phi = 2 is kept, and ``problems`` says why, when
    the noisy quadratic model's own best cosine lr is more than ``MAX_LR_MISMATCH`` (2)
    times from yours, or when a fitted law has a negative floor for a non-negative
    loss, predicts a loss below 0 or below its floor, has no annealing term, or is
    asked for a budget more than ``MAX_EXTRAPOLATION`` (4.2) times its longest pilot.

    Otherwise the candidate with the lowest predicted loss is chosen if its gain over
    phi = 2 is more than ``z`` standard errors of the difference, where the standard
    error includes the law's ``tail_error`` (its error on held-out pilot tails); else
    phi = 2 is kept and ``fallback`` is True. For the noisy quadratic model the error
    is the spread of its SLQ probes only.

    Args:
        model: A [`NoisyQuadratic`][uba_core.experimental.NoisyQuadratic] or an
            [`AnnealingLaw`][uba_core.experimental.AnnealingLaw].
        total_steps: The budget T (>= 2), warmup included.
        peak_lr: Your current peak lr (> 0), tuned for cosine. For an
            ``AnnealingLaw``, the pilots' peak lr (it is checked).
        warmup_steps: Linear warmup steps from 0, as in your schedule (< total_steps).
        min_lr: The floor of your schedule (>= 0, < peak_lr).
        candidates: The phis to score (> 0, finite, distinct; must contain 2).
        z: The fallback threshold in standard errors (>= 0).
        allow_increase: Let the lr transfer raise the peak lr (see ``transfer_lr``).

    Returns:
        The [`PhiSelection`][uba_core.experimental.PhiSelection] report (``print`` it).

    Examples:
        >>> model = NoisyQuadratic.from_eigenvalues(numpy.logspace(0, -1, 50), loss_gap=10.0, noise_trace=0.1)
        >>> pick = select_phi(model, 300, peak_lr=0.5)
        >>> pick.phi > 2, pick.fallback, pick.lr_factor  # the transfer's guard keeps the lr
        (True, False, 1.0)
    """
    predict = getattr(model, "predict", None)
    if not callable(predict) or not all(isinstance(getattr(model, a, None), str) for a in ("method", "cost")):
        raise TypeError(
            "Argument `model` must be a NoisyQuadratic or AnnealingLaw (anything with "
            f"predict(lrs) -> (mean, stderr) and the strings method and cost). Received: {type(model).__name__}."
        )
    total, peak, warmup, floor, z = check_plan(total_steps, peak_lr, warmup_steps, min_lr, z)
    if isinstance(candidates, (str, bytes)) or numpy.ndim(candidates) != 1 or not len(candidates):
        raise ValueError(f"Argument `candidates` must be a non-empty sequence of phis. Received: {candidates!r}.")
    phis = [check_real("candidates", c, positive=True) for c in candidates]
    if len(set(phis)) != len(phis):
        raise ValueError(f"Argument `candidates` must not repeat a phi. Received: {candidates!r}.")
    if 2.0 not in phis:
        raise ValueError(f"Argument `candidates` must contain 2 (cosine, the fallback). Received: {candidates!r}.")
    cosine = UBAConfig(total_steps=total, peak_lr=peak, phi=2.0, warmup_steps=warmup, min_lr=floor)
    transfers = {phi: transfer_lr(cosine, phi=phi, allow_increase=allow_increase) for phi in phis}

    def curves(phi: float, peaks: FloatArray) -> FloatArray:
        shape = UBAConfig(total_steps=total, peak_lr=1.0, phi=phi, warmup_steps=warmup, min_lr=floor / peak)
        curve = numpy.asarray(shape(numpy.arange(total, dtype=numpy.float64)), dtype=numpy.float64)
        return numpy.asarray(peaks[:, None] * curve[None, :], dtype=numpy.float64)

    problems: list[str] = []
    if isinstance(model, NoisyQuadratic):
        lrs = _LR_GRID / model.lambda_max
        per = {phi: model.predict_each(curves(phi, lrs)) for phi in phis}  # (q, lrs) each
        best_lr = {phi: int(numpy.argmin(per[phi].mean(axis=0))) for phi in phis}
        edge = [f"{phi:g}" for phi in phis if best_lr[phi] in (0, lrs.size - 1)]
        base = per[2.0][:, best_lr[2.0]]
        rows, diffs = [], {}
        for phi in phis:
            each = per[phi][:, best_lr[phi]]
            diffs[phi] = (float((each - base).mean()), float(_stderr(each - base)))
            own = float(lrs[best_lr[phi]] / lrs[best_lr[2.0]])
            rows.append(PhiCandidate(phi, transfers[phi].factor, float(each.mean()), float(_stderr(each)), own))
        model_lr = float(lrs[best_lr[2.0]])
        if not 1 / MAX_LR_MISMATCH <= model_lr / peak <= MAX_LR_MISMATCH:
            problems.append(
                f"the model's own best cosine peak lr, {model_lr:.3g} (plain SGD), is "
                f"{max(model_lr / peak, peak / model_lr):.3g} times from your {peak:.3g}: it does not describe "
                "your training"
            )
        if edge:
            problems.append(f"the model's best peak lr of phi = {', '.join(edge)} is at an end of its lr grid")
    else:
        if isinstance(model, AnnealingLaw) and not math.isclose(peak, model.peak_lr, rel_tol=1e-6):
            raise ValueError(
                f"Argument `peak_lr` must be the pilots' peak lr, {model.peak_lr!r}: the annealing law predicts at "
                f"the peak lr it was fitted at. Received: peak_lr={peak!r}."
            )
        steps = numpy.arange(total, dtype=numpy.float64)
        all_lrs = numpy.stack([numpy.asarray(transfers[phi].config(steps), dtype=numpy.float64) for phi in phis])
        i2 = phis.index(2.0)
        if isinstance(model, AnnealingLaw):  # the difference's error from the covariance of (L0, A, C)
            feats = model.features(all_lrs)
            mean, err = model._predict_rows(feats)
            ses = numpy.hypot(model._stderr_of(feats - feats[i2]), model.tail_error)
            problems = law_problems(model, total, mean)
        else:
            mean, err = predict(all_lrs)
            ses = numpy.hypot(err, err[i2])
        rows = [PhiCandidate(phi, transfers[phi].factor, float(mean[i]), float(err[i])) for i, phi in enumerate(phis)]
        diffs = {phi: (float(mean[i] - mean[i2]), float(ses[i])) for i, phi in enumerate(phis)}
    best = min(rows, key=lambda c: (c.loss, abs(math.log(c.phi / 2.0))))
    gain, se = diffs[best.phi]
    cos_row = next(c for c in rows if c.phi == 2.0)
    if problems:
        chosen, fallback = cos_row, best.phi != 2.0
        reason = "the model failed its validity checks (below): phi = 2 (cosine) is kept"
    elif best.phi == 2.0:
        chosen, fallback = best, False
        reason = "phi = 2 (cosine) has the lowest predicted loss"
    elif not (-gain > z * se):
        chosen, fallback = cos_row, True
        reason = (
            f"phi = {best.phi:g} is predicted better by {-gain:.3g}, within {z:g} standard errors of the "
            f"difference ({se:.3g}, model error included where known): cosine is kept"
        )
    else:
        chosen, fallback = best, False
        relative = f" ({100 * -gain / abs(cos_row.loss):.2g} % of phi = 2's loss)" if cos_row.loss else ""
        reason = f"predicted {-gain:.3g} below phi = 2{relative}, " + (
            f"{-gain / se:.3g} standard errors of the difference ({se:.2g})"
            if se > 0
            else "with no standard error (one quadrature, or quadratures that agree exactly), so z has no effect"
        )
        reason += f"; peak lr: {transfers[best.phi].reason}"
    return PhiSelection(
        chosen.phi,
        transfers[chosen.phi].factor,
        transfers[chosen.phi].peak_lr,
        tuple(rows),
        fallback,
        reason,
        model.method,
        model.cost,
        total,
        tuple(problems),
        peak,
    )


def consensus(selections: Sequence[PhiSelection]) -> PhiSelection:
    """Switch from cosine only where every selection's phi lies on the same side of phi = 2;
    then take the agreeing choice nearest to 2 (in log phi), with its lr factor. Structurally
    different models that disagree are read as model error: cosine is kept.

    Args:
        selections: Two or more [`PhiSelection`][uba_core.experimental.PhiSelection] of
            one budget (e.g. one per model, from the same peak lr).

    Raises:
        ValueError: fewer than 2 selections, or selections of different budgets.
    """
    if isinstance(selections, PhiSelection) or len(selections) < 2:
        raise ValueError(f"Argument `selections` must hold at least 2 selections. Received: {selections!r}.")
    if len({s.total_steps for s in selections}) != 1:
        raise ValueError(
            "Argument `selections` must be of one budget. Received: total_steps "
            f"{sorted({s.total_steps for s in selections})}."
        )
    sides = {(s.phi > 2) - (s.phi < 2) for s in selections}
    first = selections[0]
    if sides == {0} or len(sides) > 1:
        base = next(c for c in first.candidates if c.phi == 2.0)
        why = "the models disagree on the side of phi = 2" if len(sides) > 1 else "every model keeps phi = 2"
        return dataclasses.replace(
            first, phi=2.0, lr_factor=1.0, peak_lr=first.tuned_lr, fallback=len(sides) > 1,
            reason=why, candidates=(base,), method="consensus",
            problems=tuple(p for s in selections for p in s.problems),
        )  # fmt: skip
    near = min(selections, key=lambda s: abs(math.log(s.phi / 2)))
    agree = ", ".join(f"{s.phi:g}" for s in selections)
    return dataclasses.replace(near, reason=f"the models agree: phi = {agree}", method="consensus")
