"""app/handlers.py called directly (no server): clear errors, expected outputs, each model at its
own frames, per-method attributions, the order tests on every example, nothing recomputed that a
control does not change."""

import concurrent.futures
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import av
import gradio as gr
import matplotlib.figure
import pytest
import torch
from blvnet_edu_app import handlers
from conftest import randomize_, save_in_authors_format

import blvnet_edu.clip_cache as clip_cache
import blvnet_edu.clips as clip_loading
import blvnet_edu.order_comparison as order_comparison
from blvnet_edu import build_model
from blvnet_edu.data.synthetic import LONG_RANGE_PAIRS, SHORT_RANGE_PAIRS
from blvnet_edu.explain.attributions import METHODS
from blvnet_edu.saved_run import Preprocessing, SavedRun

TSN, BLVNET, BLVNET_TAM, CUSTOM = handlers.TSN, handlers.BLVNET, handlers.BLVNET_TAM, handlers.CUSTOM
OWN = handlers.OWN_FRAMES


@pytest.fixture(scope="module")
def models():
    return handlers.load_models()


def clip_of(name: str) -> str:
    return str(handlers.HERE / "examples" / f"{name.replace(' ', '_')}.mp4")


@pytest.fixture(scope="module")
def example():
    return clip_of("moving left")


def run(
    models,
    video,
    model_name=BLVNET_TAM,
    frames=OWN,
    order="pairs shuffled",
    target=None,
    custom=None,
    method="saliency",
):
    """One press of Run, as app.py chains it: predict, order test, explanation, frame removal, TAM view."""
    out = handlers.predict(models, video, model_name, frames, target, custom, None)
    panels, lines, classes, cache = out[:4], out[4:8], out[8], out[9]
    table, strip, cache = handlers.order_test(models, video, model_name, frames, order, 0, "", custom, cache)
    target = classes["value"]  # predict's update of the class dropdown
    explained = handlers.explain(
        models, video, model_name, frames, method, "black", target, "absolute_value", 0.8, custom, cache
    )
    removal, cache = handlers.frame_test(
        models, video, model_name, frames, target, "grey", custom, explained[-1]
    )
    field, sentence, cache = handlers.tam_view(models, video, model_name, frames, None, custom, cache)
    return dict(
        panels=dict(zip(handlers.SLOTS, panels)),
        lines=dict(zip(handlers.SLOTS, lines)),
        classes=classes,
        table=table,
        strip=strip,
        explained=explained[:5],
        removal=removal,
        field=field,
        sentence=sentence,
        cache=cache,
    )


def test_a_run_predicts_compares_orders_and_explains(models, example):
    r = run(models, example)
    panels = r["panels"]
    assert max(panels[BLVNET_TAM], key=panels[BLVNET_TAM].get) == "moving left"
    assert all(len(panels[name]) == 14 for name in models) and panels[CUSTOM] is None
    assert (
        all(
            "8 frames at 48x48 px" in r["lines"][name] and "only its 14 synthetic classes" in r["lines"][name]
            for name in models
        )
        and r["lines"][CUSTOM] == ""
    )  # what each demo model used and knows
    assert r["classes"]["choices"] == models[BLVNET_TAM].classes and r["classes"]["value"] is None  # top-1
    assert "top-1, pairs shuffled" in r["table"] and "| TSN | 8 x 48 px | moving" in r["table"]
    assert len(captions(r["strip"])) == 8 and captions(r["strip"])[0].startswith("0: frame ")
    assert "the clip pairs shuffled, as bLVNet-TAM sees it" in r["strip"].layout.title.text
    gallery, scale, per_frame, overlay, note = r["explained"]
    assert len(gallery) == 8 and gallery[0][1].startswith("frame ")
    assert per_frame.data[0].type == "bar" and len(per_frame.data[0].x) == 8
    assert "Saliency, class 'moving left'" in per_frame.layout.title.text
    assert scale.layout.xaxis.ticktext[-1].startswith("≥ ")
    assert "**Saliency** of **'moving left'**" in note and "8 frames at 48x48 px" in note
    assert "Drawn: absolute (either sign), over the frames in grey, opacity 0.8" in note
    with av.open(overlay) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert "'moving left'" in r["removal"].layout.title.text and len(r["removal"].data[0].y) == 8
    assert r["field"]["visible"] and "layer4.0.tam" in r["sentence"] and "frames" in r["sentence"]
    assert handlers.order_test(models, example, BLVNET_TAM, OWN, "as it is")[:2] == (
        handlers.ORDER_HINT,
        None,
    )


def test_per_frame_values_differ_between_methods_on_the_same_clip(models, example):
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    captions, bars = {}, {}
    for method in METHODS:
        gallery, _, per_frame, _, note, cache = handlers.explain(
            models, example, BLVNET_TAM, OWN, method, "black", None, "absolute_value", 0.8, None, cache
        )
        captions[method] = [c for _, c in gallery]
        bars[method] = torch.tensor(per_frame.data[0].y)
        assert (
            handlers.METHOD_NAMES[method] in per_frame.layout.title.text
            and handlers.METHOD_NAMES[method] in note
        )
    for a in METHODS:
        for b in METHODS:
            if a < b:
                assert captions[a] != captions[b] and not torch.allclose(bars[a], bars[b], rtol=0.05), (a, b)


