"""Folding time into the batch, and routing frames between the big and little branches.

A video network built from 2D convolutions sees a clip `(B, T, C, H, W)` as a batch of
frames `(B*T, C, H, W)`: `fold_time` and `unfold_time` are the only two places where that
reshape happens.

Frame routing is what separates bLVNet from its image-model ancestor (paper, Sec. 3.1):

- `PairRouting` (bLVNet): the big branch sees the odd frames 1, 3, 5, ... and the little
  branch the even frames 0, 2, 4, ... (0-based). Adding the two branch outputs fuses each
  adjacent pair (local fusion). The paper copies the fused map back to both frames of the
  pair; the copies are equal, so we store it once per pair and let the next stage's TAM
  read it as two frames (`TAM.forward_pairs`, exact). Stage 4 runs on one frame per pair.
- `FrameRouting` (TSN, TSN-bLNet): every frame goes through both branches; frames never
  meet, and stage 4 sees every frame.

Because `T` is even and frames are folded clip-major, "odd frames of every clip" is simply
`x[1::2]` on the folded batch, and one map per pair is `(B*T/2, C, H, W)`.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["fold_time", "unfold_time", "through_frames", "PairRouting", "FrameRouting"]


def fold_time(video: Tensor) -> Tensor:
    """`(B, T, C, H, W)` -> `(B*T, C, H, W)`, clip-major (frame t of clip b at `b*T + t`)."""
    return video.flatten(0, 1)


def unfold_time(frames: Tensor, num_frames: int) -> Tensor:
    """`(B*T, ...)` -> `(B, T, ...)`: the inverse of `fold_time`."""
    return frames.unflatten(0, (-1, num_frames))


def through_frames(temporal, pairs: Tensor) -> tuple[Tensor, Tensor]:
    """A temporal module over a clip stored as one map per frame pair, by definition: copy
    each map to both frames of its pair, apply the module, and return the odd frames (big
    branch) and the even frames (little branch), `(B*T/2, C, H, W)` each."""
    frames = temporal(pairs.repeat_interleave(2, dim=0))  # (B*T, C, H, W)
    return PairRouting.route_frames(frames)


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


class PairRouting:
    """bLVNet routing: big <- odd frames, little <- even frames, one fused map per pair.

    After bL layer 0 the clip is stored as one map per pair, `(B*T/2, C, H, W)`: the paper
    copies the fused map back to both frames of the pair, and both copies are equal, so we
    keep it once. A stage's temporal module still sees `T` frames (`TAM.forward_pairs`).
    """

    frames_per_output = 2  # input frames summarised by one stage-4 frame

    @staticmethod
    def route_frames(x: Tensor) -> tuple[Tensor, Tensor]:
        """`(B*T, C, H, W)` frames -> big input (odd frames), little input (even), `(B*T/2, ...)` each.

        Both are views. The backward writes the two gradients into one tensor; autograd's
        own for two slices `x[1::2], x[0::2]` fills two full-size tensors with zeros and adds
        them, about 4x slower on the stem output.
        """
        return _SplitPairs.apply(x)

    @staticmethod
    def route_stage(x: Tensor, temporal=None) -> tuple[Tensor, Tensor]:
        """A stage's input, one map per pair `(B*T/2, ...)` -> (big input, little input).

        With a temporal module, the two frames of a pair differ after it: the big branch
        gets the odd frames, the little branch the even frames.
        """
        if temporal is None:
            return x, x
        if hasattr(temporal, "forward_pairs"):
            return temporal(x, pairs=True)  # through __call__, so hooks on the TAM fire
        return through_frames(temporal, x)  # any other module sees real frames

    @staticmethod
    def fuse(fused: Tensor) -> Tensor:
        """What a stage returns: the fused map of each pair, standing for both of its frames."""
        return fused

    @staticmethod
    def select(x: Tensor) -> Tensor:
        """Stage 4 runs on one frame per pair: the clip already holds one map per pair."""
        return x


class FrameRouting:
    """TSN routing: every frame through both branches, frames stay independent."""

    frames_per_output = 1

    @staticmethod
    def route_frames(x: Tensor) -> tuple[Tensor, Tensor]:
        return x, x

    @staticmethod
    def route_stage(x: Tensor, temporal=None) -> tuple[Tensor, Tensor]:
        x = temporal(x) if temporal is not None else x
        return x, x

    @staticmethod
    def fuse(fused: Tensor) -> Tensor:
        return fused

    @staticmethod
    def select(x: Tensor) -> Tensor:
        return x


Routing = PairRouting | FrameRouting
