"""Something-Something V1 and V2 from their official layouts, as the clip lists of `lists.py`.

The paper reports results on both datasets, released by 20BN (now hosted by Qualcomm).
Their layouts:

- **V1**: one folder of JPEG frames per video, `<frames>/<video_id>/00001.jpg, 00002.jpg, ...`
  (12 fps), and three CSVs with `;` as separator: `something-something-v1-labels.csv` (one
  class name per line; line i is class i, *not* alphabetical), `something-something-v1-train.csv`
  and `something-something-v1-validation.csv` (`<video_id>;<class name>`).
- **V2**: one webm per video, `<videos>/<video_id>.webm`, and three JSON files:
  `something-something-v2-labels.json` (`{"class name": "id"}`, ids "0".."173"),
  `something-something-v2-train.json` and `something-something-v2-validation.json` (lists of
  `{"id", "label", "template", "placeholders"}`; the class is the template without its
  brackets: "Holding [something] next to [something]" -> "Holding something next to something").

Labels keep the official class order. With all classes, label i is official class i, so the
authors' released checkpoints line up with our lists; a subset (the first N classes, or a class
list) keeps the official order and is re-indexed 0..K-1. Every video is checked as in
`kinetics.py` (frame folders are read by `video_io`); missing, empty or unreadable videos are
skipped and reported in `report.json`. Nothing is downloaded.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from .kinetics import index_videos
from .lists import clip_order, pick_checked, read_text, write_dataset

__all__ = [
    "SSV1_FILES",
    "SSV2_FILES",
    "read_ssv1_annotations",
    "read_ssv2_annotations",
    "ssv2_class",
    "ssv1_lists",
    "ssv2_lists",
]

SSV1_FILES = {
    "labels": "something-something-v1-labels.csv",
    "train": "something-something-v1-train.csv",
    "val": "something-something-v1-validation.csv",
}
SSV2_FILES = {
    "labels": "something-something-v2-labels.json",
    "train": "something-something-v2-train.json",
    "val": "something-something-v2-validation.json",
}

# {split: [(video id, class name)]}, and a description of every annotation that was skipped
Annotations = tuple[list[str], dict[str, list[tuple[str, str]]], list[str]]


def _json(path: Path):
    """A JSON annotation file; malformed JSON is a `ValueError` naming the file and line."""
    try:
        return json.loads(read_text(path, "annotation file"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}, line {err.lineno}: not valid JSON ({err.msg})") from err


def read_ssv1_annotations(root: str | Path) -> Annotations:
    """Classes in official order, `{split: [(video id, class)]}` and the skipped lines, of SSv1."""
    root = Path(root)
    labels = read_text(root / SSV1_FILES["labels"], "annotation file").splitlines()
    classes = [line.strip() for line in labels if line.strip()]
    known = set(classes)
    items: dict[str, list[tuple[str, str]]] = {}
    problems = []
    for split in ("train", "val"):
        path = root / SSV1_FILES[split]
        items[split] = []
        for number, line in enumerate(read_text(path, "annotation file").splitlines(), start=1):
            video_id, _, label = (part.strip() for part in line.partition(";"))
            if not line.strip():
                continue
            if not video_id or label not in known:
                problems.append(f"{path.name}:{number}: bad line {line!r} (not <video_id>;<known class>)")
                continue
            items[split].append((video_id, label))
    return classes, items, problems


def ssv2_class(template: str) -> str:
    """The SSv2 class of an annotation: its template without brackets."""
    return template.replace("[", "").replace("]", "")


def read_ssv2_annotations(root: str | Path) -> Annotations:
    """Classes in official (id) order, `{split: [(video id, class)]}` and the skipped items, of SSv2."""
    root = Path(root)
    path = root / SSV2_FILES["labels"]
    ids = {name: int(i) for name, i in _json(path).items()}
    if sorted(ids.values()) != list(range(len(ids))):
        raise ValueError(f"{path}: class ids are not 0..{len(ids) - 1}")
    classes = sorted(ids, key=ids.get)
    items: dict[str, list[tuple[str, str]]] = {}
    problems = []
    for split in ("train", "val"):
        path = root / SSV2_FILES[split]
        items[split] = []
        for number, item in enumerate(_json(path)):
            try:
                video_id, label = str(item["id"]).strip(), ssv2_class(item["template"])
            except (KeyError, TypeError, AttributeError) as err:
                problems.append(f"{path.name}[{number}]: bad item {item!r} ({err})")
                continue
            if not video_id or label not in ids:
                problems.append(f"{path.name}[{number}]: video {video_id!r} has no known class ({label!r})")
                continue
            items[split].append((video_id, label))
    return classes, items, problems


def _choose_classes(
    official: list[str], num_classes: int | None, class_list: Sequence[str] | None
) -> list[str]:
    """The chosen classes, in official order: all, the first `num_classes`, or those of `class_list`."""
    if num_classes is not None and class_list is not None:
        raise ValueError("give num_classes or class_list, not both")
    if class_list is not None:
        unknown = [c for c in class_list if c not in set(official)]
        if unknown:
            raise ValueError(f"classes not in the annotations: {unknown}")
        return [c for c in official if c in set(class_list)]
    if num_classes is not None and not 1 <= num_classes <= len(official):
        raise ValueError(f"asked for {num_classes} classes, the annotations have {len(official)}")
    return official[:num_classes]


def _make_lists(
    dataset: str,
    annotations: Annotations,
    files: dict[str, Path],
    out: str | Path,
    num_classes: int | None,
    class_list: Sequence[str] | None,
    per_class: int | None,
    val_per_class: int | None,
    seed: int,
    progress: Callable[[Sequence], Sequence],
) -> dict:
    """Pick, check and write the lists of either version; `files`: `{video id: frame folder or file}`."""
    official, items, bad_rows = annotations
    classes = _choose_classes(official, num_classes, class_list)
    if not classes:
        raise ValueError("the class list is empty")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    if val_per_class is not None and val_per_class < 1:
        raise ValueError(f"val_per_class must be >= 1 (or left out), got {val_per_class}")
    wanted = {"train": per_class, "val": val_per_class or (per_class and max(1, per_class // 4))}
    candidates: dict[tuple[str, str], list[tuple[str, Path | None]]] = defaultdict(list)
    for split, pairs in items.items():
        for video_id, label in sorted(pairs, key=lambda p: clip_order(seed, p[0])):
            candidates[(split, label)].append((video_id, files.get(video_id)))
    splits, skipped, short = pick_checked(candidates, classes, wanted, progress=progress)
    report = {
        "dataset": dataset,
        "classes": len(classes),
        "official_labels": classes == official,  # label i is official class i
        "clips": {s: len(e) for s, e in splits.items()},
        "per_class_wanted": wanted,
        "classes_short_of_clips": short,
        "skipped_by_reason": dict(
            Counter(s["reason"] if s["reason"] == "missing" else "unreadable" for s in skipped)
        ),
        "skipped_clips": skipped,
        "bad_annotation_rows": bad_rows,
        "seed": seed,
    }
    write_dataset(out, classes, splits, report)
    return report


def ssv1_lists(
    root: str | Path,
    out: str | Path,
    num_classes: int | None = None,
    class_list: Sequence[str] | None = None,
    per_class: int | None = None,
    val_per_class: int | None = None,
    frames: str | Path | None = None,
    seed: int = 0,
    progress: Callable[[Sequence], Sequence] = lambda items: items,
) -> dict:
    """Checked Something-Something V1 lists under `out` (paths: the frame folders); the report.

    Args:
        root: folder with the three `something-something-v1-*.csv` files.
        out: where `train.csv`, `val.csv`, `classes.txt` and `report.json` go.
        num_classes: the first N classes in official order, or
        class_list: these classes (kept in official order); neither: all, official labels.
        per_class: training videos per class (default: all), in a seeded order of their ids.
        val_per_class: validation videos per class (default: all, or per_class // 4 with per_class).
        frames: the folder of frame folders (default: `root`).
        progress: wraps the list of (split, class) groups to check (e.g. `tqdm`).
    """
    root = Path(root)
    frames = Path(frames) if frames is not None else root
    if not frames.is_dir():
        raise FileNotFoundError(f"frame folder not found: {frames}")
    folders = {d.name: d for d in frames.iterdir() if d.is_dir()}
    return _make_lists(
        "something-something-v1",
        read_ssv1_annotations(root),
        folders,
        out,
        num_classes,
        class_list,
        per_class,
        val_per_class,
        seed,
        progress,
    )


def ssv2_lists(
    root: str | Path,
    out: str | Path,
    num_classes: int | None = None,
    class_list: Sequence[str] | None = None,
    per_class: int | None = None,
    val_per_class: int | None = None,
    videos: str | Path | None = None,
    seed: int = 0,
    progress: Callable[[Sequence], Sequence] = lambda items: items,
) -> dict:
    """Checked Something-Something V2 lists under `out` (paths: the webm files); the report.

    Args:
        root: folder with the three `something-something-v2-*.json` files.
        videos: the folder of `<video_id>.webm` files (default: `root`).
        Others: as in `ssv1_lists`.
    """
    root = Path(root)
    files = index_videos(videos if videos is not None else root)
    return _make_lists(
        "something-something-v2",
        read_ssv2_annotations(root),
        files,
        out,
        num_classes,
        class_list,
        per_class,
        val_per_class,
        seed,
        progress,
    )
