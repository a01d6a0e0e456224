"""MkDocs hooks of the site (local files only: nothing is downloaded at build time).

1. The benchmark plots of benchmarks/results/ on the site, without copies in docs/.
   A page links a plot by its path in the repository (``../benchmarks/results/x.png``
   from docs/results.md), so the link works on GitHub and in a checkout. MkDocs only
   serves files under docs/, so each plot a page links is added to the site as
   ``assets/benchmarks/x.png`` and the pages' links are rewritten to it. Only linked
   plots: ``make demo`` leaves its quick plots (git-ignored) in the same folder.
2. A block fenced as ```` ```python skip-test ```` (an example that tests/test_docs.py
   compiles but does not run) is rendered as a python block: the fence's extra word
   is for the test, and pymdownx.superfences would not recognise the fence with it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
SITE_DIR = "assets/benchmarks"
PLOT_LINK = re.compile(r"\]\(((?:\.\./)+benchmarks/results/([\w.-]+\.png))\)")
SKIP_TEST_FENCE = re.compile(r"^(\s*```+)python skip-test[ \t]*$", flags=re.M)


def linked_plots(page_path: Path, markdown: str) -> dict[str, Path]:
    """The plots of benchmarks/results/ that ``markdown`` (the page at ``page_path``) links, by their link."""
    found = {}
    for match in PLOT_LINK.finditer(markdown):
        target = (page_path.parent / match.group(1)).resolve()
        if target.parent == RESULTS and target.is_file():
            found[match.group(1)] = target
    return found


def on_files(files: Files, config, **kwargs) -> Files:
    plots = set()
    for page in files.documentation_pages():
        path = Path(page.abs_src_path)
        plots.update(linked_plots(path, path.read_text(encoding="utf-8")).values())
    for png in sorted(plots):
        files.append(File.generated(config, f"{SITE_DIR}/{png.name}", abs_src_path=str(png)))
    return files


def on_page_markdown(markdown: str, page, config, files: Files, **kwargs) -> str:
    plots = linked_plots(Path(page.file.abs_src_path), markdown)

    def plot(match: re.Match) -> str:
        if match.group(1) not in plots:
            return match.group(0)  # not a plot of benchmarks/results: MkDocs reports the link
        here = posixpath.dirname(page.file.src_uri)
        return "](" + posixpath.relpath(f"{SITE_DIR}/{match.group(2)}", here or ".") + ")"

    markdown = PLOT_LINK.sub(plot, markdown)
    return SKIP_TEST_FENCE.sub(r"\1python", markdown)
