"""blvnet_edu/data/synthetic.py: order-only pairs in two tiers, determinism, Kinetics layout."""

import csv

import av
import numpy as np
import pytest
import torch

from blvnet_edu.data.sampling import segment_indices
from blvnet_edu.data.synthetic import (
    CLASSES,
    LONG_RANGE_PAIRS,
    ORDER_PAIRS,
    SHORT_RANGE_PAIRS,
    make_synthetic,
    order_pair_accuracy,
    render_clip,
    sample_params,
    tier_accuracies,
)
from blvnet_edu.data.video_io import read_video, write_video


def frame_pairs(clip: np.ndarray, indices: list[int]) -> list[bytes]:
    """The frame pairs bLVNet fuses, `(x_0, x_1), (x_2, x_3), ...`, after sampling `indices`."""
    frames = clip[indices]
    return [frames[i].tobytes() + frames[i + 1].tobytes() for i in range(0, len(frames), 2)]


@pytest.mark.parametrize("first,second", SHORT_RANGE_PAIRS)
def test_short_range_pairs_hold_the_same_frames_in_opposite_orders(first, second):
    params = sample_params(np.random.default_rng(7))
    a, b = render_clip(first, params), render_clip(second, params)
    assert a.shape == (32, 3, 80, 80) and a.dtype == np.uint8
    assert np.array_equal(a[::-1], b)
    assert not np.array_equal(a, b)  # the motion is real: order matters
    frames_a = sorted(f.tobytes() for f in a)
    assert frames_a == sorted(f.tobytes() for f in b)  # a frame-averaging model sees the same


