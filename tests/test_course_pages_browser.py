"""The published course (docs/course/) in a real browser with the network cut off (Debian's
Chromium driven by Playwright): every page opens from its files alone, its math drawn as MathML,
its pictures loaded, and the index links every page with the shared stylesheet."""

import os
import re
from pathlib import Path

import pytest
from conftest import CHROMIUM, launch_chromium
from playwright.sync_api import sync_playwright

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (scripts/setup.sh)"),
]
ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "docs" / "course"
LOCAL = ("file:", "data:", "blob:", "about:")  # what a page may load: its files and what it holds
RAW_LATEX = re.compile(r"\\[A-Za-z]{2,}|\$[^$\s][^$]*\\[a-z]+")  # \mathcal, $x \cdot y$, ...

# In the page: what the markdown shows as text (code, and the math that is MathML, left out),
# its math, its pictures and whether course.css applied (a variable of JupyterLab's styles).
LOOK = """() => {
  const markdown = [...document.querySelectorAll('.jp-RenderedMarkdown')].map(el => {
    const copy = el.cloneNode(true);
    copy.querySelectorAll('code, pre, math').forEach(c => c.remove());
    return copy.innerText;
  }).join('\\n');
  const maths = [...document.querySelectorAll('.jp-RenderedMarkdown math')];
  return {
    markdown,
    latex_left: document.querySelectorAll('code.latex').length,
    math: maths.length,
    math_drawn: maths.filter(m => {
      const box = m.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && getComputedStyle(m).display.includes('math');
    }).length,
    images: [...document.images].map(i => ({
      src: i.src.slice(0, 40), loaded: i.complete && i.naturalWidth > 0,
    })),
    stylesheet: getComputedStyle(document.documentElement).getPropertyValue('--jp-ui-font-size1').trim(),
    links: [...document.querySelectorAll('ol a')].map(a => a.getAttribute('href')),
    max_width: getComputedStyle(document.body).maxWidth,
  };
}"""


def expected_math() -> dict[str, int]:
    """How many formulas each notebook's markdown holds (notebooks/NN_*.py; tests/test_notebooks.py
    checks that the published run is of these sources)."""
    import jupytext

    from blvnet_edu.course_export import markdown_to_html

    return {
        source.stem: sum(
            markdown_to_html(cell.source).count("<math")
            for cell in jupytext.read(source).cells
            if cell.cell_type == "markdown"
        )
        for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    }


def test_the_published_course_works_offline():
    pages = sorted(COURSE.glob("[0-9][0-9]_*.html"))
    formulas = expected_math()
    assert [p.stem for p in pages] == list(formulas)  # a page for every notebook
    requested, blocked = [], []

    def only_local(route):
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", only_local)
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            seen = {}
            for path in [*pages, COURSE / "index.html"]:
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_function("[...document.images].every(i => i.complete)")
                seen[path.name] = page.evaluate(LOOK)
        finally:
            browser.close()

    outside = [url for url in requested if not url.startswith(LOCAL)]
    assert not blocked and not outside, f"requests outside the folder: {sorted(set(blocked + outside))}"
    for path in pages:
        look = seen[path.name]
        assert look["math"] == formulas[path.stem], path.name  # every formula of the notebook, as MathML
        assert look["math_drawn"] == look["math"], path.name  # laid out by the browser as math
        assert look["latex_left"] == 0, path.name
        raw = RAW_LATEX.findall(look["markdown"])
        assert not raw, f"{path.name} shows LaTeX: {raw[:5]}"
        assert all(image["loaded"] for image in look["images"]), f"{path.name}: {look['images']}"
        assert look["stylesheet"], f"{path.name}: course.css not applied"
    assert sum(len(seen[p.name]["images"]) for p in pages) > 20  # the figures, as pictures
    assert sum(formulas.values()) > 200
    index = seen["index.html"]
    assert index["links"] == [p.name for p in pages]
    assert index["stylesheet"] and index["max_width"] not in ("", "none")  # course.css and its own style
    assert all(image["loaded"] for image in index["images"])