@pytest.mark.parametrize("first,second", LONG_RANGE_PAIRS)
def test_halves_swapped_flips_bLVNet_TAM_on_every_long_range_example(models, first, second):
    """Each long-range class and its partner are the same frame pairs in another order: swapping the
    halves turns one into the other for bLVNet-TAM, and changes nothing for a bag of pairs."""
    for label, partner in ((first, second), (second, first)):
        table, strip, _ = handlers.order_test(models, clip_of(label), BLVNET_TAM, OWN, "halves swapped")
        rows = _rows(table)
        assert rows["bLVNet-TAM"][1:4] == [f"{label} (100%)", f"{partner} (100%)", "**yes**"], rows[
            "bLVNet-TAM"
        ]
        assert rows["bLVNet without TAM"][3:] == ["no", "0.000", "never"]
        assert rows["TSN"][3:] == ["no", "0.000", "never"]
        assert captions(strip)[:2] == ["0: frame 18", "1: frame 22"]  # the second half first


def captions(strip) -> list[str]:
    """The thumbnails' captions in reading order (rows top to bottom, left to right)."""
    notes = sorted(strip.layout.annotations, key=lambda a: (-a.y, a.x))
    return [a.text for a in notes]


def _rows(table: str) -> dict[str, list[str]]:
    lines = [line for line in table.splitlines() if line.startswith("| ")][1:]  # the table, less its header
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    # model -> frames, top-1 before, after, changed?, shift, can change?
    return {row[0]: row[1:] for row in cells}


def test_every_example_clip_shows_what_its_note_says(models):
    """The cached examples' lines on what to notice hold for the bundled demo models."""
    for first, second in (*LONG_RANGE_PAIRS, *SHORT_RANGE_PAIRS):
        for label, partner in ((first, second), (second, first)):
            out = handlers.example(models, clip_of(label))
            table, order, notice = out[8], out[10], out[-1]
            assert out[-2].startswith("On this clip") and out[-3].data[0].type == "heatmap"  # the TAM view
            rows = _rows(table)
            assert f"'{partner}'" in notice and order in ("halves swapped", "reversed"), label
            assert rows["bLVNet-TAM"][1].startswith(label) and rows["bLVNet-TAM"][2].startswith(partner), rows
            assert rows["TSN"][3:] == ["no", "0.000", "never"]  # a bag of frames, either way
            if order == "reversed":  # short range: every pair shows the direction
                assert rows["bLVNet without TAM"][1].startswith(label) and rows["bLVNet without TAM"][
                    2
                ].startswith(partner), rows
            else:
                assert rows["bLVNet without TAM"][3:] == ["no", "0.000", "never"]
            assert len(captions(out[9])) == 8 and out[-4].layout.title.text.startswith(
                f"What '{label}' loses"
            )


def test_a_16_frame_checkpoint_is_explained_on_16_frames(models, example, tmp_path):
    """An authors' f8x2 file is 16 frames: the frames control names them and every panel uses them."""
    model = randomize_(build_model("blvnet_tam_tiny", num_classes=174, num_frames=16))
    path = tmp_path / "st2stv2-bLVNet-TAM-tiny-a2-b4-f8x2.pth.tar"
    save_in_authors_format(model.state_dict(), path)
    custom, choices, status, panel, frames = handlers.load_custom(
        models, str(path), None, handlers.OURS, "ssv2"
    )
    assert custom().num_frames == 16 and "16 frames at 224x224 px" in status
    assert frames["choices"][0] == ("each model's own (your checkpoint: 16)", OWN)
    out = handlers.predict(models, example, CUSTOM, OWN, None, custom, None)
    lines, cache = dict(zip(handlers.SLOTS, out[4:8])), out[-1]
    assert "16 frames at 224x224 px" in lines[CUSTOM] and "8 frames at 48x48 px" in lines[TSN]  # each its own
    gallery, _, per_frame, _, note, cache = handlers.explain(
        models, example, CUSTOM, OWN, "saliency", "black", None, "absolute_value", 0.8, custom, cache
    )
    assert len(gallery) == 16 and len(per_frame.data[0].y) == 16 and "16 frames at 224x224 px" in note
    removal, cache = handlers.frame_test(models, example, CUSTOM, OWN, None, "grey", custom, cache)
    assert len(removal.data[0].y) == 16
    table, strip, cache = handlers.order_test(
        models, example, CUSTOM, OWN, "halves swapped", 0, "", custom, cache
    )
    assert "| your checkpoint | 16 x 224 px |" in table and len(captions(strip)) == 16
    with pytest.raises(gr.Error, match="this clip has 16 frames: give 16"):  # the model to explain's frames
        handlers.order_test(models, example, CUSTOM, OWN, "your order", 0, "7 6 5 4 3 2 1 0", custom, cache)
    backwards = " ".join(map(str, range(15, -1, -1)))
    with pytest.raises(
        gr.Error,
        match="the order has 16 positions but TSN runs on 8 frames: "
        "type 8 positions, or run every model on 16 frames",
    ):
        handlers.order_test(models, example, CUSTOM, OWN, "your order", 0, backwards, custom, cache)
    table = handlers.order_test(models, example, CUSTOM, 16, "your order", 0, backwards, custom, cache)[0]
    assert "| TSN | 16 x 48 px |" in table  # every model on 16 frames
    eight = handlers.explain(
        models, example, CUSTOM, 8, "saliency", "black", None, "absolute_value", 0.8, custom, cache
    )  # the user's override
    assert len(eight[0]) == 8


