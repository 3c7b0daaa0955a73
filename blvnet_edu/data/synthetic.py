"""A synthetic video dataset that only temporal models can solve, in two tiers.

Every class has an *order-only partner*: a class made of exactly the same frames in another
order. Fourteen classes in seven pairs, in two tiers:

**Short range** (the direction of one motion): the second class is the first played
backwards. Each frame pair already shows the direction, so bLVNet's local fusion of
adjacent frames is enough; a frame-averaging model (TSN) is at chance within the pair.

| first class            | second class (= first, reversed) |
|------------------------|----------------------------------|
| `moving left`          | `moving right`                   |
| `growing`              | `shrinking`                      |
| `appearing`            | `disappearing`                   |
| `rotating clockwise`   | `rotating anticlockwise`         |

**Long range** (the order of two halves): the second class is the first with its two halves
swapped. With segment sampling (`data.sampling.segment_indices`) of `T` frames, `T` a multiple
of 4, the halves meet between two frame pairs, and segment `i` of one class holds the frame
that segment `i + T/2` of its partner holds: both classes are made of the same frame pairs,
only in another order. A "bag of pairs" (bLVNet without TAM) is at chance on them, and only a
model that relates distant pairs (TAM) can tell them apart.

| first class                 | second class (= halves swapped) |
|-----------------------------|---------------------------------|
| `moving left then right`    | `moving right then left`        |
| `growing then shrinking`    | `shrinking then growing`        |
| `turning on`                | `turning off`                   |

Every clip draws its own distractors: background colour and texture, object shape and
colour, size, speed, start position, and a static decoy shape.

`make_synthetic` writes real H.264 mp4 files in the Kinetics layout (`videos/<label>/
<youtube_id>_<start:06d>_<end:06d>.mp4`) with a Kinetics-style CSV, so the data goes through
exactly the same pipeline as Kinetics. Every frame is coded on its own (intra-only): with
ordinary inter-frame coding a frame's compression artefacts depend on the frames before it,
which leaks the order to a model that should not see it (decoded pairs of the two classes
differed by up to 60 grey levels, and a bag of frames scored 56% on the long-range tier;
`tests/test_data_synthetic.py` checks decoded pairs). Everything is
deterministic from the seed.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .video_io import write_video

__all__ = [
    "CLASSES",
    "ORDER_PAIRS",
    "SHORT_RANGE_PAIRS",
    "LONG_RANGE_PAIRS",
    "TIERS",
    "ClipParams",
    "sample_params",
    "render_clip",
    "swap_halves",
    "make_synthetic",
    "order_pair_accuracy",
    "tier_accuracies",
]

SHORT_RANGE_PAIRS = (  # (first, second = first reversed)
    ("moving left", "moving right"),
    ("growing", "shrinking"),
    ("appearing", "disappearing"),
    ("rotating clockwise", "rotating anticlockwise"),
)
LONG_RANGE_PAIRS = (  # (first, second = first with its halves swapped)
    ("moving left then right", "moving right then left"),
    ("growing then shrinking", "shrinking then growing"),
    ("turning on", "turning off"),
)
ORDER_PAIRS = SHORT_RANGE_PAIRS + LONG_RANGE_PAIRS
TIERS = {"short-range": SHORT_RANGE_PAIRS, "long-range": LONG_RANGE_PAIRS}
CLASSES = tuple(name for pair in ORDER_PAIRS for name in pair)
_REVERSED = {second: first for first, second in SHORT_RANGE_PAIRS}
_SWAPPED = {second: first for first, second in LONG_RANGE_PAIRS}
_OUT_AND_BACK = {"moving left then right": "moving left", "growing then shrinking": "growing"}


@dataclass(frozen=True)
class ClipParams:
    """Everything random about one clip (the class decides only the motion)."""

    size: int
    frames: int
    background: tuple[float, float, float]
    texture_seed: int
    color: tuple[float, float, float]
    shape: str  # "disk" or "square" ("hand" for rotations)
    radius: float  # object half-size in pixels (start size when growing)
    growth: float  # end size / start size when growing
    start: tuple[float, float]  # object centre (x, y) at the first frame
    travel: float  # pixels moved over the clip
    turn: float  # radians turned over the clip
    angle0: float
    decoy: tuple[float, float, float, float]  # x, y, half-size, grey level of a static square


def sample_params(rng: np.random.Generator, size: int = 80, frames: int = 32) -> ClipParams:
    """Random distractors for one clip."""
    radius = rng.uniform(0.08, 0.14) * size
    travel = rng.uniform(0.35, 0.55) * size
    return ClipParams(
        size=size,
        frames=frames,
        background=tuple(rng.uniform(0.0, 0.6, 3)),
        texture_seed=int(rng.integers(2**31)),
        color=tuple(rng.uniform(0.4, 1.0, 3)),
        shape=str(rng.choice(["disk", "square"])),
        radius=radius,
        growth=rng.uniform(1.8, 2.6),
        start=(rng.uniform(radius + travel, size - radius), rng.uniform(radius, size - radius)),
        travel=travel,
        turn=rng.uniform(0.6, 1.0) * np.pi,
        angle0=rng.uniform(0, 2 * np.pi),
        decoy=(rng.uniform(0, size), rng.uniform(0, size), rng.uniform(3, 8), rng.uniform(0.2, 0.9)),
    )


def _background(p: ClipParams, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(p.texture_seed)
    texture = rng.normal(0.0, 0.05, (p.size, p.size, 1))
    image = np.clip(np.asarray(p.background)[None, None] + texture, 0, 1)
    dx, dy, half, grey = p.decoy
    decoy = (np.abs(xx - dx) < half) & (np.abs(yy - dy) < half)
    image[decoy] = grey
    return image  # (H, W, 3) in [0, 1]


def _mask(p: ClipParams, yy, xx, cx, cy, radius, angle) -> np.ndarray:
    if p.shape == "hand":  # a thick bar from the centre with a dot at its tip: shows the angle
        tx, ty = cx + radius * 2.2 * np.cos(angle), cy + radius * 2.2 * np.sin(angle)
        vx, vy = tx - cx, ty - cy
        t = np.clip(((xx - cx) * vx + (yy - cy) * vy) / (vx * vx + vy * vy), 0, 1)
        bar = np.hypot(xx - (cx + t * vx), yy - (cy + t * vy)) < radius * 0.35
        return bar | (np.hypot(xx - tx, yy - ty) < radius * 0.7)
    if p.shape == "square":
        return (np.abs(xx - cx) < radius) & (np.abs(yy - cy) < radius)
    return np.hypot(xx - cx, yy - cy) < radius


def render_clip(label: str, p: ClipParams) -> np.ndarray:
    """`(T, 3, H, W)` uint8 frames of class `label`."""
    if label in _REVERSED:  # short range: the first class of the pair, backwards
        return render_clip(_REVERSED[label], p)[::-1].copy()
    if label in _SWAPPED:  # long range: the first class of the pair with its halves swapped
        return swap_halves(render_clip(_SWAPPED[label], p))
    if label in _OUT_AND_BACK:  # one motion over the first half, played back over the second
        if p.frames % 2:
            raise ValueError(f"long-range classes need an even number of frames, got {p.frames}")
        half = render_clip(_OUT_AND_BACK[label], ClipParams(**{**p.__dict__, "frames": p.frames // 2}))
        return np.concatenate([half, half[::-1]])
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}; classes: {CLASSES}")
    if label == "turning on" and p.frames % 2:
        raise ValueError(f"long-range classes need an even number of frames, got {p.frames}")
    if label == "rotating clockwise":
        p = ClipParams(**{**p.__dict__, "shape": "hand"})
    yy, xx = np.mgrid[0 : p.size, 0 : p.size].astype(np.float32) + 0.5
    background = _background(p, yy, xx)
    color = np.asarray(p.color)
    frames = np.empty((p.frames, p.size, p.size, 3), dtype=np.uint8)
    centre = (p.size / 2, p.size / 2)
    for t in range(p.frames):
        s = t / (p.frames - 1)  # 0 -> 1 over the clip
        cx, cy, radius, angle, alpha = *p.start, p.radius, p.angle0, 1.0
        if label == "moving left":
            cx = p.start[0] - s * p.travel
        elif label == "growing":
            cx, cy = centre
            radius = p.radius * (1 + s * (p.growth - 1))
        elif label == "appearing":
            alpha = s
        elif label == "turning on":  # dim over the first half, lit over the second
            alpha = 1.0 if t >= p.frames // 2 else 0.3
        elif label == "rotating clockwise":  # image y points down: +angle turns clockwise
            cx, cy = centre
            angle = p.angle0 + s * p.turn
        mask = _mask(p, yy, xx, cx, cy, radius, angle)
        image = background.copy()
        image[mask] = (1 - alpha) * image[mask] + alpha * color
        frames[t] = np.round(image * 255).astype(np.uint8)
    return frames.transpose(0, 3, 1, 2)  # (T, 3, H, W)


def swap_halves(frames: np.ndarray) -> np.ndarray:
    """The second half of a clip, then its first half: `(T, ...)` -> `(T, ...)`, T even."""
    half = len(frames) // 2
    return np.concatenate([frames[half:], frames[:half]])


def _youtube_id(seed: int, index: int) -> str:
    """An 11-character id, like YouTube's, unique per (seed, clip)."""
    digest = hashlib.sha1(f"{seed}:{index}".encode()).hexdigest()
    return "syn" + digest[:8]


