"""Per-frame attributions of a video classifier with Captum, on the whole clip at once.

Temporal modules mix frames, so a frame cannot be explained on its own: every method here
takes the whole clip `(1, T, 3, H, W)` in one pass and returns one map per frame, `(T, H, W)`.
`signed_attribution` keeps each method's own values and sign (what the app draws and sums per
frame); `attribute` gives the older non-negative maps normalised by the clip's largest value.

| method                 | what it measures (signed)                                  | cost |
|------------------------|------------------------------------------------------------|------|
| `saliency`             | d score / d pixel, the plain gradient                      | 1 backward |
| `integrated_gradients` | gradients integrated from a baseline clip (below): each    | `steps` backwards |
|                        | pixel's share of score(clip) - score(baseline)             | |
| `occlusion`            | score drop when a patch of one frame is greyed out         | many forwards |
| `gradcam`              | Grad-CAM on a layer's feature maps, upsampled (before ReLU) | 1 backward |

Integrated gradients' baselines: a black clip, a blurred clip, or "frozen" (the middle frame
repeated: the clip's appearance without its motion).

Every map sums the three colour channels, as Captum's `visualize_image_attr` does.

bLVNet caveats for layer-level maps (Grad-CAM): after each bL stage both frames of a pair
hold one fused map (the paper copies it back to both frames), and stage 4 sees one frame
per pair, so layer maps have half the temporal resolution: both frames of a pair get the
same map. `gradcam` is written out here on the pair's fused map itself, which
`VideoNet.forward_intermediates` gives before it is copied (Captum's `LayerGradCam` on the
stage would see the copies: after `layer3` only the odd copy reaches stage 4, so every even
frame would get an empty map). Pixel-level methods (saliency, integrated gradients,
occlusion) keep one map per frame.

`frame_removal` asks a coarser question: how much does the class's score drop when a frame
is replaced (by grey, its neighbour or the clip's mean frame)? A replacement is itself an
input the model never saw, so the answer depends on it. `temporal_importance` is the same
question in Captum's terms (`FeatureAblation`, grey), as a probability drop.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.transforms.v2 import functional as TF

from .. import budget
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..models.blvnet import STAGES

with warnings.catch_warnings():
    # Captum imports tqdm.auto, which in a Jupyter kernel without ipywidgets warns (naming its
    # file's path) and falls back to text progress bars: the fallback is what we want.
    warnings.filterwarnings("ignore", message="IProgress not found")
    from captum.attr import FeatureAblation, IntegratedGradients, LayerAttribution, Occlusion, Saliency

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "BASELINES",
    "BASELINE_NAMES",
    "REPLACEMENTS",
    "REPLACEMENT_NAMES",
    "attribute",
    "signed_attribution",
    "baseline_clip",
    "grad_cam",
    "temporal_importance",
    "normalise_clip",
    "FrameRemoval",
    "frame_removal",
    "replacement_clip",
]

METHODS = ("saliency", "integrated_gradients", "occlusion", "gradcam")
METHOD_NAMES = {
    "saliency": "Saliency",
    "integrated_gradients": "Integrated gradients",
    "occlusion": "Occlusion",
    "gradcam": "Grad-CAM",
}
BASELINES = ("black", "blurred", "frozen")
BASELINE_NAMES = {
    "black": "black clip",
    "blurred": "blurred clip",
    "frozen": "middle frame, frozen (no motion)",
}
REPLACEMENTS = ("grey", "neighbour", "mean")
REPLACEMENT_NAMES = {
    "grey": "grey (ImageNet's mean colour)",
    "neighbour": "the previous frame (frame 1 for frame 0)",
    "mean": "the clip's mean frame",
}


def normalise_clip(maps: Tensor) -> Tensor:
    """Scale `(T, H, W)` maps by the clip's largest value: one scale for every frame."""
    maps = maps.clamp_min(0)
    peak = maps.max()
    return maps / peak if peak > 0 else maps


