"""``UBALR``, the UBA curve as a torch ``LRScheduler``."""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Literal

from uba_core._schedule import DEFAULT_PHI, CurveCache, UBAConfig, check_config, make_config
from uba_core._validation import check_int, per_group, require_framework
from uba_torch._budget import check_policy, resolve
from uba_torch._compose import carried_factor, factors_before, holds, like_lr

if TYPE_CHECKING:
    import torch
else:
    torch = require_framework("torch", "torch")
from torch.optim.lr_scheduler import LRScheduler

# The budget warning is attributed to the first frame outside these folders, the code that
# called step(): accelerate (imported by transformers too) ignores every UserWarning whose
# module is torch.optim.lr_scheduler, where a fixed stacklevel would point.
_INTERNAL = tuple(
    os.path.dirname(os.path.abspath(f)) + os.sep
    for f in (__file__, sys.modules[LRScheduler.__module__].__file__)
    if f is not None
)

_NAMES = {"total_steps": "T_max", "min_lr": "eta_min"}


class UBABudgetWarning(UserWarning):
    """A [`UBALR`][uba_torch.UBALR] was stepped past its budget ``T_max``; the rate holds the floor.

    Training on at the floor is how a wrong budget shows up: accelerate steps a
    prepared scheduler once per process per update (unless ``split_batches``), and
    gradient accumulation or skipped ``GradScaler`` steps shift the count. Filter it
    (``warnings.simplefilter("ignore", UBABudgetWarning)``) when training past the
    budget is intended, or turn it into an error with ``"error"``.
    """


