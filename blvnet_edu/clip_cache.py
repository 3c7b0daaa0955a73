"""One video's work, kept between the steps that use it: the app's per-visitor clip cache.

A Run of the app predicts with every model, runs the order test, explains, removes frames and
shows the TAMs, all on one clip; a control change redoes one of them. `ClipCache` keeps what
these steps share (the decoded clips, each model's probabilities, measured forward passes,
computed attributions), so that the file is decoded once per preprocessing, each model runs
once on it, and a control that changes only how an explanation is drawn reruns nothing.

    cache = ClipCache()
    clips = load_clips("clip.mp4", models, cache)          # clips.load_clips: decoded once
    probs = cache.predict(models["TSN"], clips["TSN"])     # predicted once per model and clip
    again = load_clips("clip.mp4", models, cache)          # no decoding: the cache's clips
    order_comparison(models, again, "reversed", cache=cache)   # TSN's original prediction reused
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .budget import ForwardTiming
from .clips import Clip
from .inference import Predictor, predict_clip

__all__ = ["ClipCache"]


def _file_identity(video: str | Path | Tensor | None) -> tuple[str, int, int] | None:
    """(path, size, modification time) of a clip file; None for frames in memory or no file."""
    if video is None or isinstance(video, Tensor) or str(video) == "":
        return None
    try:
        stat = Path(video).stat()
    except OSError:
        return None
    return str(video), stat.st_size, stat.st_mtime_ns


@dataclass
class ClipCache:
    """One video's decoded clips (one per preprocessing), each model's probabilities on them,
    and what later steps computed from them (`memo`).

    What the steps of one app Run share, so that the prediction, the order test and the
    explanation decode the file once and run each model on it once, and a control that changes
    only how an explanation is drawn reruns nothing. Another file (or the same path rewritten)
    empties it; frames in memory are never kept from one call to the next. Models are named by
    their `uid` and never kept alive by the cache.
    """

    video: tuple[str, int, int] | None = None  # _file_identity of the file the clips come from
    clips: dict[tuple[int, int, int], Clip] = field(default_factory=dict)  # (T, size, resize) -> clip
    probs: dict[tuple[int, int], tuple[Clip, dict[str, float]]] = field(default_factory=dict)
    # (uid, frames) -> one forward pass, measured
    seconds: dict[tuple[int, int], float] = field(default_factory=dict)
    memos: dict[tuple, tuple[Clip, object]] = field(default_factory=dict)
    tickets: collections.Counter = field(default_factory=collections.Counter)  # `ticket`: the latest request

    def ticket(self, what: str) -> int:
        """A number for a new request of kind `what`; a request whose number is no longer
        `tickets[what]` when it ends was overtaken by a later one (the app then shows the later)."""
        self.tickets[what] += 1
        return self.tickets[what]

    def use(self, video: str | Path | Tensor | None) -> None:
        """Forget everything that belongs to another video."""
        identity = _file_identity(video)
        if identity is None or identity != self.video:
            self.video, self.clips, self.probs, self.seconds, self.memos = identity, {}, {}, {}, {}

    def predict(self, predictor: Predictor, clip: Clip) -> dict[str, float]:
        """`predict_clip`, run once per model and clip of this video (its time is kept in `seconds`)."""
        key = (predictor.uid, id(clip))  # the entry keeps the clip alive: its id is not reused
        if key not in self.probs:
            start = time.perf_counter()
            self.probs[key] = (clip, predict_clip(predictor, clip))
            self.seconds[predictor.uid, predictor.num_frames] = time.perf_counter() - start
        return self.probs[key][1]

    def timing(self, predictor: Predictor, clip: Clip, batch: int = 2) -> ForwardTiming:
        """The model's forward pass on this clip, alone and in a batch of `batch` clips, measured
        once (what `budget.explanation_seconds` estimates from). A batch that would take over
        half a second is measured at 2 clips instead."""

        @torch.inference_mode()
        def run(clips: int) -> float:
            start = time.perf_counter()
            predictor.model(clip.input.expand(clips, *clip.input.shape[1:]))
            return time.perf_counter() - start

        def measure() -> ForwardTiming:
            single = min(run(1), run(1))  # the second runs warm
            clips = batch if single * batch <= 0.5 else 2
            return ForwardTiming(single, max((run(clips) - single) / (clips - 1), 0.02 * single))

        return self.memo(predictor, clip, ("timing", max(2, batch)), measure)

    def memo(self, predictor: Predictor, clip: Clip, what: tuple, compute: Callable[[], object]) -> object:
        """`compute()` once per model, clip and `what` (e.g. a method and its settings)."""
        key = (predictor.uid, id(clip), *what)
        if key not in self.memos:
            self.memos[key] = (clip, compute())
        return self.memos[key][1]

    def recall(self, predictor: Predictor, clip: Clip, what: tuple) -> object | None:
        """What `memo` or `remember` keeps for this model, clip and `what`; None if nothing."""
        return self.memos.get((predictor.uid, id(clip), *what), (None, None))[1]

    def remember(self, predictor: Predictor, clip: Clip, what: tuple, value: object) -> None:
        """Keep `value` for this model, clip and `what`, replacing what was there."""
        self.memos[(predictor.uid, id(clip), *what)] = (clip, value)
