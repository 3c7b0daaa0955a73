"""The course, executed and exported to HTML that opens anywhere (`blvnet-edu course --export DIR`).

Each notebook of `notebooks/` is run top to bottom in a Jupyter kernel (nbclient), in full
mode or, with `quick=True`, in the tests' quick mode, and written as the executed `.ipynb`
and as an `.html` page (nbconvert; the template's styles shared in `course.css`), with an
`index.html` linking them in order. `render_pages` makes the pages and the index again from
executed `.ipynb` files without running anything (`blvnet-edu course --export DIR --render-only`).

The pages need no network: the math of the markdown is converted to MathML at export
(`latex_to_mathml`, with latex2mathml; browsers draw MathML themselves) instead of being left
to MathJax from a CDN, and the template's other scripts from a CDN (require.js, mermaid) are
left out. The executed `.ipynb` keep their LaTeX, which Jupyter renders.

Outputs name no path of the machine that ran them (`portable`): the pages are published. A
progress bar's states (tqdm rewrites its line with `\\r`) are collapsed to what a terminal
shows at the end (`terminal_text`), in the `.ipynb` and the page.

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
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "static_figures_available",
    "export_course",
    "environment",
    "render_pages",
    "portable",
    "terminal_text",
    "latex_to_mathml",
    "markdown_to_html",
]


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


def _shared_styles(page: str, stylesheet: Path, first: bool) -> str:
    """The page with its inline `<style>` blocks moved to `stylesheet`, which the first page of an
    export writes (`first`) and the others share; a page whose styles differ stays self-contained."""
    css = "\n".join(_STYLE.findall(page))
    if first and (not stylesheet.exists() or stylesheet.read_text() != css):
        stylesheet.write_text(css)
    elif not stylesheet.exists() or stylesheet.read_text() != css:
        return page
    first_style = _STYLE.search(page)
    if first_style is None:
        return page
    link = f'<link rel="stylesheet" href="{stylesheet.name}">'
    return page[: first_style.start()] + link + _STYLE.sub("", page[first_style.end() :])


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


_CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")  # a CSI escape sequence: colours, cursor moves


def terminal_text(text: str) -> str:
    """`text` as a terminal shows it once it is all written: a carriage return (`\\r`) goes back
    to the start of the line and what follows overwrites it, `ESC[nA`/`ESC[nB` move up or down
    `n` lines, `ESC[K` erases (to the end of the line, `ESC[2K` all of it); colours (`ESC[...m`)
    are kept for the HTML's ANSI colours. A progress bar's hundreds of states become its last
    one, and a bar that cleared itself (tqdm's `leave=False`) nothing. A line a carriage return
    or a cursor move rewrote loses its trailing blanks (tqdm's padding)."""
    if "\r" not in text and not any(m[2] != "m" for m in _CONTROL.finditer(text)):
        return text  # nothing is overwritten
    rows: list[list[str]] = [[]]  # per line, its visible characters (each with the colours set before it)
    tails = [""]  # per line, colour codes written after its last character
    rewritten = set()
    row = col = 0
    pending = ""  # colour codes for the next character
    i = 0
    while i < len(text):
        char = text[i]
        escape = _CONTROL.match(text, i) if char == "\x1b" else None
        if escape is not None:
            args, command = escape[1], escape[2]
            count = int(args) if args.isdigit() else 1
            if command == "m":
                pending += escape[0]
            elif command == "A":
                row, col = max(0, row - count), col
                rewritten.add(row)
            elif command == "B":
                row += count
            elif command == "C":
                col += count
            elif command == "D":
                col = max(0, col - count)
            elif command == "G":
                col = max(0, count - 1)
            elif command == "K":
                while row >= len(rows):
                    rows.append([]), tails.append("")
                line = rows[row]
                if args in ("", "0"):
                    del line[col:]
                elif args == "1":
                    line[: col + 1] = [" "] * min(col + 1, len(line))
                elif args == "2":
                    line.clear()
                rewritten.add(row)
            # other sequences (clear screen, cursor show/hide, ...): dropped
            i = escape.end()
            continue
        if char == "\r":
            col = 0
            rewritten.add(row)
        elif char == "\n":
            while row >= len(rows):
                rows.append([]), tails.append("")
            tails[row] += pending
            pending = ""
            row, col = row + 1, 0
        else:
            while row >= len(rows):
                rows.append([]), tails.append("")
            line = rows[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = pending + char
            else:
                line.append(pending + char)
            pending = ""
            col += 1
        i += 1
    while row >= len(rows):
        rows.append([]), tails.append("")
    tails[row] += pending
    lines = []
    for number, (line, tail) in enumerate(zip(rows, tails)):
        if number in rewritten:
            while line and line[-1] == " ":
                line.pop()
        lines.append("".join(line) + tail)
    return "\n".join(lines)


def _terminal_streams(nb) -> None:
    """Each cell's consecutive stream outputs of one stream (stdout, stderr) joined, as Jupyter
    shows them, and passed through `terminal_text`; one left blank (a bar that cleared itself, the
    newline a bar ends with) is dropped. In place."""
    for cell in nb.cells:
        outputs = cell.get("outputs")
        if not outputs:
            continue
        joined = []
        for output in outputs:
            last = joined[-1] if joined else None
            if (
                output.get("output_type") == "stream"
                and last is not None
                and last.get("output_type") == "stream"
                and last.get("name") == output.get("name")
            ):
                last["text"] += output["text"]
            else:
                joined.append(output)
        for output in joined:
            if output.get("output_type") == "stream":
                output["text"] = terminal_text(output["text"])
        cell["outputs"] = [o for o in joined if o.get("output_type") != "stream" or o["text"].strip()]


# The math of the markdown, as MathML: browsers (Chromium, Firefox, Safari) draw MathML Core
# themselves, so the pages need no MathJax from a CDN. latex2mathml does the converting; a few of
# its outputs are mended here, where MathML Core would show them otherwise than TeX does.
_TEXT_COMMANDS = {  # their argument is text, shown in this style
    "text": "",
    "textrm": "",
    "textnormal": "",
    "textup": "",
    "mbox": "",
    "textit": "font-style:italic",
    "textbf": "font-weight:bold",
    "texttt": "font-family:monospace",
    "textsf": "font-family:sans-serif",
}
_PROTECTED = re.compile(r"\\(operatorname\*?|mathrm|" + "|".join(_TEXT_COMMANDS) + r")(?![A-Za-z])\s*\{")
_FONT_LETTER = re.compile(
    r"\\(mathcal|mathbb|mathbf|mathfrak|mathscr|mathsf|mathit|mathrm|boldsymbol)\s*([A-Za-z0-9])"
)
_PLACEHOLDER = re.compile(r"<mtext>zqmathml(\d+)zq</mtext>")
# symbols latex2mathml writes as identifiers (<mi>), operators in TeX: fences (floor, ceiling, angle
# brackets) and ± ⧵ ⟺ • : |
_FENCES = {"&#x0230A;", "&#x0230B;", "&#x02308;", "&#x02309;", "&#x027E8;", "&#x027E9;"}
_AS_IDENTIFIER = re.compile(r"<mi>(&#x0[0-9A-F]{4};)</mi>")
_OPERATORS = {"&#x000B1;", "&#x029F5;", "&#x027FA;", "&#x02022;", "&#x0003A;", "&#x0007C;"}
_VARIANT = re.compile(r'<(mi|mn)( mathvariant="([a-z-]+)")>([A-Za-z0-9]+)</\1>')
_VARIANT_NAMES = {
    "bold": ["BOLD"],
    "italic": ["ITALIC"],
    "bold-italic": ["BOLD ITALIC"],
    "double-struck": ["DOUBLE-STRUCK"],
    "script": ["SCRIPT"],
    "bold-script": ["BOLD SCRIPT"],
    "fraktur": ["FRAKTUR", "BLACK-LETTER"],
    "bold-fraktur": ["BOLD FRAKTUR"],
    "sans-serif": ["SANS-SERIF"],
    "bold-sans-serif": ["SANS-SERIF BOLD"],
    "sans-serif-italic": ["SANS-SERIF ITALIC"],
    "monospace": ["MONOSPACE"],
}
_DIGITS = "ZERO ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE".split()


def _braced(tex: str, start: int) -> tuple[str, int]:
    """The group `{...}` opening at `tex[start]` (braces escaped as `\\{` do not count): its
    inside and the index after it."""
    depth, i = 0, start
    while i < len(tex):
        if tex[i] == "\\":
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(tex[i], 0)
        if depth == 0:
            return tex[start + 1 : i], i + 1
        i += 1
    raise ValueError("unbalanced braces")


def _text_element(command: str, argument: str) -> str | None:
    """The MathML of `\\command{argument}` (a text command, `\\operatorname`, `\\mathrm`), or None
    to leave it to latex2mathml (`\\mathrm` of more than letters)."""
    if command == "mathrm" and not re.fullmatch(r"[A-Za-z0-9 ]+", argument):
        return None
    if "$" in argument.replace("\\$", ""):
        raise ValueError(f"math inside \\{command}{{...}}")
    pieces = re.findall(r"\\[{}_$%&#]|\\[ ,;:!]|~|\\[A-Za-z]+|\\.|[{}]|[^\\{}~]+", argument)
    if any(re.fullmatch(r"\\([A-Za-z]+|[^{}_$%&# ,;:!])", piece) for piece in pieces):
        raise ValueError(f"a command inside \\{command}{{{argument}}}")
    text = "".join(
        piece[1] if piece[:1] == "\\" and piece[1] in "{}_$%&#" else " " if piece[:1] in "\\~" else piece
        for piece in pieces
        if piece not in "{}"  # a group's braces; an escaped brace is a brace
    )
    text = html.escape(text, quote=False)
    if command.startswith("operatorname") or command == "mathrm":
        return f'<mi mathvariant="normal">{text.strip()}</mi>'
    style = f' style="{_TEXT_COMMANDS[command]}"' if _TEXT_COMMANDS[command] else ""
    return f"<mtext{style}>{text.replace(' ', '&#x000A0;')}</mtext>"  # spaces kept: no-break spaces


def _unicode_variant(match: re.Match) -> str:
    """`<mi mathvariant="script">N</mi>` as `<mi>𝒩</mi>`: MathML Core knows no mathvariant but
    "normal"; the letters of the font are Unicode characters (unchanged where one is missing)."""
    tag, variant, letters = match[1], match[3], match[4]
    shown = []
    for letter in letters:
        kind = (
            f"DIGIT {_DIGITS[int(letter)]}"
            if letter.isdigit()
            else (f"{'CAPITAL' if letter.isupper() else 'SMALL'} {letter.upper()}")
        )
        for name in _VARIANT_NAMES.get(variant, []):
            for prefix in ("MATHEMATICAL ", ""):
                try:
                    shown.append(unicodedata.lookup(f"{prefix}{name} {kind}"))
                    break
                except KeyError:
                    continue
            else:
                continue
            break
        else:
            return match[0]
    return f"<{tag}>{''.join(shown)}</{tag}>"


def latex_to_mathml(tex: str, display: bool = False) -> str:
    """The formula `tex` (what stands between `$...$`, or `$$...$$` with `display=True`) as a
    MathML `<math>` element. Raises ValueError where it cannot be converted: latex2mathml fails,
    or leaves a command it does not know (`\\foo`) as text."""
    from latex2mathml.converter import convert

    tex = _FONT_LETTER.sub(r"\\\1{\2}", tex)  # \mathcal N: \mathcal{N}, which latex2mathml maps to 𝒩
    tex = re.sub(r"\\(arg)(?![A-Za-z])", r"\\operatorname{\1}", tex)  # function names latex2mathml lacks
    elements: list[str] = []
    parts, end = [], 0
    for match in _PROTECTED.finditer(tex):
        if match.start() < end:  # inside a group already taken
            continue
        argument, after = _braced(tex, match.end() - 1)
        element = _text_element(match[1], argument)
        if element is None:
            continue
        parts += [tex[end : match.start()], f"\\text{{zqmathml{len(elements)}zq}}"]
        elements.append(element)
        end = after
    try:
        mathml = convert("".join(parts) + tex[end:], display="block" if display else "inline")
    except Exception as err:  # latex2mathml's own exceptions, or an IndexError on a stray brace
        raise ValueError(f"latex2mathml: {type(err).__name__} {err}".strip()) from None
    mathml, replaced = _PLACEHOLDER.subn(lambda m: elements[int(m[1])], mathml)
    if replaced != len(elements):
        raise ValueError("a text command in a place latex2mathml does not keep")
    mathml = _AS_IDENTIFIER.sub(
        lambda m: (
            f'<mo stretchy="false">{m[1]}</mo>'
            if m[1] in _FENCES
            else (f"<mo>{m[1]}</mo>" if m[1] in _OPERATORS else m[0])
        ),
        mathml,
    )
    mathml = mathml.replace("<mi>&#x0007E;</mi>", "<mo>&#x0223C;</mo>")  # \sim, written as a tilde
    mathml = mathml.replace('<mspace width="negativethinmathspace" />', "")  # \!: not MathML
    mathml = _VARIANT.sub(_unicode_variant, mathml)
    mathml = re.sub(r"&(?!#?\w+;)", "&amp;", mathml)
    # HTML puts <math> in MathML's namespace by itself; the attribute would make nbconvert's heading
    # anchors (ElementTree) write prefixed tags (<ns0:math>), which HTML does not know
    mathml = mathml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1)
    unknown = re.search(r">[^<]*\\[^<]*<", mathml)
    if unknown:
        raise ValueError(f"not converted: {html.unescape(unknown[0][1:-1])}")
    return mathml


def _mathml_renderer(unconverted: list[str]):
    """nbconvert's markdown renderer with the math as MathML (`latex_to_mathml`); a formula that
    does not convert is shown as its LaTeX in `<code class="latex">` and named in `unconverted`."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer

    class MathMLRenderer(IPythonRenderer):
        def _math(self, tex: str, display: bool) -> str:
            try:
                return latex_to_mathml(tex, display)
            except ValueError as err:
                unconverted.append(f"{tex.strip()!r}: {err}")
                marks = "$$" if display else "$"
                return f'<code class="latex">{html.escape(marks + tex + marks)}</code>'

        def block_math(self, body: str) -> str:
            return self._math(body, True)

        def inline_math(self, body: str) -> str:
            return self._math(body, False)

        def latex_environment(self, name: str, body: str) -> str:
            return self._math(f"\\begin{{{name}}}{body}\\end{{{name}}}", True)

    return MathMLRenderer


def markdown_to_html(source: str, unconverted: list[str] | None = None, **options) -> str:
    """Markdown as nbconvert renders a markdown cell, with the math as MathML: `$...$` and
    `$$...$$` outside code (an escaped `\\$` is a dollar). Formulas that do not convert are
    added to `unconverted` (and shown as LaTeX); `options` go to nbconvert's renderer."""
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    renderer = _mathml_renderer([] if unconverted is None else unconverted)(escape=False, **options)
    return MarkdownWithMath(renderer=renderer).render(source)


# nbconvert's lab template without what it loads from a CDN: MathJax (the math is MathML),
# require.js (for widgets), mermaid (diagrams) and the widgets' manager; the course uses none.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}
<style type="text/css">
/* the markdown's math, MathML drawn by the browser */
.jp-RenderedMarkdown math[display="block"] { margin: 0.8em 0; overflow-x: auto; overflow-y: hidden; }
.jp-RenderedMarkdown math { font-size: 1.1em;
  font-family: "STIX Two Math", "Cambria Math", "Latin Modern Math", "DejaVu Math TeX Gyre", math; }
</style>
{%- endblock html_head_css -%}
"""


def _exporter(unconverted: list[str]):
    """nbconvert's HTMLExporter with the images embedded, the math as MathML and no script from
    the network."""
    import jinja2
    from nbconvert import HTMLExporter

    class CourseExporter(HTMLExporter):
        @jinja2.pass_context
        def markdown2html(self, context, source):
            cell = context.get("cell", {})
            return markdown_to_html(
                source,
                unconverted,
                attachments=cell.get("attachments", {}),
                embed_images=self.embed_images,
                path=context.get("resources", {}).get("metadata", {}).get("path", ""),
                anchor_link_text=self.anchor_link_text,
                exclude_anchor_links=self.exclude_anchor_links,
                **self.lexer_options,
            )

    return CourseExporter(
        embed_images=True,
        extra_loaders=[jinja2.DictLoader({"course.html.j2": _TEMPLATE})],
        template_file="course.html.j2",
    )


def _title(nb, default: str) -> str:
    """The notebook's title: the first line of its first markdown cell."""
    return next(
        (c.source.splitlines()[0].lstrip("# ") for c in nb.cells if c.cell_type == "markdown" and c.source),
        default,
    )


def _summary(nb) -> str:
    """A few lines on the notebook for the index, as HTML: the first paragraph after its title
    (or, where that is the objectives, the first of them); empty if there is none."""
    cell = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if cell is None:
        return ""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", cell.source) if b.strip() and b.strip()[0] != "#"]
    if not blocks:
        return ""
    text = blocks[0]
    if text.startswith("**Objectives.**"):
        items = re.split(r"\n\s*[-*] ", text)
        if len(items) < 2:
            return ""
        text = f"{items[0].removeprefix('**Objectives.**').strip()} {items[1].strip().rstrip(',;.')}."
    elif text[0] in "-*>|`<":  # a list, a quote, a table, code, HTML: no summary
        return ""
    rendered = markdown_to_html(" ".join(text.split())).strip()
    return re.sub(r"^<p>(.*)</p>$", r"\1", rendered, flags=re.S)


def _figures_note(notebooks) -> str:
    """What the pages show of the plotly figures, from the outputs: pictures or nothing."""
    plotly = [
        "image/png" in output.get("data", {})
        for nb in notebooks
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "application/vnd.plotly.v1+json" in output.get("data", {})
    ]
    if not plotly:
        return ""
    if all(plotly):
        return " Figures are static pictures of the interactive plots."
    return " Figures are interactive only (not shown in these pages)."


_INDEX_STYLE = """
body.course-index { max-width: 46rem; margin: 2.5rem auto; padding: 0 1.25rem; background: #fff;
  color: #1f2328; font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
.course-index h1 { font-size: 1.9rem; line-height: 1.25; margin: 0 0 0.75rem; }
.course-index .run { color: #57606a; }
.course-index ol { list-style: none; padding: 0; margin: 1.75rem 0; }
.course-index li { padding: 0.9rem 0; border-top: 1px solid #d8dee4; }
.course-index li:last-child { border-bottom: 1px solid #d8dee4; }
.course-index li > a { color: #0969da; font-size: 1.08rem; font-weight: 600; text-decoration: none; }
.course-index li > a:hover { text-decoration: underline; }
.course-index .time { color: #57606a; font-size: 0.9rem; white-space: nowrap; }
.course-index .summary { margin: 0.3rem 0 0; }
.course-index code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.9em;
  background: #f6f8fa; padding: 0.1em 0.3em; border-radius: 4px; }
"""


def _index_page(rows: list[tuple[str, str, float | None, str]], mode: str | None, cores, figures: str) -> str:
    """index.html: the pages in order, each with its title, time and summary (`rows`), and how
    the course was run."""
    run = "Run" + (f" in {mode}" if mode else "") + (f" on {cores} CPU cores" if cores else "")
    timed = any(seconds is not None for _, _, seconds, _ in rows)
    items = "\n".join(
        f'<li><a href="{name}">{html.escape(title)}</a>'
        + (f' <span class="time">({seconds:.0f} s)</span>' if seconds is not None else "")
        + (f'\n<p class="summary">{summary}</p>' if summary else "")
        + "</li>"
        for name, title, seconds, summary in rows
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>The bLVNet-TAM course, executed</title>\n"
        f'<link rel="stylesheet" href="{STYLESHEET}">\n<style>{_INDEX_STYLE}</style>\n</head>\n'
        '<body class="course-index">\n<h1>The bLVNet-TAM course, executed</h1>\n'
        f'<p class="run">{run} with <code>blvnet-edu course --export</code>'
        + ("; times per notebook in brackets." if timed else ".")
        + f"{figures} The pages need no network: the math is MathML, the pictures are in the page.</p>\n"
        f"<ol>\n{items}\n</ol>\n</body></html>\n"
    )


_MODES = {"quick": "quick mode (smaller sizes, fewer steps)", "full": "full mode"}


def _render_page(nb, name: str, out: Path, first: bool, log: Callable[[str], None]) -> Path:
    """`out/name.html` from the executed notebook `nb` (its title the page's)."""
    unconverted: list[str] = []
    body, _ = _exporter(unconverted).from_notebook_node(
        nb, resources={"metadata": {"name": _title(nb, name)}}
    )
    page = out / f"{name}.html"
    page.write_text(_shared_styles(body, out / STYLESHEET, first))
    for formula in unconverted:
        log(f"{name}: math left as LaTeX, not converted to MathML: {formula}")
    return page


def _cleaned(nb, root: Path, work: Path | None) -> None:
    """What the export publishes of `nb`'s outputs: progress bars at their last state, no path of
    this machine. In place."""
    _terminal_streams(nb)
    _portable_outputs(nb, root, work)


def render_pages(
    executed: list[Path],
    out: str | Path,
    seconds: dict[str, float] | None = None,
    quick: bool | None = None,
    cores: int | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """The pages `out/NN_name.html` and `out/index.html` from executed notebooks, without running
    them (what `export_course` does after running each one).

    Args:
        executed: the executed `.ipynb` files (`export_course` writes them), in the course's order.
        out: the folder to write (created).
        seconds, quick, cores: each notebook's run time (by its number "NN", as `"NN.seconds"` of
            `course_figures.json`), the mode and the number of CPU cores, for the index; by
            default what `export_course` noted in each notebook's metadata (`blvnet_edu`), and
            left out of the index where nothing says.

    Returns the index, the pages and the stylesheet. The `.ipynb` files are not changed: the pages
    show their outputs as `export_course` publishes them (`terminal_text`, `portable`).
    """
    import nbformat

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(__file__).resolve().parents[1]
    pages, rows, notebooks, noted = [], [], [], []
    for number, path in enumerate(map(Path, executed)):
        nb = nbformat.read(path, as_version=4)
        _cleaned(nb, root, None)
        note = nb.metadata.get("blvnet_edu", {})
        noted.append(note)
        pages.append(_render_page(nb, path.stem, out, number == 0, log))
        taken = (seconds or {}).get(path.stem[:2], note.get("seconds"))
        rows.append((pages[-1].name, _title(nb, path.stem), taken, _summary(nb)))
        notebooks.append(nb)
        log(f"{path.stem}: -> {pages[-1]}")
    modes = {note.get("mode") for note in noted}
    mode = ("quick" if quick else "full") if quick is not None else (modes.pop() if len(modes) == 1 else None)
    cores = cores or next((note["cpu_cores"] for note in noted if "cpu_cores" in note), None)
    index = out / "index.html"
    index.write_text(_index_page(rows, _MODES.get(mode), cores, _figures_note(notebooks)))
    return [index, *pages, *([out / STYLESHEET] if (out / STYLESHEET).exists() else [])]


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`os.environ` with `values` set inside the block (a Jupyter kernel started there inherits
    them), and as it was after it."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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

    Each executed notebook notes its mode, run time and the machine's CPU cores in its metadata
    (`blvnet_edu`), which `render_pages` reads for the index. Returns the index, the `.ipynb`
    files, the pages and the stylesheet.

    Raises `nbclient.exceptions.CellExecutionError` naming the notebook and cell that failed (the
    notebooks run before it are written, `.ipynb` only: `render_pages` makes their pages).
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient

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
    executed = []
    with environment(env):  # the kernel inherits the environment
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
            # progress bars at their last state, no path of this machine in what is published
            _cleaned(nb, folder.resolve().parent, Path(work).resolve() if work is not None else None)
            nb.metadata["blvnet_edu"] = {
                "mode": "quick" if quick else "full",
                "seconds": round(seconds, 3),
                "cpu_cores": os.cpu_count(),
            }
            executed.append(out / f"{source.stem}.ipynb")
            nbformat.write(nb, executed[-1])
            log(f"{source.stem}: {seconds:.0f} s -> {executed[-1]}")
    index, *rest = render_pages(executed, out, log=log)
    return [index, *executed, *rest]
