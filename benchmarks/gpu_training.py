"""Training clips per second on a GPU: bLVNet-TAM-50 (16 frames) in fp32, bf16 autocast,
channels_last, torch.compile; TSN-ResNet-50 (16 frames) beside it.

Needs a CUDA GPU (it says so and exits otherwise). Median of `--steps` timed steps after
warm-up, synchronised. Results: docs/benchmarks/gpu_training.md.

    python benchmarks/gpu_training.py --batch 8
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from blvnet_edu import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def clips_per_second(name: str, batch: int, dtype, channels_last: bool, compile_: bool, steps: int) -> float:
    model = build_model(name, num_classes=174, num_frames=16).cuda().train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    run = torch.compile(model) if compile_ else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    video = torch.randn(batch, 16, 3, 224, 224, device="cuda")
    labels = torch.zeros(batch, dtype=torch.long, device="cuda")
    times = []
    for step in range(steps + 5):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
            loss = torch.nn.functional.cross_entropy(run(video).float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if step >= 5:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "gpu_training.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_training.py needs a CUDA GPU; none is available here.", file=sys.stderr)
        sys.exit(2)
    settings = [
        ("blvnet_tam_50", "fp32", None, False, False),
        ("blvnet_tam_50", "bf16 autocast", torch.bfloat16, False, False),
        ("blvnet_tam_50", "bf16 + channels_last", torch.bfloat16, True, False),
        ("blvnet_tam_50", "bf16 + channels_last + compile", torch.bfloat16, True, True),
        ("tsn_resnet50", "fp32", None, False, False),
        ("tsn_resnet50", "bf16 + channels_last", torch.bfloat16, True, False),
    ]
    lines = [
        "# GPU training throughput, 16 frames at 224 px",
        "",
        f"`python benchmarks/gpu_training.py --batch {args.batch}` — {torch.cuda.get_device_name()}, "
        f"torch {torch.__version__}; median of {args.steps} steps after 5 warm-up steps.",
        "",
        "| model | setting | clips / s |",
        "|---|---|---|",
    ]
    for name, label, dtype, channels_last, compile_ in settings:
        rate = clips_per_second(name, args.batch, dtype, channels_last, compile_, args.steps)
        lines.append(f"| {name} | {label} | {rate:.1f} |")
        print(lines[-1], flush=True)
    write_report(args.out, lines, echo=False)


if __name__ == "__main__":
    main()
