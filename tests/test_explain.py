"""blvnet_edu/explain: attributions (signed and normalised), frame removal, drawing (sign, one robust
scale per clip, colours), TAM weights and channel groups, the temporal receptive field, figures."""

import base64
import io

import numpy as np
import pytest
import torch
from conftest import random_video, randomize_
from PIL import Image

from blvnet_edu import build_model
from blvnet_edu.data.video_io import probe_video
from blvnet_edu.explain.attributions import (
    REPLACEMENTS,
    attribute,
    baseline_clip,
    frame_removal,
    grad_cam,
    normalise_clip,
    replacement_clip,
    signed_attribution,
    temporal_importance,
)
from blvnet_edu.explain.figures import (
    colorbar_figure,
    frame_attribution_figure,
    frame_removal_figure,
    frames_figure,
    receptive_field_figure,
    tam_groups_figure,
    tam_layer_heatmap,
    tam_summary_figure,
    temporal_importance_figure,
    topk_figure,
)
from blvnet_edu.explain.overlays import (
    SIGNS,
    clip_threshold,
    colorize,
    colour_table,
    display_maps,
    overlay,
    overlay_video,
)
from blvnet_edu.explain.receptive_field import span, temporal_receptive_field
from blvnet_edu.explain.tam_weights import CHANNEL_GROUPS, group_channels, summarize_tams, tam_weights


def test_normalisation_is_across_the_clip():
    maps = torch.zeros(4, 2, 2)
    maps[1] = 2.0
    maps[3, 0, 0] = 1.0
    out = normalise_clip(maps)
    assert out.max() == 1.0 and out[3, 0, 0] == 0.5  # frame 3 keeps its smaller scale


def test_baselines():
    video = random_video(1, 4, 32)
    assert torch.allclose(baseline_clip(video, "frozen")[0, 0], video[0, 2])
    black = baseline_clip(video, "black")
    assert torch.allclose(
        black[0, 0, :, 0, 0], torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225])
    )
    assert baseline_clip(video, "blurred").std() < video.std()
    with pytest.raises(ValueError):
        baseline_clip(video, "pink")


class FrameScorer(torch.nn.Module):
    """A toy 'model' whose class-0 score is the mean of frame 2 only."""

    def forward(self, video):
        score = video[:, 2].mean(dim=(1, 2, 3))
        return torch.stack([score, -score], dim=1)


def test_removing_the_important_frame_lowers_the_score():
    video = random_video(1, 6, 32) + 1.0  # positive frames: removing one lowers the mean
    importance = temporal_importance(FrameScorer(), video, target=0)
    assert importance.shape == (6,)
    assert importance.argmax() == 2 and importance[2] > 0
    assert torch.allclose(importance[[0, 1, 3, 4, 5]], torch.zeros(5), atol=1e-6)
    maps = attribute(FrameScorer(), video, 0, "saliency")
    assert maps[2].max() == 1.0 and maps[[0, 1, 3, 4, 5]].max() == 0.0


@pytest.mark.parametrize("layer", ["layer2", "layer4"])
def test_gradcam_on_blvnet_layers_gives_one_map_per_pair(layer):
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    video = random_video(1, 8, 64)
    maps = attribute(model, video, 1, "gradcam", layer=layer)
    assert maps.shape == (8, 64, 64)
    assert all(torch.equal(maps[2 * i], maps[2 * i + 1]) for i in range(4))
    assert not torch.equal(maps[0], maps[2])


@pytest.mark.parametrize("layer", ["layer1", "layer3"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "paper"])
def test_gradcam_of_a_bl_stage_is_gradcam_of_each_pairs_fused_map(layer, fast):
    """A bL stage returns each pair's fused map once (the network copies it to both frames):
    Grad-CAM on it equals Captum's `LayerGradCam` on the stage and on its fusion block, on
    the paper's modules and on the fast ones alike."""
    from captum.attr import LayerGradCam

    model = randomize_(build_model("blvnet_tam_tiny", fast=fast)).double().eval()
    video = random_video(1, 8, 64, dtype=torch.float64)
    stage = getattr(model, layer)
    expected = LayerGradCam(model, stage.fusion).attribute(video, target=1, relu_attributions=True)
    maps = grad_cam(model, video, 1, layer)
    assert maps.shape == (4, 1) + expected.shape[2:] and maps.abs().max() > 0
    torch.testing.assert_close(maps, expected, rtol=1e-10, atol=1e-12)
    on_stage = LayerGradCam(model, stage).attribute(video, target=1, relu_attributions=True)
    torch.testing.assert_close(maps, on_stage, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="stage"):
        grad_cam(model, video, 1, "layer3.fusion")


