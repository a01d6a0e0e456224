"""Fresh interpreters for the tests: one worker, or the ranks of one gloo process group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import REQUIRED

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 240  # seconds per worker process; a hung collective fails instead of blocking


def worker_env(**overrides: str) -> dict[str, str]:
    """This process's environment, the repository on PYTHONPATH, plus ``overrides``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(overrides)
    return env


def worker_command(script: Path, scenario: str, out: Path, **kwargs: Any) -> list[str]:
    """The command line that runs function ``scenario`` of the worker ``script`` with ``kwargs``,
    its result written as JSON to ``out``."""
    # -X faulthandler: a native crash (a SIGABRT in gloo, say) still prints the Python stack.
    return [sys.executable, "-X", "faulthandler", str(script), scenario, str(out), json.dumps(kwargs)]


def run_worker(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run ``cmd`` (a fresh interpreter) to completion in ``cwd`` with the complete environment ``env``.

    Returns:
        Its standard output.

    Raises:
        AssertionError: it failed or ran past :data:`TIMEOUT`; the message holds the end
            of its standard error.
    """
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"{cmd[1:]} timed out after {TIMEOUT} s:\n{err.stderr}") from err
    assert proc.returncode == 0, f"{cmd[1:]} failed ({proc.returncode}):\n{proc.stderr[-6000:]}"
    return proc.stdout


def run_ranks(cmd: list[str], cwd: Path, world_size: int) -> None:
    """Run ``cmd`` as ranks 0 .. world_size - 1 of one gloo process group on 127.0.0.1.

    Each rank gets RANK, WORLD_SIZE and a file:// rendezvous in ``cwd`` (gloo on the
    loopback interface); its output goes to ``cwd / f"rank{rank}.log"``. A rank that fails
    leaves the others stuck in a collective: they are killed at the first failure.

    Raises:
        AssertionError: a rank failed or the run timed out; the message holds every
            rank's exit status and the end of its output.
    """
    rendezvous = cwd / "rendezvous"
    rendezvous.unlink(missing_ok=True)
    procs = []
    for rank in range(world_size):
        env = worker_env(
            UBA_DDP_INIT=f"file://{rendezvous}",
            GLOO_SOCKET_IFNAME="lo",
            RANK=str(rank),
            WORLD_SIZE=str(world_size),
            OMP_NUM_THREADS="1",
        )
        with open(cwd / f"rank{rank}.log", "w") as log:
            procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline and not all(p.poll() == 0 for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.2)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    if any(p.returncode != 0 for p in procs):
        report = "\n".join(
            f"--- rank {rank}: exit status {p.returncode} ---\n{(cwd / f'rank{rank}.log').read_text()[-4000:]}"
            for rank, p in enumerate(procs)
        )
        raise AssertionError(
            f"not every rank succeeded (a rank failed, or {TIMEOUT} s passed; ranks still "
            f"running were then killed, exit status -9):\n{report}"
        )


def require_gloo(torch: ModuleType) -> None:
    """Skip without torch's gloo backend; fail instead when CI requires torch (no skip may hide a test)."""
    if torch.distributed.is_available() and torch.distributed.is_gloo_available():
        return
    if "torch" in REQUIRED:
        pytest.fail("torch is required (UBA_REQUIRE_FRAMEWORKS) but this build has no gloo backend")
    pytest.skip("this torch build has no gloo backend")
