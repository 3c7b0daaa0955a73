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