def test_gradcam_on_tsn_gives_one_map_per_frame():
    tsn = randomize_(build_model("tsn_resnet_tiny")).eval()
    assert not torch.equal(*attribute(tsn, random_video(1, 8, 64), 1, "gradcam", layer="layer4")[:2])


def test_tam_weights_for_every_layer():
    model = build_model("blvnet_tam_50", blending_frames=5, tam_init="identity")
    weights = tam_weights(model)
    assert list(weights) == list(model.tams())
    assert [w.shape for w in weights.values()] == [
        (5, 64),
        (5, 64),
        (5, 256),
        (5, 512),
        (5, 1024),
        (5, 2048),
        (5, 2048),
    ]
    summary = summarize_tams(model)
    assert [s.current for s in summary] == [1.0] * 7  # identity initialisation
    with torch.no_grad():
        model.layer1.tam.weight[0] = 3.0  # all weight on the past... plus the current frame
    s = summarize_tams(model)[1]
    assert s.past == pytest.approx(0.75) and s.current == pytest.approx(0.25) and s.future == 0
    assert summarize_tams(build_model("tsn_resnet_tiny")) == []


def test_overlays_and_video(tmp_path):
    frames = torch.full((4, 3, 16, 16), 100, dtype=torch.uint8)
    maps = torch.zeros(4, 16, 16)
    maps[2] = 1.0
    out = overlay(frames, maps)
    assert torch.equal(out[0], frames[0]) and not torch.equal(out[2], frames[2])
    assert colorize(torch.tensor([[[0.0, 1.0]]])).shape == (1, 3, 1, 2)
    info = probe_video(overlay_video(tmp_path / "o.mp4", frames, maps, fps=4, upscale=2))
    assert (info.num_frames, info.width) == (4, 32)
    with pytest.raises(ValueError):
        overlay(frames, maps[:2])


def test_figures():
    model = build_model("blvnet_tam_tiny")
    summary = tam_summary_figure(summarize_tams(model))
    assert summary.data[0].type == "heatmap" and len(summary.data[0].y) == len(model.tams())
    name, weights = next(iter(tam_weights(model).items()))
    assert tam_layer_heatmap(name, weights).data[0].z is not None
    assert len(temporal_importance_figure(torch.tensor([0.1, -0.2])).data[0].y) == 2
    assert list(topk_figure({"a": 0.7, "b": 0.2, "c": 0.1}, k=2).data[0].y) == ["b", "a"]


def test_frames_figure_shows_every_frame_with_its_caption():
    frames = torch.randint(0, 256, (10, 3, 24, 32), dtype=torch.uint8)
    fig = frames_figure(frames, captions=[f"t={t}" for t in range(10)], columns=4)
    assert len(fig.data) == 10
    assert sorted(a.text for a in fig.layout.annotations) == sorted(f"t={t}" for t in range(10))
    # each panel is the frame itself, as a PNG
    png = base64.b64decode(fig.data[3].source.split(",", 1)[1])
    assert (
        np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) == frames[3].permute(1, 2, 0).numpy()
    ).all()
    with pytest.raises(ValueError, match="T, 3, H, W"):
        frames_figure(torch.zeros(3, 24, 32, dtype=torch.uint8))


def test_frames_figure_wraps_captions_that_would_overlap():
    """Eight attribution captions side by side ran into each other: long ones take two lines."""
    frames = torch.zeros(8, 3, 24, 32, dtype=torch.uint8)
    captions = [f"frame {2 + 4 * t}: +{t}.{t}e-03 ({t}%)" for t in range(8)]
    fig = frames_figure(frames, captions=captions)
    shown = sorted(a.text for a in fig.layout.annotations)
    assert shown == sorted(c.replace(": ", ":<br>", 1) for c in captions)
    assert fig.layout.height > frames_figure(frames).layout.height  # room for the second line
    # short captions, or few columns, stay on one line
    assert sorted(
        a.text for a in frames_figure(frames[:2], captions=captions[:2]).layout.annotations
    ) == sorted(captions[:2])


