"""A Kinetics subset from the official annotations and a folder of downloaded clips.

The Kinetics-400/600/700 annotation CSVs (https://github.com/cvdfoundation/kinetics-dataset)
have the columns `label,youtube_id,time_start,time_end,split[,is_cc]`; labels may be quoted
and contain spaces or commas. A downloaded clip is named
`{youtube_id}_{time_start:06d}_{time_end:06d}.mp4` (the naming of the official download
scripts), either flat in one folder or in one folder per class.

`make_subset` picks a deterministic subset (the first N classes in alphabetical order, or a
class list such as Mini-Kinetics-200; K clips per class ordered by a seeded hash of their id),
checks every clip it picks (missing or undecodable clips are skipped, reported, and replaced
by the next candidates), can re-encode clips to a smaller short side, and writes the clip
lists of `lists.py`. Nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .lists import VIDEO_EXTENSIONS, clip_order, pick_checked, read_text, safe_component, write_dataset
from .video_io import resize_video

__all__ = ["KineticsRow", "read_annotations", "clip_stem", "index_videos", "make_subset"]

REQUIRED = ("label", "youtube_id", "time_start", "time_end", "split")
SPLIT_NAMES = {"train": "train", "val": "val", "validate": "val", "valid": "val", "test": "test"}


@dataclass(frozen=True)
class KineticsRow:
    label: str
    youtube_id: str
    time_start: int
    time_end: int
    split: str  # "train", "val" or "test"


def clip_stem(row: KineticsRow) -> str:
    return f"{row.youtube_id}_{row.time_start:06d}_{row.time_end:06d}"


def read_annotations(paths: Sequence[str | Path]) -> tuple[list[KineticsRow], list[str]]:
    """Rows of one or more annotation CSVs, and a description of every row that was skipped."""
    rows, problems = [], []
    for path in map(Path, paths):
        with io.StringIO(read_text(path, "annotation file"), newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}: not a Kinetics annotation file, missing columns {missing}")
            for line, row in enumerate(reader, start=2):
                try:
                    label, youtube_id = row["label"].strip(), row["youtube_id"].strip()
                    split = SPLIT_NAMES[row["split"].strip().lower()]
                    start, end = int(float(row["time_start"])), int(float(row["time_end"]))
                    if not label or not youtube_id:
                        raise ValueError("empty label or youtube_id")
                except (KeyError, AttributeError, ValueError) as err:
                    problems.append(f"{path.name}:{line}: bad row {dict(row)} ({err})")
                    continue
                rows.append(KineticsRow(label, youtube_id, start, end, split))
    return rows, problems


def index_videos(videos: str | Path) -> dict[str, Path]:
    """`{clip stem: path}` for every video under `videos` (flat or in class folders)."""
    videos = Path(videos)
    if not videos.is_dir():
        raise FileNotFoundError(f"video folder not found: {videos}")
    return {p.stem: p for p in sorted(videos.rglob("*")) if p.suffix.lower() in VIDEO_EXTENSIONS}


MIN_SHORT_SIDE, MAX_SHORT_SIDE = 16, 2160  # re-encoding: a few pixels of detail, 4K's short side


def make_subset(
    csv_paths: Sequence[str | Path],
    videos: str | Path,
    out: str | Path,
    per_class: int,
    num_classes: int | None = None,
    class_list: Sequence[str] | None = None,
    val_per_class: int | None = None,
    short_side: int | None = None,
    seed: int = 0,
    progress: Callable[[Sequence], Sequence] = lambda items: items,
) -> dict:
    """Build a checked subset and write its lists under `out`; returns the report.

    Args:
        csv_paths: official annotation CSVs (e.g. train.csv and validate.csv).
        videos: folder with the downloaded clips.
        out: where lists (and re-encoded clips) go.
        per_class: training clips per class.
        num_classes: take the first N classes in alphabetical order, or
        class_list: exactly these classes (e.g. Mini-Kinetics-200).
        val_per_class: validation clips per class (default: per_class // 4, at least 1).
        short_side: re-encode clips to this short side under `out/videos` (kept if present,
            so an interrupted run resumes).
        progress: wraps the list of clips to check (e.g. `tqdm`).
    """
    if (num_classes is None) == (class_list is None):
        raise ValueError("give either num_classes or class_list")
    if num_classes is not None and num_classes < 1:
        raise ValueError(f"the number of classes (--classes) must be >= 1, got {num_classes}")
    if class_list is not None and not class_list:
        raise ValueError("the class list is empty")
    if per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if val_per_class is not None and val_per_class < 1:
        raise ValueError(f"val_per_class must be >= 1 (or left out), got {val_per_class}")
    if short_side is not None and not MIN_SHORT_SIDE <= short_side <= MAX_SHORT_SIDE:
        raise ValueError(
            f"short_side must be between {MIN_SHORT_SIDE} and {MAX_SHORT_SIDE} pixels (or left out), "
            f"got {short_side}"
        )
    rows, bad_rows = read_annotations(csv_paths)
    known = sorted({r.label for r in rows})
    if class_list is not None:
        unknown = [c for c in class_list if c not in known]
        if unknown:
            raise ValueError(f"classes not in the annotations: {unknown}")
        classes = list(dict.fromkeys(class_list))
    else:
        if num_classes > len(known):
            raise ValueError(f"asked for {num_classes} classes, the annotations have {len(known)}")
        classes = known[:num_classes]
    wanted = {"train": per_class, "val": val_per_class or max(1, per_class // 4)}
    label_set = set(classes)
    files = index_videos(videos)
    candidates: dict[tuple[str, str], list[KineticsRow]] = defaultdict(list)
    for row in rows:
        if row.label in label_set and row.split in wanted:
            candidates[(row.split, row.label)].append(row)
    out = Path(out)

    def prepare(path: Path, stem: str, label: str) -> Path:
        if not short_side:
            return path
        target = out / "videos" / safe_component(label) / f"{safe_component(stem)}.mp4"  # never outside `out`
        if not target.exists():  # kept from an interrupted run
            resize_video(path, target, short_side)
        return target

    ordered = {  # (split, class) -> [(clip stem, file or None)] in a seeded order of YouTube ids
        key: [
            (clip_stem(r), files.get(clip_stem(r)))
            for r in sorted(group, key=lambda r: clip_order(seed, r.youtube_id))
        ]
        for key, group in candidates.items()
    }
    splits, skipped, short = pick_checked(ordered, classes, wanted, prepare, progress)
    counts = {s: len(e) for s, e in splits.items()}
    report = {
        "classes": len(classes),
        "clips": counts,
        "per_class_wanted": wanted,
        "classes_short_of_clips": short,
        "skipped_clips": skipped,
        "bad_annotation_rows": bad_rows,
        "seed": seed,
    }
    write_dataset(out, classes, splits, report)
    return report
