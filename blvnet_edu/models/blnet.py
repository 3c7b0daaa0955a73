"""Big-Little stages: bL layer 0 and the bL module of stages 1-3 (paper, Sec. 3.1, Fig. 3).

A bL module has two branches over the same stage:

    x ─ TAM ─┬─ big:    (blocks - 1) Bottlenecks, first one stride 2 ──── upsample ─┐
             │          (deep, at half resolution)                                 (+) ─ ReLU ─ fusion block ─ merge
             └─ little: max(1, blocks // beta - 1) Bottlenecks, C / alpha ─ 1x1 ──┘
                        (light, at full resolution)

- `alpha` divides the little branch's channels, `beta` its depth.
- The big output is upsampled (nearest) to the little resolution and the two are added.
  With bLVNet's `PairRouting` the big branch sees the odd frame and the little branch the
  even frame of each pair, so this addition *is* the local fusion of a pair; the fusion
  Bottleneck then applies the stage's stride, and the result stands for both frames.
- With `FrameRouting` both branches see the same frame: this is the image Big-Little Net.
- TAM (or nothing) runs on the stage input, over all `T` frames (paper Fig. 3); with pair
  routing the input holds one map per pair and TAM reads it as two frames.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import TemporalFactory, make_layer
from .temporal import Routing

__all__ = ["BLLayer0", "BLModule", "upsample_add_"]


def upsample_add_(little: Tensor, big: Tensor) -> Tensor:
    """`little += nearest_upsample(big)`, in place: `(N, C, H, W)` += `(N, C, h, w)`.

    When `H, W = 2h, 2w` (the usual case) every big pixel is added to its 2x2 block of
    little pixels through a broadcasting view, with no upsampled copy of `big`; otherwise
    (odd sizes) `F.interpolate` does the upsampling. `little` must not be needed by autograd
    as it was (here it is a BatchNorm output, which its backward does not use).
    """
    (h, w), (height, width) = big.shape[-2:], little.shape[-2:]
    if (height, width) != (2 * h, 2 * w):
        return little.add_(F.interpolate(big, size=(height, width), mode="nearest"))
    blocks = little.unflatten(3, (w, 2)).unflatten(2, (h, 2))  # (N, C, h, 2, w, 2), a view
    blocks.add_(big[:, :, :, None, :, None])
    return little


class BLLayer0(nn.Module):
    """bL layer 0, after the stem: `(B*T, C, H, W)` frames -> `(N, C, H/2, W/2)`, N = B*T/2
    fused pairs (pair routing) or B*T frames (frame routing).

    Big: one strided 3x3 conv. Little: 3x3 conv (C/alpha), strided 3x3 conv, 1x1 back to C.
    The sum goes through a 1x1 conv (`bl_init`). Names follow the authors' checkpoints.
    """

    def __init__(
        self,
        channels: int,
        alpha: int,
        routing: Routing,
        temporal: TemporalFactory | None = None,
    ) -> None:
        super().__init__()
        little = channels // alpha
        self.routing = routing
        self.tam = temporal(channels) if temporal is not None else None
        self.b_conv0 = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn_b0 = nn.BatchNorm2d(channels)
        self.l_conv0 = nn.Conv2d(channels, little, kernel_size=3, padding=1, bias=False)
        self.bn_l0 = nn.BatchNorm2d(little)
        self.l_conv1 = nn.Conv2d(little, little, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn_l1 = nn.BatchNorm2d(little)
        self.l_conv2 = nn.Conv2d(little, channels, kernel_size=1, bias=False)
        self.bn_l2 = nn.BatchNorm2d(channels)
        self.bl_init = nn.Conv2d(channels, channels, kernel_size=1, bias=False)
        self.bn_bl_init = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.tam is not None:
            x = self.tam(x)
        big, little = self.routing.route_frames(x)  # (N, C, H, W) each, N = B*T/2 for pairs
        big = self.bn_b0(self.b_conv0(big))  # (N, C, H/2, W/2)
        little = self.relu(self.bn_l0(self.l_conv0(little)))  # (N, C/alpha, H, W)
        little = self.relu(self.bn_l1(self.l_conv1(little)))  # (N, C/alpha, H/2, W/2)
        little = self.bn_l2(self.l_conv2(little))  # (N, C, H/2, W/2)
        fused = self.relu(little.add_(big))  # in place: BatchNorm outputs are not kept for backward
        fused = self.relu(self.bn_bl_init(self.bl_init(fused)))  # (N, C, H/2, W/2)
        return self.routing.fuse(fused)  # (N, C, H/2, W/2): one map per pair


class BLModule(nn.Module):
    """A bL stage: `(N, C_in, H, W)` -> `(N, C_out, H/stride, W/stride)`, N = B*T/2 pairs or B*T frames."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        blocks: int,
        alpha: int,
        beta: int,
        stride: int,
        routing: Routing,
        temporal: TemporalFactory | None = None,
    ) -> None:
        super().__init__()
        if blocks < 2:
            raise ValueError(f"a bL stage needs at least 2 blocks (big gets blocks - 1), got {blocks}")
        self.routing = routing
        self.tam = temporal(in_channels) if temporal is not None else None
        # big: deep, at half resolution; no final ReLU, the sum with little comes first.
        self.big = make_layer(in_channels, out_channels, blocks - 1, stride=2, last_relu=False)
        # little: C / alpha channels, fewer blocks, full resolution; 1x1 conv back to C.
        self.little = make_layer(in_channels, out_channels // alpha, max(1, blocks // beta - 1))
        self.little_e = nn.Sequential(
            nn.Conv2d(out_channels // alpha, out_channels, kernel_size=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.fusion = make_layer(out_channels, out_channels, 1, stride=stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        big, little = self.routing.route_stage(x, self.tam)  # TAM over all T frames, then routed
        big = self.big(big)  # (N, C_out, H/2, W/2)
        little = self.little_e(self.little(little))  # (N, C_out, H, W)
        fused = self.relu(upsample_add_(little, big))  # (N, C_out, H, W)
        return self.routing.fuse(self.fusion(fused))  # (N, C_out, H/stride, W/stride)