def test_changing_how_it_is_drawn_reruns_nothing_and_a_new_method_no_prediction(models, example, monkeypatch):
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    calls = {"decode": 0, "predict": 0, "attribution": 0}
    read_frames, predict_clip, attribution = (
        clip_loading.read_frames,
        clip_cache.predict_clip,
        handlers.attribution,
    )

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(clip_loading, "read_frames", counted("decode", read_frames))
    for user in (clip_cache, order_comparison):  # the modules that predict
        monkeypatch.setattr(user, "predict_clip", counted("predict", predict_clip))
    monkeypatch.setattr(handlers, "attribution", counted("attribution", attribution))
    explain = lambda method, sign="absolute_value", opacity=0.8, target=None: handlers.explain(  # noqa: E731
        models, example, BLVNET_TAM, OWN, method, "black", target, sign, opacity, None, cache, forced=False
    )
    first = explain("saliency")
    assert calls == {"decode": 0, "predict": 0, "attribution": 1}
    redrawn = explain("saliency", "positive", 0.4)
    # the same values, drawn otherwise
    assert calls["attribution"] == 1 and redrawn[0][0][1] == first[0][0][1]
    assert "Drawn: positive" in redrawn[4] and not (redrawn[0][2][0] == first[0][2][0]).all()
    explain("gradcam")
    explain("saliency", target="growing")  # another class: the method again, no prediction
    assert calls == {"decode": 0, "predict": 0, "attribution": 3}
    handlers.frame_test(models, example, BLVNET_TAM, OWN, None, "neighbour", None, cache)
    handlers.frame_test(models, example, BLVNET_TAM, OWN, None, "neighbour", None, cache)
    assert calls["decode"] == 0 and calls["predict"] == 0


def test_an_explanation_overtaken_by_a_later_one_does_not_show(models, example, monkeypatch):
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    attribution = handlers.attribution

    def meanwhile(*args, **kwargs):  # the visitor changes a control while this one runs
        cache.ticket("explain")
        return attribution(*args, **kwargs)

    monkeypatch.setattr(handlers, "attribution", meanwhile)
    out = handlers.explain(models, example, BLVNET_TAM, OWN, "gradcam", "black", None, cache=cache)
    assert out[:5] == (gr.skip(),) * 5 and out[5] is cache
    monkeypatch.setattr(handlers, "attribution", attribution)
    again = handlers.explain(models, example, BLVNET_TAM, OWN, "gradcam", "black", None, cache=cache)
    assert len(again[0]) == 8


def test_a_control_change_does_not_start_a_long_explanation(models, example, monkeypatch):
    monkeypatch.setattr(handlers, "AUTO_S", 0.0)  # every explanation is "long"
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    out = handlers.explain(
        models,
        example,
        BLVNET_TAM,
        OWN,
        "occlusion",
        "black",
        None,
        "absolute_value",
        0.8,
        None,
        cache,
        forced=False,
    )
    assert (
        out[:4] == (gr.skip(),) * 4
        and "Occlusion would take about" in out[4]
        and "press **Explain**" in out[4]
    )
    forced = handlers.explain(
        models, example, BLVNET_TAM, OWN, "occlusion", "black", None, "absolute_value", 0.8, None, cache
    )  # the Explain button
    assert len(forced[0]) == 8
    no_clip = handlers.explain(
        models, None, BLVNET_TAM, OWN, "gradcam", "black", None, "absolute_value", 0.8, forced=False
    )
    assert no_clip[4] == handlers.RUN_FIRST


def test_an_explanation_that_cannot_fit_says_what_it_would_cost(models, example, monkeypatch):
    """Refused once its cost is planned, before any of the method's passes (the prediction and
    the measured forward pass, well within 5 s, run under the deadline too)."""
    monkeypatch.setattr(handlers, "OCCLUSION_TARGET_S", 1000.0)  # no shrinking for time
    estimate = handlers.explanation_seconds  # about 0.7 s for the demo model: as if 100 times slower
    monkeypatch.setattr(
        handlers, "explanation_seconds", lambda *args, **kwargs: 100 * estimate(*args, **kwargs)
    )
    with pytest.raises(
        gr.Error,
        match=r"Occlusion on blvnet_tam_tiny at 8 frames would take about \d+ s "
        r"here, over the limit of 5 s per request",
    ):
        handlers.explain(
            models,
            example,
            BLVNET_TAM,
            OWN,
            "occlusion",
            "black",
            None,
            "absolute_value",
            0.8,
            limits=handlers.Limits(timeout_s=5),
        )


def test_an_explanation_over_the_work_limit_says_its_cost_in_time_too(models, example):
    with pytest.raises(
        gr.Error,
        match=r"choose Saliency or Grad-CAM, or fewer frames "
        r"\(about [\d,]+ s on this machine\)",
    ):
        handlers.explain(
            models,
            example,
            BLVNET_TAM,
            OWN,
            "occlusion",
            "black",
            None,
            "absolute_value",
            0.8,
            limits=handlers.Limits(max_explain_gflop=0.1),
        )


def test_showing_an_example_sets_the_controls_it_was_computed_with(models):
    (name, classes, frames, method, baseline, sign, opacity, replacement, layer, cache) = (
        handlers.example_controls(models)
    )
    assert name["value"] == BLVNET_TAM and classes == {
        "choices": models[BLVNET_TAM].classes,
        "value": None,
        "__type__": "update",
    }
    assert frames["value"] == OWN and frames["choices"][0] == ("each model's own (bLVNet-TAM (demo): 8)", OWN)
    assert (method, baseline, sign, opacity, replacement) == (
        "saliency",
        "black",
        "absolute_value",
        0.8,
        "grey",
    )
    assert layer["value"] == list(models[BLVNET_TAM].model.tams())[-1] and cache is None


