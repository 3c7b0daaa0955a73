# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Data: the Kinetics-subset pipeline
#
# The paper trains on Something-Something and Kinetics-400: hundreds of thousands of clips,
# downloaded by each user from YouTube (the dataset is a list of links, not files). Some
# links are dead, some downloads are truncated, labels come in a CSV. This notebook follows
# one dataset from that CSV to the `(B, T, 3, H, W)` batches of notebook 7, and breaks it on
# purpose to see what the pipeline does with missing and corrupt clips.
#
# We cannot download anything here, so we run the real pipeline on clips in the **same
# layout**: the course's synthetic dataset, written as H.264 mp4 files named like Kinetics
# clips, with a Kinetics-style CSV. The code path is the one a Kinetics subset takes.
#
# **Objectives.** After this notebook you can
# - read the official Kinetics annotation format and the clip naming of the official
#   download scripts,
# - build a checked, deterministic subset with `blvnet_edu.data.kinetics.make_subset`
#   (and re-derive its choice of clips from scratch), and read the files it writes:
#   `train.csv` / `val.csv` (`path,label,num_frames`), `classes.txt`, `report.json`,
# - say what happens to a missing clip, a corrupt clip and a label with a comma in it,
# - turn the lists into batches with `VideoClipDataset` and a `DataLoader`, reproducibly,
# - run the same steps on the real Kinetics with the `blvnet-edu` command line.
#
# **Before you start.** Prerequisites: notebook 2; CSV files and PyTorch's `Dataset` and
# `DataLoader`. Run time on 2 CPU cores: quick mode (`BLVNET_EDU_QUICK=1`, what the tests
# run) about 15 s; full mode (the default) about 3.5 minutes the first time, most of it
# rendering the 3,500 clips, which later runs reuse.

# %%
import csv
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch
from torch.utils.data import DataLoader

from blvnet_edu.cli import main as blvnet_edu_cli
from blvnet_edu.data.datasets import VideoClipDataset, item_seed
from blvnet_edu.data.kinetics import clip_stem, index_videos, make_subset, read_annotations
from blvnet_edu.data.lists import check_clip, read_classes, read_list
from blvnet_edu.data.sampling import segment_indices
from blvnet_edu.data.synthetic import CLASSES, make_synthetic
from blvnet_edu.data.transforms import IMAGENET_MEAN, IMAGENET_STD, EvalTransform, TrainTransform
from blvnet_edu.data.video_io import VideoDecodeError, read_frames
from blvnet_edu.engine.config import load_config
from blvnet_edu.explain.figures import frames_figure
from course import ROOT, WORK, check, pick, record, setup

setup()

# %% [markdown]
# ## The official format
#
# Kinetics-400/600/700 come as annotation CSVs (`train.csv`, `validate.csv`, `test.csv`;
# https://github.com/cvdfoundation/kinetics-dataset) with one row per clip:
#
# ```
# label,youtube_id,time_start,time_end,split,is_cc
# abseiling,AbCdEfGhIjK,12,22,train,0
# "some label, with a comma",ZyXwVuTsRqP,0,10,train,1
# ```
#
# (made-up rows). `youtube_id` names the video, `time_start`/`time_end` the 10-second
# clip in it (seconds), `split` is `train`, `validate` or `test`, and `is_cc` (Creative
# Commons) appears in newer releases. A label that contains a comma is quoted, as in any
# CSV. The official download scripts save the clip as
#
# $$ \texttt{\{youtube\_id\}\_\{time\_start:06d\}\_\{time\_end:06d\}.mp4}, $$
#
# e.g. `AbCdEfGhIjK_000012_000022.mp4`, either flat in one folder or in one folder per class.

