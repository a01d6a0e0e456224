"""``UBAWarmRestarts``, the UBA curve with warm restarts as a torch ``LRScheduler``."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from uba_core._restarts import RestartCache, RestartConfig, make_restart_config
from uba_core._schedule import DEFAULT_PHI
from uba_core._validation import check_int, check_real, per_group, require_framework

if TYPE_CHECKING:
    import torch
else:
    torch = require_framework("torch", "torch")
from torch.optim.lr_scheduler import LRScheduler

_NAMES = {"first_steps": "T_0", "t_mul": "T_mult", "min_lr": "eta_min"}


class UBAWarmRestarts(LRScheduler):
    r"""UBA decay restarted every cycle, a drop-in for ``CosineAnnealingWarmRestarts``.

    Same positional arguments as ``CosineAnnealingWarmRestarts(optimizer, T_0, T_mult,
    eta_min, last_epoch)``; ``phi`` is keyword-only. Cycle $i$ lasts
    $T_i = T_0 \cdot T_{mult}^i$ steps; in it the rate decays from each group's initial
    ``lr`` to ``eta_min`` with the UBA shape
    ([`uba_core.RestartConfig`][uba_core.RestartConfig]); at the next cycle's first step it
    is back at the peak. ``phi=2`` gives the built-in's curve. Each ``step()`` after
    ``optimizer.step()`` moves one step on; ``step(epoch)`` jumps to ``epoch``, which may be
    fractional (``scheduler.step(epoch + i / iters)`` inside an epoch), and plain ``step()``
    calls then go on from there, as in the built-in.

    Like the built-in it writes its closed form every step (a change another scheduler made
    to the lr does not carry over). ``T_i`` and ``T_cur`` (the position in the current
    cycle, settable as in the built-in) are read from the position; ``last_epoch`` is its
    integer part. ``state_dict()`` holds plain types only.

    Args:
        optimizer: The wrapped optimizer.
        T_0: Length of the first cycle, an integer >= 1 (an integral float is accepted).
        T_mult: Factor from one cycle's length to the next, an integer >= 1 (an integral
            float is accepted).
        eta_min: Floor, a float or one per param group, >= 0.
        last_epoch: As in torch: ``last_epoch=N`` resumes at step ``N + 1``.
        phi: Shape, > 0 (2 is cosine); default [`uba_core.DEFAULT_PHI`][uba_core.DEFAULT_PHI].

    Raises:
        TypeError: ``optimizer`` is not a torch optimizer, or an argument has the wrong type
            (``T_0`` and ``T_mult`` must be integers, as in the built-in, which also refuses
            ``10.0``).
        ValueError: An argument is out of its domain; the message names it and the value.

    Examples:
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=1.0)
        >>> sched = UBAWarmRestarts(opt, T_0=10, T_mult=2, phi=2.0)
        >>> rates = []
        >>> for _ in range(31):
        ...     rates.append(round(opt.param_groups[0]["lr"], 6)); opt.step(); sched.step()
        >>> rates[0], rates[5], rates[10], rates[20], rates[30], sched.T_i
        (1.0, 0.5, 1.0, 0.5, 1.0, 40)
    """

    configs: list[RestartConfig]  # one per param group, in order
    last_epoch: int  # the integer part of the position, as in the built-in

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float | list[float] = 0.0,
        last_epoch: int = -1,
        *,
        phi: float = DEFAULT_PHI,
    ) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                "Argument `optimizer` must be a torch.optim.Optimizer. "
                f"Received: optimizer={optimizer!r} ({type(optimizer).__name__})."
            )
        T_mult = check_int("T_mult", T_mult, minimum=1, integral_float=True)  # T_0: the core checks it
        check_int("last_epoch", last_epoch, minimum=-1)
        floors = per_group("eta_min", eta_min, len(optimizer.param_groups))
        if last_epoch == -1:  # torch's rule, also used by super().__init__: the peak is initial_lr
            for group in optimizer.param_groups:
                lr = group["lr"]
                group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
        self.configs = []
        for i, (group, floor) in enumerate(zip(optimizer.param_groups, floors, strict=True)):
            names = {**_NAMES, "peak_lr": f"optimizer.param_groups[{i}]['lr']"}
            peak = group.get("initial_lr", group["lr"])
            self.configs.append(
                make_restart_config(names, first_steps=T_0, t_mul=T_mult, peak_lr=peak, min_lr=floor, phi=phi)
            )
        self._curves = [RestartCache(cfg) for cfg in self.configs]
        self._position = float(last_epoch)  # the step on the restart schedule; fractional after step(1.5)
        super().__init__(optimizer, last_epoch)

    @property
    def T_0(self) -> int:
        """The length of the first cycle."""
        return self.configs[0].first_steps

    @property
    def T_mult(self) -> int:
        """The factor from one cycle's length to the next."""
        return int(self.configs[0].t_mul)

    @property
    def eta_min(self) -> float | list[float]:
        """The floor: one float, or one per param group where they differ."""
        floors = [cfg.min_lr for cfg in self.configs]
        return floors[0] if len(set(floors)) == 1 else floors

    @property
    def phi(self) -> float:
        """The shape of every cycle's decay."""
        return self.configs[0].phi

    @property
    def T_i(self) -> int:
        """The length of the current cycle."""
        return int(self.configs[0].cycle(max(self._position, 0.0))[2])

    @property
    def T_cur(self) -> float:
        """Steps since the last restart (fractional after a fractional ``step(epoch)``)."""
        position = self.configs[0].cycle(max(self._position, 0.0))[1]
        return int(position) if float(position).is_integer() else position

    @T_cur.setter
    def T_cur(self, value: float) -> None:
        # The built-in keeps T_cur as state; here it moves the position inside the current cycle.
        value = check_real("T_cur", value, minimum=0.0)
        self._position += value - self.configs[0].cycle(max(self._position, 0.0))[1]

    def step(self, epoch: float | None = None) -> None:
        """Move one step on, or to ``epoch`` (fractional allowed, >= 0), and write the rates.

        Raises:
            TypeError, ValueError: ``epoch`` is not a finite number >= 0.
        """
        if epoch is None:
            self._position = 0.0 if self.last_epoch < 0 else self._position + 1.0
        else:
            self._position = check_real("epoch", epoch, minimum=0.0)
        # As the built-in's step(): no step-order check (step(epoch) needs no optimizer step).
        self.last_epoch = math.floor(self._position)
        self._step_count += 1
        for group, lr in zip(self.optimizer.param_groups, self._rates(), strict=True):
            if isinstance(group["lr"], torch.Tensor):
                group["lr"].fill_(lr)  # in place: a compiled step keeps reading the same tensor
            else:
                group["lr"] = lr
        self._last_lr = [
            g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else g["lr"] for g in self.optimizer.param_groups
        ]

    # torch annotates get_lr as list[float | Tensor]; this one returns Python floats only, and
    # list is invariant, so the narrower (true) return type needs the ignore.
    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The rates at the current position. ``step()`` computes them itself: called from
        outside it, this warns as torch's schedulers do (use ``get_last_lr()``)."""
        warnings.warn(
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`.",
            UserWarning,
            stacklevel=2,
        )
        return self._rates()

    def _rates(self) -> list[float]:
        return [curve(self._position) for curve in self._curves]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        del state["_curves"]
        state["configs"] = [cfg.to_dict() for cfg in self.configs]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from a ``UBAWarmRestarts`` checkpoint (its schedule wins over the one built).

        Raises:
            ValueError: The state is not a ``UBAWarmRestarts`` state.
        """
        state = dict(state_dict)
        if "configs" not in state or "_position" not in state:
            raise ValueError(
                f"UBAWarmRestarts.load_state_dict takes the state of a UBAWarmRestarts. Received a state "
                f"with keys {sorted(state)}."
            )
        configs = [RestartConfig.from_dict(d) for d in state.pop("configs")]
        super().load_state_dict(state)
        self.configs = configs
        self._curves = [RestartCache(cfg) for cfg in configs]
