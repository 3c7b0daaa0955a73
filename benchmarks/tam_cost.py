"""How much of bLVNet-TAM's time goes into TAM, fast TAM against the authors' recipe.

The paper calls TAM's cost negligible, and in FLOPs it is. In wall time, built the
authors' way (one depthwise 1x1 conv per offset, shift, stack, sum; our `TAMReference`),
it is not. This script measures, on one machine and in one run:

- the forward time (inference) and forward+backward time (training step without the
  optimizer) of bLVNet-TAM-50 with the fast `TAM`, with `TAMReference`, and with no TAM
  (every TAM replaced by `NoTAM`: the network runs as bLVNet without TAM does, both
  branches of a stage reading the pair's map; a plain `nn.Identity` would instead be run
  through real frames, pair copies included, and inflate the baseline);
- TAM's share of the time: `1 - t(identity) / t(model)`;
- a direct cross-check of the forward share: wall time spent inside the TAM modules
  (forward hooks; exact on CPU, where operations are synchronous).

Each figure is the median of 2 x `--repeats` runs: forward, hook and training-step timings
each in their own phase, per variant a block of runs in a row, the blocks in two orders, once with glibc's default malloc and once with a malloc that keeps freed
memory (each in a fresh process). Results go to stdout and `docs/benchmarks/tam_cost.md`.

    python benchmarks/tam_cost.py                      # 16 frames, 160 px, batch 2
    python benchmarks/tam_cost.py --size 224 --repeats 3
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

from blvnet_edu import build_model
from blvnet_edu.models import TAM, TAMReference

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "benchmarks" / "tam_cost.md"


def swap_tams(model: nn.Module, make) -> nn.Module:
    """A copy of `model` with every TAM replaced by `make(tam)`."""
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, TAM):
                setattr(module, child_name, make(child))
    return model


class NoTAM(nn.Module):
    """No temporal aggregation, routed as bLVNet without TAM is (`temporal=None`)."""

    def forward(self, x, pairs: bool = False):
        return (x, x) if pairs else x

    def forward_pairs(self, x):
        return x, x


def as_reference(tam: TAM) -> TAMReference:
    ref = TAMReference(tam.channels, tam.num_frames, tam.blending_frames)
    ref.load_state_dict(tam.state_dict())
    return ref


def time_forward(model: nn.Module, video: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        start = time.perf_counter()
        model(video)
    return time.perf_counter() - start


def time_train_step(model: nn.Module, video: torch.Tensor) -> float:
    model.train()
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    model(video).sum().backward()
    return time.perf_counter() - start


def tam_forward_time(model: nn.Module, video: torch.Tensor) -> tuple[float, float]:
    """(total forward, time inside TAM modules), by forward hooks."""
    spent = [0.0]
    starts = {}

    def pre(module, _inputs):
        starts[module] = time.perf_counter()

    def post(module, _inputs, _output):
        spent[0] += time.perf_counter() - starts[module]

    hooks = []
    for m in model.modules():
        if isinstance(m, (TAM, TAMReference)):
            hooks += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    try:
        total = time_forward(model, video)
    finally:
        for h in hooks:
            h.remove()
    return total, spent[0]


# glibc keeps freed memory for reuse instead of returning it to the OS at once; without
# this every large tensor page-faults afresh. PyTorch's CPU tuning guide recommends a
# caching allocator (jemalloc, tcmalloc) for the same reason.
TUNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 33)}


def measure(args: argparse.Namespace) -> dict:
    """Medians for the three variants, in this process."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    fast = build_model(args.model, num_frames=args.frames)
    with torch.no_grad():  # non-trivial TAM weights, so no variant is a shortcut
        for tam in fast.tams().values():
            tam.weight.uniform_(0.0, 1.0)
    variants = {
        "fast": fast,
        "reference": swap_tams(fast, as_reference),
        "identity": swap_tams(fast, lambda _tam: NoTAM()),
    }
    video = torch.randn(args.batch, args.frames, 3, args.size, args.size)
    with torch.inference_mode():
        diff = variants["fast"].eval()(video) - variants["reference"].eval()(video)
    def phase(measure_once) -> dict[str, list[float]]:
        """Steady state per variant: a warm-up and `repeats` runs of one variant in a row,
        the blocks run twice in opposite orders (against drift).

        Interleaving single runs would make each variant pay for the memory the previous
        one freed (with glibc's malloc a fresh large allocation page-faults): a bias larger
        than drift. Each kind of measurement gets its own phase for the same reason.
        """
        times = {name: [] for name in variants}
        for order in (list(variants), list(variants)[::-1]):
            for name in order:
                measure_once(variants[name], video)
                times[name] += [measure_once(variants[name], video) for _ in range(args.repeats)]
        return times

    def tam_share_by_hooks(model, video) -> float:
        total, inside = tam_forward_time(model, video)
        return inside / total

    fwd = phase(time_forward)
    hook_share = phase(tam_share_by_hooks)
    step = phase(time_train_step)
    med = statistics.median
    return {
        "max_logit_diff": diff.abs().max().item(),
        "forward": {k: med(v) for k, v in fwd.items()},
        "train_step": {k: med(v) for k, v in step.items()},
        "hook_share": {k: med(v) for k, v in hook_share.items() if k != "identity"},
    }


