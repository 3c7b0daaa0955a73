"""The bLVNet-TAM explainer: the Gradio page and its server (the handlers are in `handlers.py`,
the work in `blvnet_edu`: `inference`, `clips`, `order_comparison`, `explanation`; no model code here).

    blvnet-edu app                       # bundled demo models and example clips
    blvnet-edu app --checkpoint runs/x/best.pt
    blvnet-edu app --checkpoint ssv1_blvnet_tam_50.pth --model blvnet_tam_50 --labels ssv1_classes.txt
    blvnet-edu app --max-explain-gflop 500 --timeout-s 30   # tighter per-request limits
    BLVNET_DEMO_DIR=/tmp/demo blvnet-edu app    # demo checkpoints from another folder

Installed as `blvnet_edu_app.app` (the folder `app/` of the repository, with the `app` extra:
`pip install -e ".[app]"`); `launch` serves it, `build_ui` builds it. Importing it does nothing:
`launch` loads the models, makes the server's state (`handlers.Server`) from its options and
passes both to `build_ui`, which binds them to every handler.

The paper's Figure 1 as a page. Three demo models answer side by side on the same clip: TSN
(a bag of frames), bLVNet without TAM (a bag of frame pairs) and bLVNet-TAM (relates distant
pairs), each at its own frames. The frame-order control plays the clip reversed, with its
halves swapped, its pairs shuffled or in a typed order, and shows which models notice. The
model to explain gets its attributions (per method, per frame), what removing each frame
costs, its TAM weights and what its TAMs do to the clip. Run does everything; changing a
control redoes only what it changes. The 14 example clips come with their results computed
at start-up (Gradio's cached examples) and a line on what to notice.

What one request may cost is bounded by `budget.Limits` (`--max-...` options), checked before
the work starts, and by its deadline (`--timeout-s`), checked inside every forward pass. Heavy
explanations (expected to take over `handlers.HEAVY_S`, 5 s, here) run one at a time in the
server's heavy lane, two more wait for their turn and say so, and further ones are refused; the
explanation events have a concurrency group large enough for those and two light explanations,
so a prediction or a cheap explanation never waits behind a heavy one. Uploads are limited in
size (`--max-upload-mb`); this server's part of Gradio's cache (uploads and outputs, in
<gradio>/blvnet-edu-<pid>-...) is kept under `--max-cache-mb`, emptied hourly of files older
than an hour and removed with the overlay videos at `close()` and at exit; a start removes
those of earlier servers that are gone (never the cached examples, which persist).

Named API endpoints (for `gradio_client`): `predict`, `order_test`, `explain`, `frame_test`,
`tam_view`, `tam_weights`, `tam_layer`, `load_checkpoint`.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import hashlib
import os
import signal
import socket
import tempfile
import threading
from pathlib import Path

import gradio as gr
from blvnet_edu_app import handlers
from blvnet_edu_app.handlers import (
    BLVNET_TAM,
    CUSTOM,
    DEMO,
    DEMO_FILES,
    EXAMPLES,
    HERE,
    LABEL_AUTO,
    LIMITS,
    ORDER_HINT,
    ORDERS,
    OURS,
    OWN_FRAMES,
    RUN_FIRST,
    SLOTS,
    TSN,
    load_models,
)

from blvnet_edu import list_models
from blvnet_edu.budget import Limits
from blvnet_edu.explain.attributions import BASELINE_NAMES, METHOD_NAMES, REPLACEMENT_NAMES
from blvnet_edu.explain.overlays import SIGN_NAMES

__all__ = [
    "build_ui",
    "launch",
    "load_models",
    "HERE",
    "DEMO",
    "DEMO_FILES",
    "EXAMPLES",
    "SLOTS",
    "TSN",
    "BLVNET_TAM",
    "CUSTOM",
    "OURS",
    "LABEL_AUTO",
    "ORDERS",
]

STATE_TTL_S = 1800  # a visitor's decoded clip and explanations are dropped after 30 minutes without use
LABEL_MAPS = [LABEL_AUTO, "ssv1", "ssv2", "kinetics400"]  # blvnet_edu.data.label_maps
RELEASED = (
    "**Real videos need a real model.** The authors released bLVNet-TAM-50 and -101 for Something-Something "
    "V1 and V2 (their README at github.com/IBM/bLVNet-TAM links every file), e.g. "
    "[V1, 50, 8x2](https://ibm.box.com/v/st2stv1-bLVNet-TAM-50-f8x2) and "
    "[V2, 50, 8x2](https://ibm.box.com/v/st2stv2-bLVNet-TAM-50-f8x2). Download one, load it below with the "
    "labels `ssv1` or `ssv2` (or start with `blvnet-edu app --checkpoint FILE --labels ssv2`): its "
    "network is read from the file, its frames from its name (f8x2: 16). For Kinetics-400 the bLVNet-TAM "
    "README lists no file; IBM's two Kinetics-400 TAM files (github.com/IBM/action-recognition-pytorch, "
    "K400-TAM-ResNet-50-f32 and -101-f32) are TAM-ResNets, another network, which blvnet-edu does not load."
)
CSS = (
    ".order-table th, .order-table td { word-break: normal !important; overflow-wrap: normal !important; }"
    " .demo-line, .demo-line * { font-size: 0.95em; color: #9a3412 !important; }"
)


def _choices(names: dict[str, str]) -> list[tuple[str, str]]:
    return [(label, value) for value, label in names.items()]


def _examples_cache(models: handlers.Models) -> Path:
    """A folder for Gradio's cached examples named by what they depend on (the code, the example
    clips, the models), so a start-up reuses them until one of those changes."""
    digest = hashlib.sha256()
    root = Path(handlers.__file__).resolve().parents[1]
    for path in sorted([*HERE.glob("*.py"), *(root / "blvnet_edu").rglob("*.py"), *EXAMPLES]):
        digest.update(path.name.encode() + path.read_bytes())
    for name, predictor in models.items():
        weights = sum(
            float(p.double().sum()) for p in predictor.model.state_dict().values() if p.is_floating_point()
        )
        digest.update(f"{name}{predictor.model.config}{predictor.classes}{weights:.9e}".encode())
    return Path(tempfile.gettempdir()) / "blvnet-edu-examples" / digest.hexdigest()[:16]


@contextlib.contextmanager
def _environment(name: str, value: str):
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def build_ui(
    models: handlers.Models,
    limits: Limits = LIMITS,
    cache_examples: bool = True,
    server: handlers.Server | None = None,
) -> gr.Blocks:
    """The page; `models` maps display names to loaded predictors (shared by every visitor),
    `limits` bounds what each request may cost, `server` is what the server keeps besides the
    models (the visitors' checkpoints, the cache bound, the overlay videos; default: a new
    `handlers.Server()`). `cache_examples`: compute the examples' results when the server
    starts (else when first clicked)."""
    names = list(models)
    first = BLVNET_TAM if BLVNET_TAM in models else names[0]
    server = handlers.Server() if server is None else server

    def bind(handler, **options):
        """`handler` with the models and this server's state: what every event calls."""
        return functools.partial(handler, models, server=server, **options)

    # Gradio's cache (uploads, served outputs): files older than an hour are deleted every hour.
    with gr.Blocks(title="bLVNet-TAM explainer", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(
            "# bLVNet-TAM explainer\nThree models trained on the same clips look at the same clip: "
            "**TSN** sees a bag of frames, **bLVNet without TAM** a bag of frame pairs, **bLVNet-TAM** "
            "relates distant pairs with its temporal aggregation modules (TAM). Pick an example (its "
            "results are ready) or upload a clip and press **Run**; then change the frame order, the method "
            "or the class and watch what changes."
        )
        custom = gr.State(None)  # the visitor's checkpoint (a weakref.ref into server.own)
        cache = gr.State(None, time_to_live=STATE_TTL_S)  # the visitor's clip, predictions, explanations
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="clip", sources=["upload", "webcam"], elem_id="clip")
                notice = gr.Markdown(elem_id="notice")
                examples_at = gr.Column()
                frames = gr.Dropdown(
                    handlers.frames_choices(models, first)["choices"],
                    value=OWN_FRAMES,
                    label="frames",
                    interactive=True,
                    info="each model runs at its own frames unless you choose a number for all",
                )
                run = gr.Button("Run", variant="primary")
                gr.Markdown(RELEASED)
                with gr.Accordion("your own checkpoint", open=False):
                    checkpoint = gr.File(
                        label="checkpoint (.pt, .pth, .pth.tar)", type="filepath", elem_id="checkpoint"
                    )
                    label_map = gr.Dropdown(
                        LABEL_MAPS,
                        value=LABEL_AUTO,
                        label="labels",
                        info="the released models hold no class names: ssv1, ssv2 or kinetics400",
                    )
                    labels = gr.File(label="or a file of class names, one per line", type="filepath")
                    preset = gr.Dropdown([OURS, *list_models()], value=OURS, label="network")
                    load = gr.Button("Load checkpoint")
                    status = gr.Markdown(elem_id="status")
            with gr.Column(scale=2):
                gr.Markdown("## 1. What each model predicts\nTop-5 on the clip as it is.")
                tops, lines = [], []
                with gr.Row():
                    for slot, label in SLOTS.items():
                        with gr.Column(min_width=160, visible=slot in models) as column:
                            tops.append(gr.Label(num_top_classes=5, label=label))
                            # frames, size, what a demo knows
                            lines.append(gr.Markdown(elem_classes=["demo-line"]))
                        if slot == CUSTOM:
                            custom_column = column
                with gr.Column(elem_id="section-orders"):
                    gr.Markdown("## 2. Does the order of the frames matter?")
                    with gr.Row():
                        order = gr.Radio(
                            list(ORDERS),
                            value="as it is",
                            label="frame order",
                            scale=3,
                            info="run every model again on the reordered clip",
                        )
                        seed = gr.Number(0, precision=0, label="seed (pairs shuffled)", minimum=0, scale=1)
                        typed = gr.Textbox(
                            label="your order (Enter)",
                            placeholder="e.g. 4 5 6 7 0 1 2 3",
                            scale=2,
                            info="positions in the clip, 0 = its first frame",
                        )
                    strip = gr.Plot(label="the reordered clip (model to explain)", elem_id="strip")
                    comparison = gr.Markdown(ORDER_HINT, elem_classes=["order-table"], elem_id="order-table")
                with gr.Column(elem_id="section-explain"):
                    gr.Markdown("## 3. Where the model to explain looks")
                    with gr.Row():
                        model_name = gr.Dropdown(
                            names,
                            value=first,
                            label="model to explain",
                            info="attributions, frame removal, TAMs and model card",
                        )
                        method = gr.Dropdown(
                            _choices(METHOD_NAMES), value="saliency", label="attribution method"
                        )
                        baseline = gr.Dropdown(
                            _choices(BASELINE_NAMES), value="black", label="baseline (integrated gradients)"
                        )
                        target = gr.Dropdown(
                            models[first].classes,
                            value=None,
                            label="class to explain",
                            info="empty: the top-1",
                        )
                    with gr.Row():
                        sign = gr.Radio(_choices(SIGN_NAMES), value="absolute_value", label="show", scale=3)
                        opacity = gr.Slider(
                            0.1,
                            1.0,
                            value=0.8,
                            step=0.05,
                            label="overlay opacity",
                            scale=1,
                            elem_id="opacity",
                        )
                        explain_button = gr.Button("Explain", scale=1)
                    explain_note = gr.Markdown(RUN_FIRST, elem_id="explain-note")
                    gallery = gr.Gallery(
                        label="frames the model saw, with the attribution of the class "
                        "named above (click one for Captum's view)",
                        columns=4,
                        height="auto",
                        elem_id="attributions",
                    )
                    colorbar = gr.Plot(label="colour scale", show_label=False)
                    frame_plot = gr.Plot(
                        label="the frame you clicked, drawn by Captum (scaled to this frame alone)",
                        visible=False,
                        elem_id="captum-frame",
                    )
                    per_frame = gr.Plot(label="attribution per frame", elem_id="per-frame")
                    with gr.Row():
                        replacement = gr.Dropdown(
                            _choices(REPLACEMENT_NAMES),
                            value="grey",
                            label="remove a frame by replacing it with",
                            info="a replacement is itself an input the model never saw: compare them",
                        )
                    removal = gr.Plot(label="what the prediction loses without each frame", elem_id="removal")
                    overlay = gr.Video(
                        label="overlay video: the drawing above, frame by frame",
                        interactive=False,
                        height=320,
                    )
        with gr.Column(elem_id="section-tams"):
            gr.Markdown("## 4. What the model's TAMs learned, and what they do to this clip")
            with gr.Row():
                layers = list(models[first].model.tams())  # the page's first model; updated per model
                layer = gr.Dropdown(
                    layers,
                    value=layers[-1] if layers else None,
                    label="TAM layer",
                    scale=1,
                    allow_custom_value=True,
                )  # another model's layers, checked by tam_layer
                tam_note = gr.Markdown(scale=3, elem_id="tam-note")
            with gr.Row():
                tam_summary = gr.Plot(label="TAM: past / current / future", scale=1)
                tam_groups = gr.Plot(label="channels of the selected layer", scale=2, elem_id="tam-groups")
            field = gr.Plot(label="this clip through the selected TAM", elem_id="field")
            field_note = gr.Markdown(elem_id="field-note")
        card = gr.Markdown()

        shown = [video, model_name, frames]
        explain_inputs = [*shown, method, baseline, target, sign, opacity, custom, cache]
        explain_outputs = [gallery, colorbar, per_frame, overlay, explain_note, cache]
        frame_inputs = [*shown, target, replacement, custom, cache]
        field_inputs = [*shown, layer, custom, cache]
        order_inputs = [video, model_name, frames, order, seed, typed, custom, cache]
        private = {"api_visibility": "private"}

        # Explanations and frame removals have concurrency groups of their own, large enough for the
        # server's heavy lane (`handlers.HeavyLane`: its heavy ones running or queued) and light ones
        # besides, so a heavy one never holds up a light one; predictions and the rest keep theirs.
        heavy_lane = {"concurrency_limit": server.heavy.concurrency}
        explaining = {"concurrency_id": "explain", **heavy_lane}
        removing = {"concurrency_id": "frame_test", **heavy_lane}

        def then_explain(event, forced: bool, api: dict):
            explained = event.success(
                bind(handlers.explain, limits=limits, forced=forced),
                explain_inputs,
                explain_outputs,
                **api,
                **explaining,
            )
            explained.success(
                lambda: gr.update(value=None, visible=False), None, [frame_plot], **private
            )  # stale
            return explained.success(
                bind(handlers.frame_test, limits=limits),
                frame_inputs,
                [removal, cache],
                **({"api_name": "frame_test"} if api.get("api_name") else private),
                **removing,
            ).success(
                bind(handlers.tam_view, limits=limits),
                field_inputs,
                [field, field_note, cache],
                **({"api_name": "tam_view"} if api.get("api_name") else private),
            )

        # Run (and a new frames choice): the clip is decoded in the first step and shared through `cache`
        # (a failed step stops it). Control changes run once more after the last one: none is dropped.
        last = {"trigger_mode": "always_last"}
        for event, api in ((run.click, {"api_name": "predict"}), (frames.input, {**private, **last})):
            predicted = event(
                bind(handlers.predict, limits=limits),
                [*shown, target, custom, cache],
                [*tops, *lines, target, cache],
                **api,
            ).success(
                bind(handlers.order_test, limits=limits, quiet=True),
                order_inputs,
                [comparison, strip, cache],
                **private,
            )
            then_explain(
                predicted, forced=True, api={"api_name": "explain"} if "api_name" in api else private
            )
            event(lambda: "", None, [notice], **private)  # the example's line no longer applies
        then_explain(explain_button.click(lambda: None, None, None, **private), forced=True, api=private)
        for control in (method, baseline, target, sign, opacity):  # redo the explanation from the cache
            then_explain(
                control.input(lambda: None, None, None, **private, **last), forced=False, api=private
            )
        replacement.input(
            bind(handlers.frame_test, limits=limits),
            frame_inputs,
            [removal, cache],
            **private,
            **last,
            **removing,
        )
        order.input(
            bind(handlers.order_test, limits=limits),
            order_inputs,
            [comparison, strip, cache],
            api_name="order_test",
            **last,
        )
        for event in (seed.submit, typed.submit):
            event(
                bind(handlers.order_test, limits=limits),
                order_inputs,
                [comparison, strip, cache],
                **private,
                **last,
            )
        results = [
            *tops,
            *lines,
            comparison,
            strip,
            gallery,
            colorbar,
            per_frame,
            overlay,
            explain_note,
            removal,
            field,
            field_note,
            notice,
            frame_plot,
        ]
        for event in (video.upload, video.stop_recording, video.clear):  # a new clip: the old results go
            event(_blank, [cache], [*results, cache], **private)
        tam_outputs = [layer, tam_summary, tam_groups, tam_note, card]
        # Another model to explain: its classes, frames and TAMs (also when a checkpoint or an example sets
        # it); chosen by the visitor, also its explanation (a class of the previous model gives way to the
        # top-1).
        model_name.change(
            bind(handlers.model_changed), [model_name, custom], [target, frames], **private
        ).then(bind(handlers.tam_weights), [model_name, custom], tam_outputs, api_name="tam_weights")
        then_explain(model_name.input(lambda: None, None, None, **private, **last), forced=False, api=private)
        layer.input(
            bind(handlers.tam_layer), [model_name, layer, custom], [tam_groups], api_name="tam_layer", **last
        ).then(bind(handlers.tam_view, limits=limits), field_inputs, [field, field_note, cache], **private)
        gallery.select(
            _frame_view(models, limits, server),
            [video, model_name, frames, sign, custom, cache],
            [frame_plot],
            **private,
        )
        load.click(
            bind(handlers.load_custom, limits=limits),
            [checkpoint, labels, preset, label_map],
            [custom, model_name, status, tops[-1], frames],
            api_name="load_checkpoint",
        ).success(lambda: gr.update(visible=True), None, [custom_column], **private)
        demo.load(bind(handlers.tam_weights), [model_name, custom], tam_outputs, **private)
        if EXAMPLES:
            with (
                examples_at,
                _environment(
                    "GRADIO_EXAMPLES_CACHE",
                    os.environ.get("GRADIO_EXAMPLES_CACHE") or str(_examples_cache(models)),
                ),
            ):
                examples = gr.Examples(
                    [[str(p)] for p in EXAMPLES],
                    inputs=[video],
                    label="examples (one per class; results ready)",
                    outputs=[
                        *tops,
                        *lines,
                        comparison,
                        strip,
                        order,
                        gallery,
                        colorbar,
                        per_frame,
                        overlay,
                        explain_note,
                        removal,
                        field,
                        field_note,
                        notice,
                    ],
                    fn=bind(handlers.example, limits=limits),
                    cache_examples=True,
                    cache_mode="eager" if cache_examples else "lazy",
                    example_labels=[p.stem.replace("_", " ") for p in EXAMPLES],
                    examples_per_page=20,
                )
            # The controls as the example's results were computed, then the visitor's own cache
            # (decoding, prediction, saliency) so that a control change starts from them.
            shown_example = examples.cache_event.then(
                bind(handlers.example_controls),
                None,
                [model_name, target, frames, method, baseline, sign, opacity, replacement, layer, cache],
                **private,
            )
            then_explain(shown_example, forced=False, api=private)
    demo.queue(default_concurrency_limit=2, max_size=32)
    _clean_on_close(demo, server)
    return demo


