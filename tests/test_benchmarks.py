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


def test_gpu_profile_runs_on_the_cpu_and_splits_the_step(tmp_path):
    """The profile script of issue 24 works where no GPU is: per kind of operation, launches, parts."""
    out = tmp_path / "profile.md"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_profile.py"),
            *("--device", "cpu", "--size", "48", "--batch", "2", "--steps", "1"),
            *("--models", "blvnet_tam_tiny:8", "tsn_resnet_tiny:8", "--out", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| ")]
    kinds = {(r[0].lstrip("| "), r[2]) for r in rows if len(r) == 6}
    for model in ("blvnet_tam_tiny", "tsn_resnet_tiny"):
        assert {(model, "convolution"), (model, "BatchNorm"), (model, "**all**")} <= kinds
    parts = {(r[0].lstrip("| "), r[2]) for r in rows if len(r) == 4}
    assert ("blvnet_tam_tiny", "TAM (all)") in parts and (
        "blvnet_tam_tiny",
        "merges (fusion), stages 1-3",
    ) in parts
    assert not any(
        model == "tsn_resnet_tiny" and part.startswith("TAM") for model, part in parts
    )  # TSN: no TAM


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_gpu_profile_says_it_needs_a_gpu_for_cuda():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_profile.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "none is available here" in done.stderr