def test_integrated_gradients_chart_says_how_close_its_sums_come(models, example):
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    per_frame, note = handlers.explain(
        models, example, BLVNET_TAM, OWN, "integrated_gradients", "frozen", None, cache=cache
    )[2:5:2]
    subtitle = per_frame.layout.title.text.split("<sup>")[1]
    found = cache.recall(
        models[BLVNET_TAM],
        cache.clips[(8, 48, 48)],
        ("attribution", "integrated_gradients", "frozen", "moving left"),
    )
    assert f"add up to {float(found.per_frame.sum()):+.3g}" in subtitle
    assert (
        f"score(clip) - score(baseline) is {found.score_gap:+.3g}" in subtitle
        and "error of 32 steps" in subtitle
    )


def test_bad_seeds_and_decoder_codes_are_not_shown_raw(models, example, tmp_path):
    for seed in (-5, 2**70, 1.5):
        with pytest.raises(gr.Error, match="the seed is a whole number from 0 to"):
            handlers.order_test(models, example, BLVNET_TAM, OWN, "pairs shuffled", seed)
    assert handlers._for_user("cannot read this video: [Errno 1094995529] Invalid data found") == (
        "cannot read this video: Invalid data found"
    )


def test_stage_4_offsets_are_frame_pairs(models):
    tams = list(models[BLVNET_TAM].model.tams())
    assert "(frame pairs)" in handlers.tam_layer(models, BLVNET_TAM, tams[-1]).layout.yaxis.title.text
    assert "(frames)" in handlers.tam_layer(models, BLVNET_TAM, tams[0]).layout.yaxis.title.text


def test_frame_removal_depends_on_the_replacement(models, example):
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    figures = {
        r: handlers.frame_test(models, example, BLVNET_TAM, OWN, None, r, None, cache)[0]
        for r in ("grey", "neighbour", "mean")
    }
    assert (
        "grey" in figures["grey"].layout.title.text
        and "previous frame" in figures["neighbour"].layout.title.text
    )
    assert figures["grey"].data[0].y != figures["neighbour"].data[0].y != figures["mean"].data[0].y
    with pytest.raises(gr.Error, match="choose a replacement"):
        handlers.frame_test(models, example, BLVNET_TAM, OWN, None, "pink", None, cache)
    assert handlers.frame_test(models, None, BLVNET_TAM, OWN, None, "grey")[0] == gr.skip()


def test_orders_typed_seeded_and_refused(models, example):
    table, strip, cache = handlers.order_test(
        models, example, BLVNET_TAM, OWN, "your order", 0, "0 1 0 1 0 1 0 1"
    )
    assert "in your order" in table and "`0 1 | 0 1 | 0 1 | 0 1`" in table and _rows(table)["TSN"][5] == "yes"
    assert captions(strip)[:3] == ["0: frame 2", "1: frame 6", "2: frame 2"]
    seeded = [
        handlers.order_test(models, example, BLVNET_TAM, OWN, "pairs shuffled", seed, "")[0]
        for seed in (0, 0, 5)
    ]
    assert seeded[0] == seeded[1] and "(seed 0)" in seeded[0] and "(seed 5)" in seeded[2]
    for typed, message in (
        ("1 2", "has 2 positions"),
        ("0 1 2 3 4 5 6 9", "position 9 is not in the clip"),
        ("a b", "'a' is not a frame position"),
    ):
        with pytest.raises(gr.Error, match=message):
            handlers.order_test(models, example, BLVNET_TAM, OWN, "your order", 0, typed)
    with pytest.raises(gr.Error, match="choose a frame order"):
        handlers.order_test(models, example, BLVNET_TAM, OWN, "sideways")
    # chosen, nothing typed yet
    hint = handlers.order_test(models, example, BLVNET_TAM, OWN, "your order", 0, "  ")
    assert hint[0].startswith("*Your order:* type the positions") and hint[1] is None
    # within Run
    quiet = handlers.order_test(models, example, BLVNET_TAM, OWN, "your order", 0, "1 2", quiet=True)
    assert quiet[0] == (
        "*Frame order (your order):* the order has 2 positions; this clip has 8 frames: give 8."
    )


def test_tam_weights_layers_and_the_clip_view(models, example):
    layer, summary, groups, note, card = handlers.tam_weights(models, BLVNET_TAM)
    tams = list(models[BLVNET_TAM].model.tams())
    assert layer["choices"] == tams and layer["value"] == tams[-1] and f"{len(tams)} TAMs" in note
    assert "How to read these charts" in note and summary["value"].data[0].zmax == 1.0
    assert f"Channels of {tams[-1]}" in groups["value"].layout.title.text
    assert "blvnet_tam_tiny" in card and "GFLOPs" in card
    first = handlers.tam_layer(models, BLVNET_TAM, tams[0])
    assert (
        sum(int(a.text.split("<br>")[1]) for a in first.layout.annotations)
        == models[BLVNET_TAM].model.layer0.tam.channels
    )  # every channel in one group
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    shallow, sentence, cache = handlers.tam_view(models, example, BLVNET_TAM, OWN, tams[0], None, cache)
    deep, _, cache = handlers.tam_view(models, example, BLVNET_TAM, OWN, tams[-1], None, cache)
    # one row per pair in stage 4
    assert len(shallow["value"].data[0].y) == 8 and len(deep["value"].data[0].y) == 4
    assert shallow["value"].data[0].z != deep["value"].data[0].z and tams[0] in sentence
    layer, summary, groups, note, card = handlers.tam_weights(models, TSN)
    assert "has no TAM" in note and layer["choices"] == [] and summary["visible"] is False
    assert handlers.tam_view(models, example, TSN, OWN, None)[0]["visible"] is False
    assert "Run a clip" in handlers.tam_view(models, None, BLVNET_TAM, OWN, None)[1]