def _clean_on_close(demo: gr.Blocks, server: handlers.Server) -> None:
    """`demo.close()` also removes what `server` made on disk (`handlers.Server.close`: its
    overlay videos, its part of Gradio's cache); a server stopped by Ctrl-C or SIGTERM leaves
    that to the exit handlers (`handlers` registers them)."""
    close = demo.close

    @functools.wraps(close)
    def close_and_clean(*args, **kwargs):
        try:
            return close(*args, **kwargs)
        finally:
            server.close()

    demo.close = close_and_clean


def _blank(cache: handlers.Cache) -> tuple:
    """What the page shows of a clip before Run: nothing (an explanation still running for the
    old clip is overtaken: it will not show)."""
    if cache is not None:
        cache.ticket("explain")
    panels = len(SLOTS)
    return (
        *[None] * panels,
        *[""] * panels,
        ORDER_HINT,
        None,
        None,
        None,
        None,
        None,
        RUN_FIRST,
        None,
        None,
        "",
        "",
        gr.update(value=None, visible=False),
        cache,
    )


def _frame_view(models: handlers.Models, limits: Limits, server: handlers.Server):
    """The gallery's select event: Captum's drawing of the clicked frame."""

    def select(video, model_name, frames, sign, custom, cache, evt: gr.SelectData):
        return handlers.frame_view(
            models, video, model_name, frames, sign, evt.index, custom, cache, limits, server=server
        )

    return select


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


