"""Does TAM's initialisation decide whether it learns long-range order? A study over seeds.

Tiny bLVNet-TAM (configs/synthetic_tiny.yaml) is trained from scratch on the long-range
tier of the synthetic dataset alone (6 classes: two halves in either order, the same frame
pairs; a bag of pairs is at chance by construction), once per TAM initialisation and seed:

- `kaiming`: the authors' choice and our default, N(0, 2/C) per weight (each offset is a
  depthwise 1x1 conv in their code, initialised with kaiming_normal_(mode="fan_out"));
- `identity`: weight 1 on the current frame, 0 on the others (TAM starts as a no-op).

For each run: validation top-1, the long-range order-pair accuracy (chance 50%), and the
learned weights' share of past / current / future frames per TAM layer
(`blvnet_edu.explain.tam_weights.summarize_tams`).

    python benchmarks/tam_init.py                    # 2 inits x 3 seeds
    python benchmarks/tam_init.py --seeds 0 1 2 3 --inits kaiming identity

Results: docs/benchmarks/tam_init.md and tam_init.json (read by notebook 3).
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from blvnet_edu.data.datasets import VideoClipDataset
from blvnet_edu.data.kinetics import make_subset
from blvnet_edu.data.synthetic import LONG_RANGE_PAIRS, order_pair_accuracy
from blvnet_edu.data.transforms import EvalTransform
from blvnet_edu.demo import CONFIG, ROOT, synthetic_lists
from blvnet_edu.engine.config import load_config
from blvnet_edu.engine.evaluate import collect_scores
from blvnet_edu.engine.train import train
from blvnet_edu.explain.tam_weights import summarize_tams
from blvnet_edu.models.tam import TAM_INITS
from blvnet_edu.saved_run import SavedRun

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

LONG_RANGE_CLASSES = [c for pair in LONG_RANGE_PAIRS for c in pair]
RECIPE = ["size=32", "resize=32", "epochs=4"]  # the long-range tier needs no detail: small and quick


def long_range_lists(data: Path) -> Path:
    """The long-range classes of the synthetic dataset, 200 training / 50 validation clips each."""
    lists = data / "synthetic-long-range"
    if not (lists / "val.csv").exists():
        raw = synthetic_lists(data).parent / "synthetic-raw"
        make_subset(
            [raw / "annotations.csv"],
            raw / "videos",
            lists,
            per_class=200,
            class_list=LONG_RANGE_CLASSES,
            val_per_class=50,
        )
    return lists


def run_one(init: str, seed: int, lists: Path, runs: Path) -> dict:
    out = runs / f"{init}_seed{seed}"
    shutil.rmtree(out, ignore_errors=True)
    cfg = load_config(
        CONFIG, [f"data={lists}", f"out={out}", f"seed={seed}", f"model_options.tam_init={init}", *RECIPE]
    )
    train(cfg, log=lambda *_: None)
    last = SavedRun.load(out / "last.pt")  # the end of training, not the best epoch
    model, classes = last.build_model(), last.classes
    val = VideoClipDataset(
        lists / "val.csv", model.config.num_frames, EvalTransform(cfg.size, cfg.resize), False
    )
    scores, labels = collect_scores(model, DataLoader(val, 16, num_workers=1), torch.device("cpu"))
    shares = {
        s.layer: {"past": s.past, "current": s.current, "future": s.future} for s in summarize_tams(model)
    }
    return {
        "init": init,
        "seed": seed,
        "top1": (scores.argmax(1) == labels).double().mean().item(),
        "long_range": order_pair_accuracy(scores, labels, classes, LONG_RANGE_PAIRS),
        "shares": shares,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT / "data")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "tam_init")
    parser.add_argument("--inits", nargs="+", default=["kaiming", "identity"], choices=TAM_INITS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "tam_init.md")
    args = parser.parse_args()

    lists = long_range_lists(args.data)
    runs = []
    for init in args.inits:
        for seed in args.seeds:
            runs.append(run_one(init, seed, lists, args.runs))
            r = runs[-1]
            print(f"{init} seed {seed}: top-1 {r['top1']:.3f}, long-range {r['long_range']:.3f}", flush=True)

    cfg = load_config(CONFIG, RECIPE)
    lines = [
        "# TAM initialisation: who learns long-range order?",
        "",
        f"`python benchmarks/tam_init.py` — {platform.machine()}, torch {torch.__version__}. Tiny bLVNet-TAM "
        f"({CONFIG.relative_to(ROOT)} with {' '.join(RECIPE)}: {cfg.model_options.get('num_frames', 8)} "
        "frames at "
        f"{cfg.size} px, batch {cfg.batch_size}, lr {cfg.lr}) trained from scratch on the long-range tier "
        "alone "
        "(6 classes, 1200 training / 300 validation clips; the two classes of a pair hold the same frame "
        "pairs "
        "in another order). Evaluated after the last epoch: 1 clip, centre crop.",
        "",
        "| TAM init | seed | val top-1 | long-range order pairs (chance 50%) | TAM weight on past / "
        "current / future "
        "(mean over the 5 TAMs) |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        shares = list(r["shares"].values())
        mean = {k: sum(s[k] for s in shares) / len(shares) for k in ("past", "current", "future")}
        lines.append(
            f"| {r['init']} | {r['seed']} | {r['top1']:.1%} | {r['long_range']:.1%} | "
            f"{mean['past']:.0%} / {mean['current']:.0%} / {mean['future']:.0%} |"
        )
    lines += [
        "",
        "Per layer (share of the weight magnitude on past / current / future frames):",
        "",
        "| TAM init | seed | " + " | ".join(runs[0]["shares"]) + " |",
        "|---|---|" + "---|" * len(runs[0]["shares"]),
    ]
    for r in runs:
        cells = [f"{s['past']:.0%} / {s['current']:.0%} / {s['future']:.0%}" for s in r["shares"].values()]
        lines.append(f"| {r['init']} | {r['seed']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "A fresh identity TAM is a no-op (its input is a ReLU's output), so the network starts as "
        "bLVNet without TAM, a bag of pairs, and must first grow weight on other frames from a small "
        "gradient: with this budget it found the long-range order late or not at all, depending on "
        "the seed. From the authors' start every offset carries weight from the first step, and "
        "every seed learned it.",
        "",
    ]
    write_report(args.out, lines)
    args.out.with_suffix(".json").write_text(json.dumps({"recipe": RECIPE, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