def test_captums_view_of_a_selected_frame(models, example):
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]
    # nothing explained
    nothing = handlers.frame_view(models, example, BLVNET_TAM, OWN, "positive", 3, None, cache)
    assert nothing["visible"] is False
    handlers.explain(
        models, example, BLVNET_TAM, OWN, "integrated_gradients", "frozen", None, "positive", 0.8, None, cache
    )
    shown = handlers.frame_view(models, example, BLVNET_TAM, OWN, "positive", 3, None, cache)
    figure = shown["value"]
    assert shown["visible"] and isinstance(figure, matplotlib.figure.Figure) and len(figure.axes) >= 3
    assert "Integrated gradients" in figure.axes[1].get_title()
    red = handlers._captum_colours("positive")(1.0)[:3]  # the gallery's red for the class, not Captum's green
    assert [round(255 * c) for c in red] == [228, 26, 28]
    both = handlers._captum_colours("all")
    assert [round(255 * c) for c in both(0.0)[:3]] == [33, 102, 232] and min(both(0.5)[:3]) > 0.99  # white


def test_choosing_another_model_updates_its_classes_and_frames(models, tmp_path):
    tsn = SavedRun.load(handlers.DEMO / "tsn_resnet_tiny.pt")
    other = replace(tsn, config=replace(tsn.config, num_frames=12)).save(tmp_path / "tsn12.pt")
    custom = handlers.load_custom(models, str(other), None, handlers.OURS)[0]
    classes, frames = handlers.model_changed(models, CUSTOM, custom)
    assert classes["choices"] == custom().classes and classes["value"] is None
    assert frames["choices"][0] == ("each model's own (your checkpoint: 12)", OWN)
    assert handlers.model_changed(models, TSN)[1]["choices"][0] == ("each model's own (TSN (demo): 8)", OWN)


@pytest.mark.parametrize("video,message", [(None, "Upload a clip"), ("", "Upload a clip")])
def test_no_video(models, video, message):
    with pytest.raises(gr.Error, match=message):
        handlers.predict(models, video, BLVNET_TAM, 8, None)
    with pytest.raises(gr.Error, match=message):
        handlers.explain(models, video, BLVNET_TAM, 8, "saliency", "black", None)


