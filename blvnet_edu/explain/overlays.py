"""Heat maps on frames: a colour map, overlays, and the overlay video (H.264 mp4)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from ..data.video_io import write_video

__all__ = ["colorize", "overlay", "overlay_video"]

# Anchor colours of a perceptually ordered map (dark purple -> red -> yellow), like "inferno".
_ANCHORS = torch.tensor(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
    dtype=torch.float32,
)


def colorize(maps: Tensor) -> Tensor:
    """`(T, H, W)` values in `[0, 1]` -> `(T, 3, H, W)` uint8 colours."""
    x = maps.clamp(0, 1) * (len(_ANCHORS) - 1)
    low = x.floor().long().clamp(max=len(_ANCHORS) - 2)
    frac = (x - low).unsqueeze(-1)  # (T, H, W, 1)
    rgb = _ANCHORS[low] * (1 - frac) + _ANCHORS[low + 1] * frac  # (T, H, W, 3)
    return rgb.round().to(torch.uint8).permute(0, 3, 1, 2)


def overlay(frames: Tensor, maps: Tensor, alpha: float = 0.55) -> Tensor:
    """Blend coloured `maps` `(T, H, W)` over uint8 `frames` `(T, 3, H, W)`; strong where the map is high."""
    if frames.shape[0] != maps.shape[0] or frames.shape[-2:] != maps.shape[-2:]:
        raise ValueError(f"frames {tuple(frames.shape)} and maps {tuple(maps.shape)} do not match")
    weight = (alpha * maps.clamp(0, 1)).unsqueeze(1)  # (T, 1, H, W)
    blended = frames.float() * (1 - weight) + colorize(maps).float() * weight
    return blended.round().to(torch.uint8)


def overlay_video(path: str | Path, frames: Tensor, maps: Tensor, fps: float = 4.0, upscale: int = 1) -> Path:
    """Write the overlays as an H.264 mp4 (browser-playable); `upscale` enlarges small frames."""
    video = overlay(frames, maps)
    if upscale > 1:
        video = video.repeat_interleave(upscale, dim=-2).repeat_interleave(upscale, dim=-1)
    return write_video(path, video, fps)
