"""benchmarks/: every script runs end to end at a tiny size and writes its report (no timing asserts)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

TINY = {
    "efficiency_table": ["--frames", "2"],
    "memory": ["--frames", "2", "--size", "64", "--batches", "1", "2"],
    "speed": ["--frames", "4", "--size", "64", "--batch", "1", "--repeats", "1"],
    "data_decode": ["--clips", "1", "--repeats", "1", "--seconds", "20"],
    "app_latency": ["--repeats", "1"],
    "app_limits": ["--quick", "--rounds", "1"],  # exits 1 when the server's peak memory passes the documented bound
}


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_runs_and_reports(name, tmp_path):
    out = tmp_path / f"{name}.md"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *TINY[name], "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = out.read_text()
    assert report.startswith("# ") and "|---|" in report


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without a GPU")
def test_gpu_benchmark_says_it_needs_a_gpu():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_training.py")], capture_output=True, text=True)
    assert done.returncode == 2 and "needs a CUDA GPU" in done.stderr


def test_runner_collects_reports(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--collect"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    text = (ROOT / "docs" / "BENCHMARKS.md").read_text()
    assert text.startswith("# Benchmarks") and "## Efficiency table" in text