class UBALR(LRScheduler):
    r"""UBA schedule for every param group, a drop-in for ``CosineAnnealingLR``.

    Same positional arguments as ``CosineAnnealingLR(optimizer, T_max, eta_min,
    last_epoch)``; the UBA knobs are keyword-only. The k-th ``optimizer.step()``
    uses $\mathrm{lr}(k)$ of the core curve ([`uba_core.uba_lr`][uba_core.uba_lr]):
    building the scheduler writes $\mathrm{lr}(0)$, each ``scheduler.step()``
    after ``optimizer.step()`` writes the next value. With ``phi=2`` and no warmup it
    gives ``CosineAnnealingLR``'s curve; past ``T_max`` it holds ``eta_min`` (the
    built-in climbs back) and warns once with [`UBABudgetWarning`][uba_torch.UBABudgetWarning].

    Like the built-in, it composes: a change that something else makes to a group's
    ``lr`` between two steps (``ChainedScheduler`` with ``StepLR``, ``LinearLR``,
    ``ExponentialLR``; a ``ReduceLROnPlateau`` cut) is kept as a factor on the curve
    from then on, and so is a factor that a scheduler built before it on the same
    optimizer applied. Alone it writes the core curve exactly. A change made while the
    curve is 0 cannot be a factor and is overwritten. ``step(epoch)`` (and
    ``SequentialLR``'s hand-over) jump to the closed form, the curve without factors,
    as torch's closed forms do.

    When the budget changes during a run, [`rebudget`][uba_torch.UBALR.rebudget] and
    [`cooldown`][uba_torch.UBALR.cooldown] continue the curve from the current step to a
    new end; ``on_budget_change`` says what resuming a checkpoint with another ``T_max``
    does.

    Args:
        optimizer: The wrapped optimizer.
        T_max: Budget in scheduler steps, warmup and stable phase included (an integral
            float is accepted).
        eta_min: Floor, a float or one per param group. Above a group's ``lr`` the
            group's rate rises to it, as in ``CosineAnnealingLR``.
        last_epoch: As in torch. Resuming through the constructor with
            ``last_epoch=N`` applies $\mathrm{lr}(N + 1)$ (torch's rule); prefer
            ``load_state_dict``.
        phi: Shape, > 0 (2 is cosine; < 2 holds the rate high, > 2 drops early);
            default [`uba_core.DEFAULT_PHI`][uba_core.DEFAULT_PHI].
        warmup_steps: Linear warmup length inside ``T_max``.
        warmup_start_lr: Rate at step 0 when warming up, a float or one per group.
        peak_lr: Peak rate, a float or one per group. By default each group's
            ``initial_lr`` (its ``lr`` when the scheduler was first built); give it
            explicitly when a loaded optimizer state carries a stale ``initial_lr``.
        exponent: The shape is raised to this power (as in optax's cosine); 1 is UBA.
        stable_steps: Steps $S$ held at the peak after the warmup (warmup-stable-decay);
            the decay runs over the last ``T_max - warmup_steps - stable_steps`` steps.
        rebudgets: The re-budgets of a continued schedule, as in
            [`UBAConfig.rebudgets`][uba_core.UBAConfig]; written by ``rebudget`` and
            ``cooldown`` (and carried by ``from_uba_config``), empty for a planned one.
        on_budget_change: What ``load_state_dict`` does with a checkpoint whose budget
            differs from this scheduler's ``T_max`` (an HF ``Trainer`` resumed with another
            ``max_steps`` builds the scheduler with the new one, then loads the old).
            ``"adopt"`` (default): the budget asked for here wins; the checkpoint's curve
            continues from its step to this ``T_max`` (continuous at that step, at
            ``eta_min`` from ``T_max`` on); when this ``T_max`` is not beyond the
            checkpoint's step, there is nothing to adopt and the checkpoint's budget is
            kept; when the checkpoint's decay is over but this ``T_max`` asks for more
            steps, ``ValueError`` (it says how to extend a finished run).
            ``"rebudget"``: continue to this ``T_max``, and ``ValueError`` wherever that
            cannot be done. ``"keep"``: the checkpoint's budget wins, as in
            ``CosineAnnealingLR``. ``"raise"``: ``ValueError`` naming both budgets.
            Every change of budget is logged (``logging``, logger ``"uba_torch"``, which
            the ``Trainer`` does not swallow) and recorded in ``budget_change``; any other
            difference from the checkpoint warns, and the checkpoint's wins.

    A group added with ``optimizer.add_param_group`` later joins the curve at the
    current step with its own ``lr`` as its peak (``eta_min`` and ``warmup_start_lr``
    must then be single floats). Values written to param groups are Python floats, or are
    written into the group's tensor in place when its ``lr`` is a tensor (so ``torch.compile``
    does not recompile); a tensor ``lr`` is never read back to the host: its external
    factor is kept as a tensor on its device, so a step costs no device synchronisation
    and can be captured in a CUDA graph. ``state_dict()`` holds plain types
    (``torch.load(weights_only=True)`` reads it). ``load_state_dict`` continues with the
    checkpoint's schedule (warning if it differs from the one built; a different budget
    as ``on_budget_change`` says); a ``CosineAnnealingLR`` checkpoint continues its
    budget, floor and peaks with this scheduler's ``phi``.

    Raises:
        TypeError: ``optimizer`` is not a torch optimizer, an argument has the wrong type.
        ValueError: An argument is out of its domain (``warmup_steps + stable_steps``
            must be below ``T_max``; ``on_budget_change`` one of the four policies); the
            message names it and the value.

    Examples:
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> sched = UBALR(opt, 100, phi=4.0)
        >>> opt.step(); sched.step()
        >>> opt.param_groups[0]["lr"] == float(UBAConfig(total_steps=100, peak_lr=0.1, phi=4.0)(1))
        True
    """

    configs: list[UBAConfig]  # one per param group, in order
    budget_change: dict[str, Any] | None = None
    """What the last ``load_state_dict`` did with a checkpoint of another budget, or None:
    ``{"step", "checkpoint_T_max", "T_max", "on_budget_change", "action"}``, ``action``
    being ``"continued"`` (to ``T_max``) or ``"kept"`` (the checkpoint's budget). Not saved
    in ``state_dict``."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_max: int,
        eta_min: float | list[float] = 0.0,
        last_epoch: int = -1,
        *,
        phi: float = DEFAULT_PHI,
        warmup_steps: int = 0,
        warmup_start_lr: float | list[float] = 0.0,
        peak_lr: float | list[float] | None = None,
        exponent: float = 1.0,
        stable_steps: int = 0,
        rebudgets: Sequence[tuple[int, float]] = (),
        on_budget_change: Literal["adopt", "rebudget", "keep", "raise"] = "adopt",
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "Argument `optimizer` must be a torch.optim.Optimizer. "
                f"Received: optimizer={optimizer!r} ({type(optimizer).__name__})."
            )
        check_int("last_epoch", last_epoch, minimum=-1)
        check_policy(on_budget_change)
        count = len(optimizer.param_groups)
        lists = {
            "peak_lr": per_group("peak_lr", peak_lr, count),
            "min_lr": per_group("eta_min", eta_min, count),
            "warmup_start_lr": per_group("warmup_start_lr", warmup_start_lr, count),
        }
        shared = {
            "total_steps": T_max,
            "phi": phi,
            "warmup_steps": warmup_steps,
            "exponent": exponent,
            "stable_steps": stable_steps,
            "rebudgets": rebudgets,
        }
        self.configs = [
            _group_config(i, group, {**shared, **{k: v[i] for k, v in lists.items()}})
            for i, group in enumerate(optimizer.param_groups)
        ]
        # A group added later joins with its own lr as its peak and the shared floor and
        # warmup start, which needs those to be single values.
        self._groups_can_join = not any(isinstance(v, list | tuple) for v in (eta_min, warmup_start_lr))
        self._curves = [CurveCache(cfg) for cfg in self.configs]
        # External factors on each group's curve, and what this scheduler last wrote: floats,
        # or tensors where a group's lr is a tensor (see uba_torch._compose).
        self._ratios: list[Any] = [1.0] * count
        self._written: list[Any] | None = None
        self._past_budget_warned = False
        self._on_budget_change = on_budget_change  # the loader's choice: not in state_dict
        # A scheduler built before this one on the same optimizer (LinearLR(0.4), say) has
        # scaled the lrs already; the first step keeps that factor, as the built-in keeps the lr.
        self._after_another = hasattr(optimizer.step, "_wrapped_by_lr_sched")
        super().__init__(optimizer, last_epoch)
        del self._after_another

    @classmethod
    def from_uba_config(
        cls,
        optimizer: torch.optim.Optimizer,
        config: UBAConfig,
        last_epoch: int = -1,
        *,
        on_budget_change: Literal["adopt", "rebudget", "keep", "raise"] = "adopt",
    ) -> UBALR:
        """Build from a [`uba_core.UBAConfig`][uba_core.UBAConfig]; every param group gets its curve.

        Every group's config is ``config`` itself (its peak included), stable phase and
        re-budgets too. ``last_epoch`` and ``on_budget_change`` are as in the constructor.

        Raises:
            TypeError: ``config`` is not a ``UBAConfig``.
        """
        check_config(config)
        c = config
        return cls(
            optimizer,
            c.total_steps,
            c.min_lr,
            last_epoch,
            phi=c.phi,
            warmup_steps=c.warmup_steps,
            warmup_start_lr=c.warmup_start_lr,
            peak_lr=c.peak_lr,
            exponent=c.exponent,
            stable_steps=c.stable_steps,
            rebudgets=c.rebudgets,
            on_budget_change=on_budget_change,
        )

    @property
    def T_max(self) -> int:
        """The budget, warmup and stable phase included (as in ``CosineAnnealingLR``); the new
        one after [`rebudget`][uba_torch.UBALR.rebudget] or [`cooldown`][uba_torch.UBALR.cooldown]."""
        return self.configs[0].total_steps

    @property
    def eta_min(self) -> float | list[float]:
        """The floor: one float, or one per param group where they differ."""
        floors = [cfg.min_lr for cfg in self.configs]
        return floors[0] if len(set(floors)) == 1 else floors

    @property
    def phi(self) -> float:
        return self.configs[0].phi

    def rebudget(self, total_steps: int) -> None:
        r"""Continue the schedule from the current step (``last_epoch``) with the budget ``total_steps``.

        Every group's config becomes ``config.rebudget(last_epoch, total_steps)``
        ([`UBAConfig.rebudget`][uba_core.UBAConfig.rebudget]): the rates the optimizer
        holds now stay as they are, the rest of the decay keeps the UBA shape and
        reaches ``eta_min`` exactly at the new total, longer or shorter. In the warmup
        or stable phase only the budget changes. External factors carry on.

        Args:
            total_steps: The new budget, all steps from 0, ``> last_epoch``.

        Raises:
            TypeError: ``total_steps`` is not an integer.
            ValueError: ``total_steps`` is not above the current step or leaves the
                warmup and stable phase no decay, or the scheduler has reached ``T_max``
                (its decay is over). Nothing changes then.

        Examples:
            >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
            >>> sched = UBALR(opt, 100)
            >>> for _ in range(50):
            ...     opt.step(); sched.step()
            >>> sched.rebudget(150)
            >>> opt.param_groups[0]["lr"] == float(UBAConfig(total_steps=100, peak_lr=1.0)(50)), sched.T_max
            (True, 150)
        """
        total = check_int("total_steps", total_steps, minimum=1, integral_float=True)
        t = self._decay_left("rebudget")
        if total <= t:
            raise ValueError(
                "Argument `total_steps` must be > the scheduler's current step (the new budget continues "
                f"after it). Received: total_steps={total!r} at last_epoch={t}."
            )
        self._use([cfg.rebudget(t, total) for cfg in self.configs])

    def cooldown(self, steps: int) -> None:
        r"""Decay to ``eta_min`` over the next ``steps`` steps, from the current step (``last_epoch``).

        Every group's config becomes ``config.cooldown(last_epoch, steps)``
        ([`UBAConfig.cooldown`][uba_core.UBAConfig.cooldown]). From the stable phase
        (a run built with a long ``stable_steps``) the UBA decay starts from the peak now;
        inside the decay this is ``rebudget(last_epoch + steps)``. The rates the optimizer
        holds now stay as they are; ``T_max`` becomes ``last_epoch + steps``.

        Args:
            steps: Length of the cooldown, >= 1.

        Raises:
            TypeError: ``steps`` is not an integer.
            ValueError: ``steps`` < 1, or the scheduler is still in its warmup or has
                reached ``T_max``. Nothing changes then.

        Examples:
            >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
            >>> sched = UBALR(opt, 10**6, stable_steps=10**6 - 1)
            >>> for _ in range(1000):
            ...     opt.step(); sched.step()
            >>> sched.cooldown(200)
            >>> sched.T_max, sched.configs[0].stable_steps
            (1200, 1000)
        """
        steps = check_int("steps", steps, minimum=1, integral_float=True)
        t = self._decay_left("cooldown")
        warmup = self.configs[0].warmup_steps
        if t < warmup:
            raise ValueError(
                f"UBALR.cooldown starts at or after the warmup's end: the scheduler is at step {t} < "
                f"warmup_steps={warmup}."
            )
        self._use([cfg.cooldown(t, steps) for cfg in self.configs])

    def _decay_left(self, method: str) -> int:
        """The current step, checked to be before ``T_max`` (else there is no decay to continue)."""
        t = self.last_epoch
        if t >= self.T_max:
            raise ValueError(
                f"UBALR.{method}: the scheduler is at step {t} >= T_max={self.T_max}; its decay is over and "
                "the rate holds eta_min, so there is nothing to continue. Build a new schedule instead."
            )
        return t

    def _use(self, configs: list[UBAConfig]) -> None:
        """Replace every group's config; the rates written so far (and the factors) stay."""
        self.configs = configs
        self._curves = [CurveCache(cfg) for cfg in configs]

    def get_lr(self) -> list[float | torch.Tensor]:
        """The rates of the current step, a float per group or a tensor where the group's lr is
        one (``step()`` writes it into that tensor in place); called by ``step()``.

        Called from outside ``step()`` it warns, as torch's schedulers do, and
        changes nothing; use ``get_last_lr()``.
        """
        t = self.last_epoch
        if not self._get_lr_called_within_step:
            warnings.warn(
                "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
                UserWarning,
                stacklevel=2,
            )
            return [curve(t) * r for curve, r in zip(self._curves, self._ratios, strict=True)]
        groups = self.optimizer.param_groups
        if len(groups) != len(self._curves):
            self._adopt_new_groups()
        written, ratios = self._written, self._ratios
        values = []
        for i, curve in enumerate(self._curves):
            if written is not None:  # keep what changed the group's lr since the last step
                lr, w = groups[i]["lr"], written[i]
                if lr is not w:  # a float lr left alone is the very object written
                    ratios[i] = carried_factor(lr, w, ratios[i])
            values.append(curve(t) * ratios[i])
        if t > self.configs[0].total_steps:
            self._past_budget(t)
        self._written = values
        return values

    def _get_closed_form_lr(self) -> list[float | torch.Tensor]:
        # step(epoch) and SequentialLR's hand-over: the curve itself, as torch's closed
        # forms give theirs from base_lrs alone (torch calls this inside step()).
        self._ratios = self._in_group_types([1.0] * len(self._ratios))
        self._written = None
        return self.get_lr()

    def _past_budget(self, t: int) -> None:
        if not self._past_budget_warned:
            self._past_budget_warned = True
            change = self.budget_change
            resumed = (
                f" It resumed a checkpoint of another budget: T_max={change['checkpoint_T_max']} at step "
                f"{change['step']}, built here with T_max={change['T_max']}; the checkpoint's budget was "
                f"kept (on_budget_change={change['on_budget_change']!r})."
                if change is not None and change["action"] == "kept"
                else ""
            )
            warnings.warn(
                f"UBALR was stepped past its budget: step {t} > T_max={self.T_max}. The rate "
                f"holds the floor from here (eta_min, times any external factor).{resumed} If the budget "
                "is meant to cover the whole run, check that the scheduler is stepped once per "
                "optimizer update (accelerate steps a prepared scheduler once per process; "
                "gradient accumulation and skipped GradScaler steps change the count).",
                UBABudgetWarning,
                stacklevel=_caller_stacklevel(),
            )

    def _adopt_new_groups(self) -> None:
        groups = self.optimizer.param_groups
        for i in range(len(self.configs), len(groups)):
            if not self._groups_can_join:
                raise ValueError(
                    f"optimizer.param_groups[{i}] was added after UBALR was built with one "
                    "`eta_min` or `warmup_start_lr` per group: give those as single floats to let "
                    "added groups follow the schedule, or build a new UBALR."
                )
            group = groups[i]
            lr = group["lr"]
            group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
            self.configs.append(_group_config(i, group, {**self.configs[0].to_dict(), "peak_lr": None}))
            self._curves.append(CurveCache(self.configs[-1]))
            self.base_lrs.append(group["initial_lr"])
            self._ratios.append(like_lr(1.0, lr))
            if self._written is not None:
                self._written.append(like_lr(lr, lr))

    def _initial_step(self) -> None:
        # A (re)start, also when SequentialLR restarts it (after resetting every lr to its
        # initial_lr): only a factor applied before this scheduler was built carries over.
        self._written = None
        ratios = [1.0] * len(self._ratios)
        if self.last_epoch == -1 and getattr(self, "_after_another", False):
            ratios = factors_before(self.optimizer.param_groups)
        self._ratios = self._in_group_types(ratios)
        super()._initial_step()

    def _in_group_types(self, values: list[Any]) -> list[Any]:
        """``values``, one per group, as tensors where the group's lr is a tensor, else floats."""
        groups = self.optimizer.param_groups  # a group added later joins in get_lr
        return [like_lr(v, g["lr"]) for v, g in zip(values, groups, strict=False)] + values[len(groups) :]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        del state["_curves"], state["_on_budget_change"]
        state.pop("budget_change", None)  # what the last load did: this object's, not the run's
        state["_ratios"] = [float(r) for r in self._ratios]
        if self._written is not None:
            state["_written"] = [float(w) for w in self._written]
        state["configs"] = [cfg.to_dict() for cfg in self.configs]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a ``UBALR`` (or ``CosineAnnealingLR``) checkpoint; the next ``step()``
        writes the rate of the checkpoint's next step.

        The checkpoint's schedule wins over the one this scheduler was built with, but for
        the budget, which is handled as ``on_budget_change`` says (this scheduler's
        policy, never the checkpoint's), logged, and recorded in ``budget_change``; other
        differences warn.

        Raises:
            ValueError: The state is not a ``UBALR`` or ``CosineAnnealingLR`` state; or the
                budgets differ and ``on_budget_change`` is ``"raise"``, or the checkpoint's
                curve cannot be continued to this ``T_max`` under ``"rebudget"`` or
                ``"adopt"`` (see the constructor). Nothing changes then.
        """
        state = dict(state_dict)
        state.pop("_on_budget_change", None)  # the policy is this scheduler's, never the checkpoint's
        state.pop("budget_change", None)
        # Groups that still hold what this scheduler wrote when it was built: the optimizer's
        # state was loaded before it (or not at all), and building wrote lr(0) over the
        # checkpoint's rates. They get the checkpoint's rates back below.
        groups = self.optimizer.param_groups
        overwritten = (
            self._written is not None
            and len(groups) == len(self._written)
            and all(holds(group["lr"], w) for group, w in zip(groups, self._written, strict=True))
        )
        if "configs" in state:
            saved = [UBAConfig.from_dict(d) for d in state.pop("configs")]
            # a checkpoint of version 0.1 carries no factors: it wrote the curve itself
            state.setdefault("_ratios", [1.0] * len(saved))
            state.setdefault("_written", [float(lr) for lr in state["_last_lr"]])
            saved, record = resolve(saved, state["last_epoch"], self.T_max, self._on_budget_change)
            if self._differs(saved, record):
                warnings.warn(
                    "UBALR.load_state_dict: the checkpoint's schedule differs from this "
                    "scheduler's; continuing with the checkpoint's.\n"
                    f"  checkpoint: {[c.to_dict() for c in saved]}\n"
                    f"  this scheduler: {[c.to_dict() for c in self.configs]}",
                    UserWarning,
                    stacklevel=2,
                )
        elif "T_max" in state and "eta_min" in state:  # a CosineAnnealingLR checkpoint
            T_max, eta_min = state.pop("T_max"), state.pop("eta_min")
            saved = [
                make_config(_NAMES, total_steps=T_max, peak_lr=float(base), phi=self.phi, min_lr=eta_min)
                for base in state["base_lrs"]
            ]
            warnings.warn(
                f"UBALR.load_state_dict: loading a CosineAnnealingLR checkpoint (T_max={T_max}, "
                f"eta_min={eta_min}, step {state['last_epoch']}); continuing it with phi={self.phi} "
                "(phi=2 continues the same cosine curve).",
                UserWarning,
                stacklevel=2,
            )
            saved, record = resolve(saved, state["last_epoch"], self.T_max, self._on_budget_change)
            state["_ratios"] = [1.0] * len(saved)
            state["_written"] = [float(lr) for lr in state["_last_lr"]]
            state["_past_budget_warned"] = state["last_epoch"] > saved[0].total_steps
            state["_groups_can_join"] = True
        else:
            raise ValueError(
                "UBALR.load_state_dict takes the state of a UBALR or of a CosineAnnealingLR. "
                f"Received a state with keys {sorted(state)}."
            )
        super().load_state_dict(state)
        self.budget_change = record
        self.configs = saved
        self._curves = [CurveCache(cfg) for cfg in saved]
        self._ratios = self._in_group_types(self._ratios)
        if self._written is not None:
            self._written = self._in_group_types(self._written)
        if overwritten and self._written is not None:
            for group, w in zip(groups, self._written, strict=True):
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"].fill_(w)
                else:
                    group["lr"] = w

    def _differs(self, saved: list[UBAConfig], record: dict[str, Any] | None) -> bool:
        """Whether the checkpoint's configs ``saved`` (after the policy) differ from this scheduler's
        in what warns: anything under "keep"; where the policy continued the checkpoint to this
        budget, or the budgets were equal, anything but the re-budgets that led it there."""
        if self._on_budget_change == "keep" or (record is not None and record["action"] == "kept"):
            return saved != self.configs
        return [dataclasses.replace(c, rebudgets=()) for c in saved] != [
            dataclasses.replace(c, rebudgets=()) for c in self.configs
        ]


def _group_config(i: int, group: dict[str, Any], fields: dict[str, Any]) -> UBAConfig:
    """The config of param group ``i``; a peak of None is the group's initial_lr (torch's rule)."""
    names = dict(_NAMES)
    if fields["peak_lr"] is None:
        fields = {**fields, "peak_lr": group.get("initial_lr", group["lr"])}
        names["peak_lr"] = f"optimizer.param_groups[{i}]['lr']"
    return make_config(names, **fields)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside uba_torch and torch.optim."""
    frame: FrameType | None = sys._getframe(2)  # the frame that calls warnings.warn is level 1
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level
