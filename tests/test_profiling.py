"""blvnet_edu/profiling.py: the paper's efficiency table (Table 1), counted by torch's FLOP counter."""

import pytest
import torch

from blvnet_edu import build_model
from blvnet_edu.profiling import STAGES, count_parameters, profile_model


@pytest.mark.parametrize(
    "name,frames,params_m,gflops",
    [
        ("blvnet_tam_50", 16, 25.0, 23.8),
        ("blvnet_tam_50", 32, 25.0, 47.7),
        ("blvnet_tam_101", 16, 40.2, 32.1),
    ],
)
def test_paper_efficiency_table_within_one_percent(name, frames, params_m, gflops):
    profile = profile_model(build_model(name, num_frames=frames, num_classes=174), size=224)
    assert profile.params / 1e6 == pytest.approx(params_m, rel=0.01)
    assert profile.gflops == pytest.approx(gflops, rel=0.01)


def test_two_t_frames_cost_about_what_t_frames_cost_in_tsn():
    """The paper's headline: bLVNet-TAM on 16 frames is cheaper than TSN-ResNet-50 on 8."""
    blvnet = profile_model(build_model("blvnet_tam_50", num_frames=16), size=224).gflops
    tsn = profile_model(build_model("tsn_resnet50", num_frames=8), size=224).gflops
    assert tsn / 4.1 == pytest.approx(8, rel=0.02)  # ResNet-50: ~4.1 GFLOPs per frame
    assert blvnet < tsn


def test_fast_and_paper_paths_count_the_same_flops():
    fast = profile_model(build_model("blvnet_tam_tiny"), size=64)
    paper = profile_model(build_model("blvnet_tam_tiny", fast=False), size=64)
    assert fast.gflops == paper.gflops and fast.stages == paper.stages


def test_stage_table_shapes_and_flops_add_up():
    model = build_model("blvnet_tam_tiny", num_frames=8)
    profile = profile_model(model, size=64)
    rows = {r.name: r for r in profile.stages}
    assert [r.name for r in profile.stages] == list(STAGES)
    assert rows["conv1"].output_shape == (8, 16, 32, 32)  # every frame
    assert rows["layer0"].output_shape == (8, 16, 16, 16)  # the paper's stage output: every frame ...
    assert rows["layer0"].frames == 4  # ... holding one map per frame pair from here on
    assert rows["layer3"].frames == 4 and rows["layer4"].frames == 4
    assert rows["layer4"].output_shape == (4, 512, 2, 2)
    assert rows["fc"].output_shape == (1, 4, 10)
    assert sum(r.gflops for r in profile.stages) == pytest.approx(profile.gflops, rel=1e-6)
    assert profile.params == count_parameters(model)
    assert model.training  # profiling restores the mode


def test_profile_scales_with_batch_independently():
    model = build_model("tsn_resnet_tiny", num_frames=2)
    one = profile_model(model, size=64, batch_size=1).gflops
    assert profile_model(model, size=64, batch_size=3).gflops == pytest.approx(one)
    assert one > 0 and torch.is_grad_enabled()
