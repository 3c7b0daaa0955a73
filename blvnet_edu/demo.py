"""The paper's Figure 1 on the synthetic dataset: data, the tiny networks, and the bundled demo.

One place for what `blvnet-edu make-demo`, `benchmarks/synthetic_comparison.py` and the
course's notebook 7 share, so their figures cannot drift apart:

    synthetic_lists(data)           generated clips -> data/synthetic (train.csv, val.csv, ...)
    train_run(model, lists, runs)   one tiny network with configs/synthetic_tiny.yaml
    run_summary(run, lists)         val top-1 and order-pair accuracy per tier (chance 50%)
    export_demo(runs, lists, app)   app/demo/*.pt, metrics, classes.txt; app/examples/*.mp4
    example_notice(label)           the order test to try on an example clip, and what to notice

Training is deterministic from the config's seed: the same command gives the same
checkpoint, and a finished run is reused instead of trained again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .data.datasets import VideoClipDataset
from .data.kinetics import make_subset
from .data.lists import read_classes
from .data.synthetic import CLASSES, LONG_RANGE_PAIRS, SHORT_RANGE_PAIRS, make_synthetic, tier_accuracies
from .data.transforms import EvalTransform
from .engine.config import load_config
from .engine.evaluate import collect_scores
from .engine.train import train
from .saved_run import SavedRun

__all__ = [
    "CONFIG",
    "FIGURE1_MODELS",
    "DEMO_MODELS",
    "LABELS",
    "synthetic_lists",
    "train_run",
    "run_summary",
    "export_demo",
    "example_notice",
]

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "synthetic_tiny.yaml"  # one recipe for every model
FIGURE1_MODELS = ("tsn_resnet_tiny", "tsn_blresnet_tiny", "blvnet_tiny", "blvnet_tam_tiny")
DEMO_MODELS = ("tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny")  # what the app compares
LABELS = {
    "tsn_resnet_tiny": "TSN",
    "tsn_blresnet_tiny": "TSN-bLNet",
    "blvnet_tiny": "bLVNet (no TAM)",
    "blvnet_tam_tiny": "bLVNet-TAM",
}
CLIPS, PER_CLASS, VAL_PER_CLASS, SEED = 250 * len(CLASSES), 200, 50, 0


def synthetic_lists(data: str | Path, progress=None) -> Path:
    """`data/synthetic` (lists of 200 training and 50 validation clips per class, 14
    classes) from clips generated under `data/synthetic-raw`; made once, then reused.
    An interrupted generation resumes where it stopped."""
    raw, lists = Path(data) / "synthetic-raw", Path(data) / "synthetic"
    if not (lists / "val.csv").exists():
        csv_path = make_synthetic(raw, CLIPS, seed=SEED, progress=progress)
        make_subset(
            [csv_path],
            raw / "videos",
            lists,
            per_class=PER_CLASS,
            num_classes=len(CLASSES),
            val_per_class=VAL_PER_CLASS,
        )
    return lists


def _finished(run: Path, epochs: int) -> bool:
    log = run / "metrics.jsonl"
    if not (run / "best.pt").exists() or not log.exists():
        return False
    return len(log.read_text().splitlines()) >= epochs


def train_run(
    model: str,
    lists: Path,
    runs: Path,
    config: Path = CONFIG,
    overrides: tuple[str, ...] = (),
    fresh: bool = False,
    log=print,
) -> Path:
    """Train `model` on `lists` into `runs/<model>` with `config`; returns the run folder.

    A finished run is reused and an interrupted one resumed, unless `fresh` (start over).
    """
    out = Path(runs) / model
    cfg = load_config(config, [f"model={model}", f"data={lists}", f"out={out}", *overrides])
    if fresh:
        shutil.rmtree(out, ignore_errors=True)
    if _finished(out, cfg.epochs):
        log(f"{model}: reusing the finished run in {out}")
        return out
    train(cfg, resume=(out / "last.pt").exists(), log=log)
    return out


def run_summary(run: Path, lists: Path) -> dict:
    """Validation top-1 of `run/best.pt` and its order-pair accuracy per tier (1 clip, centre
    crop, the run's preprocessing), and the run's training time (summed over its epochs)."""
    best = SavedRun.load(run / "best.pt")
    model, classes = best.build_model(), best.classes
    if classes != read_classes(lists / "classes.txt"):
        raise ValueError(f"{run} was trained on other classes than {lists}")
    val = VideoClipDataset(
        lists / "val.csv",
        model.config.num_frames,
        EvalTransform(best.preprocessing.size, best.preprocessing.resize),
        False,
    )
    scores, labels = collect_scores(model, DataLoader(val, 16, num_workers=1), torch.device("cpu"))
    epochs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    summary = {
        "model": model.config.name,
        "val_top1": (scores.argmax(1) == labels).double().mean().item(),
        **{tier.replace("-", "_"): acc for tier, acc in tier_accuracies(scores, labels, classes).items()},
        "train_minutes": sum(e["time_s"] for e in epochs) / 60,
        "epochs": len(epochs),
    }
    (run / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def export_demo(runs: Path, lists: Path, app: Path, models: tuple[str, ...] = DEMO_MODELS) -> list[Path]:
    """Copy each run's `best.pt`, metrics and summary to `app/demo/`, the classes to
    `app/demo/classes.txt`, and the first validation clip of each class to
    `app/examples/<class>.mp4`. Returns the files written."""
    demo, examples = Path(app) / "demo", Path(app) / "examples"
    demo.mkdir(parents=True, exist_ok=True)
    examples.mkdir(parents=True, exist_ok=True)
    written = []
    for name in models:
        run = Path(runs) / name
        for source, target in (
            (run / "best.pt", f"{name}.pt"),
            (run / "metrics.csv", f"{name}_metrics.csv"),
            (run / "summary.json", f"{name}_summary.json"),
        ):
            written.append(Path(shutil.copy(source, demo / target)))
    classes = read_classes(lists / "classes.txt")
    written.append(Path(shutil.copy(lists / "classes.txt", demo / "classes.txt")))
    for old in examples.glob("*.mp4"):  # a class may have been renamed: no stale examples
        old.unlink()
    picked: dict[int, str] = {}
    for row in (lists / "val.csv").read_text().splitlines()[1:]:
        path, label, _ = row.rsplit(",", 2)
        picked.setdefault(int(label), path)
    for label, path in sorted(picked.items()):
        source = Path(path) if Path(path).is_absolute() else lists / path
        written.append(Path(shutil.copy(source, examples / f"{classes[label].replace(' ', '_')}.mp4")))
    return written


def example_notice(label: str) -> tuple[str | None, str]:
    """(the order test to try, what to notice) for an example clip of the synthetic class
    `label`; (None, "") for any other class. The claims hold for the bundled demo models at
    their own 8 frames (tests/test_app_handlers.py checks every example clip)."""
    notices = {
        "halves_swapped": (
            LONG_RANGE_PAIRS,
            "long range. '{label}' and '{partner}' are made of the same "
            "frame pairs in another order. Swap the halves: bLVNet-TAM, which relates distant "
            "pairs, now answers '{partner}'; bLVNet without TAM cannot change (it sees the "
            "same pairs), nor can TSN (the same frames).",
        ),
        "reversed": (
            SHORT_RANGE_PAIRS,
            "short range. Every frame pair already shows the direction: both "
            "bLVNet models answer '{label}', and reversed they answer '{partner}'. TSN, a bag of "
            "frames, cannot tell '{label}' from '{partner}' and gives the same answer both ways.",
        ),
    }
    for test, (pairs, line) in notices.items():
        for first, second in pairs:
            if label in (first, second):
                return test, line.format(label=label, partner=second if label == first else first)
    return None, ""
