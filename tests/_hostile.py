"""The one table of hostile arguments, and the check every constructor test runs on it.

Each row is (field, kind, bad value, expected error, expected message fragment, and
optionally how the message shows the value, where that is an element of it). The
field is a field of :class:`uba_core.UBAConfig` or :class:`uba_core.RestartConfig`, or one
of the few arguments that only adapters (``alpha``, ``T_mult``, ``last_epoch``, ``name``,
``config``) or the condition-number helpers (``kappa``) have. A test spells the fields in
its entry point's argument names (``{"total_steps": "T_max", "min_lr": "eta_min"}``) and
parametrizes over :func:`cases`;
:func:`assert_rejected` then checks that building with the bad value fails at once,
with the expected error, naming the argument, the rule and the value received
(``Argument `T_max` must be >= 1. Received: T_max=0``).

The base arguments every test builds from have a budget of 100 steps (warmup
included), so that ``warmup_steps`` 100 and 10**12 break the rule warmup < budget,
and a decay that starts before step 40 (warmup plus stable steps), so that the
``rebudgets`` rows at steps 50 and 60 break only the rule they are about.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import pytest

NAN, INF = math.nan, math.inf
BUDGET = 100  # the budget of every base configuration

# The rule each message states (uba_core/_validation.py).
INTEGER = "must be an integer"
INTEGRAL = "a float is accepted only when its value is integral"
REAL = "must be a real number"
FINITE = "must be finite"
POSITIVE = "must be > 0"
NON_NEGATIVE = "must be >= 0.0"
WITHIN_BUDGET = "must be < `{total_steps}`"  # formatted with the test's argument names
CONFIG = "must be a UBAConfig"
SEQUENCE = "must be a sequence of (step, remaining fraction) pairs"
PAIR = "must be a (step, remaining fraction) pair"
RISING = "must hold steps rising from the decay's start"


class Bad(NamedTuple):
    field: str
    kind: str
    value: Any
    error: type[Exception]
    fragment: str
    # How the message shows what was received; ``{arg}`` is the argument's name. An
    # element of a sequence is shown by its index: ``rebudgets[1]=(60, 0.6)``.
    shown: str = "{arg}={value!r}"


def _not_a_number(field: str, rule: str) -> list[Bad]:
    """Values that are not numbers at all, or bools posing as numbers."""
    return [
        Bad(field, "str", "3", TypeError, rule),
        Bad(field, "none", None, TypeError, rule),
        Bad(field, "bool", True, TypeError, rule),
        Bad(field, "numpy-bool", np.True_, TypeError, rule),
        Bad(field, "list", [3], TypeError, rule),
    ]


def _count(field: str, minimum: int) -> list[Bad]:
    """An integer count >= ``minimum``; an integral float (10.0) is accepted, as the built-ins do."""
    return [
        *_not_a_number(field, INTEGER),
        Bad(field, "false", False, TypeError, INTEGER),
        Bad(field, "fraction", 2.5, ValueError, INTEGRAL),
        Bad(field, "nan", NAN, ValueError, INTEGRAL),
        Bad(field, "inf", INF, ValueError, INTEGRAL),
        Bad(field, "negative", -3, ValueError, f"must be >= {minimum}"),
    ]


def _real(field: str, sign_rule: str) -> list[Bad]:
    """A finite real number; ``sign_rule`` is what a negative value breaks."""
    return [
        *_not_a_number(field, REAL),
        Bad(field, "nan", NAN, ValueError, FINITE),
        Bad(field, "inf", INF, ValueError, FINITE),
        Bad(field, "minus-inf", -INF, ValueError, FINITE),
        Bad(field, "negative", -0.5, ValueError, sign_rule),
    ]


def _positive(field: str) -> list[Bad]:
    return [
        *_real(field, POSITIVE),
        Bad(field, "zero", 0.0, ValueError, POSITIVE),
        Bad(field, "int-zero", 0, ValueError, POSITIVE),
    ]


HOSTILE: tuple[Bad, ...] = (
    *_count("total_steps", 1),
    Bad("total_steps", "zero", 0, ValueError, "must be >= 1"),
    *_count("warmup_steps", 0),
    Bad("warmup_steps", "at-budget", BUDGET, ValueError, WITHIN_BUDGET),
    Bad("warmup_steps", "past-budget", 10**12, ValueError, WITHIN_BUDGET),
    # stable_steps: the steps at the peak after the warmup; warmup + stable < budget.
    *_count("stable_steps", 0),
    Bad("stable_steps", "at-budget", BUDGET, ValueError, WITHIN_BUDGET),
    Bad("stable_steps", "past-budget", 10**12, ValueError, WITHIN_BUDGET),
    # rebudgets: (step, remaining fraction) knots, steps rising inside the decay and
    # fractions falling inside (0, 1).
    Bad("rebudgets", "int", 3, TypeError, SEQUENCE),
    Bad("rebudgets", "none", None, TypeError, SEQUENCE),
    Bad("rebudgets", "str", "50,0.5", TypeError, SEQUENCE),
    Bad("rebudgets", "dict", {50: 0.5}, TypeError, SEQUENCE),
    Bad("rebudgets", "set", {(50, 0.5)}, TypeError, SEQUENCE),
    Bad("rebudgets", "flat-pair", (50, 0.5), TypeError, PAIR, "{arg}[0]=50"),
    Bad("rebudgets", "short-pair", [(50,)], TypeError, PAIR, "{arg}[0]=(50,)"),
    Bad("rebudgets", "long-pair", [(50, 0.5, 1)], TypeError, PAIR, "{arg}[0]=(50, 0.5, 1)"),
    Bad("rebudgets", "str-pair", ["50"], TypeError, PAIR, "{arg}[0]='50'"),
    Bad("rebudgets", "bool-step", [(True, 0.5)], TypeError, INTEGER, "{arg}[0][0]=True"),
    Bad("rebudgets", "fraction-step", [(50.5, 0.5)], ValueError, INTEGRAL, "{arg}[0][0]=50.5"),
    Bad("rebudgets", "negative-step", [(-1, 0.5)], ValueError, "must be >= 0", "{arg}[0][0]=-1"),
    Bad("rebudgets", "str-fraction", [(50, "0.5")], TypeError, REAL, "{arg}[0][1]='0.5'"),
    Bad("rebudgets", "nan-fraction", [(50, NAN)], ValueError, FINITE, "{arg}[0][1]=nan"),
    Bad("rebudgets", "zero-fraction", [(50, 0.0)], ValueError, POSITIVE, "{arg}[0][1]=0.0"),
    Bad("rebudgets", "negative-fraction", [(50, -0.5)], ValueError, POSITIVE, "{arg}[0][1]=-0.5"),
    Bad("rebudgets", "fraction-one", [(50, 1.0)], ValueError, RISING, "{arg}[0]=(50, 1.0)"),
    Bad("rebudgets", "fraction-above-one", [(50, 1.5)], ValueError, RISING, "{arg}[0]=(50, 1.5)"),
    Bad("rebudgets", "fraction-rising", [(50, 0.5), (60, 0.6)], ValueError, RISING, "{arg}[1]=(60, 0.6)"),
    Bad("rebudgets", "step-repeated", [(50, 0.5), (50, 0.4)], ValueError, RISING, "{arg}[1]=(50, 0.4)"),
    Bad("rebudgets", "step-falling", [(60, 0.5), (50, 0.4)], ValueError, RISING, "{arg}[1]=(50, 0.4)"),
    Bad("rebudgets", "step-at-zero", [(0, 0.5)], ValueError, RISING, "{arg}[0]=(0, 0.5)"),
    Bad("rebudgets", "step-at-budget", [(BUDGET, 0.5)], ValueError, RISING, f"{{arg}}[0]=({BUDGET}, 0.5)"),
    Bad("rebudgets", "step-past-budget", [(10**12, 0.5)], ValueError, RISING, "{arg}[0]=(1000000000000, 0.5)"),
    *_real("peak_lr", NON_NEGATIVE),
    *_real("min_lr", NON_NEGATIVE),
    *_real("warmup_start_lr", NON_NEGATIVE),
    *_positive("phi"),
    # numpy values that are not real numbers must not be read as 1.0, 2.0 or the real
    # part; numpy numbers are checked like floats. One validator serves every entry point.
    Bad("phi", "numpy-str", np.str_("2.0"), TypeError, REAL),
    Bad("phi", "0d-str-array", np.array("2.0"), TypeError, REAL),
    Bad("phi", "numpy-complex", np.complex128(2 + 1j), TypeError, REAL),
    Bad("phi", "0d-array", np.array(-1.0), ValueError, POSITIVE),
    Bad("phi", "float32-nan", np.float32(NAN), ValueError, FINITE),
    *_positive("exponent"),
    # Warm restarts (uba_core.RestartConfig): the first cycle's length, and the factors from
    # one cycle's length and amplitude to the next.
    *_count("first_steps", 1),
    Bad("first_steps", "zero", 0, ValueError, "must be >= 1"),
    *_positive("t_mul"),
    *_positive("m_mul"),
    # kappa: a condition number, >= 1 (the phi <-> kappa helpers).
    *_real("kappa", "must be >= 1.0"),
    Bad("kappa", "zero", 0.0, ValueError, "must be >= 1.0"),
    Bad("kappa", "below-one", 0.5, ValueError, "must be >= 1.0"),
    # Arguments only adapters have.
    # alpha: the floor as a fraction of the peak (optax, keras).
    *_real("alpha", NON_NEGATIVE),
    Bad("alpha", "above-one", 1.5, ValueError, "must be <= 1.0"),
    # T_mult: torch's cycle-length factor, an integer >= 1 as in CosineAnnealingWarmRestarts.
    *_count("T_mult", 1),
    Bad("T_mult", "zero", 0, ValueError, "must be >= 1"),
    # last_epoch: torch's step counter; an integer (no integral floats), -1 before the first step.
    *_not_a_number("last_epoch", INTEGER),
    Bad("last_epoch", "float", 3.0, TypeError, INTEGER),
    Bad("last_epoch", "fraction", 1.5, TypeError, INTEGER),
    Bad("last_epoch", "nan", NAN, TypeError, INTEGER),
    Bad("last_epoch", "negative", -2, ValueError, "must be >= -1"),
    # name: a keras schedule's name.
    Bad("name", "none", None, TypeError, "must be a str"),
    Bad("name", "int", 3, TypeError, "must be a str"),
    # config: what a from_uba_config is given instead of a UBAConfig.
    Bad("config", "none", None, TypeError, CONFIG),
    Bad("config", "int", 3, TypeError, CONFIG),
    Bad("config", "json", '{"total_steps": 10}', TypeError, CONFIG),
    Bad("config", "dict", {"total_steps": 10, "peak_lr": 0.1, "phi": 2.0}, TypeError, CONFIG),
)

# A helper argument that follows a field's rule is spelled as that field: mu and L as phi.
FIELDS = {row.field for row in HOSTILE}


def cases(
    entry: str,
    build: Callable[..., Any],
    names: Mapping[str, str],
    *,
    valid: Mapping[str, set[str]] | None = None,
    errors: Mapping[tuple[str, str], tuple[type[Exception], str]] | None = None,
) -> list[Any]:
    """The pytest params ``(build, arg, bad)`` of one entry point: every row of a field it has.

    Args:
        entry: The entry point, for the ids (``UBALR-T_max-zero``).
        build: Builds the entry point from valid base arguments overridden by keywords.
        names: Field -> the entry point's argument name; fields left out are not
            arguments of it.
        valid: Field -> kinds this entry point accepts (None as "the default", a list
            as one value per param group).
        errors: (field, kind) -> (error, fragment) where the entry point rejects the
            value by another rule.
    """
    unknown = set(names) - FIELDS
    assert not unknown, f"no rows for {unknown}"
    valid, errors = valid or {}, errors or {}
    out = []
    for row in HOSTILE:
        if row.field not in names or row.kind in valid.get(row.field, ()):
            continue
        error, fragment = errors.get((row.field, row.kind), (row.error, row.fragment))
        fragment = fragment.format(total_steps=names.get("total_steps", "total_steps"))
        arg = names[row.field]
        out.append(
            pytest.param(build, arg, row._replace(error=error, fragment=fragment), id=f"{entry}-{arg}-{row.kind}")
        )
    return out


def assert_rejected(build: Callable[..., Any], arg: str, bad: Bad) -> None:
    """``build(**{arg: bad.value})`` raises ``bad.error``, naming ``arg`` (or an element
    of it, `` `rebudgets[1]` ``), the rule and the value."""
    with pytest.raises(bad.error) as info:
        build(**{arg: bad.value})
    message = str(info.value)
    assert re.search(rf"`{re.escape(arg)}(\[\d+\])*`", message), f"argument `{arg}` not named in: {message}"
    shown = bad.shown.format(arg=arg, value=bad.value)
    assert shown in message, f"value {shown} not shown in: {message}"
    assert bad.fragment in message, f"rule {bad.fragment!r} not stated in: {message}"
