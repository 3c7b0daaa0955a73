"""Clip lists: the files every dataset in this project is turned into.

A dataset folder holds `train.csv` and `val.csv` (`path,label,num_frames`, paths relative to
the folder unless absolute), `classes.txt` (one class name per line; line i is label i) and
`report.json` (what was skipped and why). `kinetics.py`, `something_something.py` and
`folder_entries` below produce them; `datasets.py` reads them.

`check_clip` opens each clip and decodes its first and last frames, so a broken download is
found once, here, not in the middle of an epoch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .video_io import VideoDecodeError, probe_video, read_frames

__all__ = [
    "VIDEO_EXTENSIONS",
    "read_text",
    "safe_component",
    "ClipEntry",
    "check_clip",
    "clip_order",
    "pick_checked",
    "write_dataset",
    "read_list",
    "read_classes",
    "folder_entries",
    "make_folder_dataset",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v")


@dataclass(frozen=True)
class ClipEntry:
    path: str
    label: int
    num_frames: int


def check_clip(path: str | Path) -> int:
    """Frame count of a clip whose first and last frames decode; raises otherwise."""
    info = probe_video(path)
    if info.num_frames < 1:
        raise VideoDecodeError(f"{path}: no frames")
    read_frames(path, [0, info.num_frames - 1])
    return info.num_frames


def clip_order(seed: int, clip_id: str) -> str:
    """Sort key of a clip: a seeded hash of its id (a fixed, seed-dependent order)."""
    return hashlib.sha1(f"{seed}:{clip_id}".encode()).hexdigest()


def pick_checked(
    candidates: Mapping[tuple[str, str], Sequence[tuple[str, Path | None]]],
    classes: Sequence[str],
    wanted: Mapping[str, int | None],
    prepare: Callable[[Path, str, str], Path] | None = None,
    progress: Callable[[Sequence], Sequence] = lambda items: items,
) -> tuple[dict[str, list[ClipEntry]], list[dict], dict[str, int]]:
    """Up to `wanted[split]` checked clips per split and class (`None`: all).

    Candidates are tried in the order given (e.g. sorted by `clip_order`); a missing (`None`)
    or unreadable clip is skipped and reported, and the next candidate taken.

    Args:
        candidates: `{(split, class name): [(clip id, file or None when missing)]}`.
        classes: class names; an entry's label is the class's position here.
        wanted: clips per class for each split, e.g. `{"train": 50, "val": 12}`.
        prepare: `(file, clip id, class name) -> file` run before the check (e.g. re-encoding).
        progress: wraps the list of `(split, class)` groups (e.g. `tqdm`).

    Returns:
        The entries of each split, the skipped clips (`{"clip", "label", "split", "reason"}`)
        and the groups that got fewer than wanted (`{"split/class": count}`).
    """
    label_of = {c: i for i, c in enumerate(classes)}
    splits: dict[str, list[ClipEntry]] = {split: [] for split in wanted}
    skipped: list[dict] = []
    short: dict[str, int] = {}
    for split, label in progress([(split, label) for split in wanted for label in classes]):
        limit, taken = wanted[split], 0
        for clip, path in candidates.get((split, label), ()):
            if taken == limit:
                break
            try:
                if path is None:
                    raise FileNotFoundError("missing")
                path = prepare(path, clip, label) if prepare else path
                entry = ClipEntry(str(path), label_of[label], check_clip(path))
            except (VideoDecodeError, FileNotFoundError) as err:
                skipped.append({"clip": clip, "label": label, "split": split, "reason": str(err)})
                continue
            splits[split].append(entry)
            taken += 1
        if limit is not None and taken < limit:
            short[f"{split}/{label}"] = taken
    return splits, skipped, short


def write_dataset(
    out: str | Path,
    classes: list[str],
    splits: dict[str, Iterable[ClipEntry]],
    report: dict,
) -> Path:
    """Write `<split>.csv` for each split, `classes.txt` and `report.json` under `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for split, entries in splits.items():
        tmp = out / f".{split}.csv.tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["path", "label", "num_frames"])
            for e in entries:
                path = Path(e.path)
                try:
                    path = path.resolve().relative_to(out.resolve())
                except ValueError:
                    path = path.resolve()
                writer.writerow([path.as_posix(), e.label, e.num_frames])
        tmp.replace(out / f"{split}.csv")
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in classes))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    return out


def read_text(path: str | Path, what: str = "file") -> str:
    """A UTF-8 text file (a byte-order mark is dropped, CRLF and LF both work).

    Raises:
        FileNotFoundError: no such file (`what` names it: "class list", ...).
        ValueError: a byte that is not UTF-8, with its line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ValueError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[err.start]:02x}); save the file as UTF-8"
        ) from err


def safe_component(name: str) -> str:
    """`name` (a class label, a video id) as one path component that stays in its folder:
    path separators and NUL become `_`, and a leading dot (`..`, hidden files) gets a `_`."""
    name = name.replace("/", "_").replace("\\", "_").replace("\0", "_").strip()
    return "_" + name if not name or name.startswith(".") else name


def read_classes(path: str | Path) -> list[str]:
    """Class names, one per line (blank lines and `#` comments ignored)."""
    lines = [line.strip() for line in read_text(path, "class list").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def read_list(path: str | Path) -> list[ClipEntry]:
    """Entries of a `path,label,num_frames` list, paths made absolute."""
    path = Path(path)
    text = read_text(path, "clip list")
    entries = []
    with io.StringIO(text, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                clip = Path(row["path"])
                clip = clip if clip.is_absolute() else path.parent / clip
                entries.append(ClipEntry(str(clip), int(row["label"]), int(row["num_frames"])))
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{path}, line {line}: expected path,label,num_frames ({err})") from err
    return entries


def folder_entries(root: str | Path) -> tuple[list[str], dict[str, list[Path]]]:
    """Classes (sorted sub-folder names) and their video files for a folder-per-class dataset."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"video folder not found: {root}")
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = {
        c: sorted(p for p in (root / c).rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS) for c in classes
    }
    classes = [c for c in classes if files[c]]
    if not classes:
        raise ValueError(f"{root}: no class folders with videos ({', '.join(VIDEO_EXTENSIONS)})")
    return classes, {c: files[c] for c in classes}


def make_folder_dataset(
    videos: str | Path, out: str | Path, val_fraction: float = 0.2, seed: int = 0
) -> dict:
    """Lists for a folder-per-class dataset: every video checked, a seeded split per class."""
    import random

    classes, files = folder_entries(videos)
    splits: dict[str, list[ClipEntry]] = {"train": [], "val": []}
    skipped = []
    for label, name in enumerate(classes):
        valid = []
        for path in files[name]:
            try:
                valid.append(ClipEntry(str(path), label, check_clip(path)))
            except (VideoDecodeError, FileNotFoundError) as err:
                skipped.append({"clip": str(path), "label": name, "reason": str(err)})
        random.Random(f"{seed}:{name}").shuffle(valid)
        n_val = round(len(valid) * val_fraction)
        splits["val"] += valid[:n_val]
        splits["train"] += valid[n_val:]
    report = {
        "classes": len(classes),
        "clips": {s: len(e) for s, e in splits.items()},
        "skipped_clips": skipped,
        "bad_annotation_rows": [],
        "seed": seed,
    }
    write_dataset(out, classes, splits, report)
    return report
