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


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r} ({type(value).__name__})."


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) >= ``minimum``.

    Raises:
        TypeError: ``value`` is a bool, a float or anything but an integer.
        ValueError: ``value`` is below ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"Argument `{name}` must be an integer. {_received(name, value)}")
    if value < minimum:
        raise ValueError(f"Argument `{name}` must be >= {minimum}. {_received(name, value)}")
    return int(value)


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
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        # 0-d arrays (numpy, jax) that hold one real number are accepted too.
        if getattr(value, "shape", None) == () and getattr(value, "dtype", None) is not None:
            try:
                return check_real(
                    name, float(value), minimum=minimum, maximum=maximum, positive=positive
                )
            except TypeError:
                pass
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
            f"Install it with: pip install 'uba-schedule[{extra}]'"
        ) from err