def make_synthetic(
    out: str | Path,
    clips: int,
    seed: int = 0,
    size: int = 80,
    frames: int = 32,
    fps: int = 16,
    val_fraction: float = 0.2,
    progress=None,
) -> Path:
    """Write `clips` clips (classes balanced) and `annotations.csv` under `out`; returns the CSV path.

    Clip `i` has class `CLASSES[i % 14]` and its own parameters from `(seed, i)`; every
    `round(1 / val_fraction)`-th group of 14 clips goes to the `val` split. Existing clips are
    kept, so an interrupted run resumes where it stopped.

    Raises:
        ValueError: `clips` < 1, `frames` outside 4..1024, `size` outside 32..1024, `fps` < 1
            or `val_fraction` outside [0, 1), before anything is written.
    """
    problems = [
        f"{name} must be {rule}, got {value}"
        for name, value, ok, rule in (
            ("clips", clips, clips >= 1, ">= 1"),
            ("frames", frames, 4 <= frames <= 1024, "between 4 and 1024"),
            ("size", size, 32 <= size <= 1024, "between 32 and 1024 pixels"),
            ("fps", fps, fps >= 1, ">= 1"),
            ("val_fraction", val_fraction, 0 <= val_fraction < 1, "in [0, 1)"),
        )
        if not ok
    ]
    if problems:
        raise ValueError("; ".join(problems))
    out = Path(out)
    rows = []
    every = max(1, round(1 / val_fraction)) if val_fraction > 0 else 0
    duration = round(frames / fps)
    for i in range(clips):
        label = CLASSES[i % len(CLASSES)]
        group = i // len(CLASSES)
        split = "val" if every and group % every == every - 1 else "train"
        youtube_id = _youtube_id(seed, i)
        name = f"{youtube_id}_{0:06d}_{duration:06d}.mp4"
        path = out / "videos" / label / name
        if not path.exists():
            params = sample_params(np.random.default_rng([seed, i]), size, frames)
            # Intra-only coding: a decoded frame does not depend on its neighbours, so the two
            # classes of an order-only pair stay made of exactly the same decoded frames.
            write_video(path, render_clip(label, params), fps, intra_only=True)
        rows.append((label, youtube_id, 0, duration, split))
        if progress is not None:
            progress(i + 1, clips)
    csv_path = out / "annotations.csv"
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
        writer.writerows(rows)
    return csv_path


