"""TAM: depthwise Temporal Aggregation Module (paper, Sec. 3.2, Fig. 2).

For a clip of `T` feature maps `x_t` with `C` channels and a blending width `2k+1`, TAM
learns one weight per channel and per temporal offset `o` in `-k..k` and computes

    y_t = ReLU( sum_{o=-k..k}  w_o (.) x_{t+o} ),      x_{t+o} = 0 outside the clip,

where `(.)` scales every channel by its own weight (a depthwise 1x1 convolution). Seen along
time this is a depthwise temporal convolution of kernel size `2k+1` with zero padding.

The parameter is `weight` of shape `(2k+1, C)`: row `i` holds offset `i - k`, so row 0
looks furthest into the past. `forward` below is the paper's recipe, as the authors wrote
it: one depthwise 1x1 convolution per offset (a per-channel scale; the authors use
`nn.Conv2d(C, C, 1, groups=C)`), shift along time with zero padding, stack, sum, ReLU.
Every step allocates a full-size tensor; `fast/tam.py` computes the same sum in place
(`FastTAM`, what models built with `fast=True` hold).

TAM has no idea of the clip length until it sees a clip: `forward(x, num_frames)` takes
the folded frames and `T`, so one module (and one built network) runs any clip length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .temporal import fold_time, unfold_time

__all__ = ["TAM", "TAM_INITS"]

TAM_INITS = ("kaiming", "identity")


class TAM(nn.Module):
    """Temporal aggregation over folded frames: `(B*T, C, H, W)` -> `(B*T, C, H, W)`."""

    def __init__(self, channels: int, *, blending_frames: int = 3, init: str = "kaiming") -> None:
        super().__init__()
        if blending_frames < 1 or blending_frames % 2 == 0:
            raise ValueError(f"blending_frames must be odd and >= 1, got {blending_frames}")
        if init not in TAM_INITS:
            raise ValueError(f"TAM init must be one of {TAM_INITS}, got {init!r}")
        self.channels = channels
        self.blending_frames = blending_frames
        self.init = init
        self.weight = nn.Parameter(torch.empty(blending_frames, channels))  # (2k+1, C)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise the `(offsets, channels)` weights as `init` says.

        - `"kaiming"` (default, the authors'): each offset is a depthwise 1x1 `nn.Conv2d`
          in their code, initialised like every convolution with
          `kaiming_normal_(mode="fan_out", nonlinearity="relu")`. A depthwise weight
          `(C, 1, 1, 1)` has fan-out C, so every weight is drawn from N(0, 2/C). Past and
          future frames get as much weight as the current one from the first step, which
          is what lets training find uses for them (docs/benchmarks/tam_init.md: from this
          start tiny bLVNet-TAM learned long-range order in every seed, from the identity
          start late or not at all).
        - `"identity"`: weight 1 on the current frame, 0 elsewhere. TAM's input is the output
          of a ReLU, so the network starts as the image model it was built from: a choice
          for fine-tuning an ImageNet backbone that should not be disturbed at the start.
        """
        with torch.no_grad():
            if self.init == "identity":
                self.weight.zero_()
                self.weight[self.blending_frames // 2].fill_(1.0)
            else:  # kaiming_normal_(fan_out) of a (C, 1, 1, 1) depthwise kernel
                self.weight.normal_(0.0, (2.0 / self.channels) ** 0.5)

    @property
    def offsets(self) -> list[int]:
        """Temporal offsets `-k..k`, in the order of the rows of `weight`."""
        k = self.blending_frames // 2
        return list(range(-k, k + 1))

    def forward(self, x: Tensor, num_frames: int) -> Tensor:
        """`(B*T, C, H, W)` frames of clips of `T = num_frames` -> `(B*T, C, H, W)`, each
        frame mixed with its neighbours in its own clip."""
        k = self.blending_frames // 2
        shifted = []
        for i, offset in enumerate(self.offsets):
            # The depthwise 1x1 convolution of offset i: every channel scaled by its own weight.
            scaled = x * self.weight[i].to(x.dtype).view(1, self.channels, 1, 1)  # (B*T, C, H, W)
            scaled = unfold_time(scaled, num_frames)  # (B, T, C, H, W)
            # Frame t must receive x_{t+offset}: pad k frames on both ends of time, then
            # take the window that starts `offset` frames after the original start.
            padded = F.pad(scaled, (0, 0, 0, 0, 0, 0, k, k))  # (B, T+2k, C, H, W)
            shifted.append(padded[:, k + offset : k + offset + num_frames])  # (B, T, C, H, W)
        out = torch.stack(shifted, dim=0).sum(dim=0)  # (B, T, C, H, W)
        return fold_time(F.relu(out))  # (B*T, C, H, W)

    def every_frame(self, x: Tensor, num_frames: int) -> Tensor:
        """The output at every frame, `(B*T, C, H, W)`: `forward` here; a TAM that reads a
        clip stored another way (`fast.PairTAM`) converts, so that callers need not know."""
        return self(x, num_frames)

    def offset_weights(self) -> Tensor:
        """A detached `(offsets, channels)` copy of the weights, for plotting."""
        return self.weight.detach().clone()

    def extra_repr(self) -> str:
        return f"channels={self.channels}, blending_frames={self.blending_frames}, init={self.init!r}"
