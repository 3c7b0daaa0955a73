"""blvnet_edu/course_export.py: the published course names no path of the machine that ran it, shows
each progress bar once, has its math as MathML and loads nothing from the network."""

import os
import re
import sysconfig
from pathlib import Path

import pytest

from blvnet_edu.course_export import (
    _terminal_streams,
    latex_to_mathml,
    markdown_to_html,
    portable,
    render_pages,
    terminal_text,
)

ROOT = Path(__file__).resolve().parents[1]


def test_paths_of_the_machine_become_portable():
    root, work = Path("/home/ana/blvnet-edu"), Path("/tmp/tmpab12/work")
    packages = sysconfig.get_paths()["purelib"]
    text = (
        f"reusing {root}/runs/synthetic/tsn_resnet_tiny; clip {root}/notebooks/data/a.mp4\n"
        f"{packages}/tqdm/auto.py:21: TqdmWarning\n"
        f"results in {work}; {work}/kinetics-demo/videos/x.mp4 and the checkout {root}"
    )
    assert portable(text, root, work) == (
        "reusing runs/synthetic/tsn_resnet_tiny; clip notebooks/data/a.mp4\n"
        "<site-packages>/tqdm/auto.py:21: TqdmWarning\n"
        "results in <work>; <work>/kinetics-demo/videos/x.mp4 and the checkout ."
    )


def test_the_published_pages_name_no_machine_path():
    machine = re.compile(r"(/tmp/|/home/|/root/|/work/|/usr/lib/|site-packages/)")
    found = {
        page.name: machine.findall(page.read_text())
        for page in sorted((ROOT / "docs" / "course").glob("*"))
        if page.suffix in (".html", ".ipynb")
    }
    assert not {name: hits for name, hits in found.items() if hits}


# --- progress bars: what a terminal shows at the end


def test_a_progress_bar_becomes_its_last_state():
    bar = "".join(f"\rtraining: {p:3d}%|{'#' * (p // 10):<10}| {p}/100" for p in range(0, 101, 10))
    assert terminal_text(bar + "\n") == "training: 100%|##########| 100/100\n"
    # tqdm's leave=False: the bar clears its line with blanks, nothing is left
    assert terminal_text("\rvalidation:  50%|#####     | 1/2" + "\r" + " " * 40 + "\r") == ""
    # what follows a carriage return overwrites the line, as on a terminal; \r\n is a newline
    assert terminal_text("abcdef\rXY") == "XYcdef"
    assert terminal_text("one\r\ntwo\r\n") == "one\ntwo\n"
    # text without carriage returns or cursor moves is left alone, colours included
    plain = "loss 0.5\n\x1b[31mwarning\x1b[0m: slow\n"
    assert terminal_text(plain) is plain


def test_cursor_moves_and_colours_of_nested_bars():
    # tqdm's nested bars (`position=1`): a newline down to the inner bar's line, ESC[A back up
    text = "outer   0%\n\rinner  50%\x1b[A\router 100%\n\rinner 100%\x1b[A\n"
    assert terminal_text(text) == "outer 100%\ninner 100%"
    # ESC[K (tqdm's clear) erases to the end of the line, ESC[2K all of it
    assert terminal_text("epoch 1: 40%\r\x1b[Kepoch 1: done\n") == "epoch 1: done\n"
    assert terminal_text("keep\nbar 10%\x1b[2K\rdone") == "keep\ndone"
    # colours are kept (the page shows them), with the character they were set before
    coloured = "\r\x1b[32m 50%\x1b[0m\r\x1b[32m100%\x1b[0m\n"
    shown = terminal_text(coloured)
    assert re.sub(r"\x1b\[[0-9;]*m", "", shown) == "100%\n" and shown.endswith("\x1b[32m100%\x1b[0m\n")


def test_stream_outputs_are_joined_and_cleared_bars_dropped():
    import nbformat

    def stream(name, text):
        return nbformat.v4.new_output("stream", name=name, text=text)

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [
        *(stream("stderr", f"\repoch 1: {p:3d}%") for p in (0, 50, 100)),
        stream("stderr", "\r" + " " * 13 + "\r"),  # leave=False: cleared
        stream("stdout", "epoch 1: loss 0.5\n"),
        *(stream("stderr", f"\rval: {p:3d}%") for p in (0, 100)),
        stream("stderr", "\n"),  # leave=True: the bar and its newline
        nbformat.v4.new_output("display_data", data={"text/plain": "figure"}),
        stream("stderr", "\n"),  # a newline alone: nothing to show
    ]
    nb.cells = [cell]
    _terminal_streams(nb)
    shown = [(o.output_type, o.get("name"), o.get("text")) for o in nb.cells[0].outputs]
    assert shown == [
        ("stream", "stdout", "epoch 1: loss 0.5\n"),
        ("stream", "stderr", "val: 100%\n"),
        ("display_data", None, None),
    ]