def _stop_on_sigterm() -> None:
    """`kill PID` (SIGTERM) stops a blocking server as Ctrl-C does, so that the exit handlers run
    (they remove its overlay videos and its part of Gradio's cache); left alone where a handler
    is set already or off the main thread."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


MAX_UPLOAD_MB = 200  # uploads (clips, checkpoints) larger than this are refused by Gradio


def launch(
    checkpoint: str | None = None,
    labels: str | None = None,
    model_name: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    demo_dir: str | Path | None = None,
    max_upload_mb: int = MAX_UPLOAD_MB,
    limits: Limits = LIMITS,
    max_cache_mb: float = handlers.MAX_CACHE_MB,
    max_checkpoints: int = 4,
    cache_examples: bool = True,
    allow_unverified: bool = False,
) -> gr.Blocks:
    """Load the models (demo ones from `demo_dir`, default `$BLVNET_DEMO_DIR` or app/demo) and serve.

    Raises `OSError` naming the port when it is taken (before any model is loaded)."""
    limit_malloc_arenas()  # first: before any model or thread allocates
    if not port_free(host, port):
        raise OSError(f"port {port} on {host} is already in use: choose another with --port")
    if max_upload_mb <= 0 or max_cache_mb <= 0 or max_checkpoints < 1:
        raise ValueError("--max-upload-mb and --max-cache-mb must be > 0, --max-checkpoints >= 1")
    handlers.remove_leftovers()  # what earlier servers that are gone left: overlay videos, cache parts
    models = load_models(checkpoint, labels, model_name, demo_dir, allow_unverified)
    server = handlers.Server(handlers.OwnCheckpoints(max_checkpoints), max_cache_mb)
    # This server's uploads and outputs go to its own folder in Gradio's cache (GRADIO_TEMP_DIR while the
    # page and its app are made: Gradio reads it then), removed at close and at exit.
    with _environment("GRADIO_TEMP_DIR", str(server.make_cache_folder())):
        demo = build_ui(models, limits, cache_examples, server)
        if block:
            _stop_on_sigterm()
        demo.launch(
            server_name=host,
            server_port=port,
            prevent_thread_lock=not block,
            show_error=True,
            css=CSS,
            max_file_size=f"{max_upload_mb}mb",
        )
    return demo


if __name__ == "__main__":
    launch()