def test_a_text_file_as_video_gives_a_message_without_the_upload_folder(models, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    with pytest.raises(gr.Error, match="cannot read this video") as err:
        handlers.predict(models, str(text), BLVNET_TAM, 8, None)
    assert str(tmp_path) not in err.value.message


def test_unknown_model_class_layer_method_and_odd_frames(models, example):
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        handlers.predict(models, example, "nope", 8, None)
    with pytest.raises(gr.Error, match="unknown model 'nope'"):
        handlers.tam_weights(models, "nope")
    with pytest.raises(gr.Error, match="unknown class 'flying'"):
        handlers.explain(models, example, BLVNET_TAM, 8, "saliency", "black", "flying")
    changed = handlers.explain(models, example, BLVNET_TAM, 8, "saliency", "black", "flying", forced=False)
    assert "of **'moving left'**" in changed[4]  # just after another model was chosen: its top-1
    with pytest.raises(gr.Error, match="choose a method among"):
        handlers.explain(models, example, BLVNET_TAM, 8, "magic", "black", None)
    with pytest.raises(gr.Error, match="a sign among"):
        handlers.explain(models, example, BLVNET_TAM, 8, "saliency", "black", None, "sideways")
    with pytest.raises(gr.Error, match="opacity goes from 0 to 1"):
        handlers.explain(models, example, BLVNET_TAM, 8, "saliency", "black", None, "positive", 3)
    with pytest.raises(gr.Error, match="no TAM named 'layer9.tam'"):
        handlers.tam_layer(models, BLVNET_TAM, "layer9.tam")
    with pytest.raises(gr.Error, match="frames in pairs"):
        handlers.predict(models, example, BLVNET_TAM, 7, None)
    with pytest.raises(gr.Error, match="even number of frames >= 4"):
        handlers.order_test(models, example, BLVNET_TAM, 2, "pairs shuffled")


def test_loading_a_checkpoint(models, example, tmp_path):
    with pytest.raises(gr.Error, match="Choose a checkpoint file first"):
        handlers.load_custom(models, None, None, handlers.OURS)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(gr.Error, match="Could not load this checkpoint: could not read"):
        handlers.load_custom(models, str(junk), None, handlers.OURS)
    tsn = str(handlers.DEMO / "tsn_resnet_tiny.pt")
    custom, choices, status, panel, frames = handlers.load_custom(models, tsn, None, handlers.OURS)
    assert "tsn_resnet_tiny" in status and choices["value"] == CUSTOM and panel["visible"] is True
    panels = run(models, example, custom=custom)["panels"]
    assert panels[CUSTOM] == pytest.approx(panels[TSN])  # the same weights as the demo TSN


def test_one_run_decodes_once_per_preprocessing_and_runs_each_model_once(
    models, example, tmp_path, monkeypatch
):
    tsn = SavedRun.load(handlers.DEMO / "tsn_resnet_tiny.pt")
    other = replace(tsn, preprocessing=Preprocessing(40, 48)).save(tmp_path / "tsn_40px.pt")
    custom = handlers.load_custom(models, str(other), None, handlers.OURS)[0]
    everyone = {**models, CUSTOM: custom()}  # the state holds a reference; the server holds the model
    decodes, probes = [], []
    read_frames, probe_video = clip_loading.read_frames, clip_loading.probe_video
    monkeypatch.setattr(
        clip_loading, "read_frames", lambda *a, **k: decodes.append(a) or read_frames(*a, **k)
    )
    monkeypatch.setattr(clip_loading, "probe_video", lambda *a, **k: probes.append(a) or probe_video(*a, **k))
    predictions = []
    predict_clip = clip_cache.predict_clip
    for user in (clip_cache, order_comparison):  # the modules that predict
        monkeypatch.setattr(
            user, "predict_clip", lambda p, c: predictions.append(p.name + str(p.size)) or predict_clip(p, c)
        )
    run(models, example, custom=custom)
    assert len(decodes) == len(probes) == 2  # (8 frames, 48 px) for the demo models, (8, 40) for custom
    # each model once on the clip as it is and once shuffled; the explanation reuses the prediction
    assert sorted(predictions) == sorted(2 * [p.name + str(p.size) for p in everyone.values()])


def test_an_authors_checkpoint_with_a_shipped_label_map(models, example, tmp_path):
    """A released file holds no class names: `ssv2` from the dropdown names its 174 outputs."""
    model = build_model("blvnet_tam_tiny", num_classes=174)
    path = tmp_path / "st2stv2-tiny.pth.tar"
    save_in_authors_format(model.state_dict(), path)
    with pytest.raises(gr.Error, match="'ssv1'.*'ssv2'"):
        handlers.load_custom(models, str(path), None, handlers.OURS)  # 174 classes: V1 or V2?
    custom, _, status, _, _ = handlers.load_custom(models, str(path), None, handlers.OURS, "ssv2")
    assert custom().classes[0] == "Approaching something with your camera" and "174 classes" in status
    panels = handlers.predict(models, example, CUSTOM, None, None, custom)[: len(handlers.SLOTS)]
    top5 = dict(zip(handlers.SLOTS, panels))[CUSTOM]  # the visitor's model beside the demo models
    assert len(top5) >= 5 and set(top5) <= set(custom().classes)


def test_overlay_videos_are_bounded(tmp_path):
    overlays = handlers.OverlayVideos(keep=3, folder=tmp_path)
    open_files = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    paths = [overlays.new_path() for _ in range(6)]
    if open_files is not None:
        assert len(os.listdir("/proc/self/fd")) <= open_files  # no file left open per overlay
    assert len({p.name for p in paths}) == 6 and all(p.parent == tmp_path for p in paths)
    assert len(list(tmp_path.glob("*.mp4"))) == 3  # the newest ones only


def test_the_server_holds_a_bounded_number_of_visitors_checkpoints(models, example):
    import gc

    server = handlers.Server(handlers.OwnCheckpoints(capacity=2))  # `app.launch(max_checkpoints=2)`
    tsn = str(handlers.DEMO / "tsn_resnet_tiny.pt")
    first = handlers.load_custom(models, tsn, None, handlers.OURS, server=server)[0]
    cache = handlers.predict(models, example, CUSTOM, 8, None, first, server=server)[-1]
    handlers.explain(
        models, example, CUSTOM, 8, "saliency", "black", None, custom=first, cache=cache, server=server
    )
    second, third = (
        handlers.load_custom(models, tsn, None, handlers.OURS, server=server)[0] for _ in range(2)
    )
    gc.collect()
    # unloaded and freed, though its visitor's cache used it
    assert len(server.own) == 2 and first() is None
    with pytest.raises(
        gr.Error, match="Your checkpoint is not loaded: the server holds the 2 most recently used"
    ):
        handlers.predict(models, example, CUSTOM, 8, None, first, cache, server=server)
    panels = dict(
        zip(
            handlers.SLOTS,
            handlers.predict(models, example, BLVNET_TAM, 8, None, first, cache, server=server),
        )
    )
    assert panels[CUSTOM] is None and panels[TSN]  # the demo models still answer that visitor
    assert "has 5 TAMs" in handlers.tam_weights(models, BLVNET_TAM, first, server=server)[3]
    for visitor in (second, third):
        panels = dict(
            zip(
                handlers.SLOTS, handlers.predict(models, example, BLVNET_TAM, 8, None, visitor, server=server)
            )
        )
        assert panels[CUSTOM] == pytest.approx(panels[TSN])


def test_an_uploaded_file_name_is_shown_as_the_user_gave_it(models, tmp_path):
    """Gradio keeps an upload named `my "clip".mp4` as `my %22clip%22.mp4` (a browser's, also
    with `%20` for the space): messages name it as the user did, without the upload folder."""
    for stored in ("my %22clip%22.mp4", "my%20%22clip%22.mp4"):
        upload = tmp_path / "0123abcd" / stored
        upload.parent.mkdir(exist_ok=True)
        upload.write_text("not a video\n" * 50)
        with pytest.raises(gr.Error, match="cannot read this video") as err:
            handlers.predict(models, str(upload), BLVNET_TAM, 8, None)
        assert 'my "clip".mp4: not a readable video' in err.value.message, err.value.message
        assert "%2" not in err.value.message and str(upload.parent) not in err.value.message
    assert handlers._for_user("x 100%25.mp4: empty", "/tmp/gradio/1/100%25.mp4") == "x 100%.mp4: empty"


def _first_block_sleeps(models, seconds: float) -> tuple[dict, list]:
    """Every Bottleneck of the models: the first one to start (in any model) sleeps `seconds`,
    the later ones are counted (registered before the handler's own hooks, so they run first)."""
    from blvnet_edu.models.blocks import Bottleneck

    state = {"slept": False, "after": 0}

    def spy(module, args):
        if state["slept"]:
            state["after"] += 1
        else:
            time.sleep(seconds)
            state["slept"] = True

    handles = [
        m.register_forward_pre_hook(spy)
        for p in models.values()
        for m in p.model.modules()
        if isinstance(m, Bottleneck)
    ]
    return state, handles


@pytest.mark.parametrize(
    "handler,what",
    [
        ("predict", "the prediction"),
        ("order_test", "the order test"),
        ("explain", "the explanation"),
        ("frame_test", "the frame removal"),
        ("tam_view", "the TAM view"),
    ],
)
def test_every_handler_stops_a_forward_pass_at_its_deadline(models, example, handler, what):
    """A forward pass that runs past the request's deadline (its first block sleeps past it)
    stops before the next block (`Deadline.watching`), not at the end of the pass; the shared
    models are left without hooks."""
    limits = handlers.Limits(timeout_s=1.5)  # a saliency planned at over 1.5 s would be refused first
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None)[-1]  # decoded and predicted
    calls = {
        "predict": lambda: handlers.predict(models, example, BLVNET_TAM, OWN, None, None, None, limits),
        "order_test": lambda: handlers.order_test(
            models, example, BLVNET_TAM, OWN, "reversed", 0, "", None, cache, limits
        ),
        "explain": lambda: handlers.explain(
            models, example, BLVNET_TAM, OWN, "saliency", "black", None, cache=cache, limits=limits
        ),
        "frame_test": lambda: handlers.frame_test(
            models, example, BLVNET_TAM, OWN, None, "grey", None, cache, limits
        ),
        "tam_view": lambda: handlers.tam_view(models, example, BLVNET_TAM, OWN, None, None, cache, limits),
    }
    state, handles = _first_block_sleeps(models, 2.0)
    try:
        with pytest.raises(gr.Error, match=f"{what} took longer than the limit of 1.5 s"):
            calls[handler]()
    finally:
        for handle in handles:
            handle.remove()
    assert state["slept"] and state["after"] == 0  # no block started after the deadline
    assert not [m for p in models.values() for m in p.model.modules() if m._forward_pre_hooks]


