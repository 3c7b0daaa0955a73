"""blvnet_edu/order_comparison.py: clips reordered reproducibly, typed orders checked, and what each
architecture can notice, predicted and shown."""

import pytest
import torch

from blvnet_edu import build_model
from blvnet_edu.clips import ClipError, load_clip, load_clips
from blvnet_edu.order_comparison import (
    OrderResult,
    order_comparison,
    order_markdown,
    order_sensitive,
    parse_order,
    reorder_clip,
)


def test_reorder_clip_is_reproducible_and_keeps_pairs(clip_file):
    clip = load_clip(clip_file, 8, 48, 56)
    reversed_clip, order = reorder_clip(clip, "reversed")
    assert order == list(range(7, -1, -1)) and reversed_clip.indices == clip.indices[::-1]
    assert torch.equal(reversed_clip.frames, clip.frames.flip(0))
    assert torch.equal(reversed_clip.input, clip.input.flip(1))
    shuffled, order = reorder_clip(clip, "shuffled_pairs", seed=3)
    assert order == reorder_clip(clip, "shuffled_pairs", seed=3)[1] and order != list(range(8))
    assert all(b == a + 1 and a % 2 == 0 for a, b in zip(order[::2], order[1::2]))  # pairs intact, in order
    assert torch.equal(shuffled.frames, clip.frames[order])
    with pytest.raises(ClipError, match="even number of frames >= 4"):
        reorder_clip(load_clip(clip_file, 2, 48, 56), "shuffled_pairs")
    swapped, order = reorder_clip(clip, "halves_swapped")
    assert order == [4, 5, 6, 7, 0, 1, 2, 3] and swapped.indices == clip.indices[4:] + clip.indices[:4]
    typed, order = reorder_clip(clip, "custom", order=[0, 0, 1, 1, 2, 2, 3, 3])  # repeats allowed
    assert order == [0, 0, 1, 1, 2, 2, 3, 3] and torch.equal(typed.input[0, 1], clip.input[0, 0])
    with pytest.raises(ClipError, match="8 positions from 0 to 7"):
        reorder_clip(clip, "custom", order=[0, 1, 2])


@pytest.mark.parametrize(
    "text,expected",
    [
        ("7 6 5 4 3 2 1 0", [7, 6, 5, 4, 3, 2, 1, 0]),
        ("4,5 | 6,7 | 0,1 | 2,3", [4, 5, 6, 7, 0, 1, 2, 3]),
        (" 0 0 0 0 0 0 0 0 ", [0] * 8),
    ],
)
def test_a_typed_order(text, expected):
    assert parse_order(text, 8) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "type a frame order: 8 positions from 0 to 7, e.g. 7 6 5"),
        ("1 2 3", "the order has 3 positions; this clip has 8 frames"),
        ("0 1 2 3 4 5 6 x", "'x' is not a frame position"),
        ("0 1 2 3 4 5 6 8", "position 8 is not in the clip"),
        ("0 1 2 3 4 5 6 -1", "position -1 is not in the clip"),
    ],
)
def test_a_typed_order_that_does_not_fit_says_why(text, message):
    with pytest.raises(ClipError, match=message):
        parse_order(text, 8)


def test_what_each_architecture_can_notice_follows_from_the_order():
    tsn, blvnet, tam = (
        build_model(name).config for name in ("tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny")
    )
    assert [order_sensitive(c, "halves_swapped") for c in (tsn, blvnet, tam)] == [False, False, True]
    assert [order_sensitive(c, "reversed") for c in (tsn, blvnet, tam)] == [False, True, True]
    within_pairs = [1, 0, 3, 2, 5, 4, 7, 6]  # each pair reversed in place: new pairs, same frames
    assert [order_sensitive(c, "custom", within_pairs) for c in (tsn, blvnet, tam)] == [False, True, True]
    repeated = [0, 1, 0, 1, 4, 5, 6, 7]  # a frame pair repeated: a bag of frames notices
    assert [order_sensitive(c, "custom", repeated) for c in (tsn, blvnet, tam)] == [True, True, True]
    assert not order_sensitive(tam, "custom", list(range(8)))  # the same order: nothing to notice


def test_order_comparison_shows_what_each_architecture_can_notice(three_models, clip_file):
    clips = load_clips(clip_file, three_models)
    results = {
        test: {r.model: r for r in order_comparison(three_models, clips, test)}
        for test in ("reversed", "shuffled_pairs")
    }

    def same(r: OrderResult) -> bool:
        before, after = torch.tensor(list(r.original.values())), torch.tensor(list(r.modified.values()))
        return torch.allclose(before, after, atol=1e-6)

    tsn, blvnet, tam = "tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"
    assert same(results["reversed"][tsn]) and same(results["shuffled_pairs"][tsn])  # a bag of frames
    assert same(results["shuffled_pairs"][blvnet]) and not same(results["reversed"][blvnet])  # a bag of pairs
    assert not same(results["shuffled_pairs"][tam]) and not same(results["reversed"][tam])  # relates pairs
    assert results["shuffled_pairs"][tam].largest_shift > 1e-4
    assert [r.can_change for r in results["shuffled_pairs"].values()] == [False, False, True]
    assert [r.can_change for r in results["reversed"].values()] == [False, True, True]
    table = order_markdown(list(results["shuffled_pairs"].values()), "shuffled_pairs", seed=0)
    assert "top-1, pairs shuffled" in table and table.count("\n| ") == 3 and "Expected: TSN" in table
    assert "| tsn_resnet_tiny | 8 x 48 px |" in table and "pairs shuffled (seed 0)" in table
    swapped = {r.model: r for r in order_comparison(three_models, clips, "halves_swapped")}
    assert same(swapped[tsn]) and same(swapped[blvnet]) and not same(swapped[tam])  # the same pairs, moved
    assert swapped[tam].order == [4, 5, 6, 7, 0, 1, 2, 3]
    with pytest.raises(ClipError, match="the order has 4 positions but tsn_resnet_tiny runs on 8 frames"):
        order_comparison(three_models, clips, "custom", order=[0, 1, 2, 3])
    one_clip = order_comparison(three_models, clips[tsn], "reversed")  # one clip for every model
    assert [r.top1_modified for r in one_clip] == [r.top1_modified for r in results["reversed"].values()]
