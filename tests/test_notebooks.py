"""The course notebooks run top to bottom in quick mode; a failing cell fails the test.

Each notebook is read from its percent-format source with jupytext and executed by a real
Jupyter kernel (nbclient), in the notebooks folder, with `BLVNET_EDU_QUICK=1` and its
results in a temporary folder. The structure the course promises (objectives, exercises
with hidden solutions, no outputs in git) is checked on the sources.

"Your turn" exercises: the notebooks run with each stub replaced by the solution hidden
below its check (every check must then say "correct!"), and at the end each check runs
again on every typical wrong answer of `course_exercises.MISTAKES`, which it must reject with
an AssertionError that gives that mistake's hint (`test_course_checks.py` tests the checks
themselves in seconds, without a notebook).
"""

import json
import math
import os
import re
import sys
import textwrap
import time

import jupytext
import nbformat
import pytest
from course_exercises import CHECK_CELL, MISTAKES, NOTEBOOKS, ROOT, your_turns
from nbclient import NotebookClient

sys.path.insert(0, str(ROOT / "benchmarks"))
import course_figures  # noqa: E402  (benchmarks/course_figures.py)

pytestmark = pytest.mark.slow  # every notebook executed

FULL_RUN = json.loads(course_figures.FIGURES.read_text())  # the last full run's recorded figures and times
TIMES: dict[str, float] = {}


def test_the_course_has_nine_notebooks_in_order():
    assert [int(p.name[:2]) for p in NOTEBOOKS] == list(range(1, 10))
    # sources only: no notebook with outputs is committed
    ignored = (ROOT / ".gitignore").read_text()
    assert "notebooks/*.ipynb" in ignored


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = jupytext.read(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"\*\*Objectives\.?\*\*", markdown), "objectives at the top"
    assert re.search(
        r"\*\*Before you start\.\*\* Prerequisites: .+ Run time on 2 CPU cores: quick mode .+ about "
        r".+; full mode \(the default\) about ",
        " ".join(markdown.split()),
    ), "prerequisites and run times"
    assert "## Read next" in nb.cells[-1].source, "ends with what to read next"
    assert "## Exercises" in markdown
    assert markdown.count("<details>") >= 2, "exercises come with solutions to reveal"
    assert markdown.count("<details>") == markdown.count("</details>")
    assert "$" in markdown or "```" in markdown, "math or code next to the explanations"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "setup()" in code
    turns = your_turns(nb)
    assert len(turns) >= 2, "at least two 'your turn' exercises"
    for number, turn in enumerate(turns, 1):
        # the check cell shows no reference: the test is in notebooks/checks.py
        assert re.fullmatch(CHECK_CELL, nb.cells[turn["check"]].source).groups() == (
            str(number),
            turn["name"],
            turn["name"],
        )
        assert f"def {turn['name']}(" in turn["solution"] and turn["name"] in MISTAKES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("BLVNET_EDU_QUICK", "1")
    monkeypatch.setenv("BLVNET_EDU_COURSE_DIR", str(tmp_path / "course"))
    monkeypatch.setenv("BLVNET_EDU_FIGURES", str(tmp_path / "figures.json"))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(ROOT / "notebooks"), os.environ.get("PYTHONPATH", "")])
    )
    nb = jupytext.read(path)
    turns = your_turns(nb)
    for turn in turns:  # the student's answers: the solutions
        nb.cells[turn["stub"]].source = turn["solution"]
    for turn in turns:  # then the typical wrong answers, which each check must reject with their hints
        check_source = textwrap.indent(nb.cells[turn["check"]].source, "    ")
        for wrong, hint in MISTAKES[turn["name"]]:
            nb.cells.append(
                nbformat.v4.new_code_cell(
                    f"import math\nimport re\n\n{wrong}\n\ntry:\n{check_source}\n"
                    "except AssertionError as rejected:\n"
                    f"    assert re.search({hint!r}, str(rejected)), rejected\n"
                    f"else:\n    raise RuntimeError('the check of {turn['name']} accepts a wrong answer')"
                )
            )
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the failing cell
    TIMES[path.stem] = time.perf_counter() - start
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    said = ["".join(o.get("text", "") for o in nb.cells[t["check"]].outputs) for t in turns]
    assert all(re.search(r"Your turn \d: correct!", text) for text in said), said
    # every figure the README quotes from this notebook is still computed (in quick mode, by the same code)
    recorded = (
        json.loads((tmp_path / "figures.json").read_text()) if (tmp_path / "figures.json").exists() else {}
    )
    quoted = {k for k in FULL_RUN if k.startswith(f"{path.stem[:2]}.") and not k.endswith(".seconds")}
    assert set(recorded) == quoted, "run python benchmarks/course_figures.py"
    for key in (
        k for k in quoted if k.startswith(course_figures.MODE_FREE)
    ):  # counted at 224 px in both modes
        assert math.isclose(recorded[key], FULL_RUN[key], rel_tol=1e-9), (key, recorded[key], FULL_RUN[key])
    print(f"{path.stem}: {TIMES[path.stem]:.1f} s")


