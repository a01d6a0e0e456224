"""The Examples sections of the docstrings run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest
from conftest import framework

MODULES = {
    "uba_core._schedule": None,
    "uba_core._restarts": None,
    "uba_core._chebyshev": None,
    "uba_core._spectrum": None,
    "uba_torch._scheduler": ("torch", "torch"),
    "uba_torch._factory": ("torch", "torch"),
    "uba_torch._restarts": ("torch", "torch"),
    "uba_torch._spectrum": ("torch", "torch"),
    "uba_jax": ("jax", "optax"),
    "uba_tf": ("tf", "keras"),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_docstring_examples(name: str) -> None:
    if MODULES[name] is not None:
        framework(*MODULES[name])
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
