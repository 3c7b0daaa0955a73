"""The course notebooks run top to bottom in quick mode; a failing cell fails the test.

Each notebook is read from its percent-format source with jupytext and executed by a real
Jupyter kernel (nbclient), in the notebooks folder, with `BLVNET_EDU_QUICK=1` and its
results in a temporary folder. The structure the course promises (objectives, exercises
with hidden solutions, no outputs in git) is checked on the sources.

"Your turn" exercises: the notebooks run with each stub replaced by the solution hidden
below its check (every check must then say "correct!"), and at the end each check runs
again on a typical wrong answer (`WRONG`), which it must reject with an AssertionError.
"""

import json
import math
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import course_figures  # noqa: E402  (benchmarks/course_figures.py)

pytestmark = pytest.mark.slow  # every notebook executed

FULL_RUN = json.loads(course_figures.FIGURES.read_text())  # the last full run's recorded figures and times
TIMES: dict[str, float] = {}
STUB = 'raise NotImplementedError("your turn")'
WRONG = {  # a typical mistake for every "your turn" function: its check must reject it
    "fold_frames": "def fold_frames(video):\n    return video.transpose(0, 1).reshape(-1, *video.shape[2:])",
    "consensus": "def consensus(s, t):\n    return s.view(t, -1, s.shape[-1]).mean(0)",
    "to_model_input": (
        "def to_model_input(frames):\n    from blvnet_edu.data.transforms import IMAGENET_MEAN, "
        "IMAGENET_STD\n"
        "    m, s = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, "
        "1)\n"
        "    return (frames.float() - m) / s"
    ),
    "centre_crop": (
        "def centre_crop(frames, size):\n    h, w = frames.shape[-2:]\n"
        "    t, l = (h - size) // 2, (w - size) // 2\n    return frames[..., t:t + size, l:l + size]"
    ),
    "tam_conv1d": (
        "def tam_conv1d(x, weight, num_frames):\n    c = weight.shape[1]\n    h, w = x.shape[-2:]\n"
        "    s = unfold_time(x, num_frames).permute(0, 3, 4, 2, 1).reshape(-1, c, num_frames)\n"
        "    o = F.conv1d(s, weight.flip(0).t().unsqueeze(1), padding=weight.shape[0] // 2, groups=c)\n"
        "    return fold_time(F.relu(o.view(-1, h, w, c, num_frames).permute(0, 4, 3, 1, 2)))"
    ),
    "reversed_weights": "def reversed_weights(weight):\n    return weight",
    "split_pairs": "def split_pairs(frames):\n    return frames[0::2], frames[1::2]",
    "copy_back": "def copy_back(fused):\n    return fused.repeat(2, 1, 1, 1)",
    "conv_macs": (
        "def conv_macs(conv, h, w):\n    kh, kw = conv.kernel_size\n"
        "    oh = (h + 2 * conv.padding[0] - kh) // conv.stride[0] + 1\n"
        "    ow = (w + 2 * conv.padding[1] - kw) // conv.stride[1] + 1\n"
        "    return oh * ow * conv.out_channels * conv.in_channels * kh * kw"
    ),
    "clip_scores": "def clip_scores(s, t):\n    return s.view(-1, t, s.shape[-1]).mean(1)",
    "clip_name": "def clip_name(i, a, b):\n    return f'{i}_{a}_{b}'",
    "kinetics_classes": "def kinetics_classes(labels):\n    return list(dict.fromkeys(labels))",
    "lr_factor": (
        "def lr_factor(step, total, warmup):\n    import math\n"
        "    return 0.5 * (1 + math.cos(math.pi * step / total))"
    ),
    "decay_groups": (
        "def decay_groups(model, wd):\n    return [{'params': list(model.parameters()), 'weight_decay': wd}]"
    ),
    "saliency_map": (
        "def saliency_map(model, video, target):\n    video = video.detach().requires_grad_()\n"
        "    model(video)[0, target].backward()\n    m = video.grad[0].sum(1).abs()\n    return m / m.max()"
    ),
    "authors_indices": "def authors_indices(n):\n    return [x * n // 16 for x in range(16)]",
    "upright": "def upright(image, rotation):\n    return np.rot90(image, k=-round(rotation / 90) % 4)",
    "frame_importance": (
        "def frame_importance(model, video, target):\n    p = model(video)[0, target]\n    out = []\n"
        "    for t in range(video.shape[1]):\n        v = video.clone()\n        v[:, t] = 0\n"
        "        out.append(p - model(v)[0, target])\n    return torch.stack(out)"
    ),
}


def your_turns(nb) -> list[dict]:
    """Each "your turn" exercise: its stub cell, its check cell, the solution's code, the function."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or STUB not in cell.source:
            continue
        name = re.search(r"^def (\w+)\(", cell.source, re.M)[1]
        check = next(j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code")
        solution = next(
            c.source for c in nb.cells[check + 1 :] if c.cell_type == "markdown" and "```python" in c.source
        )
        code = re.search(r"```python\n(.*?)```", solution, re.S)[1]
        found.append({"stub": i, "check": check, "solution": code, "name": name})
    return found


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
    for turn in turns:
        assert re.search(
            rf"^check\(\"Your turn \d\", test_{turn['name']}\)$", nb.cells[turn["check"]].source, re.M
        )
        assert f"def {turn['name']}(" in turn["solution"] and turn["name"] in WRONG


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
    for turn in turns:  # then a typical wrong answer, which each check must reject
        check_source = nb.cells[turn["check"]].source
        nb.cells.append(
            nbformat.v4.new_code_cell(
                f"{WRONG[turn['name']]}\n\ntry:\n{textwrap.indent(check_source, '    ')}\nexcept "
                "AssertionError:\n"
                f"    pass\nelse:\n    raise RuntimeError('the check of {turn['name']} accepts a wrong "
                "answer')"
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
