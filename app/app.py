"""The bLVNet-TAM explainer: a Gradio UI over `blvnet_edu.inference` (no model code here).

    blvnet-edu app                       # bundled demo models and example clips
    blvnet-edu app --checkpoint runs/x/best.pt
    blvnet-edu app --checkpoint ssv1_blvnet_tam_50.pth --model blvnet_tam_50 --labels ssv1_classes.txt
    blvnet-edu app --max-explain-gflop 500 --timeout-s 30   # tighter per-request limits
    BLVNET_DEMO_DIR=/tmp/demo blvnet-edu app    # demo checkpoints from another folder

Installed as `blvnet_edu_app.app` (the folder `app/` of the repository, with the `app` extra:
`pip install -e ".[app]"`); `launch` serves it, `build_ui` builds it, and the handlers below
are plain functions that tests call directly.

The paper's Figure 1 as a UI. Three demo models answer side by side on the same clip: TSN
(a bag of frames), bLVNet without TAM (a bag of frame pairs) and bLVNet-TAM (relates distant
pairs); the app shows whichever of their files exist in the demo folder. The frame-order
control plays the clip reversed or with its frame pairs shuffled and shows which models
notice. Attributions, the TAM weights of every layer and the model card are shown for the
model chosen under "model to explain".

Per visitor (`gr.State`): a checkpoint they load, and an `inference.ClipCache`. One Run
(prediction, then order test, then explanation) decodes the clip once per preprocessing and
runs each model on it once; the explanation of the default class takes the prediction's top-1.

What one request may cost is bounded by `budget.Limits` (`--max-...` options), checked before
the work starts: a refused request answers in milliseconds and never holds up another
visitor's. Uploads are limited in size (`--max-upload-mb`), and Gradio's cache of uploads
and outputs is kept under `--max-cache-mb` (oldest files deleted first) and emptied hourly of
files older than an hour.

Named API endpoints (for `gradio_client`): `predict`, `order_test`, `explain`, `tam_weights`,
`tam_layer`, `load_checkpoint`.
"""

from __future__ import annotations

import collections
import ctypes
import functools
import os
import socket
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any

import gradio as gr
import plotly.graph_objects as go

from blvnet_edu import inference, list_models
from blvnet_edu.budget import BudgetError, Deadline, Limits
from blvnet_edu.explain import figures
from blvnet_edu.explain.attributions import BASELINES, METHODS
from blvnet_edu.explain.overlays import overlay_video
from blvnet_edu.explain.tam_weights import summarize_tams

HERE = Path(__file__).resolve().parent
DEMO = Path(os.environ.get("BLVNET_DEMO_DIR") or HERE / "demo")
EXAMPLES = sorted((HERE / "examples").glob("*.mp4"))
TSN, BLVNET, BLVNET_TAM, CUSTOM = "TSN (demo)", "bLVNet without TAM (demo)", "bLVNet-TAM (demo)", "your checkpoint"
DEMO_FILES = {TSN: "tsn_resnet_tiny.pt", BLVNET: "blvnet_tiny.pt", BLVNET_TAM: "blvnet_tam_tiny.pt"}
SLOTS = {  # the side-by-side top-5 panels, in the paper's order
    TSN: "TSN: a bag of frames",
    BLVNET: "bLVNet without TAM: a bag of frame pairs",
    BLVNET_TAM: "bLVNet-TAM: relates distant pairs",
    CUSTOM: "your checkpoint",
}
ORDERS = {"as it is": None, "reversed": "reversed", "pairs shuffled": "shuffled_pairs"}
OURS = "read from the checkpoint"
LABEL_AUTO = "from the checkpoint"
LABEL_MAPS = [LABEL_AUTO, "ssv1", "ssv2", "kinetics400"]  # blvnet_edu.data.label_maps
DEMO_NOTE = (
    "**What the demo models know:** only the classes of the course's synthetic set (shapes that move, grow, "
    "rotate, turn on or off). Any other clip gets an arbitrary answer among them. **Real videos:** under "
    "*your own checkpoint*, load a released bLVNet-TAM file of the authors (github.com/IBM/bLVNet-TAM, e.g. "
    "`st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar`) and choose its labels: `ssv1` or `ssv2` (Something-Something "
    "V1 or V2, 174 classes), `kinetics400`. Its network is read from the file, its frames from the name (f8x2: 16).")
