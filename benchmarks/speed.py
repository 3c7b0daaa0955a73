"""Whole-model speed on CPU: our plain call and inference path against the authors' own code
and the same network without TAM (the floor), and what each speed trick of `models/fast/`
gains on its own.

    python benchmarks/speed.py --authors-code ~/src/bLVNet-TAM   # a checkout of github.com/IBM/bLVNet-TAM
    python benchmarks/speed.py                                   # ours only: no comparison with the authors
    python benchmarks/speed.py --previous ~/src/blvnet-edu-old   # + an earlier checkout's plain call

Variants, all with the same weights (the authors' network with random weights and random
BatchNorm statistics, loaded into ours with `load_official_checkpoint`; the logits are compared):

- authors' code: their `bLVNet_TAM` imported from the checkout you give (nothing of it is
  copied here), called as their test.py calls it, on `(B, T*3, H, W)`;
- plain call: `build_model("blvnet_tam_50")` then `model(video)`, as a user calls it (the
  fast modules of `models/fast/`, swapped in by `build_model(..., fast=True)`, the default);
- inference path: what `blvnet_edu.inference` runs (BatchNorm folded into the convolutions,
  channels_last parameters);
- paper path: the same model with `fast=False`, the paper's modules. It is our code, not the
  authors': it only says what the speed tricks buy together;
- without <trick>: the plain call with one trick switched off (`to_fast(tam=False)`,
  `to_fast(pairs=False)`, `to_fast(channels_last=False)`, `layer0.tam.inplace = False`). Its
  time over the plain call's is what the trick gains on its own;
- floor: `blvnet_50` (the same network without TAM), plain call and inference path. The
  distance to it is what TAM costs;
- previous plain call (with `--previous`): the plain call of an earlier checkout of this
  repository, same weights: the regression check.

Forward: eval mode under `torch.inference_mode()`. Forward+backward: train mode, `sum().backward()`.
Per variant a warm-up and `--repeats` runs in a row, the blocks in two opposite orders, `--rounds`
times; median.
Targets on 2 CPU cores (16 frames, 160 px, batch 2): the plain call at least 2.2x faster forward
and 1.5x faster forward+backward than the authors' code, forward+backward within 10% of the floor;
every trick gains something in forward or forward+backward.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import platform
import statistics
import sys
import time
import types
from pathlib import Path

import torch
from torch import nn

from blvnet_edu.models import build_model, load_official_checkpoint
from blvnet_edu.models.fast import prepare_for_inference, to_fast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
AUTHORS, PLAIN, INFERENCE, PAPER = "authors' code", "plain call", "inference path", "paper path (fast=False)"
FLOOR_PLAIN, FLOOR_INFERENCE = "floor: no TAM, plain call", "floor: no TAM, inference path"
PREVIOUS = "previous checkout, plain call"


def stem_tam_out_of_place(model: nn.Module) -> nn.Module:
    model.layer0.tam.inplace = False
    return model


# (row name, the module it is, the plain call without it)
TRICKS = (
    ("TAM accumulated in place, hand-written backward", "`FastTAM`", lambda m: to_fast(m, tam=False)),
    (
        "at inference, bL layer 0's TAM written over the stem output",
        "`FastTAM(inplace=True)`",
        stem_tam_out_of_place,
    ),
    (
        "one map per pair between stages (pair storage; TAM read over pairs)",
        "`PairStorage`, `FastBLModule`, `PairTAM`",
        lambda m: to_fast(m, pairs=False),
    ),
    ("channels_last input frames on CPU", "`ChannelsLastOnCPU`", lambda m: to_fast(m, channels_last=False)),
)
WITHOUT = {name: f"without: {name}" for name, _, _ in TRICKS}


def authors_model(checkout: Path, frames: int) -> nn.Module:
    """The authors' bLVNet-TAM-50 from a checkout of their repository, random weights."""
    if not (checkout / "core" / "models" / "blvnet_tam.py").is_file():
        raise SystemExit(
            f"{checkout} is not a checkout of github.com/IBM/bLVNet-TAM (no core/models/blvnet_tam.py)"
        )
    sys.path.insert(0, str(checkout))
    from core.models.blvnet_tam import bLVNet_TAM  # noqa: PLC0415 (the user's checkout)

    params = dict(
        depth=50,
        alpha=2,
        beta=4,
        groups=frames,
        blending_frames=3,
        input_channels=3,
        dropout=0.5,
        num_classes=174,
        dataset="st2stv1",
        imagenet_blnet_pretrained=False,
        pretrained=False,
        blending_method="sum",
        partial_freeze_bn=False,
    )
    return bLVNet_TAM(params)


