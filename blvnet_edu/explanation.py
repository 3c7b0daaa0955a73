"""One prediction explained, step by step: a method's attribution on the whole clip, how it is
drawn, what removing each frame costs, and what the model's TAMs do to the clip.

Shared by the app, `blvnet-edu predict --explain` and the notebooks (through
`inference.explain`); no UI code here. The steps are apart so that the app can redo only what
a control changes: drawing (sign, opacity) never reruns the method, and a new method never
decodes or predicts again.

    clip = load_clip("clip.mp4", model.num_frames, model.size, model.resize)
    found = attribution(model, clip, "moving left", "integrated_gradients", "frozen", steps=16)
    found.per_frame, found.share                   # (T,) signed sums, (T,) shares of |attribution|
    shown = draw(found, clip, sign="positive", alpha=0.7)    # overlays, captions, the colour scale
    removal = remove_frames(model, clip, "moving left", "neighbour")    # (T,) score drops
    result = explain(model, clip, method="saliency")          # all of it at once (an Explanation)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from .budget import Deadline, Limits, plan_explanation
from .clips import Clip, ClipError
from .explain.attributions import (
    BASELINES,
    METHODS,
    REPLACEMENTS,
    FrameRemoval,
    baseline_clip,
    frame_removal,
    signed_attribution,
)
from .explain.overlays import OUTLIER_PERC, display_maps, overlay
from .inference import Predictor, predict_clip
from .model_card import cost

__all__ = [
    "Attribution",
    "Drawing",
    "Explanation",
    "attribution",
    "draw",
    "remove_frames",
    "explain",
    "UNITS",
    "WithDeadline",
]

UNITS = {  # what one pixel's value is, per method
    "saliency": "gradient of the class's score",
    "integrated_gradients": "share of score(clip) - score(baseline)",
    "occlusion": "score lost when the pixel's patch is hidden",
    "gradcam": "class-weighted feature map (Grad-CAM before its ReLU)",
}


class WithDeadline(torch.nn.Module):
    """A model that checks the request's deadline before each forward pass (no hooks: the
    model keeps its fast path)."""

    def __init__(self, model: torch.nn.Module, deadline: Deadline):
        super().__init__()
        self.model, self.deadline = model, deadline

    def forward(self, video: Tensor) -> Tensor:
        self.deadline.check("the explanation")
        return self.model(video)


@dataclass
class Attribution:
    """What one method says about one class on one clip, before any choice of how to draw it."""

    method: str
    baseline: str  # integrated gradients' reference clip ("" for the other methods)
    target: str
    values: Tensor  # (T, H, W) signed, summed over colours, in the method's units (UNITS)
    steps: int = 0  # integrated gradients' steps (0 for the other methods)
    note: str = ""  # what the limits scaled down, for the user
    # integrated gradients: score(clip) - score(baseline), what the values add up to
    score_gap: float | None = None

    @property
    def per_frame(self) -> Tensor:
        """`(T,)`: each frame's attribution summed over its pixels (signed)."""
        return self.values.sum(dim=(1, 2))

    @property
    def share(self) -> Tensor:
        """`(T,)`: each frame's share of the clip's |attribution| (sums to 1)."""
        magnitude = self.values.abs().sum(dim=(1, 2))
        total = magnitude.sum()
        return magnitude / total if total > 0 else magnitude


def _target_index(predictor: Predictor, clip: Clip, target: str | None) -> tuple[str, int]:
    if target is None:
        probs = predict_clip(predictor, clip)
        target = max(probs, key=probs.get)
    if target not in predictor.classes:
        raise ClipError(f"unknown class {target!r}")
    return target, predictor.classes.index(target)


def attribution(
    predictor: Predictor,
    clip: Clip,
    target: str | None = None,
    method: str = "saliency",
    baseline: str = "black",
    steps: int = 16,
    limits: Limits | None = None,
    deadline: Deadline | None = None,
    occlusion_window: int | None = None,
) -> Attribution:
    """`method`'s signed attribution of `target` (default: the top-1 class) on every frame.

    With `limits`, the work is planned first (`budget.plan_explanation`): occlusion's patches
    grow and integrated gradients take fewer steps to fit `max_explain_gflop` (the `note`
    says so), and a method that cannot fit raises `BudgetError` before any forward pass.
    With a `deadline`, `RequestTimeout` stops it between forward passes. `occlusion_window`:
    occlusion's patch side (default: an eighth of the frame, or what the limits allow)."""
    if method not in METHODS:
        raise ClipError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if baseline not in BASELINES:
        raise ClipError(f"unknown baseline {baseline!r}; choose from {', '.join(BASELINES)}")
    target, index = _target_index(predictor, clip, target)
    window, note = occlusion_window, ""
    if limits is not None:
        plan = plan_explanation(
            method,
            len(clip.indices),
            predictor.size,
            cost(predictor.model.config, predictor.size, len(clip.indices))[1],
            steps,
            limits,
            frame_test=False,
        )
        steps, window, note = plan.steps, plan.occlusion_window, plan.note
    model = predictor.model
    forward = WithDeadline(model, deadline) if deadline is not None else model
    values = signed_attribution(
        model if method == "gradcam" else forward,
        clip.input,
        index,
        method=method,
        baseline=baseline,
        steps=steps,
        occlusion_window=window,
    )
    if method != "integrated_gradients":
        return Attribution(method, "", target, values, 0, note)
    with torch.inference_mode():  # completeness: how close the values come to what they should add up to
        scores = forward(torch.cat([clip.input, baseline_clip(clip.input, baseline)]))[:, index].float()
    return Attribution(method, baseline, target, values, steps, note, float(scores[0] - scores[1]))


