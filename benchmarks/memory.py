"""Peak training memory per clip, TSN-ResNet-50 against bLVNet-TAM-50 at equal frames (paper, Fig. 3b).

Each measurement runs in a fresh process: build the model and a batch, run one training
step (forward, backward, SGD step), and take the peak. On CPU the memory is the process's
peak resident set (`ru_maxrss`); on CUDA the allocator's peak (`torch.cuda.max_memory_allocated`).
Memory per clip is the slope between two batch sizes, `(peak(B2) - peak(B1)) / (B2 - B1)`:
what one more clip costs, without the per-model constants (weights, their gradients, the
optimizer's momentum) that do not grow with the batch. That slope decides how many clips
fit in memory, the paper's Fig. 3b. The activations autograd keeps for the backward pass
are counted as well (unique storages seen by `saved_tensors_hooks`, batch 1).
Target: bLVNet-TAM at most 0.6 of TSN's memory per clip.

    python benchmarks/memory.py                  # CPU, 224 px, batches 1 and 3, 8 and 16 frames
    python benchmarks/memory.py --device cuda --batches 2 6   # -> docs/benchmarks/memory_cuda.md
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
from pathlib import Path

import torch

from blvnet_edu import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("tsn_resnet50", "blvnet_tam_50")


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def worker(name: str, frames: int, batch: int, size: int, device: str) -> dict:
    torch.set_num_threads(2)
    model = build_model(name, num_classes=174, num_frames=frames).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    video = torch.randn(batch, frames, 3, size, size, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    storages = {}

    def keep(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        loss = torch.nn.functional.cross_entropy(model(video), labels)
    loss.backward()
    optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = peak_mib()
    return {
        "model": name,
        "frames": frames,
        "batch": batch,
        "peak_mib": peak,
        "saved_mib": sum(storages.values()) / 2**20,
    }


def run_worker(name: str, frames: int, batch: int, args) -> dict:
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            name,
            str(frames),
            "--batch",
            str(batch),
            "--size",
            str(args.size),
            "--device",
            args.device,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--batches", type=int, nargs=2, default=[1, 3], metavar=("B1", "B2"))
    parser.add_argument("--batch", type=int, default=1, help=argparse.SUPPRESS)  # worker
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--out", type=Path, help="default: docs/benchmarks/memory.md (CPU), memory_cuda.md (CUDA)"
    )
    parser.add_argument("--worker", nargs=2, metavar=("MODEL", "FRAMES"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.batch, args.size, args.device)))
        return
    small, large = args.batches
    suffix = "" if args.device == "cpu" else "_cuda"
    out = args.out or ROOT / "docs" / "benchmarks" / f"memory{suffix}.md"
    machine = platform.machine() if args.device == "cpu" else torch.cuda.get_device_name()
    results = {}
    for frames in args.frames:
        for name in MODELS:
            a, b = run_worker(name, frames, small, args), run_worker(name, frames, large, args)
            results[(name, frames)] = {
                "per_clip_mib": (b["peak_mib"] - a["peak_mib"]) / (large - small),
                "saved_mib": a["saved_mib"] / small,
            }
            print(name, frames, results[(name, frames)], flush=True)
    where = "peak resident memory (ru_maxrss)" if args.device == "cpu" else "CUDA allocator peak"
    lines = [
        "# Training memory per clip: TSN-ResNet-50 vs bLVNet-TAM-50 (paper, Fig. 3b)",
        "",
        f"`python benchmarks/memory.py --device {args.device} --batches {small} {large} --size {args.size}` "
        f"— {machine}, torch {torch.__version__}; "
        f"{where} of one training step (forward, backward, SGD step) in a fresh process, {args.size} px; "
        f"per clip = slope between batch {small} and batch {large}. "
        "Saved activations = what autograd keeps for the backward pass, per clip.",
        "",
        "| frames | TSN-ResNet-50 (MiB / clip) | bLVNet-TAM-50 (MiB / clip) | bLVNet-TAM / TSN "
        "| saved activations TSN / bLVNet-TAM (MiB / clip) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for frames in args.frames:
        tsn, blv = results[("tsn_resnet50", frames)], results[("blvnet_tam_50", frames)]
        lines.append(
            f"| {frames} | {tsn['per_clip_mib']:.0f} | {blv['per_clip_mib']:.0f} | "
            f"{blv['per_clip_mib'] / tsn['per_clip_mib']:.2f} | {tsn['saved_mib']:.0f} / "
            f"{blv['saved_mib']:.0f} | {blv['saved_mib'] / tsn['saved_mib']:.2f} |"
        )
    if len(args.frames) > 1:
        lo, hi = min(args.frames), max(args.frames)
        lines.append("")
        lines.append(
            f"bLVNet-TAM with {hi} frames: {results[('blvnet_tam_50', hi)]['per_clip_mib']:.0f} MiB per "
            "clip; "
            f"TSN with {lo} frames: {results[('tsn_resnet50', lo)]['per_clip_mib']:.0f} MiB per clip."
        )
    lines += ["", "Target: bLVNet-TAM at most 0.6 of TSN at equal frames.", ""]
    write_report(out, lines)


if __name__ == "__main__":
    main()
