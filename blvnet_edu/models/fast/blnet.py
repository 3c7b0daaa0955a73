"""The bL module of stages 1-3 on a clip stored as one map per frame pair (`PairStorage`).

`BLModule` (models/blnet.py) reads every frame: TAM over `T` frames, then the odd frames to
the big branch and the even ones to the little branch. After pair storage its input holds
one map per pair, and `FastBLModule` computes the same stage from it: the TAM reads each map
as the pair's two frames and gives the big and little branch's inputs directly (`PairTAM`,
exact); without TAM both branches read the pair's map. The branches are the paper's
(`BLModule.branches`); at inference (no autograd) the local fusion adds the big branch's
output to the little branch's in place, through a broadcasting view, instead of an upsampled
copy and a new sum (`upsample_add_`; with autograd that is slower, docs/benchmarks/speed.md).

With `FrameRouting(1)` (TSN-bLNet) the input is every frame and both branches read it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..blnet import BLModule
from .tam import PairTAM

__all__ = ["FastBLModule", "upsample_add_"]


def upsample_add_(little: Tensor, big: Tensor) -> Tensor:
    """`little += nearest_upsample(big)`, in place: `(N, C, H, W)` += `(N, C, h, w)`.

    When `H, W = 2h, 2w` (the usual case) every big pixel is added to its 2x2 block of little
    pixels through a broadcasting view, with no upsampled copy of `big`; otherwise (odd sizes)
    `F.interpolate` does the upsampling."""
    (h, w), (height, width) = big.shape[-2:], little.shape[-2:]
    if (height, width) != (2 * h, 2 * w):
        return little.add_(F.interpolate(big, size=(height, width), mode="nearest"))
    blocks = little.unflatten(3, (w, 2)).unflatten(2, (h, 2))  # (N, C, h, 2, w, 2), a view
    blocks.add_(big[:, :, :, None, :, None])
    return little


class FastBLModule(BLModule):
    """A bL stage on one map per pair: `(B*T/2, C_in, H, W)` -> `(B*T/2, C_out, H/s, W/s)`."""

    inplace_fusion: bool = True  # at inference: benchmarks/speed.py switches it off to measure it

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        if self.tam is None:
            big = little = x  # both frames of a pair hold the same map
        elif isinstance(self.tam, PairTAM):
            big, little = self.tam(x, num_frames)  # the odd and the even frames after TAM
        else:  # FrameRouting(1): every frame goes to both branches
            big = little = self.tam(x, num_frames)
        return self.branches(big, little)  # (N, C_out, H/s, W/s)

    def local_fusion(self, big: Tensor, little: Tensor) -> Tensor:
        if torch.is_grad_enabled() or not self.inplace_fusion:
            return super().local_fusion(big, little)
        return self.relu(upsample_add_(little, big))  # in place: nothing else reads `little`
