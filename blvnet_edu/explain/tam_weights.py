"""The learned TAM weights: what each temporal module takes from past, current and future frames.

Each TAM holds `w[o, c]` for offsets `o = -k..k` and channels `c`. Per layer we summarise
the share of each offset in the total weight magnitude, `mean_c |w[o, c]| / sum_o mean_c |w[o, c]|`,
and group it into past (o < 0), current (o = 0) and future (o > 0). A layer whose TAM puts
most of its weight on o = 0 barely mixes frames; one that spreads it looks around in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..models.tam import TAM

__all__ = ["TAMSummary", "tam_weights", "summarize_tams"]


@dataclass(frozen=True)
class TAMSummary:
    layer: str
    offsets: list[int]
    share: list[float]  # per offset, sums to 1
    past: float
    current: float
    future: float
    channels: int


def tam_weights(model: nn.Module) -> dict[str, Tensor]:
    """`{module name: (offsets, channels) weights}` for every TAM, in forward order."""
    return {
        name: m.offset_weights()
        for name, m in model.named_modules()
        if isinstance(m, TAM)
    }


def summarize_tams(model: nn.Module) -> list[TAMSummary]:
    summaries = []
    for name, weights in tam_weights(model).items():
        k = weights.shape[0] // 2
        magnitude = weights.abs().mean(dim=1)  # (offsets,)
        share = magnitude / magnitude.sum().clamp_min(torch.finfo(magnitude.dtype).tiny)
        summaries.append(TAMSummary(
            layer=name,
            offsets=list(range(-k, k + 1)),
            share=share.tolist(),
            past=share[:k].sum().item(),
            current=share[k].item(),
            future=share[k + 1 :].sum().item(),
            channels=weights.shape[1],
        ))
    return summaries
