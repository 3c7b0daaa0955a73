"""blvnet_edu/explanation.py: a method's attribution per frame, drawn; frame removal; everything at once."""

from pathlib import Path

import pytest
import torch

from blvnet_edu.budget import Deadline, Limits, RequestTimeout
from blvnet_edu.clips import ClipError, load_clip
from blvnet_edu.explain.attributions import METHODS, signed_attribution
from blvnet_edu.explanation import attribution, draw, explain, remove_frames
from blvnet_edu.inference import load_predictor, predict_clip

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo():
    return load_predictor(ROOT / "app" / "demo" / "blvnet_tam_tiny.pt")


@pytest.fixture(scope="module")
def clip(demo):
    return load_clip(ROOT / "app" / "examples" / "growing_then_shrinking.mp4", 8, demo.size, demo.resize)


def test_an_attribution_is_the_methods_own_values(demo, clip):
    found = attribution(demo, clip, "growing", "integrated_gradients", "frozen", steps=8)
    expected = signed_attribution(
        demo.model, clip.input, demo.classes.index("growing"), "integrated_gradients", "frozen", steps=8
    )
    torch.testing.assert_close(found.values, expected)
    assert (found.method, found.baseline, found.target, found.steps) == (
        "integrated_gradients",
        "frozen",
        "growing",
        8,
    )
    torch.testing.assert_close(found.per_frame, expected.sum(dim=(1, 2)))
    assert found.share.sum().item() == pytest.approx(1.0) and (found.share >= 0).all()
    assert attribution(demo, clip, "growing", "saliency").baseline == ""  # only integrated gradients has one
    with torch.no_grad():  # what the values should add up to (completeness), to compare with their sum
        scores = demo.model(torch.cat([clip.input, torch.cat([clip.input[:, 4:5]] * 8, 1)]))[
            :, demo.classes.index("growing")
        ]
    assert found.score_gap == pytest.approx((scores[0] - scores[1]).item(), rel=1e-4)
    assert attribution(demo, clip, "growing", "saliency").score_gap is None


def test_per_frame_values_differ_between_methods_on_the_same_clip(demo, clip):
    """What the app's captions and per-frame chart show is each method's own, not one shared number."""
    per_frame = {m: attribution(demo, clip, None, m, steps=8).per_frame for m in METHODS}
    for a in METHODS:
        for b in METHODS:
            if a < b:
                assert not torch.allclose(per_frame[a], per_frame[b], rtol=0.05), (a, b)


def test_drawing_changes_with_sign_and_opacity_not_the_values(demo, clip):
    found = attribution(demo, clip, None, "integrated_gradients", "black", steps=8)
    absolute, positive = draw(found, clip, "absolute_value", 0.8), draw(found, clip, "positive", 0.8)
    assert absolute.maps.shape == (8, demo.size, demo.size) and absolute.maps.max() == 1.0
    assert not torch.equal(absolute.maps, positive.maps) and positive.maps.min() >= 0
    assert (found.values < 0).any() and (positive.maps[found.values < 0] == 0).all()
    faint = draw(found, clip, "absolute_value", 0.2)
    assert (faint.overlays.float() - clip.frames.float()).abs().mean() < (
        absolute.overlays.float() - clip.frames.float()
    ).abs().mean()
    assert absolute.captions[0].startswith(f"frame {clip.indices[0]}: ") and absolute.captions[0].endswith(
        "%)"
    )
    values, shares = found.per_frame.tolist(), found.share.tolist()
    assert absolute.captions[3] == f"frame {clip.indices[3]}: {values[3]:+.2g} ({shares[3]:.0%})"
    assert absolute.captions == positive.captions  # the values do not depend on how they are drawn


def test_frame_removal_for_any_class(demo, clip):
    probs = predict_clip(demo, clip)
    unlikely = min(probs, key=probs.get)
    removal = remove_frames(demo, clip, unlikely, "mean")
    assert removal.probability == pytest.approx(probs[unlikely], rel=1e-3)
    assert removal.score_drop.abs().max() > 1e-3  # in score units: readable for a class at 1e-6 too
    with pytest.raises(ClipError, match="unknown replacement 'pink'"):
        remove_frames(demo, clip, None, "pink")


def test_explain_in_one_call(demo, clip):
    result = explain(demo, clip, None, "saliency", sign="all", alpha=0.6, replacement="neighbour")
    probs = predict_clip(demo, clip)
    assert result.target == max(probs, key=probs.get) and result.attribution.method == "saliency"
    assert result.removal.replacement == "neighbour" and result.drawing.sign == "all"
    torch.testing.assert_close(result.importance, result.removal.probability_drop)
    assert result.maps.min() < 0 <= result.maps.max() == 1.0  # both signs
    with pytest.raises(ClipError, match="unknown class 'flying'"):
        explain(demo, clip, "flying")
    with pytest.raises(ClipError, match="unknown method 'magic'"):
        attribution(demo, clip, None, "magic")


def test_limits_and_deadlines(demo):
    demo = demo.at_frames(32)
    clip = load_clip(ROOT / "app" / "examples" / "growing.mp4", 32, demo.size, demo.resize)
    result = explain(demo, clip, None, "occlusion", limits=Limits())
    assert "patches instead of 6" in result.note and result.attribution.note == result.note
    deadline = Deadline(10.0)
    deadline.end = 0.0  # already passed
    with pytest.raises(RequestTimeout):
        attribution(demo, clip, None, "integrated_gradients", deadline=deadline)
    with pytest.raises(RequestTimeout):
        remove_frames(demo, clip, None, "grey", deadline)
