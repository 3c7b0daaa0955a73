"""blvnet_edu/data/order.py: clips played backwards, halves swapped, frame pairs shuffled."""

import pytest
import torch
from conftest import random_video

from blvnet_edu.data.order import ORDER_TESTS, halves_split, reverse_frames, shuffle_pairs, swap_halves


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


@pytest.mark.parametrize(
    "frames,expected",
    [
        (8, [4, 5, 6, 7, 0, 1, 2, 3]),
        (16, [*range(8, 16), *range(8)]),
        (6, [4, 5, 0, 1, 2, 3]),  # 3 pairs: the cut stays between pairs
        (7, [4, 5, 6, 0, 1, 2, 3]),  # odd (TSN): the same rule
    ],
)
def test_swap_halves_cuts_between_pairs(frames, expected):
    video = torch.arange(float(frames)).view(1, frames, 1, 1, 1).expand(2, frames, 3, 2, 2)
    swapped = swap_halves(video)
    assert swapped[0, :, 0, 0, 0].tolist() == expected and torch.equal(swapped[0], swapped[1])
    assert halves_split(frames) % 2 == 0
    pairs = lambda order: sorted(tuple(order[i : i + 2]) for i in range(0, frames - 1, 2))  # noqa: E731
    if frames % 2 == 0:  # a bag of pairs sees the same pairs
        assert pairs(expected) == pairs(list(range(frames)))
    with pytest.raises(ValueError, match="at least 4 frames"):
        swap_halves(video[:, :2])


def test_order_tests_by_name():
    assert ORDER_TESTS == {
        "reversed": reverse_frames,
        "shuffled_pairs": shuffle_pairs,
        "halves_swapped": swap_halves,
    }