def test_a_heavy_explanation_waits_its_turn_says_so_and_a_light_one_does_not_wait(
    models, example, monkeypatch
):
    """The server's heavy lane, one at a time and one more queued: the queued one tells the
    visitor (gr.Info) and its note says how long it waited; one more is refused at once; an
    explanation that is not heavy runs meanwhile."""
    told = []
    monkeypatch.setattr(handlers.gr, "Info", lambda message, *args, **kwargs: told.append(message))
    monkeypatch.setattr(handlers, "HEAVY_S", 0.0)  # every explanation is heavy
    server = handlers.Server(heavy=handlers.HeavyLane(at_once=1, waiting=1))
    assert server.heavy.concurrency == handlers.LIGHT_AT_ONCE + 2

    def visitor():
        return handlers.predict(models, example, BLVNET_TAM, OWN, None, server=server)[-1]

    def explain(method, cache):
        return handlers.explain(
            models, example, BLVNET_TAM, OWN, method, "black", None, cache=cache, server=server
        )

    queued_cache, refused_cache, light_cache = visitor(), visitor(), visitor()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        with server.heavy.slot():  # another visitor's heavy explanation runs
            queued = pool.submit(explain, "saliency", queued_cache)
            for _ in range(200):
                if server.heavy.inside == 2:
                    break
                time.sleep(0.05)
            assert server.heavy.inside == 2 and not queued.done()
            with pytest.raises(gr.Error, match="busy with 2 heavy explanations .* try again in a minute"):
                explain("gradcam", refused_cache)
            monkeypatch.setattr(handlers, "HEAVY_S", 1000.0)  # not heavy: served at once
            # served while the heavy slot is still held here: it never waited for it
            assert len(explain("gradcam", light_cache)[0]) == 8
            assert not queued.done()
            time.sleep(0.3)
        note = queued.result(timeout=60)[4]
    assert "*Queued:* it waited" in note and server.heavy.inside == 0
    assert len(told) == 1 and "queued behind another heavy explanation" in told[0]


def test_heavy_lane_bounds():
    lane = handlers.HeavyLane(at_once=1, waiting=0)
    with lane.slot() as waited:
        assert waited == 0.0 and lane.inside == 1
        with pytest.raises(handlers.ServerBusy, match="busy with 1 heavy"):
            with lane.slot():
                pass
    lane = handlers.HeavyLane(at_once=1, waiting=1)
    with lane.slot():
        with pytest.raises(handlers.ServerBusy, match="within 0 s"):
            with lane.slot(max_wait_s=0.1):
                pass
    assert lane.inside == 0
    with pytest.raises(ValueError):
        handlers.HeavyLane(at_once=0)


SERVER_FOLDERS = """
import os, sys
from blvnet_edu_app import handlers
server = handlers.Server()
overlays, cache = server.overlays.new_path().parent, server.make_cache_folder()
(cache / "upload.mp4").write_bytes(b"x")
print(overlays, cache, flush=True)
if sys.argv[1] == "killed":
    os._exit(0)  # no exit handlers run
"""


