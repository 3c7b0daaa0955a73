"""blvnet_edu/models/temporal.py: folding time and routing frames to the big/little branches."""

import pytest
import torch

from blvnet_edu.models import FrameRouting, PairRouting, fold_time, unfold_time


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


def test_pair_routing_sends_odd_frames_to_big_and_even_to_little():
    x = fold_time(frame_ids(2, 6))
    big, little = PairRouting.route_frames(x)
    assert big.flatten().tolist() == [1, 3, 5, 101, 103, 105]
    assert little.flatten().tolist() == [0, 2, 4, 100, 102, 104]


def test_pair_routing_keeps_one_map_per_pair():
    fused = torch.tensor([10.0, 20.0, 30.0]).view(3, 1, 1, 1)  # one per pair
    assert torch.equal(PairRouting.fuse(fused), fused) and torch.equal(PairRouting.select(fused), fused)
    big, little = PairRouting.route_stage(fused)  # no temporal module: both frames of a pair are equal
    assert torch.equal(big, fused) and torch.equal(little, fused)


def test_a_module_without_forward_pairs_sees_real_frames():
    fused = torch.tensor([10.0, 20.0]).view(2, 1, 1, 1)

    class AddFrameIndex(torch.nn.Module):
        def forward(self, frames):
            return frames + torch.arange(len(frames)).view(-1, 1, 1, 1)

    big, little = PairRouting.route_stage(fused, AddFrameIndex())
    assert big.flatten().tolist() == [11, 23] and little.flatten().tolist() == [10, 22]


def test_frame_routing_keeps_frames_independent():
    x = fold_time(frame_ids(1, 4))
    big, little = FrameRouting.route_frames(x)
    assert torch.equal(big, x) and torch.equal(little, x)
    assert torch.equal(FrameRouting.fuse(x), x) and torch.equal(FrameRouting.select(x), x)
    doubled = FrameRouting.route_stage(x, lambda t: 2 * t)
    assert torch.equal(doubled[0], 2 * x) and torch.equal(doubled[1], 2 * x)


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_route_frames_gradient_interleaves_odd_and_even(memory_format):
    x = torch.randn(6, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=memory_format).requires_grad_()
    odd, even = PairRouting.route_frames(x)
    assert torch.equal(odd, x[1::2]) and torch.equal(even, x[0::2])
    g_odd, g_even = torch.randn_like(odd), torch.randn_like(even)
    torch.autograd.backward([odd, even], [g_odd, g_even])
    expected = torch.stack([g_even, g_odd], dim=1).flatten(0, 1)  # frame 2i even, 2i+1 odd
    assert torch.equal(x.grad, expected) and x.grad.is_contiguous(memory_format=memory_format)
    x.grad = None
    PairRouting.route_frames(x)[0].sum().backward()  # the even frames unused: zero gradient
    assert torch.equal(x.grad[0::2], torch.zeros_like(even)) and torch.equal(x.grad[1::2], torch.ones_like(odd))
    assert torch.autograd.gradcheck(lambda t: PairRouting.route_frames(t), (x.detach().clone().requires_grad_(),))
