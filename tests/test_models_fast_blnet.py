"""blvnet_edu/models/fast/blnet.py: `FastBLModule` on one map per pair equals `BLModule` on the copies."""

import pytest
import torch
from conftest import randomize_

from blvnet_edu.models import TAM, BLModule
from blvnet_edu.models.fast import FastBLModule, PairTAM
from blvnet_edu.models.temporal import PAIRS


@pytest.mark.parametrize("with_tam", [True, False])
def test_a_stage_on_pairs_equals_the_papers_stage_on_the_copies(with_tam):
    temporal = (lambda c: TAM(c, blending_frames=5)) if with_tam else None
    stage = randomize_(BLModule(16, 64, 3, 2, 2, 2, PAIRS, temporal)).double().eval()
    pairs = torch.rand(2 * 4, 16, 8, 8, dtype=torch.float64)  # (B*T/2, C, H, W), B = 2, T = 8
    with torch.no_grad():
        expected = stage(PAIRS.merge(pairs), 8)  # the paper: every frame, each pair's map copied
        stage.__class__ = FastBLModule
        if with_tam:
            stage.tam.__class__ = PairTAM
        torch.testing.assert_close(stage(pairs, 8), expected, rtol=1e-10, atol=1e-12)


def test_upsample_add_equals_nearest_interpolation_plus_add_in_both_layouts():
    import torch.nn.functional as F

    from blvnet_edu.models.fast import upsample_add_

    for little_hw, big_hw in (
        ((10, 8), (5, 4)),
        ((7, 9), (4, 5)),
    ):  # even: broadcasting view; odd: interpolate
        for memory_format in (torch.contiguous_format, torch.channels_last):
            little = torch.randn(3, 6, *little_hw).to(memory_format=memory_format)
            big = torch.randn(3, 6, *big_hw).to(memory_format=memory_format)
            expected = little + F.interpolate(big, size=little_hw, mode="nearest")
            out = upsample_add_(little, big)
            assert out is little and torch.equal(out, expected)


def test_the_in_place_fusion_runs_at_inference_only():
    stage = randomize_(BLModule(16, 64, 2, 2, 4, 2, PAIRS)).eval()
    stage.__class__ = FastBLModule
    big, little = torch.rand(4, 64, 4, 4), torch.rand(4, 64, 8, 8)
    expected = BLModule.local_fusion(stage, big, little.clone())
    with torch.no_grad():
        kept = little.clone()
        assert stage.local_fusion(big, kept).data_ptr() == kept.data_ptr()  # written over `little`
    torch.testing.assert_close(kept, expected)
    leaf = little.clone().requires_grad_()
    assert stage.local_fusion(big, leaf).data_ptr() != leaf.data_ptr()  # with autograd: the paper's