def test_a_server_removes_its_folders_on_close_at_exit_and_those_of_servers_gone(tmp_path, monkeypatch):
    """Its overlay folder (<tmp>/blvnet-overlays-<pid>-...) and its part of Gradio's cache
    (<gradio>/blvnet-edu-<pid>-...) go at `close()` and at exit; a server killed leaves them,
    and `remove_leftovers` (what a start does) removes them, nothing else."""
    temp, gradio = tmp_path / "tmp", tmp_path / "gradio"
    temp.mkdir()
    monkeypatch.setattr(handlers.tempfile, "tempdir", str(temp))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio))
    server = handlers.Server()
    overlays, cache = server.overlays.new_path().parent, server.make_cache_folder()
    assert overlays.parent == temp and overlays.name.startswith(f"blvnet-overlays-{os.getpid()}-")
    assert cache.parent == gradio and cache.name.startswith(f"blvnet-edu-{os.getpid()}-")
    server.close()
    assert list(temp.iterdir()) == [] and list(gradio.iterdir()) == []

    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_TEMP_DIR": str(gradio)}

    def server_process(how: str) -> list[Path]:
        done = subprocess.run(
            [sys.executable, "-c", SERVER_FOLDERS, how], env=env, capture_output=True, text=True, check=True
        )
        return [Path(p) for p in done.stdout.split()]

    assert not any(p.exists() for p in server_process("exits"))  # removed at exit
    killed = server_process("killed")
    assert all(p.is_dir() for p in killed)
    # what must stay: a running server's folders (this test's parent process), other apps' files in
    # Gradio's cache, the cached examples, a folder without a pid, a link
    alive = os.getppid()
    keep = [
        temp / f"blvnet-overlays-{alive}-abcd",
        gradio / f"blvnet-edu-{alive}-abcd",
        gradio / "0123abcd",
        temp / "blvnet-edu-examples" / "0123abcd",
        temp / "blvnet-overlays-abcd1234",
    ]
    for folder in keep:
        folder.mkdir(parents=True)
        (folder / "file.mp4").write_bytes(b"x")
    (gradio / "blvnet-edu-999999999-link").symlink_to(gradio / "0123abcd")
    removed = handlers.remove_leftovers()
    assert sorted(removed) == sorted(killed) and not any(p.exists() for p in killed)
    assert all((folder / "file.mp4").exists() for folder in keep)
    assert (gradio / "blvnet-edu-999999999-link").is_symlink()


def test_a_heavy_frame_removal_takes_a_turn_too(models, example, monkeypatch):
    monkeypatch.setattr(handlers, "HEAVY_S", 0.0)  # every frame removal is heavy
    server = handlers.Server(heavy=handlers.HeavyLane(at_once=1, waiting=0))
    cache = handlers.predict(models, example, BLVNET_TAM, OWN, None, server=server)[-1]
    with server.heavy.slot():  # the lane is full
        with pytest.raises(gr.Error, match="Removing each frame would take about .* choose fewer frames"):
            handlers.frame_test(models, example, BLVNET_TAM, OWN, None, "grey", None, cache, server=server)
    removal, cache = handlers.frame_test(
        models, example, BLVNET_TAM, OWN, None, "grey", None, cache, server=server
    )
    assert "grey" in removal.layout.title.text and server.heavy.inside == 0  # its turn: the lane is free


@pytest.mark.parametrize(
    "frames, message", [(100_000, "100000 frames per clip is over the limit of 64"), ("x", "frames: 'x'")]
)
def test_frames_over_the_limits_are_refused_before_any_work(models, example, frames, message):
    """The frames control is a dropdown, but the API takes any value (the sweep sent 100,000)."""
    with pytest.raises(gr.Error, match=message):
        handlers.predict(models, example, BLVNET_TAM, frames, None, None, None)


def test_a_clip_length_over_the_work_limit_is_refused(models, example):
    with pytest.raises(gr.Error, match=r"GFLOPs per clip of 64 frames at 48 px; the limit is 0.01"):
        handlers.predict(
            models, example, BLVNET_TAM, 64, None, None, None, handlers.Limits(max_clip_gflop=0.01)
        )


def test_the_servers_own_checkpoint_without_a_digest_loads_only_when_allowed(tmp_path):
    from blvnet_edu.models.checkpoints import load_file
    from blvnet_edu.saved_run import UnverifiedCheckpointError

    payload = load_file(handlers.DEMO / "blvnet_tam_tiny.pt")
    del payload["sha256"]
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(UnverifiedCheckpointError, match="--allow-unverified"):
        handlers.load_models(str(tmp_path / "old.pt"))
    assert CUSTOM in handlers.load_models(str(tmp_path / "old.pt"), allow_unverified=True)


def test_a_visitors_checkpoint_without_a_digest_is_refused_with_the_way_round(models, tmp_path):
    from blvnet_edu.models.checkpoints import load_file

    payload = load_file(handlers.DEMO / "blvnet_tam_tiny.pt")
    payload["model"]["fc.bias"] += 1  # edited, and the digest removed
    del payload["sha256"]
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(gr.Error, match="edited.pt has no digest .* the app loads only verified files") as err:
        handlers.load_custom(models, str(tmp_path / "edited.pt"), None, handlers.OURS)
    assert "--allow-unverified" not in str(err.value) and str(tmp_path) not in str(err.value)
