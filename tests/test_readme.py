"""Every python block of the README runs as written, each in a fresh interpreter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
NEEDS = {"uba_torch": ("torch", "torch"), "uba_jax": ("jax", "optax"), "uba_tf": ("tf", "keras")}


def test_the_readme_has_a_quickstart_per_framework() -> None:
    assert all(any(f"from {mod} import" in b for b in BLOCKS) for mod in NEEDS)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(block: str, tmp_path) -> None:
    from conftest import framework

    for mod, (name, module) in NEEDS.items():
        if f"from {mod} import" in block:
            framework(name, module)
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
