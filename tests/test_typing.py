"""The README's usage (tests/typing/readme_usage.py) runs, and mypy --strict and pyright accept it.

Its ``assert_type`` calls make a regression of an adapter's types to ``Any`` (or to a wrong
type) a type error. The checkers run in subprocesses from the repository root, so that the
[tool.mypy] and [tool.pyright] sections of pyproject.toml apply. A missing checker skips,
unless UBA_REQUIRE_FRAMEWORKS is set (CI sets it): then it fails.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REQUIRED, framework

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "tests/typing/readme_usage.py"
TIMEOUT = 600  # a cold mypy cache reads keras and optax from source


def _needs_every_framework() -> None:
    framework("torch", "torch")
    framework("jax", "optax")
    framework("tf", "keras")


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    # This interpreter's environment first on PATH (pyright asks `python` for its imports),
    # and the checkout on the path, installed or not.
    env = dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def _checker(module: str) -> list[str]:
    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed (pip install -e '.[dev]')"
        if REQUIRED:
            pytest.fail(f"{reason}, and UBA_REQUIRE_FRAMEWORKS is set")
        pytest.skip(reason)
    return [sys.executable, "-m", module]


def test_the_readme_usage_runs() -> None:
    _needs_every_framework()
    proc = _run(sys.executable, SCRIPT)
    assert proc.returncode == 0, f"{SCRIPT} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "readme_usage: ok" in proc.stdout


@pytest.mark.parametrize("checker,args", [("mypy", ("--strict",)), ("pyright", ())], ids=["mypy", "pyright"])
def test_the_readme_usage_type_checks(checker: str, args: tuple[str, ...]) -> None:
    _needs_every_framework()
    proc = _run(*_checker(checker), *args, SCRIPT)
    assert proc.returncode == 0, f"{checker} {' '.join(args)} {SCRIPT}:\n{proc.stdout}\n{proc.stderr}"