def report(args: argparse.Namespace, results: dict[str, dict]) -> str:
    lines = [
        "# TAM's share of bLVNet-TAM's time",
        "",
        f"`python benchmarks/tam_cost.py --model {args.model} --frames {args.frames} --size {args.size} "
        f"--batch {args.batch} --repeats {args.repeats} --threads {args.threads}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, "
        f"torch {torch.__version__}; input ({args.batch}, {args.frames}, 3, {args.size}, {args.size}) "
        f"float32; median of 2 x {args.repeats} runs per variant (steady-state blocks, two orders); "
        "each allocator setting in a fresh process.",
        "",
        "TAM share = 1 - t(model without TAMs) / t(model); without TAMs the network runs as bLVNet without TAM does. "
        "'By hooks' = wall time inside the TAM modules / forward time.",
        "",
        "| allocator | TAM | forward (s) | TAM share of forward | by hooks "
        "| forward+backward (s) | TAM share of fwd+bwd |",
        "|---|---|---|---|---|---|---|",
    ]
    for alloc, r in results.items():
        f, s = r["forward"], r["train_step"]
        for name, label in (("fast", "fast `TAM`"), ("reference", "`TAMReference` (authors' recipe)")):
            lines.append(
                f"| {alloc} | {label} | {f[name]:.3f} | {1 - f['identity'] / f[name]:.1%} "
                f"| {r['hook_share'][name]:.1%} | {s[name]:.3f} | {1 - s['identity'] / s[name]:.1%} |"
            )
        lines.append(f"| {alloc} | none (identity) | {f['identity']:.3f} | - | - | {s['identity']:.3f} | - |")
    lines.append("")
    for alloc, r in results.items():
        f, s = r["forward"], r["train_step"]
        lines.append(
            f"- {alloc}: the model with the fast TAM is {f['reference'] / f['fast']:.2f}x faster forward and "
            f"{s['reference'] / s['fast']:.2f}x faster forward+backward than with the reference TAM "
            f"(largest logit difference {r['max_logit_diff']:.1e})."
        )
    lines += [
        "",
        "Allocators: 'glibc default' is a plain `python`; 'glibc tuned' sets "
        + ", ".join(f"`{k}={v}`" for k, v in TUNED_MALLOC.items())
        + " so that freed memory is reused instead of page-faulted in again.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="blvnet_tam_50")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(measure(args)))
        return
    results = {}
    for alloc, env in (("glibc default", {}), ("glibc tuned", TUNED_MALLOC)):
        print(f"measuring with {alloc} malloc ...", file=sys.stderr, flush=True)
        clean = {k: v for k, v in os.environ.items() if k not in TUNED_MALLOC}
        done = subprocess.run(
            [sys.executable, __file__, "--worker", *sys.argv[1:]],
            env={**clean, **env}, check=True, stdout=subprocess.PIPE, text=True,
        )
        results[alloc] = json.loads(done.stdout.strip().splitlines()[-1])
    text = report(args, results)
    write_report(args.out, text.splitlines())
    print(f"written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
