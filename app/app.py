"""The bLVNet-TAM explainer: a Gradio UI over `blvnet_edu.inference` (no model code here).

    blvnet-edu app                       # bundled demo models and example clips
    blvnet-edu app --checkpoint runs/x/best.pt
    blvnet-edu app --checkpoint ssv1_blvnet_tam_50.pth --model blvnet_tam_50 --labels ssv1_classes.txt

Named API endpoints (for `gradio_client`): `predict`, `explain`, `tam_weights`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from blvnet_edu import inference, list_models
from blvnet_edu.explain import figures
from blvnet_edu.explain.attributions import BASELINES, METHODS
from blvnet_edu.explain.overlays import overlay_video
from blvnet_edu.explain.tam_weights import summarize_tams, tam_weights

HERE = Path(__file__).resolve().parent
DEMO = HERE / "demo"
EXAMPLES = sorted((HERE / "examples").glob("*.mp4"))
BLVNET, TSN, CUSTOM = "bLVNet-TAM (demo)", "TSN (demo)", "your checkpoint"
OURS = "blvnet-edu checkpoint (knows its model)"
CAVEAT = (
    "Attributions are computed on the whole clip at once: TAM mixes frames, so a single frame "
    "cannot be explained alone. After each bL stage both frames of a pair share one feature "
    "map, and stage 4 sees one frame per pair: Grad-CAM gives one map per pair of frames."
)


def load_models(checkpoint: str | None, labels: str | None, model_name: str | None) -> dict:
    """The models the UI offers, loaded once."""
    models = {}
    if (DEMO / "blvnet_tam_tiny.pt").exists():
        models[BLVNET] = inference.load_predictor(DEMO / "blvnet_tam_tiny.pt")
        models[TSN] = inference.load_predictor(DEMO / "tsn_resnet_tiny.pt")
    if checkpoint:
        models[CUSTOM] = inference.load_predictor(checkpoint, labels, model_name)
    if not models:
        raise FileNotFoundError(f"no demo models in {DEMO} and no --checkpoint given")
    return models


def build_ui(models: dict) -> gr.Blocks:
    """The UI; `models` maps display names to loaded predictors (shared by every visitor)."""
    names = list(models)

    def pick(name: str, frames: int | None) -> inference.Predictor:
        if name not in models:
            raise gr.Error(f"unknown model {name!r}")
        predictor = models[name]
        if frames and predictor.model.config.frame_routing == "pairs" and int(frames) % 2:
            raise gr.Error("bLVNet takes frames in pairs: choose an even number of frames")
        return predictor.with_frames(int(frames)) if frames else predictor

    def clip_for(video: str | None, predictor: inference.Predictor) -> inference.Clip:
        if not video:
            raise gr.Error("Upload a clip, record one, or pick an example first.")
        try:
            return inference.load_clip(video, predictor.num_frames, predictor.size, predictor.resize)
        except inference.ClipError as err:  # the upload's temporary folder means nothing to the user
            raise gr.Error(str(err).replace(str(Path(video).parent) + "/", "")) from err

    def predict(video: str | None, model_name: str, frames: int | None, target: str | None):
        predictor = pick(model_name, frames)
        probs = inference.predict_clip(predictor, clip_for(video, predictor))
        others = [n for n in models if n != model_name]
        second = {}
        if others:  # the same clip through another model, side by side
            other = pick(others[0], None)
            second = inference.predict_clip(other, clip_for(video, other))
        keep = target if target in predictor.classes else None  # None: explain the top-1 class
        return probs, second, gr.update(choices=predictor.classes, value=keep)

    def explain(video: str | None, model_name: str, frames: int | None, method: str, baseline: str,
                target: str | None, progress=gr.Progress()):
        predictor = pick(model_name, frames)
        progress(0.1, desc="decoding")
        clip = clip_for(video, predictor)
        progress(0.3, desc=f"{method} on the whole clip")
        try:
            result = inference.explain(predictor, clip, target or None, method, baseline)
        except inference.ClipError as err:
            raise gr.Error(str(err)) from err
        progress(0.9, desc="encoding the overlay video")
        gallery = [(frame.permute(1, 2, 0).numpy(), caption) for frame, caption in zip(result.overlays, result.captions)]
        path = Path(tempfile.mkdtemp(prefix="blvnet-")) / "overlay.mp4"
        overlay_video(path, clip.frames, result.maps, fps=4, upscale=max(1, 256 // predictor.size))
        labels = [f"frame {i}" for i in clip.indices]
        return gallery, figures.temporal_importance_figure(result.importance, labels), str(path)

    def load_custom(checkpoint: str | None, labels: str | None, preset: str):
        if not checkpoint:
            raise gr.Error("Choose a checkpoint file first.")
        try:
            predictor = inference.load_predictor(checkpoint, labels or None, None if preset == OURS else preset)
        except (ValueError, FileNotFoundError) as err:
            raise gr.Error(f"Could not load this checkpoint: {err}") from err
        models[CUSTOM] = predictor
        return (gr.update(choices=list(models), value=CUSTOM),
                f"Loaded **{predictor.name}** with {len(predictor.classes)} classes.")

    def tam(model_name: str):
        model = pick(model_name, None).model
        weights = tam_weights(model)
        first = next(iter(weights.items()), None)
        layer_fig = figures.tam_layer_heatmap(*first) if first else figures.tam_summary_figure([])
        return figures.tam_summary_figure(summarize_tams(model)), layer_fig, inference.model_card(pick(model_name, None))

    with gr.Blocks(title="bLVNet-TAM explainer", analytics_enabled=False) as demo:
        gr.Markdown("# bLVNet-TAM explainer\nUpload a clip: see what the model predicts, which pixels of "
                    "which frames it used, and what its temporal modules learned.")
        with gr.Row():
            with gr.Column(scale=1):
                video = gr.Video(label="clip", sources=["upload", "webcam"])
                if EXAMPLES:
                    gr.Examples([[str(p)] for p in EXAMPLES], inputs=[video], label="examples")
                model_name = gr.Dropdown(names, value=names[0], label="model")
                frames = gr.Slider(2, 32, value=models[names[0]].num_frames, step=2, label="frames")
                method = gr.Dropdown(list(METHODS), value="saliency", label="attribution method")
                baseline = gr.Dropdown(list(BASELINES), value="black", label="baseline (integrated gradients)")
                target = gr.Dropdown(models[names[0]].classes, value=None, label="class to explain (default: top-1)")
                run = gr.Button("Run", variant="primary")
                with gr.Accordion("your own checkpoint", open=False):
                    checkpoint = gr.File(label="checkpoint (.pt, .pth, .pth.tar)", type="filepath")
                    labels = gr.File(label="class names, one per line (for the authors' checkpoints)", type="filepath")
                    preset = gr.Dropdown([OURS, *list_models()], value=OURS, label="model of an authors' checkpoint")
                    load = gr.Button("Load checkpoint")
                    status = gr.Markdown()
            with gr.Column(scale=2):
                with gr.Row():
                    top5 = gr.Label(num_top_classes=5, label="top-5")
                    other = gr.Label(num_top_classes=5, label="the other model on the same clip")
                gallery = gr.Gallery(label="frames the model saw, with attributions", columns=4, height="auto")
                gr.Markdown(CAVEAT)
                importance = gr.Plot(label="temporal importance")
                overlay = gr.Video(label="overlay video", interactive=False, height=320)
        with gr.Row():
            tam_summary = gr.Plot(label="TAM: past / current / future")
            tam_layer = gr.Plot(label="TAM weights of one layer")
        card = gr.Markdown()

        run.click(predict, [video, model_name, frames, target], [top5, other, target], api_name="predict").then(
            explain, [video, model_name, frames, method, baseline, target], [gallery, importance, overlay],
            api_name="explain",
        )
        model_name.change(tam, [model_name], [tam_summary, tam_layer, card], api_name="tam_weights")
        load.click(load_custom, [checkpoint, labels, preset], [model_name, status], api_name="load_checkpoint")
        demo.load(tam, [model_name], [tam_summary, tam_layer, card])
    demo.queue(default_concurrency_limit=2, max_size=32)
    return demo


def launch(checkpoint=None, labels=None, model_name=None, host="127.0.0.1", port=7860, block=True):
    demo = build_ui(load_models(checkpoint, labels, model_name))
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=not block, show_error=True)
    return demo


if __name__ == "__main__":
    launch()
