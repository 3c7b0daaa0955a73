"""Folding BatchNorm into the convolution before it, for inference (a speed trick).

In evaluation mode a BatchNorm is a fixed per-channel affine map,

    BN(z) = gamma * (z - mean) / sqrt(var + eps) + beta = s * z + (beta - s * mean),

so after a convolution `z = W * x + b` it can be folded into the convolution itself:
`W' = s W` (each output channel scaled) and `b' = s b + beta - s mean`. The network then
computes the same function (up to float rounding) with one pass over each feature map
instead of two, and one tensor less to allocate per layer: on a CPU, BatchNorm takes about
15% of bLVNet-TAM-50's inference time (benchmarks/speed.py).

`fold_batchnorm_` changes the model in place: the BatchNorms become `nn.Identity`, and the
state dict gets convolution biases instead of BatchNorm entries, so fold a copy made for
inference, never a model you will train or save as a checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__ = ["fold_batchnorm_", "prepare_for_inference"]

# (convolution, the BatchNorm right after it), by attribute name: the stem and Bottlenecks
# (conv1/bn1, ...) and bL layer 0 (b_conv0/bn_b0, ...). Shortcuts and `little_e` are
# `nn.Sequential`s, where a BatchNorm right after a convolution reads its output.
_NAMED_PAIRS = (
    ("conv1", "bn1"),
    ("conv2", "bn2"),
    ("conv3", "bn3"),
    ("b_conv0", "bn_b0"),
    ("l_conv0", "bn_l0"),
    ("l_conv1", "bn_l1"),
    ("l_conv2", "bn_l2"),
    ("bl_init", "bn_bl_init"),
)


def _conv_bn_pairs(module: nn.Module) -> Iterator[tuple[str, str]]:
    """Names of the (Conv2d, BatchNorm2d) children of `module` where the BN reads the conv's output."""
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for a, b in zip(names, names[1:]):
            if isinstance(module._modules[a], nn.Conv2d) and isinstance(module._modules[b], nn.BatchNorm2d):
                yield a, b
        return
    for conv, bn in _NAMED_PAIRS:
        if isinstance(getattr(module, conv, None), nn.Conv2d) and isinstance(
            getattr(module, bn, None), nn.BatchNorm2d
        ):
            yield conv, bn


def fold_batchnorm_(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm that follows a convolution into it; `model` must be in eval mode.

    Returns `model`, whose BatchNorms are now `nn.Identity`. Raises `ValueError` in training
    mode (BatchNorm then normalises with batch statistics and cannot be folded).
    """
    if model.training:
        raise ValueError("fold_batchnorm_ needs a model in eval mode (model.eval())")
    for module in list(model.modules()):
        for conv_name, bn_name in list(_conv_bn_pairs(module)):
            conv, bn = getattr(module, conv_name), getattr(module, bn_name)
            if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
                continue  # already folded
            fused = fuse_conv_bn_eval(conv, bn)
            if conv.weight.is_contiguous(memory_format=torch.channels_last):  # keep the layout
                fused.weight.data = fused.weight.data.contiguous(memory_format=torch.channels_last)
            setattr(module, conv_name, fused)
            setattr(module, bn_name, nn.Identity())
    return model


def prepare_for_inference(model: nn.Module) -> nn.Module:
    """`model` in eval mode, BatchNorm folded, parameters in channels_last (in place).

    What `blvnet_edu.inference` runs: on CPU, folding and channels_last parameters make the
    forward faster than the plain call (docs/benchmarks/speed.md).
    """
    return fold_batchnorm_(model.eval()).to(memory_format=torch.channels_last)
