"""blvnet_edu/model_card.py: a loaded model's cost, card and demo notice."""

import pytest

from blvnet_edu.inference import load_predictor
from blvnet_edu.model_card import cost, demo_notice, model_card
from blvnet_edu.models.blvnet import VideoNet
from blvnet_edu.profiling import profile_model


def test_model_card(checkpoint):
    card = model_card(load_predictor(checkpoint))
    assert "blvnet_tam_tiny" in card and "GFLOPs" in card and "10 classes" in card


def test_the_cost_is_the_built_networks(checkpoint):
    """Counted from the config by arithmetic (models.cost), it is what a forward pass of the
    network measures (a fresh one: the predictor's has its BatchNorms folded)."""
    predictor = load_predictor(checkpoint)
    profile = profile_model(VideoNet(predictor.model.config), size=48, num_frames=predictor.num_frames)
    assert cost(predictor.model.config, 48) == (profile.params, pytest.approx(profile.gflops, rel=1e-12))


def test_the_demo_notice_names_the_classes_it_knows(checkpoint):
    notice = demo_notice(load_predictor(checkpoint))
    assert "knows only the 10 classes" in notice and "class 0, class 1, class 2, ..." in notice
    assert "--labels ssv1|ssv2|kinetics400" in notice


def test_the_cost_follows_the_clip_length(checkpoint):
    """T is an input: a 32-frame clip costs four times an 8-frame clip, on the same model."""
    predictor = load_predictor(checkpoint)
    eight, thirty_two = cost(predictor.model.config, 48)[1], cost(predictor.model.config, 48, 32)[1]
    assert thirty_two == pytest.approx(4 * eight, rel=1e-6)
    assert "32 frames at 48x48" in model_card(predictor.at_frames(32))