def test_signed_saliency_is_the_gradient_and_attribute_its_normalised_magnitude():
    video = random_video(1, 6, 32) + 1.0
    # d mean(frame 2) / d pixel = 1 / (3 H W)
    signed = signed_attribution(FrameScorer(), video, 0, "saliency")
    assert signed.shape == (6, 32, 32)
    torch.testing.assert_close(signed[2], torch.full((32, 32), 3 / (3 * 32 * 32)))
    assert signed[[0, 1, 3, 4, 5]].abs().max() == 0
    against = signed_attribution(FrameScorer(), video, 1, "saliency")  # class 1 = -class 0
    torch.testing.assert_close(against, -signed)
    assert torch.equal(
        attribute(FrameScorer(), video, 1, "saliency"), attribute(FrameScorer(), video, 0, "saliency")
    )


def test_signed_integrated_gradients_are_captums_summed_over_colours():
    """Their sum is score(clip) - score(baseline) up to Captum's own convergence delta."""
    from captum.attr import IntegratedGradients

    model = randomize_(build_model("tsn_resnet_tiny", num_frames=4)).double().eval()
    video = random_video(1, 4, 48, dtype=torch.float64)
    values = signed_attribution(model, video, 1, "integrated_gradients", baseline="frozen", steps=16)
    reference, delta = IntegratedGradients(model).attribute(
        video,
        baselines=baseline_clip(video, "frozen"),
        target=1,
        n_steps=16,
        internal_batch_size=4,
        return_convergence_delta=True,
    )
    torch.testing.assert_close(values, reference[0].sum(1).float())
    with torch.no_grad():
        gap = (model(video) - model(baseline_clip(video, "frozen")))[0, 1].item()
    assert values.double().sum().item() - gap == pytest.approx(delta.item(), abs=1e-4)
    assert values[2].abs().max() == 0 and values[1].abs().sum() > 0  # the frozen baseline is frame 2 itself


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "occlusion", "gradcam"])
def test_each_method_gives_its_own_per_frame_values(method):
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    video = random_video(1, 8, 48)
    values = signed_attribution(model, video, 1, method, steps=4)
    assert values.shape == (8, 48, 48) and torch.isfinite(values).all() and values.abs().sum() > 0
    others = {
        m: signed_attribution(model, video, 1, m, steps=4).sum(dim=(1, 2))
        for m in ("saliency", "integrated_gradients", "occlusion", "gradcam")
        if m != method
    }
    for other, per_frame in others.items():  # another method, other numbers
        assert not torch.allclose(values.sum(dim=(1, 2)), per_frame, rtol=0.05), other


def test_signed_gradcam_keeps_what_gradcam_clips():
    model = randomize_(build_model("tsn_resnet_tiny")).eval()
    video = random_video(1, 8, 64)
    signed = {c: grad_cam(model, video, c, "layer3", relu=False) for c in range(4)}
    assert any((cam < 0).any() for cam in signed.values())  # features that speak against some class
    assert all(torch.equal(grad_cam(model, video, c, "layer3"), cam.relu()) for c, cam in signed.items())


