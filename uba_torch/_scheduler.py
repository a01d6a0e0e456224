"""``UBALR``, the UBA curve as a torch ``LRScheduler``, and the transformers-style factory."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType
from typing import TYPE_CHECKING, Any

from uba_core._schedule import DEFAULT_PHI, CurveCache, UBAConfig, make_config
from uba_core._validation import check_int, per_group, require_framework

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

    Args:
        optimizer: The wrapped optimizer.
        T_max: Budget in scheduler steps, warmup included (an integral float is accepted).
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

    A group added with ``optimizer.add_param_group`` later joins the curve at the
    current step with its own ``lr`` as its peak (``eta_min`` and ``warmup_start_lr``
    must then be single floats). Values written to param groups are Python floats, or are copied
    into the group's tensor when its ``lr`` is a tensor (so ``torch.compile`` does
    not recompile; to keep external factors, each step reads a tensor ``lr`` back,
    one device synchronisation per group on a GPU). ``state_dict()`` holds plain types
    (``torch.load(weights_only=True)`` reads it). ``load_state_dict`` continues with the checkpoint's schedule (warning
    if it differs from the one built); a ``CosineAnnealingLR`` checkpoint continues
    its budget, floor and peaks with this scheduler's ``phi``.

    Examples:
        >>> model = torch.nn.Linear(2, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> sched = UBALR(opt, 100, phi=4.0)
        >>> opt.step(); sched.step()
        >>> opt.param_groups[0]["lr"] == float(UBAConfig(total_steps=100, peak_lr=0.1, phi=4.0)(1))
        True
    """

    configs: list[UBAConfig]  # one per param group, in order

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
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "Argument `optimizer` must be a torch.optim.Optimizer. "
                f"Received: optimizer={optimizer!r} ({type(optimizer).__name__})."
            )
        check_int("last_epoch", last_epoch, minimum=-1)
        count = len(optimizer.param_groups)
        lists = {
            "peak_lr": per_group("peak_lr", peak_lr, count),
            "min_lr": per_group("eta_min", eta_min, count),
            "warmup_start_lr": per_group("warmup_start_lr", warmup_start_lr, count),
        }
        shared = {"total_steps": T_max, "phi": phi, "warmup_steps": warmup_steps, "exponent": exponent}
        self.configs = [
            _group_config(i, group, {**shared, **{k: v[i] for k, v in lists.items()}})
            for i, group in enumerate(optimizer.param_groups)
        ]
        # A group added later joins with its own lr as its peak and the shared floor and
        # warmup start, which needs those to be single values.
        self._groups_can_join = not any(isinstance(v, list | tuple) for v in (eta_min, warmup_start_lr))
        self._curves = [CurveCache(cfg) for cfg in self.configs]
        self._ratios = [1.0] * count  # external factors on each group's curve
        self._written: list[float] | None = None  # what this scheduler last wrote
        self._past_budget_warned = False
        # A scheduler built before this one on the same optimizer (LinearLR(0.4), say) has
        # scaled the lrs already; the first step keeps that factor, as the built-in keeps the lr.
        self._after_another = hasattr(optimizer.step, "_wrapped_by_lr_sched")
        super().__init__(optimizer, last_epoch)
        del self._after_another

    @classmethod
    def from_uba_config(cls, optimizer: torch.optim.Optimizer, config: UBAConfig, last_epoch: int = -1) -> UBALR:
        """Build from a [`uba_core.UBAConfig`][uba_core.UBAConfig]; every param group gets its curve."""
        if not isinstance(config, UBAConfig):
            raise TypeError(
                f"Argument `config` must be a UBAConfig. Received: config={config!r} ({type(config).__name__})."
            )
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
        )

    @property
    def T_max(self) -> int:
        """The budget, warmup included (as in ``CosineAnnealingLR``)."""
        return self.configs[0].total_steps

    @property
    def eta_min(self) -> float | list[float]:
        """The floor: one float, or one per param group where they differ."""
        floors = [cfg.min_lr for cfg in self.configs]
        return floors[0] if len(set(floors)) == 1 else floors

    @property
    def phi(self) -> float:
        return self.configs[0].phi

    # torch annotates get_lr as list[float | Tensor]; this one returns Python floats only, and
    # list is invariant, so the narrower (true) return type needs the ignore.
    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The rates of the current step; called by ``step()``.

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
                if lr != w:
                    lr = _value(lr, w)
                    if lr != w and w != 0.0:
                        ratios[i] *= lr / w
            values.append(curve(t) * ratios[i])
        if t > self.configs[0].total_steps:
            self._past_budget(t)
        self._written = values
        return values

    def _get_closed_form_lr(self) -> list[float]:
        # step(epoch) and SequentialLR's hand-over: the curve itself, as torch's closed
        # forms give theirs from base_lrs alone (torch calls this inside step()).
        self._ratios = [1.0] * len(self._ratios)
        self._written = None
        return self.get_lr()

    def _past_budget(self, t: int) -> None:
        if not self._past_budget_warned:
            self._past_budget_warned = True
            warnings.warn(
                f"UBALR was stepped past its budget: step {t} > T_max={self.T_max}. The rate "
                "holds the floor from here (eta_min, times any external factor). If the budget "
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
            self._ratios.append(1.0)
            if self._written is not None:
                self._written.append(float(group["lr"]))

    def _initial_step(self) -> None:
        # A (re)start, also when SequentialLR restarts it (after resetting every lr to its
        # initial_lr): only a factor applied before this scheduler was built carries over.
        self._written = None
        self._ratios = [1.0] * len(self._ratios)
        if self.last_epoch == -1 and getattr(self, "_after_another", False):
            for i, group in enumerate(self.optimizer.param_groups):
                lr, initial = float(group["lr"]), float(group["initial_lr"])
                if lr != initial and lr != 0.0 and initial != 0.0:  # a 0 factor could never lift
                    self._ratios[i] = lr / initial
        super()._initial_step()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        del state["_curves"]
        state["configs"] = [cfg.to_dict() for cfg in self.configs]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        # Groups that still hold what this scheduler wrote when it was built: the optimizer's
        # state was loaded before it (or not at all), and building wrote lr(0) over the
        # checkpoint's rates. They get the checkpoint's rates back below.
        groups = self.optimizer.param_groups
        overwritten = (
            self._written is not None
            and len(groups) == len(self._written)
            and all(_value(group["lr"], w) == w for group, w in zip(groups, self._written, strict=True))
        )
        if "configs" in state:
            saved = [UBAConfig.from_dict(d) for d in state.pop("configs")]
            # a checkpoint of version 0.1 carries no factors: it wrote the curve itself
            state.setdefault("_ratios", [1.0] * len(saved))
            state.setdefault("_written", [float(lr) for lr in state["_last_lr"]])
            if saved != self.configs:
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
            state["_ratios"] = [1.0] * len(saved)
            state["_written"] = [float(lr) for lr in state["_last_lr"]]
            state["_past_budget_warned"] = state["last_epoch"] > T_max
            state["_groups_can_join"] = True
        else:
            raise ValueError(
                "UBALR.load_state_dict takes the state of a UBALR or of a CosineAnnealingLR. "
                f"Received a state with keys {sorted(state)}."
            )
        super().load_state_dict(state)
        self.configs = saved
        self._curves = [CurveCache(cfg) for cfg in saved]
        if overwritten and self._written is not None:
            for group, w in zip(groups, self._written, strict=True):
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"].fill_(w)
                else:
                    group["lr"] = w


def _group_config(i: int, group: dict[str, Any], fields: dict[str, Any]) -> UBAConfig:
    """The config of param group ``i``; a peak of None is the group's initial_lr (torch's rule)."""
    names = dict(_NAMES)
    if fields["peak_lr"] is None:
        fields = {**fields, "peak_lr": group.get("initial_lr", group["lr"])}
        names["peak_lr"] = f"optimizer.param_groups[{i}]['lr']"
    return make_config(names, **fields)


def _value(lr: Any, written: float) -> float:
    """A group's lr as a float: ``written`` if it holds ``written`` (a tensor holds it rounded
    to its dtype); an int or numpy lr is its value."""
    if isinstance(lr, torch.Tensor) and bool(lr == torch.tensor(written, dtype=lr.dtype)):
        return written
    return float(lr)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside uba_torch and torch.optim."""
    frame: FrameType | None = sys._getframe(2)  # the frame that calls warnings.warn is level 1
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame, level = frame.f_back, level + 1
    return level


def get_uba_schedule_with_warmup(
    optimizer: torch.optim.Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    *,
    phi: float = DEFAULT_PHI,
    min_lr: float = 0.0,
    last_epoch: int = -1,
) -> UBALR:
    r"""UBA with linear warmup from 0, named and ordered like transformers' schedule factories.

    ``get_cosine_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps)``
    gives the same rates as this with ``phi=2``. The result is a [`UBALR`][uba_torch.UBALR], so
    the HF ``Trainer`` saves it and reloads it with ``weights_only=True``.

    Args:
        optimizer: The optimizer; each group's ``lr`` is its peak.
        num_warmup_steps: Warmup length, from 0 to the peak.
        num_training_steps: Budget in optimizer updates, warmup included.
        phi: Shape, > 0 (2 is cosine).
        min_lr: Floor reached at ``num_training_steps``.
        last_epoch: As in torch; keyword-only, because transformers' cosine factories
            have ``num_cycles`` in that place.

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
        {"total_steps": "num_training_steps", "warmup_steps": "num_warmup_steps"},
        total_steps=num_training_steps,
        warmup_steps=num_warmup_steps,
        peak_lr=0.0,
        phi=phi,
        min_lr=min_lr,
    )
    return UBALR(optimizer, num_training_steps, min_lr, last_epoch, phi=phi, warmup_steps=num_warmup_steps)
