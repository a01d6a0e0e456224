"""PyTorch adapter: [`UBALR`][uba_torch.UBALR], a closed-form ``LRScheduler`` with the UBA
curve and a drop-in for ``CosineAnnealingLR``;
[`UBAWarmRestarts`][uba_torch.UBAWarmRestarts], a drop-in for ``CosineAnnealingWarmRestarts``;
[`get_uba_schedule_with_warmup`][uba_torch.get_uba_schedule_with_warmup] and
[`get_uba_with_hard_restarts_schedule_with_warmup`][uba_torch.get_uba_with_hard_restarts_schedule_with_warmup],
the transformers-style factories; and [`estimate_spectrum`][uba_torch.estimate_spectrum], the
Hessian spectrum of a model (for [`uba_core.experimental.suggest_phi`][uba_core.experimental.suggest_phi])."""

from __future__ import annotations

from uba_torch._factory import get_uba_schedule_with_warmup, get_uba_with_hard_restarts_schedule_with_warmup
from uba_torch._restarts import UBAWarmRestarts
from uba_torch._scheduler import UBALR, UBABudgetWarning
from uba_torch._spectrum import estimate_gradient_noise, estimate_spectrum

__all__ = [
    "UBALR",
    "UBABudgetWarning",
    "UBAWarmRestarts",
    "estimate_gradient_noise",
    "estimate_spectrum",
    "get_uba_schedule_with_warmup",
    "get_uba_with_hard_restarts_schedule_with_warmup",
]