def test_frame_removal_with_each_replacement():
    video = random_video(1, 6, 32) + 1.0
    grey = frame_removal(FrameScorer(), video, 0, "grey")
    assert grey.score == pytest.approx(video[0, 2].mean().item(), rel=1e-5)
    assert grey.score_drop.argmax() == 2 and grey.score_drop[2] == pytest.approx(grey.score, rel=1e-5)
    assert torch.allclose(grey.score_drop[[0, 1, 3, 4, 5]], torch.zeros(5), atol=1e-6)
    torch.testing.assert_close(
        grey.probability_drop, temporal_importance(FrameScorer(), video, 0)
    )  # Captum's way
    neighbour = frame_removal(FrameScorer(), video, 0, "neighbour", batch=4)  # frame 2 becomes frame 1
    assert neighbour.score_drop[2].item() == pytest.approx(
        (video[0, 2].mean() - video[0, 1].mean()).item(), abs=1e-5
    )
    mean = frame_removal(FrameScorer(), video, 0, "mean")
    assert mean.score_drop[2].item() == pytest.approx((video[0, 2].mean() - video[0].mean()).item(), abs=1e-5)
    assert torch.equal(replacement_clip(video, "neighbour")[0, 0], video[0, 1])
    assert torch.equal(replacement_clip(video, "neighbour")[0, 4], video[0, 3])
    assert set(REPLACEMENTS) == {"grey", "neighbour", "mean"}
    with pytest.raises(ValueError, match="unknown replacement"):
        replacement_clip(video, "pink")


def test_the_clip_threshold_is_captums_rule_over_the_whole_clip():
    from captum.attr._utils.visualization import _cumulative_sum_threshold  # the reference

    values = torch.randn(5, 12, 12, generator=torch.Generator().manual_seed(0)) ** 3
    for outlier in (0.0, 2.0, 10.0):
        expected = _cumulative_sum_threshold(values.abs().numpy(), 100.0 - outlier)
        assert clip_threshold(values, outlier) == pytest.approx(float(expected), rel=1e-6)
    assert clip_threshold(torch.zeros(2, 3, 3)) == 0.0


def test_display_maps_one_scale_for_the_clip_and_each_sign():
    values = torch.zeros(3, 10, 10)
    values[0, 0, 0] = 4.0  # one outlier: under 2% of the clip's |attribution|
    values[1] = 1.0  # a frame of modest values everywhere
    values[2, :5] = -2.0
    maps, threshold = display_maps(values, "absolute_value")
    assert threshold == 2.0 and maps[1].max() == 0.5 and maps[0, 0, 0] == 1.0  # the outlier saturates
    assert normalise_clip(values.abs())[1].max() == 0.25  # scaled by the largest value, frame 1 fades
    positive, _ = display_maps(values, "positive")
    negative, negative_threshold = display_maps(values, "negative")
    assert (
        positive[2].max() == 0
        and negative[1].max() == 0
        and negative[2].max() == 1.0
        and negative_threshold == 2.0
    )
    both, _ = display_maps(values, "all")
    assert both.min() == -1.0 and both.max() == 1.0
    assert display_maps(torch.zeros(2, 4, 4))[1] == 0.0
    with pytest.raises(ValueError, match="unknown sign"):
        display_maps(values, "sideways")


@pytest.mark.parametrize("sign", SIGNS)
def test_overlays_per_sign(sign):
    frames = torch.full((2, 3, 4, 4), 128, dtype=torch.uint8)
    maps = torch.zeros(2, 4, 4)
    maps[1, 0, 0] = -1.0 if sign == "all" else 1.0
    out = overlay(frames, maps, alpha=1.0, sign=sign)
    assert torch.equal(out[0], frames[0])  # 0: the frame as it is
    expected = colour_table(sign)[0 if sign == "all" else -1].round().to(torch.uint8)
    assert torch.equal(out[1, :, 0, 0], expected)  # saturated at opacity 1: the colour alone
    half = overlay(frames, maps, alpha=0.5, sign=sign)[1, :, 0, 0].float()
    torch.testing.assert_close(half, (128 + expected.float()) / 2, atol=1.0, rtol=0)
    with pytest.raises(ValueError, match="opacity"):
        overlay(frames, maps, alpha=1.5)
    coloured = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    coloured[:, 0] = 200  # a red scene
    grey = overlay(coloured, maps, alpha=1.0, sign=sign, grey=True)
    # unexplained pixels in grey: the overlay's colour stands out
    assert (grey[0] == round(0.299 * 200)).all()


