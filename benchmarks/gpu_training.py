"""Training and inference clips per second on a GPU: bLVNet-TAM-50 (16 frames) in fp32, bf16
autocast, channels_last, torch.compile; TSN-ResNet-50 (8 and 16 frames) beside it.

Needs a CUDA GPU (it says so and exits otherwise). Median of `--steps` timed steps after
warm-up, synchronised; the allocator's peak for each setting. Results: docs/benchmarks/gpu_training.md.

    python benchmarks/gpu_training.py --batch 8 32
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import torch

from blvnet_edu import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def clips_per_second(
    name: str,
    frames: int,
    batch: int,
    dtype,
    channels_last: bool,
    compile_: bool,
    steps: int,
    training: bool = True,
    fast: bool = True,
) -> tuple[float, float]:
    """(clips per second, allocator peak in GiB) of training steps, or of forward passes."""
    torch._dynamo.reset()  # nothing of an earlier setting stays allocated
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    model = build_model(name, num_classes=174, num_frames=frames).cuda().train(training)
    model.fast = fast
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    run = torch.compile(model) if compile_ else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    video = torch.randn(batch, frames, 3, 224, 224, device="cuda")
    labels = torch.zeros(batch, dtype=torch.long, device="cuda")
    times = []
    for step in range(steps + 5):
        torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None), torch.set_grad_enabled(training):
            loss = torch.nn.functional.cross_entropy(run(video).float(), labels)
        if training:
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if step >= 5:
            times.append(time.perf_counter() - start)
    return batch / statistics.median(times), torch.cuda.max_memory_allocated() / 2**30


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--batch", type=int, nargs="+", default=[8], help="one table row per setting and batch"
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "gpu_training.md")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu_training.py needs a CUDA GPU; none is available here.", file=sys.stderr)
        sys.exit(2)
    bf16 = torch.bfloat16
    settings = [  # model, frames, label, autocast dtype, channels_last, compile, training, fast path
        ("blvnet_tam_50", 16, "fp32", None, False, False, True, True),
        ("blvnet_tam_50", 16, "bf16 autocast", bf16, False, False, True, True),
        ("blvnet_tam_50", 16, "bf16 + channels_last", bf16, True, False, True, True),
        (
            "blvnet_tam_50",
            16,
            "bf16 + channels_last, the paper's path (fast=False)",
            bf16,
            True,
            False,
            True,
            False,
        ),
        ("blvnet_tam_50", 16, "bf16 + channels_last + compile", bf16, True, True, True, True),
        ("tsn_resnet50", 16, "fp32", None, False, False, True, True),
        ("tsn_resnet50", 16, "bf16 + channels_last", bf16, True, False, True, True),
        ("tsn_resnet50", 8, "bf16 + channels_last", bf16, True, False, True, True),
        ("tsn_resnet50", 8, "bf16 + channels_last + compile", bf16, True, True, True, True),
        ("blvnet_tam_50", 16, "inference, bf16 + channels_last", bf16, True, False, False, True),
        ("tsn_resnet50", 16, "inference, bf16 + channels_last", bf16, True, False, False, True),
        ("tsn_resnet50", 8, "inference, bf16 + channels_last", bf16, True, False, False, True),
    ]
    lines = [
        "# GPU training and inference throughput at 224 px",
        "",
        f"`python benchmarks/gpu_training.py --batch {' '.join(map(str, args.batch))} --steps {args.steps}` "
        "— "
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}; median of {args.steps} steps after 5 "
        "warm-up "
        "steps (a training step: forward, backward, SGD step); peak = the CUDA allocator's peak for the "
        "setting "
        "(for training: weights, gradients and momentum included).",
        "",
        "| model | frames | batch | setting | clips / s | peak (GiB) |",
        "|---|---|---|---|---|---|",
    ]
    for batch in args.batch:
        for name, frames, label, dtype, channels_last, compile_, training, fast in settings:
            rate, peak = clips_per_second(
                name, frames, batch, dtype, channels_last, compile_, args.steps, training, fast
            )
            lines.append(f"| {name} | {frames} | {batch} | {label} | {rate:.1f} | {peak:.1f} |")
            print(lines[-1], flush=True)
    write_report(args.out, lines, echo=False)


if __name__ == "__main__":
    main()
