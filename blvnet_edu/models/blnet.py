"""Big-Little stages: bL layer 0 and the bL module of stages 1-3 (paper, Sec. 3.1, Fig. 3).

A bL module has two branches over the same stage:

    frames ─ TAM ─ split ─┬─ big:    (blocks - 1) Bottlenecks, 1st stride 2 ─ upsample ─┐
    (B*T)                 │          (deep, half resolution, odd frames)               (+) ─ ReLU ─ fusion
                          └─ little: max(1, blocks // beta - 1) Bottlenecks ─ 1x1 ─────┘      = maps (B*T/2)
                                     (C / alpha, full resolution, even frames)

- `alpha` divides the little branch's channels, `beta` its depth.
- The big output is upsampled (nearest) to the little resolution and the two are added.
  With bLVNet's routing (`FrameRouting(2)`) the big branch sees the odd frame and the little
  branch the even frame of each pair, so this addition *is* the local fusion of a pair; the
  fusion Bottleneck then applies the stage's stride. A stage returns one fused map per pair;
  the network (`VideoNet`) copies it back to both frames (`FrameRouting.merge`).
- With `FrameRouting(1)` both branches see the same frame: this is the image Big-Little Net.
- TAM (or nothing) runs on the stage input, over all `T` frames (paper Fig. 3); the clip
  length comes with the frames, `stage(x, num_frames)`.

The stages take every frame, `(B*T, C, H, W)`, as the paper describes them;
`fast/blnet.py` runs the same stages on one map per pair.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .blocks import TemporalFactory, make_layer
from .temporal import FrameRouting

__all__ = ["BLLayer0", "BLModule"]


class BLLayer0(nn.Module):
    """bL layer 0, after the stem: `(B*T, C, H, W)` frames -> `(B*T/g, C, H/2, W/2)`, one
    fused map per group of `g` frames (a pair for bLVNet).

    Big: one strided 3x3 conv. Little: 3x3 conv (C/alpha), strided 3x3 conv, 1x1 back to C.
    The sum goes through a 1x1 conv (`bl_init`). Names follow the authors' checkpoints.
    """

    def __init__(
        self,
        channels: int,
        alpha: int,
        routing: FrameRouting,
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

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        if self.tam is not None:
            x = self.tam(x, num_frames)  # (B*T, C, H, W), each frame mixed with its neighbours
        big, little = self.routing.split(x)  # (N, C, H, W) each; N = B*T/2 for pairs
        big = self.bn_b0(self.b_conv0(big))  # (N, C, H/2, W/2)
        little = self.relu(self.bn_l0(self.l_conv0(little)))  # (N, C/alpha, H, W)
        little = self.relu(self.bn_l1(self.l_conv1(little)))  # (N, C/alpha, H/2, W/2)
        little = self.bn_l2(self.l_conv2(little))  # (N, C, H/2, W/2)
        fused = self.relu(big + little)  # local fusion of each pair
        return self.relu(self.bn_bl_init(self.bl_init(fused)))  # (N, C, H/2, W/2): one map per pair


class BLModule(nn.Module):
    """A bL stage: `(B*T, C_in, H, W)` frames -> `(B*T/g, C_out, H/stride, W/stride)`, one
    fused map per group of `g` frames (a pair for bLVNet)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        blocks: int,
        alpha: int,
        beta: int,
        stride: int,
        routing: FrameRouting,
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

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        if self.tam is not None:
            x = self.tam(x, num_frames)  # (B*T, C_in, H, W), each frame mixed with its neighbours
        big, little = self.routing.split(x)  # (N, C_in, H, W) each; N = B*T/2 for pairs
        return self.branches(big, little)  # (N, C_out, H/stride, W/stride): one map per pair

    def branches(self, big: Tensor, little: Tensor) -> Tensor:
        """The two branches on their frames, `(N, C_in, H, W)` each, and the local fusion of
        each pair: `(N, C_out, H/stride, W/stride)`."""
        big = self.big(big)  # (N, C_out, H/2, W/2)
        little = self.little_e(self.little(little))  # (N, C_out, H, W)
        return self.fusion(self.local_fusion(big, little))  # (N, C_out, H/stride, W/stride)

    def local_fusion(self, big: Tensor, little: Tensor) -> Tensor:
        """`ReLU(upsample(big) + little)`: `(N, C, H/2, W/2)` and `(N, C, H, W)` -> `(N, C, H, W)`,
        with bLVNet's routing the fusion of the two frames of each pair."""
        big = F.interpolate(big, size=little.shape[-2:], mode="nearest")  # (N, C, H, W)
        return self.relu(big + little)
