"""blvnet_edu/models/fast/routing.py: pair storage and the odd/even split as views."""

import pytest
import torch

from blvnet_edu.models.fast import PairStorage, split_pairs
from blvnet_edu.models.temporal import PAIRS


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_split_pairs_gradient_interleaves_odd_and_even(memory_format):
    x = torch.randn(6, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=memory_format).requires_grad_()
    odd, even = split_pairs(x)
    assert torch.equal(odd, x[1::2]) and torch.equal(even, x[0::2])
    g_odd, g_even = torch.randn_like(odd), torch.randn_like(even)
    torch.autograd.backward([odd, even], [g_odd, g_even])
    expected = torch.stack([g_even, g_odd], dim=1).flatten(0, 1)  # frame 2i even, 2i+1 odd
    assert torch.equal(x.grad, expected) and x.grad.is_contiguous(memory_format=memory_format)
    x.grad = None
    split_pairs(x)[0].sum().backward()  # the even frames unused: zero gradient
    assert torch.equal(x.grad[0::2], torch.zeros_like(even)) and torch.equal(x.grad[1::2], torch.ones_like(odd))


def test_pair_storage_keeps_one_map_per_pair_where_the_paper_copies():
    frames = torch.arange(8.0).view(8, 1, 1, 1)  # (B*T, 1, 1, 1) with B = 2, T = 4
    storage = PairStorage()
    assert [torch.equal(a, b) for a, b in zip(storage.split(frames), PAIRS.split(frames))] == [True, True]
    fused = torch.tensor([10.0, 20.0, 30.0, 40.0]).view(4, 1, 1, 1)
    assert storage.merge(fused) is fused and storage.select(fused) is fused
    assert torch.equal(PAIRS.select(PAIRS.merge(fused)), fused)  # what the paper's copies come to
    assert storage.group_size == 2 and "pair" in repr(storage)
