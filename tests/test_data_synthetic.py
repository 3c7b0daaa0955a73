"""blvnet_edu/data/synthetic.py: order-only pairs, determinism, Kinetics layout."""

import csv

import numpy as np
import pytest

from blvnet_edu.data.synthetic import (
    CLASSES, ORDER_PAIRS, make_synthetic, order_pair_accuracy, render_clip, sample_params,
)
from blvnet_edu.data.video_io import read_video


@pytest.mark.parametrize("first,second", ORDER_PAIRS)
def test_order_only_pairs_hold_the_same_frames_in_opposite_orders(first, second):
    params = sample_params(np.random.default_rng(7))
    a, b = render_clip(first, params), render_clip(second, params)
    assert a.shape == (32, 3, 80, 80) and a.dtype == np.uint8
    assert np.array_equal(a[::-1], b)
    assert not np.array_equal(a, b)  # the motion is real: order matters
    frames_a = sorted(f.tobytes() for f in a)
    assert frames_a == sorted(f.tobytes() for f in b)  # a frame-averaging model sees the same


def test_eight_classes_and_distractors_vary():
    assert len(CLASSES) == 8 and len(set(CLASSES)) == 8
    clips = [render_clip("moving left", sample_params(np.random.default_rng(s))) for s in range(3)]
    assert not np.array_equal(clips[0][0], clips[1][0])


def test_make_synthetic_is_deterministic_and_in_kinetics_layout(tmp_path):
    csv_a = make_synthetic(tmp_path / "a", 16, seed=3, size=48, frames=8, fps=8, val_fraction=0.5)
    csv_b = make_synthetic(tmp_path / "b", 16, seed=3, size=48, frames=8, fps=8, val_fraction=0.5)
    rows = list(csv.DictReader(open(csv_a)))
    assert open(csv_a).read() == open(csv_b).read()
    assert list(rows[0]) == ["label", "youtube_id", "time_start", "time_end", "split"]
    assert [r["label"] for r in rows[:8]] == list(CLASSES)
    assert {r["split"] for r in rows} == {"train", "val"}
    row = rows[5]
    name = f"{row['youtube_id']}_{int(row['time_start']):06d}_{int(row['time_end']):06d}.mp4"
    video_a = tmp_path / "a" / "videos" / row["label"] / name
    video_b = tmp_path / "b" / "videos" / row["label"] / name
    assert len(row["youtube_id"]) == 11
    assert np.array_equal(read_video(video_a).numpy(), read_video(video_b).numpy())
    assert read_video(video_a).shape == (8, 3, 48, 48)


def test_interrupted_generation_resumes(tmp_path):
    make_synthetic(tmp_path, 8, seed=1, size=32, frames=4)
    first = sorted(tmp_path.rglob("*.mp4"))
    stamps = {p: p.stat().st_mtime_ns for p in first}
    first[0].unlink()
    make_synthetic(tmp_path, 8, seed=1, size=32, frames=4)
    again = sorted(tmp_path.rglob("*.mp4"))
    assert again == first
    assert all(p.stat().st_mtime_ns == stamps[p] for p in first[1:])


def test_order_pair_accuracy_compares_each_clip_with_its_partner_only():
    classes = sorted(CLASSES)  # any class order
    i = {c: classes.index(c) for c in classes}
    scores = np.zeros((3, 8))
    labels = np.array([i["moving left"], i["growing"], i["appearing"]])
    scores[0, [i["moving left"], i["moving right"]]] = [2.0, 1.0]  # right within the pair
    scores[1, [i["growing"], i["shrinking"], i["appearing"]]] = [1.0, 2.0, 9.0]  # wrong within the pair
    scores[2, [i["appearing"], i["disappearing"], i["growing"]]] = [3.0, 1.0, 9.0]  # wrong class, right pair order
    assert order_pair_accuracy(scores, labels, classes) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="synthetic classes"):
        order_pair_accuracy(scores, labels, ["a"] * 8)