def baseline_clip(video: Tensor, kind: str = "black") -> Tensor:
    """A reference clip for integrated gradients, shaped like `video` `(1, T, 3, H, W)`.

    black: black frames; blurred: every frame heavily blurred (keeps colours, removes
    detail); frozen: the middle frame repeated (keeps appearance, removes motion).
    """
    if kind == "black":
        mean = torch.tensor(IMAGENET_MEAN, dtype=video.dtype, device=video.device).view(1, 1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=video.dtype, device=video.device).view(1, 1, 3, 1, 1)
        return ((0.0 - mean) / std).expand_as(video).contiguous()
    if kind == "blurred":
        size = max(3, (min(video.shape[-2:]) // 8) | 1)
        return TF.gaussian_blur(video.flatten(0, 1), [size, size], [size / 3.0]).view_as(video)
    if kind == "frozen":
        middle = video[:, video.shape[1] // 2 : video.shape[1] // 2 + 1]
        return middle.expand_as(video).contiguous()
    raise ValueError(f"unknown baseline {kind!r}; choose from {BASELINES}")


def _attributions(
    model: nn.Module,
    video: Tensor,
    target: int,
    method: str,
    baseline: str,
    steps: int,
    internal_batch_size: int,
    layer: str,
    occlusion_window: int | None,
    signed: bool,
) -> Tensor:
    """Each method's maps `(T, H, W)` from one clip `(1, T, 3, H, W)`: signed (the channel sum of
    Captum's attributions) or as `attribute` has always drawn them (non-negative)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    if video.ndim != 5 or video.shape[0] != 1:
        raise ValueError(f"expected one clip (1, T, 3, H, W), got {tuple(video.shape)}")
    model.eval()
    _, t, _, h, w = video.shape
    video = video.detach()
    if method == "saliency":
        maps = Saliency(model).attribute(video.requires_grad_(), target=target, abs=not signed)
        maps = maps[0].sum(1)  # (T, H, W): the gradient, or |gradient| summed over colours
    elif method == "integrated_gradients":
        ig = IntegratedGradients(model)
        maps = ig.attribute(
            video,
            baselines=baseline_clip(video, baseline),
            target=target,
            n_steps=steps,
            internal_batch_size=internal_batch_size,
        )
        maps = maps[0].sum(1)  # (T, H, W)
        maps = maps if signed else maps.abs()
    elif method == "occlusion":
        window = occlusion_window or budget.occlusion_window(h, w)  # what budget.plan_explanation prices
        stride = budget.occlusion_stride(window)
        maps = Occlusion(model).attribute(
            video,
            sliding_window_shapes=(1, 3, window, window),
            strides=(1, 3, stride, stride),
            target=target,
            baselines=0.0,
            perturbations_per_eval=budget.occlusion_batch(t, h, w),
        )
        # (T, H, W): positive where hiding the patch lowers the score. A patch covers the three
        # colours, so each holds the same drop: signed maps keep one.
        maps = maps[0, :, 0] if signed else maps[0].sum(1)
    else:
        cam = grad_cam(model, video, target, layer, relu=not signed)  # (T', 1, h, w)
        cam = LayerAttribution.interpolate(cam, (h, w), interpolate_mode="bilinear")  # (T', 1, H, W)
        maps = cam[:, 0]
        if maps.shape[0] != t:  # bLVNet layers: one map per pair, shown on both of its frames
            maps = maps.repeat_interleave(t // maps.shape[0], dim=0)
    return maps.detach().float()


def signed_attribution(
    model: nn.Module,
    video: Tensor,
    target: int,
    method: str = "saliency",
    baseline: str = "black",
    steps: int = 16,
    internal_batch_size: int = 4,
    layer: str = "layer3",
    occlusion_window: int | None = None,
) -> Tensor:
    """Each method's own per-pixel values `(T, H, W)`, signed, summed over colour channels.

    Positive values raise the class's score (saliency: its gradient; integrated gradients:
    each pixel's share of score(clip) - score(baseline); occlusion: the score lost when the
    pixel's patch is hidden; Grad-CAM: the class-weighted feature map before Grad-CAM's
    ReLU). Arguments as in `attribute`. Drawing them is `overlays.display_maps`'s job."""
    return _attributions(
        model,
        video,
        target,
        method,
        baseline,
        steps,
        internal_batch_size,
        layer,
        occlusion_window,
        signed=True,
    )


def attribute(
    model: nn.Module,
    video: Tensor,
    target: int,
    method: str = "saliency",
    baseline: str = "black",
    steps: int = 16,
    internal_batch_size: int = 4,
    layer: str = "layer3",
    occlusion_window: int | None = None,
) -> Tensor:
    """Per-frame attribution maps `(T, H, W)` in `[0, 1]` (normalised across the clip).

    Non-negative maps as the course draws them: saliency |gradient| summed over colours,
    integrated gradients |sum over colours|, occlusion's drop and Grad-CAM (after its ReLU),
    negative values set to 0, divided by the clip's largest value.

    Args:
        model: a `VideoNet` in eval mode.
        video: the normalised model input `(1, T, 3, H, W)`.
        target: the class to explain.
        method: one of `METHODS`.
        baseline: integrated gradients' reference clip, one of `BASELINES`.
        steps: integrated gradients' steps; `internal_batch_size` bounds memory.
        layer: the module Grad-CAM looks at (`layer1` .. `layer4`).
        occlusion_window: side of the occluding patch (default: an eighth of the frame).
    """
    maps = _attributions(
        model,
        video,
        target,
        method,
        baseline,
        steps,
        internal_batch_size,
        layer,
        occlusion_window,
        signed=False,
    )
    return normalise_clip(maps)


def grad_cam(
    model: nn.Module, video: Tensor, target: int, layer: str = "layer3", relu: bool = True
) -> Tensor:
    """Grad-CAM (Selvaraju et al., 2017) on a stage's output: `ReLU(sum_c mean_hw(dS/dA_c) A_c)`
    (without the ReLU when `relu=False`: negative where the features speak against the class).

    `layer` is a stage (`layer0` .. `layer4`); its output comes from
    `VideoNet.forward_intermediates`, on whichever modules run. Returns `(M, 1, h, w)` for one
    clip: one map per frame, or per frame pair where bLVNet fuses pairs (a bL stage's output
    is each pair's fused map, before it is copied back to both frames).
    """
    if layer not in STAGES or layer == "stem":
        raise ValueError(f"Grad-CAM looks at a stage's output: one of {STAGES[1:]}, got {layer!r}")
    features, kept = model.forward_intermediates(video, [layer])
    score = model.forward_head(features)[:, target].sum()
    maps = kept[layer].maps.flatten(0, 1)  # (B*M, C, h, w): the tensor the forward pass used
    (grad,) = torch.autograd.grad(score, kept[layer].maps)
    weights = grad.flatten(0, 1).mean(dim=(2, 3), keepdim=True)  # (B*M, C, 1, 1)
    cam = (weights * maps).sum(1, keepdim=True)  # (B*M, 1, h, w)
    return (cam.relu() if relu else cam).detach()


def temporal_importance(model: nn.Module, video: Tensor, target: int) -> Tensor:
    """`(T,)`: drop of the target probability when each frame is replaced by a grey frame
    (ImageNet's mean colour, 0 after normalisation; `frame_removal` offers other replacements)."""
    model.eval()
    t = video.shape[1]
    mask = torch.arange(t, device=video.device).view(1, t, 1, 1, 1).expand_as(video)  # one feature per frame

    def probability(clip: Tensor) -> Tensor:
        return F.softmax(model(clip), dim=-1)

    with torch.no_grad():
        drop = FeatureAblation(probability).attribute(video, target=target, feature_mask=mask, baselines=0.0)
    return drop[0, :, 0, 0, 0].float()  # (T,)


def replacement_clip(video: Tensor, replacement: str = "grey") -> Tensor:
    """`(1, T, 3, H, W)`: what replaces each frame when `frame_removal` removes it.

    grey: ImageNet's mean colour (0 after normalisation, what `temporal_importance` uses);
    neighbour: the previous frame (frame 1 replaces frame 0), an input with no new content;
    mean: the clip's mean frame, the clip's colours without its motion."""
    if replacement == "grey":
        return torch.zeros_like(video)
    if replacement == "neighbour":
        previous = torch.cat([video[:, 1:2], video[:, :-1]], dim=1)  # (1, T, 3, H, W): frame t-1 at t
        return previous.contiguous()
    if replacement == "mean":
        return video.mean(dim=1, keepdim=True).expand_as(video).contiguous()
    raise ValueError(f"unknown replacement {replacement!r}; choose from {REPLACEMENTS}")


@dataclass
class FrameRemoval:
    """The class's score and probability on the clip, and with each frame replaced."""

    replacement: str
    score: float  # the class's score (logit) on the clip as it is
    probability: float
    scores: Tensor  # (T,) the score with frame t replaced
    probabilities: Tensor  # (T,)

    @property
    def score_drop(self) -> Tensor:
        """`(T,)`: what the class's score loses without each frame (negative: it gains)."""
        return self.score - self.scores

    @property
    def probability_drop(self) -> Tensor:
        return self.probability - self.probabilities


@torch.inference_mode()
def frame_removal(
    model: Callable[[Tensor], Tensor], video: Tensor, target: int, replacement: str = "grey", batch: int = 4
) -> FrameRemoval:
    """Each frame of one clip `(1, T, 3, H, W)` replaced in turn (`replacement_clip`): the
    class's score and probability each time, `T + 1` forward passes in batches of `batch` clips."""
    if video.ndim != 5 or video.shape[0] != 1:
        raise ValueError(f"expected one clip (1, T, 3, H, W), got {tuple(video.shape)}")
    if isinstance(model, nn.Module):
        model.eval()
    t = video.shape[1]
    fill = replacement_clip(video, replacement)
    logits = [model(video)]  # (1, K)
    for start in range(0, t, batch):
        frames = range(start, min(start + batch, t))
        clips = video.expand(len(frames), *video.shape[1:]).clone()  # (b, T, 3, H, W)
        for row, frame in enumerate(frames):
            clips[row, frame] = fill[0, frame]
        logits.append(model(clips))  # (b, K)
    logits = torch.cat(logits).float()  # (1 + T, K)
    probabilities = logits.softmax(-1)[:, target]
    return FrameRemoval(
        replacement, logits[0, target].item(), probabilities[0].item(), logits[1:, target], probabilities[1:]
    )
