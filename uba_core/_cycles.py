r"""UBA with hard restarts after a linear warmup, as transformers'
``get_cosine_with_hard_restarts_schedule_with_warmup`` is cosine with hard restarts.

With warmup $W$, budget $T$ and $n$ cycles, the multiplier of each group's peak at step
$t$ is $t / W$ during the warmup; after it, with $p = (t - W) / (T - W)$,

$$
m(t) = r + (1 - r)\, f\big((n p) \bmod 1\big) \quad (p < 1), \qquad m(t) = r \quad (p \ge 1),
$$

where $f$ is the UBA shape ([`uba_factor`][uba_core.uba_factor]) and $r$ the floor as a
fraction of the peak. Each of the $n$ equal cycles (a fractional $n$ ends inside one)
restarts at the peak; $\varphi = 2$, $r = 0$ is transformers' schedule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from uba_core._schedule import DEFAULT_PHI, make_config, uba_factor
from uba_core._validation import check_real


@dataclasses.dataclass(frozen=True, kw_only=True)
class HardRestarts:
    """The multiplier $m(t)$ of the module docstring; build it with `hard_restarts`, which validates.

    Its fields are plain ints and floats, so torch's ``LambdaLR`` saves and restores them
    in its ``state_dict``.
    """

    total_steps: int
    warmup_steps: int
    num_cycles: float
    phi: float
    min_rate: float

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / self.warmup_steps
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        if progress >= 1.0:
            return self.min_rate
        shape = float(uba_factor((self.num_cycles * progress) % 1.0, self.phi))
        return self.min_rate + (1.0 - self.min_rate) * shape


def hard_restarts(names: Mapping[str, str] | None = None, /, **fields: Any) -> HardRestarts:
    """A validated `HardRestarts`; errors use the caller's argument names (``names`` maps a
    field to the name the user typed).

    Raises:
        TypeError: A field has the wrong type.
        ValueError: A field is out of its domain (the warmup must leave the cycles a step;
            ``num_cycles`` > 0; ``min_rate`` in [0, 1]).
    """
    names = dict(names or {})
    fields = {"warmup_steps": 0, "num_cycles": 1.0, "phi": DEFAULT_PHI, "min_rate": 0.0, **fields}
    cfg = make_config(
        names,
        total_steps=fields["total_steps"],
        warmup_steps=fields["warmup_steps"],
        phi=fields["phi"],
        peak_lr=1.0,
    )
    return HardRestarts(
        total_steps=cfg.total_steps,
        warmup_steps=cfg.warmup_steps,
        num_cycles=check_real(names.get("num_cycles", "num_cycles"), fields["num_cycles"], positive=True),
        phi=cfg.phi,
        min_rate=check_real(names.get("min_rate", "min_rate"), fields["min_rate"], minimum=0.0, maximum=1.0),
    )
