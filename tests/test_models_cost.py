"""blvnet_edu/models/cost.py: parameters and GFLOPs by arithmetic equal the built network's."""

import dataclasses

import pytest

from blvnet_edu.models import cost
from blvnet_edu.models.blvnet import PRESETS, VideoNet
from blvnet_edu.models.cost import config_gflops, config_params
from blvnet_edu.profiling import PAPER_COST, profile_model

TINY = PRESETS["blvnet_tam_tiny"]
CONFIGS = {
    **{
        name: PRESETS[name]
        for name in ("blvnet_tam_tiny", "blvnet_tiny", "tsn_blresnet_tiny", "tsn_resnet_tiny")
    },
    "alpha 4, beta 1, width 5, 3-2-4-2 blocks": dataclasses.replace(
        TINY, alpha=4, beta=1, blending_frames=5, layers=(3, 2, 4, 2)
    ),
    "tsn_resnet, 1-1-1-1 blocks, 7 classes": dataclasses.replace(
        PRESETS["tsn_resnet_tiny"], layers=(1, 1, 1, 1), num_classes=7
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("size, frames", [(64, 8), (100, 6), (161, 4)])
def test_the_counts_equal_the_built_network(name, size, frames):
    """Odd sizes (100, 161) exercise every rounding of a strided layer."""
    config = CONFIGS[name]
    model = VideoNet(config)
    assert config_params(config) == sum(p.numel() for p in model.parameters())
    assert config_gflops(config, size, frames) == pytest.approx(
        profile_model(model, size=size, num_frames=frames).gflops, rel=1e-12
    )


@pytest.mark.parametrize(
    "name, frames", [("blvnet_tam_50", 16), ("blvnet_tam_101", 16), ("blvnet_tam_50", 32)]
)
def test_the_paper_models_cost_what_table_1_says(name, frames):
    params_m, gflops = PAPER_COST[(name, frames)]
    assert config_params(PRESETS[name]) / 1e6 == pytest.approx(params_m, rel=0.01)
    assert config_gflops(PRESETS[name], 224, frames) == pytest.approx(gflops, rel=0.01)


def test_a_billion_blocks_are_counted_as_two(monkeypatch):
    """Blocks after the first of a stage are alike: one is counted and multiplied, so a config
    declaring a billion blocks costs no more to size than a small one."""
    counted = []
    real = cost._Counter.bottleneck
    monkeypatch.setattr(cost._Counter, "bottleneck", lambda self, *a: counted.append(a) or real(self, *a))
    huge = dataclasses.replace(TINY, layers=(2, 2, 2, 10**9))
    one_more = dataclasses.replace(TINY, layers=(2, 2, 2, 10**9 + 1))
    block = config_params(one_more) - config_params(huge)
    assert len(counted) < 2 * 30  # both configs: a few dozen Bottlenecks counted, not 2 x 10^9
    # stage 4's Bottleneck: 4*128 -> 128 -> 128 -> 4*128, its BatchNorms, a TAM of width 3
    assert block == 512 * 128 + 9 * 128 * 128 + 128 * 512 + 2 * (128 + 128 + 512) + 3 * 512