@pytest.mark.parametrize("first,second", LONG_RANGE_PAIRS)
@pytest.mark.parametrize("num_frames", [4, 8, 16, 32])
def test_long_range_pairs_hold_the_same_frame_pairs_after_sampling(first, second, num_frames):
    """After the package's own segment sampling, both classes of a long-range pair are made of
    exactly the same frame pairs, in another order: a bag of pairs (bLVNet without TAM)
    cannot tell them apart."""
    params = sample_params(np.random.default_rng(11))
    a, b = render_clip(first, params), render_clip(second, params)
    n, t = len(a), num_frames
    assert not np.array_equal(a, b)
    assert np.array_equal(np.concatenate([a[n // 2 :], a[: n // 2]]), b)  # the halves swapped
    for position in (0.1, 0.5, 0.9):  # evaluation (several clips per video use several positions)
        idx = segment_indices(n, t, train=False, position=position)
        pairs_a, pairs_b = frame_pairs(a, idx), frame_pairs(b, idx)
        assert pairs_a != pairs_b, "the same pairs in the same order would be the same clip"
        half = len(pairs_a) // 2
        assert pairs_a == pairs_b[half:] + pairs_b[:half]  # one half's pairs, then the other's
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):  # training: random offsets per segment
        idx_a = segment_indices(n, t, train=True, generator=generator)
        # The partner's draw with the same offsets, segments i and i + T/2 exchanged: just as
        # likely (offsets are i.i.d.), and it lands every segment in its own segment of b.
        idx_b = [(idx_a[(i + t // 2) % t] + n // 2) % n for i in range(t)]
        assert all(int(n / t * i) <= j < int(n / t * (i + 1)) for i, j in enumerate(idx_b))
        assert sorted(frame_pairs(a, idx_a)) == sorted(frame_pairs(b, idx_b))


def test_long_range_classes_differ_between_pairs_not_within():
    """`turning on`: every sampled pair is uniform (dim or lit), the change falls between pairs."""
    params = sample_params(np.random.default_rng(2))
    clip = render_clip("turning on", params)
    frames = clip[segment_indices(len(clip), 8, train=False)]
    for i in range(0, 8, 2):
        assert np.array_equal(frames[i], frames[i + 1])
    assert not np.array_equal(frames[2], frames[4])


def test_fourteen_classes_in_two_tiers_and_distractors_vary():
    assert len(CLASSES) == 14 and len(set(CLASSES)) == 14
    assert ORDER_PAIRS == SHORT_RANGE_PAIRS + LONG_RANGE_PAIRS
    clips = [render_clip("moving left", sample_params(np.random.default_rng(s))) for s in range(3)]
    assert not np.array_equal(clips[0][0], clips[1][0])


def test_make_synthetic_is_deterministic_and_in_kinetics_layout(tmp_path):
    csv_a = make_synthetic(tmp_path / "a", 28, seed=3, size=48, frames=8, fps=8, val_fraction=0.5)
    csv_b = make_synthetic(tmp_path / "b", 28, seed=3, size=48, frames=8, fps=8, val_fraction=0.5)
    rows = list(csv.DictReader(open(csv_a)))
    assert open(csv_a).read() == open(csv_b).read()
    assert list(rows[0]) == ["label", "youtube_id", "time_start", "time_end", "split"]
    assert [r["label"] for r in rows[:14]] == list(CLASSES)
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
    scores = np.zeros((3, 14))
    labels = np.array([i["moving left"], i["growing"], i["appearing"]])
    scores[0, [i["moving left"], i["moving right"]]] = [2.0, 1.0]  # right within the pair
    scores[1, [i["growing"], i["shrinking"], i["appearing"]]] = [1.0, 2.0, 9.0]  # wrong within the pair
    scores[2, [i["appearing"], i["disappearing"], i["growing"]]] = [
        3.0,
        1.0,
        9.0,
    ]  # wrong class, right pair order
    assert order_pair_accuracy(scores, labels, classes) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="synthetic classes"):
        order_pair_accuracy(scores, labels, ["a"] * 8)


def test_tier_accuracies_score_each_tier_on_its_own_clips():
    classes = list(CLASSES)
    i = classes.index
    labels = np.array([i("moving left"), i("turning on"), i("growing then shrinking")])
    scores = np.zeros((3, 14))
    scores[0, i("moving left")] = 1.0  # short range: right
    scores[1, i("turning off")] = 1.0  # long range: wrong
    scores[2, i("growing then shrinking")] = 1.0  # long range: right
    assert tier_accuracies(scores, labels, classes) == {"short-range": 1.0, "long-range": 0.5}
    assert order_pair_accuracy(scores, labels, classes, LONG_RANGE_PAIRS) == 0.5
    assert list(tier_accuracies(scores[:1], labels[:1], classes[:8] + ["x"] * 6)) == ["short-range"]


def test_decoded_long_range_pairs_stay_the_same_pairs(tmp_path):
    """make_synthetic codes every frame on its own: after H.264 and decoding, the two classes of
    a long-range pair still hold exactly the same frame pairs. Ordinary inter-frame coding would
    not keep that (a frame's artefacts depend on the frames before it)."""
    params = sample_params(np.random.default_rng(5), size=48, frames=16)
    idx = segment_indices(16, 8, train=False)
    for first, second in LONG_RANGE_PAIRS:
        a, b = render_clip(first, params), render_clip(second, params)
        for intra_only in (True, False):
            da = read_video(write_video(tmp_path / "a.mp4", a, 8, intra_only=intra_only)).numpy()
            db = read_video(write_video(tmp_path / "b.mp4", b, 8, intra_only=intra_only)).numpy()
            pairs_a, pairs_b = frame_pairs(da, idx), frame_pairs(db, idx)
            if intra_only:
                assert pairs_a == pairs_b[2:] + pairs_b[:2], first
            else:
                assert pairs_a != pairs_b[2:] + pairs_b[:2], first  # why intra-only is needed
    written = make_synthetic(tmp_path / "set", 14, seed=0, size=32, frames=8)
    video = next((tmp_path / "set" / "videos").rglob("*.mp4"))
    with av.open(str(video)) as container:
        assert all(packet.is_keyframe for packet in container.demux(video=0) if packet.size)
    assert written.exists()
