"""Shared set-up for the course notebooks: quick mode, where results go, seeds and figures.

Every notebook starts with `from course import ...; setup()`. Nothing here teaches: the
notebooks do that, and the package (`blvnet_edu`) implements.

- Quick mode (`BLVNET_EDU_QUICK=1`, used by the tests): smaller sizes and fewer steps, so
  all notebooks run top to bottom in a few minutes on 2 CPU cores. Full mode (the default)
  reproduces the figures quoted in the README.
- "Your turn" exercises: the student completes a function (its stub raises
  `NotImplementedError`) and runs the check cell after it,
  `check("Your turn 1", checks.fold_frames(fold_frames))`. The test lives in
  `notebooks/checks.py`, out of sight, so that the cell neither shows the package's answer
  nor invites calling it. `check` says "correct", or says the exercise is not done yet (so
  "Run all" goes on past exercises left for later), or raises an `AssertionError` whose
  message gives a hint (one for each typical mistake the test recognises, else the idea to
  revisit) and the first element where the answer differs, expected and got.
- Figures the README quotes are passed to `record(key, value)`, which keeps them in the JSON
  file `BLVNET_EDU_FIGURES` names (`benchmarks/course_figures.py` sets it) and does nothing
  otherwise: the README's course figures are written from the full run's file.
- Results of expensive steps (generated data, trained models) go under `WORK`:
  `runs/course` (full) or `runs/course-quick` (quick), or `BLVNET_EDU_COURSE_DIR`. A
  notebook loads a result that exists and computes it otherwise.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import plotly.io as pio
import torch

QUICK = os.environ.get("BLVNET_EDU_QUICK", "0") not in ("", "0")
ROOT = Path(__file__).resolve().parents[1]  # the repository: app/demo, app/examples, configs
WORK = Path(os.environ.get("BLVNET_EDU_COURSE_DIR", ROOT / "runs" / ("course-quick" if QUICK else "course")))
DEMO = ROOT / "app" / "demo"  # bundled tiny bLVNet-TAM and TSN trained on the synthetic set
EXAMPLES = ROOT / "app" / "examples"  # one validation clip per synthetic class
FIGURES = os.environ.get("BLVNET_EDU_FIGURES")  # a JSON file for `record` (benchmarks/course_figures.py)


def pick(quick, full):
    """`quick` in quick mode, `full` otherwise."""
    return quick if QUICK else full


def setup(seed: int = 0) -> None:
    """Seeds and figure output, once at the top of every notebook."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_printoptions(precision=4, sci_mode=False)
    # Plotly figures as JupyterLab's mime type: rendered by the jupyterlab-plotly extension
    # that ships with plotly, offline, and small in the saved notebook.
    pio.renderers.default = "plotly_mimetype"
    if os.environ.get("BLVNET_EDU_STATIC_FIGURES", "0") not in ("", "0"):
        # `blvnet-edu course --export`: also a PNG of every figure (kaleido), which GitHub and HTML show
        pio.renderers.default = "plotly_mimetype+png"
        pio.renderers["png"].width, pio.renderers["png"].height = 1000, None
    WORK.mkdir(parents=True, exist_ok=True)
    print(f"quick mode: {QUICK}; results in {WORK}")


def check(exercise: str, test) -> None:
    """Run a "your turn" check: `test()` (from `checks`) compares the student's function with
    the package and raises an `AssertionError` with a hint where they differ."""
    try:
        test()
    except NotImplementedError as todo:  # a stub's "your turn", or what the exercise asks for instead
        what = str(todo) if str(todo) not in ("", "your turn") else None
        print(
            f"{exercise}: not done yet. "
            f"{what[0].upper() + what[1:] if what else 'Complete the function above, run its cell, then this one again'}."
        )
        return
    except AssertionError as wrong:  # raised again from here: the traceback shows no line of the test
        raise AssertionError(f"{exercise}: not yet. {wrong}") from None
    print(f"{exercise}: correct!")


def record(key: str, value) -> None:
    """Keep `value` as `key` in the JSON file `BLVNET_EDU_FIGURES` names, if any (else nothing)."""
    if FIGURES:
        path = Path(FIGURES)
        figures = json.loads(path.read_text()) if path.exists() else {}
        figures[key] = value.item() if hasattr(value, "item") else value  # tensors, numpy scalars
        path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
