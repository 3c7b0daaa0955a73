"""benchmarks/: every script runs end to end at a tiny size and writes its report (no timing asserts)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # the benchmarks run at small scale

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "efficiency_table": ["--frames", "2"],
    "memory": ["--frames", "2", "--size", "64", "--batches", "1", "2"],
    "speed": ["--frames", "4", "--size", "64", "--batch", "1", "--repeats", "1"],
    "data_decode": ["--clips", "1", "--repeats", "1", "--seconds", "20"],
    "app_latency": ["--repeats", "1", "--quick"],
    "app_limits": [
        "--quick",
        "--rounds",
        "1",
    ],  # exits 1 when the server's peak memory passes the documented bound
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_runs_and_reports(name, tmp_path):
    out = tmp_path / f"{name}.md"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *TINY[name], "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = out.read_text()
    assert report.startswith("# ") and "|---|" in report


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_gpu_benchmark_says_it_needs_a_gpu():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_training.py")], capture_output=True, text=True
    )
    assert done.returncode == 2 and "needs a CUDA GPU" in done.stderr


def test_runner_collects_reports(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--collect"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    assert text.startswith("# Benchmarks") and "## Efficiency table" in text


def test_the_course_export_keeps_what_a_notebook_records_and_its_time(tmp_path):
    """benchmarks/course_figures.py's plumbing: the kernel writes what the notebook `record`s, the
    export adds its time."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import course_figures

    from blvnet_edu.course_export import export_course

    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "course.py").write_text((ROOT / "notebooks" / "course.py").read_text())
    (folder / "01_scratch.py").write_text(
        "# %% [markdown]\n# # A scratch notebook\n\n# %%\nimport torch\n"
        "from course import record\nrecord('01.answer', torch.tensor(42))\n"
    )
    figures = tmp_path / "figures.json"
    export_course(
        tmp_path / "out", [folder / "01_scratch.py"], quick=True, figures=figures, log=lambda *_: None
    )
    recorded = json.loads(figures.read_text())
    assert recorded.keys() == {"01.answer", "01.seconds"} and recorded["01.answer"] == 42
    assert 0 < recorded["01.seconds"] < 120
    full_run = json.loads(course_figures.FIGURES.read_text())
    assert "| `03.tam_params` | 18048 |" in course_figures.report_lines(full_run)
