"""Hessian spectrum of a JAX loss: its Hessian-vector product, handed to uba_core's SLQ."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy
from numpy.typing import NDArray

from uba_core._select import GradientNoise, noise_of_batches
from uba_core._spectrum import Spectrum, check_loss_and_batches, stochastic_lanczos_quadrature
from uba_core._validation import require_framework

if TYPE_CHECKING:
    import jax
else:
    jax = require_framework("jax", "jax")
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

__all__ = ["estimate_gradient_noise", "estimate_spectrum"]


def estimate_spectrum(
    loss_fn: Callable[[Any, Any], Any],
    params: Any,
    batches: Iterable[Any],
    *,
    probes: int = 4,
    lanczos_steps: int = 40,
    max_hvps: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Spectrum:
    r"""Spectrum of the Hessian of ``loss_fn`` at ``params``, a [`Spectrum`][uba_core.Spectrum].

    The Hessian is that of the mean loss over ``batches``, with respect to every leaf
    of ``params`` (flattened by ``jax.flatten_util.ravel_pytree``). Each product is
    forward-over-reverse (``jax.jvp`` of ``jax.grad``, jitted once per batch shape),
    one per batch, averaged, in the parameters' dtype (float64 needs
    ``jax_enable_x64``); the Lanczos work is
    [`uba_core.stochastic_lanczos_quadrature`][uba_core.stochastic_lanczos_quadrature] on float64
    numpy vectors.

    Cost: ``probes * lanczos_steps`` Hessian-vector products (160 with the defaults),
    each ``len(batches)`` forward-over-reverse passes, plus one compilation per batch
    shape. Timings of the benchmark nets are in benchmarks/results/suggested.md.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``, traceable by JAX.
        params: Any pytree of arrays: the Hessian's variables.
        batches: Non-empty iterable of batches (pytrees ``loss_fn`` accepts), read once.
        probes: Independent random probes, as in
            [`stochastic_lanczos_quadrature`][uba_core.stochastic_lanczos_quadrature] (one
            Lanczos step is one product of the batch-averaged Hessian, ``len(batches)``
            forward-over-reverse passes).
        lanczos_steps: Lanczos steps per probe, as there.
        max_hvps: Budget of Hessian-vector products, as there.
        seed: Seed of the probes, as there; equal seeds give ``uba_torch.estimate_spectrum``
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
        >>> h = jnp.linspace(1.0, 10.0, 50)
        >>> loss_fn = lambda p, batch: 0.5 * jnp.sum(batch * p["w"] ** 2)
        >>> spec = estimate_spectrum(loss_fn, {"w": jnp.zeros(50)}, [h], probes=2,
        ...                          lanczos_steps=30, progress=False)
        >>> round(spec.lambda_max, 4), round(spec.kappa, 3), spec.hvps
        (10.0, 10.0, 60)
    """
    batches = check_loss_and_batches(loss_fn, batches)
    dim, _, matvec = _hessian(loss_fn, params, batches)
    return stochastic_lanczos_quadrature(
        matvec,
        dim,
        probes=probes,
        lanczos_steps=lanczos_steps,
        max_hvps=max_hvps,
        seed=seed,
        progress=progress,
    )


def estimate_gradient_noise(
    loss_fn: Callable[[Any, Any], Any], params: Any, batches: Iterable[Any], *, curvature: bool = True
) -> GradientNoise:
    r"""The minibatch gradient noise of ``loss_fn`` at ``params``, a
    [`GradientNoise`][uba_core.experimental.GradientNoise].

    One gradient per batch (use your training batch size: the noise is that of one
    training step), flattened by ``ravel_pytree``, handed to
    [`uba_core.gradient_noise`][uba_core.experimental.gradient_noise]; with ``curvature``, one
    product per batch with the Hessian averaged over ``batches`` (each product is
    ``len(batches)`` forward-over-reverse passes: ``len(batches)**2`` in all) measures
    $\mathrm{tr}(H\Sigma)$.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``, as in ``estimate_spectrum``.
        params: The pytree of arrays, as in ``estimate_spectrum``.
        batches: At least 2 minibatches, read once.
        curvature: Also measure the noise in the Hessian's norm.

    Returns:
        The noise, for [`uba_core.NoisyQuadratic.from_spectrum`][uba_core.experimental.NoisyQuadratic.from_spectrum].

    Examples:
        >>> batches = [jnp.eye(3)[i] for i in range(3)]
        >>> noise = estimate_gradient_noise(lambda p, b: jnp.dot(p["w"], b), {"w": jnp.zeros(3)}, batches)
        >>> round(noise.trace, 6), noise.batches  # gradients e_1, e_2, e_3
        (1.0, 3)
    """
    batches = check_loss_and_batches(loss_fn, batches)
    _, loss_and_grad, matvec = _hessian(loss_fn, params, batches)
    return noise_of_batches(loss_and_grad, batches, matvec if curvature else None)


def _hessian(
    loss_fn: Callable[[Any, Any], Any], params: Any, batches: list[Any]
) -> tuple[
    int,
    Callable[[Any], tuple[float, NDArray[numpy.float64]]],
    Callable[[NDArray[numpy.float64]], NDArray[numpy.float64]],
]:
    """The dimension, ``batch -> (loss, flat gradient)`` and the batch-averaged Hessian's product."""
    flat, unravel = ravel_pytree(params)
    if flat.size == 0 or not jnp.issubdtype(flat.dtype, jnp.floating):
        raise ValueError(
            "Argument `params` must hold floating-point arrays with at least one entry. "
            f"Received: {flat.size} entries of dtype {flat.dtype}."
        )

    @jax.jit
    def hvp(x: jax.Array, v: jax.Array, batch: Any) -> jax.Array:
        grad = jax.grad(lambda y: loss_fn(unravel(y), batch))
        hv: jax.Array = jax.jvp(grad, (x,), (v,))[1]
        return hv

    value_and_grad = jax.jit(jax.value_and_grad(lambda y, batch: loss_fn(unravel(y), batch)))

    def loss_and_grad(batch: Any) -> tuple[float, NDArray[numpy.float64]]:
        loss, g = value_and_grad(flat, batch)
        return float(loss), numpy.asarray(g, dtype=numpy.float64)

    def matvec(v: NDArray[numpy.float64]) -> NDArray[numpy.float64]:
        tangent = jnp.asarray(v, dtype=flat.dtype)
        total = sum(
            (numpy.asarray(hvp(flat, tangent, b), dtype=numpy.float64) for b in batches), numpy.zeros(flat.size)
        )
        return total / len(batches)

    return int(flat.size), loss_and_grad, matvec
