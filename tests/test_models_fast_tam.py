"""blvnet_edu/models/fast/tam.py: the in-place TAM equals the paper's `TAM`, outputs and gradients."""

import pytest
import torch

from blvnet_edu.models import PAIRS, TAM
from blvnet_edu.models.fast import FastTAM, PairTAM, pair_weights, tam_frames, tam_pairs


def random_tam(channels, width, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    tam = TAM(channels, blending_frames=width).to(dtype)
    with torch.no_grad():
        tam.weight.normal_()
    return tam


def fast_and_paper(tam, x, grad, fast_fn, frames):
    """(fast output, paper output), with the input and weight gradients of both."""
    results = []
    for fn in (fast_fn, lambda clip: tam(clip, frames)):
        tam.zero_grad()
        leaf = x.clone().requires_grad_()
        out = fn(leaf)
        torch.autograd.backward(out, grad)
        results.append((out, leaf.grad, tam.weight.grad.clone()))
    return results


@pytest.mark.parametrize("width", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [2, 3, 8])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_tam_frames_equals_the_paper_outputs_and_gradients(width, frames, memory_format):
    tam = random_tam(6, width)
    x = torch.randn(2 * frames, 6, 5, 4, dtype=torch.float64).contiguous(memory_format=memory_format)
    grad = torch.randn(2 * frames, 6, 5, 4, dtype=torch.float64)
    fast, paper = fast_and_paper(tam, x, grad, lambda t: tam_frames(t, tam.weight, frames), frames)
    for a, b in zip(fast, paper):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert fast[1].is_contiguous(memory_format=memory_format)


def test_gradcheck_fast_tam():
    tam = random_tam(3, 3)
    x = torch.rand(8, 3, 2, 2, dtype=torch.float64, requires_grad=True) + 0.1
    assert torch.autograd.gradcheck(lambda t, w: tam_frames(t, w, 4), (x, tam.weight))


@pytest.mark.parametrize("width", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [2, 3, 8])
def test_inplace_inference_equals_the_paper_and_writes_into_its_input(width, frames):
    tam = random_tam(6, width)
    x = torch.randn(2 * frames, 6, 5, 4, dtype=torch.float64)
    expected = tam(x, frames).detach()
    with torch.no_grad():
        buffer = x.clone()
        out = tam_frames(buffer, tam.weight, frames, inplace=True)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert out.data_ptr() == buffer.data_ptr()


def test_inplace_is_ignored_when_a_gradient_is_needed():
    tam = random_tam(4, 3)
    x = torch.randn(8, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    out = tam_frames(x, tam.weight, 4, inplace=True)
    assert out.data_ptr() != x.data_ptr()
    torch.testing.assert_close(out, tam(x, 4))


def test_low_precision_keeps_a_float32_weight_gradient():
    tam = random_tam(8, 3, dtype=torch.float32)
    x = torch.randn(8, 8, 6, 6)
    out = tam_frames(x.to(torch.bfloat16), tam.weight, 4)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), tam(x, 4), rtol=3e-2, atol=3e-2)
    leaf = x.to(torch.bfloat16).requires_grad_()
    tam_frames(leaf, tam.weight, 4).sum().backward()
    assert tam.weight.grad.dtype == torch.float32 and leaf.grad.dtype == torch.bfloat16


def test_pair_weights_fold_frame_offsets_into_pair_offsets():
    w = torch.arange(1.0, 4.0).view(3, 1)  # offsets -1, 0, +1 of one channel
    zero = torch.zeros(1)
    torch.testing.assert_close(pair_weights(w, 1), torch.stack([zero, w[0] + w[1], w[2]]))  # odd frames
    torch.testing.assert_close(pair_weights(w, 0), torch.stack([w[0], w[1] + w[2], zero]))  # even frames


@pytest.mark.parametrize("width", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [2, 4, 8])
@pytest.mark.parametrize("used", ["both", "odd", "even"])
def test_tam_pairs_equals_the_paper_on_each_map_copied_to_both_frames(width, frames, used):
    """After a bL stage each pair holds one map: TAM must act as on the two equal frames."""
    tam = random_tam(6, width)
    pairs = torch.randn(2 * frames // 2, 6, 3, 3, dtype=torch.float64)
    grads = (torch.randn_like(pairs), torch.randn_like(pairs))
    keep = {"both": (0, 1), "odd": (0,), "even": (1,)}[used]

    def paper(p):
        return PAIRS.split(tam(PAIRS.merge(p), frames))  # copy, TAM over T frames, odd / even

    results = []
    for fn in (lambda p: tam_pairs(p, tam.weight, frames), paper):
        tam.zero_grad()
        leaf = pairs.clone().requires_grad_()
        outs = fn(leaf)
        torch.autograd.backward([outs[i] for i in keep], [grads[i] for i in keep])
        results.append((*outs, leaf.grad, tam.weight.grad.clone()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_fast_modules_are_tams_with_the_same_weights_and_outputs():
    tam = random_tam(6, 5)
    frames = torch.randn(8, 6, 3, 3, dtype=torch.float64)
    pairs = frames[1::2].contiguous()  # (B*T/2, C, H, W): one map per pair, B = 2, T = 4
    expected = tam(frames, 4)
    fast = random_tam(6, 5)
    fast.__class__ = FastTAM
    assert isinstance(fast, TAM) and "FastTAM(channels=6, blending_frames=5" in repr(fast)
    torch.testing.assert_close(fast(frames, 4), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.every_frame(frames, 4), expected, rtol=1e-12, atol=1e-12)
    pair = random_tam(6, 5)
    pair.__class__ = PairTAM
    odd, even = pair(pairs, 4)
    copied = tam(PAIRS.merge(pairs), 4)  # what the paper computes on the copies
    torch.testing.assert_close(odd, copied[1::2], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(even, copied[0::2], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pair.every_frame(pairs, 4), copied, rtol=1e-12, atol=1e-12)
