"""app/app.py's handlers called directly (no server): clear errors, expected outputs, one decode per Run."""

from dataclasses import replace

import av
import gradio as gr
import pytest
import torch

import blvnet_edu.inference as inference
from blvnet_edu import build_model
from blvnet_edu.saved_run import Preprocessing, SavedRun
from blvnet_edu_app import app

from conftest import save_in_authors_format

TSN, BLVNET_TAM = app.TSN, app.BLVNET_TAM


@pytest.fixture(scope="module")
def models():
    return app.load_models()


@pytest.fixture(scope="module")
def example():
    return str(app.HERE / "examples" / "moving_left.mp4")


def run(models, video, model_name=BLVNET_TAM, frames=8, order="pairs shuffled", target=None, custom=None):
    """One press of Run, as build_ui chains it: predict, then the order test, then the explanation."""
    *panels, classes, cache = app.predict(models, video, model_name, frames, target, custom, None)
    table, cache = app.order_test(models, video, frames, order, custom, cache)
    target = classes["value"]  # predict's update of the class dropdown
    explained = app.explain(models, video, model_name, frames, "saliency", "black", target, custom, cache)
    return dict(zip(app.SLOTS, panels)), classes, table, explained[:3]


def test_a_run_predicts_compares_orders_and_explains(models, example):
    panels, classes, table, (gallery, importance, overlay) = run(models, example)
    assert max(panels[BLVNET_TAM], key=panels[BLVNET_TAM].get) == "moving left"
    assert all(len(panels[name]) == 14 for name in models) and panels[app.CUSTOM] is None
    assert classes["choices"] == models[BLVNET_TAM].classes and classes["value"] is None  # top-1 by default
    assert "top-1, pairs shuffled" in table and "| TSN | moving" in table
    assert len(gallery) == 8 and gallery[0][1].startswith("frame ") and gallery[0][0].shape[-1] == 3
    assert importance.data[0].type == "bar" and len(importance.data[0].x) == 8  # one bar per frame
    with av.open(overlay) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert app.order_test(models, example, 8, "as it is")[0] == app.ORDER_HINT


def test_tam_weights_and_layers(models):
    layer, summary, plot, note, card = app.tam_weights(models, BLVNET_TAM)
    tams = list(models[BLVNET_TAM].model.tams())
    assert layer["choices"] == tams and layer["value"] == tams[0] and f"{len(tams)} TAMs" in note
    assert summary["visible"] and "blvnet_tam_tiny" in card and "GFLOPs" in card
    assert f"TAM weights of {tams[-1]}" in app.tam_layer(models, BLVNET_TAM, tams[-1]).layout.title.text
    layer, summary, plot, note, card = app.tam_weights(models, TSN)
    assert "has no TAM" in note and layer["choices"] == [] and summary["visible"] is False


@pytest.mark.parametrize("video,message", [(None, "Upload a clip"), ("", "Upload a clip")])
def test_no_video(models, video, message):
    with pytest.raises(gr.Error, match=message):
        app.predict(models, video, BLVNET_TAM, 8, None)
    with pytest.raises(gr.Error, match=message):
        app.explain(models, video, BLVNET_TAM, 8, "saliency", "black", None)


