"""Our bLVNet-TAM-50 against a straightforward version that follows the authors' structure.

The straightforward version has the same weights and gives the same outputs; it differs in
how the work is done, as in the authors' code:

- pair copies: every stage output copied to both frames of its pair in a zero tensor filled
  by index (`x[range(0, n, 2)] = y; x[range(1, n, 2)] = y`), and frames picked with index
  lists (gathers, i.e. copies); we keep one map per pair and never copy it;
- TAM: one depthwise 1x1 convolution per offset, shift with padding, stack and sum
  (`TAMReference`).

"Ours" runs as the package runs it: inference in channels_last (oneDNN's preferred layout on
CPU) with BatchNorm folded into the convolutions, as `blvnet_edu.inference` does; training in
channels_last. The network without those choices is reported too. Measured in one process: inference forward
and forward+backward; per variant a warm-up and `--repeats` runs in a row, the blocks run
twice in opposite orders; median.
Targets on CPU: at least 2.5x faster forward and 1.8x faster forward+backward.

    python benchmarks/speed.py                      # 16 frames, 160 px, batch 2, 2 threads
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
from pathlib import Path

import torch

from blvnet_edu import build_model
from blvnet_edu.models import BLLayer0, BLModule
from blvnet_edu.models.fusion import fold_batchnorm_

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402
from tam_cost import as_reference, swap_tams, time_forward, time_train_step  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AUTHORS = "authors' structure"
INFERENCE = "ours, inference"


def randomize_statistics_(model) -> None:
    """Non-trivial TAM weights and BatchNorm statistics, so that equal outputs mean something."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tam in model.tams().values():
            tam.weight.uniform_(0.0, 1.0, generator=g)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
                m.weight.normal_(1.0, 0.1, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)


class IndexFillPairRouting:
    """The authors' frame routing: every stage output copied back to both frames of each
    pair in a zero tensor filled by index, frames picked with index lists (gathers)."""

    @staticmethod
    def route_frames(x):
        n = x.shape[0]
        return x[list(range(1, n, 2))], x[list(range(0, n, 2))]

    @staticmethod
    def route_stage(x, temporal=None):
        x = temporal(x) if temporal is not None else x  # TAM over the copied frames
        return IndexFillPairRouting.route_frames(x)

    @staticmethod
    def fuse(fused):
        n = 2 * fused.shape[0]
        x = torch.zeros((n,) + fused.shape[1:], device=fused.device, dtype=fused.dtype)
        x[range(0, n, 2)] = fused
        x[range(1, n, 2)] = fused
        return x

    @staticmethod
    def select(x):
        return x[list(range(1, x.shape[0], 2))]


def authors_structure(model):
    model = swap_tams(model, as_reference)
    for module in model.modules():
        if isinstance(module, (BLLayer0, BLModule)):
            module.routing = IndexFillPairRouting()
    model.select_frames = IndexFillPairRouting.select
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "speed.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ours = build_model("blvnet_tam_50", num_frames=args.frames)  # contiguous (NCHW) parameters
    randomize_statistics_(ours)
    variants = {
        # inference as blvnet_edu.inference runs it: channels_last, BatchNorm folded into the convs
        INFERENCE: fold_batchnorm_(copy.deepcopy(ours).eval()).to(memory_format=torch.channels_last),
        # training as the engine runs it with channels_last=true (the configs for GPUs)
        "ours": copy.deepcopy(ours).to(memory_format=torch.channels_last),
        "ours, contiguous": copy.deepcopy(ours),
        AUTHORS: authors_structure(copy.deepcopy(ours)),
    }
    phases = (  # (phase, how to time it, variants, target speed-up)
        ("forward", time_forward, [INFERENCE, "ours", "ours, contiguous", AUTHORS], 2.5),
        ("forward+backward", time_train_step, ["ours", "ours, contiguous", AUTHORS], 1.8),
    )
    video = torch.randn(args.batch, args.frames, 3, args.size, args.size)
    with torch.inference_mode():
        logits = {name: model.eval()(video) for name, model in variants.items()}
    reference = logits[AUTHORS]
    diff = max(((x - reference).abs().max() / reference.abs().max()).item() for x in logits.values())
    # Steady state per variant: a block of runs of one variant, then the next. Interleaving
    # single runs would make each variant pay for the memory the previous one just freed
    # (with glibc's malloc, a fresh large allocation page-faults), which biases the ratio
    # more than drift does. The blocks run twice, in opposite orders, against drift.
    timings = {}
    for phase, measure, names, _ in phases:
        times = {name: [] for name in names}
        for order in (names, names[::-1]):
            for name in order:
                measure(variants[name], video)  # warm-up
                times[name] += [measure(variants[name], video) for _ in range(args.repeats)]
        timings[phase] = {name: statistics.median(t) for name, t in times.items()}
        print(phase, timings[phase], flush=True)
    lines = [
        "# Whole-model speed: ours against the authors' structure (same weights, same outputs)",
        "",
        f"`python benchmarks/speed.py` — {platform.machine()}, {args.threads} threads, torch {torch.__version__}; "
        f"bLVNet-TAM-50, input ({args.batch}, {args.frames}, 3, {args.size}, {args.size}); median of 2 x {args.repeats} "
        f"runs per variant (steady-state blocks, two orders); random weights and BatchNorm statistics; largest "
        f"relative logit difference between variants {diff:.1e}.",
        "",
        "Ours as the package runs it: inference (`blvnet_edu.inference`) in channels_last with BatchNorm "
        "folded into the convolutions (`models/fusion.py`); training in channels_last "
        "(`channels_last: true`), BatchNorm as it is.",
        "",
        "| | ours (s) | authors' structure (s) | speed-up | target |",
        "|---|---|---|---|---|",
    ]
    for phase, _, names, target in phases:
        t = timings[phase]
        mine = t[names[0]]
        lines.append(f"| {phase} | {mine:.3f} | {t[AUTHORS]:.3f} | {t[AUTHORS] / mine:.2f}x | {target}x |")
    lines += ["", "The same network without those two choices:", "",
              "| | variant | time (s) | speed-up over the authors' structure |", "|---|---|---|---|"]
    for phase, _, names, _ in phases:
        for name in names[1:-1]:  # between ours as run and the authors' structure
            label = {"ours": "channels_last, BatchNorm kept", "ours, contiguous": "contiguous (NCHW), BatchNorm kept"}[name]
            t = timings[phase]
            lines.append(f"| {phase} | {label} | {t[name]:.3f} | {t[AUTHORS] / t[name]:.2f}x |")
    lines.append("")
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