# %% [markdown]
# ## Clips in the Kinetics layout: the synthetic dataset
#
# `make_synthetic` renders the course's dataset (fourteen classes in seven order-only pairs,
# in two tiers, notebook 1) as real H.264 mp4 files, `videos/<label>/<id>_000000_000002.mp4`,
# plus an `annotations.csv` in the official format. Clip `i` has class `CLASSES[i % 14]` and
# is drawn from the seed `(seed, i)`, so the same call always writes the same files, and a
# second call keeps the files that exist (an interrupted run resumes). Every fifth group of
# 14 clips goes to the `val` split.
#
# Full mode writes the 3500 clips of the README's dataset (250 per class); quick mode 10
# per class.

# %%
RAW = WORK / "synthetic-raw"
CLIPS = len(CLASSES) * pick(10, 250)  # 10 or 250 clips per class (notebook 7 uses the same recipe)
annotations = make_synthetic(RAW, clips=CLIPS, seed=0)  # resumes: existing clips are kept
print(annotations.read_text().splitlines()[:4])
print(f"{len(list((RAW / 'videos').rglob('*.mp4')))} mp4 files in {len(list((RAW / 'videos').iterdir()))} class folders")

# %%
rows, bad_rows = read_annotations([annotations])
print(rows[0])
print("clip file name:", clip_stem(rows[0]) + ".mp4")
print("rows per split:", dict(Counter(r.split for r in rows)), "| bad rows:", bad_rows)
assert (RAW / "videos" / rows[0].label / f"{clip_stem(rows[0])}.mp4").is_file()

# %% [markdown]
# ## From annotations to a checked subset
#
# `make_subset(csv_paths, videos, out, per_class, num_classes=... | class_list=...,
# val_per_class=..., short_side=..., seed=...)`:
#
# 1. reads the CSVs (bad rows are listed, not fatal),
# 2. picks the classes: the first `num_classes` in alphabetical order, or a `class_list`
#    (e.g. Mini-Kinetics-200),
# 3. orders the candidate clips of each (split, class) by a **seeded hash** of their
#    `youtube_id`: $\operatorname{sha1}(\texttt{"\{seed\}:\{youtube\_id\}"})$, a fixed
#    pseudo-random order that does not depend on the CSV's row order or on which files
#    happen to exist,
# 4. walks down that order and takes a clip only if its file exists and its first and last
#    frames decode (`check_clip`), until it has `per_class` (or `val_per_class`) clips,
# 5. optionally re-encodes the clips to a smaller short side (`short_side`), and writes the
#    lists.
#
# A broken clip is found here, once, instead of in the middle of an epoch. The README's
# synthetic dataset is 14 classes x 200 training and 50 validation clips.

# %%
DATA = WORK / "synthetic"
PER_CLASS, VAL_PER_CLASS = pick(8, 200), pick(2, 50)
report_path = DATA / "report.json"
report = json.loads(report_path.read_text()) if report_path.exists() else None
if report is None or report["per_class_wanted"] != {"train": PER_CLASS, "val": VAL_PER_CLASS}:
    report = make_subset([annotations], RAW / "videos", DATA, per_class=PER_CLASS, num_classes=len(CLASSES),
                         val_per_class=VAL_PER_CLASS, seed=0)
print({k: report[k] for k in ("classes", "clips", "per_class_wanted", "classes_short_of_clips")})
print("skipped:", report["skipped_clips"], "| bad annotation rows:", report["bad_annotation_rows"])
assert report["clips"] == {"train": len(CLASSES) * PER_CLASS, "val": len(CLASSES) * VAL_PER_CLASS}
assert len(list((RAW / "videos").rglob("*.mp4"))) == CLIPS
record("06.generated_clips", CLIPS)  # for the README (benchmarks/course_figures.py)
record("06.train_clips", report["clips"]["train"])
record("06.val_clips", report["clips"]["val"])

# %% [markdown]
# The dataset folder now holds four small files: the two lists, the label map and the
# report. Paths in the lists are relative to the folder when the clips are inside it, and
# absolute otherwise.

# %%
for name in ("train.csv", "val.csv", "classes.txt", "report.json"):
    print(f"--- {name}:", *(DATA / name).read_text().splitlines()[:3], sep="\n")