def test_channel_groups():
    weights = torch.tensor(
        [  # offsets -1, 0, +1 for 6 channels
            [1.0, 0.0, 0.1, 0.5, 0.001, 0.9],
            [0.1, 1.0, 0.0, 0.0, 0.001, 0.1],
            [0.0, 0.2, 1.0, -0.5, 0.0, 0.0],
        ]
    )
    groups = group_channels(weights)
    assert groups.groups == {
        "mostly past": [0, 5],
        "mostly current": [1],
        "mostly future": [2],
        "mixing": [3],
        "near zero": [4],
    }
    assert groups.order == [0, 5, 1, 2, 3, 4] and sorted(groups.order) == list(range(6))
    assert groups.counts() == {
        "mostly past": 2,
        "mostly current": 1,
        "mostly future": 1,
        "mixing": 1,
        "near zero": 1,
    }
    assert groups.past[0] == pytest.approx(1 / 1.1) and list(groups.groups) == list(CHANNEL_GROUPS)
    fig = tam_groups_figure("layer1.tam", weights, groups)
    assert fig.data[0].colorscale[-1][1] == "rgb(103,0,31)"  # the largest weight in red, as the overlays
    assert [list(trace.x) for trace in fig.data] == [["0", "5"], ["1"], ["2"], ["3"], ["4"]]
    assert fig.data[0].z[0] == weights[0, [0, 5]].tolist()
    assert [a.text for a in fig.layout.annotations] == [
        "mostly past<br>2",
        "mostly current<br>1",
        "mostly future<br>1",
        "mixing<br>1",
        "near zero<br>1",
    ]
    with pytest.raises(ValueError, match="2k\\+1, C"):
        group_channels(torch.zeros(2, 4))


def test_the_temporal_receptive_field_grows_with_depth():
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    video = random_video(1, 8, 48)
    tams = list(model.tams())
    first = temporal_receptive_field(model, video, tams[0])  # the stem's TAM: frames t-1, t, t+1
    assert first.shape == (8, 8) and torch.allclose(first.sum(1), torch.ones(8))
    near = torch.tensor([[abs(s - t) <= 1 for s in range(8)] for t in range(8)])
    assert first[~near].abs().max() == 0 and (first[near] > 0).all()
    last = temporal_receptive_field(model, video, tams[-1])  # stage 4: one row per pair
    assert last.shape == (4, 8) and (last > 0).sum(1).min() > 3  # far beyond 3 frames
    with pytest.raises(ValueError, match="no TAM named"):
        temporal_receptive_field(model, video, "layer9.tam")


def test_a_tam_that_only_looks_back_draws_on_the_previous_frame():
    model = randomize_(build_model("blvnet_tam_tiny")).eval()
    with torch.no_grad():
        model.layer0.tam.weight.zero_()
        model.layer0.tam.weight[0] = 1.0  # y_t = ReLU(x_{t-1})
    field = temporal_receptive_field(model, random_video(1, 8, 48), "layer0.tam")
    assert field[0].sum() == 0  # frame 0 has no past: zero padding
    assert all(field[t, t - 1] == 1.0 for t in range(1, 8))


def test_span():
    assert span(torch.tensor([0.0, 0.05, 0.55, 0.4, 0.0])) == (2, 3)
    assert span(torch.tensor([0.3, 0.0, 0.0, 0.7])) == (0, 3)
    assert span(torch.zeros(4)) == (0, 3)


