"""blvnet_edu/explain: attribution shapes and normalisation, frame importance, TAM weights, figures."""

import base64
import io

import numpy as np
import pytest
from PIL import Image
import torch

from blvnet_edu import build_model
from blvnet_edu.explain.attributions import attribute, baseline_clip, grad_cam, normalise_clip, temporal_importance
from blvnet_edu.explain.figures import frames_figure, tam_layer_heatmap, tam_summary_figure, temporal_importance_figure, topk_figure
from blvnet_edu.explain.overlays import colorize, overlay, overlay_video
from blvnet_edu.explain.tam_weights import summarize_tams, tam_weights
from blvnet_edu.data.video_io import probe_video

from conftest import random_video, randomize_


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
    assert torch.allclose(black[0, 0, :, 0, 0], torch.tensor([-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225]))
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
def test_gradcam_of_a_bl_stage_is_gradcam_of_each_pairs_fused_map(layer):
    """The stage output holds each pair's map twice; its gradient is the sum over both copies:
    the same as Grad-CAM on the fusion block, whose output is the pair's map, once."""
    from captum.attr import LayerGradCam

    model = randomize_(build_model("blvnet_tam_tiny")).double().eval()
    video = random_video(1, 8, 64, dtype=torch.float64)
    stage = getattr(model, layer)
    expected = LayerGradCam(model, stage.fusion).attribute(video, target=1, relu_attributions=True)
    maps = grad_cam(model, video, 1, layer)
    assert maps.shape == (4, 1) + expected.shape[2:] and maps.abs().max() > 0
    torch.testing.assert_close(maps, expected, rtol=1e-10, atol=1e-12)
    if layer == "layer3":  # only the odd copy reaches stage 4: a generic Grad-CAM leaves even frames empty
        naive = LayerGradCam(model, stage).attribute(video, target=1, relu_attributions=True)
        assert naive[0::2].abs().max() == 0 and naive[1::2].abs().max() > 0


def test_gradcam_on_tsn_gives_one_map_per_frame():
    tsn = randomize_(build_model("tsn_resnet_tiny")).eval()
    assert not torch.equal(*attribute(tsn, random_video(1, 8, 64), 1, "gradcam", layer="layer4")[:2])


def test_tam_weights_for_every_layer():
    model = build_model("blvnet_tam_50", blending_frames=5, tam_init="identity")
    weights = tam_weights(model)
    assert list(weights) == list(model.tams())
    assert [w.shape for w in weights.values()] == [(5, 64), (5, 64), (5, 256), (5, 512), (5, 1024), (5, 2048), (5, 2048)]
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
    assert (np.asarray(Image.open(io.BytesIO(png)).convert("RGB")) == frames[3].permute(1, 2, 0).numpy()).all()
    with pytest.raises(ValueError, match="T, 3, H, W"):
        frames_figure(torch.zeros(3, 24, 32, dtype=torch.uint8))
