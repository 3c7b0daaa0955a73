"""The learned TAM weights: what each temporal module takes from past, current and future frames.

Each TAM holds `w[o, c]` for offsets `o = -k..k` and channels `c`. Per layer we summarise
the share of each offset in the total weight magnitude, `mean_c |w[o, c]| / sum_o mean_c |w[o, c]|`,
and group it into past (o < 0), current (o = 0) and future (o > 0). A layer whose TAM puts
most of its weight on o = 0 barely mixes frames; one that spreads it looks around in time.

`group_channels` reads one layer channel by channel: each channel's `2k+1` weights say whether
it mostly passes on the past, the current or the future frame, mixes them, or is near zero
(the channel is all but switched off).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..models.tam import TAM

__all__ = ["TAMSummary", "tam_weights", "summarize_tams", "CHANNEL_GROUPS", "ChannelGroups", "group_channels"]


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
    return {name: m.offset_weights() for name, m in model.named_modules() if isinstance(m, TAM)}


def summarize_tams(model: nn.Module) -> list[TAMSummary]:
    summaries = []
    for name, weights in tam_weights(model).items():
        k = weights.shape[0] // 2
        magnitude = weights.abs().mean(dim=1)  # (offsets,)
        share = magnitude / magnitude.sum().clamp_min(torch.finfo(magnitude.dtype).tiny)
        summaries.append(
            TAMSummary(
                layer=name,
                offsets=list(range(-k, k + 1)),
                share=share.tolist(),
                past=share[:k].sum().item(),
                current=share[k].item(),
                future=share[k + 1 :].sum().item(),
                channels=weights.shape[1],
            )
        )
    return summaries


CHANNEL_GROUPS = ("mostly past", "mostly current", "mostly future", "mixing", "near zero")


@dataclass(frozen=True)
class ChannelGroups:
    """One TAM's channels by what their weights do; `order` lists the channels group by group."""

    groups: dict[str, list[int]]  # group -> channels, the most typical first
    order: list[int]  # every channel once: the groups of CHANNEL_GROUPS one after the other
    past: list[float]  # per channel: share of |weight| on past offsets (o < 0)
    current: list[float]
    future: list[float]

    def counts(self) -> dict[str, int]:
        return {name: len(channels) for name, channels in self.groups.items()}


def group_channels(weights: Tensor, dominant: float = 0.6, near_zero: float = 0.1) -> ChannelGroups:
    """Group the channels of one TAM's `(offsets, C)` weights.

    A channel is *near zero* when the sum of its |weights| is below `near_zero` times the layer's
    median channel; otherwise *mostly past / current / future* when that side holds at least
    `dominant` of its |weight|, else *mixing* (e.g. a difference of past and future, a motion
    detector). Inside a group, channels are sorted by their share of that side (mixing and
    near zero: by total |weight|, largest first)."""
    if weights.ndim != 2 or weights.shape[0] % 2 == 0:
        raise ValueError(f"expected (2k+1, C) TAM weights, got {tuple(weights.shape)}")
    k = weights.shape[0] // 2
    magnitude = weights.detach().abs().double()  # (2k+1, C)
    total = magnitude.sum(0)  # (C,)
    safe = total.clamp_min(torch.finfo(total.dtype).tiny)
    past, current, future = magnitude[:k].sum(0) / safe, magnitude[k] / safe, magnitude[k + 1 :].sum(0) / safe
    quiet = total < near_zero * total.median()
    sides = torch.stack([past, current, future])  # (3, C)
    side = sides.argmax(0)  # (C,)
    strong = sides.max(0).values >= dominant
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(CHANNEL_GROUPS[:3]):
        members = (~quiet & strong & (side == index)).nonzero().flatten()
        groups[name] = members[sides[index, members].argsort(descending=True)].tolist()
    for name, members in (
        ("mixing", (~quiet & ~strong).nonzero().flatten()),
        ("near zero", quiet.nonzero().flatten()),
    ):
        groups[name] = members[total[members].argsort(descending=True)].tolist()
    order = [c for name in CHANNEL_GROUPS for c in groups[name]]
    return ChannelGroups(groups, order, past.tolist(), current.tolist(), future.tolist())