def order_pair_accuracy(scores, labels, classes: list[str], pairs=ORDER_PAIRS) -> float:
    """How often the true class scores above its order-only partner (chance: 0.5).

    This isolates the temporal decision: a model may find the pair from appearance alone
    ("something moves sideways"), but only the order of the frames tells the direction.

    Args:
        scores: `(N, K)` class scores (logits or probabilities) as a tensor or array.
        labels: `(N,)` true class indices into `classes`.
        classes: the dataset's class names; the classes of `pairs` must be present.
        pairs: the order-only pairs to score (default: all); clips of other classes are
            left out, e.g. `pairs=LONG_RANGE_PAIRS` for the long-range tier alone.
    """
    scores, labels = np.asarray(scores), np.asarray(labels)
    missing = [c for pair in pairs for c in pair if c not in classes]
    if missing:
        raise ValueError(f"order_pair_accuracy needs the synthetic classes; missing {missing}")
    partner = {}
    for a, b in pairs:
        partner[classes.index(a)], partner[classes.index(b)] = classes.index(b), classes.index(a)
    rows = np.array([i for i, y in enumerate(labels) if int(y) in partner], dtype=np.int64)
    if len(rows) == 0:
        raise ValueError("no clip of these pairs' classes among the labels")
    other = np.array([partner[int(labels[i])] for i in rows])
    return float((scores[rows, labels[rows]] > scores[rows, other]).mean())


def tier_accuracies(scores, labels, classes: list[str]) -> dict[str, float]:
    """`order_pair_accuracy` for each tier present in `classes`: {"short-range": .., "long-range": ..}."""
    return {
        tier: order_pair_accuracy(scores, labels, classes, pairs)
        for tier, pairs in TIERS.items()
        if all(c in classes for pair in pairs for c in pair)
    }