def test_explanation_figures_name_what_they_show():
    per_frame, share = torch.tensor([0.5, -0.25, 0.0]), torch.tensor([0.6, 0.3, 0.1])
    fig = frame_attribution_figure(
        per_frame, share, ["frame 1", "frame 5", "frame 9"], "Occlusion", "growing"
    )
    assert "Occlusion" in fig.layout.title.text and "'growing'" in fig.layout.title.text
    assert list(fig.data[0].y) == pytest.approx([0.6, 0.3, 0.1]) and list(fig.data[0].text) == [
        "+0.5",
        "-0.25",
        "+0",
    ]
    assert list(fig.data[0].marker.color) == ["#d1495b", "#3a7bd5", "#3a7bd5"]  # red: for the class
    removal = frame_removal(FrameScorer(), random_video(1, 3, 8) + 1.0, 0, "mean")
    fig = frame_removal_figure(removal, ["a", "b", "c"], "growing")
    assert "the clip's mean frame" in fig.layout.title.text and "'growing'" in fig.layout.title.text
    assert list(fig.data[0].y) == removal.score_drop.tolist()
    bar = colorbar_figure(0.25, "all", 0.8, "gradient")
    assert (
        list(bar.layout.xaxis.ticktext) == ["≤ -0.25", "0", "≥ +0.25"]
        and bar.layout.xaxis.tickvals[0] == -0.25
    )
    negative = colorbar_figure(0.5, "negative", 0.8, "gradient")
    assert (
        list(negative.layout.xaxis.ticktext) == ["0", "0.25", "≥ 0.5"]
        and "negative" in negative.layout.title.text
    )
    assert "nothing to draw" in colorbar_figure(0.0, "positive", 0.8, "gradient").layout.xaxis.ticktext[0]
    field = torch.tensor([[0.5, 0.5], [0.0, 1.0]])
    assert receptive_field_figure(field, ["f0", "f1"], ["o0", "o1"], "layer1.tam").data[0].z == (
        [0.5, 0.5],
        [0.0, 1.0],
    )


def test_the_tam_summary_has_one_fixed_scale():
    heat = tam_summary_figure(summarize_tams(build_model("blvnet_tam_tiny"))).data[0]
    assert (heat.zmin, heat.zmax) == (0.0, 1.0)


def test_network_diagram_draws_the_network_the_config_builds():
    """Frames, resolutions and TAMs come from the built network, so the diagram follows the config."""
    from blvnet_edu.explain.architecture import network_diagram, network_shapes
    from blvnet_edu.models.blvnet import preset_config

    config = preset_config("blvnet_tam_50", num_frames=16, num_classes=174)
    shapes = network_shapes(config, 224)
    assert shapes["conv1"] == (16, 64, 112, 112) and shapes["layer4"] == (8, 2048, 7, 7)
    assert shapes["layer1.big"] == (8, 256, 28, 28) and shapes["layer1.little_e"] == (8, 256, 56, 56)
    fig = network_diagram(config)
    texts = [a.text for a in fig.layout.annotations]
    assert "<b>layer1 big</b><br>odd frames: 8<br>256 x 28²" in texts
    assert "<b>layer1 little</b><br>even frames: 8<br>256 x 56²" in texts
    tams = fig.data[0]
    assert list(tams.text) == ["TAM<br>16"] * 4 + [
        "TAM in each block<br>8"
    ]  # stem output, stages 1-3, stage 4
    # another config, another diagram: 8 frames, a thinner little branch, no TAM
    other = network_diagram(preset_config("blvnet_50", num_frames=8, alpha=4, num_classes=10), size=160)
    other_texts = [a.text for a in other.layout.annotations]
    assert "<b>layer1 little</b><br>even frames: 4<br>256 x 40²" in other_texts
    assert not other.data and "(no TAM)" in other.layout.title.text
    with pytest.raises(ValueError, match="pair routing"):
        network_diagram(preset_config("tsn_resnet50", num_classes=10))


def test_clip_gif_plays_the_clip_frame_by_frame():
    """The animated preview holds every frame, in order, with the synthetic clip's exact colours."""
    from blvnet_edu.data.synthetic import render_clip, sample_params
    from blvnet_edu.explain.animation import clip_gif, clips_html

    clip = torch.from_numpy(
        render_clip("moving left", sample_params(np.random.default_rng(0), size=32, frames=8))
    )
    gif = Image.open(io.BytesIO(clip_gif(clip, fps=10, scale=2)))
    assert gif.n_frames == 8 and gif.size == (64, 64) and gif.info["duration"] == 100
    for t in range(8):
        gif.seek(t)
        shown = torch.from_numpy(np.array(gif.convert("RGB"))[::2, ::2]).permute(2, 0, 1)
        assert (shown.int() - clip[t].int()).abs().float().mean() < 2.0, t  # a shared 256-colour palette
    page = clips_html({"moving left": clip, "a <b>": clip[:2]}, columns=2)
    assert page.count("<img src='data:image/gif;base64,") == 2 and "a &lt;b&gt;" in page
    with pytest.raises(ValueError, match="T, 3, H, W"):
        clip_gif(clip[0])
