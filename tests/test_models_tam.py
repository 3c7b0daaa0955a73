"""blvnet_edu/models/tam.py: the paper's TAM, its formula, its initialisation."""

import pytest
import torch
import torch.nn.functional as F

from blvnet_edu.models import TAM, fold_time, unfold_time


def random_tam(channels, width, seed=0):
    torch.manual_seed(seed)
    tam = TAM(channels, blending_frames=width).double()
    with torch.no_grad():
        tam.weight.normal_()
    return tam


@pytest.mark.parametrize("width", [1, 3, 5])
def test_tam_matches_the_formula_written_out(width):
    """y_t = ReLU(sum_o w_o x_{t+o}), zero outside the clip, checked frame by frame."""
    frames, channels, k = 5, 4, width // 2
    tam = random_tam(channels, width)
    x = torch.randn(2 * frames, channels, 3, 3, dtype=torch.float64)
    clips = unfold_time(x, frames)  # (B, T, C, H, W)
    expected = torch.zeros_like(clips)
    for t in range(frames):
        for i, offset in enumerate(range(-k, k + 1)):
            if 0 <= t + offset < frames:
                expected[:, t] += tam.weight[i].view(channels, 1, 1) * clips[:, t + offset]
    torch.testing.assert_close(tam(x, frames), fold_time(F.relu(expected)).detach())


def test_tam_is_a_depthwise_temporal_convolution():
    """The same as conv3d with a (2k+1, 1, 1) kernel per channel, zero padding in time."""
    frames, channels, width = 6, 5, 5
    tam = random_tam(channels, width)
    x = torch.randn(2 * frames, channels, 4, 3, dtype=torch.float64)
    clips = unfold_time(x, frames).permute(0, 2, 1, 3, 4)  # (B, C, T, H, W)
    kernel = tam.weight.t().reshape(channels, 1, width, 1, 1)  # correlation: row i <-> offset i - k
    out = F.relu(F.conv3d(clips, kernel, padding=(width // 2, 0, 0), groups=channels))
    torch.testing.assert_close(tam(x, frames), fold_time(out.permute(0, 2, 1, 3, 4)).detach())


def test_gradcheck():
    tam = random_tam(3, 3)
    x = torch.rand(8, 3, 2, 2, dtype=torch.float64, requires_grad=True) + 0.1
    assert torch.autograd.gradcheck(lambda clip: tam(clip, 4), (x,))


def test_clips_do_not_leak_into_each_other():
    tam = random_tam(3, 3)
    x = torch.randn(8, 3, 2, 2, dtype=torch.float64)
    changed = x.clone()
    changed[4:] += 10.0  # the second clip only
    torch.testing.assert_close(tam(x, 4)[:4], tam(changed, 4)[:4])


def test_one_module_runs_any_clip_length():
    """T comes with the input: the same TAM on 8 frames as one clip or as two clips of 4."""
    tam = random_tam(3, 3)
    x = torch.randn(8, 3, 2, 2, dtype=torch.float64)
    one, two = tam(x, 8), tam(x, 4)
    torch.testing.assert_close(one[:3], two[:3])  # frames 0-2 see the same neighbours
    assert not torch.allclose(one[3], two[3])  # frame 3 ends the first clip of 4, not the clip of 8
    with pytest.raises(TypeError):
        TAM(16, 8)  # the clip length is no longer a build parameter


def test_offset_weights_are_a_copy():
    tam = TAM(16, blending_frames=5, init="identity")
    weights = tam.offset_weights()
    assert weights.shape == (5, 16) and tam.offsets == [-2, -1, 0, 1, 2]
    weights.add_(1.0)
    assert tam.weight[0].abs().sum() == 0


@pytest.mark.parametrize("width", [0, 2, 4, -1])
def test_even_or_non_positive_width_is_rejected(width):
    with pytest.raises(ValueError, match="odd"):
        TAM(4, blending_frames=width)


def test_low_precision_and_channels_last_inputs():
    tam = TAM(8, blending_frames=3)
    x = torch.randn(8, 8, 6, 6)
    expected = tam(x, 4)
    torch.testing.assert_close(tam(x.contiguous(memory_format=torch.channels_last), 4), expected)
    out = tam(x.to(torch.bfloat16), 4)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, rtol=3e-2, atol=3e-2)


def test_default_init_is_the_authors_kaiming_normal_fan_out():
    """The authors' depthwise 1x1 convs get kaiming_normal_(mode="fan_out"): N(0, 2/C) each."""
    torch.manual_seed(0)
    channels = 4096
    tam = TAM(channels, blending_frames=3)
    assert tam.init == "kaiming"
    reference = torch.nn.Conv2d(channels, channels, 1, groups=channels, bias=False)
    torch.nn.init.kaiming_normal_(reference.weight, mode="fan_out", nonlinearity="relu")
    for row in tam.weight.detach():  # every offset, past, current and future alike
        assert abs(row.mean()) < 0.1 * (2 / channels) ** 0.5
        assert row.std() == pytest.approx(reference.weight.std().item(), rel=0.05)
        assert row.std() == pytest.approx((2 / channels) ** 0.5, rel=0.05)


def test_identity_init_is_an_option_and_changes_nothing_on_relu_outputs():
    tam = TAM(6, blending_frames=5, init="identity")
    assert tam.weight[2].eq(1).all() and tam.weight[[0, 1, 3, 4]].eq(0).all()
    x = torch.randn(8, 6, 5, 5).relu()
    torch.testing.assert_close(tam(x, 4), x)
    with pytest.raises(ValueError, match="init"):
        TAM(6, blending_frames=3, init="zeros")


def test_models_build_their_tams_with_the_configured_init():
    from blvnet_edu.models import build_model

    torch.manual_seed(0)
    default = build_model("blvnet_tam_tiny")
    assert default.config.tam_init == "kaiming"
    assert all(t.init == "kaiming" and t.weight[0].abs().sum() > 0 for t in default.tams().values())
    identity = build_model("blvnet_tam_tiny", tam_init="identity")
    assert all(t.weight[t.blending_frames // 2].eq(1).all() for t in identity.tams().values())
    with pytest.raises(ValueError, match="tam_init"):
        build_model("blvnet_tam_tiny", tam_init="uniform")
