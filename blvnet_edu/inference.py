"""Inference for people: a clip file in, labelled probabilities and explanations out.

Shared by the CLI, the app and the notebooks; no UI code here. Preprocessing is the
evaluation pipeline: TSN segment sampling (centre of each segment), short side resized,
centre crop, ImageNet normalisation.

    model = load_predictor("app/demo/blvnet_tam_tiny.pt")
    probs = predict("clip.mp4", model)                 # {"moving left": 0.97, ...}
    clip = load_clip("clip.mp4", model.num_frames, model.size, model.resize)
    result = explain(model, clip, method="integrated_gradients")

Bad input (not a video, no video stream, 0 or 1 frames, absurd sizes or durations) raises
`ClipError` with a message meant for the user. Decoding reads only the sampled frames, so
time and memory stay bounded for long or large videos.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .data.lists import read_classes
from .data.sampling import segment_indices
from .data.transforms import center_crop, normalize, resize_short_side
from .data.video_io import VideoDecodeError, VideoInfo, probe_video, read_frames
from .engine.checkpointing import config_from_dict, load_checkpoint, model_from_payload
from .models.blvnet import BLVNetConfig, VideoNet, build_model
from .models.checkpoints import load_official_checkpoint
from .models.fusion import fold_batchnorm_
from .profiling import profile_model

__all__ = [
    "ClipError",
    "Predictor",
    "Clip",
    "Explanation",
    "load_predictor",
    "load_clip",
    "predict",
    "predict_clip",
    "explain",
    "model_card",
]

MAX_PIXELS = 7680 * 4320  # 8K
MAX_DURATION_S = 4 * 3600.0


class ClipError(ValueError):
    """A clip the model cannot use; the message says why, for the user."""


@dataclass
class Predictor:
    """A model ready for inference, with its classes and input size."""

    name: str
    model: VideoNet
    classes: list[str]
    size: int
    resize: int
    _by_frames: dict = field(default_factory=dict, repr=False)

    @property
    def num_frames(self) -> int:
        return self.model.config.num_frames

    def with_frames(self, num_frames: int) -> Predictor:
        """The same weights for another number of frames (no parameter depends on T)."""
        if num_frames == self.num_frames:
            return self
        if num_frames not in self._by_frames:
            model = VideoNet(config_from_dict({**self.model.config.__dict__, "num_frames": num_frames}))
            model = _for_inference(model.eval())  # the same layout as self.model, BatchNorm folded
            model.load_state_dict(self.model.state_dict())
            self._by_frames[num_frames] = Predictor(self.name, model, self.classes, self.size, self.resize)
        return self._by_frames[num_frames]


def _for_inference(model: VideoNet) -> VideoNet:
    """channels_last (oneDNN's preferred layout on CPU) and BatchNorm folded into the
    convolutions: together about 1.7x faster inference on CPU (benchmarks/speed.py)."""
    return fold_batchnorm_(model.eval()).to(memory_format=torch.channels_last)


def load_predictor(
    checkpoint: str | Path,
    labels: str | Path | None = None,
    model_name: str | None = None,
    size: int | None = None,
    resize: int | None = None,
    num_frames: int | None = None,
) -> Predictor:
    """A blvnet-edu checkpoint, or the authors' released format with `model_name` and `labels`.

    Raises `FileNotFoundError`, or `ValueError` (a `CheckpointMismatchError` for weights
    that do not fit the model) naming the problem. Files are read with weights_only=True.
    """
    if model_name is None:  # a blvnet-edu checkpoint knows its model and classes
        payload = load_checkpoint(checkpoint)
        model = model_from_payload(payload, checkpoint)
        classes = read_classes(labels) if labels else list(payload["classes"])
        trained = payload.get("train_config", {})
        size, resize = size or trained.get("size", 224), resize or trained.get("resize", 256)
    else:  # the authors' released format: the model name and the labels come from the user
        if labels is None:
            raise ValueError("the authors' checkpoints hold no class names: give a label file")
        classes = read_classes(labels)
        model = build_model(model_name, num_classes=len(classes), num_frames=num_frames or 16)
        load_official_checkpoint(model, checkpoint)
        size, resize = size or 224, resize or 256
    if len(classes) != model.config.num_classes:
        raise ValueError(f"{labels} lists {len(classes)} classes; the model has {model.config.num_classes}")
    model = _for_inference(model.eval())
    predictor = Predictor(model.config.name, model, classes, size, resize)
    return predictor.with_frames(num_frames) if num_frames else predictor


@dataclass
class Clip:
    frames: Tensor  # (T, 3, S, S) uint8: what the model sees
    input: Tensor  # (1, T, 3, S, S) float32, normalised
    indices: list[int]  # frame numbers in the file
    info: VideoInfo


def _check_video(info: VideoInfo) -> None:
    if info.width * info.height > MAX_PIXELS:
        raise ClipError(f"the video is {info.width}x{info.height}; the largest accepted is 7680x4320")
    if info.duration > MAX_DURATION_S:
        raise ClipError(f"the video lasts {info.duration / 3600:.1f} h; the longest accepted is 4 h")
    if info.num_frames < 2:
        raise ClipError(f"the video has {info.num_frames} frame(s); a clip needs at least 2")


def load_clip(video: str | Path | Tensor, num_frames: int, size: int, resize: int) -> Clip:
    """Sample, decode and preprocess `num_frames` frames of a file (or a `(T, 3, H, W)` uint8 tensor)."""
    if isinstance(video, Tensor):
        if video.ndim != 4 or video.shape[1] != 3 or video.dtype != torch.uint8 or len(video) < 2:
            raise ClipError(f"expected (T >= 2, 3, H, W) uint8 frames, got {tuple(video.shape)} {video.dtype}")
        info = VideoInfo("<tensor>", len(video), 0.0, 0.0, video.shape[-1], video.shape[-2])
        indices = segment_indices(len(video), num_frames, train=False)
        frames = video[indices]
    else:
        if video is None or str(video) == "":
            raise ClipError("no video given")
        try:
            info = probe_video(video)
            _check_video(info)
            indices = segment_indices(info.num_frames, num_frames, train=False)
            frames = read_frames(video, indices)
        except FileNotFoundError as err:
            raise ClipError(str(err)) from err
        except VideoDecodeError as err:
            raise ClipError(f"cannot read this file as a video: {err}") from err
    frames = center_crop(resize_short_side(frames, resize), size)  # (T, 3, S, S)
    return Clip(frames.contiguous(), normalize(frames).unsqueeze(0), list(indices), info)


@torch.inference_mode()
def predict_clip(predictor: Predictor, clip: Clip) -> dict[str, float]:
    probs = predictor.model(clip.input).softmax(-1)[0]
    return {c: float(p) for c, p in zip(predictor.classes, probs)}


def predict(video: str | Path | Tensor, predictor: Predictor, num_frames: int | None = None) -> dict[str, float]:
    """`{class: probability}` for a clip file or uint8 frames, with evaluation preprocessing."""
    predictor = predictor.with_frames(num_frames or predictor.num_frames)
    return predict_clip(predictor, load_clip(video, predictor.num_frames, predictor.size, predictor.resize))


@dataclass
class Explanation:
    target: str
    maps: Tensor  # (T, S, S) in [0, 1], one scale for the clip
    overlays: Tensor  # (T, 3, S, S) uint8
    importance: Tensor  # (T,) probability drop when the frame is removed
    captions: list[str]


def explain(
    predictor: Predictor,
    clip: Clip,
    target: str | None = None,
    method: str = "saliency",
    baseline: str = "black",
    steps: int = 16,
) -> Explanation:
    """Attribution maps on every frame, their overlays, and each frame's importance."""
    from .explain.attributions import attribute, temporal_importance
    from .explain.overlays import overlay

    if target is None:
        probs = predict_clip(predictor, clip)
        target = max(probs, key=probs.get)
    if target not in predictor.classes:
        raise ClipError(f"unknown class {target!r}")
    index = predictor.classes.index(target)
    model = predictor.model
    maps = attribute(model, clip.input, index, method=method, baseline=baseline, steps=steps)
    importance = temporal_importance(model, clip.input, index)
    # importance = how much p(target) drops without the frame
    captions = [f"frame {f}: importance {d:+.3f}" for f, d in zip(clip.indices, importance.tolist())]
    return Explanation(target, maps, overlay(clip.frames, maps), importance, captions)


@functools.lru_cache(maxsize=8)
def _cost(config: BLVNetConfig, size: int) -> tuple[int, float]:
    """(parameters, GFLOPs) of a fresh network with this config, measured once per config."""
    profile = profile_model(VideoNet(config), size=size)
    return profile.params, profile.gflops


def model_card(predictor: Predictor) -> str:
    """Markdown: parameters, GFLOPs, input, classes."""
    config = predictor.model.config
    params, gflops = _cost(config, predictor.size)
    classes = ", ".join(predictor.classes[:30]) + (" ..." if len(predictor.classes) > 30 else "")
    return (
        f"**{config.name}** — {params / 1e6:.2f}M parameters, {gflops:.2f} GFLOPs per clip "
        f"({config.num_frames} frames at {predictor.size}x{predictor.size})  \n"
        f"temporal module: {config.temporal_module or 'none'}; frame routing: {config.frame_routing}  \n"
        f"{len(predictor.classes)} classes: {classes}"
    )
