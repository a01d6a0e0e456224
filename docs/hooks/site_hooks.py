"""MkDocs hooks of the site (local files only: nothing is downloaded at build time).

1. The benchmark plots of benchmarks/results/ on the site, without copies in docs/.
   A page links a plot by its path in the repository (``../benchmarks/results/x.png``
   from docs/results.md), so the link works on GitHub and in a checkout. MkDocs only
   serves files under docs/, so each ``benchmarks/results/*.png`` is added to the site
   as ``assets/benchmarks/x.png`` and the pages' links are rewritten to it.
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


def on_files(files: Files, config, **kwargs) -> Files:
    for png in sorted(RESULTS.glob("*.png")):
        files.append(File.generated(config, f"{SITE_DIR}/{png.name}", abs_src_path=str(png)))
    return files


def on_page_markdown(markdown: str, page, config, files: Files, **kwargs) -> str:
    page_dir = Path(page.file.abs_src_path).parent

    def plot(match: re.Match) -> str:
        target = (page_dir / match.group(1)).resolve()
        if target.parent != RESULTS or not target.is_file():
            return match.group(0)  # not a plot of benchmarks/results: MkDocs reports the link
        here = posixpath.dirname(page.file.src_uri)
        return "](" + posixpath.relpath(f"{SITE_DIR}/{match.group(2)}", here or ".") + ")"

    markdown = PLOT_LINK.sub(plot, markdown)
    return SKIP_TEST_FENCE.sub(r"\1python", markdown)