def test_a_text_file_as_video_gives_a_message_without_the_upload_folder(models, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    with pytest.raises(gr.Error, match="cannot read this video") as err:
        app.predict(models, str(text), BLVNET_TAM, 8, None)
    assert str(tmp_path) not in err.value.message


def test_unknown_model_class_layer_and_odd_frames(models, example):
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        app.predict(models, example, "nope", 8, None)
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        app.tam_weights(models, "nope")
    with pytest.raises(gr.Error, match="unknown class 'flying'"):
        app.explain(models, example, BLVNET_TAM, 8, "saliency", "black", "flying")
    with pytest.raises(gr.Error, match="no TAM named 'layer9.tam'"):
        app.tam_layer(models, BLVNET_TAM, "layer9.tam")
    with pytest.raises(gr.Error, match="frames in pairs"):
        app.predict(models, example, BLVNET_TAM, 7, None)
    with pytest.raises(gr.Error, match="even number of frames >= 4"):
        app.order_test(models, example, 2, "pairs shuffled")


def test_loading_a_checkpoint(models, example, tmp_path):
    with pytest.raises(gr.Error, match="Choose a checkpoint file first"):
        app.load_custom(models, None, None, app.OURS)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(gr.Error, match="Could not load this checkpoint: could not read"):
        app.load_custom(models, str(junk), None, app.OURS)
    tsn = str(app.DEMO / "tsn_resnet_tiny.pt")
    custom, choices, status, panel = app.load_custom(models, tsn, None, app.OURS)
    assert "tsn_resnet_tiny" in status and choices["value"] == app.CUSTOM and panel["visible"] is True
    panels = run(models, example, custom=custom)[0]
    assert panels[app.CUSTOM] == pytest.approx(panels[TSN])  # the same weights as the demo TSN


def test_one_run_decodes_once_per_preprocessing_and_runs_each_model_once(models, example, tmp_path,
                                                                        monkeypatch):
    tsn = SavedRun.load(app.DEMO / "tsn_resnet_tiny.pt")
    other = replace(tsn, preprocessing=Preprocessing(40, 48)).save(tmp_path / "tsn_40px.pt")
    custom = app.load_custom(models, str(other), None, app.OURS)[0]
    everyone = {**models, app.CUSTOM: custom()}  # the state holds a reference; the server holds the model
    decodes, probes, forwards = [], [], {name: 0 for name in everyone}
    read_frames, probe_video = inference.read_frames, inference.probe_video
    monkeypatch.setattr(inference, "read_frames", lambda *a, **k: decodes.append(a) or read_frames(*a, **k))
    monkeypatch.setattr(inference, "probe_video", lambda *a, **k: probes.append(a) or probe_video(*a, **k))

    def counter(name):
        def hook(*_):
            forwards[name] += 1
        return hook

    hooks = [p.model.register_forward_hook(counter(name)) for name, p in everyone.items()]
    try:
        panels = run(models, example, custom=custom)[0]
        assert len(decodes) == len(probes) == 2  # (8 frames, 48 px) for the demo models, (8, 40) for custom
        # each model on the clip as it is, then shuffled; bLVNet-TAM also for its explanation
        assert forwards == {name: 2 for name in everyone} | {BLVNET_TAM: forwards[BLVNET_TAM]}
        during_run = forwards[BLVNET_TAM] - 2
        forwards[BLVNET_TAM] = 0  # what explaining the top-1 class alone costs
        top1 = max(panels[BLVNET_TAM], key=panels[BLVNET_TAM].get)
        clip = inference.load_clip(example, 8, 48, 48)
        inference.explain(models[BLVNET_TAM], clip, top1, "saliency", "black")
        assert during_run == forwards[BLVNET_TAM]  # no second forward pass for the top-1
    finally:
        for hook in hooks:
            hook.remove()


def test_an_authors_checkpoint_with_a_shipped_label_map(models, example, tmp_path):
    """A released file holds no class names: `ssv2` from the dropdown names its 174 outputs."""
    model = build_model("blvnet_tam_tiny", num_classes=174)
    path = tmp_path / "st2stv2-tiny.pth.tar"
    save_in_authors_format(model.state_dict(), path)
    with pytest.raises(gr.Error, match="'ssv1'.*'ssv2'"):
        app.load_custom(models, str(path), None, app.OURS)  # 174 classes: V1 or V2?
    custom, _, status, _ = app.load_custom(models, str(path), None, app.OURS, "ssv2")
    assert custom().classes[0] == "Approaching something with your camera" and "174 classes" in status
    panels = app.predict(models, example, app.CUSTOM, None, None, custom)[: len(app.SLOTS)]
    top5 = dict(zip(app.SLOTS, panels))[app.CUSTOM]  # the visitor's model beside the demo models
    assert len(top5) >= 5 and set(top5) <= set(custom().classes)


def test_the_ui_tells_what_the_demo_models_know():
    assert "arbitrary answer" in app.DEMO_NOTE and "ssv2" in app.DEMO_NOTE


def test_overlay_videos_are_bounded(monkeypatch, tmp_path):
    monkeypatch.setattr(app, "OVERLAYS", tmp_path)
    monkeypatch.setattr(app, "KEEP_OVERLAYS", 3)
    paths = [app._overlay_path() for _ in range(6)]
    assert len({p.name for p in paths}) == 6 and all(p.parent == tmp_path for p in paths)
    assert len(list(tmp_path.glob("*.mp4"))) == 3  # the newest ones only


def test_the_server_holds_a_bounded_number_of_visitors_checkpoints(models, example, monkeypatch):
    import gc

    monkeypatch.setattr(app, "OWN", app.OwnCheckpoints(capacity=2))
    tsn = str(app.DEMO / "tsn_resnet_tiny.pt")
    first, second, third = (app.load_custom(models, tsn, None, app.OURS)[0] for _ in range(3))
    gc.collect()
    assert len(app.OWN) == 2 and first() is None  # the least recently used was unloaded and freed
    with pytest.raises(gr.Error, match="Your checkpoint was unloaded to make room: the server holds the 2 most"):
        app.predict(models, example, BLVNET_TAM, 8, None, first)
    for visitor in (second, third):
        panels = dict(zip(app.SLOTS, app.predict(models, example, BLVNET_TAM, 8, None, visitor)))
        assert panels[app.CUSTOM] == pytest.approx(panels[TSN])
