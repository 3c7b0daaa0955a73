"""The bL module of stages 1-3 on a clip stored as one map per frame pair (`PairStorage`).

`BLModule` (models/blnet.py) reads every frame: TAM over `T` frames, then the odd frames to
the big branch and the even ones to the little branch. After pair storage its input holds
one map per pair, and `FastBLModule` computes the same stage from it: the TAM reads each map
as the pair's two frames and gives the big and little branch's inputs directly (`PairTAM`,
exact); without TAM both branches read the pair's map. The branches and their local fusion
are the paper's (`BLModule.branches`).

With `FrameRouting(1)` (TSN-bLNet) the input is every frame and both branches read it.
"""

from __future__ import annotations

from torch import Tensor

from ..blnet import BLModule
from .tam import PairTAM

__all__ = ["FastBLModule"]


class FastBLModule(BLModule):
    """A bL stage on one map per pair: `(B*T/2, C_in, H, W)` -> `(B*T/2, C_out, H/s, W/s)`."""

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        if self.tam is None:
            big = little = x  # both frames of a pair hold the same map
        elif isinstance(self.tam, PairTAM):
            big, little = self.tam(x, num_frames)  # the odd and the even frames after TAM
        else:  # FrameRouting(1): every frame goes to both branches
            big = little = self.tam(x, num_frames)
        return self.branches(big, little)  # (N, C_out, H/s, W/s)
