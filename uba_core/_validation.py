"""Argument checks shared by the core and every adapter.

Every check names the argument (as the caller spelled it), the rule and the value
received, and raises at construction time. Nothing is clamped.
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r} ({type(value).__name__})."


def check_int(name: str, value: Any, *, minimum: int, integral_float: bool = False) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) >= ``minimum``.

    Args:
        name: The argument name used in the error message.
        value: The value to check.
        minimum: Inclusive lower bound.
        integral_float: Also accept a float with an integral value (``10.0``), as the
            frameworks' built-in schedules do for budgets computed from epochs.

    Raises:
        TypeError: ``value`` is a bool, a float (unless ``integral_float``) or
            anything but an integer.
        ValueError: ``value`` is below ``minimum``, or a float that is not integral.
    """
    if integral_float and _is_float(value):
        number = float(value)
        if not number.is_integer():
            raise ValueError(
                f"Argument `{name}` must be an integer (a float is accepted only when its value "
                f"is integral). {_received(name, value)}"
            )
        value = int(number)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be an integer. {_received(name, value)}")
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be >= {minimum}. {_received(name, value)}")
    return int(value)


def _is_float(value: Any) -> bool:
    """A real number that is not an integer type: a float, or a 0-d array (not a bool)."""
    if isinstance(value, bool | numbers.Integral):
        return False
    return isinstance(value, numbers.Real) or _real_scalar_array(value)


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
) -> float:
    """Return ``value`` as a finite Python float inside the stated bounds.

    Args:
        name: The argument name used in the error message.
        value: The value to check; a real number, not a bool.
        minimum: Inclusive lower bound, if any.
        maximum: Inclusive upper bound, if any.
        positive: Require ``value > 0``.

    Raises:
        TypeError: ``value`` is not a real number (bools and strings included).
        ValueError: ``value`` is NaN, infinite or out of bounds.
    """
    if isinstance(value, bool) or not (isinstance(value, numbers.Real) or _real_scalar_array(value)):
        raise TypeError(f"Argument `{name}` must be a real number. {_received(name, value)}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"Argument `{name}` must be finite. {_received(name, value)}")
    if positive and not number > 0:
        raise ValueError(f"Argument `{name}` must be > 0. {_received(name, value)}")
    if minimum is not None and number < minimum:
        raise ValueError(f"Argument `{name}` must be >= {minimum}. {_received(name, value)}")
    if maximum is not None and number > maximum:
        raise ValueError(f"Argument `{name}` must be <= {maximum}. {_received(name, value)}")
    return number


def _real_scalar_array(value: Any) -> bool:
    """A 0-d numpy, jax or torch array of an integer or floating dtype (not bool or complex)."""
    if getattr(value, "shape", None) != ():
        return False
    dtype = getattr(value, "dtype", None)
    kind = getattr(dtype, "kind", None)  # numpy and jax dtypes
    if kind == "V" and "float" in str(dtype):  # bfloat16 and the float8s of ml_dtypes
        kind = "f"
    if kind is None and dtype is not None:  # torch dtypes
        floating = getattr(dtype, "is_floating_point", False)
        integer = str(dtype).startswith(("torch.int", "torch.uint"))
        kind = "f" if floating else ("i" if integer else "other")
    return kind is not None and kind in "iuf"


_FLOAT32_TINY, _FLOAT32_MAX = 1.1754943508222875e-38, 3.4028234663852886e38


def check_float32_positive(name: str, value: float) -> float:
    """Check that a validated positive float survives a cast to float32 (a normal number).

    Raises:
        ValueError: the value would underflow or overflow in float32.
    """
    if not _FLOAT32_TINY <= value <= _FLOAT32_MAX:
        raise ValueError(
            f"Argument `{name}` must be between {_FLOAT32_TINY:.3g} and {_FLOAT32_MAX:.3g} to be "
            f"evaluated in float32. Received: {name}={value!r}."
        )
    return value


def as_real_array(name: str, value: Any) -> Any:
    """``value`` as a float64 numpy array, if it holds integers or floats only.

    Raises:
        TypeError: strings, bools, objects or complex numbers.
    """
    given = numpy.asarray(value)
    if given.dtype.kind not in "iuf":
        raise TypeError(
            f"Argument `{name}` must be a real number or an array of them. "
            f"Received: {name}={value!r} (dtype {given.dtype})."
        )
    return given.astype(numpy.float64)


def per_group(name: str, value: Any, count: int) -> list[Any]:
    """Broadcast a scalar to ``count`` entries, or check a list has ``count`` entries.

    Raises:
        ValueError: ``value`` is a list or tuple of the wrong length.
    """
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != count:
            raise ValueError(
                f"Argument `{name}` must have one value per param group ({count}). "
                f"Received {len(value)} values: {name}={value!r}."
            )
        return list(value)
    return [value] * count


# What each extra of pyproject.toml adds (tests/test_packaging.py keeps the two equal).
# uba-schedule is not on a package index yet, so `pip install 'uba-schedule[torch]'`
# cannot work; installing the requirements themselves always does.
EXTRAS = {
    "torch": ("torch>=2.1", "tqdm>=4.60"),
    "jax": ("jax>=0.4.30", "optax>=0.2.3", "tqdm>=4.60"),
    "tf": ("tensorflow>=2.16", "keras>=3"),
    "plot": ("matplotlib>=3.7",),
}


def install_command(extra: str) -> str:
    """The pip command that installs what ``extra`` adds."""
    return "pip install " + " ".join(f"'{req}'" for req in EXTRAS[extra])


def require_framework(module: str, extra: str) -> ModuleType:
    """Import a framework module, or explain the exact pip command that installs it.

    Raises:
        ImportError: the framework is not installed; the message gives the command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"This adapter needs `{module}`, which could not be imported ({err}). "
            f"Install it with: {install_command(extra)}"
        ) from err
