"""The course notebooks run top to bottom in quick mode; a failing cell fails the test.

Each notebook is read from its percent-format source with jupytext and executed by a real
Jupyter kernel (nbclient), in the notebooks folder, with `BLVNET_EDU_QUICK=1` and its
results in a temporary folder. The structure the course promises (objectives, exercises
with hidden solutions, no outputs in git) is checked on the sources.
"""

import os
import re
import time
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
TIMES: dict[str, float] = {}


def test_the_course_has_eight_notebooks_in_order():
    assert [int(p.name[:2]) for p in NOTEBOOKS] == list(range(1, 9))
    # sources only: no notebook with outputs is committed
    ignored = (ROOT / ".gitignore").read_text()
    assert "notebooks/*.ipynb" in ignored


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = jupytext.read(path)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"\*\*Objectives\.?\*\*", markdown), "objectives at the top"
    assert "## Exercises" in markdown
    assert markdown.count("<details>") >= 2, "exercises come with solutions to reveal"
    assert markdown.count("<details>") == markdown.count("</details>")
    assert "$" in markdown or "```" in markdown, "math or code next to the explanations"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "setup()" in code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(path, tmp_path, monkeypatch):
    monkeypatch.setenv("BLVNET_EDU_QUICK", "1")
    monkeypatch.setenv("BLVNET_EDU_COURSE_DIR", str(tmp_path / "course"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "notebooks"), os.environ.get("PYTHONPATH", "")]))
    nb = jupytext.read(path)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the failing cell
    TIMES[path.stem] = time.perf_counter() - start
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    print(f"{path.stem}: {TIMES[path.stem]:.1f} s")