ORDER_HINT = ("*Frame order:* choose **reversed** or **pairs shuffled** to run every model again on the "
              "modified clip and see which predictions change.")
CAVEAT = (
    "Attributions are computed on the whole clip at once: TAM mixes frames, so a single frame "
    "cannot be explained alone. After each bL stage both frames of a pair share one feature "
    "map, and stage 4 sees one frame per pair: Grad-CAM gives one map per pair of frames."
)
CSS = ".order-table th, .order-table td { word-break: normal !important; overflow-wrap: normal !important; }"
Models = dict[str, inference.Predictor]
Custom = "weakref.ref[inference.Predictor] | inference.Predictor | None"  # the visitor's own checkpoint
Cache = inference.ClipCache | None  # the visitor's decoded clip and predictions
Update = dict[str, Any]  # what gr.update(...) returns
LIMITS = Limits()  # the defaults; `launch(limits=...)` binds others to every handler


def load_models(checkpoint: str | None = None, labels: str | None = None, model_name: str | None = None,
                demo_dir: str | Path | None = None) -> Models:
    """The demo models found in `demo_dir` and the `--checkpoint`, loaded once for every visitor."""
    demo_dir = Path(demo_dir or DEMO)
    models = {name: inference.load_predictor(demo_dir / file)
              for name, file in DEMO_FILES.items() if (demo_dir / file).exists()}
    if checkpoint:
        models[CUSTOM] = inference.load_predictor(checkpoint, labels, model_name)
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
        self._held: collections.OrderedDict[int, inference.Predictor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def hold(self, predictor: inference.Predictor) -> weakref.ref:
        with self._lock:
            self._held[id(predictor)] = predictor
            while len(self._held) > self.capacity:
                self._held.popitem(last=False)
        return weakref.ref(predictor)

    def get(self, ref: weakref.ref) -> inference.Predictor | None:
        predictor = ref()
        with self._lock:
            if predictor is None or id(predictor) not in self._held:
                return None
            self._held.move_to_end(id(predictor))
        return predictor

    def __len__(self) -> int:
        return len(self._held)


OWN = OwnCheckpoints()  # `launch(max_checkpoints=...)` sets its capacity


# Handlers: `models` is shared and read-only; `custom` and `cache` are the visitor's (gr.State).

def _everyone(models: Models, custom: Custom) -> Models:
    if isinstance(custom, weakref.ref):
        predictor = OWN.get(custom)
        if predictor is None:
            raise gr.Error(f"Your checkpoint was unloaded to make room: the server holds the {OWN.capacity} most "
                           "recently used visitors' checkpoints. Load it again under *your own checkpoint*.")
        custom = predictor
    return {**models, CUSTOM: custom} if custom else models


def _pick(models: Models, name: str, frames: int | None) -> inference.Predictor:
    if name not in models:
        raise gr.Error(f"unknown model {name!r}")
    predictor = models[name]
    if frames and predictor.model.config.frame_routing == "pairs" and int(frames) % 2:
        raise gr.Error("bLVNet takes frames in pairs: choose an even number of frames")
    return predictor.with_frames(int(frames)) if frames else predictor


def _for_user(message: str, *uploads: str | None) -> str:
    """`message` without the uploads' temporary folders, which mean nothing to the user."""
    for upload in uploads:
        if upload and Path(upload).parent != Path("."):
            message = message.replace(str(Path(upload).parent) + "/", "")
    return message


def _clips(video: str | None, predictors: Models, cache: inference.ClipCache,
           limits: Limits) -> dict[str, inference.Clip]:
    if not video:
        raise gr.Error("Upload a clip, record one, or pick an example first.")
    try:
        return inference.load_clips(video, predictors, cache, limits)
    except (inference.ClipError, BudgetError) as err:
        raise gr.Error(_for_user(str(err), video)) from err


def _checked(deadline: Deadline, what: str) -> None:
    try:
        deadline.check(what)
    except BudgetError as err:
        raise gr.Error(str(err)) from err


def predict(models: Models, video: str | None, model_name: str, frames: int | None, target: str | None,
            custom: Custom = None, cache: Cache = None, limits: Limits = LIMITS) -> tuple[Any, ...]:
    """Top-5 of every model on the same clip (one panel per slot), the explained model's classes
    and the visitor's cache (the decoded clip and the predictions, for the next steps)."""
    deadline = Deadline(limits.timeout_s)
    prune_cache(keep=video)
    cache = inference.ClipCache() if cache is None else cache
    everyone = _everyone(models, custom)
    classes = _pick(everyone, model_name, None).classes
    predictors = {name: _pick(everyone, name, frames) for name in everyone}
    clips = _clips(video, predictors, cache, limits)
    probs = {}
    for name, predictor in predictors.items():
        _checked(deadline, "the prediction")
        probs[name] = cache.predict(predictor, clips[name])
    keep = target if target in classes else None  # None: explain the top-1 class
    return *(probs.get(slot) for slot in SLOTS), gr.update(choices=classes, value=keep), cache


def order_test(models: Models, video: str | None, frames: int | None, order: str, custom: Custom = None,
               cache: Cache = None, limits: Limits = LIMITS) -> tuple[str, Cache]:
    """Markdown: every model's top-1 on the clip as it is and in the chosen order; the cache."""
    test = ORDERS.get(order)
    if test is None or not video:
        return ORDER_HINT, cache
    cache = inference.ClipCache() if cache is None else cache
    everyone = _everyone(models, custom)
    predictors = {name.removesuffix(" (demo)"): _pick(everyone, name, frames) for name in everyone}  # table rows
    clips = _clips(video, predictors, cache, limits)
    try:
        results = inference.order_comparison(predictors, clips, test, seed=0, cache=cache)
    except inference.ClipError as err:
        raise gr.Error(str(err)) from err
    return inference.order_markdown(results, test), cache


def explain(models: Models, video: str | None, model_name: str, frames: int | None, method: str,
            baseline: str, target: str | None, custom: Custom = None, cache: Cache = None,
            limits: Limits = LIMITS, progress: gr.Progress = gr.Progress()) -> tuple[list, go.Figure, str, str, Cache]:
    """Attribution overlays, temporal importance, an overlay video and a note (what the limits
    scaled down, or nothing) for one model; the cache."""
    deadline = Deadline(limits.timeout_s)
    cache = inference.ClipCache() if cache is None else cache
    predictor = _pick(_everyone(models, custom), model_name, frames)
    if method not in METHODS or baseline not in BASELINES:
        raise gr.Error(f"choose a method among {', '.join(METHODS)} and a baseline among {', '.join(BASELINES)}")
    progress(0.1, desc="decoding")
    clip = _clips(video, {model_name: predictor}, cache, limits)[model_name]
    if not target:  # the top-1 class, from the prediction when this Run made one
        probs = cache.predict(predictor, clip)
        target = max(probs, key=probs.get)
    progress(0.3, desc=f"{method} on the whole clip")
    try:
        result = inference.explain(predictor, clip, target, method, baseline, limits=limits, deadline=deadline)
    except (inference.ClipError, BudgetError) as err:
        raise gr.Error(str(err)) from err
    progress(0.9, desc="encoding the overlay video")
    gallery = [(frame.permute(1, 2, 0).numpy(), caption) for frame, caption in zip(result.overlays, result.captions)]
    path = _overlay_path()
    overlay_video(path, clip.frames, result.maps, fps=4, upscale=max(1, 256 // predictor.size))
    labels = [f"frame {i}" for i in clip.indices]
    note = f"*Within the limits:* {result.note}." if result.note else ""
    return gallery, figures.temporal_importance_figure(result.importance, labels), str(path), note, cache


def tam_weights(models: Models, model_name: str,
                custom: Custom = None) -> tuple[Update, Update, Update, str, str]:
    """The TAM layer selector, the past/current/future summary, the first layer's weights, a note and the card."""
    predictor = _pick(_everyone(models, custom), model_name, None)
    tams = predictor.model.tams()
    card = inference.model_card(predictor)
    if not tams:
        bag = ("averages per-frame predictions (a bag of frames)" if predictor.model.config.frame_routing == "frames"
               else "fuses the two frames of each pair only (a bag of frame pairs)")
        note = (f"**{model_name}** has no TAM, so there are no temporal weights to show: it {bag}. "
                "Choose bLVNet-TAM under *model to explain*.")
        hidden = gr.update(value=None, visible=False)
        return gr.update(choices=[], value=None, visible=False), hidden, hidden, note, card
    first = next(iter(tams))
    note = (f"**{model_name}** has {len(tams)} TAMs. Each mixes a frame's features with those of its "
            "neighbours, one weight per offset and channel; pick a layer to see its weights.")
    return (gr.update(choices=list(tams), value=first, visible=True),
            gr.update(value=figures.tam_summary_figure(summarize_tams(predictor.model)), visible=True),
            gr.update(value=figures.tam_layer_heatmap(first, tams[first].offset_weights()), visible=True),
            note, card)


def tam_layer(models: Models, model_name: str, layer: str, custom: Custom = None) -> go.Figure:
    """The per-channel weights of one TAM."""
    tams = _pick(_everyone(models, custom), model_name, None).model.tams()
    if layer not in tams:
        raise gr.Error(f"{model_name} has no TAM named {layer!r}")
    return figures.tam_layer_heatmap(layer, tams[layer].offset_weights())


def load_custom(models: Models, checkpoint: str | None, labels: str | None, preset: str,
                label_map: str = LABEL_AUTO, limits: Limits = LIMITS) -> tuple[weakref.ref, Update, str, Update]:
    """The visitor's checkpoint: their state (a reference to it, held by `OWN`), the model
    choices, a status line and its top-5 panel.

    `labels` (a file) wins over `label_map` (a shipped list); with neither, a blvnet-edu
    checkpoint uses its own classes and an authors' one the list its class count implies."""
    if not checkpoint:
        raise gr.Error("Choose a checkpoint file first.")
    prune_cache(keep=checkpoint)
    labels = labels or (None if label_map in (None, LABEL_AUTO) else label_map)
    try:
        predictor = inference.load_predictor(checkpoint, labels, None if preset == OURS else preset, limits=limits)
    except (ValueError, FileNotFoundError) as err:
        raise gr.Error(f"Could not load this checkpoint: {_for_user(str(err), checkpoint, labels)}") from err
    choices = list(models) if CUSTOM in models else [*models, CUSTOM]
    return (OWN.hold(predictor), gr.update(choices=choices, value=CUSTOM),
            f"Loaded **{predictor.name}** with {len(predictor.classes)} classes.",
            gr.update(visible=True, label=f"your checkpoint: {predictor.name}"))


STATE_TTL_S = 1800  # a visitor's decoded clip is dropped after 30 minutes without use
MAX_CACHE_MB = 2000  # Gradio's cache (uploads, served outputs) is kept under this; `launch` sets it


def prune_cache(keep: str | None = None, folder: str | Path | None = None, max_mb: float | None = None) -> int:
    """Delete the oldest files of Gradio's cache until it holds at most `max_mb` (default
    `MAX_CACHE_MB`), never the file `keep` (the request's own upload); the bytes deleted.

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


OVERLAYS = Path(tempfile.mkdtemp(prefix="blvnet-overlays-"))  # this server's overlay videos
KEEP_OVERLAYS = 64  # the most recent ones; Gradio serves its own copy of each


def _overlay_path() -> Path:
    """A new file for an overlay video; older ones beyond `KEEP_OVERLAYS` are deleted, so
    explanations never fill the disk."""
    videos = sorted(OVERLAYS.glob("*.mp4"), key=lambda p: p.stat().st_mtime)
    for old in videos[: max(0, len(videos) - KEEP_OVERLAYS + 1)]:
        old.unlink(missing_ok=True)
    return Path(tempfile.mkstemp(suffix=".mp4", dir=OVERLAYS)[1])


def build_ui(models: Models, limits: Limits = LIMITS) -> gr.Blocks:
    """The UI; `models` maps display names to loaded predictors (shared by every visitor),
    `limits` bounds what each request may cost."""
    names = list(models)
    first = BLVNET_TAM if BLVNET_TAM in models else names[0]
    bind = functools.partial
    # Gradio's cache (uploads, served outputs): files older than an hour are deleted every hour.
    with gr.Blocks(title="bLVNet-TAM explainer", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# bLVNet-TAM explainer\nThree models trained on the same clips look at the same clip: "
            "**TSN** sees a bag of frames, **bLVNet without TAM** a bag of frame pairs, **bLVNet-TAM** "
            "relates distant pairs with its temporal aggregation modules (TAM). Pick an example or "
            "upload a clip, choose a frame order, and press **Run**.")
        custom = gr.State(None)  # the visitor's checkpoint (a weakref.ref into OWN)
        cache = gr.State(None, time_to_live=STATE_TTL_S)  # the visitor's decoded clip and predictions (ClipCache)
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="clip", sources=["upload", "webcam"])
                gr.Markdown(DEMO_NOTE)
                if EXAMPLES:
                    gr.Examples([[str(p)] for p in EXAMPLES], inputs=[video], label="examples (one per class)",
                                example_labels=[p.stem.replace("_", " ") for p in EXAMPLES], examples_per_page=20)
                frames = gr.Slider(2, 32, value=models[first].num_frames, step=2, label="frames (every model)")
                order = gr.Radio(list(ORDERS), value="as it is", label="frame order",
                                 info="play the clip reversed, or with its frame pairs in another order")
                run = gr.Button("Run", variant="primary")
                model_name = gr.Dropdown(names, value=first, label="model to explain",
                                         info="attributions, TAM weights and model card")
                method = gr.Dropdown(list(METHODS), value="saliency", label="attribution method")
                baseline = gr.Dropdown(list(BASELINES), value="black", label="baseline (integrated gradients)")
                target = gr.Dropdown(models[first].classes, value=None, label="class to explain (default: top-1)")
                with gr.Accordion("your own checkpoint", open=False):
                    checkpoint = gr.File(label="checkpoint (.pt, .pth, .pth.tar)", type="filepath")
                    label_map = gr.Dropdown(LABEL_MAPS, value=LABEL_AUTO, label="labels",
                                            info="the released models hold no class names: ssv1, ssv2 or kinetics400")
                    labels = gr.File(label="or a file of class names, one per line", type="filepath")
                    preset = gr.Dropdown([OURS, *list_models()], value=OURS, label="network")
                    load = gr.Button("Load checkpoint")
                    status = gr.Markdown()
            with gr.Column(scale=2):
                gr.Markdown("## 1. What each model predicts\nTop-5 on the clip as it is.")
                with gr.Row():
                    tops = [gr.Label(num_top_classes=5, label=label, visible=slot in models)
                            for slot, label in SLOTS.items()]
                comparison = gr.Markdown(ORDER_HINT, elem_classes=["order-table"])
                gr.Markdown("## 2. Where the model to explain looks")
                gallery = gr.Gallery(label="frames the model saw, with attributions", columns=4, height="auto")
                gr.Markdown(CAVEAT)
                importance = gr.Plot(label="temporal importance")
                overlay = gr.Video(label="overlay video", interactive=False, height=320)
                explain_note = gr.Markdown()
        gr.Markdown("## 3. What the model's TAMs learned")
        with gr.Row():
            layers = list(models[first].model.tams())  # the page's first model; updated per model
            layer = gr.Dropdown(layers, value=layers[0] if layers else None, label="TAM layer", scale=1,
                                allow_custom_value=True)  # another model's layers, checked by tam_layer
            tam_note = gr.Markdown()
        with gr.Row():
            tam_summary = gr.Plot(label="TAM: past / current / future")
            tam_plot = gr.Plot(label="TAM weights of the selected layer")
        card = gr.Markdown()

        # One Run: the clip is decoded in the first step and shared through `cache` (a failed step stops it).
        run.click(bind(predict, models, limits=limits), [video, model_name, frames, target, custom, cache],
                  [*tops, target, cache], api_name="predict").success(
            bind(order_test, models, limits=limits), [video, frames, order, custom, cache], [comparison, cache],
            api_visibility="private",
        ).success(
            bind(explain, models, limits=limits), [video, model_name, frames, method, baseline, target, custom, cache],
            [gallery, importance, overlay, explain_note, cache], api_name="explain",
        )
        order.input(bind(order_test, models, limits=limits), [video, frames, order, custom, cache], [comparison, cache],
                    api_name="order_test")
        tam_outputs = [layer, tam_summary, tam_plot, tam_note, card]
        model_name.change(bind(tam_weights, models), [model_name, custom], tam_outputs, api_name="tam_weights")
        layer.input(bind(tam_layer, models), [model_name, layer, custom], [tam_plot], api_name="tam_layer")
        load.click(bind(load_custom, models, limits=limits), [checkpoint, labels, preset, label_map], [custom, model_name, status, tops[-1]],
                   api_name="load_checkpoint")
        demo.load(bind(tam_weights, models), [model_name, custom], tam_outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=2, max_size=32)
    return demo


MAX_UPLOAD_MB = 200  # uploads (clips, checkpoints) larger than this are refused by Gradio


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas (as `MALLOC_ARENA_MAX=2` would), before the server's threads start.

    Each of Gradio's worker threads otherwise gets an arena that keeps the memory its requests
    freed: measured with benchmarks/app_limits.py, the server's peak grew from 1.30 to 1.50 GB
    when every large-input case ran a second time; with two arenas, 1.12 to 1.16 GB. Returns
    whether it applied (glibc only)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(-8, arenas))  # M_ARENA_MAX
    except (OSError, AttributeError):
        return False


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def launch(checkpoint: str | None = None, labels: str | None = None, model_name: str | None = None,
           host: str = "127.0.0.1", port: int = 7860, block: bool = True,
           demo_dir: str | Path | None = None, max_upload_mb: int = MAX_UPLOAD_MB,
           limits: Limits = LIMITS, max_cache_mb: float = MAX_CACHE_MB, max_checkpoints: int = 4) -> gr.Blocks:
    """Load the models (demo ones from `demo_dir`, default `$BLVNET_DEMO_DIR` or app/demo) and serve.

    Raises `OSError` naming the port when it is taken (before any model is loaded)."""
    global MAX_CACHE_MB
    limit_malloc_arenas()  # first: before any model or thread allocates
    if not port_free(host, port):
        raise OSError(f"port {port} on {host} is already in use: choose another with --port")
    if max_upload_mb <= 0 or max_cache_mb <= 0 or max_checkpoints < 1:
        raise ValueError("--max-upload-mb and --max-cache-mb must be > 0, --max-checkpoints >= 1")
    MAX_CACHE_MB = max_cache_mb
    OWN.capacity = max_checkpoints
    demo = build_ui(load_models(checkpoint, labels, model_name, demo_dir), limits)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, show_error=True, css=CSS,
                max_file_size=f"{max_upload_mb}mb")
    return demo


if __name__ == "__main__":
    launch()
