"""The whole network with every speed trick: what `VideoNet` runs when built with `fast=True`.

`VideoNet.forward_features` (models/blvnet.py) is the paper, step by step. `forward_features`
here computes the same function from the same modules and parameters (a whole-network test,
tests/test_models_fast_network.py, checks outputs and every parameter gradient in float64), with:

- **One map per pair (pair storage).** After a bL stage both frames of a pair hold the same
  map, so we keep it once, `(B*T/2, C, H, W)`, and never copy it back (`FrameRouting.merge`)
  nor pick one frame for stage 4 (`FrameRouting.select`). The next stage's TAM reads the map
  as two frames without materialising them (`fast/tam.py: tam_pairs`, exact).
- **TAM in place** with a hand-written backward (`fast/tam.py`); at inference, the stem
  output is aggregated over itself.
- **Split without copies:** the odd and even frames of the stem output as two views, whose
  backward writes both gradients into one tensor (`_SplitPairs`).
- **Upsample-and-add in place** through a broadcasting view (`upsample_add_`).
- **channels_last on CPU:** oneDNN's convolutions run faster in that layout; the input is
  converted once, and every layer keeps it.

The measured effect of each is in docs/benchmarks/speed.md. Hooks registered on any
submodule make `VideoNet` run the paper's path instead (`has_hooks`): this path does not go
through the stage modules' `forward`, and the tensors it holds are not the paper's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules import module as _module

from ..temporal import fold_time, unfold_time
from .tam import tam_frames, tam_pairs

__all__ = ["forward_features", "has_hooks", "upsample_add_", "split_pairs", "CHANNELS_LAST_ON_CPU"]

CHANNELS_LAST_ON_CPU = True  # docs/benchmarks/speed.md: plain call, contiguous vs channels_last

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
_GLOBAL_HOOKS = ("_global_forward_hooks", "_global_forward_pre_hooks", "_global_backward_hooks",
                 "_global_backward_pre_hooks")


def has_hooks(model: nn.Module) -> bool:
    """Whether a module hook is registered on any submodule of `model` (or globally)."""
    if any(getattr(_module, name, None) for name in _GLOBAL_HOOKS):
        return True
    return any(getattr(m, name, None) for m in model.modules() if m is not model for name in _HOOK_DICTS)


class _SplitPairs(torch.autograd.Function):
    """`(2N, ...)` frames -> views of the odd and the even frames, `(N, ...)` each."""

    @staticmethod
    def forward(ctx, x: Tensor) -> tuple[Tensor, Tensor]:
        ctx.shape, ctx.dtype, ctx.device = x.shape, x.dtype, x.device
        ctx.channels_last = x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last)
        pairs = x.unflatten(0, (-1, 2))  # (N, 2, ...), a view
        return pairs[:, 1], pairs[:, 0]

    @staticmethod
    def backward(ctx, grad_odd: Tensor | None, grad_even: Tensor | None) -> Tensor:
        layout = torch.channels_last if ctx.channels_last else torch.contiguous_format
        grad = torch.empty(ctx.shape, dtype=ctx.dtype, device=ctx.device, memory_format=layout)
        pairs = grad.unflatten(0, (-1, 2))  # (N, 2, ...)
        for slot, g in ((1, grad_odd), (0, grad_even)):
            pairs[:, slot].copy_(g) if g is not None else pairs[:, slot].zero_()
        return grad


def split_pairs(frames: Tensor) -> tuple[Tensor, Tensor]:
    """`(B*T, C, H, W)` -> (odd frames, even frames), two views `(B*T/2, C, H, W)`.

    `FrameRouting(2).split` with a cheaper backward: autograd's own for two slices fills two
    full-size zero tensors and adds them, about 4x slower on the stem output.
    """
    return _SplitPairs.apply(frames)


def upsample_add_(little: Tensor, big: Tensor) -> Tensor:
    """`little += nearest_upsample(big)`, in place: `(N, C, H, W)` += `(N, C, h, w)`.

    When `H, W = 2h, 2w` (the usual case) every big pixel is added to its 2x2 block of
    little pixels through a broadcasting view, with no upsampled copy of `big`; otherwise
    (odd sizes) `F.interpolate` does the upsampling. `little` must not be needed by autograd
    as it was (here it is a BatchNorm output, which its backward does not use).
    """
    (h, w), (height, width) = big.shape[-2:], little.shape[-2:]
    if (height, width) != (2 * h, 2 * w):
        return little.add_(F.interpolate(big, size=(height, width), mode="nearest"))
    blocks = little.unflatten(3, (w, 2)).unflatten(2, (h, 2))  # (N, C, h, 2, w, 2), a view
    blocks.add_(big[:, :, :, None, :, None])
    return little


def _bl_layer0(layer: nn.Module, frames: Tensor, pairs: bool) -> Tensor:
    """`BLLayer0`: the stem output `(B*T, C, H, W)` -> `(N, C, H/2, W/2)`, one map per pair
    (N = B*T/2) or per frame (N = B*T)."""
    if layer.tam is not None:  # the only reader of the stem output: at inference, in place
        frames = tam_frames(frames, layer.tam.weight, layer.tam.num_frames, inplace=True)
    big, little = split_pairs(frames) if pairs else (frames, frames)  # (N, C, H, W) each
    big = layer.bn_b0(layer.b_conv0(big))  # (N, C, H/2, W/2)
    little = layer.relu(layer.bn_l0(layer.l_conv0(little)))  # (N, C/alpha, H, W)
    little = layer.relu(layer.bn_l1(layer.l_conv1(little)))  # (N, C/alpha, H/2, W/2)
    little = layer.bn_l2(layer.l_conv2(little))  # (N, C, H/2, W/2)
    fused = layer.relu(little.add_(big))  # in place: BatchNorm outputs are not kept for backward
    return layer.relu(layer.bn_bl_init(layer.bl_init(fused)))  # (N, C, H/2, W/2)


def _bl_module(stage: nn.Module, x: Tensor, pairs: bool) -> Tensor:
    """`BLModule` on its stored input: `(N, C_in, H, W)` -> `(N, C_out, H/s, W/s)`."""
    tam = stage.tam
    if tam is None:
        big = little = x  # both frames of a pair hold the same map
    elif pairs:
        big, little = tam_pairs(x, tam.weight, tam.num_frames)  # the odd and even frames after TAM
    else:
        big = little = tam_frames(x, tam.weight, tam.num_frames)
    big = stage.big(big)  # (N, C_out, H/2, W/2)
    little = stage.little_e(stage.little(little))  # (N, C_out, H, W)
    fused = stage.relu(upsample_add_(little, big))  # (N, C_out, H, W)
    return stage.fusion(fused)  # (N, C_out, H/s, W/s)


def _bottleneck(block: nn.Module, x: Tensor) -> Tensor:
    """`Bottleneck` with its TAM (stage 4) computed by `tam_frames`."""
    if block.tam is None:
        return block(x)
    identity = x  # the shortcut keeps the input, so TAM cannot overwrite it
    x = tam_frames(x, block.tam.weight, block.tam.num_frames)
    out = block.relu(block.bn1(block.conv1(x)))
    out = block.relu(block.bn2(block.conv2(out)))
    out = block.bn3(block.conv3(out))
    if block.downsample is not None:
        identity = block.downsample(x)
    out += identity
    return block.relu(out) if block.last_relu else out


def forward_features(model: nn.Module, video: Tensor) -> Tensor:
    """`VideoNet.forward_features` with the tricks above: `(B, T, 3, H, W)` -> `(B, T', C)`."""
    config = model.config
    x = fold_time(video)  # (B*T, 3, H, W)
    if CHANNELS_LAST_ON_CPU and x.device.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)  # every layer keeps the layout
    x = model.relu(model.bn1(model.conv1(x)))  # (B*T, 64, H/2, W/2)
    if config.backbone == "blresnet":
        pairs = model.routing.group_size == 2
        x = _bl_layer0(model.layer0, x, pairs)  # (N, 64, H/4, W/4), N = B*T/2 with pairs
        for stage in (model.layer1, model.layer2, model.layer3):
            x = _bl_module(stage, x, pairs)  # (N, 1024, H/16, W/16) after layer3
    else:  # TSN's plain ResNet
        for layer in (model.layer0, model.layer1, model.layer2, model.layer3):
            x = layer(x)
    # x holds one map per pair: exactly the frames that stage 4 selects.
    for block in model.layer4:
        x = _bottleneck(block, x)  # (B*T', 2048, H/32, W/32)
    x = model.avgpool(x).flatten(1)  # (B*T', 2048)
    return unfold_time(x, config.output_frames)  # (B, T', 2048)
