"""blvnet_edu/models/fast/network.py: the fast network equals the paper's, and hooks see the paper's values.

The whole-network test is the proof that every speed trick (pair storage, in-place TAM with
its own backward, views for the odd/even split, in-place upsample-and-add, channels_last)
computes the function the paper defines: float64, outputs and every parameter gradient, in
training mode (BatchNorm on batch statistics) and in eval mode, for every preset family.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from blvnet_edu.models import PRESETS, build_model
from blvnet_edu.models.fast import forward_features, has_hooks
from blvnet_edu.models.fast.network import split_pairs, upsample_add_

from conftest import CUDA, random_video, randomize_

FAMILIES = sorted({name.removesuffix("_tiny") for name in PRESETS if name.endswith("_tiny")})


def run(model, video, fast):
    """Logits, every parameter gradient and the BatchNorm statistics after one step."""
    model.fast = fast
    model.zero_grad()
    torch.manual_seed(0)  # the same dropout mask on both paths
    logits = model(video)
    (logits * torch.linspace(-1, 1, logits.shape[-1], dtype=logits.dtype, device=logits.device)).sum().backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    buffers = {name: b.clone() for name, b in model.named_buffers()}
    return logits.detach(), grads, buffers


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("overrides", [{}, {"num_frames": 6, "blending_frames": 5}], ids=["8f-w3", "6f-w5"])
def test_fast_equals_the_paper_outputs_and_every_gradient(family, mode, overrides, device):
    if family.startswith("tsn") and "blending_frames" in overrides:
        overrides = {"num_frames": 6}
    paper_model = randomize_(build_model(f"{family}_tiny", **overrides)).double().train(mode == "train").to(device)
    video = random_video(2, paper_model.config.num_frames, 64, dtype=torch.float64).to(device)
    fast_model = copy.deepcopy(paper_model)  # its own BatchNorm statistics
    logits_fast, grads_fast, buffers_fast = run(fast_model, video, fast=True)
    logits_paper, grads_paper, buffers_paper = run(paper_model, video, fast=False)
    torch.testing.assert_close(logits_fast, logits_paper, rtol=1e-10, atol=1e-12)
    assert grads_fast.keys() == grads_paper.keys() == dict(paper_model.named_parameters()).keys()
    largest = max(g.abs().max() for g in grads_paper.values())  # some gradients are 0 up to rounding
    for name in grads_paper:
        scale = max(grads_paper[name].abs().max(), 1e-6 * largest)
        assert (grads_fast[name] - grads_paper[name]).abs().max() <= 1e-9 * scale, name
    for name in buffers_paper:
        torch.testing.assert_close(buffers_fast[name], buffers_paper[name], rtol=1e-10, atol=1e-12)


def test_odd_feature_sizes_and_a_pair_of_frames():
    model = randomize_(build_model("blvnet_tam_tiny", num_frames=2)).double().eval()
    video = random_video(1, 2, 72, dtype=torch.float64)  # 72 px: odd maps in stage 3 (upsampling by interpolation)
    with torch.no_grad():
        model.fast = True
        fast = model(video)
        model.fast = False
        torch.testing.assert_close(fast, model(video), rtol=1e-10, atol=1e-12)


def test_build_model_is_fast_by_default_and_has_one_switch():
    assert build_model("blvnet_tam_tiny").fast
    assert not build_model("blvnet_tam_tiny", fast=False).fast


def test_a_hook_on_a_stage_sees_every_frame_with_pairs_copied():
    """The paper's stage output: `(B*T, C, H, W)`, both frames of a pair holding the fused map."""
    model = build_model("blvnet_tam_tiny").eval()
    seen = {}
    handle = model.layer2.register_forward_hook(lambda _m, _i, out: seen.__setitem__("layer2", out))
    assert has_hooks(model)
    with torch.no_grad():
        logits = model(random_video(2, 8, 64))
    handle.remove()
    assert not has_hooks(model)
    out = seen["layer2"]
    assert out.shape == (2 * 8, 4 * 32, 4, 4)  # (B*T, C, H/16, W/16), tiny widths
    torch.testing.assert_close(out[0::2], out[1::2], rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(model(random_video(2, 8, 64)), logits)  # fast again, same result


def test_a_hook_on_a_tam_sees_its_input_and_output_frames_untouched_by_later_layers():
    """In-place tricks must not reach a hook: under no_grad, what the hook kept stays as the TAM gave it."""
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    kept = {}
    for name, tam in model.tams().items():
        tam.register_forward_hook(lambda m, inputs, out, name=name: kept.__setitem__(name, (inputs[0], out, m.forward(inputs[0]))))
    with torch.no_grad():
        model(random_video(1, 8, 64))
    assert list(kept) == list(model.tams())  # every TAM fired, in forward order
    for name, (x, out, again) in kept.items():
        frames = model.tams()[name].num_frames
        assert x.shape[0] == out.shape[0] == frames  # every frame of the clip: B*T with B = 1
        torch.testing.assert_close(out, again, rtol=0, atol=0)  # out is TAM(x), not overwritten since


def test_has_hooks_sees_global_hooks():
    model = build_model("blvnet_tiny")
    handle = torch.nn.modules.module.register_module_forward_hook(lambda *_: None)
    try:
        assert has_hooks(model)
    finally:
        handle.remove()
    assert not has_hooks(model)


def test_forward_features_is_the_fast_path():
    model = randomize_(build_model("blvnet_tam_tiny", fast=False)).double().eval()
    video = random_video(1, 8, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(forward_features(model, video), model.forward_features(video))


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
