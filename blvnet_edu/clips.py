"""Clips for the models: a clip file (or frames in memory) in, what a model sees out.

Preprocessing is the evaluation pipeline: TSN segment sampling (centre of each segment), short
side resized, centre crop, ImageNet normalisation. Shared by prediction (`inference`), the
order comparison, the explanations, the CLI, the app and the notebooks.

    clip = load_clip("clip.mp4", num_frames=8, size=112, resize=128)
    clip.frames, clip.input          # (T, 3, S, S) uint8 as shown, (1, T, 3, S, S) float32 for the model
    clips = load_clips("clip.mp4", {"TSN": tsn, "bLVNet-TAM": tam})   # decoded once per preprocessing

Bad input (not a video, no video stream, 0 or 1 frames) raises `ClipError` with a message
meant for the user. Decoding reads only the sampled frames and scales large frames down as it
goes; with `limits` (`budget.Limits`, what the app passes), a clip whose decoding would cost
more than allowed raises `BudgetError` before anything is decoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .budget import Limits, check_frames, check_pipeline, check_video
from .data.sampling import segment_indices
from .data.transforms import center_crop, normalize, resize_short_side
from .data.video_io import VideoDecodeError, VideoInfo, decode_work, probe_video, read_frames

if TYPE_CHECKING:  # names for the signatures only: both modules import this one
    from .clip_cache import ClipCache
    from .inference import Predictor

__all__ = ["ClipError", "Clip", "load_clip", "load_clips"]


class ClipError(ValueError):
    """A clip the model cannot use; the message says why, for the user."""


@dataclass
class Clip:
    frames: Tensor  # (T, 3, S, S) uint8: what the model sees
    input: Tensor  # (1, T, 3, S, S) float32, normalised
    indices: list[int]  # frame numbers in the file
    info: VideoInfo


def load_clip(
    video: str | Path | Tensor, num_frames: int, size: int, resize: int, limits: Limits | None = None
) -> Clip:
    """Sample, decode and preprocess `num_frames` frames of a file (or a `(T, 3, H, W)` uint8 tensor).

    Frames larger than twice the short side needed are scaled down while decoding, so a 4K
    clip never holds 4K frames in memory. With `limits`, a clip whose decoding or
    preprocessing would cost more (frame size, frames to decode from the key frames, aspect
    ratio, the resized frames and the model input: `budget.check_pipeline`) raises
    `BudgetError` before anything is decoded."""
    if limits is not None:
        check_frames(num_frames, limits, pairs=False)
    if isinstance(video, Tensor):
        if video.ndim != 4 or video.shape[1] != 3 or video.dtype != torch.uint8 or len(video) < 2:
            raise ClipError(
                f"expected (T >= 2, 3, H, W) uint8 frames, got {tuple(video.shape)} {video.dtype}"
            )
        info = VideoInfo("<tensor>", len(video), 0.0, 0.0, video.shape[-1], video.shape[-2])
        if limits is not None:
            check_pipeline(info.width, info.height, num_frames, size, resize, limits)
        indices = segment_indices(len(video), num_frames, train=False)
        frames = video[indices]
    else:
        if video is None or str(video) == "":
            raise ClipError("no video given")
        try:
            info = probe_video(video)
            if info.num_frames < 2:
                raise ClipError(f"the video has {info.num_frames} frame(s); a clip needs at least 2")
            indices = segment_indices(info.num_frames, num_frames, train=False)
            if limits is not None:
                check_pipeline(info.width, info.height, num_frames, size, resize, limits)
                check_video(info.width, info.height, decode_work(video, indices), limits)
            frames = read_frames(
                video,
                indices,
                max_short_side=2 * max(size, resize),
                max_decoded=limits.max_decode_frames if limits else None,
            )
        except FileNotFoundError as err:
            raise ClipError(str(err)) from err
        except VideoDecodeError as err:
            raise ClipError(f"cannot read this video: {err}") from err
    frames = center_crop(resize_short_side(frames, resize), size)  # (T, 3, S, S)
    return Clip(frames.contiguous(), normalize(frames).unsqueeze(0), list(indices), info)


def load_clips(
    video: str | Path | Tensor,
    predictors: Mapping[str, Predictor],
    cache: ClipCache | None = None,
    limits: Limits | None = None,
) -> dict[str, Clip]:
    """`{name: clip}` for several models, each file decoded once per distinct
    preprocessing `(num_frames, size, resize)`: models that share it share one `Clip`.
    With a `cache` (`clip_cache.ClipCache`), clips decoded by earlier calls on the same file
    are reused; `limits` as in `load_clip`."""
    if cache is None:
        decoded = {}  # (T, size, resize) -> clip, for this call only
    else:
        cache.use(video)
        decoded = cache.clips
    clips = {}
    for name, predictor in predictors.items():
        key = (predictor.num_frames, predictor.size, predictor.resize)
        if key not in decoded:
            decoded[key] = load_clip(video, *key, limits=limits)
        clips[name] = decoded[key]
    return clips
