"""The transformers-style factories: ``get_uba_schedule_with_warmup``, a
[`UBALR`][uba_torch.UBALR], and ``get_uba_with_hard_restarts_schedule_with_warmup``, a
``LambdaLR`` like transformers' own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from uba_core._cycles import hard_restarts
from uba_core._schedule import DEFAULT_PHI, make_config
from uba_core._validation import require_framework
from uba_torch._scheduler import UBALR

if TYPE_CHECKING:
    import torch
else:
    torch = require_framework("torch", "torch")
from torch.optim.lr_scheduler import LambdaLR


def get_uba_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    *,
    phi: float = DEFAULT_PHI,
    min_lr: float = 0.0,
    num_stable_steps: int = 0,
    on_budget_change: Literal["adopt", "rebudget", "keep", "raise"] = "adopt",
    last_epoch: int = -1,
) -> UBALR:
    r"""UBA with linear warmup from 0, named and ordered like transformers' schedule factories.

    ``get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps)``
    gives the same rates as this with ``phi=2``; with ``num_stable_steps`` and
    ``phi=2`` it is ``get_wsd_schedule(..., decay_type="cosine")`` with a warmup from 0.
    The result is a [`UBALR`][uba_torch.UBALR], so the HF ``Trainer`` saves it and reloads
    it with ``weights_only=True``. Resumed from a checkpoint with a larger (or smaller)
    ``max_steps``, it continues the checkpoint's curve to the new end (``on_budget_change``).

    Args:
        optimizer: The optimizer; each group's ``lr`` is its peak.
        num_warmup_steps: Warmup length, from 0 to the peak.
        num_training_steps: Budget in optimizer updates: warmup, stable phase and decay.
        phi: Shape, > 0 (2 is cosine).
        min_lr: Floor reached at ``num_training_steps``.
        num_stable_steps: Steps held at the peak after the warmup (as in transformers'
            ``get_wsd_schedule``); the decay takes the rest of ``num_training_steps``.
        on_budget_change: What ``load_state_dict`` does with a checkpoint of another
            budget: ``"adopt"`` (continue it to ``num_training_steps`` where it can),
            ``"rebudget"``, ``"keep"`` or ``"raise"``; see [`UBALR`][uba_torch.UBALR].
        last_epoch: As in torch; keyword-only, because transformers' cosine factories
            have ``num_cycles`` in that place.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of its domain (``num_warmup_steps +
            num_stable_steps`` must be below ``num_training_steps``).

    Examples:
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> sched = get_uba_schedule_with_warmup(opt, 10, 110, phi=2.0)
        >>> for _ in range(60):
        ...     opt.step(); sched.step()
        >>> round(sched.get_last_lr()[0], 12)
        0.5
    """
    # Validate under this function's argument names; the peak is each group's lr.
    make_config(
        {"total_steps": "num_training_steps", "warmup_steps": "num_warmup_steps", "stable_steps": "num_stable_steps"},
        total_steps=num_training_steps,
        warmup_steps=num_warmup_steps,
        stable_steps=num_stable_steps,
        peak_lr=0.0,
        phi=phi,
        min_lr=min_lr,
    )
    return UBALR(
        optimizer,
        num_training_steps,
        min_lr,
        last_epoch,
        phi=phi,
        warmup_steps=num_warmup_steps,
        stable_steps=num_stable_steps,
        on_budget_change=on_budget_change,
    )


def get_uba_with_hard_restarts_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 1,
    last_epoch: int = -1,
    *,
    phi: float = DEFAULT_PHI,
    min_lr_rate: float = 0.0,
) -> LambdaLR:
    r"""UBA with hard restarts after a linear warmup from 0, a drop-in for transformers'
    ``get_cosine_with_hard_restarts_schedule_with_warmup`` (same positional arguments).

    After the warmup, the decay from each group's ``lr`` runs ``num_cycles`` times in equal
    cycles over the rest of ``num_training_steps``, restarting at the peak each time; with
    ``phi=2`` the rates are transformers'. The result is a ``LambdaLR``, as transformers'
    is; its ``state_dict`` holds the schedule's numbers (plain types).

    Args:
        optimizer: The optimizer; each group's ``lr`` is its peak.
        num_warmup_steps: Warmup length, from 0 to the peak.
        num_training_steps: Budget in optimizer updates, warmup included.
        num_cycles: Number of decays after the warmup, > 0 (a fraction ends inside a cycle).
        last_epoch: As in torch.
        phi: Shape, > 0 (2 is cosine).
        min_lr_rate: Floor of every cycle as a fraction of each group's peak, in [0, 1]
            (as in transformers' ``get_cosine_with_min_lr_schedule_with_warmup``); held
            from ``num_training_steps`` on.

    Raises:
        TypeError: An argument has the wrong type.
        ValueError: An argument is out of its domain (``num_warmup_steps`` must be below
            ``num_training_steps``).

    Examples:
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> sched = get_uba_with_hard_restarts_schedule_with_warmup(opt, 0, 100, 2, phi=2.0)
        >>> rates = []
        >>> for _ in range(100):
        ...     rates.append(sched.get_last_lr()[0]); opt.step(); sched.step()
        >>> [round(rates[t], 12) for t in (0, 25, 50, 75)]  # two cycles, restarting at 50
        [1.0, 0.5, 1.0, 0.5]
    """
    multiplier = hard_restarts(
        {
            "total_steps": "num_training_steps",
            "warmup_steps": "num_warmup_steps",
            "min_rate": "min_lr_rate",
        },
        total_steps=num_training_steps,
        warmup_steps=num_warmup_steps,
        num_cycles=num_cycles,
        phi=phi,
        min_rate=min_lr_rate,
    )
    return LambdaLR(optimizer, multiplier, last_epoch)
