"""Where a training step's time goes: bLVNet-TAM-50 (16 frames) beside TSN-ResNet-50 (8 frames),
with torch.profiler, per kind of operation and per part of the network.

The first question of issue 24 (bLVNet-TAM halves TSN's FLOPs but trains slower on a GPU):
is the time in the little branch's thin convolutions at full resolution, the upsample-add
merges, TAM's small kernels, layout conversions, or the launches themselves? For each model:

- per kind of operation (convolution, BatchNorm, upsample, elementwise, layout and copies, ...):
  the operations' own device time per step (their own CPU time on a CPU), their share, and how
  many run per step;
- kernels (CUDA) or operations (CPU) launched per step: launch overhead grows with it;
- per part of the network, forward only (TAM, big and little branches, merges, stage 4): the
  time of everything inside the part (the parts nest: a stage-4 block's TAM is inside stage 4).

On a CUDA GPU (the default), 224 px, bf16 autocast and channels_last as `gpu_training.py`
measures; `--device cpu --size 64 --batch 2` runs the same on a CPU (the tests do, to keep
the script working where no GPU is). Results: docs/benchmarks/gpu_profile.md.

    python benchmarks/gpu_profile.py                       # one H200: about a minute
    python benchmarks/gpu_profile.py --device cpu --size 64 --batch 2 --steps 1 --out /tmp/p.md
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile, record_function

from blvnet_edu import build_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MODELS = [("blvnet_tam_50", 16), ("tsn_resnet50", 8)]
KINDS = [  # (kind, pattern on the operation's name), first match wins
    ("optimizer", r"sgd|_foreach|optimizer"),
    ("convolution", r"conv"),
    ("BatchNorm", r"batch_norm|batchnorm"),
    ("upsample (merges)", r"upsample|interpolate"),
    ("layout and copies", r"copy|contiguous|clone|_to_copy|\bcat\b|::cat|stack|empty_strided|as_strided"),
    ("matrix multiply (classifier)", r"addmm|\bmm\b|::mm|linear|matmul|bmm"),
    ("pooling", r"pool"),
    ("loss", r"cross_entropy|nll_loss|log_softmax"),
    ("elementwise", r"add|mul|relu|threshold|sub|div|fill|zero|where|sum|mean|neg|pad"),
]
PARTS = [  # (part, pattern on the module's name): forward ranges
    ("TAM (all)", r"(^|\.)tam$"),
    ("big branches, stages 1-3", r"^layer[1-3]\.big$"),
    ("little branches, stages 1-3", r"^layer[1-3]\.little(_e)?$"),
    ("merges (fusion), stages 1-3", r"^layer[1-3]\.fusion$"),
    ("stage 0 (layer0)", r"^layer0$"),
    ("stage 4", r"^layer4$"),
]


def kind_of(name: str) -> str:
    lowered = name.lower()
    return next((kind for kind, pattern in KINDS if re.search(pattern, lowered)), "other")


def _mark_parts(model: torch.nn.Module) -> list:
    """Forward hooks that wrap each module of `PARTS` in a profiler range named after its part."""
    handles, open_ranges = [], defaultdict(list)
    for name, module in model.named_modules():
        part = next((p for p, pattern in PARTS if re.search(pattern, name)), None)
        if part is None:
            continue

        def enter(module, args, part=part, name=name):
            open_ranges[name].append(record_function(f"part: {part}").__enter__())

        def leave(module, args, out, name=name):
            open_ranges[name].pop().__exit__(None, None, None)

        handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    return handles


def profile_steps(name: str, frames: int, device: str, size: int, batch: int, steps: int) -> dict:
    """Per kind: (ms per step, operations per step); per part: ms per step; launches per step."""
    cuda = device.startswith("cuda")
    model = build_model(name, num_classes=174, num_frames=frames).to(device).train()
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    video = torch.randn(batch, frames, 3, size, size, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)

    def step() -> None:
        with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, enabled=cuda):
            loss = torch.nn.functional.cross_entropy(model(video).float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):  # warm-up: cuDNN's algorithm choice, the allocator
        step()
    if cuda:
        torch.cuda.synchronize()
    handles = _mark_parts(model)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    try:
        with profile(activities=activities) as prof:
            for _ in range(steps):
                step()
            if cuda:
                torch.cuda.synchronize()
    finally:
        for handle in handles:
            handle.remove()
    per_kind, parts = defaultdict(lambda: [0.0, 0]), {}
    for event in prof.key_averages():
        own = event.self_device_time_total if cuda else event.self_cpu_time_total  # microseconds
        if event.key.startswith("part: "):
            total = event.device_time_total if cuda else event.cpu_time_total
            parts[event.key[len("part: ") :]] = total / steps / 1000
        elif event.device_type == torch.autograd.DeviceType.CPU and (own > 0 or not cuda):
            kind = kind_of(event.key)
            per_kind[kind][0] += own / steps / 1000
            per_kind[kind][1] += event.count / steps
    if cuda:
        launches = sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA) / steps
    else:
        launches = sum(1 for e in prof.events() if e.name.startswith("aten::")) / steps
    return {"kinds": dict(per_kind), "parts": parts, "launches": launches}


def report_lines(results: dict, device: str, size: int, batch: int, steps: int) -> list[str]:
    cuda = device.startswith("cuda")
    where = torch.cuda.get_device_name(device) if cuda else "CPU"
    unit = "device time" if cuda else "CPU time"
    lines = [
        "# Where a training step's time goes (torch.profiler)",
        "",
        f"`python benchmarks/gpu_profile.py --device {device} --size {size} --batch {batch} "
        f"--steps {steps}` — {where}, torch {torch.__version__}; {steps} training steps (forward, "
        f"backward, SGD) after 3 warm-up steps, batch {batch} at {size} px"
        + (", bf16 autocast, channels_last" if cuda else ", float32")
        + f". Times are each operation's own {unit} per step, summed by kind of operation; "
        "'launches' counts " + ("CUDA kernels and copies" if cuda else "aten operations") + " per step.",
        "",
        "| model | frames | kind | ms per step | share | operations per step |",
        "|---|---|---|---|---|---|",
    ]
    for (name, frames), result in results.items():
        total = sum(ms for ms, _ in result["kinds"].values())
        for kind, (ms, count) in sorted(result["kinds"].items(), key=lambda item: -item[1][0]):
            lines.append(f"| {name} | {frames} | {kind} | {ms:.2f} | {ms / total:.1%} | {count:.0f} |")
        launches = f"**{result['launches']:.0f} launches**"
        lines.append(f"| {name} | {frames} | **all** | **{total:.2f}** | 100% | {launches} |")
    lines += ["", "Forward only, per part of the network (parts nest: stage 4 holds its blocks' TAMs):", ""]
    lines += ["| model | frames | part | ms per step |", "|---|---|---|---|"]
    for (name, frames), result in results.items():
        for part, ms in result["parts"].items():
            lines.append(f"| {name} | {frames} | {part} | {ms:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument(
        "--models",
        nargs="+",
        default=[f"{n}:{f}" for n, f in MODELS],
        help="name:frames, e.g. tsn_resnet50:8",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "gpu_profile.md")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "gpu_profile.py profiles a CUDA GPU, and none is available here "
            "(--device cpu runs it on the CPU).",
            file=sys.stderr,
        )
        sys.exit(2)
    results = {}
    for spec in args.models:
        name, _, frames = spec.partition(":")
        results[name, int(frames)] = profile_steps(
            name, int(frames), args.device, args.size, args.batch, args.steps
        )
        print(
            f"{spec}: {sum(ms for ms, _ in results[name, int(frames)]['kinds'].values()):.1f} ms per step",
            flush=True,
        )
    write_report(args.out, report_lines(results, args.device, args.size, args.batch, args.steps), echo=False)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
