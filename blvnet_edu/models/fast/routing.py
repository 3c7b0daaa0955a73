"""Pair storage: one map per frame pair between the bL stages, instead of two copies.

After a bL stage both frames of a pair hold the same fused map (`FrameRouting.merge` copies
it). `PairStorage` is a `FrameRouting(2)` that keeps the map once, `(B*T/2, C, H, W)`:

- `merge` keeps the fused maps as they are (no copy);
- `select` has nothing to do before stage 4: one map per pair is what stage 4 reads;
- `split` is the paper's, used once: on the stem output, in bL layer 0.

The next stage's TAM reads the pairs as two frames each without materialising them
(`PairTAM`, `fast/tam.py`), and `FastBLModule` (`fast/blnet.py`) is the stage that takes
pairs. Measured in docs/benchmarks/speed.md.
"""

from __future__ import annotations

from torch import Tensor

from ..temporal import FrameRouting

__all__ = ["PairStorage"]


class PairStorage(FrameRouting):
    """`FrameRouting(2)` for a network that stores one map per pair between its bL stages."""

    def __init__(self) -> None:
        super().__init__(2)

    def merge(self, fused: Tensor) -> Tensor:
        return fused  # (B*T/2, C, H, W): one map per pair, read as two frames by the next TAM

    def select(self, frames: Tensor) -> Tensor:
        return frames  # already one map per pair

    def extra_repr(self) -> str:
        return "one map per frame pair"
