"""blvnet_edu/models/tam.py: the fast TAM equals the readable reference, both follow the paper."""

import pytest
import torch
import torch.nn.functional as F

from blvnet_edu.models import TAM, TAMReference, fold_time, unfold_time


def pair(channels, frames, width, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    fast = TAM(channels, frames, width).to(dtype)
    ref = TAMReference(channels, frames, width).to(dtype)
    with torch.no_grad():
        fast.weight.normal_()
    ref.load_state_dict(fast.state_dict())
    return fast, ref


@pytest.mark.parametrize("width", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [2, 3, 8])
def test_fast_equals_reference_outputs_and_gradients(width, frames):
    fast, ref = pair(6, frames, width)
    x = torch.randn(2 * frames, 6, 5, 4, dtype=torch.float64)
    grad = torch.randn_like(x)
    x_fast, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    y_fast, y_ref = fast(x_fast), ref(x_ref)
    y_fast.backward(grad)
    y_ref.backward(grad)
    torch.testing.assert_close(y_fast, y_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(x_fast.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-12, atol=1e-12)


def test_gradcheck_fast_tam():
    fast, _ = pair(3, 4, 3)
    x = torch.rand(8, 3, 2, 2, dtype=torch.float64, requires_grad=True) + 0.1
    assert torch.autograd.gradcheck(fast, (x,))


def test_tam_matches_the_formula_written_out():
    """y_t = ReLU(sum_o w_o x_{t+o}), zero outside the clip, checked frame by frame."""
    frames, channels, k = 5, 4, 2
    fast, _ = pair(channels, frames, 2 * k + 1)
    x = torch.randn(2 * frames, channels, 3, 3, dtype=torch.float64)
    clips = unfold_time(x, frames)  # (B, T, C, H, W)
    expected = torch.zeros_like(clips)
    for t in range(frames):
        for i, offset in enumerate(range(-k, k + 1)):
            if 0 <= t + offset < frames:
                expected[:, t] += fast.weight[i].view(channels, 1, 1) * clips[:, t + offset]
    torch.testing.assert_close(fast(x), fold_time(F.relu(expected)).detach())


def test_clips_do_not_leak_into_each_other():
    fast, _ = pair(3, 4, 3)
    x = torch.randn(8, 3, 2, 2, dtype=torch.float64)
    changed = x.clone()
    changed[4:] += 10.0  # the second clip only
    torch.testing.assert_close(fast(x)[:4], fast(changed)[:4])


def test_offset_weights_and_identity_init():
    tam = TAM(16, 8, 5, init="identity")
    weights = tam.offset_weights()
    assert weights.shape == (5, 16)
    assert tam.offsets == [-2, -1, 0, 1, 2]
    assert torch.equal(weights[2], torch.ones(16)) and weights[[0, 1, 3, 4]].abs().sum() == 0
    weights.add_(1.0)  # a copy: the module is unchanged
    assert tam.weight[0].abs().sum() == 0
    x = torch.rand(16, 16, 3, 3)  # TAM inputs follow a ReLU: identity at initialisation
    torch.testing.assert_close(tam(x), x)


@pytest.mark.parametrize("width", [0, 2, 4, -1])
def test_even_or_non_positive_width_is_rejected(width):
    with pytest.raises(ValueError, match="odd"):
        TAM(4, 8, width)


def test_channels_last_and_low_precision():
    fast, ref = pair(8, 4, 3, dtype=torch.float32)
    x = torch.randn(8, 8, 6, 6)
    expected = ref(x)
    out = fast(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, expected)
    out_bf16 = fast(x.to(torch.bfloat16))
    assert out_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(out_bf16.float(), expected, rtol=3e-2, atol=3e-2)


def test_weight_gradient_in_low_precision_stays_float32():
    fast, _ = pair(4, 4, 3, dtype=torch.float32)
    x = torch.randn(8, 4, 3, 3, dtype=torch.bfloat16, requires_grad=True)
    fast(x).sum().backward()
    assert fast.weight.grad.dtype == torch.float32 and x.grad.dtype == torch.bfloat16


@pytest.mark.parametrize("width", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [2, 3, 8])
def test_inplace_inference_path_equals_reference(width, frames):
    fast, ref = pair(6, frames, width)
    fast.inplace = True
    x = torch.randn(2 * frames, 6, 5, 4, dtype=torch.float64)
    expected = ref(x).detach()
    with torch.no_grad():
        buffer = x.clone()
        out = fast(buffer)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert out.data_ptr() == buffer.data_ptr()  # written into its input


def test_inplace_tam_still_trains_out_of_place():
    fast, ref = pair(4, 4, 3)
    fast.inplace = True
    x = torch.randn(8, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    out = fast(x)
    assert out.data_ptr() != x.data_ptr()
    torch.testing.assert_close(out, ref(x))
    out.sum().backward()
    assert fast.weight.grad is not None and x.grad is not None


@pytest.mark.parametrize("width", [1, 3, 5, 7])
@pytest.mark.parametrize("frames", [2, 4, 8])
def test_forward_pairs_equals_copying_each_pair_to_both_frames(width, frames):
    """After a bL stage each pair holds one map; TAM must act as on the two equal frames."""
    fast, ref = pair(6, frames, width)
    pairs = torch.randn(2 * frames // 2, 6, 3, 3, dtype=torch.float64)
    grads = (torch.randn_like(pairs), torch.randn_like(pairs))
    p_fast, p_ref = pairs.clone().requires_grad_(), pairs.clone().requires_grad_()
    out_fast, out_ref = fast.forward_pairs(p_fast), ref.forward_pairs(p_ref)  # (odd, even)
    for a, b in zip(out_fast, out_ref):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    torch.autograd.backward(out_fast, grads)
    torch.autograd.backward(out_ref, grads)
    torch.testing.assert_close(p_fast.grad, p_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("used", ["odd", "even"])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_forward_pairs_gradients_when_one_output_is_used(used, memory_format):
    fast, ref = pair(6, 8, 5)
    pairs = torch.randn(8, 6, 3, 4, dtype=torch.float64).contiguous(memory_format=memory_format)
    p_fast, p_ref = pairs.clone().requires_grad_(), pairs.clone().requires_grad_()
    index = 0 if used == "odd" else 1
    (fast.forward_pairs(p_fast)[index] ** 2).sum().backward()
    (ref.forward_pairs(p_ref)[index] ** 2).sum().backward()
    torch.testing.assert_close(p_fast.grad, p_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-12, atol=1e-12)


def test_channels_last_gradients_equal_the_reference():
    fast, ref = pair(8, 4, 3)
    x = torch.randn(8, 8, 5, 6, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    grad = torch.randn(8, 8, 5, 6, dtype=torch.float64)
    x_fast, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    fast(x_fast).backward(grad)
    ref(x_ref).backward(grad)
    torch.testing.assert_close(x_fast.grad, x_ref.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast.weight.grad, ref.weight.grad, rtol=1e-12, atol=1e-12)


def test_default_init_is_the_authors_kaiming_normal_fan_out():
    """The authors' depthwise 1x1 convs get kaiming_normal_(mode="fan_out"): N(0, 2/C) each."""
    torch.manual_seed(0)
    channels = 4096
    tam = TAM(channels, 8, 3)
    assert tam.init == "kaiming"
    reference = torch.nn.Conv2d(channels, channels, 1, groups=channels, bias=False)
    torch.nn.init.kaiming_normal_(reference.weight, mode="fan_out", nonlinearity="relu")
    for row in tam.weight.detach():  # every offset, past, current and future alike
        assert abs(row.mean()) < 0.1 * (2 / channels) ** 0.5
        assert row.std() == pytest.approx(reference.weight.std().item(), rel=0.05)
        assert row.std() == pytest.approx((2 / channels) ** 0.5, rel=0.05)


def test_identity_init_is_an_option_and_changes_nothing_on_relu_outputs():
    tam = TAM(6, 4, 5, init="identity")
    assert tam.weight[2].eq(1).all() and tam.weight[[0, 1, 3, 4]].eq(0).all()
    x = torch.randn(8, 6, 5, 5).relu()
    torch.testing.assert_close(tam(x), x)
    with pytest.raises(ValueError, match="init"):
        TAM(6, 4, 3, init="zeros")


def test_models_build_their_tams_with_the_configured_init():
    from blvnet_edu import build_model

    torch.manual_seed(0)
    default = build_model("blvnet_tam_tiny")
    assert default.config.tam_init == "kaiming"
    assert all(t.init == "kaiming" and t.weight[0].abs().sum() > 0 for t in default.tams().values())
    identity = build_model("blvnet_tam_tiny", tam_init="identity")
    assert all(t.weight[t.blending_frames // 2].eq(1).all() for t in identity.tams().values())
    with pytest.raises(ValueError, match="tam_init"):
        build_model("blvnet_tam_tiny", tam_init="uniform")
