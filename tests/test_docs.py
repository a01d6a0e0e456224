"""Every python example of docs/stacks/*.md runs as written, each in a fresh interpreter.

A block fenced as ```python runs; a block fenced as ```python skip-test is a recipe
for a library that cannot be installed here: it must compile, and its page must
say that it is untested. Any other python fence fails, so that no example drops
out of the test by a typo in its fence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import framework

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs" / "stacks").glob("*.md"))
STACKS = {"accelerate", "keras", "timm", "torch-amp", "transformers"}  # at least these pages
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", flags=re.M | re.S)
RUN, SKIP = "python", "python skip-test"
# top-level module imported by a block -> the framework() arguments that skip or require it
NEEDS = {
    "uba_torch": ("torch", "torch"), "torch": ("torch", "torch"),
    "transformers": ("torch", "transformers"), "accelerate": ("torch", "accelerate"),
    "pytorch_lightning": ("torch", "pytorch_lightning"), "lightning": ("torch", "lightning"),
    "uba_jax": ("jax", "optax"), "optax": ("jax", "optax"),
    "uba_tf": ("tf", "keras"), "keras": ("tf", "keras"),
}
TIMEOUT = 180  # seconds per block


def fences(page: Path) -> list[tuple[str, str]]:
    """The (info string, code) of every fenced block of ``page``."""
    return [(info.strip(), code) for info, code in FENCE.findall(page.read_text())]


BLOCKS = [(page, i, code) for page in PAGES for i, (info, code) in enumerate(
    b for b in fences(page) if b[0] == RUN)]
UNTESTED = [(page, i, code) for page in PAGES for i, (info, code) in enumerate(
    b for b in fences(page) if b[0] == SKIP)]


def block_id(block: tuple[Path, int, str]) -> str:
    return f"{block[0].stem}-block{block[1]}"


def test_every_stack_has_a_page_with_a_title() -> None:
    assert STACKS <= {p.stem for p in PAGES}
    for page in PAGES:
        assert page.read_text().startswith("# Using uba-schedule with "), page.name


def test_every_page_has_an_executed_example() -> None:
    assert {page.stem for page, _, _ in BLOCKS} == {p.stem for p in PAGES}


def test_python_fences_are_run_or_marked_untested() -> None:
    for page in PAGES:
        infos = [info for info, _ in fences(page)]
        odd = [i for i in infos if i.lower().startswith("py") and i not in (RUN, SKIP)]
        assert not odd, f"{page.name}: fences {odd} are neither ```{RUN} nor ```{SKIP}"
        if SKIP in infos:
            assert "untested" in page.read_text(), f"{page.name} skips blocks without saying so"


@pytest.mark.parametrize("block", UNTESTED, ids=[block_id(b) for b in UNTESTED])
def test_untested_block_compiles(block: tuple[Path, int, str]) -> None:
    page, _, code = block
    compile(code, f"{page.name}:{block_id(block)}", "exec")


@pytest.mark.parametrize("block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_doc_block_runs(block: tuple[Path, int, str], tmp_path) -> None:
    page, _, code = block
    imported = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", code, flags=re.M))
    for module in sorted(imported & NEEDS.keys()):
        framework(*NEEDS[module])
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    try:
        proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"{block_id(block)} of {page.name} ran past {TIMEOUT} s:\n{err.stderr}") from err
    assert proc.returncode == 0, f"{block_id(block)} of {page.name} failed:\n{proc.stderr[-3000:]}"
