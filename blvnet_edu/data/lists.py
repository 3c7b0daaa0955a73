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
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
    where: str = field(default="", compare=False, repr=False)  # "LIST, line N" for entries read from a list


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
    required: Sequence[str] = ("train",),
) -> Path:
    """Write `<split>.csv` for each split, `classes.txt` and `report.json` under `out`.

    A `required` split without clips is an error (`ValueError`): only `report.json`, which
    says what was skipped and why, is written then."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    splits = {split: list(entries) for split, entries in splits.items()}
    empty = [split for split in required if not splits.get(split)]
    if empty:
        (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        skipped, bad = len(report.get("skipped_clips", [])), len(report.get("bad_annotation_rows", []))
        raise ValueError(
            f"no usable clips for the {' and '.join(empty)} split ({skipped} clip(s) skipped, {bad} bad "
            f"annotation row(s); {out / 'report.json'} says why): no lists written"
        )
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


def read_list(path: str | Path, num_classes: int | None = None, check_files: bool = False) -> list[ClipEntry]:
    """Entries of a `path,label,num_frames` list, paths made absolute.

    Each line is checked before any clip is read, and a bad one raises `ValueError` naming
    the list and the line: not three fields, a label below 0 (or not below `num_classes`), a
    frame count below 1, a relative path that leaves the list's folder with `..`. With
    `check_files`, also a clip that does not exist or is neither a video file
    (`VIDEO_EXTENSIONS`) nor a frame folder. Absolute paths are accepted: `write_dataset`
    writes them for clips outside the dataset folder (`kinetics-subset --videos DIR`)."""
    path = Path(path)
    text = read_text(path, "clip list")
    root = path.parent
    entries = []
    with io.StringIO(text, newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            line = reader.line_num
            where = f"{path}, line {line}"
            try:
                name = row["path"]
                entry = ClipEntry(name, int(row["label"]), int(row["num_frames"]), where)
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{where}: expected path,label,num_frames ({err})") from err
            problem = _entry_problem(entry, root, num_classes, check_files)
            if problem:
                raise ValueError(f"{where}: {problem}")
            clip = Path(name) if Path(name).is_absolute() else root / name
            entries.append(replace(entry, path=str(clip)))
    return entries


def _entry_problem(entry: ClipEntry, root: Path, num_classes: int | None, check_files: bool) -> str:
    """What is wrong with a list entry (`root`: the list's folder), or ""."""
    if not entry.path:
        return "no clip path"
    if entry.label < 0 or (num_classes is not None and entry.label >= num_classes):
        known = f" (the dataset has {num_classes} classes: 0 to {num_classes - 1})" if num_classes else ""
        return f"label {entry.label} is not a class{known}"
    if entry.num_frames < 1:
        return f"num_frames must be >= 1, got {entry.num_frames}"
    clip = Path(entry.path)
    if not clip.is_absolute():
        if Path(os.path.normpath(clip)).parts[:1] == ("..",):  # by name: a symlinked folder inside is fine
            return (
                f"{entry.path} leaves the dataset folder {root}: clip paths are relative to it (or absolute)"
            )
        clip = root / clip
    if check_files:
        if not clip.exists():
            return f"clip not found: {clip}"
        if not clip.is_dir() and not (clip.is_file() and clip.suffix.lower() in VIDEO_EXTENSIONS):
            return f"{clip} is not a video file ({', '.join(VIDEO_EXTENSIONS)}) or a frame folder"
        if not os.access(clip, os.R_OK):
            return f"cannot read {clip} (permission denied)"
    return ""


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
