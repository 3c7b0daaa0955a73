"""Which frames of a video make a clip: TSN segments, dense windows, several clips per video.

All functions return frame indices (ints in `[0, num_frames)`); randomness comes only from
the `torch.Generator` passed in, so a clip is reproducible from its seed.

- Segment sampling (TSN, used by the paper): split the video into `T` equal segments and
  take one frame from each: at a random offset for training, at the centre for evaluation.
  It sees the whole video whatever its length.
- Dense sampling: `T` frames `stride` apart from one window, random or centred.
- A video with fewer frames than asked for repeats frames (segment sampling spreads the
  repeats; dense sampling holds the last frame), so order is always preserved.
"""

from __future__ import annotations

import torch

__all__ = ["segment_indices", "dense_indices", "multi_clip_indices"]


def _check(num_frames: int, clip_frames: int) -> None:
    if num_frames < 1:
        raise ValueError(f"the video has no frames (num_frames={num_frames})")
    if clip_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got {clip_frames}")


def segment_indices(
    num_frames: int,
    clip_frames: int,
    train: bool,
    generator: torch.Generator | None = None,
    position: float = 0.5,
) -> list[int]:
    """One frame per segment: random offset (train) or at `position` of each segment (eval).

    `position` in `[0, 1)` picks where inside each segment evaluation looks; several clips
    per video use several positions.
    """
    _check(num_frames, clip_frames)
    segment = num_frames / clip_frames  # may be < 1: frames then repeat
    if train:
        offsets = torch.rand(clip_frames, generator=generator).tolist()
    else:
        offsets = [position] * clip_frames
    return [min(num_frames - 1, int(segment * (i + o))) for i, o in enumerate(offsets)]


def dense_indices(
    num_frames: int,
    clip_frames: int,
    stride: int,
    train: bool,
    generator: torch.Generator | None = None,
    position: float = 0.5,
) -> list[int]:
    """`clip_frames` frames `stride` apart; the window starts at random (train) or at `position`."""
    _check(num_frames, clip_frames)
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    span = (clip_frames - 1) * stride + 1
    room = max(0, num_frames - span)
    if train:
        start = int(torch.randint(0, room + 1, (1,), generator=generator))
    else:
        start = int(round(room * position))
    return [min(num_frames - 1, start + i * stride) for i in range(clip_frames)]


def multi_clip_indices(
    num_frames: int, clip_frames: int, num_clips: int, stride: int | None = None
) -> list[list[int]]:
    """`num_clips` evaluation clips spread over the video (segment sampling, or dense if `stride`)."""
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    positions = [(c + 0.5) / num_clips for c in range(num_clips)]
    if stride is None:
        return [segment_indices(num_frames, clip_frames, False, position=p) for p in positions]
    return [dense_indices(num_frames, clip_frames, stride, False, position=p) for p in positions]
