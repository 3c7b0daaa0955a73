"""Folding time into the batch, and routing frames between the big and little branches.

A video network built from 2D convolutions sees a clip `(B, T, C, H, W)` as a batch of
frames `(B*T, C, H, W)`: `fold_time` and `unfold_time` are the only two places where that
reshape happens. Frames are folded clip-major: frame t of clip b sits at `b*T + t`. `T` is
an input, not a build parameter: the network reads it from the video and hands it to every
module that mixes frames (`tam(x, num_frames)`), so one built model runs any clip length.

Frame routing is what separates bLVNet from its image-model ancestor (paper, Sec. 3.1).
A bL stage reads a clip of `T` frames and

1. `split`s it: the big branch gets the odd frames 1, 3, 5, ... and the little branch the
   even frames 0, 2, 4, ... (0-based), `T/2` each;
2. adds the two branch outputs: frame `2i` meets frame `2i+1` (local fusion of a pair),
   one fused map per pair;
3. the network `merge`s: the fused map of each pair is copied back to both of its frames,
   so the next stage (and its TAM) again sees `T` frames.

Stage 4 runs on one frame per pair (`select`). That is `FrameRouting(2)` (`PAIRS`). TSN-bLNet
sends every frame through both branches and frames never meet: `FrameRouting(1)`
(`SINGLE_FRAMES`), the same three steps with groups of one frame.

Because `T` is even and frames are folded clip-major, "the odd frames of every clip" is
`x[1::2]` on the folded batch. This file is the paper, step by step; `fast/routing.py`
stores each pair's map once instead of copying it (same values, measured faster).
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["fold_time", "unfold_time", "FrameRouting", "PAIRS", "SINGLE_FRAMES"]


def fold_time(video: Tensor) -> Tensor:
    """`(B, T, C, H, W)` -> `(B*T, C, H, W)`, clip-major (frame t of clip b at `b*T + t`)."""
    return video.flatten(0, 1)


def unfold_time(frames: Tensor, num_frames: int) -> Tensor:
    """`(B*T, ...)` -> `(B, T, ...)`: the inverse of `fold_time`."""
    return frames.unflatten(0, (-1, num_frames))


class FrameRouting(nn.Module):
    """Which frames a bL stage's branches see, in groups of `group_size` consecutive frames.

    bLVNet (groups of 2): big <- the last frame of each pair (odd frames), little <- the
    first (even frames). TSN-bLNet (groups of 1): both branches see every frame. A module
    without parameters, so that `print(model)` shows the routing that runs (`fast/` swaps it).
    """

    def __init__(self, group_size: int) -> None:
        super().__init__()
        if group_size not in (1, 2):
            raise ValueError(f"frames are routed alone (1) or in pairs (2), got {group_size}")
        self.group_size = group_size

    def split(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """`(B*T, C, H, W)` -> (big input, little input), `(B*T/g, C, H, W)` each."""
        g = self.group_size
        return frames[g - 1 :: g], frames[0::g]  # pairs: odd frames, even frames

    def merge(self, fused: Tensor) -> Tensor:
        """`(B*T/g, C, H, W)` fused maps -> `(B*T, C, H, W)`: each copied to every frame of its group."""
        if self.group_size == 1:
            return fused
        return fused.repeat_interleave(self.group_size, dim=0)  # (B*T, C, H, W): f0 f0 f1 f1 ...

    def select(self, frames: Tensor) -> Tensor:
        """`(B*T, C, H, W)` -> `(B*T/g, C, H, W)`: one frame per group for stage 4 (the odd frames)."""
        g = self.group_size
        return frames[g - 1 :: g]

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


PAIRS = FrameRouting(2)  # bLVNet, bLVNet-TAM (for stages built by hand; a VideoNet makes its own)
SINGLE_FRAMES = FrameRouting(1)  # TSN-bLNet
