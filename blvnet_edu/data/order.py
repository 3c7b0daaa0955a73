"""Clip reordering for the order tests: played backwards, with its halves swapped, or with its
frame pairs shuffled.

Pure tensor functions with explicit randomness (a `torch.Generator`), shared by the order
diagnostics over a clip list (`engine/order_tests.py`, with the paper's Figure 1 as a table
of what each network notices), `order_comparison.reorder_clip` (the app) and the course.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["reverse_frames", "swap_halves", "halves_split", "shuffle_pairs", "ORDER_TESTS"]


def reverse_frames(video: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """`(..., T, 3, H, W)` -> the same frames, last first."""
    return video.flip(-4)


def halves_split(frames: int) -> int:
    """Where `swap_halves` cuts a clip of `frames` frames: between two frame pairs, at the
    middle when `frames` is a multiple of 4, else one pair after it (6 frames: 4 | 2)."""
    return 2 * -(-frames // 4)


def swap_halves(video: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """`(..., T, 3, H, W)` -> the second half first, then the first (T >= 4).

    The cut falls between two frame pairs (`halves_split`), so the pairs stay intact: to a
    bag of pairs (bLVNet without TAM) the swapped clip is the same clip, and only what relates
    distant pairs can notice. It turns each long-range class of the synthetic set into its
    partner ("moving left then right" -> "moving right then left")."""
    frames = video.shape[-4]
    if frames < 4:  # two frames are one pair: swapping would change nothing
        raise ValueError(f"swapping halves needs at least 4 frames (two pairs), got {frames}")
    return video.roll(-halves_split(frames), dims=-4)


def shuffle_pairs(video: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """`(B, [V,] T, 3, H, W)` -> each clip's frame pairs in a random order (never the same order).

    The two frames of a pair stay together and in order, so bLVNet's local fusion sees
    exactly the pairs it saw before; only what relates distant pairs (TAM) can notice.
    """
    frames = video.shape[-4]
    if frames % 2 or frames < 4:
        raise ValueError(f"shuffling frame pairs needs an even number of frames >= 4, got {frames}")
    pairs = frames // 2
    clips = video.reshape(-1, pairs, 2, *video.shape[-3:])  # (N, T/2, 2, 3, H, W)
    out = torch.empty_like(clips)
    for i in range(len(clips)):
        order = torch.randperm(pairs, generator=generator)
        while torch.equal(order, torch.arange(pairs)):
            order = torch.randperm(pairs, generator=generator)
        out[i] = clips[i, order]
    return out.reshape(video.shape)


ORDER_TESTS: dict[str, Callable[[Tensor, torch.Generator | None], Tensor]] = {
    "reversed": reverse_frames,
    "shuffled_pairs": shuffle_pairs,
    "halves_swapped": swap_halves,  # deterministic: the generator's stream is left to the shuffle
}
