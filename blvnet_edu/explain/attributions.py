"""Per-frame attributions of a video classifier with Captum, on the whole clip at once.

Temporal modules mix frames, so a frame cannot be explained on its own: every method here
takes the whole clip `(1, T, 3, H, W)` in one pass and returns one map per frame,
`(T, H, W)`, normalised by the largest value *of the clip* so that frames can be compared.

| method                 | what it measures                                              | cost |
|------------------------|---------------------------------------------------------------|------|
| `saliency`             | |d score / d pixel|                                            | 1 backward |
| `integrated_gradients` | gradients integrated from a baseline clip (black, blurred, or "frozen": one frame repeated) | `steps` backwards, batched |
| `occlusion`            | score drop when a patch of one frame is greyed out            | many forwards |
| `gradcam`              | Grad-CAM on a layer's feature maps, upsampled                 | 1 backward |

bLVNet caveats for layer-level maps (Grad-CAM): after each bL stage both frames of a pair
hold one fused map (the paper copies it back to both frames), and stage 4 sees one frame
per pair, so layer maps have half the temporal resolution: both frames of a pair get the
same map. The gradient of that map is the sum over its two copies (after `layer3` only the
odd copy reaches stage 4: Captum's `LayerGradCam` would give every even frame an empty map),
so `gradcam` is written out here. Pixel-level methods (saliency, integrated gradients,
occlusion) keep one map per frame.

`temporal_importance` asks the coarser question: how much does the target probability drop
when a frame is removed (replaced by the mean frame, i.e. zeros after normalisation)?
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import FeatureAblation, IntegratedGradients, LayerAttribution, Occlusion, Saliency
from torch import Tensor, nn
from torchvision.transforms.v2 import functional as TF

from .. import budget
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["METHODS", "BASELINES", "attribute", "baseline_clip", "grad_cam", "temporal_importance", "normalise_clip"]

BL_STAGES = ("layer0", "layer1", "layer2", "layer3")  # outputs hold each pair's fused map twice

METHODS = ("saliency", "integrated_gradients", "occlusion", "gradcam")
BASELINES = ("black", "blurred", "frozen")


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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    if video.ndim != 5 or video.shape[0] != 1:
        raise ValueError(f"expected one clip (1, T, 3, H, W), got {tuple(video.shape)}")
    model.eval()
    _, t, _, h, w = video.shape
    video = video.detach()
    if method == "saliency":
        maps = Saliency(model).attribute(video.requires_grad_(), target=target, abs=True)
        maps = maps[0].sum(1)  # (T, H, W)
    elif method == "integrated_gradients":
        ig = IntegratedGradients(model)
        maps = ig.attribute(video, baselines=baseline_clip(video, baseline), target=target,
                            n_steps=steps, internal_batch_size=internal_batch_size)
        maps = maps[0].sum(1).abs()  # (T, H, W)
    elif method == "occlusion":
        window = occlusion_window or budget.occlusion_window(h, w)  # what budget.plan_explanation prices
        stride = budget.occlusion_stride(window)
        maps = Occlusion(model).attribute(
            video, sliding_window_shapes=(1, 3, window, window), strides=(1, 3, stride, stride),
            target=target, baselines=0.0, perturbations_per_eval=8,
        )
        maps = maps[0].sum(1)  # (T, H, W): positive where hiding the patch lowers the score
    else:
        cam = grad_cam(model, video, target, layer)  # (T', 1, h, w)
        cam = LayerAttribution.interpolate(cam, (h, w), interpolate_mode="bilinear")  # (T', 1, H, W)
        maps = cam[:, 0]
        if maps.shape[0] != t:  # bLVNet layers: one map per pair, shown on both of its frames
            maps = maps.repeat_interleave(t // maps.shape[0], dim=0)
    return normalise_clip(maps.detach().float())


def grad_cam(model: nn.Module, video: Tensor, target: int, layer: str = "layer3") -> Tensor:
    """Grad-CAM (Selvaraju et al., 2017) on `layer`'s output: `ReLU(sum_c mean_hw(dS/dA_c) A_c)`.

    Returns `(T', 1, h, w)` for one clip: one map per frame, or per frame pair where bLVNet
    fuses pairs (a bL stage's output holds each pair's map for both frames: the pair's
    gradient is the sum over the two copies).
    """
    module = dict(model.named_modules()).get(layer)
    if module is None:
        raise ValueError(f"the model has no layer {layer!r}")
    seen = {}
    handle = module.register_forward_hook(lambda _m, _i, out: seen.__setitem__("maps", out))
    try:
        score = model(video)[:, target].sum()
    finally:
        handle.remove()
    maps = seen["maps"]  # (rows, C, h, w); with a hook the model runs the paper's path
    (grad,) = torch.autograd.grad(score, maps)
    config = getattr(model, "config", None)
    if layer in BL_STAGES and config is not None and config.frame_routing == "pairs" and config.backbone == "blresnet":
        grad = grad.unflatten(0, (-1, 2)).sum(1)  # (B*T/2, C, h, w): both copies of each pair
        maps = maps[1::2]  # the copies are equal
    weights = grad.mean(dim=(2, 3), keepdim=True)  # (rows, C, 1, 1)
    return (weights * maps).sum(1, keepdim=True).relu().detach()  # (rows, 1, h, w)


def temporal_importance(model: nn.Module, video: Tensor, target: int) -> Tensor:
    """`(T,)`: drop of the target probability when each frame is replaced by the mean frame."""
    model.eval()
    t = video.shape[1]
    mask = torch.arange(t, device=video.device).view(1, t, 1, 1, 1).expand_as(video)  # one feature per frame

    def probability(clip: Tensor) -> Tensor:
        return F.softmax(model(clip), dim=-1)

    with torch.no_grad():
        drop = FeatureAblation(probability).attribute(video, target=target, feature_mask=mask, baselines=0.0)
    return drop[0, :, 0, 0, 0].float()  # (T,)
