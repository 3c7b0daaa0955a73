"""ResNet building blocks shared by every network here: the Bottleneck and a stage of them.

The Bottleneck is ResNet's (He et al., 2016) with two additions used by bLVNet-TAM:

- `last_relu=False` leaves out the final ReLU: Big-Little Net does this on the last block of
  the big branch because its output is added to the little branch first (bLNet, Sec. 3.1).
- an optional temporal module (`TAM` in stage 4, paper Fig. 3) applied to the block input.
  As in the authors' network, the shortcut keeps the block input except in the first block
  of a stage, whose projection shortcut (`downsample`) sees the temporally aggregated input.
  A block takes the clip length with its frames, `block(x, num_frames)`, for its TAM.

A `Stage` is a run of Bottlenecks (torchvision's `layer1`..`layer4`) that hands the clip
length to each block; `FramePool` is torchvision's max pooling after the stem, called like
a stage (TSN's stage 0).

Two shortcut styles, passed as a part (`downsample_fn`):

- `resnet_downsample` (torchvision): a strided 1x1 convolution and BatchNorm.
- `blnet_downsample` (Big-Little Net): 3x3 average pooling with stride 2, then a 1x1
  convolution and BatchNorm only where the channel count changes.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

__all__ = [
    "Bottleneck",
    "Stage",
    "FramePool",
    "TemporalFactory",
    "DownsampleFn",
    "resnet_downsample",
    "blnet_downsample",
    "make_layer",
]

# Builds the temporal module for a block input with the given number of channels.
TemporalFactory = Callable[[int], nn.Module]
DownsampleFn = Callable[[int, int, int], "nn.Module | None"]


class Bottleneck(nn.Module):
    """1x1 reduce -> 3x3 (strided) -> 1x1 expand, plus shortcut:
    `(N, C_in, H, W)` -> `(N, C_out, H/s, W/s)`."""

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        last_relu: bool = True,
        tam: nn.Module | None = None,
    ) -> None:
        super().__init__()
        width = out_channels // self.expansion
        self.tam = tam
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.last_relu = last_relu

    def forward(self, x: Tensor, num_frames: int | None = None) -> Tensor:
        """`(N, C_in, H, W)` frames -> `(N, C_out, H/s, W/s)`; `num_frames`, the clip length,
        is needed only by a block with a TAM (`N = B * num_frames`)."""
        identity = x
        if self.tam is not None:
            if num_frames is None:
                raise ValueError("a Bottleneck with a TAM needs the clip length: block(x, num_frames)")
            x = self.tam(x, num_frames)  # (N, C_in, H, W), frames mixed along time
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))  # (N, width, H/s, W/s)
        out = self.bn3(self.conv3(out))  # (N, C_out, H/s, W/s)
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity  # in place: bn3's output is not needed by its backward
        return self.relu(out) if self.last_relu else out


class Stage(nn.Sequential):
    """Bottlenecks in a row: `(N, C_in, H, W)` -> `(N, C_out, H/s, W/s)`, the clip length
    handed to every block (for their TAMs). Named `0`, `1`, ... as in torchvision."""

    def forward(self, x: Tensor, num_frames: int | None = None) -> Tensor:
        for block in self:
            x = block(x, num_frames)
        return x


class FramePool(nn.MaxPool2d):
    """torchvision ResNet's 3x3 max pooling after the stem, called like a stage: `num_frames`
    is not used (TSN's frames never meet)."""

    def __init__(self) -> None:
        super().__init__(kernel_size=3, stride=2, padding=1)

    def forward(self, x: Tensor, num_frames: int | None = None) -> Tensor:
        return super().forward(x)


def resnet_downsample(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """torchvision's projection shortcut: strided 1x1 conv + BN, where shapes change."""
    if stride == 1 and in_channels == out_channels:
        return None
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


def blnet_downsample(in_channels: int, out_channels: int, stride: int) -> nn.Module | None:
    """Big-Little Net's shortcut: avg-pool for the stride, 1x1 conv + BN for the channels."""
    layers: list[nn.Module] = []
    if stride != 1:
        layers.append(nn.AvgPool2d(3, stride=2, padding=1))
    if in_channels != out_channels:
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False))
        layers.append(nn.BatchNorm2d(out_channels))
    return nn.Sequential(*layers) if layers else None


def make_layer(
    in_channels: int,
    out_channels: int,
    blocks: int,
    stride: int = 1,
    downsample_fn: DownsampleFn = blnet_downsample,
    last_relu: bool = True,
    temporal: TemporalFactory | None = None,
) -> Stage:
    """A stage of `blocks` Bottlenecks; the first one strides and changes the width.

    `last_relu` applies to the last block of a stage of two or more blocks only: the
    authors' Big-Little Net keeps the ReLU of a single-block branch, and so do we, so that
    their checkpoints give their outputs.
    """
    if blocks < 1:
        raise ValueError(f"a stage needs at least one block, got {blocks}")
    layers = []
    for i in range(blocks):
        first = i == 0
        channels_in = in_channels if first else out_channels
        layers.append(
            Bottleneck(
                channels_in,
                out_channels,
                stride=stride if first else 1,
                downsample=downsample_fn(in_channels, out_channels, stride) if first else None,
                last_relu=last_relu if (blocks > 1 and i == blocks - 1) else True,
                tam=temporal(channels_in) if temporal is not None else None,
            )
        )
    return Stage(*layers)
