"""The README and every page under docs/ hold: their python examples run, their links resolve.

Every python example of README.md and docs/**/*.md runs as written, each in a fresh
interpreter. A block fenced as ```python runs; a block fenced as ```python skip-test
cannot run offline here (it needs a GPU, a download, or a library that cannot be
installed): it must compile, and its page must say that it is untested. Any other
python fence fails, so that no example drops out of the test by a typo in its fence.

Every relative link and image of those pages points at a file that exists (anchors are
checked by ``mkdocs build --strict``), every snippet they include exists, every page is
in the site's nav, and the library's docstrings hold Markdown (what mkdocstrings and
``help()`` show), not Sphinx roles, with cross-references to public objects only.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _checkout import DEMO_OUTPUTS, copy_with_demo_outputs
from conftest import framework

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]
STACK_PAGES = sorted((DOCS / "stacks").glob("*.md"))
STACKS = {"accelerate", "keras", "lightning", "timm", "torch-amp", "transformers"}  # at least these
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", flags=re.M | re.S)
RUN, SKIP = "python", "python skip-test"
# top-level module imported by a block -> the framework() arguments that skip or require it
NEEDS = {
    "uba_torch": ("torch", "torch"),
    "torch": ("torch", "torch"),
    "transformers": ("torch", "transformers"),
    "accelerate": ("torch", "accelerate"),
    "pytorch_lightning": ("torch", "pytorch_lightning"),
    "lightning": ("torch", "lightning"),
    "uba_jax": ("jax", "optax"),
    "optax": ("jax", "optax"),
    "jax": ("jax", "jax"),
    "uba_tf": ("tf", "keras"),
    "keras": ("tf", "keras"),
}
TIMEOUT = 180  # seconds per block


def package_dir(package: str) -> Path:
    """Where ``package`` is imported from (the checkout, or an installed wheel), found without importing it."""
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, f"{package} is not importable"
    return Path(spec.submodule_search_locations[0])


LIBRARY = sorted(p for pkg in ("uba_core", "uba_torch", "uba_jax", "uba_tf") for p in package_dir(pkg).glob("*.py"))


def name(page: Path) -> str:
    """``README``, ``getting-started``, ``stacks/timm``: a page's path without .md."""
    return page.relative_to(ROOT if page == README else DOCS).with_suffix("").as_posix()


def fences(page: Path) -> list[tuple[str, str]]:
    """The (info string, code) of every fenced block of ``page``."""
    return [(info.strip(), code) for info, code in FENCE.findall(page.read_text())]


BLOCKS = [(page, i, code) for page in PAGES for i, (info, code) in enumerate(b for b in fences(page) if b[0] == RUN)]
UNTESTED = [(page, i, code) for page in PAGES for i, (info, code) in enumerate(b for b in fences(page) if b[0] == SKIP)]


def block_id(block: tuple[Path, int, str]) -> str:
    return f"{name(block[0])}-block{block[1]}"


# --- the examples --------------------------------------------------------------------------


def test_every_stack_has_a_page_with_a_title() -> None:
    assert {p.stem for p in STACK_PAGES} >= STACKS
    for page in STACK_PAGES:
        assert page.read_text().startswith("# Using uba-schedule with "), page.name


def test_every_stack_page_has_an_executed_example() -> None:
    assert {page for page, _, _ in BLOCKS} >= set(STACK_PAGES)


def test_the_readme_and_the_framework_pages_have_executed_examples() -> None:
    pages = {name(page) for page, _, _ in BLOCKS}
    assert {"README", "frameworks/pytorch", "frameworks/jax", "frameworks/keras", "getting-started"} <= pages


def test_python_fences_are_run_or_marked_untested() -> None:
    for page in PAGES:
        infos = [info for info, _ in fences(page)]
        odd = [i for i in infos if i.lower().startswith("py") and i not in (RUN, SKIP)]
        assert not odd, f"{name(page)}: fences {odd} are neither ```{RUN} nor ```{SKIP}"
        if SKIP in infos:
            assert "untested" in page.read_text(), f"{name(page)} skips blocks without saying so"


@pytest.mark.parametrize("block", UNTESTED, ids=[block_id(b) for b in UNTESTED])
def test_untested_block_compiles(block: tuple[Path, int, str]) -> None:
    page, _, code = block
    compile(code, f"{page.name}:{block_id(block)}", "exec")


@pytest.mark.parametrize("block", BLOCKS, ids=[block_id(b) for b in BLOCKS])
def test_doc_block_runs(block: tuple[Path, int, str], tmp_path) -> None:
    _, _, code = block
    imported = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", code, flags=re.M))
    for module in sorted(imported & NEEDS.keys()):
        framework(*NEEDS[module])
    env = {
        **os.environ,
        "KERAS_BACKEND": "tensorflow",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"{block_id(block)} ran past {TIMEOUT} s:\n{err.stderr}") from err
    assert proc.returncode == 0, f"{block_id(block)} failed:\n{proc.stderr[-3000:]}"


# --- links, snippets, nav ----------------------------------------------------------------

INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", flags=re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", flags=re.M)
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*?\b(?:href|src)=\"([^\"]+)\"", flags=re.I)
SNIPPET = re.compile(r"^\s*-{1,}8<-{1,}\s+\"([^\"]+)\"", flags=re.M)
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", flags=re.I)  # http:, https:, mailto:, ...


