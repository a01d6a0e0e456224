"""What [`UBALR.load_state_dict`][uba_torch.UBALR.load_state_dict] does with a checkpoint of
another budget: the ``on_budget_change`` policies.

The HF ``Trainer`` rebuilds the scheduler from the new ``max_steps`` and then loads the
checkpoint inside ``warnings.catch_warnings``, re-issuing only some of the warnings it
caught (never a lone one, never a plain ``UserWarning``). So the outcome is said with
the ``logging`` module, which the Trainer leaves alone, and recorded on the scheduler
(``budget_change``); what cannot be done raises.
"""

from __future__ import annotations

import logging
from typing import Any

from uba_core._schedule import UBAConfig

POLICIES = ("adopt", "rebudget", "keep", "raise")
logger = logging.getLogger("uba_torch")


def check_policy(value: Any) -> str:
    """``value`` if it is one of the policies, else the error naming ``on_budget_change``."""
    if not isinstance(value, str) or value not in POLICIES:
        error = ValueError if isinstance(value, str) else TypeError
        raise error(
            f"Argument `on_budget_change` must be one of {', '.join(map(repr, POLICIES))}. "
            f"Received: on_budget_change={value!r} ({type(value).__name__})."
        )
    return value


def resolve(
    saved: list[UBAConfig], step: int, total: int, policy: str
) -> tuple[list[UBAConfig], dict[str, Any] | None]:
    """The checkpoint's configs ``saved`` (at ``step``) for a scheduler built with ``T_max=total``
    under ``policy``, and the record of what was done (None when the budgets are equal).

    Raises:
        ValueError: ``"raise"`` and the budgets differ; or the checkpoint's curve cannot be
            continued to ``total`` under ``"rebudget"`` (or under ``"adopt"``, when the
            checkpoint's decay is over and ``total`` asks for more steps).
    """
    old = saved[0].total_steps
    if old == total:
        return saved, None
    where = f"the checkpoint (T_max={old}, at step {step})"
    if policy == "raise":
        raise ValueError(
            f"UBALR.load_state_dict: the checkpoint's budget T_max={old} differs from this scheduler's "
            f"T_max={total} (on_budget_change='raise'). Build the scheduler with T_max={old} to resume as "
            f"planned, or with on_budget_change='adopt' to continue the checkpoint's curve to T_max={total}."
        )
    finished = step >= old
    if policy == "rebudget" and (finished or step >= total):
        raise ValueError(
            f"UBALR.load_state_dict cannot continue {where} to this scheduler's T_max={total} "
            "(on_budget_change='rebudget'): "
            + (
                "its decay is over (the rate holds its floor). To train on from there, build a new "
                "schedule, or keep the floor with on_budget_change='keep'."
                if finished
                else f"the new T_max={total} must be > the checkpoint's step {step}."
            )
        )
    if policy == "adopt" and finished and step < total:
        raise ValueError(
            f"UBALR.load_state_dict cannot extend {where} to this scheduler's T_max={total} "
            "(on_budget_change='adopt'): its decay is over, the rate holds its floor, and there is no "
            "decay left to spread over the new steps. To extend a run, resume from a checkpoint before "
            f"step {old}; to train on at the floor, build the scheduler with on_budget_change='keep'; to "
            "decay again, start a new schedule for the extra steps without loading this state."
        )
    record = {"step": step, "checkpoint_T_max": old, "T_max": total, "on_budget_change": policy}
    if policy in ("adopt", "rebudget") and step < total:
        record["action"] = "continued"
        logger.warning(
            "UBALR.load_state_dict: continuing %s to this scheduler's T_max=%d (on_budget_change=%r): "
            "the rate is continuous at step %d and reaches eta_min at step %d. Build it with "
            "on_budget_change='keep' to keep the checkpoint's budget instead.",
            where,
            total,
            policy,
            step,
            total,
        )
        return [cfg.rebudget(step, total) for cfg in saved], record
    record["action"] = "kept"
    reason = "as asked" if policy == "keep" else f"this T_max={total} leaves no step after the checkpoint's"
    logger.warning(
        "UBALR.load_state_dict: keeping the budget of %s, not this scheduler's T_max=%d (on_budget_change=%r, %s).",
        where,
        total,
        policy,
        reason,
    )
    return saved, record
