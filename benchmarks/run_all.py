"""Run every benchmark and collect their reports into docs/BENCHMARKS.md.

    python benchmarks/run_all.py                 # everything that runs here (about 30 min on 2 cores)
    python benchmarks/run_all.py --only memory speed
    python benchmarks/run_all.py --collect       # only rebuild docs/BENCHMARKS.md from docs/benchmarks/

The GPU benchmark, and memory's GPU run, run only where CUDA is available. The long runs (the
synthetic comparison, about 25 min of training; the TAM initialisation study, about 10 min;
the whole course in full mode, about 15 min) run only with --with-training.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "docs" / "benchmarks"
ORDER = [
    "efficiency_table",
    "memory",
    "speed",
    "data_decode",
    "app_latency",
    "app_limits",
    "gpu_training",
    "synthetic_comparison",
    "tam_init",
    "course_figures",
]
LONG = {
    "synthetic_comparison": "about 25 min of training",
    "tam_init": "about 10 min of training",
    "course_figures": "about 15 min, the whole course",
}
GPU_RUNS = {
    "memory": ["--device", "cuda", "--batches", "2", "6"]
}  # also run on a GPU, report `<name>_cuda.md`


def collect() -> Path:
    parts = [
        "# Benchmarks",
        "",
        "Measured figures only, each with the command and the machine that produced it. "
        "Regenerate with `python benchmarks/run_all.py`.",
        "",
    ]
    for name in ORDER:
        for report_name in [name] + ([f"{name}_cuda"] if name in GPU_RUNS else []):
            report = REPORTS / f"{report_name}.md"
            if report.exists():
                text = report.read_text().strip().splitlines()
                text[0] += " (GPU)" if report_name != name else ""
                fenced = False
                for line in text:  # headings one level down, code blocks unchanged
                    fenced ^= line.startswith("```")
                    parts.append("#" + line if line.startswith("#") and not fenced else line)
                parts.append("")
            elif report_name == name:
                parts += [f"## {name}", "", f"Not measured yet: `python benchmarks/{name}.py`.", ""]
    out = ROOT / "docs" / "BENCHMARKS.md"
    out.write_text("\n".join(parts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=ORDER)
    parser.add_argument("--with-training", action="store_true")
    parser.add_argument("--collect", action="store_true")
    args = parser.parse_args()
    if not args.collect:
        for name in args.only or ORDER:
            if name == "gpu_training" and not torch.cuda.is_available():
                print("skipping gpu_training: no CUDA GPU here")
                continue
            if name in LONG and not (args.with_training or args.only):
                print(f"skipping {name} ({LONG[name]}): add --with-training")
                continue
            print(f"== {name}", flush=True)
            subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py")], check=True)
            if name in GPU_RUNS and torch.cuda.is_available():
                subprocess.run(
                    [sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *GPU_RUNS[name]], check=True
                )
    print(f"wrote {collect()}")


if __name__ == "__main__":
    main()
