"""Model cost: parameters, GFLOPs and a per-stage shape table (paper, Table 1 and Fig. 1).

GFLOPs here follow the paper's convention: billions of multiply-adds for one clip
(one multiply-add = 2 FLOPs), counted by `torch.utils.flop_counter` on a real forward
pass. Element-wise work (BatchNorm, ReLU, pooling, TAM's weighted sum) is not counted,
as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .models import blvnet
from .models.blvnet import VideoNet

__all__ = [
    "PAPER_COST",
    "ModelProfile",
    "StageRow",
    "count_parameters",
    "profile_model",
    "format_profile",
]

STAGES = ("conv1", "layer0", "layer1", "layer2", "layer3", "layer4", "fc")  # rows of the table
BL_STAGES = ("layer0", "layer1", "layer2", "layer3")  # their maps are copied to both frames of a pair

# (model, frames) -> (parameters in millions, GFLOPs) at 224 px with 174 classes, from the
# paper's Table 1 (Something-Something V1).
PAPER_COST = {
    ("blvnet_tam_50", 16): (25.0, 23.8),
    ("blvnet_tam_50", 32): (25.0, 47.7),
    ("blvnet_tam_101", 16): (40.2, 32.1),
}


@dataclass(frozen=True)
class StageRow:
    name: str
    output_shape: tuple[
        int, ...
    ]  # as the paper defines it: (B*T, C, H, W), stage 4 (B*T', ...), fc (B, T', K)
    frames: int  # distinct maps per clip (bLVNet: one per frame pair from bL layer 0 on)
    gflops: float  # multiply-adds of this stage, billions, per clip


@dataclass(frozen=True)
class ModelProfile:
    model: str
    num_frames: int
    size: int
    num_classes: int
    params: int
    gflops: float  # multiply-adds per clip, billions
    stages: list[StageRow]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def profile_model(
    model: VideoNet, size: int = 224, batch_size: int = 1, num_frames: int | None = None
) -> ModelProfile:
    """Run one forward pass on zeros of `(batch_size, T, 3, size, size)` and measure it;
    `T` is `num_frames`, by default the clip length the model was trained on."""
    config = model.config
    num_frames = num_frames or config.num_frames
    param = next(model.parameters())
    video = torch.zeros(batch_size, num_frames, 3, size, size, device=param.device, dtype=param.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            with FlopCounterMode(display=False, depth=None) as counter:
                model(video)  # counted per module, named from the model down
            features, kept = model.forward_intermediates(video, blvnet.STAGES)  # stem, layer0 .. layer4
            logits = model.fc(features)  # (B, T', K): the per-frame logits, before the mean
    finally:
        model.train(was_training)
    per_module = counter.get_flop_counts()
    prefix = type(model).__name__

    def stage_flops(name: str) -> float:
        counts = per_module.get(f"{prefix}.{name}", {})
        return sum(counts.values()) / 2 / batch_size / 1e9  # multiply-adds per clip

    def row(name: str) -> StageRow:
        """The stage's output as the paper writes it, `(B*T, C, h, w)` with a bL stage's map
        copied to both frames of its pair, and the distinct maps per clip."""
        if name == "fc":
            return StageRow(name, tuple(logits.shape), logits.shape[1], stage_flops(name))
        out = kept["stem" if name == "conv1" else name]
        b, maps, *rest = out.maps.shape
        frames = maps * out.frames_per_map if name in BL_STAGES else maps
        return StageRow(name, (b * frames, *rest), maps, stage_flops(name))

    rows = [row(name) for name in STAGES]
    return ModelProfile(
        model=config.name,
        num_frames=num_frames,
        size=size,
        num_classes=config.num_classes,
        params=count_parameters(model),
        gflops=counter.get_total_flops() / 2 / batch_size / 1e9,
        stages=rows,
    )


def format_profile(profile: ModelProfile) -> str:
    """The profile as a plain-text report."""
    lines = [
        f"model       {profile.model}",
        f"input       (1, {profile.num_frames}, 3, {profile.size}, {profile.size})",
        f"parameters  {profile.params / 1e6:.2f}M ({profile.params:,})",
        f"GFLOPs      {profile.gflops:.2f} (multiply-adds per clip, torch.utils.flop_counter)",
    ]
    paper = PAPER_COST.get((profile.model, profile.num_frames))
    if paper and profile.size == 224 and profile.num_classes == 174:
        lines.append(f"paper       {paper[0]:.1f}M parameters, {paper[1]:.1f} GFLOPs (Table 1)")
    lines += [
        "",
        f"{'stage':<8} {'output shape':<36} {'maps':>6} {'GFLOPs':>8}",
    ]
    for row in profile.stages:
        shape = "(" + ", ".join(str(s) for s in row.output_shape) + ")"
        lines.append(f"{row.name:<8} {shape:<36} {row.frames:>6} {row.gflops:>8.2f}")
    lines.append(
        "maps = distinct feature maps per clip: from layer0 on bLVNet computes one per frame pair "
        "and a bL stage returns it for both frames"
    )
    return "\n".join(lines)
