"""How [`UBALR`][uba_torch.UBALR] composes with other schedulers: a change that something else
makes to a group's ``lr`` between two steps is carried as a factor on the curve.

A group whose ``lr`` is a tensor keeps its factor and the rate last written as tensors on
the lr's device and dtype, and the factor is updated with tensor operations only: reading
a tensor back to the host (``bool``, ``item``, ``float``) would be a device
synchronisation per step on an accelerator, and would break CUDA-graph capture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uba_core._validation import require_framework

if TYPE_CHECKING:
    import torch
else:
    torch = require_framework("torch", "torch")

Rate = Any  # a float, or a 0-dim tensor for a group whose lr is a tensor


def carried_factor(lr: Any, written: Rate, ratio: Rate) -> Rate:
    """A group's factor ``ratio`` with what changed its ``lr`` since the scheduler wrote
    ``written`` folded in.

    A change made while the written rate is 0 cannot be a factor: it is left out.
    """
    if isinstance(written, torch.Tensor) and isinstance(lr, torch.Tensor):
        # lr / written is 1 exactly when nothing changed it, and ratio * 1 is ratio exactly, so
        # no comparison of the two is needed.
        return torch.where(written != 0.0, ratio * (lr / written), ratio)
    if isinstance(written, torch.Tensor) or isinstance(lr, torch.Tensor):
        # Something replaced the group's lr by one of the other kind: read it once, and keep
        # the factor in the new kind from here.
        w, r = float(written), float(ratio)
        value = group_value(lr, w)
        return like_lr(r * (value / w) if value != w and w != 0.0 else r, lr)
    if lr != written:
        value = group_value(lr, written)
        if value != written and written != 0.0:
            return ratio * (value / written)
    return ratio


def factors_before(groups: list[dict[str, Any]]) -> list[float]:
    """The factor by which a scheduler built earlier on the same optimizer has scaled each
    group's ``lr`` away from its ``initial_lr`` (1 where it has not, or where either is 0)."""
    ratios = []
    for group in groups:
        lr, initial = float(group["lr"]), float(group["initial_lr"])
        # a 0 factor could never lift
        ratios.append(lr / initial if lr != initial and lr != 0.0 and initial != 0.0 else 1.0)
    return ratios


def like_lr(value: Rate, lr: Any) -> Rate:
    """``value`` as a tensor on ``lr``'s device and dtype when ``lr`` is a tensor, else a float."""
    if isinstance(lr, torch.Tensor):
        return torch.as_tensor(value, dtype=lr.dtype, device=lr.device).clone()
    return float(value)


def holds(lr: Any, written: Rate) -> bool:
    """Whether a group's ``lr`` still holds ``written`` (rounded to the lr's dtype)."""
    if isinstance(lr, torch.Tensor):
        return bool(lr == torch.as_tensor(written, dtype=lr.dtype, device=lr.device))
    return group_value(lr, float(written)) == float(written)


def group_value(lr: Any, written: float) -> float:
    """A group's lr as a float: ``written`` if it holds ``written`` (a tensor holds it rounded
    to its dtype); an int or numpy lr is its value."""
    if isinstance(lr, torch.Tensor) and bool(lr == torch.tensor(written, dtype=lr.dtype)):
        return written
    return float(lr)