def test_the_published_pages_hold_each_progress_bar_once():
    page = (ROOT / "docs" / "course" / "07_training.html").read_text()
    assert len(re.findall(r"\d+it/s", page)) < 10  # was ~600 states of the bars


# --- math: MathML made at export, no MathJax from the network

SAMPLE = r"""Inline $x_{t+o}$ and $o_k \sim \mathcal{U}[0, 1)$, a price of \$5 and \$6.

$$ y_t = \mathrm{ReLU}\Big( \sum_{o=-k}^{k} w_o \odot x_{t+o} \Big), \qquad \tfrac12 $$

Code keeps its dollars: `cost = $a$` and

```
echo $HOME $x$ \frac
```
"""


def test_markdown_math_becomes_mathml_and_code_keeps_its_dollars():
    unconverted = []
    page = markdown_to_html(SAMPLE, unconverted)
    assert unconverted == []
    assert page.count('<math display="inline">') == 2 and page.count('<math display="block">') == 1
    assert "<mfrac>" in page and "<munderover>" in page  # \tfrac12, \sum_{..}^{..}
    assert "&#x1D4B0;" in page  # \mathcal{U}: the script letter (MathML Core knows no mathvariant)
    assert "a price of $5 and $6." in page  # escaped dollars are dollars
    assert "<code>cost = $a$</code>" in page and "<pre><code>echo $HOME $x$ \\frac\n</code></pre>" in page
    assert "$" not in re.sub(r"<code>.*?</code>|price of \$5 and \$6", "", page, flags=re.S)


@pytest.mark.parametrize(
    "tex,shown",
    [
        (r"\mathcal N(0, 2/C)", "<mi>&#x1D4A9;</mi>"),  # braceless \mathcal N as \mathcal{N}
        (r"\mathbb 1\big[s\big]", "<mn>\U0001d7d9</mn>"),  # a double-struck one
        (r"\operatorname{sha1}(x)", '<mi mathvariant="normal">sha1</mi>'),
        (r"\texttt{\{youtube\_id\}\_\{time\}.mp4}", "{youtube_id}_{time}.mp4</mtext>"),  # escapes inside text
        (r"\text{ when } t", "<mtext>&#x000A0;when&#x000A0;</mtext>"),  # spaces kept
        (r"o_k \sim \mathcal{U}", "<mo>&#x0223C;</mo>"),  # \sim an operator, not a tilde
        (r"\lfloor \ell\,(k + o_k) \rfloor", '<mo stretchy="false">&#x0230A;</mo>'),
        (r"\min\!\big(N - 1,\ x\big)", "<mo>min</mo><mo minsize"),  # \! dropped
    ],
)
def test_latex_the_course_uses_converts_as_tex_shows_it(tex, shown):
    assert shown in latex_to_mathml(tex)


def test_a_formula_that_does_not_convert_is_named_and_shown_as_latex():
    with pytest.raises(ValueError, match=r"not converted: \\unknowncommand"):
        latex_to_mathml(r"\unknowncommand{x} + 1")
    unconverted = []
    page = markdown_to_html(r"It costs $\unknowncommand{x}$.", unconverted)
    assert '<code class="latex">$\\unknowncommand{x}$</code>' in page and "<math" not in page
    assert len(unconverted) == 1 and "unknowncommand" in unconverted[0]


def test_every_formula_of_the_course_converts():
    """The notebooks' markdown (notebooks/NN_*.py) converts to MathML whole: a formula latex2mathml
    cannot convert fails here, named, before a published page shows it as LaTeX."""
    import jupytext

    unconverted, count = [], 0
    for source in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        for cell in jupytext.read(source).cells:
            if cell.cell_type == "markdown":
                before = len(unconverted)
                count += markdown_to_html(cell.source, unconverted).count("<math")
                unconverted[before:] = [f"{source.name}: {u}" for u in unconverted[before:]]
    assert not unconverted
    assert count > 200  # the course's formulas: none lost on the way


# --- the pages again from executed notebooks


