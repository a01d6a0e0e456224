"""Hessian spectrum of a torch model: its Hessian-vector product, handed to uba_core's SLQ."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import numpy
from numpy.typing import NDArray

from uba_core._select import GradientNoise, noise_of_batches
from uba_core._spectrum import Spectrum, check_loss_and_batches, stochastic_lanczos_quadrature
from uba_core._validation import require_framework

if TYPE_CHECKING:
    import torch
else:
    torch = require_framework("torch", "torch")
try:  # the fused attention kernels lack forward AD: use the composite one
    from torch.nn.attention import SDPBackend, sdpa_kernel

    def _math_attention() -> AbstractContextManager[object]:
        return sdpa_kernel(SDPBackend.MATH)
except ImportError:  # torch < 2.3

    def _math_attention() -> AbstractContextManager[object]:
        return torch.backends.cuda.sdp_kernel(enable_flash=False, enable_mem_efficient=False)


__all__ = ["estimate_gradient_noise", "estimate_spectrum"]


def estimate_spectrum(
    model: torch.nn.Module,
    loss_fn: Callable[[Callable[..., Any], Any], torch.Tensor],
    batches: Iterable[Any],
    *,
    probes: int = 4,
    lanczos_steps: int = 40,
    max_hvps: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Spectrum:
    r"""Spectrum of the Hessian of ``loss_fn`` over ``model``'s parameters, a [`Spectrum`][uba_core.Spectrum].

    The Hessian is that of the mean loss over ``batches``, with respect to every
    parameter with ``requires_grad`` (flattened in ``named_parameters`` order). Each
    product is forward-over-reverse (``torch.func.jvp`` of ``torch.func.grad`` over
    ``torch.func.functional_call``), one per batch, averaged, in the parameters' own
    dtype and device; the Lanczos work is
    [`uba_core.stochastic_lanczos_quadrature`][uba_core.stochastic_lanczos_quadrature] on float64
    numpy vectors. The model is not modified. Call ``model.eval()`` first if
    it has dropout or batch norm (a random or stateful loss has no fixed Hessian).

    Cost: ``probes * lanczos_steps`` Hessian-vector products (160 with the defaults),
    each ``len(batches)`` forward-over-reverse passes; Lanczos memory
    ``8 * lanczos_steps * dim`` bytes. Timings of the benchmark nets are in
    benchmarks/results/suggested.md.

    Args:
        model: The module; its parameters are the Hessian's variables.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``. Its first argument stands
            in for ``model``: calling it runs ``model(*args, **kwargs)`` (``forward``)
            with the parameters being differentiated. Other attributes of the module
            are not substituted: wrap another method in a module's ``forward``.
        batches: Non-empty iterable of batches (anything ``loss_fn`` accepts), read once.
        probes: Independent random probes, as in
            [`stochastic_lanczos_quadrature`][uba_core.stochastic_lanczos_quadrature] (one
            Lanczos step is one product of the batch-averaged Hessian, ``len(batches)``
            forward-over-reverse passes).
        lanczos_steps: Lanczos steps per probe, as there.
        max_hvps: Budget of Hessian-vector products, as there.
        seed: Seed of the probes, as there; equal seeds give ``uba_jax.estimate_spectrum``
            the same probes.
        progress: Show a tqdm bar over the products, as there.

    Returns:
        The [`uba_core.Spectrum`][uba_core.Spectrum]; pass it to
        [`uba_core.suggest_phi`][uba_core.experimental.suggest_phi], or with the gradient noise to
        [`uba_core.NoisyQuadratic.from_spectrum`][uba_core.experimental.NoisyQuadratic.from_spectrum].

    Raises:
        TypeError, ValueError: an argument is invalid; the message names it.
        ImportError: ``progress=True`` without tqdm.

    Examples:
        >>> h = torch.linspace(1.0, 10.0, 50, dtype=torch.float64)
        >>> model = torch.nn.Linear(50, 1, bias=False).double()
        >>> def loss_fn(model, batch):  # 0.5 w^T diag(h) w, through the model
        ...     w = model(batch)[:, 0]  # the identity batch gives the weights back
        ...     return 0.5 * (h * w * w).sum()
        >>> spec = estimate_spectrum(model, loss_fn, [torch.eye(50, dtype=torch.float64)],
        ...                          probes=2, lanczos_steps=30, progress=False)
        >>> round(spec.lambda_max, 6), round(spec.kappa, 3), spec.hvps
        (10.0, 10.0, 60)
    """
    _check_model(model)  # before the batches are read
    dim, _, matvec = _hessian(model, loss_fn, check_loss_and_batches(loss_fn, batches))
    return stochastic_lanczos_quadrature(
        matvec, dim, probes=probes, lanczos_steps=lanczos_steps, max_hvps=max_hvps, seed=seed, progress=progress
    )


def estimate_gradient_noise(
    model: torch.nn.Module,
    loss_fn: Callable[[Callable[..., Any], Any], torch.Tensor],
    batches: Iterable[Any],
    *,
    curvature: bool = True,
) -> GradientNoise:
    r"""The minibatch gradient noise of ``model`` at its parameters, a
    [`GradientNoise`][uba_core.experimental.GradientNoise].

    One gradient of ``loss_fn`` per batch (use your training batch size: the noise is
    that of one training step), flattened as in
    [`estimate_spectrum`][uba_torch.estimate_spectrum], handed to
    [`uba_core.gradient_noise`][uba_core.experimental.gradient_noise]; with ``curvature``, one
    product per batch with the Hessian averaged over ``batches`` (each product is
    ``len(batches)`` forward-over-reverse passes: ``len(batches)**2`` in all) measures
    $\mathrm{tr}(H\Sigma)$. The model is not modified. Call ``model.eval()`` first if
    it has dropout or batch norm (``torch.func`` cannot differentiate batch norm's
    running-statistics update, and a random loss has no fixed Hessian).

    Args:
        model: The module, as in ``estimate_spectrum``.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``, as in ``estimate_spectrum``.
        batches: At least 2 minibatches, read once.
        curvature: Also measure the noise in the Hessian's norm.

    Returns:
        The noise, for [`uba_core.NoisyQuadratic.from_spectrum`][uba_core.experimental.NoisyQuadratic.from_spectrum].

    Examples:
        >>> model = torch.nn.Linear(3, 1, bias=False).double()
        >>> batches = [torch.eye(3, dtype=torch.float64)[i : i + 1] for i in range(3)]
        >>> noise = estimate_gradient_noise(model, lambda m, b: m(b).sum(), batches)
        >>> round(noise.trace, 6), noise.batches  # gradients e_1, e_2, e_3
        (1.0, 3)
    """
    _check_model(model)  # before the batches are read
    batches = check_loss_and_batches(loss_fn, batches)
    _, loss_and_grad, matvec = _hessian(model, loss_fn, batches)
    return noise_of_batches(loss_and_grad, batches, matvec if curvature else None)


def _check_model(model: object) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"Argument `model` must be a torch.nn.Module. Received: model={model!r} ({type(model).__name__})."
        )


def _hessian(
    model: torch.nn.Module, loss_fn: Callable[[Callable[..., Any], Any], torch.Tensor], batches: list[Any]
) -> tuple[
    int,
    Callable[[Any], tuple[float, NDArray[numpy.float64]]],
    Callable[[NDArray[numpy.float64]], NDArray[numpy.float64]],
]:
    """The dimension, ``batch -> (loss, flat gradient)`` and the batch-averaged Hessian's product."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise ValueError(f"Argument `model` has no parameter with requires_grad. Received: model={model!r}.")
    sizes = [p.numel() for p in params.values()]

    def loss_at(values: dict[str, torch.Tensor], batch: Any) -> torch.Tensor:
        return loss_fn(lambda *a, **k: torch.func.functional_call(model, values, a, k), batch)

    grad = torch.func.grad(loss_at)

    def flat(tree: dict[str, torch.Tensor]) -> NDArray[numpy.float64]:
        return torch.cat([tree[n].reshape(-1) for n in params]).to("cpu", torch.float64).numpy()

    def loss_and_grad(batch: Any) -> tuple[float, NDArray[numpy.float64]]:
        g, loss = torch.func.grad_and_value(loss_at)(params, batch)
        return float(loss), flat(g)

    def matvec(v: NDArray[numpy.float64]) -> NDArray[numpy.float64]:
        chunks = torch.split(torch.from_numpy(v), sizes)  # typed, unlike Tensor.split
        tangent = {n: c.view(p.shape).to(p) for (n, p), c in zip(params.items(), chunks, strict=True)}
        total = numpy.zeros(v.shape)
        for batch in batches:
            with _math_attention():
                hv = torch.func.jvp(lambda values, batch=batch: grad(values, batch), (params,), (tangent,))[1]
            total += flat(hv)
        return total / len(batches)

    return sum(sizes), loss_and_grad, matvec
