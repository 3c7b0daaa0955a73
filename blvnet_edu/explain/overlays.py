"""Heat maps on frames: which sign to show, one robust scale per clip, colours, overlays, the
overlay video (H.264 mp4).

An attribution is a signed value per pixel. What to draw follows Captum's
`visualize_image_attr`: the sign to show (`positive`, `negative`, `absolute_value`, `all`:
Captum's names) and a scale that lets the largest values hold `outlier_perc`% of the total
attribution before they saturate (Captum's cumulative-sum rule, default 2%). Captum applies
that rule to one image; here it runs over the whole clip, so every frame of a clip shares one
scale and frames can be compared. Dividing by the largest value instead lets a few pixels
take the whole colour range, and on a real clip the rest of the map fades to nothing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import torch
from torch import Tensor

from ..data.video_io import write_video

__all__ = [
    "SIGNS",
    "SIGN_NAMES",
    "OUTLIER_PERC",
    "clip_threshold",
    "display_maps",
    "colour_table",
    "colorize",
    "greyscale",
    "overlay",
    "overlay_video",
]

SIGNS = ("absolute_value", "positive", "negative", "all")  # Captum's names
SIGN_NAMES = {
    "absolute_value": "absolute (either sign)",
    "positive": "positive (for the class)",
    "negative": "negative (against the class)",
    "all": "both (red for, blue against)",
}
OUTLIER_PERC = 2.0  # Captum's default: the top 2% of the attribution saturates

_RED, _BLUE = torch.tensor([228.0, 26.0, 28.0]), torch.tensor([33.0, 102.0, 232.0])


def clip_threshold(values: Tensor, outlier_perc: float = OUTLIER_PERC) -> float:
    """The smallest |value| among the largest ones that hold `outlier_perc`% of the clip's total
    |attribution| (Captum's `_cumulative_sum_threshold`, over every pixel of every frame)."""
    if not 0 <= outlier_perc <= 100:
        raise ValueError(f"outlier_perc must be in [0, 100], got {outlier_perc}")
    magnitudes = values.detach().abs().flatten().double().sort().values  # ascending
    if magnitudes.numel() == 0 or magnitudes[-1] == 0:
        return 0.0
    total = magnitudes.cumsum(0)
    first = int((total >= total[-1] * (100.0 - outlier_perc) / 100.0).nonzero()[0])
    return float(magnitudes[first])


def display_maps(
    values: Tensor, sign: str = "absolute_value", outlier_perc: float = OUTLIER_PERC
) -> tuple[Tensor, float]:
    """`(T, H, W)` signed values -> (maps, threshold): the chosen sign scaled by the clip's
    threshold and clipped, in `[0, 1]` (`[-1, 1]` for `all`), and the value that maps to 1.

    `negative` shows the size of the negative values (0 where the value is positive)."""
    if sign not in SIGNS:
        raise ValueError(f"unknown sign {sign!r}; choose from {SIGNS}")
    shown = {
        "absolute_value": values.abs(),
        "positive": values.clamp_min(0),
        "negative": (-values).clamp_min(0),
        "all": values,
    }[sign].float()
    threshold = clip_threshold(shown, outlier_perc)
    if threshold == 0:
        return torch.zeros_like(shown), 0.0
    return (shown / threshold).clamp(-1.0, 1.0), threshold


def colour_table(sign: str = "absolute_value", size: int = 256) -> Tensor:
    """`(size, 3)` float RGB in 0..255, indexed by the map value (`all`: -1..1, else 0..1).

    Absolute values use "inferno" (dark to bright yellow); one sign is one colour (red for,
    blue against) whose strength comes from the overlay's opacity; `all` puts blue below 0 and
    red above."""
    if sign == "absolute_value":
        return torch.tensor(
            matplotlib.colormaps["inferno"](torch.linspace(0, 1, size).numpy())[:, :3] * 255.0,
            dtype=torch.float32,
        )
    if sign == "positive":
        return _RED.expand(size, 3).clone()
    if sign == "negative":
        return _BLUE.expand(size, 3).clone()
    if sign == "all":
        return torch.where(torch.arange(size).view(-1, 1) < size // 2, _BLUE, _RED)
    raise ValueError(f"unknown sign {sign!r}; choose from {SIGNS}")


def _index(maps: Tensor, sign: str, size: int) -> Tensor:
    x = (maps.clamp(-1, 1) + 1) / 2 if sign == "all" else maps.clamp(0, 1)
    return (x * (size - 1)).round().long()


def colorize(maps: Tensor, sign: str = "absolute_value") -> Tensor:
    """`(T, H, W)` map values -> `(T, 3, H, W)` uint8 colours (`colour_table`)."""
    table = colour_table(sign)
    rgb = table[_index(maps, sign, len(table))]  # (T, H, W, 3)
    return rgb.round().to(torch.uint8).permute(0, 3, 1, 2)


def greyscale(frames: Tensor) -> Tensor:
    """`(T, 3, H, W)` uint8 frames in grey (ITU-R 601 luma), three equal channels."""
    luma = (0.299 * frames[:, 0] + 0.587 * frames[:, 1] + 0.114 * frames[:, 2]).round()  # (T, H, W)
    return luma.to(torch.uint8).unsqueeze(1).expand_as(frames)


def overlay(
    frames: Tensor, maps: Tensor, alpha: float = 0.55, sign: str = "absolute_value", grey: bool = False
) -> Tensor:
    """Blend coloured `maps` `(T, H, W)` over uint8 `frames` `(T, 3, H, W)` (in grey if `grey`).

    Each pixel's colour weighs `alpha * |map|`: where the map is 0 the frame shows as it is,
    where it saturates the colour covers `alpha` of it. Over grey frames (as Captum's
    `blended_heat_map` draws) a red overlay stays visible on a red scene."""
    if frames.shape[0] != maps.shape[0] or frames.shape[-2:] != maps.shape[-2:]:
        raise ValueError(f"frames {tuple(frames.shape)} and maps {tuple(maps.shape)} do not match")
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha (the overlay's opacity) must be in [0, 1], got {alpha}")
    base = greyscale(frames) if grey else frames
    weight = (alpha * maps.abs().clamp(0, 1)).unsqueeze(1)  # (T, 1, H, W)
    blended = base.float() * (1 - weight) + colorize(maps, sign).float() * weight
    return blended.round().to(torch.uint8)


def overlay_video(
    path: str | Path,
    frames: Tensor,
    maps: Tensor,
    fps: float = 4.0,
    upscale: int = 1,
    alpha: float = 0.55,
    sign: str = "absolute_value",
    grey: bool = False,
) -> Path:
    """Write the overlays as an H.264 mp4 (browser-playable); `upscale` enlarges small frames."""
    video = overlay(frames, maps, alpha, sign, grey)
    if upscale > 1:
        video = video.repeat_interleave(upscale, dim=-2).repeat_interleave(upscale, dim=-1)
    return write_video(path, video, fps)
