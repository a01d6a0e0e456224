"""The README is a short front page: the formula, install, a quickstart per framework, links.

Its python blocks run and its links resolve in tests/test_docs.py, with every docs page.
Everything else (differences tables, measured results, stack notes) lives in docs/.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TEXT = README.read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", TEXT, flags=re.S | re.M)
ADAPTERS = ("uba_torch", "uba_jax", "uba_tf")
MAX_BYTES = 6000  # a front page; the rest belongs in docs/


def install_block(text: str) -> str:
    """The first fenced block holding `pip install .`, the install commands."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    return next(b for b in blocks if "pip install ." in b)


def test_the_readme_has_a_quickstart_per_framework() -> None:
    for adapter in ADAPTERS:
        assert any(f"from {adapter} import" in block for block in BLOCKS), adapter


def test_the_readme_is_short() -> None:
    size = len(TEXT.encode())
    assert size <= MAX_BYTES, f"README.md is {size} bytes: move detail into docs/ (limit {MAX_BYTES})"


def test_the_readme_states_the_formula_once() -> None:
    assert TEXT.count("f(p)  = 2 u / (2 phi + (2 - phi) u)") == 1
    assert "phi = 2 is cosine annealing" in TEXT


def test_install_says_there_is_no_package_index_and_matches_getting_started() -> None:
    assert "not published on a package index yet" in TEXT
    guide = (ROOT / "docs" / "getting-started.md").read_text()
    assert "not on PyPI" in guide
    assert install_block(TEXT) == install_block(guide)
    for extra in ("torch", "jax", "tf", "all"):
        assert f"pip install '.[{extra}]'" in install_block(TEXT), extra


def test_the_readme_shows_the_phi_family_and_links_each_docs_page() -> None:
    assert "![The phi family](docs/phi_family.png)" in TEXT
    for page in (
        "getting-started",
        "frameworks/pytorch",
        "frameworks/jax",
        "frameworks/keras",
        "works-with",
        "math",
        "choosing-phi",
        "results",
        "cli",
    ):
        assert f"](docs/{page}.md)" in TEXT, page
    for stack in sorted((ROOT / "docs" / "stacks").glob("*.md")):
        assert f"](docs/stacks/{stack.name})" in TEXT, stack.name


def test_what_left_the_readme_is_in_the_docs() -> None:
    """The tables that used to be in the README, each on its docs page."""
    pages = {
        "frameworks/pytorch": "| case | `CosineAnnealingLR` | `UBALR` |",
        "frameworks/jax": "| case | optax | uba_jax |",
        "frameworks/keras": "| case | `CosineDecay` | `UBADecay` |",
        "works-with": "| engine / integration | what is checked | test |",
        "results": "| row | UBA | cosine | unit | UBA / cosine, median | spread (min, max) |",
        "choosing-phi": "**Low-noise, well-conditioned problems**",
    }
    for page, line in pages.items():
        assert line in (ROOT / "docs" / f"{page}.md").read_text(), page
