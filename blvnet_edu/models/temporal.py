"""Folding time into the batch, and routing frames between the big and little branches.

A video network built from 2D convolutions sees a clip `(B, T, C, H, W)` as a batch of
frames `(B*T, C, H, W)`: `fold_time` and `unfold_time` are the only two places where that
reshape happens.

Frame routing is what separates bLVNet from its image-model ancestor (paper, Sec. 3.1):

- `PairRouting` (bLVNet): the big branch sees the odd frames 1, 3, 5, ... and the little
  branch the even frames 0, 2, 4, ... (0-based). Adding the two branch outputs fuses each
  adjacent pair (local fusion), and the merged map is copied back to both frames of the
  pair so the next stage again sees `T` frames. Stage 4 keeps one frame per pair.
- `FrameRouting` (TSN, TSN-bLNet): every frame goes through both branches; frames never
  meet, and stage 4 sees every frame.

Because `T` is even and frames are folded clip-major, "odd frames of every clip" is simply
`x[1::2]` on the folded batch.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["fold_time", "unfold_time", "PairRouting", "FrameRouting"]


def fold_time(video: Tensor) -> Tensor:
    """`(B, T, C, H, W)` -> `(B*T, C, H, W)`, clip-major (frame t of clip b at `b*T + t`)."""
    return video.flatten(0, 1)


def unfold_time(frames: Tensor, num_frames: int) -> Tensor:
    """`(B*T, ...)` -> `(B, T, ...)`: the inverse of `fold_time`."""
    return frames.unflatten(0, (-1, num_frames))


class PairRouting:
    """bLVNet routing: big <- odd frames, little <- even frames, one fused map per pair."""

    frames_per_output = 2  # input frames summarised by one stage-4 frame

    @staticmethod
    def split(x: Tensor) -> tuple[Tensor, Tensor]:
        """`(B*T, C, H, W)` -> big input `(B*T/2, ...)` (odd frames), little input (even)."""
        return x[1::2], x[0::2]

    @staticmethod
    def merge(fused: Tensor) -> Tensor:
        """`(B*T/2, C, H, W)` -> `(B*T, C, H, W)`: the pair's fused map in both of its slots."""
        return fused.repeat_interleave(2, dim=0)  # (B*T, C, H, W)

    @staticmethod
    def select(x: Tensor) -> Tensor:
        """Stage 4 runs on one frame per pair: `(B*T, ...)` -> `(B*T/2, ...)`."""
        return x[1::2]


class FrameRouting:
    """TSN routing: every frame through both branches, frames stay independent."""

    frames_per_output = 1

    @staticmethod
    def split(x: Tensor) -> tuple[Tensor, Tensor]:
        return x, x

    @staticmethod
    def merge(fused: Tensor) -> Tensor:
        return fused

    @staticmethod
    def select(x: Tensor) -> Tensor:
        return x


Routing = PairRouting | FrameRouting

