"""What TAM does to one clip: the temporal receptive field of a TAM's output frames.

A TAM mixes each frame with its `k` neighbours; the blocks between two TAMs work frame by
frame, and bLVNet's merge fuses the two frames of a pair. Composed through the layers, an
output frame of a deep TAM depends on a span of input frames that grows with depth. For one
clip, the *influence* of input frame `s` on output frame `t` of a TAM is measured by the
gradient: `sum |d (sum of output frame t) / d (input frame s)|` over the pixels of frame `s`,
with every ReLU and channel of the network between them as they are for this clip. Each row
is then divided by its sum: the share of each input frame in the output frame.

    field = temporal_receptive_field(model, clip.input, "layer4.1.tam")   # (T_out, T)
    span(field[-1])                       # (first, last) input frames that hold 90% of it

Rows are the TAM's output frames: every frame in bL layer 0 and stages 1-3 (both frames of a
pair hold the pair's fused map from stage 1 on), one row per frame pair in stage 4. TSN and
bLVNet without TAM have no TAM: their frames never meet (bLVNet's only meet their pair).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["temporal_receptive_field", "span", "output_frames"]


def output_frames(model: nn.Module, layer: str, num_frames: int) -> int:
    """How many frames a TAM's output holds for a clip of `num_frames`: the clip's, or one
    per pair in stage 4."""
    if layer not in model.tams():
        raise ValueError(f"the model has no TAM named {layer!r}")
    return model.output_frames(num_frames) if layer.startswith("layer4.") else num_frames


def temporal_receptive_field(model: nn.Module, video: Tensor, layer: str, check=None) -> Tensor:
    """`(T_out, T)`: the share of each input frame in each output frame of TAM `layer`, for one
    clip `(1, T, 3, H, W)`; every row sums to 1 (a row with no gradient at all stays 0).

    The TAM's output comes from `VideoNet.forward_intermediates` (which stops there), then one
    backward pass per output frame. `check`, if given, is called before each pass (the app's
    deadline)."""
    if video.ndim != 5 or video.shape[0] != 1:
        raise ValueError(f"expected one clip (1, T, 3, H, W), got {tuple(video.shape)}")
    rows = output_frames(model, layer, video.shape[1])
    video = video.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        _, kept = model.forward_intermediates(video, [layer], stop_early=True)
    out = kept[layer].maps[0]  # (T_out, C, h, w) for one clip
    field = torch.zeros(rows, video.shape[1], dtype=torch.float64)
    for t in range(rows):
        if check is not None:
            check()
        (grad,) = torch.autograd.grad(out[t].sum(), video, retain_graph=t < rows - 1)
        field[t] = grad[0].abs().sum(dim=(1, 2, 3)).double()  # (T,): one value per input frame
    totals = field.sum(dim=1, keepdim=True)
    return torch.where(totals > 0, field / totals.clamp_min(1e-300), field).float()


def span(row: Tensor, mass: float = 0.9) -> tuple[int, int]:
    """The first and last input frame of the shortest run of consecutive frames that holds at
    least `mass` of a row of `temporal_receptive_field`."""
    values = row.double()
    total = float(values.sum())
    if total <= 0:
        return (0, len(values) - 1)
    best = (0, len(values) - 1)
    for first in range(len(values)):
        acc = 0.0
        for last in range(first, len(values)):
            acc += float(values[last])
            if acc >= mass * total - 1e-12:
                if last - first < best[1] - best[0]:
                    best = (first, last)
                break
    return best