classes = read_classes(DATA / "classes.txt")
train_entries, val_entries = read_list(DATA / "train.csv"), read_list(DATA / "val.csv")
print(train_entries[0])
assert classes == sorted(CLASSES), "all the classes, in alphabetical order"

# %%
counts = go.Figure()
for split, entries in (("train", train_entries), ("val", val_entries)):
    per_class = Counter(e.label for e in entries)
    counts.add_bar(name=split, x=classes, y=[per_class[i] for i in range(len(classes))])
counts.update_layout(title="Clips per class in the subset", yaxis_title="clips", barmode="stack",
                     template="plotly_white")
counts.show()

# %% [markdown]
# ### The subset's choice of clips, from scratch
#
# Steps 2-4 in a few lines, with nothing but the `csv` module and `hashlib`; then the proof
# that they pick exactly the clips, in exactly the order, of `train.csv` and `val.csv`.


# %%
def choose_subset(csv_path, videos, num_classes, per_class, val_per_class, seed=0):
    """{split: [(clip stem, label index)]}: the first classes alphabetically, candidates in
    seeded-hash order, the first ones whose file exists and decodes."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    names = sorted({r["label"] for r in rows})[:num_classes]
    files = {p.stem: p for p in Path(videos).rglob("*.mp4")}  # flat or per-class folders
    chosen = {}
    for split, wanted in (("train", per_class), ("val", val_per_class)):
        chosen[split] = []
        for label, name in enumerate(names):
            candidates = [r for r in rows if r["label"] == name and r["split"] == split]
            candidates.sort(key=lambda r: hashlib.sha1(f"{seed}:{r['youtube_id']}".encode()).hexdigest())
            taken = 0
            for r in candidates:
                stem = f"{r['youtube_id']}_{int(r['time_start']):06d}_{int(r['time_end']):06d}"
                if taken < wanted and stem in files and decodes(files[stem]):
                    chosen[split].append((stem, label))
                    taken += 1
    return chosen


def decodes(path) -> bool:
    try:
        check_clip(path)
        return True
    except (VideoDecodeError, FileNotFoundError):
        return False


ours = choose_subset(annotations, RAW / "videos", len(CLASSES), PER_CLASS, VAL_PER_CLASS)
for split, entries in (("train", train_entries), ("val", val_entries)):
    theirs = [(Path(e.path).stem, e.label) for e in entries]
    assert ours[split] == theirs, f"{split}: a different choice of clips"
print("choose_subset == make_subset:", {s: len(v) for s, v in ours.items()}, "clips")

# %% [markdown]
# ## When the data is not clean
#
# A real Kinetics download always has holes: videos removed from YouTube (the clip is
# **missing**), interrupted or broken downloads (the file exists but does not decode:
# **corrupt**), and labels with punctuation. We build a small "download" in the other
# official layout, **flat** (every clip in one folder), from three classes of the
# synthetic clips, with an annotation CSV as Kinetics ships it: the `is_cc` column,
# `validate` as the split name, a label with a comma, and one malformed row.
#
# This folder is cheap to make, and we are about to damage it, so it is rebuilt on every
# run.

# %%
DOWNLOAD = WORK / "kinetics-demo"
shutil.rmtree(DOWNLOAD, ignore_errors=True)
(DOWNLOAD / "videos").mkdir(parents=True)
RENAME = {"appearing": "appearing, from nothing"}  # a label with a comma
picked = {}
for row in rows:
    if row.label in ("appearing", "growing", "moving left"):
        key = (row.label, row.split)
        if len(picked.setdefault(key, [])) < (4 if row.split == "train" else 2):
            picked[key].append(row)
with open(DOWNLOAD / "train.csv", "w", newline="") as f:  # the official file names
    writer = csv.writer(f)  # quotes a field only where needed
    writer.writerow(["label", "youtube_id", "time_start", "time_end", "split", "is_cc"])
    for (label, split), chosen_rows in sorted(picked.items()):
        for row in chosen_rows:
            shutil.copy(RAW / "videos" / row.label / f"{clip_stem(row)}.mp4", DOWNLOAD / "videos")  # flat
            writer.writerow([RENAME.get(label, label), row.youtube_id, row.time_start, row.time_end,
                             "validate" if split == "val" else "train", 0])
    writer.writerow(["growing", "notANumber0", "n/a", 10, "train", 0])  # a malformed row
lines = (DOWNLOAD / "train.csv").read_text().splitlines()
print(*lines[:3], "...", *lines[-2:], sep="\n")
flat = index_videos(DOWNLOAD / "videos")  # {clip stem: path}, flat or per-class folders alike
print(f"{len(flat)} clips, flat:", next(iter(flat.values())).relative_to(DOWNLOAD))

# %% [markdown]
# A naive `line.split(",")` cuts the quoted label in two; the `csv` module (which
# `read_annotations` uses) reads it as one field. The malformed row is reported and skipped.

# %%
quoted = next(line for line in (DOWNLOAD / "train.csv").read_text().splitlines() if line.startswith('"'))
print("naive split:", quoted.split(","))
demo_rows, demo_bad = read_annotations([DOWNLOAD / "train.csv"])
print("csv module :", next(r for r in demo_rows if "," in r.label))
print("bad rows   :", demo_bad)
assert len(quoted.split(",")) == 7 and len(demo_bad) == 1
assert sorted({r.label for r in demo_rows}) == ["appearing, from nothing", "growing", "moving left"]
assert {r.split for r in demo_rows} == {"train", "val"}, "'validate' is read as 'val'"

# %% [markdown]
# First the clean subset: 3 training and 1 validation clip per class, from 4 and 2
# candidates. Every class keeps one spare candidate per split.

# %%
clean = make_subset([DOWNLOAD / "train.csv"], DOWNLOAD / "videos", DOWNLOAD / "subset", per_class=3, num_classes=3, val_per_class=1)
clean_train = read_list(DOWNLOAD / "subset" / "train.csv")
print("clips:", clean["clips"], "| skipped:", clean["skipped_clips"], "| bad rows:", len(clean["bad_annotation_rows"]))
print("classes.txt:", read_classes(DOWNLOAD / "subset" / "classes.txt"))
assert clean["clips"] == {"train": 9, "val": 3}

# %% [markdown]
# Now we break two of the clips it chose: we delete the first training clip of class 1 (a
# video that was never downloaded) and overwrite the first training clip of class 0 with
# random bytes (a broken download), then build the subset again.

# %%
missing = Path(next(e.path for e in clean_train if e.label == 1))
corrupt = Path(next(e.path for e in clean_train if e.label == 0))
missing.unlink()
corrupt.write_bytes(np.random.default_rng(0).bytes(20_000))
try:
    read_frames(corrupt, [0])
except VideoDecodeError as err:
    print("reading the corrupt clip:", err)

report = make_subset([DOWNLOAD / "train.csv"], DOWNLOAD / "videos", DOWNLOAD / "subset", per_class=3, num_classes=3, val_per_class=1)
print("clips:", report["clips"], "| short of clips:", report["classes_short_of_clips"])
for item in report["skipped_clips"]:
    print(f"  skipped {item['clip']} ({item['label']}, {item['split']}): {item['reason'][:90]}")

# %% [markdown]
# Both bad clips were **skipped** (not fatal), **reported** in `report.json` with the
# reason, and **replaced** by the next candidate of their class in the seeded order: the
# subset still has 3 training clips per class. The lists never contain a clip that does
# not decode.

# %%
broken_train = read_list(DOWNLOAD / "subset" / "train.csv")
assert report["clips"] == {"train": 9, "val": 3} and not report["classes_short_of_clips"]
assert {s["clip"]: s["reason"] for s in report["skipped_clips"]}[missing.stem] == "missing"
assert "not a readable video" in {s["clip"]: s["reason"] for s in report["skipped_clips"]}[corrupt.stem]
assert json.loads((DOWNLOAD / "subset" / "report.json").read_text()) == report
paths_before, paths_after = {e.path for e in clean_train}, {e.path for e in broken_train}
print("left the list:", sorted(Path(p).name for p in paths_before - paths_after))
print("replacements :", sorted(Path(p).name for p in paths_after - paths_before))
assert paths_before - paths_after == {str(missing), str(corrupt)} and len(paths_after - paths_before) == 2
assert Counter(e.label for e in broken_train) == {0: 3, 1: 3, 2: 3}

# %% [markdown]
# The command line does the same (`blvnet-edu kinetics-subset`, here called in-process),
# and writes the same lists:

# %%
blvnet_edu_cli(["kinetics-subset", "--csv", str(DOWNLOAD / "train.csv"), "--videos", str(DOWNLOAD / "videos"),
                "--classes", "3", "--per-class", "3", "--val-per-class", "1", "--out", str(DOWNLOAD / "subset-cli")])
for name in ("train.csv", "val.csv", "classes.txt"):
    assert (DOWNLOAD / "subset-cli" / name).read_text() == (DOWNLOAD / "subset" / name).read_text(), name
print("CLI lists == API lists")

# %% [markdown]
# ## From lists to batches: `VideoClipDataset` and a `DataLoader`
#
# `VideoClipDataset(entries, clip_frames, transform, train, stride=None, num_clips=1,
# seed=0)` turns a list into clips. For training, item `i` of epoch `e`:
#
# 1. seeds a generator with `item_seed(seed, e, i)`,
# 2. samples `T` frame indices (TSN segments, or dense with `stride`, notebook 2),
# 3. decodes only those frames (`read_frames`, seeking),
# 4. applies the transform (`TrainTransform`: multi-scale crop, normalise) with the same
#    generator,
#
# and returns `((T, 3, H, W) float, label)`. The `DataLoader` stacks `B` items into
# `(B, T, 3, H, W)`. We use the sizes of `configs/synthetic_tiny.yaml` (notebook 7): its
# number of frames, crop size and crop scales.

# %%
recipe = load_config(ROOT / "configs" / "synthetic_tiny.yaml")
T, SIZE = recipe.model_options["num_frames"], recipe.size
print(f"T={T}, crops of {SIZE} px, scales {recipe.scales}")
train_set = VideoClipDataset(DATA / "train.csv", clip_frames=T, transform=TrainTransform(SIZE, tuple(recipe.scales)),
                             train=True, seed=0)
train_set.set_epoch(0)
loader = DataLoader(train_set, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
videos, labels = next(iter(loader))
print(len(train_set), "clips;", "batch", tuple(videos.shape), videos.dtype, "labels", labels.tolist())
assert videos.shape == (4, T, 3, SIZE, SIZE)  # (B, T, 3, H, W)

# %% [markdown]
# Item `i` from scratch, by the four steps above, is exactly the dataset's item:

# %%
i = 5
entry = train_set.entries[i]
generator = torch.Generator().manual_seed(item_seed(0, 0, i))
frame_indices = segment_indices(entry.num_frames, T, True, generator)
ours = TrainTransform(SIZE, tuple(recipe.scales))(read_frames(entry.path, frame_indices), generator)
theirs, label = train_set[i]
assert torch.equal(ours, theirs) and label == entry.label
print(f"item {i}: {Path(entry.path).name}, label {classes[label]!r}, frames {frame_indices}")

# %% [markdown]
# To look at a batch, undo the normalisation: $x = 255\,(\hat x \sigma + \mu)$.

# %%
mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
shown = torch.cat([((v * std + mean) * 255).round().clamp(0, 255).to(torch.uint8) for v in videos[:2]])
frames_figure(shown, [f"{classes[labels[b]][:14]} t={t}" for b in range(2) for t in range(T)],
              title="Two training clips of the batch, as the model sees them (after crop, before normalisation)").show()

# %% [markdown]
# ### Reproducible whatever the number of workers
#
# The randomness of an item depends only on `(seed, epoch, index)`, not on which worker
# process loads it or in which order. So two worker processes give the same batches as
# none, and `set_epoch` gives new draws every epoch. That is what makes `--resume` and
# multi-GPU training reproducible (notebook 7).

# %%
loader_kwargs = dict(batch_size=4, shuffle=True)
same = next(iter(DataLoader(train_set, num_workers=2, generator=torch.Generator().manual_seed(0), **loader_kwargs)))
assert torch.equal(same[0], videos) and torch.equal(same[1], labels), "2 workers == no worker"
train_set.set_epoch(1)
assert not torch.equal(train_set[i][0], theirs), "a new epoch draws other frames and crops"
train_set.set_epoch(0)
assert torch.equal(train_set[i][0], theirs)
print("same batch with 0 and 2 workers; epoch 1 draws differently; epoch 0 again gives the same clip")

# %% [markdown]
# ### Evaluation items: several clips and crops per video
#
# For evaluation an item holds `num_clips` clips x `crops` crops of one video,
# `(V, T, 3, H, W)` with `V = clips * crops`; the evaluation code averages the `V` scores.
# The frames of all clips are decoded in one `read_frames` call. Here: 2 clips x 3 crops
# (short side resized to `SIZE + 8`, three `SIZE x SIZE` crops along it).

# %%
val_set = VideoClipDataset(DATA / "val.csv", clip_frames=T, transform=EvalTransform(SIZE, SIZE + 8, crops=3),
                           train=False, num_clips=2)
val_batch, val_labels = next(iter(DataLoader(val_set, batch_size=2)))
print("eval batch", tuple(val_batch.shape))  # (B, clips*crops, T, 3, H, W)
assert val_batch.shape == (2, 2 * 3, T, 3, SIZE, SIZE)

# %% [markdown]
# ## The real dataset, step by step
#
# Nothing in this project downloads data. For a Kinetics-400 subset (the README's Data
# section):
#
# 1. **Annotations.** Get `train.csv` and `validate.csv`
#    (`label,youtube_id,time_start,time_end,split[,is_cc]`) from the CVDF mirror,
#    https://github.com/cvdfoundation/kinetics-dataset.
# 2. **Clips.** Download them with the mirror's `k400_downloader.sh` and
#    `k400_extractor.sh` (or from YouTube with the ActivityNet crawler). They must be named
#    `{youtube_id}_{time_start:06d}_{time_end:06d}.mp4`, flat or one folder per class.
# 3. **Subset.** For example 10 classes x 50 training clips, re-encoded to a 256-pixel
#    short side (smaller files, faster decoding; the training crop is 224):
#
#    ```bash
#    blvnet-edu kinetics-subset --csv k400/annotations/train.csv --csv k400/annotations/val.csv \
#        --videos k400/videos --classes 10 --per-class 50 --short-side 256 --out data/k400-10
#    # or a class list, one name per line (e.g. Mini-Kinetics-200):
#    blvnet-edu kinetics-subset ... --class-list mini_kinetics_200.txt --per-class 100 --out data/mini-k200
#    ```
#
#    `--val-per-class` defaults to a quarter of `--per-class`; `--seed` changes the choice of
#    clips. Read `data/k400-10/report.json` for what was skipped and why.
# 4. **Train** (notebook 7): `blvnet-edu train --config configs/kinetics_blvnet_tam_50.yaml
#    data=data/k400-10`.
#
# The synthetic dataset of this notebook, with the command line (what full mode computed
# above, under `WORK`):
#
# ```bash
# blvnet-edu make-synthetic --out data/synthetic-raw --clips 3500 --seed 0
# blvnet-edu kinetics-subset --csv data/synthetic-raw/annotations.csv --videos data/synthetic-raw/videos \
#     --classes 14 --per-class 200 --val-per-class 50 --out data/synthetic
# ```
#
# Your own videos, one sub-folder per class:
# `blvnet-edu folder-list --videos my_videos --out data/mine`.

# %% [markdown]
# ## Your turn
#
# Complete each function, run its cell, then the check cell after it.
#
# **Your turn 1.** The official Kinetics download names each clip after its annotation row:
# the YouTube id, then the start and end second, each as six digits
# (`abc_000012_000022.mp4` for `abc`, 12 s to 22 s). Write the name without the extension.

# %%
def clip_name(youtube_id, time_start, time_end):
    """The file name (no extension) of a Kinetics clip in the official layout."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 1", checks.clip_name(clip_name))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def clip_name(youtube_id, time_start, time_end):