def previous_model(checkout: Path, frames: int, state: dict) -> nn.Module:
    """The plain call of an earlier checkout of blvnet-edu (imported under another name)."""
    if not (checkout / "blvnet_edu" / "models" / "blvnet.py").is_file():
        raise SystemExit(f"{checkout} is not a checkout of blvnet-edu (no blvnet_edu/models/blvnet.py)")
    package = types.ModuleType("blvnet_edu_previous")
    package.__path__ = [str(checkout / "blvnet_edu")]  # its imports are relative: it loads from there
    sys.modules["blvnet_edu_previous"] = package
    models = importlib.import_module("blvnet_edu_previous.models")
    model = models.build_model("blvnet_tam_50", num_frames=frames)
    model.load_state_dict(state)
    return model


class AuthorsInput(nn.Module):
    """Their network takes `(B, T*3, H, W)`; ours `(B, T, 3, H, W)`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.model(video.flatten(1, 2))


def randomize_(model: nn.Module) -> nn.Module:
    """Non-trivial weights everywhere (no zero-init BatchNorm) and BatchNorm statistics."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0.0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 1.5, generator=g)
                m.weight.normal_(1.0, 0.1, generator=g)
                m.bias.normal_(0.0, 0.1, generator=g)
    return model


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


def variants(args: argparse.Namespace) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    ours = build_model("blvnet_tam_50", num_frames=args.frames)
    if args.authors_code:
        theirs = randomize_(authors_model(args.authors_code, args.frames))
        load_official_checkpoint(ours, theirs.state_dict())
    else:
        randomize_(ours)
        with torch.no_grad():
            for tam in ours.tams().values():
                tam.weight.uniform_(0.0, 1.0)
    floor = build_model("blvnet_50", num_frames=args.frames)
    floor.load_state_dict({k: v for k, v in ours.state_dict().items() if ".tam." not in k})
    paper = copy.deepcopy(ours)
    paper.fast = False
    found = {
        PLAIN: ours,
        INFERENCE: prepare_for_inference(copy.deepcopy(ours)),
        PAPER: paper,
        FLOOR_PLAIN: floor,
        FLOOR_INFERENCE: prepare_for_inference(copy.deepcopy(floor)),
    }
    for name, _, switch_off in TRICKS:
        found[WITHOUT[name]] = switch_off(copy.deepcopy(ours))
    if args.authors_code:
        found[AUTHORS] = AuthorsInput(theirs)
    if args.previous:
        found[PREVIOUS] = previous_model(args.previous, args.frames, ours.state_dict())
    return found


def measure(
    models: dict[str, nn.Module], names: list[str], timer, video: torch.Tensor, repeats: int, rounds: int
) -> dict[str, list[float]]:
    """Per variant and round, the median of a block of `repeats` runs in a row (steady state:
    interleaving single runs would make each variant pay for the memory the previous one
    just freed, as glibc's malloc page-faults a fresh large allocation), the blocks in two
    opposite orders. Ratios are taken within a round, then their median over rounds: this
    shared machine drifts by 10-30% within minutes, far less within one round."""
    per_round = {name: [] for name in names}
    for _ in range(rounds):
        times = {name: [] for name in names}
        for order in (names, names[::-1]):
            for name in order:
                timer(models[name], video)  # warm-up
                times[name] += [timer(models[name], video) for _ in range(repeats)]
        for name, t in times.items():
            per_round[name].append(statistics.median(t))
    return per_round


def ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a / b."""
    return statistics.median(x / y for x, y in zip(a, b))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--authors-code", type=Path, help="a checkout of github.com/IBM/bLVNet-TAM")
    parser.add_argument(
        "--previous", type=Path, help="a checkout of an earlier blvnet-edu, for the regression check"
    )
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--rounds", type=int, default=4, help="each round: every variant's block, in two orders"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "speed.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = variants(args)
    video = torch.randn(args.batch, args.frames, 3, args.size, args.size)
    with torch.inference_mode():
        logits = {name: m.eval()(video) for name, m in models.items() if not name.startswith("floor")}
    reference = logits.get(AUTHORS, logits[PAPER])
    diff = max(((x - reference).abs().max() / reference.abs().max()).item() for x in logits.values())
    have = [n for n in (AUTHORS, PREVIOUS) if n in models]
    without = list(WITHOUT.values())
    forward = measure(
        models,
        have + [PLAIN, INFERENCE, PAPER, FLOOR_PLAIN, FLOOR_INFERENCE, *without],
        time_forward,
        video,
        args.repeats,
        args.rounds,
    )
    print("forward", {k: [round(x, 3) for x in v] for k, v in forward.items()}, flush=True)
    step = measure(
        models,
        have + [PLAIN, PAPER, FLOOR_PLAIN, *without],
        time_train_step,
        video,
        args.repeats,
        args.rounds,
    )
    print("forward+backward", {k: [round(x, 3) for x in v] for k, v in step.items()}, flush=True)

    base = AUTHORS if AUTHORS in models else PAPER
    lines = [
        "# Whole-model speed: the plain call and the inference path against the authors' code and the "
        "no-TAM floor",
        "",
        f"`python benchmarks/speed.py{' --authors-code CHECKOUT' if args.authors_code else ''}` — "
        f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}; bLVNet-TAM-50, input "
        f"({args.batch}, {args.frames}, 3, {args.size}, {args.size}); {args.rounds} rounds, each a block of "
        f"{args.repeats} runs per variant in two orders; times: median over rounds of each round's median; "
        "ratios: "
        "median over rounds of the ratio within the round; same weights in every variant, largest relative "
        "logit difference "
        f"{diff:.1e}.",
        "",
    ]
    if AUTHORS in models:
        lines += [
            "The authors' code is their `core/models/blvnet_tam.py` imported from a checkout of "
            "github.com/IBM/bLVNet-TAM, run unchanged on CPU.",
            "",
        ]
    else:
        lines += [
            "No checkout of the authors' code was given (`--authors-code`): the speed-ups below are over our "
            "own paper path (`fast=False`), which is not the authors' code.",
            "",
        ]
    lines += [
        f"| | variant | time (s) | speed-up over the {base} | over the floor (no TAM, same path) |",
        "|---|---|---|---|---|",
    ]
    floors = {PLAIN: FLOOR_PLAIN, INFERENCE: FLOOR_INFERENCE}
    for phase, timings in (("forward", forward), ("forward+backward", step)):
        for name, t in timings.items():
            if name in without:
                continue
            vs_floor = f"+{ratio(t, timings[floors[name]]) - 1:.1%}" if floors.get(name) in timings else ""
            speedup = (
                ""
                if name in (base, PREVIOUS) or name.startswith("floor")
                else f"{ratio(timings[base], t):.2f}x"
            )
            lines.append(f"| {phase} | {name} | {statistics.median(t):.3f} | {speedup} | {vs_floor} |")
    lines += [
        "",
        "Plain call: `build_model(...)` then `model(video)`, the fast modules of `models/fast/`. Inference "
        "path: "
        "`blvnet_edu.models.fast.prepare_for_inference`, as `blvnet_edu.inference` runs it (BatchNorm "
        "folded into "
        "the convolutions, channels_last parameters). Floor: `blvnet_50`, the same network without its TAMs.",
        "",
        "## Each trick on its own",
        "",
        "The plain call against the plain call with one trick switched off, in the same rounds: how much "
        "faster the "
        "trick makes it (1.00x: no gain).",
        "",
        "| trick | module | forward | forward+backward |",
        "|---|---|---|---|",
    ]
    for name, module, _ in TRICKS:
        lines.append(
            f"| {name} | {module} | {ratio(forward[WITHOUT[name]], forward[PLAIN]):.2f}x | "
            f"{ratio(step[WITHOUT[name]], step[PLAIN]):.2f}x |"
        )
    lines += [
        f"| BatchNorm folded into the convolutions, channels_last parameters (inference only) | "
        f"`prepare_for_inference` | {ratio(forward[PLAIN], forward[INFERENCE]):.2f}x | |",
        "",
    ]
    if PREVIOUS in models:
        lines += [
            f"Regression check (`--previous`, an earlier checkout of this repository, same weights): the "
            f"plain call is {ratio(forward[PREVIOUS], forward[PLAIN]):.2f}x as fast as its plain call in "
            "forward "
            f"and {ratio(step[PREVIOUS], step[PLAIN]):.2f}x in forward+backward.",
            "",
        ]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
