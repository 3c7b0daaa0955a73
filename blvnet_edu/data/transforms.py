"""Video transforms: pure functions of `(T, 3, H, W)` tensors, built on torchvision.transforms.v2.

Every frame of a clip gets the same resize and crop (a per-frame random crop would add
motion that is not in the video). Randomness comes only from the `torch.Generator` passed in.

Horizontal flipping is off by default and stays opt-in: it swaps left and right, which
changes the label of direction-sensitive classes (Something-Something's "pushing something
from left to right", our synthetic set's "moving left" / "moving right").

Training follows the authors' (TSN's) recipe: multi-scale corner/centre crops, resized to
the input size. Evaluation: resize the short side, centre crop; testing may use 3 crops
along the long side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torchvision.transforms.v2 import functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "resize_short_side",
    "center_crop",
    "random_crop",
    "multi_scale_crop",
    "three_crops",
    "normalize",
    "hflip",
    "TrainTransform",
    "EvalTransform",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check(video: Tensor) -> None:
    if video.ndim != 4 or video.shape[1] != 3:
        raise ValueError(f"expected a (T, 3, H, W) video, got shape {tuple(video.shape)}")


def resize_short_side(video: Tensor, size: int) -> Tensor:
    """Resize so that the shorter side is `size`, keeping the aspect ratio: `(T, 3, h, w)`."""
    _check(video)
    return F.resize(video, [size], antialias=True)


def center_crop(video: Tensor, size: int) -> Tensor:
    """`(T, 3, size, size)` from the centre."""
    return F.center_crop(video, [size, size])


def random_crop(video: Tensor, size: int, generator: torch.Generator | None = None) -> Tensor:
    """`(T, 3, size, size)` at a random position, the same for every frame."""
    _check(video)
    h, w = video.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"cannot crop {size}x{size} from {h}x{w} frames")
    top = int(torch.randint(0, h - size + 1, (1,), generator=generator))
    left = int(torch.randint(0, w - size + 1, (1,), generator=generator))
    return F.crop(video, top, left, size, size)


def multi_scale_crop(
    video: Tensor,
    size: int,
    scales: Sequence[float] = (1.0, 0.875, 0.75, 0.66),
    generator: torch.Generator | None = None,
) -> Tensor:
    """TSN's training crop: a crop whose sides are random `scales` of the short side (aspect
    ratios from neighbouring scales), at one of 5 positions (corners, centre), resized to
    `(T, 3, size, size)`."""
    _check(video)
    h, w = video.shape[-2:]
    base = min(h, w)
    sides = [int(base * s) for s in scales]
    pairs = [(ch, cw) for i, ch in enumerate(sides) for j, cw in enumerate(sides) if abs(i - j) <= 1]
    ch, cw = pairs[int(torch.randint(len(pairs), (1,), generator=generator))]
    positions = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), ((h - ch) // 2, (w - cw) // 2)]
    top, left = positions[int(torch.randint(len(positions), (1,), generator=generator))]
    return F.resized_crop(video, top, left, ch, cw, [size, size], antialias=True)


def three_crops(video: Tensor, size: int) -> list[Tensor]:
    """Three `(T, 3, size, size)` crops along the long side (start, centre, end): 3-crop testing."""
    _check(video)
    h, w = video.shape[-2:]
    if min(h, w) < size:
        raise ValueError(f"cannot crop {size}x{size} from {h}x{w} frames")
    if w >= h:
        return [F.crop(video, (h - size) // 2, left, size, size) for left in (0, (w - size) // 2, w - size)]
    return [F.crop(video, top, (w - size) // 2, size, size) for top in (0, (h - size) // 2, h - size)]


def normalize(video: Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> Tensor:
    """uint8 `(T, 3, H, W)` -> float32 in ImageNet statistics."""
    return F.normalize(F.to_dtype(video, torch.float32, scale=True), list(mean), list(std))


def hflip(video: Tensor) -> Tensor:
    return F.horizontal_flip(video)


@dataclass(frozen=True)
class TrainTransform:
    """Multi-scale crop to `size`, optional flip, normalise: uint8 -> float `(T, 3, size, size)`."""

    size: int = 224
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)
    flip: bool = False  # changes the label of direction-sensitive classes

    def __call__(self, video: Tensor, generator: torch.Generator | None = None) -> Tensor:
        video = multi_scale_crop(video, self.size, self.scales, generator)
        if self.flip and bool(torch.rand(1, generator=generator) < 0.5):
            video = hflip(video)
        return normalize(video)


@dataclass(frozen=True)
class EvalTransform:
    """Resize the short side to `resize`, take 1 (centre) or 3 crops, normalise.

    Returns `(T, 3, size, size)` for one crop, `(crops, T, 3, size, size)` for three.
    """

    size: int = 224
    resize: int = 256
    crops: int = 1

    def __call__(self, video: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if self.crops not in (1, 3):
            raise ValueError(f"crops must be 1 or 3, got {self.crops}")
        video = resize_short_side(video, self.resize)
        if self.crops == 1:
            return normalize(center_crop(video, self.size))
        return torch.stack([normalize(c) for c in three_crops(video, self.size)])
