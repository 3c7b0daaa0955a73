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

import collections
import dataclasses
import itertools
import threading
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .budget import Limits
from .clips import Clip, load_clip
from .loading import load_network
from .models.blvnet import VideoNet
from .models.fast import prepare_for_inference

__all__ = ["Predictor", "load_predictor", "predict", "predict_clip", "explain"]

_SERIALS = itertools.count()


@dataclass
class Predictor:
    """A model ready for inference, with its classes and input size.

    `uid` names it in caches (`ClipCache`) without keeping it alive; `with_frames` keeps the
    models it made for the `FRAME_COUNTS_KEPT` most recently asked frame counts."""

    name: str
    model: VideoNet
    classes: list[str]
    size: int
    resize: int
    uid: int = field(default_factory=lambda: next(_SERIALS), repr=False, compare=False)
    _by_frames: collections.OrderedDict = field(default_factory=collections.OrderedDict, repr=False,
                                                compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    FRAME_COUNTS_KEPT = 4

    @property
    def num_frames(self) -> int:
        return self.model.config.num_frames

    def with_frames(self, num_frames: int) -> Predictor:
        """The same weights for another number of frames (no parameter depends on T)."""
        if num_frames == self.num_frames:
            return self
        with self._lock:  # visitors of the app ask at the same time
            if num_frames not in self._by_frames:
                model = VideoNet(dataclasses.replace(self.model.config, num_frames=num_frames))
                model = prepare_for_inference(model)  # as self.model: BatchNorm folded, channels_last
                model.load_state_dict(self.model.state_dict())
                self._by_frames[num_frames] = Predictor(self.name, model, self.classes, self.size,
                                                        self.resize)
                while len(self._by_frames) > self.FRAME_COUNTS_KEPT:
                    self._by_frames.popitem(last=False)
            self._by_frames.move_to_end(num_frames)
            return self._by_frames[num_frames]


def load_predictor(
    checkpoint: str | Path,
    labels: str | Path | None = None,
    model_name: str | None = None,
    size: int | None = None,
    resize: int | None = None,
    num_frames: int | None = None,
    limits: Limits | None = None,
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
        num_frames: frames per clip; the authors' released models default to 16 (8x2).
        limits: refuse networks and label lists over the limits before allocating them
            (`BudgetError`; what the app passes for uploaded checkpoints).

    Raises `FileNotFoundError`, or `ValueError` (a `CheckpointMismatchError` for weights
    that do not fit the model) naming the problem. Files are read with weights_only=True.
    """
    model, classes, saved = load_network(checkpoint, labels, model_name, num_frames, limits)
    size, resize = size or saved.size, resize or saved.resize
    # BatchNorm folded, channels_last: faster on CPU (docs/benchmarks/speed.md)
    model = prepare_for_inference(model)
    predictor = Predictor(model.config.name, model, classes, size, resize)
    return predictor.with_frames(num_frames) if num_frames else predictor


@torch.inference_mode()
def predict_clip(predictor: Predictor, clip: Clip) -> dict[str, float]:
    """`{class: probability}` for a clip already loaded (`clips.load_clip`)."""
    probs = predictor.model(clip.input).softmax(-1)[0]
    return {c: float(p) for c, p in zip(predictor.classes, probs)}


def predict(video: str | Path | Tensor, predictor: Predictor,
            num_frames: int | None = None) -> dict[str, float]:
    """`{class: probability}` for a clip file or uint8 frames, with evaluation preprocessing."""
    predictor = predictor.with_frames(num_frames or predictor.num_frames)
    return predict_clip(predictor, load_clip(video, predictor.num_frames, predictor.size, predictor.resize))


def explain(predictor: Predictor, clip: Clip, target: str | None = None, method: str = "saliency", **options):
    """`explanation.explain`: attribution maps on every frame, drawn, and each frame's removal."""
    from .explanation import explain as explain_clip

    return explain_clip(predictor, clip, target, method, **options)
