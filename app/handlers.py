"""The explainer's handlers: plain functions of the controls' values, called by `app.py`'s
events and by the tests (no layout here; the work is in `blvnet_edu`: `inference`, `clips`,
`order_comparison`, `explanation`).

`models` (the demo models and a `--checkpoint`) are shared and read-only; `server` (a
`Server`: the visitors' checkpoints it holds, the bound on Gradio's cache, the overlay videos)
is what one server keeps besides them, made by `app.launch` and bound to every handler;
`custom` (a visitor's own checkpoint, a weak reference into `server.own`) and `cache` (a
`clip_cache.ClipCache`: the visitor's decoded clip, predictions, attributions) are the
visitor's `gr.State`. Every handler returns the cache it used, so the next one starts from it:

| handler      | runs                                              | never reruns |
|--------------|---------------------------------------------------|--------------|
| `predict`    | decode (once per preprocessing), every model once | |
| `order_test` | every model once on the reordered clip            | decoding, the prediction |
| `explain`    | the method (unless kept), then drawing            | decoding, the prediction |
| `frame_test` | the clip with each frame replaced                 | decoding, the prediction |
| `tam_view`   | one backward pass per output frame of a TAM       | decoding, the prediction |

Importing this module loads nothing and creates nothing. A new sign or opacity only redraws
the method's kept values. A change of a control
(`forced=False`) runs an explanation only when it is expected to take
at most `AUTO_S`; otherwise the note says what it would cost and the Explain button runs it.

Heavy work apart from light work: an explanation (or a frame removal) expected to take over
`HEAVY_S` here (planned from the model's measured forward pass, as `AUTO_S` is) takes a turn in
the server's `HeavyLane`: `HEAVY_AT_ONCE` run at once, `HEAVY_WAITING` more wait for their turn
and say so (a `gr.Info`, the progress bar, then a line of the note), any further one is refused
with a message. `app.py` gives the explanation events a concurrency group of their own, large
enough for the lane and `LIGHT_AT_ONCE` light explanations, so that a prediction or a cheap
explanation never waits behind a heavy one. A turn's wait does not count against the deadline.

Deadlines: every handler that runs a model (`predict`, `order_test`, `explain`, `frame_test`,
`tam_view`) checks `Limits.timeout_s` inside each forward pass, before every block
(`budget.Deadline.watching`, for the request's own thread: other visitors' passes through the
same shared model are not stopped), and between passes.

On disk: a `Server`'s overlay videos go to <tmp>/blvnet-overlays-<pid>-..., its uploads and
outputs to its own part of Gradio's cache, <gradio>/blvnet-edu-<pid>-... (`make_cache_folder`);
both are removed by `Server.close` (the page's `close()`) and at exit, and `remove_leftovers`
(at the start of `app.launch`) deletes those of earlier servers whose process is gone.
Uploaded file names are shown as the user gave them (`_for_user` decodes Gradio's encoding).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import dataclasses
import os
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import gradio as gr

from blvnet_edu.budget import (
    BudgetError,
    Deadline,
    ForwardTiming,
    Limits,
    explanation_seconds,
    fit_occlusion_window,
    fit_steps,
    occlusion_batch,
    occlusion_window,
    plan_explanation,
)
from blvnet_edu.clip_cache import ClipCache
from blvnet_edu.clips import Clip, ClipError, load_clips
from blvnet_edu.demo import example_notice
from blvnet_edu.explain import figures
from blvnet_edu.explain.attributions import (
    BASELINE_NAMES,
    BASELINES,
    METHOD_NAMES,
    METHODS,
    REPLACEMENT_NAMES,
    REPLACEMENTS,
)
from blvnet_edu.explain.overlays import SIGN_NAMES, SIGNS, colour_table, overlay_video
from blvnet_edu.explain.receptive_field import span, temporal_receptive_field
from blvnet_edu.explain.tam_weights import group_channels, summarize_tams
from blvnet_edu.explanation import UNITS, attribution, draw, remove_frames
from blvnet_edu.inference import Predictor, load_predictor
from blvnet_edu.model_card import cost, model_card
from blvnet_edu.order_comparison import ORDER_NAMES, order_comparison, order_markdown, parse_order
from blvnet_edu.saved_run import UnverifiedCheckpointError

HERE = Path(__file__).resolve().parent
DEMO = Path(os.environ.get("BLVNET_DEMO_DIR") or HERE / "demo")
EXAMPLES = sorted((HERE / "examples").glob("*.mp4"))
TSN, BLVNET, BLVNET_TAM, CUSTOM = (
    "TSN (demo)",
    "bLVNet without TAM (demo)",
    "bLVNet-TAM (demo)",
    "your checkpoint",
)
DEMO_FILES = {TSN: "tsn_resnet_tiny.pt", BLVNET: "blvnet_tiny.pt", BLVNET_TAM: "blvnet_tam_tiny.pt"}
SLOTS = {  # the side-by-side top-5 panels, in the paper's order
    TSN: "TSN: a bag of frames",
    BLVNET: "bLVNet without TAM: a bag of frame pairs",
    BLVNET_TAM: "bLVNet-TAM: relates distant pairs",
    CUSTOM: "your checkpoint",
}
ORDERS = {
    "as it is": None,
    "reversed": "reversed",
    "halves swapped": "halves_swapped",
    "pairs shuffled": "shuffled_pairs",
    "your order": "custom",
}
OWN_FRAMES = 0  # the frames control's "each model's own"
FRAME_CHOICES = list(range(2, 65, 2))
# a control change runs an explanation expected to take at most this; longer ones wait for Explain
AUTO_S = 10.0
# Heavy work runs apart from light work: an explanation (or a frame removal) expected to take longer
# than this here, from the model's measured forward pass (`_plan`), is heavy and runs in the server's
# `HeavyLane`, one at a time; predictions and lighter explanations never wait behind it. 5 s: the
# demo models' saliency and Grad-CAM take under 0.2 s and their occlusion at 32 frames about 12 s
# (estimated; 4 s measured alone on 2 cores); bLVNet-TAM-50's saliency at 16 frames about 6 s.
HEAVY_S = 5.0
HEAVY_AT_ONCE, HEAVY_WAITING = 1, 2  # heavy explanations running at once, and queued for their turn
LIGHT_AT_ONCE = 2  # explanations that are not heavy, running at once (Gradio's concurrency group)
IG_STEPS, IG_TARGET_S = 32, 7.0  # integrated gradients: at most 32 steps, as many as fit about 7 s (+ about
# 2 s for measuring the forward pass and checking completeness: under 10 s for bLVNet-TAM-50 on 2 cores)
OCCLUSION_TARGET_S = 1.5  # occlusion's patches grow until it fits about this
DEMO_LINE = (
    "Demo model: it knows only its {n} synthetic classes; on any other clip its answer, "
    "however sure, is one of them and means nothing."
)
RUN_FIRST = "*Pick an example or upload a clip, then press **Run**.*"
Models = dict[str, Predictor]
Custom = "weakref.ref[Predictor] | Predictor | None"  # the visitor's own checkpoint
Cache = ClipCache | None  # the visitor's decoded clip, predictions and explanations
Update = dict[str, Any]  # what gr.update(...) returns
LIMITS = Limits()  # the defaults; `app.launch(limits=...)` binds others to every handler


def load_models(
    checkpoint: str | None = None,
    labels: str | None = None,
    model_name: str | None = None,
    demo_dir: str | Path | None = None,
    allow_unverified: bool = False,
) -> Models:
    """The demo models found in `demo_dir` and the `--checkpoint`, loaded once for every visitor
    (`allow_unverified`: the server's own `--checkpoint` may lack a whole-file digest; a
    visitor's upload never may)."""
    demo_dir = Path(demo_dir or DEMO)
    models = {
        name: load_predictor(demo_dir / file)
        for name, file in DEMO_FILES.items()
        if (demo_dir / file).exists()
    }
    if checkpoint:
        models[CUSTOM] = load_predictor(checkpoint, labels, model_name, allow_unverified=allow_unverified)
    if not models:
        raise FileNotFoundError(f"no demo models in {demo_dir} and no --checkpoint given")
    return models


class OwnCheckpoints:
    """The visitors' own checkpoints, held by the server: at most `capacity` at once.

    A visitor's state keeps only a weak reference; loading one more than `capacity` unloads
    the least recently used, whose visitor is asked to load it again. So however many
    visitors load checkpoints, the server holds at most `capacity` of them in memory."""

    def __init__(self, capacity: int = 4):
        self.capacity = capacity
        self._held: collections.OrderedDict[int, Predictor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def hold(self, predictor: Predictor) -> weakref.ref:
        with self._lock:
            self._held[id(predictor)] = predictor
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)
        return weakref.ref(predictor)

    def get(self, ref: weakref.ref) -> Predictor | None:
        predictor = ref()
        with self._lock:
            if predictor is None or id(predictor) not in self._held:
                return None
            self._held.move_to_end(id(predictor))
        return predictor

    def __len__(self) -> int:
        return len(self._held)


KEEP_OVERLAYS = 64  # the most recent overlay videos; Gradio serves its own copy of each
OVERLAYS_PREFIX = "blvnet-overlays-"  # + the server's pid: <tmp>/blvnet-overlays-<pid>-<random>
CACHE_PREFIX = (
    "blvnet-edu-"  # + the server's pid: its part of Gradio's cache, <gradio>/blvnet-edu-<pid>-<random>
)


class OverlayVideos:
    """A server's overlay videos, in a temporary folder made at the first one (named with the
    server's pid, removed at exit or by `remove`); older ones beyond `keep` are deleted, so
    explanations never fill the disk. A `folder` given is used as it is and never removed."""

    def __init__(self, keep: int = KEEP_OVERLAYS, folder: Path | None = None):
        self.keep, self.folder = keep, folder
        self._made: Path | None = None  # the folder made here, removed at exit
        self._lock = threading.Lock()

    def new_path(self) -> Path:
        """A new file for an overlay video."""
        with self._lock:
            if self.folder is None:
                self.folder = self._made = Path(tempfile.mkdtemp(prefix=f"{OVERLAYS_PREFIX}{os.getpid()}-"))
                atexit.register(shutil.rmtree, self._made, ignore_errors=True)
            videos = sorted(self.folder.glob("*.mp4"), key=lambda p: p.stat().st_mtime)
            for old in videos[: max(0, len(videos) - self.keep + 1)]:
                old.unlink(missing_ok=True)
            handle, path = tempfile.mkstemp(suffix=".mp4", dir=self.folder)
        os.close(handle)  # the name is reserved; overlay_video writes the file by its path
        return Path(path)

    def remove(self) -> None:
        """Delete the folder made for the videos (the next video makes a new one)."""
        with self._lock:
            if self._made is not None:
                shutil.rmtree(self._made, ignore_errors=True)
                self.folder = self._made = None


class ServerBusy(Exception):
    """A heavy request refused: as many heavy ones as the server queues are running or waiting."""


class HeavyLane:
    """Where a server's heavy explanations run, apart from everything else: at most `at_once`
    at a time (what bounds their memory and keeps the CPU for the others), at most `waiting`
    more queued for their turn, and any further one refused (`ServerBusy`) at once.

    `with lane.slot(on_queue, max_wait_s) as waited:` waits for a turn; `on_queue(ahead)` is
    called first when the request must wait (to tell the visitor), `waited` is the seconds it
    waited. A request that waited longer than `max_wait_s` is refused."""

    def __init__(self, at_once: int = HEAVY_AT_ONCE, waiting: int = HEAVY_WAITING):
        if at_once < 1 or waiting < 0:
            raise ValueError("a heavy lane runs at least one request at once and queues none or more")
        self.at_once, self.waiting = at_once, waiting
        self._turns = threading.Semaphore(at_once)
        self._lock = threading.Lock()
        self.inside = 0  # running or queued

    @contextlib.contextmanager
    def slot(
        self, on_queue: Callable[[int], None] | None = None, max_wait_s: float | None = None
    ) -> Iterator[float]:
        with self._lock:
            if self.inside >= self.at_once + self.waiting:
                raise ServerBusy(
                    f"the server is busy with {self.inside} heavy explanations (running or queued)"
                )
            ahead = self.inside
            self.inside += 1
        try:
            waited = 0.0
            if not self._turns.acquire(blocking=False):
                start = time.perf_counter()
                if on_queue is not None:
                    on_queue(max(1, ahead))  # running or queued before this one
                if not self._turns.acquire(timeout=max_wait_s):
                    raise ServerBusy(f"no heavy explanation ended within {max_wait_s:.0f} s")
                waited = time.perf_counter() - start
            try:
                yield waited
            finally:
                self._turns.release()
        finally:
            with self._lock:
                self.inside -= 1

    @property
    def concurrency(self) -> int:
        """Explanations the server lets run at once (Gradio's `concurrency_limit` of the
        explanation events): the lane's heavy ones, running or queued, and `LIGHT_AT_ONCE`
        light ones, which never wait behind the heavy ones."""
        return LIGHT_AT_ONCE + self.at_once + self.waiting


MAX_CACHE_MB = 2000  # Gradio's cache (uploads, served outputs) is kept under this by default


@dataclasses.dataclass
class Server:
    """What one server keeps besides its models, shared by its visitors: their own checkpoints
    (`own`), the bound on Gradio's cache (`max_cache_mb`, `prune_cache`), the overlay videos,
    the lane of its heavy explanations (`heavy`) and its own folder in Gradio's cache
    (`cache_folder`, made by `make_cache_folder`).

    `app.launch` makes one from its options and `app.build_ui` binds it to every handler;
    handlers called without one (tests, benchmarks) share `SERVER`. `close` (at the page's
    `close()`, and at exit) removes what it made on disk."""

    own: OwnCheckpoints = dataclasses.field(default_factory=OwnCheckpoints)
    max_cache_mb: float = MAX_CACHE_MB
    overlays: OverlayVideos = dataclasses.field(default_factory=OverlayVideos)
    heavy: HeavyLane = dataclasses.field(default_factory=HeavyLane)
    cache_folder: Path | None = None  # None: Gradio's whole cache folder (`prune_cache`)

    def make_cache_folder(self) -> Path:
        """This server's folder inside Gradio's (`GRADIO_TEMP_DIR`, default <tmp>/gradio), named
        with its pid: what `app.launch` points Gradio to for the uploads and outputs of this
        server, so that they can be told apart from other apps' and removed at exit."""
        if self.cache_folder is None:
            root = Path(gr.utils.get_upload_folder())
            root.mkdir(parents=True, exist_ok=True)
            self.cache_folder = Path(tempfile.mkdtemp(prefix=f"{CACHE_PREFIX}{os.getpid()}-", dir=root))
            atexit.register(shutil.rmtree, self.cache_folder, ignore_errors=True)
        return self.cache_folder

    def close(self) -> None:
        """Delete the overlay videos' folder and this server's part of Gradio's cache."""
        self.overlays.remove()
        if self.cache_folder is not None and self.cache_folder.name.startswith(CACHE_PREFIX):
            shutil.rmtree(self.cache_folder, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether process `pid` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists
        return True
    return True


def leftovers(folder: str | Path, prefix: str) -> list[Path]:
    """Folders `<prefix><pid>-...` in `folder` that this user's servers made and whose process
    is no longer running (a server killed before its exit handlers ran). Another user's
    folders, a running process's, links and anything named otherwise are never listed."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    found = []
    for path in Path(folder).glob(f"{prefix}*") if Path(folder).is_dir() else ():
        named = re.fullmatch(re.escape(prefix) + r"(\d+)-[^/]+", path.name)
        try:
            stat = path.lstat()
        except OSError:
            continue
        if not named or path.is_symlink() or not path.is_dir() or (uid is not None and stat.st_uid != uid):
            continue
        pid = int(named[1])
        if pid != os.getpid() and not _running(pid):
            found.append(path)
    return found


def remove_leftovers(temp: str | Path | None = None, gradio_cache: str | Path | None = None) -> list[Path]:
    """Delete what earlier servers that are no longer running left behind (what `app.launch`
    does first): their overlay folders in `temp` (default the system's temporary folder) and
    their parts of Gradio's cache in `gradio_cache` (default `GRADIO_TEMP_DIR` or <tmp>/gradio).
    Nothing else there is touched: other apps' files, running servers' folders, the cached
    examples (<tmp>/blvnet-edu-examples). Returns the folders deleted."""
    temp = Path(temp or tempfile.gettempdir())
    gradio_cache = Path(gradio_cache or gr.utils.get_upload_folder())
    found = leftovers(temp, OVERLAYS_PREFIX) + leftovers(gradio_cache, CACHE_PREFIX)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


SERVER = Server()  # for handlers called without a server; nothing is loaded or created until used


def _everyone(models: Models, custom: Custom, server: Server) -> Models:
    """The shared models and the visitor's own checkpoint, if the server still holds it (a
    visitor whose checkpoint was unloaded keeps the demo models)."""
    if isinstance(custom, weakref.ref):
        custom = server.own.get(custom)
    return {**models, CUSTOM: custom} if custom else models


def _pick(
    models: Models, name: str, frames: int | None, server: Server, limits: Limits | None = None
) -> Predictor:
    """The model `name` at `frames` frames (None or `OWN_FRAMES`: its own), within `limits`
    (`max_frames`, and `max_clip_gflop` at that clip length)."""
    if name == CUSTOM and CUSTOM not in models:
        raise gr.Error(
            f"Your checkpoint is not loaded: the server holds the {server.own.capacity} most "
            "recently used visitors' checkpoints and may have unloaded yours to make room. Load "
            "it (again) under *your own checkpoint*, or choose another model to explain."
        )
    if name not in models:
        raise gr.Error(f"unknown model {name!r}")
    predictor = models[name]
    if not frames:
        return predictor
    try:
        count = int(frames)
    except (TypeError, ValueError):
        raise gr.Error(f"frames: {frames!r}") from None
    try:
        return predictor.at_frames(count, limits)  # pairs, max_frames, max_clip_gflop
    except ValueError as err:  # BudgetError included
        raise gr.Error(str(err)) from None


def _for_user(message: str, *uploads: str | None) -> str:
    """`message` without the uploads' temporary folders and the decoder's error numbers, which
    mean nothing to the user, and with the uploads' names as the user gave them (Gradio keeps
    an upload under its name URL-encoded: `my "clip".mp4` as `my %22clip%22.mp4`)."""
    for upload in uploads:
        if not upload:
            continue
        path = Path(upload)
        if path.parent != Path("."):
            message = message.replace(str(path.parent) + "/", "")
        if unquote(path.name) != path.name:
            message = message.replace(path.name, unquote(path.name))
    return re.sub(r"\[Errno -?\d+\] ", "", message)


def _clips(video: str | None, predictors: Models, cache: ClipCache, limits: Limits) -> dict[str, Clip]:
    if not video:
        raise gr.Error("Upload a clip, record one, or pick an example first.")
    try:
        return load_clips(video, predictors, cache, limits)
    except (ClipError, BudgetError) as err:
        raise gr.Error(_for_user(str(err), video)) from err


def _checked(deadline: Deadline, what: str) -> None:
    try:
        deadline.check(what)
    except BudgetError as err:
        raise gr.Error(str(err)) from err


@contextlib.contextmanager
def _watched(deadline: Deadline, predictors: list[Predictor], what: str) -> Iterator[None]:
    """The request's deadline checked inside the predictors' forward passes too, before each
    block (`Deadline.watching`: for this request's thread only, the models being shared);
    a request over it, or over another limit, gets its message as a `gr.Error`."""
    try:
        with deadline.watching(*(p.model for p in predictors), what=what):
            yield
    except BudgetError as err:
        raise gr.Error(_for_user(str(err))) from err


def _used(predictor: Predictor) -> str:
    return f"{predictor.num_frames} frames at {predictor.size}x{predictor.size} px"


def frames_choices(
    models: Models, model_name: str, custom: Custom = None, *, server: Server = SERVER
) -> Update:
    """The frames control, its first choice naming the frames of the model to explain."""
    everyone = _everyone(models, custom, server)
    own = f" ({model_name}: {everyone[model_name].num_frames})" if model_name in everyone else ""
    return gr.update(choices=[(f"each model's own{own}", OWN_FRAMES), *[(str(t), t) for t in FRAME_CHOICES]])


def _panel_line(name: str, predictor: Predictor) -> str:
    line = f"*{_used(predictor)}*"
    if name in DEMO_FILES:
        line += "  \n" + DEMO_LINE.format(n=len(predictor.classes))
    return line


def predict(
    models: Models,
    video: str | None,
    model_name: str,
    frames: int | None,
    target: str | None,
    custom: Custom = None,
    cache: Cache = None,
    limits: Limits = LIMITS,
    *,
    server: Server = SERVER,
) -> tuple[Any, ...]:
    """Top-5 of every model on the same clip, each at its own frames unless `frames` says
    otherwise: one panel and one line (frames, size, what a demo model knows) per slot, the
    explained model's classes, and the visitor's cache."""
    deadline = Deadline(limits.timeout_s)
    prune_cache(keep=video, folder=server.cache_folder, max_mb=server.max_cache_mb)
    cache = ClipCache() if cache is None else cache
    everyone = _everyone(models, custom, server)
    classes = _pick(everyone, model_name, None, server).classes
    predictors = {name: _pick(everyone, name, frames, server, limits) for name in everyone}
    clips = _clips(video, predictors, cache, limits)
    probs = {}
    with _watched(deadline, list(predictors.values()), "the prediction"):
        for name, predictor in predictors.items():
            _checked(deadline, "the prediction")
            probs[name] = cache.predict(predictor, clips[name])
    lines = [_panel_line(slot, predictors[slot]) if slot in predictors else "" for slot in SLOTS]
    keep = target if target in classes else None  # None: explain the top-1 class
    return (*(probs.get(slot) for slot in SLOTS), *lines, gr.update(choices=classes, value=keep), cache)


def _strip(clip: Clip, order: list[int], title: str) -> Any:
    """The reordered clip as thumbnails, each captioned with its place and the frame it shows."""
    captions = [f"{place}: frame {clip.indices[p]}" for place, p in enumerate(order)]
    fig = figures.frames_figure(clip.frames[order], captions, columns=8, title=title)
    return fig.update_layout(height=40 + 130 * -(-len(order) // 8), margin=dict(l=5, r=5, t=40, b=5))


def order_test(
    models: Models,
    video: str | None,
    model_name: str,
    frames: int | None,
    order: str,
    seed: float | None = 0,
    typed: str | None = "",
    custom: Custom = None,
    cache: Cache = None,
    limits: Limits = LIMITS,
    quiet: bool = False,
    *,
    server: Server = SERVER,
) -> tuple[str, Any, Cache]:
    """Markdown: every model's top-1 on the clip as it is and in the chosen order; the
    reordered clip of the model to explain as thumbnails; the cache. An order that does not fit
    the clip raises `gr.Error`, or with `quiet` (a step of Run, which must go on to the
    explanation) says why in place of the table."""
    if order not in ORDERS:
        raise gr.Error(f"choose a frame order among {', '.join(ORDERS)}")
    test = ORDERS[order]
    if test is None or not video:
        return ORDER_HINT, None, cache
    if test == "custom" and not (typed or "").strip():
        return (
            (
                "*Your order:* type the positions of the clip's frames in the order to play them (0 = its "
                "first frame, e.g. `6 7 4 5 2 3 0 1`) and press Enter."
            ),
            None,
            cache,
        )
    if not 0 <= float(seed or 0) < 2**63 or float(seed or 0) != int(seed or 0):
        raise gr.Error(f"the seed is a whole number from 0 to {2**63 - 1}, got {seed}")
    seed = int(seed or 0)
    deadline = Deadline(limits.timeout_s)
    cache = ClipCache() if cache is None else cache
    everyone = _everyone(models, custom, server)
    predictors = {
        name.removesuffix(" (demo)"): _pick(everyone, name, frames, server, limits) for name in everyone
    }  # table rows
    clips = _clips(video, predictors, cache, limits)
    shown = (
        model_name.removesuffix(" (demo)")
        if model_name.removesuffix(" (demo)") in clips
        else next(iter(clips))
    )
    try:
        positions = parse_order(typed or "", len(clips[shown].indices)) if test == "custom" else None
        with _watched(deadline, list(predictors.values()), "the order test"):
            results = order_comparison(predictors, clips, test, seed=seed, cache=cache, order=positions)
    except ClipError as err:
        if quiet:
            return f"*Frame order ({order}):* {err}.", None, cache
        raise gr.Error(str(err)) from err
    strip = _strip(
        clips[shown],
        next(r.order for r in results if r.model == shown),
        f"the clip {ORDER_NAMES[test]}, as {shown} sees it",
    )
    return order_markdown(results, test, seed), strip, cache


ORDER_HINT = (
    "*Frame order:* choose **reversed**, **halves swapped**, **pairs shuffled** or **your order** "
    "to run every model again on the reordered clip and see which predictions change."
)


def _plan(
    predictor: Predictor, clip: Clip, method: str, cache: ClipCache, limits: Limits
) -> tuple[int, int | None, float, str]:
    """(steps, occlusion patch, seconds expected, note): the work limits first, then the app's
    time targets (`IG_TARGET_S`, `OCCLUSION_TARGET_S`), from this model's measured forward pass."""
    frames, size = len(clip.indices), predictor.size
    gflop = cost(predictor.model.config, size, frames)[1]
    cache.predict(predictor, clip)
    single = cache.seconds[predictor.uid, predictor.num_frames]
    try:
        plan = plan_explanation(method, frames, size, gflop, IG_STEPS, limits, frame_test=False)
    except BudgetError as err:  # over the work limit: say what it would cost in time too
        seconds = explanation_seconds(method, frames, size, ForwardTiming(single, single), IG_STEPS)
        raise gr.Error(f"{err} (about {seconds:,.0f} s on this machine)") from err
    steps, window, notes = plan.steps, plan.occlusion_window, [plan.note] if plan.note else []
    batch = {"integrated_gradients": 4, "occlusion": occlusion_batch(frames, size, size)}.get(method)
    timing = cache.timing(predictor, clip, batch) if batch else ForwardTiming(single, single)
    if method == "integrated_gradients":
        fit = fit_steps(frames, size, timing, IG_TARGET_S, steps)
        if fit < steps:
            notes.append(f"{fit} steps (as many as answer in about {IG_TARGET_S:g} s here)")
        steps = fit
    if method == "occlusion":
        default = window or occlusion_window(size, size)
        window = fit_occlusion_window(frames, size, timing, OCCLUSION_TARGET_S, default)
        if window > default:
            notes.append(
                f"{window}-pixel patches instead of {default} (to answer in about {OCCLUSION_TARGET_S:g} s)"
            )
    seconds = explanation_seconds(method, frames, size, timing, steps, window)
    if seconds > limits.timeout_s:
        raise gr.Error(
            f"{METHOD_NAMES[method]} on {predictor.name} at {frames} frames would take about "
            f"{seconds:.0f} s here, over the limit of {limits.timeout_s:g} s per request: choose "
            "Saliency or Grad-CAM, or fewer frames"
        )
    return steps, window, seconds, "; ".join(notes)


def _at_a_time(server: Server) -> str:
    return "one runs at a time" if server.heavy.at_once == 1 else f"{server.heavy.at_once} run at a time"


@contextlib.contextmanager
def _heavy_turn(
    server: Server,
    limits: Limits,
    seconds: float,
    what: str,
    progress: gr.Progress | None = None,
    instead: str = "choose Saliency or Grad-CAM, or fewer frames",
) -> Iterator[float]:
    """A turn in the server's `HeavyLane` for work expected to take `seconds` here, if that is
    over `HEAVY_S` (lighter work needs none: it starts at once, whatever heavy work runs); the
    seconds waited. A request that must wait says so (a `gr.Info` and the progress bar); one
    that finds the lane full is refused with a `gr.Error`."""
    if seconds <= HEAVY_S:
        yield 0.0
        return

    def queued(ahead: int) -> None:
        others = "another heavy explanation" if ahead == 1 else f"{ahead} other heavy explanations"
        gr.Info(
            f"{what} would take about {seconds:.0f} s: it is queued behind {others} ({_at_a_time(server)}) "
            "and starts as soon as it can; predictions and quick explanations are served meanwhile."
        )
        if progress is not None:
            progress(0.2, desc=f"queued behind {others}")

    try:
        with server.heavy.slot(queued, max_wait_s=(server.heavy.waiting + 1) * limits.timeout_s) as waited:
            yield waited
    except ServerBusy as err:
        raise gr.Error(
            f"{what} would take about {seconds:.0f} s here, and {err}: try again in a minute, or {instead}"
        ) from err


def _attribution_note(
    found,
    predictor: Predictor,
    model_name: str,
    probs: dict[str, float],
    seconds: float,
    sign: str,
    opacity: float,
    waited: float = 0.0,
    at_a_time: str = "",
) -> str:
    method = METHOD_NAMES[found.method]
    top1 = max(probs, key=probs.get)
    rank = "the top-1" if found.target == top1 else f"not the top-1 (that is '{top1}')"
    extra = f", baseline: {BASELINE_NAMES[found.baseline]}, {found.steps} steps" if found.baseline else ""
    lines = [
        f"**{method}** of **'{found.target}'** ({probs[found.target]:.1%}, {rank}) "
        f"for **{model_name}**, on "
        f"{_used(predictor)}{extra}; "
        + (
            f"it took {seconds:.1f} s."
            if seconds >= 0.05
            else "it took under 0.1 s."
            if seconds
            else "kept from before."
        ),
        f"Drawn: {SIGN_NAMES[sign]}, over the frames in grey, opacity {opacity:g}, one scale for the "
        f"clip. Per pixel: the {UNITS[found.method]}; captions give each frame's sum and its share of "
        "the clip's |attribution|.",
    ]
    if found.method == "gradcam" and predictor.model.config.frame_routing == "pairs":
        lines.append(
            "Grad-CAM looks at a layer where both frames of a pair share one map: the two frames of "
            "each pair get the same map and the same value."
        )
    if found.note:
        lines.append(f"*Within the limits:* {found.note}.")
    if waited >= 0.05:
        lines.append(f"*Queued:* it waited {waited:.1f} s for a heavy explanation to end ({at_a_time}).")
    return "  \n".join(lines)


def explain(
    models: Models,
    video: str | None,
    model_name: str,
    frames: int | None,
    method: str,
    baseline: str,
    target: str | None,
    sign: str = "absolute_value",
    opacity: float = 0.8,
    custom: Custom = None,
    cache: Cache = None,
    limits: Limits = LIMITS,
    forced: bool = True,
    progress: gr.Progress = gr.Progress(),  # noqa: B008 (Gradio's way to ask for a progress bar)
    *,
    server: Server = SERVER,
) -> tuple[Any, ...]:
    """The method's attribution of the class (default: the top-1) on every frame of the model
    to explain: overlays with captions, the colour scale, the per-frame chart, an overlay
    video, a note naming what was explained; the cache.

    The attribution is kept in the cache: sign and opacity only redraw it. With `forced=False`
    (a control changed) an explanation expected to take over `AUTO_S` is not run: the note
    says what it would cost."""
    if method not in METHODS or baseline not in BASELINES or sign not in SIGNS:
        raise gr.Error(
            f"choose a method among {', '.join(METHODS)}, a baseline among {', '.join(BASELINES)} "
            f"and a sign among {', '.join(SIGNS)}"
        )
    if not 0 <= float(opacity) <= 1:
        raise gr.Error("the opacity goes from 0 to 1")
    skip = (gr.skip(),) * 4
    if not video and not forced:
        return *skip, RUN_FIRST, cache
    deadline = Deadline(limits.timeout_s)
    cache = ClipCache() if cache is None else cache
    ticket = cache.ticket("explain")  # a later request (a quicker control change, a new clip) wins
    predictor = _pick(_everyone(models, custom, server), model_name, frames, server, limits)
    progress(0.1, desc="decoding")
    clip = _clips(video, {model_name: predictor}, cache, limits)[model_name]
    with _watched(deadline, [predictor], "the explanation"):
        probs = cache.predict(predictor, clip)
    if target and target not in probs and not forced:
        target = None  # a class of the model explained before (the dropdown is being reset): the top-1
    target = target or max(probs, key=probs.get)
    if target not in probs:
        raise gr.Error(f"unknown class {target!r}")
    key = ("attribution", method, baseline if method == "integrated_gradients" else "", target)
    found = cache.recall(predictor, clip, key)
    seconds = waited = 0.0
    if found is None:
        with _watched(deadline, [predictor], "the explanation"):
            steps, window, seconds, note = _plan(predictor, clip, method, cache, limits)
        if not forced and seconds > AUTO_S:
            return (
                *skip,
                (
                    f"{METHOD_NAMES[method]} would take about {seconds:.0f} s here: press **Explain** "
                    "to run it."
                ),
                cache,
            )
        with _heavy_turn(server, limits, seconds, METHOD_NAMES[method], progress) as waited:
            if waited:  # its turn came: the wait does not count, unless a later request overtook it
                if cache.tickets["explain"] != ticket:
                    return *skip, gr.skip(), cache
                deadline = Deadline(limits.timeout_s)
            progress(0.3, desc=f"{METHOD_NAMES[method]} on the whole clip (about {seconds:.0f} s)")
            start = time.perf_counter()
            try:
                with _watched(deadline, [predictor], "the explanation"):
                    found = attribution(
                        predictor,
                        clip,
                        target,
                        method,
                        baseline,
                        steps,
                        deadline=deadline,
                        occlusion_window=window,
                    )
            except (ClipError, BudgetError) as err:
                raise gr.Error(str(err)) from err
            seconds = time.perf_counter() - start
        found.note = note
        cache.remember(predictor, clip, key, found)
    cache.remember(predictor, clip, ("shown",), found)  # what `frame_view` draws
    if cache.tickets["explain"] != ticket:  # overtaken while it ran: leave the page to the later request
        return *skip, gr.skip(), cache
    progress(0.8, desc="drawing")
    shown = draw(found, clip, sign, float(opacity), grey=True)
    gallery = [(f.permute(1, 2, 0).numpy(), c) for f, c in zip(shown.overlays, shown.captions)]
    labels = [f"frame {i}" for i in clip.indices]
    total = float(found.per_frame.sum())
    subtitle = (
        f"the frames' sums (on the bars) add up to {total:+.3g}; score(clip) - score(baseline) is "
        f"{found.score_gap:+.3g}, the difference is the error of {found.steps} steps"
        if found.score_gap is not None
        else f"on the bars: each frame's sum, {total:+.3g} in all"
    )
    per_frame = figures.frame_attribution_figure(
        found.per_frame, found.share, labels, METHOD_NAMES[method], target, subtitle=subtitle
    )
    scale = figures.colorbar_figure(shown.threshold, sign, float(opacity), UNITS[method])
    path = server.overlays.new_path()
    overlay_video(
        path,
        clip.frames,
        shown.maps,
        fps=4,
        upscale=max(1, 256 // predictor.size),
        alpha=float(opacity),
        sign=sign,
        grey=True,
    )
    note = _attribution_note(
        found, predictor, model_name, probs, seconds, sign, float(opacity), waited, _at_a_time(server)
    )
    return gallery, scale, per_frame, str(path), note, cache


def frame_view(
    models: Models,
    video: str | None,
    model_name: str,
    frames: int | None,
    sign: str,
    selected: int | None,
    custom: Custom = None,
    cache: Cache = None,
    limits: Limits = LIMITS,
    *,
    server: Server = SERVER,
) -> Any:
    """Captum's own drawing (`visualize_image_attr_multiple`) of frame `selected` of the last
    explanation: the frame, its heat map and the blend, scaled to that frame alone (the
    gallery scales the whole clip at once); hidden when nothing is explained yet."""
    from captum.attr import visualization

    if cache is None or selected is None or not video or sign not in SIGNS:
        return gr.update(value=None, visible=False)
    predictor = _pick(_everyone(models, custom, server), model_name, frames, server, limits)
    clip = _clips(video, {model_name: predictor}, cache, limits)[model_name]
    found = cache.recall(predictor, clip, ("shown",))
    if found is None or not 0 <= int(selected) < len(found.values):
        return gr.update(value=None, visible=False)
    t = int(selected)
    values = found.values[t].numpy()[..., None]  # (H, W, 1)
    if not values.any():
        return gr.update(value=None, visible=False)
    if (sign == "positive" and not (values > 0).any()) or (sign == "negative" and not (values < 0).any()):
        sign = "absolute_value"  # Captum cannot scale a sign that is absent from the frame
    figure, _ = visualization.visualize_image_attr_multiple(
        values,
        clip.frames[t].permute(1, 2, 0).numpy(),
        ["original_image", "heat_map", "blended_heat_map"],
        ["all", sign, sign],
        titles=[f"frame {clip.indices[t]}", METHOD_NAMES[found.method], "blended"],
        show_colorbar=True,
        use_pyplot=False,
        fig_size=(10, 3.6),
        cmap=_captum_colours(sign),
    )
    return gr.update(value=figure, visible=True)


def _captum_colours(sign: str) -> Any:
    """The gallery's colours (`overlays.colour_table`) as a matplotlib colour map: Captum's own
    would put red against the class. One sign fades from white to its colour."""
    from matplotlib.colors import LinearSegmentedColormap

    table = (colour_table(sign) / 255).tolist()
    ends = {
        "absolute_value": table,
        "positive": ["white", table[-1]],
        "negative": ["white", table[-1]],
        "all": [table[0], "white", table[-1]],
    }[sign]
    return LinearSegmentedColormap.from_list(f"blvnet-{sign}", ends)


def frame_test(
    models: Models,
    video: str | None,
    model_name: str,
    frames: int | None,
    target: str | None,
    replacement: str,
    custom: Custom = None,
    cache: Cache = None,
    limits: Limits = LIMITS,
    *,
    server: Server = SERVER,
) -> tuple[Any, Cache]:
    """What the prediction of the class loses without each frame, replaced by `replacement`; the cache."""
    if replacement not in REPLACEMENTS:
        raise gr.Error(f"choose a replacement among {', '.join(REPLACEMENTS)}")
    if not video:
        return gr.skip(), cache
    deadline = Deadline(limits.timeout_s)
    cache = ClipCache() if cache is None else cache
    predictor = _pick(_everyone(models, custom, server), model_name, frames, server, limits)
    clip = _clips(video, {model_name: predictor}, cache, limits)[model_name]
    with _watched(deadline, [predictor], "the frame removal"):
        probs = cache.predict(predictor, clip)
    target = target or max(probs, key=probs.get)
    if target not in probs:
        raise gr.Error(f"unknown class {target!r}")
    passes = len(clip.indices) + 1
    work = passes * cost(predictor.model.config, predictor.size, len(clip.indices))[1]
    if work > limits.max_explain_gflop:
        raise gr.Error(
            f"removing each of {len(clip.indices)} frames would take about {work:.0f} GFLOP; the "
            f"limit is {limits.max_explain_gflop:g}: choose fewer frames"
        )
    key = ("removal", target, replacement)
    removal = cache.recall(predictor, clip, key)
    if removal is None:
        single = cache.seconds.get((predictor.uid, predictor.num_frames), 0.0)  # measured by cache.predict
        with _heavy_turn(
            server, limits, passes * single, "Removing each frame", instead="choose fewer frames"
        ) as waited:
            if waited:
                deadline = Deadline(limits.timeout_s)  # the wait for a turn does not count
            try:
                with _watched(deadline, [predictor], "the frame removal"):
                    removal = remove_frames(predictor, clip, target, replacement, deadline)
            except BudgetError as err:
                raise gr.Error(str(err)) from err
        cache.remember(predictor, clip, key, removal)
    labels = [f"frame {i}" for i in clip.indices]
    return figures.frame_removal_figure(removal, labels, target), cache


TAM_READING = (
    "**How to read these charts.** *Past / current / future:* each row is one TAM, each cell the share of "
    "its |weights| on frames before (-), at (0) and after (+) the frame it writes; 0-1 for every model. "
    "*Channels by what their weights do:* one column per channel, its weights on each offset (red positive, "
    "blue negative), grouped into channels whose |weight| lies mostly on the past, the current or the future "
    "frame (either sign), is spread over them (mixing, e.g. a difference of past and future), or is near "
    "zero; in stage 4 an offset is one frame pair. *This clip:* one row per output frame of the chosen TAM, "
    "one column per input frame: how much the output draws on each input, through every layer before it, for "
    "the clip you ran."
)


def tam_weights(
    models: Models, model_name: str, custom: Custom = None, *, server: Server = SERVER
) -> tuple[Update, Update, Update, str, str]:
    """The TAM layer selector (the last TAM chosen), the past/current/future summary, the
    chosen layer's channels by group, a note and the model card."""
    predictor = _pick(_everyone(models, custom, server), model_name, None, server)
    tams = predictor.model.tams()
    card = model_card(predictor)
    if not tams:
        bag = (
            "averages per-frame predictions (a bag of frames)"
            if predictor.model.config.frame_routing == "frames"
            else "fuses the two frames of each pair only (a bag of frame pairs)"
        )
        note = (
            f"**{model_name}** has no TAM, so there are no temporal weights to show: it {bag}. "
            "Choose bLVNet-TAM under *model to explain*."
        )
        hidden = gr.update(value=None, visible=False)
        return gr.update(choices=[], value=None, visible=False), hidden, hidden, note, card
    last = list(tams)[-1]
    note = (
        f"**{model_name}** has {len(tams)} TAMs. Each mixes a frame's features with those of its "
        f"neighbours, one weight per offset and channel. {TAM_READING}"
    )
    return (
        gr.update(choices=list(tams), value=last, visible=True),
        gr.update(value=figures.tam_summary_figure(summarize_tams(predictor.model)), visible=True),
        gr.update(value=tam_layer(models, model_name, last, custom), visible=True),
        note,
        card,
    )


def tam_layer(
    models: Models, model_name: str, layer: str, custom: Custom = None, *, server: Server = SERVER
) -> Any:
    """The channels of one TAM, grouped by what their weights do."""
    model = _pick(_everyone(models, custom, server), model_name, None, server).model
    tams = model.tams()
    if layer not in tams:
        raise gr.Error(f"{model_name} has no TAM named {layer!r}")
    weights = tams[layer].offset_weights()
    # stage 4 of bLVNet: one frame per pair
    pairs = layer.startswith("layer4.") and model.routing.group_size == 2
    return figures.tam_groups_figure(
        layer, weights, group_channels(weights), "frame pairs" if pairs else "frames"
    )


def tam_view(
    models: Models,
    video: str | None,
    model_name: str,
    frames: int | None,
    layer: str | None,
    custom: Custom = None,
    cache: Cache = None,
    limits: Limits = LIMITS,
    *,
    server: Server = SERVER,
) -> tuple[Update, str, Cache]:
    """What the TAMs do to this clip: for each output frame of TAM `layer` (default: the last),
    the share of each input frame (`receptive_field.temporal_receptive_field`); a sentence; the cache."""
    predictor = _pick(_everyone(models, custom, server), model_name, frames, server, limits)
    tams = predictor.model.tams()
    hidden = gr.update(value=None, visible=False)
    if not tams:
        return hidden, "", cache
    if not video:
        return hidden, "*Run a clip to see what the TAMs do to it.*", cache
    layer = layer if layer in tams else list(tams)[-1]
    deadline = Deadline(limits.timeout_s)
    cache = ClipCache() if cache is None else cache
    clip = _clips(video, {model_name: predictor}, cache, limits)[model_name]
    with _watched(deadline, [predictor], "the TAM view"):
        field = cache.memo(
            predictor,
            clip,
            ("field", layer),
            lambda: temporal_receptive_field(
                predictor.model, clip.input, layer, check=lambda: deadline.check("the TAM view")
            ),
        )
    inputs = [f"frame {i}" for i in clip.indices]
    if len(field) == len(inputs):
        outputs = inputs
    else:  # stage 4: one row per pair
        outputs = [f"frames {clip.indices[2 * r]} and {clip.indices[2 * r + 1]}" for r in range(len(field))]
    spans = [span(row) for row in field]
    widest = max(range(len(spans)), key=lambda r: (spans[r][1] - spans[r][0], -abs(2 * r - len(spans) + 1)))
    first, last = spans[widest]
    sentence = (
        f"On this clip ({_used(predictor)}), the output of **{layer}** at {outputs[widest]} draws "
        f"90% of what it takes from the clip from **frames {clip.indices[first]} to "
        f"{clip.indices[last]}** ({last - first + 1} of {len(inputs)} sampled frames), where the "
        f"first TAM's outputs draw on at most {predictor.model.config.blending_frames} neighbouring "
        "frames."
    )
    return (
        gr.update(value=figures.receptive_field_figure(field, inputs, outputs, layer), visible=True),
        sentence,
        cache,
    )


def model_changed(
    models: Models, model_name: str, custom: Custom = None, *, server: Server = SERVER
) -> tuple[Update, Update]:
    """The class list of the model to explain (top-1 by default) and the frames control's label."""
    predictor = _pick(_everyone(models, custom, server), model_name, None, server)
    return (
        gr.update(choices=predictor.classes, value=None),
        frames_choices(models, model_name, custom, server=server),
    )


def load_custom(
    models: Models,
    checkpoint: str | None,
    labels: str | None,
    preset: str,
    label_map: str = "",
    limits: Limits = LIMITS,
    *,
    server: Server = SERVER,
) -> tuple[Any, ...]:
    """The visitor's checkpoint: their state (a reference to it, held by `server.own`), the model
    choices, a status line, its top-5 panel and the frames control (which names its frames).

    `labels` (a file) wins over `label_map` (a shipped list); with neither, a blvnet-edu
    checkpoint uses its own classes and an authors' one the list its class count implies."""
    if not checkpoint:
        raise gr.Error("Choose a checkpoint file first.")
    prune_cache(keep=checkpoint, folder=server.cache_folder, max_mb=server.max_cache_mb)
    labels = labels or (None if label_map in (None, "", LABEL_AUTO) else label_map)
    try:
        predictor = load_predictor(checkpoint, labels, None if preset == OURS else preset, limits=limits)
    except UnverifiedCheckpointError as err:  # the CLI's way round (--allow-unverified) is not the visitor's
        name = _for_user(str(checkpoint), checkpoint)
        raise gr.Error(
            f"Could not load this checkpoint: {name} has no digest of the whole file (it was edited, "
            "or written by an earlier blvnet-edu), and the app loads only verified files. If you "
            "trust it, give it a digest first: SavedRun.load(path, allow_unverified=True).save(path)"
        ) from err
    except (ValueError, FileNotFoundError) as err:
        raise gr.Error(f"Could not load this checkpoint: {_for_user(str(err), checkpoint, labels)}") from err
    ref = server.own.hold(predictor)
    choices = list(models) if CUSTOM in models else [*models, CUSTOM]
    return (
        ref,
        gr.update(choices=choices, value=CUSTOM),
        f"Loaded **{predictor.name}** with {len(predictor.classes)} classes; it runs on "
        f"{_used(predictor)} (its own) unless you choose other frames.",
        gr.update(visible=True, label=f"your checkpoint: {predictor.name}"),
        {**frames_choices(models, CUSTOM, predictor, server=server), "value": OWN_FRAMES},
    )  # its own


OURS = "read from the checkpoint"
LABEL_AUTO = "from the checkpoint"


def example(
    models: Models, video: str, limits: Limits = LIMITS, *, server: Server = SERVER
) -> tuple[Any, ...]:
    """Everything a Run shows for an example clip, in the order test its note suggests (what
    Gradio caches for the examples): the panels and their lines, the order test, its strip and
    choice, bLVNet-TAM's saliency, the frame removal, the TAM view and what to notice."""
    test, notice = example_notice(Path(video).stem.replace("_", " "))
    order = next(label for label, named in ORDERS.items() if named == test)  # the order control's label
    name = BLVNET_TAM if BLVNET_TAM in models else next(iter(models))
    cache = ClipCache()
    *panels, _, cache = predict(models, video, name, None, None, None, cache, limits, server=server)
    table, strip, cache = order_test(
        models, video, name, None, order, 0, "", None, cache, limits, server=server
    )
    gallery, scale, per_frame, overlay, note, cache = explain(
        models,
        video,
        name,
        None,
        "saliency",
        "black",
        None,
        "absolute_value",
        0.8,
        None,
        cache,
        limits,
        server=server,
    )
    removal, cache = frame_test(models, video, name, None, None, "grey", None, cache, limits, server=server)
    field, sentence, cache = tam_view(models, video, name, None, None, None, cache, limits, server=server)
    return (
        *panels,
        table,
        strip,
        order,
        gallery,
        scale,
        per_frame,
        overlay,
        note,
        removal,
        field["value"],
        sentence,
        f"**What to notice:** {notice}" if notice else "",
    )


def example_controls(models: Models, *, server: Server = SERVER) -> tuple[Any, ...]:
    """The controls as an example's results were computed (model to explain, top-1 class, each
    model's own frames, saliency over black, absolute values at opacity 0.8, grey frame removal,
    the last TAM), and an empty visitor cache: what the page holds once an example is shown."""
    name = BLVNET_TAM if BLVNET_TAM in models else next(iter(models))
    tams = list(models[name].model.tams())
    return (
        gr.update(value=name),
        gr.update(choices=models[name].classes, value=None),
        {**frames_choices(models, name, server=server), "value": OWN_FRAMES},
        "saliency",
        "black",
        "absolute_value",
        0.8,
        "grey",
        gr.update(choices=tams, value=tams[-1] if tams else None),
        None,
    )


def prune_cache(
    keep: str | None = None, folder: str | Path | None = None, max_mb: float | None = None
) -> int:
    """Delete the oldest files of Gradio's cache (`folder`: a server passes its own part of it,
    `Server.cache_folder`; default the whole of it) until it holds at most `max_mb` (default
    `MAX_CACHE_MB`; a server passes its `Server.max_cache_mb`), never the file `keep` (the
    request's own upload); the bytes deleted.

    Runs at each upload-taking request, so the cache stays within the bound plus the
    uploads in flight. A visitor whose older upload was deleted is asked to upload it again."""
    folder = Path(folder or gr.utils.get_upload_folder())
    limit = (MAX_CACHE_MB if max_mb is None else max_mb) * 1024 * 1024
    files = []
    for path in folder.rglob("*") if folder.is_dir() else ():
        try:
            if path.is_file():
                stat = path.stat()
                files.append((stat.st_mtime, stat.st_size, path))
        except OSError:  # deleted meanwhile
            continue
    total, deleted = sum(size for _, size, _ in files), 0
    keep_path = Path(keep).resolve() if keep else None
    for _, size, path in sorted(files, key=lambda f: f[0]):
        if total <= limit:
            break
        if keep_path is not None and path.resolve() == keep_path:
            continue
        path.unlink(missing_ok=True)
        total, deleted = total - size, deleted + size
    return deleted


__all__ = [
    "load_models",
    "OwnCheckpoints",
    "OverlayVideos",
    "HeavyLane",
    "ServerBusy",
    "Server",
    "SERVER",
    "leftovers",
    "remove_leftovers",
    "predict",
    "order_test",
    "explain",
    "frame_view",
    "frame_test",
    "tam_weights",
    "tam_layer",
    "tam_view",
    "model_changed",
    "load_custom",
    "example",
    "frames_choices",
    "prune_cache",
    "METHOD_NAMES",
    "BASELINE_NAMES",
    "REPLACEMENT_NAMES",
    "SIGN_NAMES",
]