def prose(text: str) -> str:
    """``text`` without its fenced blocks and inline code, where a link is only text."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    """The targets of the Markdown links, images, reference definitions and HTML links of ``text``."""
    return [m.group(1) for pattern in (LINK, REFERENCE, HTML_LINK) for m in pattern.finditer(text)]


def local_target(page: Path, target: str) -> Path | None:
    """The file a relative link points at, or None for an external link or a bare anchor."""
    path = target.split("#", 1)[0].split("?", 1)[0]
    if EXTERNAL.match(target) or not path:
        return None
    return (page.parent / path).resolve()


@pytest.mark.parametrize("page", PAGES, ids=[name(p) for p in PAGES])
def test_relative_links_point_at_existing_files(page: Path) -> None:
    broken = [t for t in links(prose(page.read_text())) if (f := local_target(page, t)) is not None and not f.exists()]
    assert not broken, f"{name(page)} links to files that do not exist: {broken}"


def test_the_link_checker_sees_links() -> None:
    page = DOCS / "page.md"
    text = 'See [a](a.md#x), ![p](../p.png "t"), [w](https://x.org), [s](#here), <a href="b.md">b</a>\n[ref]: c.md\n'
    assert links(text) == ["a.md#x", "../p.png", "https://x.org", "#here", "c.md", "b.md"]
    assert [local_target(page, t) for t in links(text)] == [
        DOCS / "a.md",
        ROOT / "p.png",
        None,
        None,
        DOCS / "c.md",
        DOCS / "b.md",
    ]
    assert links(prose("`[no](link.md)` and\n```\n[no](link.md)\n```\n")) == []


def test_the_readme_links_into_the_docs() -> None:
    targets = {local_target(README, t) for t in links(prose(README.read_text()))}
    assert {DOCS / "getting-started.md", DOCS / "phi_family.png"} <= targets


@pytest.mark.parametrize("page", PAGES, ids=[name(p) for p in PAGES])
def test_included_snippets_exist(page: Path) -> None:
    missing = [s for s in SNIPPET.findall(page.read_text()) if not (ROOT / s).is_file()]
    assert not missing, f"{name(page)} includes files that do not exist: {missing}"


def test_the_results_and_the_changelog_are_included_not_copied() -> None:
    included = {s for page in PAGES for s in SNIPPET.findall(page.read_text())}
    assert {"CHANGELOG.md", "benchmarks/results/budgeted.md", "benchmarks/results/suggested.md"} <= included


def test_every_page_is_in_the_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    nav = set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?([\w./-]+\.md)\s*$", config, flags=re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in PAGES if p != README}
    assert pages == nav, f"not in the nav: {sorted(pages - nav)}; in the nav, missing: {sorted(nav - pages)}"


def test_every_public_module_has_an_api_page() -> None:
    for module in ("uba_core", "uba_torch", "uba_jax", "uba_tf"):
        assert f"::: {module}" in (DOCS / "api" / f"{module}.md").read_text(), module
    assert "::: uba_core.experimental" in (DOCS / "api" / "uba_core_experimental.md").read_text()


# --- the docstrings that the API reference renders ----------------------------------------

SPHINX = re.compile(r":(?:math|class|func|data|meth|attr|mod|exc|obj|ref|py:\w+):`|^\s*\.\. \w+::", flags=re.M)
CROSS_REF = re.compile(r"\]\[((?:uba_core|uba_torch|uba_jax|uba_tf)(?:\.\w+)+)\]")


@pytest.mark.parametrize("source", LIBRARY, ids=[f"{p.parent.name}/{p.name}" for p in LIBRARY])
def test_docstrings_hold_markdown_not_sphinx_roles(source: Path) -> None:
    found = [m.group(0).strip() for m in SPHINX.finditer(source.read_text())]
    assert not found, f"{source} has Sphinx markup {found}: write $math$ and [`name`][target]"


def public_names(package: str) -> set[str]:
    """``__all__`` of a package's ``__init__.py`` (or of ``uba_core.experimental``), read without
    importing it (no framework needed)."""
    source = package_dir("uba_core") / "experimental.py" if package == "uba_core.experimental" else None
    tree = ast.parse((source or package_dir(package) / "__init__.py").read_text())
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return set(ast.literal_eval(node.value))
    raise AssertionError(f"{package} has no __all__")


def defined_names(package: str) -> set[str]:
    """Every function, method and class name defined in a package's sources."""
    return {
        node.name
        for path in package_dir(package.split(".")[0]).glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def test_docstring_cross_references_name_public_objects() -> None:
    refs = {m.group(1) for source in LIBRARY for m in CROSS_REF.finditer(source.read_text())}
    assert refs, "no cross-reference found: the pattern is out of date"
    bad = []
    for ref in sorted(refs):
        package, obj, *member = ref.split(".")
        if ref.startswith("uba_core.experimental."):  # the experimental namespace renders on its own page
            package, obj, *member = "uba_core.experimental", *ref.split(".")[2:]
        if obj not in public_names(package) or (member and member[-1] not in defined_names(package)):
            bad.append(ref)
    assert not bad, f"cross-references to objects the API reference does not render: {bad}"


def test_the_site_builds_strict_with_no_ignored_file(tmp_path) -> None:
    """What `make docs` runs, in a copy of the checkout beside what `make demo` leaves there
    (git-ignored): none of that reaches the site, and the benchmark plots there are the
    ones the pages link (skipped without the docs extra)."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    checkout, site = tmp_path / "checkout", tmp_path / "site"
    copy_with_demo_outputs(checkout)
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (site / "api" / "uba_core" / "index.html").is_file()
    built = {p.name for p in site.rglob("*") if p.is_file()}
    assert not built & {Path(p).name for p in DEMO_OUTPUTS}, sorted(built & {Path(p).name for p in DEMO_OUTPUTS})
    linked = {
        m
        for page in PAGES[1:]
        for m in re.findall(r"\]\((?:\.\./)+benchmarks/results/([\w.-]+\.png)\)", page.read_text())
    }
    assert linked and {p.name for p in (site / "assets" / "benchmarks").iterdir()} == linked
