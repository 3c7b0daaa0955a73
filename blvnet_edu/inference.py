"""Inference for people: a checkpoint in, a model ready to predict; a clip in, labelled probabilities out.

Shared by the CLI, the app and the notebooks; no UI code here. A `Predictor` is a network
prepared for inference (BatchNorm folded, channels_last: `models.fast.prepare_for_inference`)
with its class names and its preprocessing (crop and short side); the clip it reads is made by
`clips.load_clip`, with the evaluation preprocessing.

    model = load_predictor("app/demo/blvnet_tam_tiny.pt")
    probs = predict("clip.mp4", model)                 # {"moving left": 0.97, ...}
    clip = load_clip("clip.mp4", model.num_frames, model.size, model.resize)   # blvnet_edu.clips
    probs = predict_clip(model, clip)
    result = explain(model, clip, method="integrated_gradients")   # blvnet_edu.explanation

Where the work of one prediction goes next: `clips.load_clips` (several models on one file),
`clip_cache.ClipCache` (the app's steps on one video), `order_comparison` (the clip reordered),
`explanation` (attributions) and `model_card` (parameters, GFLOPs, classes). With `limits`
(`budget.Limits`, what the app passes), a checkpoint whose network or classes would cost more
than allowed raises `BudgetError` before it is built.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .budget import Limits
from .checkpoint_checks import check_budget, check_preprocessing
from .clips import Clip, load_clip
from .loading import load_network
from .models.blvnet import VideoNet
from .models.fast import prepare_for_inference

__all__ = ["Predictor", "load_predictor", "predict", "predict_clip", "explain"]

_SERIALS = itertools.count()


@dataclass
class Predictor:
    """A model ready for inference, with its classes, input size and clip length.

    `num_frames` is how many frames its clips are sampled with, by default the clip length
    the model was trained on; the network reads T from its input, so `at_frames` gives the
    same model on other clip lengths without building anything. `uid` names the model in
    caches (`ClipCache`) without keeping it alive."""

    name: str
    model: VideoNet
    classes: list[str]
    size: int
    resize: int
    num_frames: int | None = None  # None: the model's own (`model.config.num_frames`)
    uid: int = field(default_factory=lambda: next(_SERIALS), repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.num_frames is None:
            self.num_frames = self.model.config.num_frames

    def at_frames(self, num_frames: int, limits: Limits | None = None) -> Predictor:
        """The same model (and `uid`) sampling clips of `num_frames` frames; with `limits`, a
        clip length over `max_frames` or a clip over `max_clip_gflop` raises `BudgetError`."""
        if isinstance(num_frames, bool) or not isinstance(num_frames, int):
            raise ValueError(f"frames must be a whole number, got {num_frames!r}")
        if num_frames < 1 or (self.model.routing.group_size == 2 and num_frames % 2):
            raise ValueError(
                f"{self.name} takes frames in pairs: choose an even number of frames (>= 2), got {num_frames}"
            )
        if limits is not None:
            config = self.model.config
            check_budget(config, config.num_classes, self.size, num_frames, limits, self.name)
        return self if num_frames == self.num_frames else dataclasses.replace(self, num_frames=num_frames)


def load_predictor(
    checkpoint: str | Path,
    labels: str | Path | None = None,
    model_name: str | None = None,
    size: int | None = None,
    resize: int | None = None,
    num_frames: int | None = None,
    limits: Limits | None = None,
    allow_unverified: bool = False,
) -> Predictor:
    """A model from a blvnet-edu checkpoint or from one of the authors' released files.

    Args:
        checkpoint: a blvnet-edu checkpoint (it knows its model, classes and preprocessing)
            or an authors' checkpoint (its network is read from the tensor shapes,
            `models.checkpoints.official_config`).
        labels: `ssv1`, `ssv2`, `kinetics400` (shipped, `data.label_maps`) or a file of class
            names. For an authors' checkpoint it is needed only where the class count does
            not tell (174: Something-Something V1 or V2).
        model_name: a preset, to build the authors' network as that preset instead of reading it.
        size, resize: the crop and the short side. The default is the checkpoint's own, or for
            the authors' models their test default, 224 and 256 (`resize=224` is their
            `--disable_scaleup` setting).
        num_frames: frames per clip; default: the checkpoint's own (the authors' released
            models: 16, 8x2, or what their file name says).
        limits: refuse networks, label lists, input sizes and clip lengths over the limits
            before anything is built (`BudgetError`; what the app and the CLI pass).
        allow_unverified: read a blvnet-edu checkpoint that lacks a digest of the whole file
            (`saved_run.SavedRun.verify`; files from before the digest).

    Raises `FileNotFoundError`, or `ValueError` (a `CheckpointMismatchError` for weights
    that do not fit the model) naming the problem. Files are read with weights_only=True.
    """
    given = check_preprocessing({"size": size, "resize": resize}, "the options")  # None: the checkpoint's
    model, classes, saved = load_network(checkpoint, labels, model_name, limits, allow_unverified)
    size = given.get("size", saved.size)
    resize = given.get("resize", max(saved.resize, size))  # a larger crop than the file's: resized to it
    if resize < size:
        raise ValueError(f"resize {resize} is smaller than the model's crop ({size}): choose at least {size}")
    if limits is not None:
        config = model.config
        check_budget(
            config, config.num_classes, size, num_frames or config.num_frames, limits, str(checkpoint)
        )
    # BatchNorm folded, channels_last: faster on CPU (docs/benchmarks/speed.md)
    model = prepare_for_inference(model)
    predictor = Predictor(model.config.name, model, classes, size, resize)
    return predictor.at_frames(num_frames) if num_frames is not None else predictor


@torch.inference_mode()
def predict_clip(predictor: Predictor, clip: Clip) -> dict[str, float]:
    """`{class: probability}` for a clip already loaded (`clips.load_clip`)."""
    probs = predictor.model(clip.input).softmax(-1)[0]
    return {c: float(p) for c, p in zip(predictor.classes, probs)}


def predict(
    video: str | Path | Tensor, predictor: Predictor, num_frames: int | None = None
) -> dict[str, float]:
    """`{class: probability}` for a clip file or uint8 frames, with evaluation preprocessing;
    `num_frames` frames (default: the predictor's)."""
    predictor = predictor.at_frames(num_frames or predictor.num_frames)
    return predict_clip(predictor, load_clip(video, predictor.num_frames, predictor.size, predictor.resize))


def explain(predictor: Predictor, clip: Clip, target: str | None = None, method: str = "saliency", **options):
    """`explanation.explain`: attribution maps on every frame, drawn, and each frame's removal."""
    from .explanation import explain as explain_clip

    return explain_clip(predictor, clip, target, method, **options)
