"""Parameters and multiply-adds of a network, from its config alone (no module is built).

A checkpoint is a few kilobytes of config that can describe any network; building it, even on
the `meta` device, takes time in proportion to its blocks (100,000 blocks: minutes). These
counts walk the architecture of `blvnet.VideoNet` as arithmetic, so a config can be sized, and
refused, in microseconds:

    config_params(config)                       # == sum(p.numel() for p in VideoNet(config).parameters())
    config_gflops(config, size=224, num_frames=16)  # == profiling.profile_model(...).gflops

GFLOPs follow `profiling`'s (and the paper's) convention: billions of multiply-adds of the
convolutions and the classifier, per clip; element-wise work (BatchNorm, ReLU, pooling, TAM's
weighted sum) is not counted. Tests compare both counts with the built network for every family.
"""

from __future__ import annotations

from .blvnet import BLVNetConfig

__all__ = ["config_params", "config_gflops"]

EXPANSION = 4  # Bottleneck: output channels = 4 x width


def _out(size: int, stride: int) -> int:
    """Output side of a 3x3 (padding 1), 1x1 or 3x3-pool (padding 1) layer of this stride."""
    return (size - 1) // stride + 1


class _Counter:
    """Adds up parameters and multiply-adds (per clip) while walking the architecture."""

    def __init__(self, config: BLVNetConfig, size: int, num_frames: int) -> None:
        self.config = config
        self.size = size
        self.frames = num_frames
        self.params = 0
        self.macs = 0

    def conv(self, c_in: int, c_out: int, k: int, out_side: int, maps: int) -> None:
        """A bias-free k x k convolution, run on `maps` maps of `out_side`^2 outputs."""
        self.params += k * k * c_in * c_out
        self.macs += k * k * c_in * c_out * out_side * out_side * maps

    def bn(self, channels: int) -> None:
        self.params += 2 * channels

    def tam(self, channels: int) -> None:
        if self.config.temporal_module is not None:
            self.params += self.config.blending_frames * channels

    def bottleneck(
        self, c_in: int, c_out: int, stride: int, side: int, maps: int, shortcut: bool, tam: bool
    ) -> int:
        """One Bottleneck at input side `side`; returns the output side."""
        width = c_out // EXPANSION
        out = _out(side, stride)
        if tam:
            self.tam(c_in)
        self.conv(c_in, width, 1, side, maps)
        self.bn(width)
        self.conv(width, width, 3, out, maps)
        self.bn(width)
        self.conv(width, c_out, 1, out, maps)
        self.bn(c_out)
        if shortcut and (stride != 1 or c_in != c_out):  # the first block's projection
            if self.config.backbone == "resnet" or c_in != c_out:  # bLNet: avg-pool only if widths match
                self.conv(c_in, c_out, 1, out, maps)
                self.bn(c_out)
        return out

    def stage(
        self, c_in: int, c_out: int, blocks: int, stride: int, side: int, maps: int, tam: bool = False
    ) -> int:
        """`make_layer`: `blocks` Bottlenecks, the first strided; returns the output side.
        The blocks after the first are alike: one is counted, then multiplied (a config may
        declare a billion blocks)."""
        side = self.bottleneck(c_in, c_out, stride, side, maps, True, tam)
        if blocks > 1:
            params, macs = self.params, self.macs
            self.bottleneck(c_out, c_out, 1, side, maps, False, tam)
            self.params += (blocks - 2) * (self.params - params)
            self.macs += (blocks - 2) * (self.macs - macs)
        return side

    def bl_module(self, c_in: int, c_out: int, blocks: int, stride: int, side: int, maps: int) -> int:
        """`blnet.BLModule`: TAM, big branch (blocks - 1, stride 2), little branch (C / alpha,
        max(1, blocks // beta - 1) blocks), 1x1 back to C, fusion block of this stride."""
        c = self.config
        self.tam(c_in)
        self.stage(c_in, c_out, blocks - 1, 2, side, maps)
        little = c_out // c.alpha
        self.stage(c_in, little, max(1, blocks // c.beta - 1), 1, side, maps)
        self.conv(little, c_out, 1, side, maps)
        self.bn(c_out)
        return self.stage(c_out, c_out, 1, stride, side, maps)

    def count(self) -> None:
        c, t = self.config, self.frames
        pairs = c.backbone == "blresnet" and c.frame_routing == "pairs"
        per_branch = t // 2 if pairs else t  # maps each bL branch runs on
        stem, outs = c.widths[0], [EXPANSION * w for w in c.widths]
        side = _out(self.size, 2)  # conv1: 7x7, stride 2, padding 3
        self.conv(3, stem, 7, side, t)
        self.bn(stem)
        if c.backbone == "blresnet":
            self.tam(stem)  # bL layer 0
            little, half = stem // c.alpha, _out(side, 2)
            self.conv(stem, stem, 3, half, per_branch)  # big: strided 3x3
            self.bn(stem)
            self.conv(stem, little, 3, side, per_branch)  # little: 3x3, strided 3x3, 1x1
            self.bn(little)
            self.conv(little, little, 3, half, per_branch)
            self.bn(little)
            self.conv(little, stem, 1, half, per_branch)
            self.bn(stem)
            self.conv(stem, stem, 1, half, per_branch)  # bl_init
            self.bn(stem)
            side = half
            side = self.bl_module(stem, outs[0], c.layers[0], 2, side, per_branch)
            side = self.bl_module(outs[0], outs[1], c.layers[1], 2, side, per_branch)
            side = self.bl_module(outs[1], outs[2], c.layers[2], 1, side, per_branch)
        else:  # torchvision's ResNet: max pooling, then stages of stride 1, 2, 2
            side = _out(side, 2)
            side = self.stage(stem, outs[0], c.layers[0], 1, side, t)
            side = self.stage(outs[0], outs[1], c.layers[1], 2, side, t)
            side = self.stage(outs[1], outs[2], c.layers[2], 2, side, t)
        t_out = t // 2 if pairs else t
        tam4 = c.temporal_module is not None
        self.stage(outs[2], outs[3], c.layers[3], 2, side, t_out, tam=tam4)
        self.params += outs[3] * c.num_classes + c.num_classes  # fc
        self.macs += outs[3] * c.num_classes * t_out


def config_params(config: BLVNetConfig) -> int:
    """Parameters of `VideoNet(config)`, counted without building it."""
    counter = _Counter(config, 224, config.num_frames)
    counter.count()
    return counter.params


def config_gflops(config: BLVNetConfig, size: int = 224, num_frames: int | None = None) -> float:
    """Billions of multiply-adds of one clip of `num_frames` frames (default the config's) of
    `size` x `size` pixels, counted without building the network."""
    counter = _Counter(config, size, num_frames or config.num_frames)
    counter.count()
    return counter.macs / 1e9