def executed_notebook(path: Path, seconds: float | None = 12.5) -> Path:
    """A small executed notebook as `export_course` writes one: math, a progress bar, a picture."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "# 3. A small notebook\n\nIt shows $\\mathcal{N}(0, 1)$ and `$HOME`.\n\n**Objectives.** none"
        ),
        nbformat.v4.new_code_cell("train()"),
    ]
    png = (  # a 1x1 PNG
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    nb.cells[1].outputs = [
        *(nbformat.v4.new_output("stream", name="stderr", text=f"\rtraining: {p}%") for p in range(100)),
        nbformat.v4.new_output("display_data", data={"application/vnd.plotly.v1+json": {}, "image/png": png}),
    ]
    if seconds is not None:
        nb.metadata["blvnet_edu"] = {"mode": "quick", "seconds": seconds, "cpu_cores": 3}
    nbformat.write(nb, path)
    return path


def test_pages_are_made_again_from_executed_notebooks(tmp_path):
    executed = executed_notebook(tmp_path / "03_small.ipynb")
    before = executed.read_text()
    out = tmp_path / "pages"
    written = render_pages([executed], out, log=lambda *_: None)
    assert [p.name for p in written] == ["index.html", "03_small.html", "course.css"]
    assert executed.read_text() == before  # the notebook is not changed
    page = (out / "03_small.html").read_text()
    assert "<title>3. A small notebook</title>" in page
    assert '<math display="inline">' in page and "<code>$HOME</code>" in page
    assert '<link rel="stylesheet" href="course.css">' in page and "<style" not in page
    assert "<script" not in page and "mathjax" not in page.lower() and "cdnjs" not in page
    assert page.count("training: ") == 1 and "training: 99%" in page  # the bar's last state
    assert "data:image/png;base64," in page
    index = (out / "index.html").read_text()
    assert '<link rel="stylesheet" href="course.css">' in index
    assert '<a href="03_small.html">3. A small notebook</a> <span class="time">(12 s)</span>' in index
    assert "quick mode" in index and "3 CPU cores" in index and "static pictures" in index
    assert 'It shows <math display="inline">' in index  # the summary: the paragraph after the title
    # what the metadata does not say is given (benchmarks/course_figures.py: course_figures.json)
    render_pages(
        [executed_notebook(executed, seconds=None)], out, {"03": 61.2}, False, 2, log=lambda *_: None
    )
    index = (out / "index.html").read_text()
    assert "(61 s)" in index and "full mode on 2 CPU cores" in index


def test_course_export_render_only_in_the_cli(tmp_path, capsys):
    from blvnet_edu.cli import main

    out = tmp_path / "course"
    out.mkdir()
    executed_notebook(out / "03_small.ipynb")
    assert main(["course", "--export", str(out), "--render-only"]) == 0
    assert (out / "03_small.html").exists() and "03_small.html" in (out / "index.html").read_text()
    assert main(["course", "--export", str(tmp_path / "empty"), "--render-only"]) == 2
    assert "no executed course notebooks" in capsys.readouterr().err


def test_the_published_pages_load_nothing_from_the_network():
    """Without a browser (tests/test_course_pages_browser.py opens them in one): no script, no
    MathJax, no source or stylesheet outside the folder; the index uses the shared stylesheet."""
    folder = ROOT / "docs" / "course"
    for page in sorted(folder.glob("*.html")):
        text = page.read_text()
        assert "<script" not in text and "mathjax" not in text.lower(), page.name
        assert not re.findall(r'(?:src|href)="(?:https?:)?//[^"]*"', re.sub(r"<a [^>]*>", "", text)), (
            page.name
        )
        assert '<link rel="stylesheet" href="course.css">' in text, page.name


def test_environment_sets_variables_for_a_block_and_restores_them(monkeypatch):
    """What the export's (and the quick-mode timing's) kernels inherit, and nothing left after."""
    from blvnet_edu.course_export import environment

    monkeypatch.setenv("BLVNET_EDU_QUICK", "0")
    monkeypatch.delenv("BLVNET_EDU_FIGURES", raising=False)
    with pytest.raises(RuntimeError), environment({"BLVNET_EDU_QUICK": "1", "BLVNET_EDU_FIGURES": "f.json"}):
        assert os.environ["BLVNET_EDU_QUICK"] == "1" and os.environ["BLVNET_EDU_FIGURES"] == "f.json"
        raise RuntimeError("a notebook failed")
    assert os.environ["BLVNET_EDU_QUICK"] == "0" and "BLVNET_EDU_FIGURES" not in os.environ
