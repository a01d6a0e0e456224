"""PyTorch adapter: :class:`UBALR`, a closed-form ``LRScheduler`` with the UBA curve,
and :func:`estimate_spectrum`, the Hessian spectrum of a model (for :func:`uba_core.suggest_phi`)."""

from __future__ import annotations

import warnings
from typing import Any

from uba_core import (
    DEFAULT_PHI,
    CurveCache,
    UBAConfig,
    check_int,
    make_config,
    per_group,
    require_framework,
)

torch = require_framework("torch", "torch")
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

from uba_torch._spectrum import estimate_spectrum  # noqa: E402

__all__ = ["UBALR", "estimate_spectrum"]
__test__ = {"estimate_spectrum": estimate_spectrum}  # its Examples run with this module's doctests

_NAMES = {"total_steps": "T_max", "min_lr": "eta_min"}


class UBALR(LRScheduler):
    r"""UBA schedule for every param group, a drop-in for ``CosineAnnealingLR``.

    The k-th ``optimizer.step()`` uses :math:`\mathrm{lr}(k)` of the core curve
    (:func:`uba_core.uba_lr`): building the scheduler writes :math:`\mathrm{lr}(0)`,
    each ``scheduler.step()`` after ``optimizer.step()`` writes the next value.
    With ``phi=2`` and no warmup it is ``CosineAnnealingLR`` (same arguments), except
    that past ``T_max`` it holds ``eta_min`` where ``CosineAnnealingLR`` climbs back.

    Args:
        optimizer: The wrapped optimizer.
        T_max: Budget in scheduler steps, warmup included.
        phi: Shape, > 0 (2 is cosine; < 2 holds the rate high, > 2 drops early);
            default :data:`uba_core.DEFAULT_PHI`. It is the third positional argument,
            where ``CosineAnnealingLR`` has ``eta_min``: pass ``eta_min`` by keyword.
        eta_min: Floor, a float or one per param group.
        last_epoch: As in torch. Resuming through the constructor with
            ``last_epoch=N`` applies :math:`\mathrm{lr}(N + 1)` (torch's rule); prefer
            ``load_state_dict``.
        warmup_steps: Linear warmup length inside ``T_max`` (built in, because a
            closed-form scheduler inside ``ChainedScheduler`` overwrites the others;
            ``SequentialLR`` works too).
        warmup_start_lr: Rate at step 0 when warming up, a float or one per group.
        peak_lr: Peak rate, a float or one per group. By default each group's
            ``initial_lr`` (its ``lr`` when the scheduler was first built); give it
            explicitly when a loaded optimizer state carries a stale ``initial_lr``.

    Values written to param groups are Python floats, or are copied into the
    group's tensor when its ``lr`` is a tensor (so ``torch.compile`` does not
    recompile). ``state_dict()`` holds plain types (``torch.load(weights_only=True)``
    reads it); loading a state built with a different config warns and continues
    with the checkpoint's config, as torch schedulers do.

    Examples:
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> sched = UBALR(opt, T_max=100, phi=4.0)
        >>> opt.step(); sched.step()
        >>> opt.param_groups[0]["lr"] == float(UBAConfig(total_steps=100, peak_lr=0.1, phi=4.0)(1))
        True
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_max: int,
        phi: float = DEFAULT_PHI,
        eta_min: float | list[float] = 0.0,
        last_epoch: int = -1,
        *,
        warmup_steps: int = 0,
        warmup_start_lr: float | list[float] = 0.0,
        peak_lr: float | list[float] | None = None,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "Argument `optimizer` must be a torch.optim.Optimizer. "
                f"Received: optimizer={optimizer!r} ({type(optimizer).__name__})."
            )
        check_int("last_epoch", last_epoch, minimum=-1)
        groups = optimizer.param_groups
        peaks = per_group("peak_lr", peak_lr, len(groups))
        floors = per_group("eta_min", eta_min, len(groups))
        starts = per_group("warmup_start_lr", warmup_start_lr, len(groups))
        self.configs = []
        for i, group in enumerate(groups):
            names = dict(_NAMES)
            if peaks[i] is None:  # torch's rule: initial_lr, set from lr on first build
                peaks[i] = group.get("initial_lr", group["lr"])
                names["peak_lr"] = f"optimizer.param_groups[{i}]['lr']"
            self.configs.append(make_config(
                names, total_steps=T_max, peak_lr=peaks[i], phi=phi, min_lr=floors[i],
                warmup_steps=warmup_steps, warmup_start_lr=starts[i],
            ))
        self._curves = [CurveCache(cfg) for cfg in self.configs]
        super().__init__(optimizer, last_epoch)

    @classmethod
    def from_config(
        cls, optimizer: torch.optim.Optimizer, config: UBAConfig, last_epoch: int = -1
    ) -> UBALR:
        """Build from a :class:`uba_core.UBAConfig`; every param group gets its curve."""
        if not isinstance(config, UBAConfig):
            raise TypeError(
                f"Argument `config` must be a UBAConfig. Received: config={config!r} "
                f"({type(config).__name__})."
            )
        return cls(
            optimizer, config.total_steps, config.phi, config.min_lr, last_epoch,
            warmup_steps=config.warmup_steps, warmup_start_lr=config.warmup_start_lr,
            peak_lr=config.peak_lr,
        )

    def get_lr(self) -> list[float]:
        """Closed form at ``last_epoch``; torch copies each value into its group."""
        return self._get_closed_form_lr()

    def _get_closed_form_lr(self) -> list[float]:
        return [curve(self.last_epoch) for curve in self._curves]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        del state["_curves"]
        state["configs"] = [cfg.to_dict() for cfg in self.configs]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = [UBAConfig.from_dict(d) for d in state.pop("configs")]
        if saved != self.configs:
            warnings.warn(
                "UBALR.load_state_dict: the checkpoint's schedule differs from this "
                "scheduler's; continuing with the checkpoint's.\n"
                f"  checkpoint: {[c.to_dict() for c in saved]}\n"
                f"  this scheduler: {[c.to_dict() for c in self.configs]}",
                UserWarning,
                stacklevel=2,
            )
        super().load_state_dict(state)
        self.configs = saved
        self._curves = [CurveCache(cfg) for cfg in saved]