#     return f"{youtube_id}_{time_start:06d}_{time_end:06d}"
# ```
#
# Without the zero padding (`abc_12_22`) no downloaded clip would be found: the subset
# builder would report every clip missing.
#
# </details>
#
# **Your turn 2.** A label map turns class names into indices 0..K-1. For Kinetics the
# convention (the authors', and `kinetics-subset`'s) is alphabetical order of the class
# names. Given the label column of an annotation file (names repeated, in any order), return
# the class list.

# %%
def kinetics_classes(labels):
    """Class names in label-index order, from the label column of a Kinetics CSV."""
    raise NotImplementedError("your turn")


# %%
import checks
check("Your turn 2", checks.kinetics_classes(kinetics_classes))

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# def kinetics_classes(labels):
#     return sorted(set(labels))
# ```
#
# Order of first appearance depends on how the CSV happens to be sorted: a model trained
# with one order and evaluated with another scores near chance. Not every dataset is
# alphabetical: the released Something-Something V1 models use the order of the dataset's
# label file (`blvnet_edu.data.label_maps`, `ssv1`), which is not sorted.
#
# </details>

# %% [markdown]
# ## Exercises
#
# **1.** You download more clips and run `kinetics-subset` again with the same arguments.
# Which clips of the old subset can change?
#
# <details><summary>Solution</summary>
#
# Only the places where a new file now fills a gap. The candidates' order is a hash of
# `(seed, youtube_id)`, independent of which files exist, and the subset takes the first
# clips in that order that exist and decode. A newly downloaded clip that sorts before a
# chosen one (because it was missing before) enters the subset and pushes the last chosen
# clip of its class out; everything else stays. Adding rows to the CSV behaves the same way.
#
# </details>
#
# **2.** Build a subset of the synthetic clips with only the classes "moving left" and
# "moving right" (a class list) and 4 training clips each. What is label 0?
#
# <details><summary>Solution</summary>
#
# ```python
# r = make_subset([annotations], RAW / "videos", WORK / "lr", per_class=4,
#                 class_list=["moving right", "moving left"], val_per_class=1)
# print(read_classes(WORK / "lr" / "classes.txt"))   # ['moving right', 'moving left']
# ```
# With a class list the labels follow the list's order, so label 0 is "moving right".
# With `num_classes` they follow alphabetical order.
#
# </details>
#
# **3.** Truncate a clip (a download cut off) instead of writing random bytes: keep 90% of
# the file, then 50%. Does `check_clip` catch it?
#
# <details><summary>Solution</summary>
#
# ```python
# path = Path(train_entries[0].path)
# for fraction in (0.9, 0.5):
#     broken = WORK / f"truncated_{fraction}.mp4"
#     broken.write_bytes(path.read_bytes()[: int(path.stat().st_size * fraction)])
#     try:
#         print(fraction, "passes:", check_clip(broken), "frames")
#     except VideoDecodeError as err:
#         print(fraction, "caught:", err)
# ```
# Yes, both. Cut at half, the decoder meets invalid data. Cut near the end, the header
# still announces every frame and the first frames decode; but asked for the last frame,
# `read_frames` finds that the stream stops well before the count its header gives and
# raises "the file looks truncated". A few missing frames are tolerated (some containers
# only estimate the count); a cut-off download is not, so training never silently repeats
# a clip's last frame.
#
# </details>

# %% [markdown]
# ## Read next
#
# - the paper's datasets (Sec. 4): Something-Something V1/V2, Kinetics-400, Moments in Time
# - `blvnet_edu/data/kinetics.py`, `data/lists.py`, `data/datasets.py`; README, "Data"
# - next: notebook 7, training
