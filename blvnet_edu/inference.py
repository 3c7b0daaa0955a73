"""Inference for people: a clip file in, labelled probabilities and explanations out.

Shared by the CLI, the app and the notebooks; no UI code here. Preprocessing is the
evaluation pipeline: TSN segment sampling (centre of each segment), short side resized,
centre crop, ImageNet normalisation.

    model = load_predictor("app/demo/blvnet_tam_tiny.pt")
    probs = predict("clip.mp4", model)                 # {"moving left": 0.97, ...}
    clip = load_clip("clip.mp4", model.num_frames, model.size, model.resize)
    result = explain(model, clip, method="integrated_gradients")   # blvnet_edu.explanation

    models = {"TSN": load_predictor("tsn.pt"), "bLVNet-TAM": load_predictor("tam.pt")}
    clips = load_clips("clip.mp4", models)              # decoded once per preprocessing
    comparison = order_comparison(models, clips, "halves_swapped")
    print(order_markdown(comparison, "halves_swapped"))   # top-1 before/after, per model

    cache = ClipCache()                                # several steps on one video (the app's Run)
    probs = cache.predict(models["TSN"], load_clips("clip.mp4", models, cache)["TSN"])
    again = load_clips("clip.mp4", models, cache)       # no decoding: the cache's clips
    order_comparison(models, again, "reversed", cache=cache)  # TSN's original prediction reused

Bad input (not a video, no video stream, 0 or 1 frames) raises `ClipError` with a message
meant for the user. Decoding reads only the sampled frames and scales large frames down as it
goes; with `limits` (`budget.Limits`, what the app passes), a clip, checkpoint or explanation
that would cost more than allowed raises `BudgetError` before the work starts.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .data.order import ORDER_TESTS
from .data.sampling import segment_indices
from .data.transforms import center_crop, normalize, resize_short_side
from .budget import ForwardTiming, Limits, check_video
from .data.video_io import VideoDecodeError, VideoInfo, decode_work, probe_video, read_frames
from .loading import load_network
from .models.blvnet import BLVNetConfig, VideoNet
from .models.fast import prepare_for_inference
from .profiling import profile_model

__all__ = [
    "ClipError",
    "Predictor",
    "Clip",
    "load_predictor",
    "load_clip",
    "predict",
    "predict_clip",
    "load_clips",
    "ClipCache",
    "reorder_clip",
    "parse_order",
    "ORDER_NAMES",
    "order_sensitive",
    "OrderResult",
    "order_comparison",
    "order_markdown",
    "explain",
    "cost",
    "model_card",
    "demo_notice",
]

class ClipError(ValueError):
    """A clip the model cannot use; the message says why, for the user."""


_SERIALS = itertools.count()


@dataclass
class Predictor:
    """A model ready for inference, with its classes and input size.

    `uid` names it in caches (`ClipCache`) without keeping it alive; `with_frames` keeps the
    models it made for the `FRAME_COUNTS_KEPT` most recently asked frame counts."""

    name: str
    model: VideoNet
    classes: list[str]
    size: int
    resize: int
    uid: int = field(default_factory=lambda: next(_SERIALS), repr=False, compare=False)
    _by_frames: collections.OrderedDict = field(default_factory=collections.OrderedDict, repr=False,
                                                compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    FRAME_COUNTS_KEPT = 4

    @property
    def num_frames(self) -> int:
        return self.model.config.num_frames

    def with_frames(self, num_frames: int) -> Predictor:
        """The same weights for another number of frames (no parameter depends on T)."""
        if num_frames == self.num_frames:
            return self
        with self._lock:  # visitors of the app ask at the same time
            if num_frames not in self._by_frames:
                model = VideoNet(dataclasses.replace(self.model.config, num_frames=num_frames))
                model = prepare_for_inference(model)  # as self.model: BatchNorm folded, channels_last
                model.load_state_dict(self.model.state_dict())
                self._by_frames[num_frames] = Predictor(self.name, model, self.classes, self.size,
                                                        self.resize)
                while len(self._by_frames) > self.FRAME_COUNTS_KEPT:
                    self._by_frames.popitem(last=False)
            self._by_frames.move_to_end(num_frames)
            return self._by_frames[num_frames]


def load_predictor(
    checkpoint: str | Path,
    labels: str | Path | None = None,
    model_name: str | None = None,
    size: int | None = None,
    resize: int | None = None,
    num_frames: int | None = None,
    limits: Limits | None = None,
) -> Predictor:
    """A model from a blvnet-edu checkpoint or from one of the authors' released files.

    Args:
        checkpoint: a blvnet-edu checkpoint (it knows its model, classes and preprocessing)
            or an authors' checkpoint (its network is read from the tensor shapes,
            `models.checkpoints.official_config`).
        labels: `ssv1`, `ssv2`, `kinetics400` (shipped, `data.label_maps`) or a file of class
            names. For an authors' checkpoint it is needed only where the class count does
            not tell (174: Something-Something V1 or V2).
        model_name: a preset, to build the authors' network as that preset instead of reading it.
        size, resize: the crop and the short side. The default is the checkpoint's own, or for
            the authors' models their test default, 224 and 256 (`resize=224` is their
            `--disable_scaleup` setting).
        num_frames: frames per clip; the authors' released models default to 16 (8x2).
        limits: refuse networks and label lists over the limits before allocating them
            (`BudgetError`; what the app passes for uploaded checkpoints).

    Raises `FileNotFoundError`, or `ValueError` (a `CheckpointMismatchError` for weights
    that do not fit the model) naming the problem. Files are read with weights_only=True.
    """
    model, classes, saved = load_network(checkpoint, labels, model_name, num_frames, limits)
    size, resize = size or saved.size, resize or saved.resize
    model = prepare_for_inference(model)  # BatchNorm folded, channels_last: faster on CPU (docs/benchmarks/speed.md)
    predictor = Predictor(model.config.name, model, classes, size, resize)
    return predictor.with_frames(num_frames) if num_frames else predictor


def demo_notice(predictor: Predictor) -> str:
    """What a demo model can and cannot tell, for the user (the app and `blvnet-edu predict`)."""
    return (f"The demo model ({predictor.name}) knows only the {len(predictor.classes)} classes of the course's "
            f"synthetic set ({', '.join(predictor.classes[:3])}, ...): any other clip gets an arbitrary answer "
            "among them. For real videos, load a released checkpoint: --checkpoint FILE --labels ssv1|ssv2|kinetics400 "
            "(README, \"Real videos and the authors' models\").")


@dataclass
class Clip:
    frames: Tensor  # (T, 3, S, S) uint8: what the model sees
    input: Tensor  # (1, T, 3, S, S) float32, normalised
    indices: list[int]  # frame numbers in the file
    info: VideoInfo


def load_clip(video: str | Path | Tensor, num_frames: int, size: int, resize: int,
              limits: Limits | None = None) -> Clip:
    """Sample, decode and preprocess `num_frames` frames of a file (or a `(T, 3, H, W)` uint8 tensor).

    Frames larger than twice the short side needed are scaled down while decoding, so a 4K
    clip never holds 4K frames in memory. With `limits`, a clip whose decoding would cost more
    (frame size, frames to decode from the key frames) raises `BudgetError` before anything
    is decoded."""
    if isinstance(video, Tensor):
        if video.ndim != 4 or video.shape[1] != 3 or video.dtype != torch.uint8 or len(video) < 2:
            raise ClipError(f"expected (T >= 2, 3, H, W) uint8 frames, got {tuple(video.shape)} {video.dtype}")
        info = VideoInfo("<tensor>", len(video), 0.0, 0.0, video.shape[-1], video.shape[-2])
        indices = segment_indices(len(video), num_frames, train=False)
        frames = video[indices]
    else:
        if video is None or str(video) == "":
            raise ClipError("no video given")
        try:
            info = probe_video(video)
            if info.num_frames < 2:
                raise ClipError(f"the video has {info.num_frames} frame(s); a clip needs at least 2")
            indices = segment_indices(info.num_frames, num_frames, train=False)
            if limits is not None:
                check_video(info.width, info.height, decode_work(video, indices), limits)
            frames = read_frames(video, indices, max_short_side=2 * max(size, resize),
                                 max_decoded=limits.max_decode_frames if limits else None)
        except FileNotFoundError as err:
            raise ClipError(str(err)) from err
        except VideoDecodeError as err:
            raise ClipError(f"cannot read this video: {err}") from err
    frames = center_crop(resize_short_side(frames, resize), size)  # (T, 3, S, S)
    return Clip(frames.contiguous(), normalize(frames).unsqueeze(0), list(indices), info)


@torch.inference_mode()
def predict_clip(predictor: Predictor, clip: Clip) -> dict[str, float]:
    probs = predictor.model(clip.input).softmax(-1)[0]
    return {c: float(p) for c, p in zip(predictor.classes, probs)}


def predict(video: str | Path | Tensor, predictor: Predictor, num_frames: int | None = None) -> dict[str, float]:
    """`{class: probability}` for a clip file or uint8 frames, with evaluation preprocessing."""
    predictor = predictor.with_frames(num_frames or predictor.num_frames)
    return predict_clip(predictor, load_clip(video, predictor.num_frames, predictor.size, predictor.resize))


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
    seconds: dict[int, float] = field(default_factory=dict)  # predictor uid -> one forward pass, measured
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
            self.seconds[predictor.uid] = time.perf_counter() - start
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


def load_clips(
    video: str | Path | Tensor, predictors: Mapping[str, Predictor], cache: ClipCache | None = None,
    limits: Limits | None = None,
) -> dict[str, Clip]:
    """`{name: clip}` for several models, each file decoded once per distinct
    preprocessing `(num_frames, size, resize)`: models that share it share one `Clip`.
    With a `cache`, clips decoded by earlier calls on the same file are reused; `limits`
    as in `load_clip`."""
    cache = ClipCache() if cache is None else cache
    cache.use(video)
    clips = {}
    for name, predictor in predictors.items():
        key = (predictor.num_frames, predictor.size, predictor.resize)
        if key not in cache.clips:
            cache.clips[key] = load_clip(video, *key, limits=limits)
        clips[name] = cache.clips[key]
    return clips


def parse_order(text: str, frames: int) -> list[int]:
    """A typed frame order, e.g. `"4 5 6 7 0 1 2 3"` or `"4,5 | 6,7 | 0,1 | 2,3"`: `frames`
    positions of the clip as it is (0 = its first frame), repeats allowed. `ClipError` says
    what is wrong."""
    tokens = text.replace(",", " ").replace("|", " ").split()
    if not tokens:
        raise ClipError(f"type a frame order: {frames} positions from 0 to {frames - 1}, e.g. "
                        f"{' '.join(map(str, range(frames)[::-1]))}")
    try:
        order = [int(token) for token in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise ClipError(f"{bad!r} is not a frame position: use whole numbers from 0 to "
                        f"{frames - 1}") from None
    if len(order) != frames:
        raise ClipError(f"the order has {len(order)} positions; this clip has {frames} frames: give {frames}")
    outside = [p for p in order if not 0 <= p < frames]
    if outside:
        raise ClipError(f"position {outside[0]} is not in the clip: positions go from 0 to {frames - 1}")
    return order


def reorder_clip(clip: Clip, test: str, seed: int = 0,
                 order: list[int] | None = None) -> tuple[Clip, list[int]]:
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
            raise ClipError(f"the order has {len(order)} positions but {name} runs on {len(clip.indices)} "
                            f"frames: type {len(clip.indices)} positions, or run every model on "
                            f"{len(order)} frames")
        modified, new_order = reorder_clip(clip, test, seed, order)
        results.append(OrderResult(
            name, original(predictor, clip), predict_clip(predictor, modified), new_order,
            order_sensitive(predictor.model.config, test, new_order), len(clip.indices),
            clip.frames.shape[-1],
        ))
    return results


ORDER_NAMES = {"reversed": "reversed", "shuffled_pairs": "pairs shuffled", "halves_swapped": "halves swapped",
               "custom": "in your order"}
EXPECTED = (
    "Expected: TSN (a bag of frames) never changes unless frames are repeated or left out; bLVNet without "
    "TAM (a bag of frame pairs) can change when the pairs themselves change (reversed) but never when the "
    "same pairs come in another order (pairs shuffled, halves swapped); bLVNet-TAM (which relates distant "
    "pairs) can change under any new order. \"Can it change?\" is what the architecture allows; whether it "
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
        lines.append(f"| {r.model} | {frames} | {r.top1_original} ({r.original[r.top1_original]:.0%}) | "
                     f"{r.top1_modified} ({r.modified[r.top1_modified]:.0%}) | {changed} | "
                     f"{r.largest_shift:.3f} | {'yes' if r.can_change else 'never'} |")
    orders = {_grouped(r.order, pairs=test != "reversed") for r in results}
    shown = "; ".join(f"`{o}`" for o in sorted(orders))
    how = f" (seed {seed})" if test == "shuffled_pairs" and seed is not None else ""
    return "\n".join([
        *lines, "",
        f"The reordered clip ({after}{how}) shows the sampled frames in the order {shown} (0 = the first "
        "frame as it is; | separates frame pairs).", "",
        EXPECTED,
    ])


def explain(predictor: Predictor, clip: Clip, target: str | None = None, method: str = "saliency", **options):
    """`explanation.explain`: attribution maps on every frame, drawn, and each frame's removal."""
    from .explanation import explain as explain_clip

    return explain_clip(predictor, clip, target, method, **options)


@functools.lru_cache(maxsize=8)
def cost(config: BLVNetConfig, size: int) -> tuple[int, float]:
    """(parameters, GFLOPs) of a fresh network with this config, measured once per config."""
    profile = profile_model(VideoNet(config), size=size)
    return profile.params, profile.gflops


def model_card(predictor: Predictor) -> str:
    """Markdown: parameters, GFLOPs, input, classes."""
    config = predictor.model.config
    params, gflops = cost(config, predictor.size)
    classes = ", ".join(predictor.classes[:30]) + (" ..." if len(predictor.classes) > 30 else "")
    return (
        f"**{config.name}** — {params / 1e6:.2f}M parameters, {gflops:.2f} GFLOPs per clip "
        f"({config.num_frames} frames at {predictor.size}x{predictor.size})  \n"
        f"temporal module: {config.temporal_module or 'none'}; frame routing: {config.frame_routing}  \n"
        f"{len(predictor.classes)} classes: {classes}"
    )
