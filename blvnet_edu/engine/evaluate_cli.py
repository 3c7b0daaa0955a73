"""`blvnet-edu eval`: a checkpoint (ours or the authors') on a clip list, with several clips
and crops per video."""

from __future__ import annotations

from pathlib import Path

import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..budget import Limits, check_frames
from ..data.datasets import VideoClipDataset
from ..data.lists import read_classes
from ..data.transforms import EvalTransform
from ..loading import load_network
from ..models.blvnet import MIN_INPUT_SIZE
from .distributed import resolve_device
from .evaluate import Metrics, evaluate, metrics_from_scores
from .order_tests import order_report, order_scores

__all__ = ["evaluate_checkpoint"]


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "val",
    clips: int = 1,
    crops: int = 1,
    size: int | None = None,
    resize: int | None = None,
    batch_size: int = 4,
    device: str = "auto",
    workers: int = 2,
    order_tests: bool = False,
    labels: str | Path | None = None,
    model_name: str | None = None,
    num_frames: int | None = None,
    allow_unverified: bool = False,
) -> Metrics | tuple[Metrics, dict]:
    """Metrics of a checkpoint on `data/<split>.csv`; with `order_tests`, also the order
    diagnostics of `order_tests.py` (reversed clips, shuffled frame pairs, swapped halves), from the same
    decoded clips: returns `(metrics, report)` then.

    An authors' released checkpoint is read as `loading.load_network` reads it (`labels`,
    `model_name`); its lists must use the official class order. `num_frames`: frames per clip
    (default: the model's own)."""
    if clips < 1 or crops not in (1, 3) or batch_size < 1:
        raise ValueError(
            f"--clips must be >= 1 ({clips}), --crops 1 or 3 ({crops}), --batch-size >= 1 ({batch_size})"
        )
    limits = Limits()
    if num_frames is not None:
        if num_frames < 1:
            raise ValueError(f"--frames must be >= 1, got {num_frames}")
        check_frames(num_frames, limits, pairs=False)  # pairs: the model says, once loaded
    for option, value in (("--size", size), ("--resize", resize)):
        if value is not None and not MIN_INPUT_SIZE <= value <= limits.max_input_size:
            raise ValueError(
                f"{option} must be between {MIN_INPUT_SIZE} and {limits.max_input_size}, got {value}"
            )
    if workers < 0:
        raise ValueError(f"--workers must be >= 0, got {workers}")
    model, classes, saved = load_network(checkpoint, labels, model_name, allow_unverified=allow_unverified)
    frames = num_frames or model.config.num_frames
    if read_classes(Path(data) / "classes.txt") != classes:
        raise ValueError(f"{checkpoint} knows {len(classes)} classes that differ from {data}/classes.txt")
    target = resolve_device(device)
    dataset = VideoClipDataset(
        Path(data) / f"{split}.csv",
        frames,
        EvalTransform(size or saved.size, resize or saved.resize, crops),
        False,
        stride=saved.stride,
        num_clips=clips,
        num_classes=len(classes),
    )
    if not len(dataset):
        raise ValueError(f"{Path(data) / f'{split}.csv'} lists no clips")
    loader = DataLoader(dataset, batch_size, num_workers=workers)
    progress = lambda it: tqdm(it, desc=f"evaluating {split}", dynamic_ncols=True)  # noqa: E731
    if not order_tests:
        return evaluate(model.to(target), loader, len(classes), target, progress=progress)
    if frames % 2 or frames < 4:
        raise ValueError(
            f"order tests shuffle frame pairs: they need an even number of frames >= 4, got {frames}"
        )
    scores, labels = order_scores(model.to(target), loader, target, progress=progress)
    loss = F.nll_loss(scores["original"].clamp_min(1e-12).log(), labels).item()
    return metrics_from_scores(scores["original"], labels, len(classes), loss), order_report(scores, labels)