@dataclass
class Drawing:
    """An attribution drawn over the clip's frames."""

    sign: str
    alpha: float
    maps: Tensor  # (T, S, S) in [0, 1] ([-1, 1] for sign "all"), one scale for the clip
    threshold: float  # the attribution value drawn at full strength (larger values saturate)
    overlays: Tensor  # (T, 3, S, S) uint8
    captions: list[str]


def draw(
    found: Attribution,
    clip: Clip,
    sign: str = "absolute_value",
    alpha: float = 0.55,
    outlier_perc: float = OUTLIER_PERC,
    grey: bool = False,
) -> Drawing:
    """Overlays of `found` on the clip's frames (in grey if `grey`): the chosen sign, one robust
    scale for the whole clip (`overlays.display_maps`), captions with each frame's value and share."""
    maps, threshold = display_maps(found.values, sign, outlier_perc)
    captions = [
        f"frame {i}: {value:+.2g} ({share:.0%})"
        for i, value, share in zip(clip.indices, found.per_frame.tolist(), found.share.tolist())
    ]
    return Drawing(sign, alpha, maps, threshold, overlay(clip.frames, maps, alpha, sign, grey), captions)


def remove_frames(
    predictor: Predictor,
    clip: Clip,
    target: str | None = None,
    replacement: str = "grey",
    deadline: Deadline | None = None,
) -> FrameRemoval:
    """The class's score with each frame replaced in turn (`attributions.frame_removal`)."""
    if replacement not in REPLACEMENTS:
        raise ClipError(f"unknown replacement {replacement!r}; choose from {', '.join(REPLACEMENTS)}")
    _, index = _target_index(predictor, clip, target)
    forward = WithDeadline(predictor.model, deadline) if deadline is not None else predictor.model
    return frame_removal(forward, clip.input, index, replacement)


@dataclass
class Explanation:
    """`explain`'s answer: the attribution, drawn, and what removing each frame costs."""

    target: str
    maps: Tensor  # (T, S, S) drawn maps, one scale for the clip
    overlays: Tensor  # (T, 3, S, S) uint8
    importance: Tensor  # (T,) probability drop when the frame is replaced
    captions: list[str]  # "frame <index in the file>: <sum of its attribution> (<share>)"
    note: str = ""  # what was scaled down to stay within the limits, for the user
    attribution: Attribution | None = field(default=None, repr=False)
    removal: FrameRemoval | None = field(default=None, repr=False)
    drawing: Drawing | None = field(default=None, repr=False)


def explain(
    predictor: Predictor,
    clip: Clip,
    target: str | None = None,
    method: str = "saliency",
    baseline: str = "black",
    steps: int = 16,
    limits: Limits | None = None,
    deadline: Deadline | None = None,
    sign: str = "absolute_value",
    alpha: float = 0.55,
    replacement: str = "grey",
) -> Explanation:
    """Attribution maps on every frame, drawn, and each frame's removal, in one call.

    With `limits` the method and the frame removal together must fit the budget
    (`budget.plan_explanation`); see `attribution` for what is scaled down."""
    target, _ = _target_index(predictor, clip, target)
    window, note = None, ""
    if limits is not None:  # the whole request: the method and T + 1 forward passes
        plan = plan_explanation(
            method,
            len(clip.indices),
            predictor.size,
            cost(predictor.model.config, predictor.size, len(clip.indices))[1],
            steps,
            limits,
        )
        steps, window, note = plan.steps, plan.occlusion_window, plan.note
    found = attribution(predictor, clip, target, method, baseline, steps, None, deadline, window)
    found.note = note
    removal = remove_frames(predictor, clip, target, replacement, deadline)
    shown = draw(found, clip, sign, alpha)
    return Explanation(
        target,
        shown.maps,
        shown.overlays,
        removal.probability_drop,
        shown.captions,
        found.note,
        found,
        removal,
        shown,
    )
