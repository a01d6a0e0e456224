"""Shared fixtures: framework imports, the parity grid and float32 tolerances.

A missing framework skips its tests, unless UBA_REQUIRE_FRAMEWORKS names it
(CI sets torch,jax,tf), in which case the import error fails the run.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from uba_core import UBAConfig  # noqa: E402

REQUIRED = {s.strip() for s in os.environ.get("UBA_REQUIRE_FRAMEWORKS", "").split(",") if s.strip()}

# torch must be imported before tensorflow: the other order can crash.
try:
    import torch  # noqa: F401
except ImportError:
    if "torch" in REQUIRED:
        raise


def framework(name: str, module: str) -> ModuleType:
    """Import ``module`` of framework ``name`` (torch, jax, tf), or skip if it is absent.

    Skipping is refused when UBA_REQUIRE_FRAMEWORKS lists ``name``.
    """
    if name in REQUIRED:
        return importlib.import_module(module)
    return pytest.importorskip(module)


# Configs every adapter must reproduce: with and without warmup, floor 0 and not,
# phi from 0.05 to 50, budgets from 1 step to above 2**24.
PARITY_CONFIGS = {
    "T1": UBAConfig(total_steps=1, peak_lr=0.1, phi=2.0),
    "T2-warm1-phi0.05": UBAConfig(total_steps=2, peak_lr=1.0, phi=0.05, warmup_steps=1),
    "T100-phi0.05": UBAConfig(total_steps=100, peak_lr=0.1, phi=0.05),
    "T1000-phi50-floor-warm": UBAConfig(
        total_steps=1000, peak_lr=3e-4, phi=50.0, min_lr=3e-6, warmup_steps=100, warmup_start_lr=1e-6
    ),
    "T5000-phi1-warm1": UBAConfig(total_steps=5000, peak_lr=0.5, phi=1.0, warmup_steps=1),
    "T10000-phi2-floor": UBAConfig(total_steps=10_000, peak_lr=0.2, phi=2.0, min_lr=0.02),
    "T2^24+-phi8-floor-warm": UBAConfig(
        total_steps=2**24 + 12_345, peak_lr=1e-3, phi=8.0, min_lr=1e-5, warmup_steps=2_000
    ),
    "T3*2^25-phi0.5-warm-start": UBAConfig(
        total_steps=3 * 2**25, peak_lr=1.0, phi=0.5, warmup_steps=2**24 + 1, warmup_start_lr=0.1
    ),
}


def check_steps(cfg: UBAConfig) -> np.ndarray:
    """Steps 0, W-1, W, W+1, T-1, T, T+10 and a few inside the decay, sorted, unique."""
    W, T = cfg.warmup_steps, cfg.total_steps
    inner = W + np.round(np.array([0.1, 0.25, 0.5, 0.75, 0.9, 0.99]) * (T - W)).astype(np.int64)
    steps = np.concatenate([[0, W - 1, W, W + 1, T - 1, T, T + 10], inner])
    return np.unique(steps[steps >= 0])


def assert_float32_close(actual, cfg: UBAConfig, steps) -> None:
    """Compare a float32 framework's rates with the float64 core at the same steps."""
    scale = max(cfg.peak_lr, cfg.warmup_start_lr)
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), cfg(steps), rtol=1e-6, atol=1e-6 * scale
    )


@pytest.fixture(params=list(PARITY_CONFIGS), ids=list(PARITY_CONFIGS))
def parity_config(request) -> UBAConfig:
    return PARITY_CONFIGS[request.param]
