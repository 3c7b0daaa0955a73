"""blvnet_edu/data/order.py: clips played backwards, frame pairs shuffled."""

import pytest
import torch

from blvnet_edu.data.order import ORDER_TESTS, reverse_frames, shuffle_pairs

from conftest import random_video


def test_shuffle_pairs_keeps_each_pair_intact_and_never_the_same_order():
    frames = torch.arange(8.0).view(1, 8, 1, 1, 1).expand(3, 8, 3, 2, 2)  # frame t holds value t
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        shuffled = shuffle_pairs(frames, generator)
        for clip in shuffled[:, :, 0, 0, 0]:
            order = clip.tolist()
            pairs = [tuple(order[i : i + 2]) for i in range(0, 8, 2)]
            assert sorted(pairs) == [(0, 1), (2, 3), (4, 5), (6, 7)]  # the pairs, intact and in order
            assert order != list(range(8))  # never the original order
    a = shuffle_pairs(frames, torch.Generator().manual_seed(4))
    assert torch.equal(a, shuffle_pairs(frames, torch.Generator().manual_seed(4)))  # reproducible
    views = frames.unsqueeze(1).expand(3, 2, 8, 3, 2, 2)  # (B, V, T, ...) works too
    assert shuffle_pairs(views, generator).shape == views.shape
    with pytest.raises(ValueError, match="even number of frames"):
        shuffle_pairs(frames[:, :7], generator)


def test_reverse_frames():
    video = random_video(2, 6, 8)
    assert torch.equal(reverse_frames(video)[:, 0], video[:, 5])


def test_order_tests_by_name():
    assert ORDER_TESTS == {"reversed": reverse_frames, "shuffled_pairs": shuffle_pairs}
