"""Pair storage: one map per frame pair between the bL stages, instead of two copies.

After a bL stage both frames of a pair hold the same fused map (`FrameRouting.merge` copies
it). `PairStorage` is a `FrameRouting(2)` that keeps the map once, `(B*T/2, C, H, W)`:

- `merge` keeps the fused maps as they are (no copy);
- `select` has nothing to do before stage 4: one map per pair is what stage 4 reads;
- `split` gives the big and little branch's frames of the stem output as two views, whose
  backward writes both gradients into one tensor (`split_pairs`).

The next stage's TAM reads the pairs as two frames each without materialising them
(`PairTAM`, `fast/tam.py`), and `FastBLModule` (`fast/blnet.py`) is the stage that takes
pairs. Measured in docs/benchmarks/speed.md.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..temporal import FrameRouting

__all__ = ["PairStorage", "split_pairs"]


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
    full-size zero tensors and adds them."""
    return _SplitPairs.apply(frames)


class PairStorage(FrameRouting):
    """`FrameRouting(2)` for a network that stores one map per pair between its bL stages."""

    def __init__(self) -> None:
        super().__init__(2)

    def split(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        return split_pairs(frames)

    def merge(self, fused: Tensor) -> Tensor:
        return fused  # (B*T/2, C, H, W): one map per pair, read as two frames by the next TAM

    def select(self, frames: Tensor) -> Tensor:
        return frames  # already one map per pair

    def extra_repr(self) -> str:
        return "one map per frame pair"