def test_the_readme_quotes_the_last_full_run():
    """The README's course figures and run times are rendered from the full run's recorded file."""
    readme = (ROOT / "README.md").read_text()
    assert readme == course_figures.readme_with_figures(readme, FULL_RUN), (
        "the README differs from docs/benchmarks/course_figures.json: python benchmarks/course_figures.py "
        "--render-only"
    )
    assert set(FULL_RUN) >= {f"{p.stem[:2]}.seconds" for p in NOTEBOOKS}
    assert FULL_RUN["run"]["sources"] == course_figures.source_digests(), (
        "the notebooks changed since the published run (docs/course/): python benchmarks/course_figures.py"
    )


def _stated_seconds(markdown: str, mode: str) -> tuple[float, str]:
    """The run time a notebook's "Before you start" states for `mode`: seconds and the words."""
    pattern = {
        "quick": r"quick mode \(`BLVNET_EDU_QUICK=1`[^)]*\) about ([\d.]+) (s|minutes?)\b",
        "full": r"full mode \(the default\) about ([\d.]+) (s|minutes?)\b",
    }[mode]
    number, unit = re.search(pattern, markdown).groups()
    return float(number) * (60 if unit.startswith("minute") else 1), f"{number} {unit}"


@pytest.mark.parametrize("mode", ["quick", "full"])
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_states_about_the_measured_run_time(path, mode):
    """The stated times come from the last course run (benchmarks/course_figures.py): within a factor 2."""
    markdown = " ".join(
        " ".join(c.source for c in jupytext.read(path).cells if c.cell_type == "markdown").split()
    )
    stated, words = _stated_seconds(markdown, mode)
    key = f"{path.stem[:2]}.seconds" if mode == "full" else f"quick.{path.stem[:2]}.seconds"
    measured = FULL_RUN[key]
    assert measured / 2 <= stated <= measured * 2, (
        f"{path.stem} says {mode} mode takes about {words}; the course run took {measured:.0f} s"
    )


def test_the_quick_course_fits_in_three_minutes():
    """Quick mode is for a first look and for the tests: all nine notebooks, as the last course
    run measured them on 2 cores (kernel starts included), in at most 3 minutes."""
    quick = {k: v for k, v in FULL_RUN.items() if k.startswith("quick.") and k.endswith(".seconds")}
    assert len(quick) == len(NOTEBOOKS), "python benchmarks/course_figures.py --quick-only"
    assert sum(quick.values()) <= 180, {k: round(v) for k, v in quick.items()}


def test_a_check_says_when_an_exercise_is_not_done_yet(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "notebooks"))
    from course import check

    def unfinished():
        raise NotImplementedError("your turn")

    check("Your turn 1", unfinished)  # "Run all" goes on past it
    assert "Your turn 1: not done yet" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="a hint"):
        check("Your turn 2", lambda: (_ for _ in ()).throw(AssertionError("a hint")))
