"""blvnet_edu/data/sampling.py: TSN segments, dense windows, several clips, short videos."""

import pytest
import torch

from blvnet_edu.data.sampling import dense_indices, multi_clip_indices, segment_indices


def test_segment_eval_takes_the_centre_of_each_segment():
    assert segment_indices(80, 8, train=False) == [5, 15, 25, 35, 45, 55, 65, 75]


def test_segment_train_takes_one_random_frame_inside_each_segment():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        indices = segment_indices(80, 8, train=True, generator=g)
        assert [i // 10 for i in indices] == list(range(8))
    a = segment_indices(80, 8, True, torch.Generator().manual_seed(3))
    b = segment_indices(80, 8, True, torch.Generator().manual_seed(3))
    assert a == b


def test_short_videos_repeat_frames_in_order():
    indices = segment_indices(5, 8, train=False)
    assert indices == sorted(indices) and set(indices) == set(range(5)) and len(indices) == 8
    assert dense_indices(6, 4, 3, train=False) == [0, 3, 5, 5]


def test_dense_windows():
    assert dense_indices(100, 4, 2, train=False) == [46, 48, 50, 52]
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        indices = dense_indices(30, 8, 2, True, g)
        assert [b - a for a, b in zip(indices, indices[1:])] == [2] * 7 and indices[-1] < 30


def test_multi_clip_spreads_clips_over_the_video():
    clips = multi_clip_indices(100, 4, 2)
    assert clips == [[6, 31, 56, 81], [18, 43, 68, 93]]
    dense = multi_clip_indices(100, 4, 3, stride=2)
    assert [c[0] for c in dense] == [16, 46, 78]  # starts at 1/6, 1/2, 5/6 of the 93 free frames


@pytest.mark.parametrize("bad", [dict(num_frames=0, clip_frames=4), dict(num_frames=10, clip_frames=0)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        segment_indices(train=False, **bad)
