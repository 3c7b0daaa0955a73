"""blvnet_edu/models/fast/blnet.py: the in-place upsample-and-add of `FastBLModule`."""

import torch
import torch.nn.functional as F

from blvnet_edu.models.fast import upsample_add_


def test_upsample_add_equals_nearest_interpolation_plus_add_in_both_layouts():
    for little_hw, big_hw in (((10, 8), (5, 4)), ((7, 9), (4, 5))):  # even: broadcasting view; odd: interpolate
        for memory_format in (torch.contiguous_format, torch.channels_last):
            little = torch.randn(3, 6, *little_hw).to(memory_format=memory_format)
            big = torch.randn(3, 6, *big_hw).to(memory_format=memory_format)
            expected = little + F.interpolate(big, size=little_hw, mode="nearest")
            out = upsample_add_(little, big)
            assert out is little and torch.equal(out, expected)


def test_upsample_add_gradients():
    little = torch.randn(2, 3, 6, 4, dtype=torch.float64, requires_grad=True)
    big = torch.randn(2, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: upsample_add_(a * 1.0, b), (little, big))
