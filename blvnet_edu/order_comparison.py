"""Does the order of the frames matter? One clip, each model, before and after a reordering.

The paper's Figure 1 on one clip: every model predicts on the clip as it is and on the clip
reversed, with its halves swapped, its frame pairs shuffled (`data.order`) or in an order the
user typed; the answer says whose top-1 changed and whether the architecture could notice the
change at all (`order_sensitive`). Shared by the app, the notebooks and the README's example.

    models = {"TSN": load_predictor("tsn.pt"), "bLVNet-TAM": load_predictor("tam.pt")}
    clips = load_clips("clip.mp4", models)              # clips.load_clips: decoded once per preprocessing
    comparison = order_comparison(models, clips, "halves_swapped")
    print(order_markdown(comparison, "halves_swapped"))   # top-1 before/after, per model
    order_comparison(models, clips, "custom", order=parse_order("4 5 6 7 0 1 2 3", 8))

An order that does not fit the clip raises `ClipError` with a message meant for the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .clips import Clip, ClipError
from .data.order import ORDER_TESTS
from .inference import Predictor, predict_clip
from .models.blvnet import BLVNetConfig

if TYPE_CHECKING:  # a name for the signature only
    from .clip_cache import ClipCache

__all__ = [
    "parse_order",
    "reorder_clip",
    "order_sensitive",
    "OrderResult",
    "order_comparison",
    "ORDER_NAMES",
    "EXPECTED",
    "order_markdown",
]


def parse_order(text: str, frames: int) -> list[int]:
    """A typed frame order, e.g. `"4 5 6 7 0 1 2 3"` or `"4,5 | 6,7 | 0,1 | 2,3"`: `frames`
    positions of the clip as it is (0 = its first frame), repeats allowed. `ClipError` says
    what is wrong."""
    tokens = text.replace(",", " ").replace("|", " ").split()
    if not tokens:
        raise ClipError(
            f"type a frame order: {frames} positions from 0 to {frames - 1}, e.g. "
            f"{' '.join(map(str, range(frames)[::-1]))}"
        )
    try:
        order = [int(token) for token in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise ClipError(
            f"{bad!r} is not a frame position: use whole numbers from 0 to {frames - 1}"
        ) from None
    if len(order) != frames:
        raise ClipError(f"the order has {len(order)} positions; this clip has {frames} frames: give {frames}")
    outside = [p for p in order if not 0 <= p < frames]
    if outside:
        raise ClipError(f"position {outside[0]} is not in the clip: positions go from 0 to {frames - 1}")
    return order


def reorder_clip(
    clip: Clip, test: str, seed: int = 0, order: list[int] | None = None
) -> tuple[Clip, list[int]]:
    """The clip under an order test of `data.order` (`"reversed"`, `"shuffled_pairs"`,
    `"halves_swapped"`) or, for `test="custom"`, in `order` (`parse_order`); and the new order
    as positions in the original clip. The same seed gives the same shuffle."""
    t = len(clip.indices)
    if test == "custom":
        if order is None:
            raise ValueError("a custom order test needs `order`")
        order = torch.tensor(order)  # (T,)
        if len(order) != t or order.min() < 0 or order.max() >= t:
            raise ClipError(f"a custom order needs {t} positions from 0 to {t - 1}")
    elif test in ORDER_TESTS:
        positions = torch.arange(t).view(t, 1, 1, 1)  # (T, 1, 1, 1): the test moves positions like frames
        try:
            order = ORDER_TESTS[test](positions, torch.Generator().manual_seed(seed)).flatten()  # (T,)
        except ValueError as err:  # e.g. shuffling pairs of a 2-frame clip
            raise ClipError(str(err)) from err
    else:
        raise ValueError(f"unknown order test {test!r}; choose from {sorted(ORDER_TESTS)} or 'custom'")
    reordered = Clip(clip.frames[order], clip.input[:, order], [clip.indices[i] for i in order], clip.info)
    return reordered, order.tolist()


def _pairs(order: list[int]) -> list[tuple[int, ...]]:
    return sorted(tuple(order[i : i + 2]) for i in range(0, len(order), 2))


def order_sensitive(config: BLVNetConfig, test: str, order: list[int] | None = None) -> bool:
    """Whether the architecture can notice the test at all (paper, Figure 1).

    TSN averages per-frame predictions: a bag of frames, which notices only frames repeated
    or left out. bLVNet without TAM fuses the two frames of a pair only: a bag of pairs, which
    notices a reversal (each pair is reversed) but not pairs put in another order (shuffled
    pairs, swapped halves). TAM relates distant pairs: any new order. `order` (positions in
    the clip, as `reorder_clip` returns them) decides for custom orders; without it, a named
    test is judged on a clip of `config.num_frames` frames."""
    if order is None:
        if test == "custom":
            raise ValueError("a custom order test needs `order`")
        positions = torch.arange(config.num_frames).view(-1, 1, 1, 1)
        order = ORDER_TESTS[test](positions, torch.Generator().manual_seed(0)).flatten().tolist()
    identity = list(range(len(order)))
    if config.temporal_module is not None:
        return order != identity
    if config.frame_routing == "pairs":
        return _pairs(order) != _pairs(identity)
    return sorted(order) != identity


@dataclass
class OrderResult:
    """One model on a clip as it is and under an order test."""

    model: str
    original: dict[str, float]
    modified: dict[str, float]
    order: list[int]  # the modified clip's frames, as positions in the original clip
    can_change: bool  # order_sensitive: what the architecture allows
    frames: int = 0  # the clip's frames
    size: int = 0  # and their size

    @property
    def top1_original(self) -> str:
        return max(self.original, key=self.original.get)

    @property
    def top1_modified(self) -> str:
        return max(self.modified, key=self.modified.get)

    @property
    def changed(self) -> bool:
        return self.top1_original != self.top1_modified

    @property
    def largest_shift(self) -> float:
        """The largest change of any class probability."""
        return max(abs(self.modified[c] - p) for c, p in self.original.items())


def order_comparison(
    predictors: Mapping[str, Predictor],
    clips: Clip | Mapping[str, Clip],
    test: str,
    seed: int = 0,
    cache: ClipCache | None = None,
    order: list[int] | None = None,
) -> list[OrderResult]:
    """Every model on its clip as it is and under `test` (see `reorder_clip`; `order` for
    `test="custom"`); `clips` is one clip for all models or `load_clips`' `{name: clip}`. With
    a `cache`, predictions already made on the clips as they are are reused."""
    original = cache.predict if cache is not None else predict_clip
    results = []
    for name, predictor in predictors.items():
        clip = clips if isinstance(clips, Clip) else clips[name]
        if order is not None and len(order) != len(clip.indices):
            raise ClipError(
                f"the order has {len(order)} positions but {name} runs on {len(clip.indices)} "
                f"frames: type {len(clip.indices)} positions, or run every model on "
                f"{len(order)} frames"
            )
        modified, new_order = reorder_clip(clip, test, seed, order)
        results.append(
            OrderResult(
                name,
                original(predictor, clip),
                predict_clip(predictor, modified),
                new_order,
                order_sensitive(predictor.model.config, test, new_order),
                len(clip.indices),
                clip.frames.shape[-1],
            )
        )
    return results


ORDER_NAMES = {
    "reversed": "reversed",
    "shuffled_pairs": "pairs shuffled",
    "halves_swapped": "halves swapped",
    "custom": "in your order",
}
EXPECTED = (
    "Expected: TSN (a bag of frames) never changes unless frames are repeated or left out; bLVNet without "
    "TAM (a bag of frame pairs) can change when the pairs themselves change (reversed) but never when the "
    "same pairs come in another order (pairs shuffled, halves swapped); bLVNet-TAM (which relates distant "
    'pairs) can change under any new order. "Can it change?" is what the architecture allows; whether it '
    "does depends on what the model learned."
)


def _grouped(order: list[int], pairs: bool) -> str:
    if not pairs:
        return " ".join(map(str, order))
    return " | ".join(" ".join(map(str, order[i : i + 2])) for i in range(0, len(order), 2))


def order_markdown(results: list[OrderResult], test: str, seed: int | None = None) -> str:
    """Markdown: per model, top-1 before and after the test, whether it changed, what to expect."""
    after = ORDER_NAMES.get(test, test)
    lines = [
        f"| model | frames | top-1, clip as it is | top-1, {after} | changed? | largest probability shift | "
        "can it change? |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        changed = "**yes**" if r.changed else "no"
        frames = f"{r.frames} x {r.size} px" if r.frames else ""
        lines.append(
            f"| {r.model} | {frames} | {r.top1_original} ({r.original[r.top1_original]:.0%}) | "
            f"{r.top1_modified} ({r.modified[r.top1_modified]:.0%}) | {changed} | "
            f"{r.largest_shift:.3f} | {'yes' if r.can_change else 'never'} |"
        )
    orders = {_grouped(r.order, pairs=test != "reversed") for r in results}
    shown = "; ".join(f"`{o}`" for o in sorted(orders))
    how = f" (seed {seed})" if test == "shuffled_pairs" and seed is not None else ""
    return "\n".join(
        [
            *lines,
            "",
            f"The reordered clip ({after}{how}) shows the sampled frames in the order {shown} (0 = the first "
            "frame as it is; | separates frame pairs).",
            "",
            EXPECTED,
        ]
    )
