"""A copy of the checkout's tracked files, with the git-ignored files ``make demo`` leaves beside them.

The sdist and the site must hold tracked files only: tests/test_packaging.py builds the
sdist and tests/test_docs.py the site from such a copy. Outside a git checkout (the
sdist's own test run) there is nothing to compare with, and those tests skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What `make demo` writes that git ignores: the phi family's table, and the quick
# benchmark's summary, report, journal and one plot per task (one stands for all).
DEMO_OUTPUTS = (
    "docs/phi_family.csv",
    "benchmarks/results/budgeted-quick.json",
    "benchmarks/results/budgeted-quick.md",
    "benchmarks/results/budgeted-quick.jobs.jsonl",
    "benchmarks/results/budgeted-quick-char-lm.png",
    "benchmarks/results/selector-quick.png",
)
PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def git(*args: str, ok: tuple[int, ...] = (0,)) -> str:
    """Run git in the checkout; skip the test where this is not a git checkout."""
    try:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        pytest.skip("git is not installed")
    if proc.returncode == 128 and "not a git repository" in proc.stderr:
        pytest.skip(f"not a git checkout ({proc.stderr.strip()})")
    assert proc.returncode in ok, f"git {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


def tracked_files() -> list[str]:
    """The checkout's tracked files that exist in the working tree (a deletion not yet committed is gone)."""
    top = Path(git("rev-parse", "--show-toplevel").strip()).resolve()
    if top != ROOT.resolve():  # `make dist` runs the sdist's tests in build/, inside the checkout
        pytest.skip(f"not a git checkout: {ROOT} lies inside the repository at {top}")
    return sorted(p for p in git("ls-files", "-z").split("\0") if p and (ROOT / p).is_file())


def copy_with_demo_outputs(dest: Path) -> list[str]:
    """Copy the tracked files (as they are in the working tree) to ``dest``, add
    :data:`DEMO_OUTPUTS` there, and return the tracked files' paths."""
    tracked = tracked_files()
    ignored = set(git("check-ignore", *DEMO_OUTPUTS, ok=(0, 1)).split())
    assert ignored == set(DEMO_OUTPUTS), f"git no longer ignores {sorted(set(DEMO_OUTPUTS) - ignored)}"
    for path in tracked:
        (dest / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, dest / path)
    for path in DEMO_OUTPUTS:
        (dest / path).write_bytes(PNG_HEADER if path.endswith(".png") else b"left by make demo\n")
    return tracked
