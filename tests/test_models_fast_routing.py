"""blvnet_edu/models/fast/routing.py: pair storage keeps one map per pair where the paper copies."""

import torch

from blvnet_edu.models.fast import PairStorage
from blvnet_edu.models.temporal import PAIRS


def test_pair_storage_keeps_one_map_per_pair_where_the_paper_copies():
    frames = torch.arange(8.0).view(8, 1, 1, 1)  # (B*T, 1, 1, 1) with B = 2, T = 4
    storage = PairStorage()
    assert [torch.equal(a, b) for a, b in zip(storage.split(frames), PAIRS.split(frames), strict=True)] == [
        True
    ] * 2
    fused = torch.tensor([10.0, 20.0, 30.0, 40.0]).view(4, 1, 1, 1)
    assert storage.merge(fused) is fused and storage.select(fused) is fused
    assert torch.equal(PAIRS.select(PAIRS.merge(fused)), fused)  # what the paper's copies come to
    assert storage.group_size == 2 and "pair" in repr(storage)
