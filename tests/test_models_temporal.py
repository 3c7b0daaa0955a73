"""blvnet_edu/models/temporal.py: folding time and routing frames to the big/little branches."""

import pytest
import torch

from blvnet_edu.models import PAIRS, SINGLE_FRAMES, FrameRouting, fold_time, unfold_time


def frame_ids(batch, frames):
    """(B, T, 1, 1, 1) whose value is 100 * clip + frame."""
    ids = torch.arange(batch).view(-1, 1) * 100 + torch.arange(frames).view(1, -1)
    return ids.view(batch, frames, 1, 1, 1).float()


def test_fold_is_clip_major_and_unfold_inverts_it():
    video = frame_ids(3, 4)
    folded = fold_time(video)
    assert folded.shape == (12, 1, 1, 1)
    assert folded.flatten().tolist()[:6] == [0, 1, 2, 3, 100, 101]
    assert torch.equal(unfold_time(folded, 4), video)


def test_pairs_split_odd_frames_to_big_and_even_to_little_in_every_clip():
    big, little = PAIRS.split(fold_time(frame_ids(2, 6)))
    assert big.flatten().tolist() == [1, 3, 5, 101, 103, 105]
    assert little.flatten().tolist() == [0, 2, 4, 100, 102, 104]


def test_pairs_merge_copies_each_fused_map_to_both_frames_of_its_pair():
    fused = torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1, 1)  # one per pair
    assert PAIRS.merge(fused).flatten().tolist() == [10, 10, 20, 20, 30, 30]
    big, little = PAIRS.split(PAIRS.merge(fused))  # after a merge both branches see the same map
    assert torch.equal(big, fused) and torch.equal(little, fused)


def test_pairs_select_one_frame_per_pair_for_stage_4():
    x = fold_time(frame_ids(2, 4))
    assert PAIRS.select(x).flatten().tolist() == [1, 3, 101, 103]


def test_single_frames_send_every_frame_to_both_branches():
    x = fold_time(frame_ids(1, 4))
    big, little = SINGLE_FRAMES.split(x)
    assert torch.equal(big, x) and torch.equal(little, x)
    assert torch.equal(SINGLE_FRAMES.merge(x), x) and torch.equal(SINGLE_FRAMES.select(x), x)


@pytest.mark.parametrize("size", [0, 3])
def test_only_single_frames_or_pairs(size):
    with pytest.raises(ValueError, match="pairs"):
        FrameRouting(size)
