"""The course, executed and exported to HTML that opens anywhere (`blvnet-edu course --export DIR`).

Each notebook of `notebooks/` is run top to bottom in a Jupyter kernel (nbclient), in full
mode or, with `quick=True`, in the tests' quick mode, and written as the executed `.ipynb`
and as an `.html` page (nbconvert; the template's styles shared in `course.css`), with an
`index.html` linking them in order. Outputs name no path of the machine that ran them
(`portable`): the pages are published.

Figures: plotly draws in the browser, so a saved notebook shows nothing where no JavaScript
runs (GitHub's viewer, an HTML export). With `BLVNET_EDU_STATIC_FIGURES=1`, which the
export sets, `course.setup()` renders every figure also as a PNG (plotly + kaleido, which
drives a Chromium-based browser): the HTML and the `.ipynb` show the picture. Where kaleido
or a browser is missing, the export goes on with interactive figures only and says so.
"""

from __future__ import annotations

import html
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["static_figures_available", "export_course", "portable"]


def static_figures_available() -> str | None:
    """None if plotly can render a PNG here, else why not (one line)."""
    try:
        import plotly.graph_objects as go

        go.Figure(go.Bar(x=[0], y=[1])).to_image(format="png", width=40, height=30)
    except Exception as err:  # ImportError (no kaleido), no browser, ...
        return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    return None


STYLESHEET = "course.css"  # the template's styles, once for all pages
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.S)


def _shared_styles(page: str, stylesheet: Path) -> str:
    """The page with its inline `<style>` blocks moved to `stylesheet` (written once, shared)."""
    css = "\n".join(_STYLE.findall(page))
    if not stylesheet.exists() or stylesheet.read_text() != css:
        if stylesheet.exists():  # another template version: keep this page self-contained
            return page
        stylesheet.write_text(css)
    first = _STYLE.search(page)
    if first is None:
        return page
    link = f'<link rel="stylesheet" href="{stylesheet.name}">'
    return page[: first.start()] + link + _STYLE.sub("", page[first.end() :])


def portable(text: str, root: Path, work: Path | None = None) -> str:
    """`text` without this machine's paths: the course's work folder (`work/`) shown as
    `<work>/`, the repository's root (`root/`) dropped, so paths read from the repository
    (`runs/synthetic/...`), and the installed packages' folder shown as `<site-packages>/`
    (where a library's warning names its file)."""
    import sysconfig

    folders = [(str(work), "<work>")] if work is not None else []
    folders += [(sysconfig.get_paths()["purelib"], "<site-packages>"), (str(root), ".")]
    for folder, shown in folders:
        text = text.replace(folder + os.sep, "" if shown == "." else shown + "/").replace(folder, shown)
    return text


def _portable_outputs(nb, root: Path, work: Path | None) -> None:
    """Every output of `nb` passed through `portable`, in place."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if "text" in output:
                output["text"] = portable(output["text"], root, work)
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/") and isinstance(value, str):
                    output["data"][kind] = portable(value, root, work)


def export_course(
    out: str | Path,
    notebooks: list[Path],
    quick: bool = False,
    work: str | Path | None = None,
    figures: str | Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Execute `notebooks` and write `out/NN_name.ipynb`, `out/NN_name.html` and `out/index.html`.

    Args:
        out: the folder to write (created).
        notebooks: the course's percent-format sources (`cli.course_sources`).
        quick: run in quick mode (`BLVNET_EDU_QUICK=1`), as the tests do.
        work: where the notebooks keep their results (`BLVNET_EDU_COURSE_DIR`); default the
            course's own (`runs/course`, or `runs/course-quick`).
        figures: a JSON file for the figures the notebooks `record` (`BLVNET_EDU_FIGURES`),
            with each notebook's run time added as `"NN.seconds"` (`benchmarks/course_figures.py`).

    Raises `nbclient.exceptions.CellExecutionError` naming the notebook and cell that failed.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    why_not = static_figures_available()
    if why_not:
        log(
            f"figures stay interactive only (no static PNG: {why_not}); "
            "pip install kaleido and a Chromium browser"
        )
    env = {"BLVNET_EDU_QUICK": "1" if quick else "0", "BLVNET_EDU_STATIC_FIGURES": "0" if why_not else "1"}
    if work is not None:
        env["BLVNET_EDU_COURSE_DIR"] = str(work)
    if figures is not None:
        env["BLVNET_EDU_FIGURES"] = str(figures)
    folder = notebooks[0].parent
    env["PYTHONPATH"] = os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")])
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment
    written, rows = [], []
    try:
        for source in notebooks:
            start = time.perf_counter()
            nb = jupytext.read(source)
            NotebookClient(
                nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
            ).execute()
            seconds = time.perf_counter() - start
            if figures is not None:  # the kernel has finished writing the file
                recorded = json.loads(Path(figures).read_text()) if Path(figures).exists() else {}
                Path(figures).write_text(
                    json.dumps({**recorded, f"{source.stem[:2]}.seconds": seconds}, indent=1, sort_keys=True)
                    + "\n"
                )
            # no path of this machine in what is published
            _portable_outputs(nb, folder.resolve().parent, Path(work).resolve() if work is not None else None)
            executed = out / f"{source.stem}.ipynb"
            nbformat.write(nb, executed)
            body, _ = HTMLExporter(embed_images=True).from_notebook_node(nb)
            page = out / f"{source.stem}.html"
            page.write_text(_shared_styles(body, out / STYLESHEET))
            title = next(
                (c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown"),
                source.stem,
            )
            rows.append((page.name, title, seconds))
            written += [executed, page]
            log(f"{source.stem}: {seconds:.0f} s -> {page}")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    mode = "quick mode (smaller sizes, fewer steps)" if quick else "full mode"
    items = "\n".join(
        f'<li><a href="{name}">{html.escape(title)}</a> ({seconds:.0f} s)</li>'
        for name, title, seconds in rows
    )
    index = out / "index.html"
    static = "Figures are static pictures of the interactive plots."
    drawn = "Figures are interactive only." if why_not else static
    index.write_text(
        "<!doctype html>\n<html><head><meta charset='utf-8'><title>bLVNet-TAM course</title></head><body>\n"
        f"<h1>The bLVNet-TAM course, executed</h1>\n<p>Run in {mode} on {os.cpu_count()} CPU cores with "
        f"<code>blvnet-edu course --export</code>; times per notebook in brackets. {drawn}"
        f"</p>\n<ol>\n{items}\n</ol>\n</body></html>\n"
    )
    return [index, *written, *([out / STYLESHEET] if (out / STYLESHEET).exists() else [])]
