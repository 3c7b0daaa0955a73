"""bLVNet-TAM and its baselines as one skeleton with interchangeable parts (paper, Sec. 3, Fig. 1).

    video (B, T, 3, H, W) ── fold time ──> frames (B*T, 3, H, W)
      stem                 conv1, bn1, relu
      layer0 .. layer3     bL stages: [TAM] on the input, big/little branches, local fusion
                           of each frame pair (B*T/2, C, h, w); merge: copied back to both
                           frames (B*T, C, h, w)
      select               stage 4 runs on one frame per pair (B*T/2, C, h, w)
      layer4               Bottlenecks with [TAM] in every block (global fusion)
      pool, dropout, fc    per-frame logits (B, T/2, K)
      mean over frames     (B, K)

Three parts decide which network of the paper's Figure 1 this is:

| preset            | backbone   | frame routing | temporal module |
|-------------------|------------|---------------|-----------------|
| `tsn_resnet50`    | `resnet`   | `frames`      | none            |
| `tsn_blresnet50`  | `blresnet` | `frames`      | none            |
| `blvnet_50`       | `blresnet` | `pairs`       | none            |
| `blvnet_tam_50`   | `blresnet` | `pairs`       | `tam`           |

With `pairs` routing each bL stage fuses adjacent frames and stage 4 sees one frame per pair,
so 2T frames cost about what T frames cost in TSN. The `_tiny` presets keep the
architecture with fewer blocks and narrower widths, for CPUs, tests and notebooks.

The clip length is an input: `T` is read from the video and handed to every stage, so one
built model runs any even number of frames; `config.num_frames` is the clip length the
model was trained on, what preprocessing samples by default. Building a model does no I/O:
weights are loaded by `checkpoints.py`.

`VideoNet(config, fast=False)` holds the paper's modules; with `fast=True` (the default,
also of `build_model`) some of them are then swapped for the fast ones of `fast/` (`FastTAM`, `PairStorage`,
`FastBLModule`, `PairTAM`): subclasses with the same parameters, the same function (a test
proves it, outputs and gradients) and a faster `forward`. `print(model)` shows which run;
`model.fast = False` swaps them back. `forward_intermediates` gives the paper's tensors at
each stage on both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from torch import Tensor, nn

from .blnet import BLLayer0, BLModule
from .blocks import Bottleneck, FramePool, blnet_downsample, make_layer, resnet_downsample
from .fast.convert import is_fast, to_fast, to_paper
from .tam import TAM, TAM_INITS
from .temporal import FrameRouting, fold_time, unfold_time

__all__ = [
    "BLVNetConfig",
    "VideoNet",
    "FeatureMaps",
    "STAGES",
    "PRESETS",
    "preset_config",
    "build_model",
    "list_models",
]

MIN_INPUT_SIZE = 32  # the network's total stride: stage 4 needs at least one pixel
STAGES = ("stem", "layer0", "layer1", "layer2", "layer3", "layer4")  # `forward_intermediates` points


@dataclass(frozen=True)
class BLVNetConfig:
    """Everything that defines a network; saved inside checkpoints and next to results."""

    name: str = "blvnet_tam_50"
    layers: tuple[int, int, int, int] = (3, 4, 6, 3)  # Bottlenecks per stage (ResNet-50)
    widths: tuple[int, int, int, int] = (64, 128, 256, 512)  # stage i outputs 4 * widths[i]
    alpha: int = 2  # little branch has channels / alpha
    beta: int = 4  # little branch has max(1, blocks // beta - 1) blocks
    num_frames: int = 16  # the clip length it is trained on, T = 2 x pairs ("8x2"); any even T runs
    blending_frames: int = 3  # TAM width 2k+1
    num_classes: int = 174  # Something-Something V1
    dropout: float = 0.5
    backbone: Literal["blresnet", "resnet"] = "blresnet"
    frame_routing: Literal["pairs", "frames"] = "pairs"
    temporal_module: Literal["tam"] | None = "tam"
    tam_init: Literal["kaiming", "identity"] = "kaiming"  # the authors' N(0, 2/C); see TAM

    def __post_init__(self) -> None:
        self._check_types()
        problems = []
        if self.backbone not in ("blresnet", "resnet"):
            problems.append(f"backbone must be 'blresnet' or 'resnet', got {self.backbone!r}")
        if self.frame_routing not in ("pairs", "frames"):
            problems.append(f"frame_routing must be 'pairs' or 'frames', got {self.frame_routing!r}")
        if self.temporal_module not in ("tam", None):
            problems.append(f"temporal_module must be 'tam' or None, got {self.temporal_module!r}")
        if self.backbone == "resnet" and (self.frame_routing != "frames" or self.temporal_module):
            problems.append("the plain 'resnet' backbone is TSN: frame_routing='frames', no temporal module")
        if self.num_frames < 1 or (self.frame_routing == "pairs" and self.num_frames % 2):
            problems.append(
                f"pair routing needs an even number of frames >= 2, got num_frames={self.num_frames}"
            )
        if self.tam_init not in TAM_INITS:
            problems.append(f"tam_init must be one of {TAM_INITS}, got {self.tam_init!r}")
        if self.blending_frames < 1 or self.blending_frames % 2 == 0:
            problems.append(f"blending_frames must be odd (3, 5, 7, ...), got {self.blending_frames}")
        if len(self.layers) != 4 or min(self.layers) < 1:
            problems.append(f"layers must be 4 positive block counts, got {self.layers}")
        elif self.backbone == "blresnet" and min(self.layers[:3]) < 2:
            problems.append(f"bL stages need >= 2 blocks each (big gets blocks - 1), got {self.layers}")
        if len(self.widths) != 4 or any(w % self.alpha for w in self.widths) or self.alpha < 1:
            problems.append(f"widths {self.widths} must be 4 values divisible by alpha={self.alpha}")
        if self.beta < 1:
            problems.append(f"beta must be >= 1, got {self.beta}")
        if self.num_classes < 1:
            problems.append(f"num_classes must be >= 1, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    def _check_types(self) -> None:
        """Each field's type, before any range check (a config may come from a file or a
        command line: `num_frames="x"` or `widths=None` is refused here, not as a Python error)."""

        def whole(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        problems = []
        for name in ("alpha", "beta", "num_frames", "blending_frames", "num_classes"):
            if not whole(getattr(self, name)):
                problems.append(f"{name} must be a whole number, got {getattr(self, name)!r}")
        for name in ("layers", "widths"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(whole(v) for v in value):
                problems.append(f"{name} must be 4 whole numbers, got {value!r}")
        if not isinstance(self.dropout, (int, float)) or isinstance(self.dropout, bool):
            problems.append(f"dropout must be a number, got {self.dropout!r}")
        if not isinstance(self.name, str):
            problems.append(f"name must be a string, got {self.name!r}")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists), for checkpoints and result folders."""
        d = dataclasses.asdict(self)
        d["layers"], d["widths"] = list(self.layers), list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BLVNetConfig:
        """The inverse of `to_dict`; raises `ValueError` naming unknown or invalid fields.

        Fields missing from `d` take their defaults (configs saved before a field existed)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a model config must be a mapping of fields, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown model config field(s) {unknown}; known: {sorted(known)}")
        values = dict(d)
        for key in ("layers", "widths"):
            if isinstance(values.get(key), (list, tuple)):
                values[key] = tuple(values[key])
        return cls(**values)

    @property
    def output_frames(self) -> int:
        """Frames of a `num_frames` clip that reach stage 4 and the classifier: one per pair
        with pair routing."""
        return self.num_frames // 2 if self.frame_routing == "pairs" else self.num_frames


@dataclass(frozen=True)
class FeatureMaps:
    """The network's tensor at one point, for a batch of clips: `maps` `(B, M, C, h, w)`,
    where map `m` stands for frames `m * frames_per_map` to `(m + 1) * frames_per_map - 1`
    of the clip (2 after bLVNet's local fusion: one map per pair)."""

    maps: Tensor
    frames_per_map: int

    def per_frame(self) -> Tensor:
        """`(B, T, C, h, w)`: each map repeated for every frame it stands for."""
        return self.maps.repeat_interleave(self.frames_per_map, dim=1)


class VideoNet(nn.Module):
    """A 2D-CNN video classifier: `(B, T, 3, H, W)` float frames -> `(B, num_classes)` logits.

    Args:
        config: the architecture.
        fast: build the paper's modules, then swap in the fast ones of `models/fast/`
            (`fast.to_fast`); the `fast` attribute switches between the two later.
    """

    def __init__(self, config: BLVNetConfig, fast: bool = True) -> None:
        super().__init__()
        self.config = config
        c = config
        stem, stage_out = c.widths[0], [4 * w for w in c.widths]
        pairs = c.backbone == "blresnet" and c.frame_routing == "pairs"
        self.routing = routing = FrameRouting(2 if pairs else 1)
        temporal = None
        if c.temporal_module is not None:
            temporal = partial(TAM, blending_frames=c.blending_frames, init=c.tam_init)

        # the input frames' memory layout: as they come (fast: channels_last on CPU)
        self.layout = nn.Identity()
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.relu = nn.ReLU(inplace=True)
        if c.backbone == "blresnet":  # TAM at the input of bL layer 0 and stages 1-3
            self.layer0 = BLLayer0(stem, c.alpha, routing, temporal)
            self.layer1 = BLModule(stem, stage_out[0], c.layers[0], c.alpha, c.beta, 2, routing, temporal)
            self.layer2 = BLModule(
                stage_out[0], stage_out[1], c.layers[1], c.alpha, c.beta, 2, routing, temporal
            )
            self.layer3 = BLModule(
                stage_out[1], stage_out[2], c.layers[2], c.alpha, c.beta, 1, routing, temporal
            )
            downsample_fn = blnet_downsample
        else:  # torchvision's ResNet
            self.layer0 = FramePool()
            self.layer1 = make_layer(stem, stage_out[0], c.layers[0], 1, resnet_downsample)
            self.layer2 = make_layer(stage_out[0], stage_out[1], c.layers[1], 2, resnet_downsample)
            self.layer3 = make_layer(stage_out[1], stage_out[2], c.layers[2], 2, resnet_downsample)
            downsample_fn = resnet_downsample
        # Global fusion: TAM in every stage-4 block, over the T/2 frames that are left.
        self.layer4 = make_layer(stage_out[2], stage_out[3], c.layers[3], 2, downsample_fn, temporal=temporal)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(c.dropout)
        self.fc = nn.Linear(stage_out[3], c.num_classes)
        self.reset_parameters()
        if fast:
            to_fast(self)

    @property
    def fast(self) -> bool:
        """Whether the fast modules of `models/fast/` run; set it to switch (in place)."""
        return is_fast(self)

    @fast.setter
    def fast(self, value: bool) -> None:
        to_fast(self) if value else to_paper(self)

    def reset_parameters(self) -> None:
        """The authors' initialisation (each TAM as `config.tam_init` says, see `TAM`)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)  # each residual block starts as the identity
        nn.init.normal_(self.fc.weight, 0.0, 0.001)
        nn.init.zeros_(self.fc.bias)
        for m in self.modules():
            if isinstance(m, TAM):
                m.reset_parameters()

    def output_frames(self, num_frames: int) -> int:
        """Maps per clip of `num_frames` frames that reach stage 4 and the classifier."""
        return num_frames // self.routing.group_size

    def check_input(self, video: Tensor) -> None:
        """Raise a `ValueError` that says what was expected if `video` does not fit."""
        pairs = self.routing.group_size == 2
        frames = "an even number T >= 2 of" if pairs else "T >= 1"
        expected = f"(B, T, 3, H, W) float frames, {frames} frames, H and W >= {MIN_INPUT_SIZE}"
        if video.ndim != 5:
            raise ValueError(f"expected {expected}; got a tensor of shape {tuple(video.shape)}")
        _, t, channels, h, w = video.shape
        if t < 1 or (pairs and t % 2):
            raise ValueError(
                f"bLVNet takes frames in pairs, so T must be even; got T={t} (expected {expected})"
            )
        if channels != 3:
            raise ValueError(f"expected 3 colour channels at dim 2, {expected}; got {channels}")
        if min(h, w) < MIN_INPUT_SIZE:
            raise ValueError(f"frames of {h}x{w} are too small for the network: expected {expected}")
        if not video.is_floating_point():
            raise ValueError(f"expected {expected}; got dtype {video.dtype} (normalise frames first)")

    def forward_features(self, video: Tensor) -> Tensor:
        """`(B, T, 3, H, W)` -> per-frame pooled features `(B, T', C)`, T' = `output_frames(T)`."""
        self.check_input(video)
        t = video.shape[1]
        x = self.layout(fold_time(video))  # (B*T, 3, H, W)
        x = self.relu(self.bn1(self.conv1(x)))  # (B*T, 64, H/2, W/2)
        # Shapes for bLVNet-TAM-50 on the paper's modules; the plain ResNet's layer1 and layer2
        # are at H/4 and H/8, and with pair storage (fast) the merges keep (B*T/2, ...).
        x = self.routing.merge(self.layer0(x, t))  # (B*T/2, 64, H/4, W/4) fused -> (B*T, ...) copied back
        x = self.routing.merge(self.layer1(x, t))  # (B*T, 256, H/8, W/8)
        x = self.routing.merge(self.layer2(x, t))  # (B*T, 512, H/16, W/16)
        x = self.routing.merge(self.layer3(x, t))  # (B*T, 1024, H/16, W/16)
        x = self.routing.select(x)  # (B*T', 1024, H/16, W/16): one frame per pair, T' = T/2
        t_out = self.output_frames(t)
        x = self.layer4(x, t_out)  # (B*T', 2048, H/32, W/32)
        x = self.avgpool(x).flatten(1)  # (B*T', 2048)
        return unfold_time(x, t_out)  # (B, T', 2048)

    def forward_head(self, features: Tensor) -> Tensor:
        """Per-frame logits averaged over frames (TSN's consensus): `(B, T', C)` -> `(B, K)`."""
        return self.fc(self.dropout(features)).mean(dim=1)

    def forward(self, video: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(video))

    def forward_intermediates(
        self, video: Tensor, points: Iterable[str] = STAGES, stop_early: bool = False
    ) -> tuple[Tensor | None, dict[str, FeatureMaps]]:
        """`forward_features` that also returns the network's tensors at `points` (timm's API).

        Points: `STAGES` (the stem's output and each stage's: a bL stage's one fused map per
        pair, before `merge`; stage 4's one map per pair) and any TAM's name (`tams()`: its
        output at every frame of its input, recomputed from that input by the same module).
        Stage tensors are the ones the forward pass uses, so gradients of the output flow
        to them; on the paper's and the fast modules they are equal.

        Returns `(features (B, T', C), {point: FeatureMaps})`, or `(None, ...)` when
        `stop_early` ends the pass at the last point asked for.
        """
        self.check_input(video)
        wanted = set(points)
        unknown = wanted - set(STAGES) - set(self.tams())
        if unknown:
            raise ValueError(
                f"unknown point(s) {sorted(unknown)}; choose from {STAGES} or a TAM: {list(self.tams())}"
            )
        t, g = video.shape[1], self.routing.group_size
        t_out = self.output_frames(t)
        kept: dict[str, FeatureMaps] = {}

        def keep(name: str, x: Tensor, maps: int, frames_per_map: int) -> Tensor:
            """Keep `x` if asked for, as a view that the rest of the pass reads (so gradients
            of the output reach it), or a copy where there is no gradient to carry (in-place
            steps at inference, e.g. `FastTAM(inplace=True)`, may overwrite `x`); returns
            what the pass goes on with."""
            if name not in wanted:
                return x
            clips = unfold_time(x, maps)  # (B, M, C, h, w)
            if not x.requires_grad:
                kept[name] = FeatureMaps(clips.clone(), frames_per_map)
                return x
            kept[name] = FeatureMaps(clips, frames_per_map)
            return fold_time(clips)

        def done() -> bool:
            return stop_early and len(kept) == len(wanted)

        x = self.layout(fold_time(video))  # (B*T, 3, H, W)
        x = keep("stem", self.relu(self.bn1(self.conv1(x))), t, 1)  # (B*T, 64, H/2, W/2)
        for name in ("layer0", "layer1", "layer2", "layer3"):
            if done():
                return None, kept
            stage = getattr(self, name)
            if f"{name}.tam" in wanted:  # the TAM's output at every frame, from its input
                keep(f"{name}.tam", stage.tam.every_frame(x, t), t, 1)
                if done():
                    return None, kept
            x = keep(name, stage(x, t), t // g, g)  # (B*T/g, C, h, w): one fused map per pair
            x = self.routing.merge(x)
        if done():
            return None, kept
        x = self.routing.select(x)  # (B*T', C, h, w)
        if any(p.startswith("layer4.") for p in wanted):  # block by block, for their TAMs
            for j, block in enumerate(self.layer4):
                if f"layer4.{j}.tam" in wanted:
                    keep(f"layer4.{j}.tam", block.tam.every_frame(x, t_out), t_out, g)
                    if done():
                        return None, kept
                x = block(x, t_out)
        else:
            x = self.layer4(x, t_out)  # (B*T', 2048, h, w)
        x = keep("layer4", x, t_out, g)
        if done():
            return None, kept
        return unfold_time(self.avgpool(x).flatten(1), t_out), kept

    def tams(self) -> dict[str, TAM]:
        """Every TAM of the network by module name, in forward order."""
        return {name: m for name, m in self.named_modules() if isinstance(m, TAM)}


def _depth_presets() -> dict[str, BLVNetConfig]:
    presets = {}
    for depth, layers in ((50, (3, 4, 6, 3)), (101, (4, 8, 18, 3))):
        presets[f"blvnet_tam_{depth}"] = BLVNetConfig(name=f"blvnet_tam_{depth}", layers=layers)
        presets[f"blvnet_{depth}"] = BLVNetConfig(name=f"blvnet_{depth}", layers=layers, temporal_module=None)
        presets[f"tsn_blresnet{depth}"] = BLVNetConfig(
            name=f"tsn_blresnet{depth}",
            layers=layers,
            num_frames=8,
            frame_routing="frames",
            temporal_module=None,
        )
        presets[f"tsn_resnet{depth}"] = BLVNetConfig(
            name=f"tsn_resnet{depth}",
            layers=layers,
            num_frames=8,
            backbone="resnet",
            frame_routing="frames",
            temporal_module=None,
        )
    return presets


def _tiny_presets() -> dict[str, BLVNetConfig]:
    """Same architectures, 2-2-2-1 blocks and a quarter of the widths: for 2 CPU cores."""
    tiny = dict(layers=(2, 2, 2, 1), widths=(16, 32, 64, 128), num_frames=8, num_classes=10)
    return {
        "blvnet_tam_tiny": BLVNetConfig(name="blvnet_tam_tiny", **tiny),
        "blvnet_tiny": BLVNetConfig(name="blvnet_tiny", temporal_module=None, **tiny),
        "tsn_blresnet_tiny": BLVNetConfig(
            name="tsn_blresnet_tiny", frame_routing="frames", temporal_module=None, **tiny
        ),
        "tsn_resnet_tiny": BLVNetConfig(
            name="tsn_resnet_tiny", backbone="resnet", frame_routing="frames", temporal_module=None, **tiny
        ),
    }


PRESETS: dict[str, BLVNetConfig] = {**_depth_presets(), **_tiny_presets()}


def list_models() -> list[str]:
    """Names accepted by `build_model`."""
    return sorted(PRESETS)


def preset_config(name: str, **overrides) -> BLVNetConfig:
    """The config of a preset with overrides (lists for `layers`/`widths` accepted), checked
    as every config is, without building anything: what `build_model` builds, and what the
    CLI and the loaders size by arithmetic (`models.cost`) before building.

    Raises `ValueError` naming an unknown preset or option, or an invalid value."""
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    fields = {f.name for f in dataclasses.fields(BLVNetConfig)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for {name}; available: {sorted(fields)}")
    for key in ("layers", "widths"):
        if isinstance(overrides.get(key), list):
            overrides[key] = tuple(overrides[key])
    return dataclasses.replace(PRESETS[name], **overrides)


def build_model(name: str, fast: bool = True, **overrides) -> VideoNet:
    """Build a preset with overrides, e.g. `build_model("blvnet_tam_50", num_frames=32)`.

    `fast=True` swaps in the fast modules of `models/fast/` (same weights, same outputs,
    faster); `fast=False` keeps the paper's modules.

    Any `BLVNetConfig` field can be overridden (`num_classes`, `num_frames`,
    `blending_frames`, `dropout`, `alpha`, `beta`, `layers`, ...; `preset_config`). The
    weights are freshly initialised; load a checkpoint with `load_official_checkpoint` or
    `load_imagenet_backbone`.
    """
    return VideoNet(preset_config(name, **overrides), fast=fast)
