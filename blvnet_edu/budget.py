"""What one request may cost, decided before the expensive work (the app's per-request limits).

A small file can ask for a lot of work: a 100 KB clip can be 8K, a 5 MB clip can hold four
hours behind a single key frame (every frame up to the sampled one must be decoded), a 2 KB
checkpoint can declare 300,000 classes, and occlusion at 32 frames runs thousands of forward
passes. `Limits` bounds each of these, and every check runs on what is known beforehand
(the container's header and key frames, the model config by arithmetic, the
attribution's count of forward passes), so a refused request costs milliseconds:

| limit                 | what it bounds                                             | checked by |
|-----------------------|------------------------------------------------------------|------------|
| `max_frame_pixels`    | width x height of one frame (memory of the decoder)        | `check_video` |
| `max_decode_frames`   | frames decoded for one clip, key frame to sampled frame    | `check_video` |
| `max_decode_gpix`     | pixels decoded for one clip (frames decoded x frame size)  | `check_video` |
| `max_classes`         | classes a checkpoint or a label file declares              | `checkpoint_checks` |
| `max_params_m`        | parameters of the network a checkpoint describes (millions) | `checkpoint_checks` |
| `max_explain_gflop`   | work of one explanation: forward passes x GFLOPs per clip  | `plan_explanation` |
| `max_explain_passes`  | forward passes of one explanation (small models: Captum's  | `plan_explanation` |
|                       | own cost per pass dominates)                               | |
| `max_frames`          | frames sampled for one clip (every surface's `--frames`)  | `check_frames` |
| `max_input_size`      | the model's input crop (a checkpoint's `size`, `resize`)   | `checkpoint_checks` |
| `max_aspect_ratio`    | longest / shortest side of a frame (a crop of a 30000x4    | `check_pipeline` |
|                       | clip is a sliver, resized to 1,920,000x256)                | |
| `max_clip_mb`         | what the pipeline makes of one clip: resized uint8 frames  | `check_pipeline` |
|                       | plus the float input, `T x 3 x (R x R*aspect + 4 S x S)`   | |
| `max_clip_gflop`      | one forward pass of one clip (config, frames and size,     | `checkpoint_checks` |
|                       | by arithmetic: `models.cost`)                              | |
| `timeout_s`           | wall time of one request, checked inside every forward     | `Deadline` |
|                       | pass (before each block) and between passes                | |

(`check_video` counts the frames to decode with `video_io.decode_work`.)

Over a limit, `BudgetError` says what the request would cost, the limit, and what to choose
instead. Occlusion and integrated gradients are first scaled down (larger patches, fewer
steps) and refused only where even the coarsest setting is over budget.

Measured with the defaults on 2 cores (benchmarks/app_limits.py, docs/benchmarks/app_limits.md):
each refused case answered within 0.6 s, the demo's occlusion at 32 frames (scaled to 24-pixel
patches) took about 7 s, and the app server's memory stayed under 1.3 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from dataclasses import dataclass, field

__all__ = [
    "BudgetError",
    "RequestTimeout",
    "Limits",
    "Deadline",
    "ExplanationPlan",
    "check_video",
    "check_frames",
    "check_pipeline",
    "plan_explanation",
    "occlusion_window",
    "occlusion_stride",
    "occlusion_positions",
    "occlusion_batch",
    "ForwardTiming",
    "BACKWARD",
    "explanation_seconds",
    "fit_steps",
    "fit_occlusion_window",
]


class BudgetError(ValueError):
    """A request over one of the `Limits`; the message says what to choose instead."""


class RequestTimeout(BudgetError):
    """A request that ran past `Limits.timeout_s`."""


def _limit(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Limits:
    """Per-request budgets (the app's `--max-...` options)."""

    max_frame_pixels: int = _limit(4096 * 2160, "largest frame in pixels, width x height (4096x2160, DCI 4K)")
    max_decode_frames: int = _limit(20_000, "frames decoded for one clip, counted from each seek's key frame")
    max_decode_gpix: float = _limit(
        4.0, "pixels decoded for one clip, in gigapixels (frames x width x height)"
    )
    max_classes: int = _limit(10_000, "classes in a checkpoint or a label file")
    max_params_m: float = _limit(150.0, "parameters of a checkpoint's network, in millions")
    max_explain_gflop: float = _limit(1000.0, "work of one explanation: forward passes x GFLOPs per clip")
    max_explain_passes: int = _limit(600, "forward passes of one clip in one explanation")
    max_frames: int = _limit(64, "frames sampled for one clip (--frames)")
    max_input_size: int = _limit(640, "side of the model's input crop in pixels (a checkpoint's `size`)")
    max_aspect_ratio: float = _limit(8.0, "longest to shortest side of a video frame")
    max_clip_mb: float = _limit(
        512.0, "memory of one preprocessed clip in MB: the resized frames (uint8) and the model input"
    )
    max_clip_gflop: float = _limit(600.0, "work of one forward pass of one clip, in GFLOPs")
    timeout_s: float = _limit(60.0, "seconds one request may run (checked inside each forward pass)")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if not getattr(self, f.name) > 0:
                raise ValueError(f"{f.name} must be > 0, got {getattr(self, f.name)}")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """`--max-frame-pixels`, ..., `--timeout-s`: one option per limit."""
        for f in dataclasses.fields(cls):
            parser.add_argument(
                "--" + f.name.replace("_", "-"),
                type=type(f.default),
                default=f.default,
                help=f"{f.metadata['help']}; default {f.default}",
            )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Limits:
        return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


class Deadline:
    """`timeout_s` from now; `check(what)` raises `RequestTimeout` once it has passed, and
    `watching(model)` checks it inside the model's forward passes too:

        deadline = Deadline(limits.timeout_s)
        with deadline.watching(predictor.model):
            logits = predictor.model(clip.input)  # stops at the next block once the deadline is past
    """

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.end = time.monotonic() + timeout_s

    def check(self, what: str = "the request") -> None:
        if time.monotonic() > self.end:
            raise RequestTimeout(
                f"{what} took longer than the limit of {self.timeout_s:g} s; "
                "choose fewer frames or a cheaper method (Saliency, Grad-CAM)"
            )

    def watching(self, *models, what: str = "the request"):
        """A context manager: within it, a forward pass of one of `models` run by this thread
        checks the deadline before each residual block (`models.blocks.Bottleneck`) and each bL
        stage (`BLLayer0`, `BLModule`, the fast ones included), so a long pass stops at the next
        block with `RequestTimeout` rather than at its end (a backward pass is not watched: the
        next forward pass stops).

        Forward pre-hooks are registered on entry and removed on exit, whatever happens. The
        models are shared between requests (the app's visitors, each served in its own thread):
        a hook acts only in the thread that registered it, so another thread's pass through the
        same model, with its own deadline or none, is never stopped by this one."""
        import contextlib
        import threading

        from .models.blnet import BLLayer0, BLModule  # torch, imported when first used
        from .models.blocks import Bottleneck

        owner = threading.get_ident()

        def before_block(module, args) -> None:
            if threading.get_ident() == owner:
                self.check(what)

        @contextlib.contextmanager
        def watch():
            handles = []
            try:
                for model in {id(m): m for m in models}.values():
                    for module in model.modules():
                        if isinstance(module, (Bottleneck, BLLayer0, BLModule)):
                            handles.append(module.register_forward_pre_hook(before_block))
                yield self
            finally:
                for handle in handles:
                    handle.remove()

        return watch()


def check_video(width: int, height: int, decode_frames: int, limits: Limits) -> None:
    """Refuse a clip whose decoding would exceed the limits (nothing decoded yet).

    `decode_frames`: what `video_io.decode_work` counts for the sampled frames."""
    if width * height > limits.max_frame_pixels:
        raise BudgetError(
            f"the video is {width}x{height} ({width * height / 1e6:.1f} Mpixel per frame); the "
            f"largest accepted is {limits.max_frame_pixels / 1e6:.1f} Mpixel: downscale it first "
            "(e.g. ffmpeg -i IN -vf scale=-2:720 OUT.mp4)"
        )
    if decode_frames > limits.max_decode_frames:
        raise BudgetError(
            f"sampling this video means decoding {decode_frames} frames (its key frames are far "
            f"apart); the limit is {limits.max_decode_frames}: cut or re-encode it with regular "
            "key frames (e.g. ffmpeg -i IN -g 50 OUT.mp4)"
        )
    gpix = decode_frames * width * height / 1e9
    if gpix > limits.max_decode_gpix:
        raise BudgetError(
            f"sampling this video means decoding {decode_frames} frames of {width}x{height} "
            f"({gpix:.1f} Gpixel); the limit is {limits.max_decode_gpix:g} Gpixel: downscale it "
            "or re-encode it with regular key frames"
        )


def check_frames(num_frames: int, limits: Limits, pairs: bool = True) -> None:
    """Refuse a clip length that is not a positive (even, for pair models) count or is over
    `max_frames`."""
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise BudgetError(f"frames must be a positive whole number, got {num_frames!r}")
    if pairs and num_frames % 2:
        raise BudgetError(f"bLVNet takes frames in pairs: choose an even number of frames, got {num_frames}")
    if num_frames > limits.max_frames:
        raise BudgetError(f"{num_frames} frames per clip is over the limit of {limits.max_frames}")


def resized_shape(width: int, height: int, resize: int) -> tuple[int, int]:
    """`(width, height)` of a frame whose short side is resized to `resize` (the pipeline's
    `resize_short_side`, aspect ratio kept)."""
    if width <= height:
        return resize, max(1, round(height * resize / width))
    return max(1, round(width * resize / height)), resize


def check_pipeline(width: int, height: int, num_frames: int, size: int, resize: int, limits: Limits) -> None:
    """Refuse a clip whose preprocessing would make too much (nothing decoded yet): a frame
    longer than `max_aspect_ratio` to one (its crop would be a sliver, and resizing its short
    side blows the long side up), or resized frames plus the model's float input over
    `max_clip_mb` (`T x 3 x resized pixels` bytes, `T x 3 x size x size x 4` bytes)."""
    aspect = max(width, height) / max(1, min(width, height))
    if aspect > limits.max_aspect_ratio:
        raise BudgetError(
            f"the video is {width}x{height}: its long side is {aspect:.0f} times its short side; "
            f"the limit is {limits.max_aspect_ratio:g} to 1 (a centre crop would hold a sliver of it): "
            "crop it first (e.g. ffmpeg -i IN -vf crop=ih:ih OUT.mp4)"
        )
    resized_w, resized_h = resized_shape(width, height, resize)
    megabytes = num_frames * 3 * (resized_w * resized_h + 4 * size * size) / 2**20
    if megabytes > limits.max_clip_mb:
        raise BudgetError(
            f"{num_frames} frames of {width}x{height} resized to {resized_w}x{resized_h} and cropped to "
            f"{size}x{size} would take {megabytes:.0f} MB; the limit is {limits.max_clip_mb:g} MB: "
            "choose fewer frames"
        )


def occlusion_window(height: int, width: int) -> int:
    """Occlusion's default patch side: an eighth of the frame, at least 4 pixels."""
    return max(4, min(height, width) // 8)


def occlusion_stride(window: int) -> int:
    """Occlusion's step between patches: half the patch."""
    return max(1, window // 2)


def occlusion_batch(frames: int, height: int, width: int) -> int:
    """Occluded clips per forward pass: as many as fill 8 clips of 16 frames at 224 px, at most
    256 frames and 32 clips. Small clips run many at once (Captum's cost per call dominates
    them: 3.0 s against 2.2 s for the demo model at 8 frames), large ones 8; the frame bound
    keeps the server's memory where 8 clips kept it (benchmarks/app_limits.py)."""
    return max(1, min(32, 256 // frames, 8 * 16 * 224 * 224 // (frames * height * width)))


def occlusion_positions(frames: int, height: int, width: int, window: int) -> int:
    """Patches occlusion hides one at a time: one forward pass each."""
    stride = occlusion_stride(window)
    return frames * (math.floor((height - window) / stride) + 1) * (math.floor((width - window) / stride) + 1)


@dataclass(frozen=True)
class ExplanationPlan:
    """How an explanation fits the budget: the settings to run with and what was changed."""

    steps: int  # integrated gradients
    occlusion_window: int | None  # occlusion's patch side (None: the default)
    gflop: float  # estimated work
    note: str  # "" or what was scaled down, for the user
    passes: float = 0.0  # the work in forward passes of the clip (gflop / GFLOPs per clip)


PASSES = {"saliency": 3.0, "gradcam": 3.0}  # one forward and one backward (about twice a forward)


def plan_explanation(
    method: str,
    frames: int,
    size: int,
    gflop_per_clip: float,
    steps: int,
    limits: Limits,
    frame_test: bool = True,
) -> ExplanationPlan:
    """The settings of an explanation (method, with per-frame removal if `frame_test`) within
    `max_explain_gflop`.

    Work, in forward passes of the clip: removing each frame in turn is `frames + 1`;
    saliency and Grad-CAM 3; integrated gradients 3 per step; occlusion one per patch. Both
    `max_explain_gflop` and `max_explain_passes` bound it. Beyond the budget, integrated
    gradients take fewer steps (at least 4) and occlusion larger patches (at most half the
    frame); beyond that, the request is refused."""
    # forward passes allowed
    budget = min(limits.max_explain_gflop / gflop_per_clip, limits.max_explain_passes)
    importance = frames + 1 if frame_test else 0
    over = (
        f"explaining with {method} at {frames} frames would take about {{need:.0f}} GFLOP in {{passes:.0f}} "
        f"forward passes; the limits are {limits.max_explain_gflop:g} GFLOP and {limits.max_explain_passes} "
        "passes: "
        + ("choose fewer frames" if method in PASSES else "choose Saliency or Grad-CAM, or fewer frames")
    )
    if method in PASSES:
        need = PASSES[method] + importance
        if need > budget:
            raise BudgetError(over.format(need=need * gflop_per_clip, passes=need))
        return ExplanationPlan(steps, None, need * gflop_per_clip, "", need)
    if method == "integrated_gradients":
        fit = min(steps, math.floor((budget - importance) / 3))
        if fit < 4:
            need = 3 * steps + importance
            raise BudgetError(over.format(need=need * gflop_per_clip, passes=need))
        note = "" if fit == steps else f"integrated gradients ran {fit} steps instead of {steps} (work limit)"
        return ExplanationPlan(fit, None, (3 * fit + importance) * gflop_per_clip, note, 3 * fit + importance)
    if method == "occlusion":
        default = window = occlusion_window(size, size)
        while occlusion_positions(frames, size, size, window) + importance > budget:
            if window * 2 > size // 2:
                need = occlusion_positions(frames, size, size, default) + importance
                raise BudgetError(over.format(need=need * gflop_per_clip, passes=need))
            window *= 2
        note = (
            ""
            if window == default
            else f"occlusion used {window}-pixel patches instead of {default} (work limit)"
        )
        need = occlusion_positions(frames, size, size, window) + importance
        return ExplanationPlan(steps, window, need * gflop_per_clip, note, need)
    raise ValueError(f"unknown method {method!r}")


BACKWARD = 4.0  # a forward and a backward pass, in forward passes: 3.6x measured for bLVNet-TAM-50 (2 cores)


@dataclass(frozen=True)
class ForwardTiming:
    """Measured seconds of a forward pass of one clip, and of each further clip in a batch
    (small models gain a lot from batching, large ones little)."""

    single: float
    extra: float

    def batch(self, clips: int) -> float:
        return self.single + (clips - 1) * self.extra


def explanation_seconds(
    method: str,
    frames: int,
    size: int,
    timing: ForwardTiming,
    steps: int = 16,
    window: int | None = None,
    internal_batch_size: int = 4,
) -> float:
    """About how long `method` takes on a clip of `frames` frames of `size` px, from `timing`.

    Saliency: one forward and backward; Grad-CAM twice that (it runs the paper's path, with a
    hook); integrated gradients: `steps` clips in batches of `internal_batch_size`, forward and
    backward; occlusion: one forward of the clip, then batches of `occlusion_batch` occluded clips."""
    if method == "saliency":
        return BACKWARD * timing.single
    if method == "gradcam":
        return 2 * BACKWARD * timing.single
    if method == "integrated_gradients":
        calls, last = divmod(steps, internal_batch_size)
        return BACKWARD * (calls * timing.batch(internal_batch_size) + (timing.batch(last) if last else 0.0))
    if method == "occlusion":
        window = window or occlusion_window(size, size)
        batch = occlusion_batch(frames, size, size)
        calls, last = divmod(occlusion_positions(frames, size, size, window), batch)
        return timing.single + calls * timing.batch(batch) + (timing.batch(last) if last else 0.0)
    raise ValueError(f"unknown method {method!r}")


def fit_steps(
    frames: int, size: int, timing: ForwardTiming, target_s: float, steps: int, least: int = 4
) -> int:
    """The most integrated-gradients steps (at most `steps`, at least `least`) expected to
    take at most `target_s`."""
    fit = steps
    while fit > least and explanation_seconds("integrated_gradients", frames, size, timing, fit) > target_s:
        fit -= 1
    return fit


def fit_occlusion_window(
    frames: int, size: int, timing: ForwardTiming, target_s: float, window: int | None = None
) -> int:
    """The smallest occlusion patch (from `window`, default an eighth of the frame, growing by
    half each time, at most half the frame) expected to take at most `target_s`; the largest
    one if none does."""
    window = window or occlusion_window(size, size)
    while (
        explanation_seconds("occlusion", frames, size, timing, window=window) > target_s
        and math.ceil(window * 1.5) <= size // 2
    ):
        window = math.ceil(window * 1.5)
    return window
