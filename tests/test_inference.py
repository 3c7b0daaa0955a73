"""blvnet_edu/inference.py: predict and explain a clip file, clear errors for bad input."""

import pytest
import torch

from blvnet_edu import build_model
from blvnet_edu.inference import (
    ClipCache, ClipError, OrderResult, Predictor, explain, load_clip, load_clips, load_predictor, model_card,
    order_comparison, order_markdown, order_sensitive, parse_order, predict, predict_clip, reorder_clip,
)
from blvnet_edu.models.fast import prepare_for_inference
from blvnet_edu.data.video_io import read_video, write_video
from blvnet_edu.saved_run import Preprocessing, SavedRun

from conftest import index_frames, random_video, randomize_

CLASSES = [f"class {i}" for i in range(10)]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = randomize_(build_model("blvnet_tam_tiny", num_frames=8))
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    SavedRun(model.config, CLASSES, model.state_dict(), Preprocessing(48, 56)).save(path)
    return path


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("clips") / "clip.mp4", index_frames(40, 60, 96), fps=10)


def test_predict_returns_labelled_probabilities(checkpoint, clip_file):
    predictor = load_predictor(checkpoint)
    assert (predictor.size, predictor.resize, predictor.num_frames) == (48, 56, 8)
    probs = predict(clip_file, predictor)
    assert list(probs) == CLASSES and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    clip = load_clip(clip_file, 8, 48, 56)
    assert clip.indices == [2, 7, 12, 17, 22, 27, 32, 37]  # centres of 8 segments: evaluation sampling
    assert clip.frames.shape == (8, 3, 48, 48) and clip.input.shape == (1, 8, 3, 48, 48)
    decoded = read_video(clip_file)  # uint8 frames in memory: the same preprocessing as the file
    assert predict(decoded, predictor) == pytest.approx(probs, abs=1e-6)


def test_other_frame_counts_reuse_the_weights(checkpoint, clip_file):
    predictor = load_predictor(checkpoint)
    four = predictor.with_frames(4)
    assert four.num_frames == 4 and four is predictor.with_frames(4)
    assert torch.equal(four.model.fc.weight, predictor.model.fc.weight)
    assert len(predict(clip_file, predictor, num_frames=12)) == 10


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "occlusion", "gradcam"])
def test_explain_every_method(checkpoint, clip_file, method):
    predictor = load_predictor(checkpoint)
    clip = load_clip(clip_file, 8, 48, 56)
    result = explain(predictor, clip, method=method, steps=4)
    assert result.maps.shape == (8, 48, 48) and result.overlays.shape == (8, 3, 48, 48)
    assert result.maps.min() >= 0 and result.maps.max() == pytest.approx(1.0)
    assert result.importance.shape == (8,) and len(result.captions) == 8
    probs = predict_clip(predictor, clip)
    assert result.target == max(probs, key=probs.get)
    assert explain(predictor, clip, target="class 3", method=method, steps=4).target == "class 3"


def test_model_card(checkpoint):
    card = model_card(load_predictor(checkpoint))
    assert "blvnet_tam_tiny" in card and "GFLOPs" in card and "10 classes" in card


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"GIF89a not a video at all" * 20, "cannot read this video"),
])
def test_bad_files_raise_clip_errors(tmp_path, content, message):
    path = tmp_path / "upload.mp4"
    path.write_bytes(content)
    with pytest.raises(ClipError, match=message):
        load_clip(path, 8, 48, 56)


def test_too_short_and_missing(tmp_path):
    one = write_video(tmp_path / "one.mp4", index_frames(1), fps=5)
    with pytest.raises(ClipError, match="at least 2"):
        load_clip(one, 8, 48, 56)
    with pytest.raises(ClipError, match="not found"):
        load_clip(tmp_path / "gone.mp4", 8, 48, 56)
    with pytest.raises(ClipError, match="no video"):
        load_clip(None, 8, 48, 56)


def test_wrong_checkpoints(tmp_path, checkpoint):
    with pytest.raises(FileNotFoundError):
        load_predictor(tmp_path / "none.pt")
    with pytest.raises(ValueError,
                       match="junk.pt: not a blvnet-edu checkpoint, nor a bLVNet-TAM network in the authors. format"):
        junk = tmp_path / "junk.pt"
        torch.save({"a": torch.zeros(1)}, junk)
        load_predictor(junk)
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    with pytest.raises(ValueError, match="does not fit|missing from the checkpoint"):
        load_predictor(junk, labels=labels, model_name="blvnet_tam_tiny")
    with pytest.raises(ValueError, match="list 2 classes; the model has 10"):
        load_predictor(checkpoint, labels=labels)


def test_top_level_predict(checkpoint, clip_file):
    import blvnet_edu

    probs = blvnet_edu.predict(clip_file, blvnet_edu.load_predictor(checkpoint))
    assert max(probs.values()) <= 1.0 and len(probs) == 10


@pytest.fixture(scope="module")
def three_models():
    """TSN, bLVNet without TAM and bLVNet-TAM with generic random weights (no identity TAM)."""
    predictors = {}
    for seed, name in enumerate(["tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"]):
        model = randomize_(build_model(name, num_classes=len(CLASSES), num_frames=8), seed=seed).eval()
        with torch.no_grad():  # logits of order 1, so that no softmax saturates and hides a change
            scale = model(random_video(1, 8, 48)).std()
            model.fc.weight /= scale
            model.fc.bias /= scale
        predictors[name] = Predictor(name, prepare_for_inference(model), CLASSES, 48, 56)
    return predictors


def test_one_decode_per_preprocessing(three_models, clip_file):
    clips = load_clips(clip_file, three_models)
    assert clips["tsn_resnet_tiny"] is clips["blvnet_tiny"] is clips["blvnet_tam_tiny"]
    blvnet = three_models["blvnet_tiny"]
    eight_and_four = load_clips(clip_file, {"a": blvnet, "b": blvnet.with_frames(4)})
    assert len(eight_and_four["a"].indices) == 8 and len(eight_and_four["b"].indices) == 4


def test_reorder_clip_is_reproducible_and_keeps_pairs(clip_file):
    clip = load_clip(clip_file, 8, 48, 56)
    reversed_clip, order = reorder_clip(clip, "reversed")
    assert order == list(range(7, -1, -1)) and reversed_clip.indices == clip.indices[::-1]
    assert torch.equal(reversed_clip.frames, clip.frames.flip(0))
    assert torch.equal(reversed_clip.input, clip.input.flip(1))
    shuffled, order = reorder_clip(clip, "shuffled_pairs", seed=3)
    assert order == reorder_clip(clip, "shuffled_pairs", seed=3)[1] and order != list(range(8))
    assert all(b == a + 1 and a % 2 == 0 for a, b in zip(order[::2], order[1::2]))  # pairs intact, in order
    assert torch.equal(shuffled.frames, clip.frames[order])
    with pytest.raises(ClipError, match="even number of frames >= 4"):
        reorder_clip(load_clip(clip_file, 2, 48, 56), "shuffled_pairs")
    swapped, order = reorder_clip(clip, "halves_swapped")
    assert order == [4, 5, 6, 7, 0, 1, 2, 3] and swapped.indices == clip.indices[4:] + clip.indices[:4]
    typed, order = reorder_clip(clip, "custom", order=[0, 0, 1, 1, 2, 2, 3, 3])  # repeats allowed
    assert order == [0, 0, 1, 1, 2, 2, 3, 3] and torch.equal(typed.input[0, 1], clip.input[0, 0])
    with pytest.raises(ClipError, match="8 positions from 0 to 7"):
        reorder_clip(clip, "custom", order=[0, 1, 2])


@pytest.mark.parametrize("text,expected", [
    ("7 6 5 4 3 2 1 0", [7, 6, 5, 4, 3, 2, 1, 0]),
    ("4,5 | 6,7 | 0,1 | 2,3", [4, 5, 6, 7, 0, 1, 2, 3]),
    (" 0 0 0 0 0 0 0 0 ", [0] * 8),
])
def test_a_typed_order(text, expected):
    assert parse_order(text, 8) == expected


@pytest.mark.parametrize("text,message", [
    ("", "type a frame order: 8 positions from 0 to 7, e.g. 7 6 5"),
    ("1 2 3", "the order has 3 positions; this clip has 8 frames"),
    ("0 1 2 3 4 5 6 x", "'x' is not a frame position"),
    ("0 1 2 3 4 5 6 8", "position 8 is not in the clip"),
    ("0 1 2 3 4 5 6 -1", "position -1 is not in the clip"),
])
def test_a_typed_order_that_does_not_fit_says_why(text, message):
    with pytest.raises(ClipError, match=message):
        parse_order(text, 8)


def test_what_each_architecture_can_notice_follows_from_the_order():
    tsn, blvnet, tam = (build_model(name).config
                        for name in ("tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"))
    assert [order_sensitive(c, "halves_swapped") for c in (tsn, blvnet, tam)] == [False, False, True]
    assert [order_sensitive(c, "reversed") for c in (tsn, blvnet, tam)] == [False, True, True]
    within_pairs = [1, 0, 3, 2, 5, 4, 7, 6]  # each pair reversed in place: new pairs, same frames
    assert [order_sensitive(c, "custom", within_pairs) for c in (tsn, blvnet, tam)] == [False, True, True]
    repeated = [0, 1, 0, 1, 4, 5, 6, 7]  # a frame pair repeated: a bag of frames notices
    assert [order_sensitive(c, "custom", repeated) for c in (tsn, blvnet, tam)] == [True, True, True]
    assert not order_sensitive(tam, "custom", list(range(8)))  # the same order: nothing to notice


def test_order_comparison_shows_what_each_architecture_can_notice(three_models, clip_file):
    clips = load_clips(clip_file, three_models)
    results = {test: {r.model: r for r in order_comparison(three_models, clips, test)}
               for test in ("reversed", "shuffled_pairs")}

    def same(r: OrderResult) -> bool:
        before, after = torch.tensor(list(r.original.values())), torch.tensor(list(r.modified.values()))
        return torch.allclose(before, after, atol=1e-6)

    tsn, blvnet, tam = "tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"
    assert same(results["reversed"][tsn]) and same(results["shuffled_pairs"][tsn])  # a bag of frames
    assert same(results["shuffled_pairs"][blvnet]) and not same(results["reversed"][blvnet])  # a bag of pairs
    assert not same(results["shuffled_pairs"][tam]) and not same(results["reversed"][tam])  # relates pairs
    assert results["shuffled_pairs"][tam].largest_shift > 1e-4
    assert [r.can_change for r in results["shuffled_pairs"].values()] == [False, False, True]
    assert [r.can_change for r in results["reversed"].values()] == [False, True, True]
    table = order_markdown(list(results["shuffled_pairs"].values()), "shuffled_pairs", seed=0)
    assert "top-1, pairs shuffled" in table and table.count("\n| ") == 3 and "Expected: TSN" in table
    assert "| tsn_resnet_tiny | 8 x 48 px |" in table and "pairs shuffled (seed 0)" in table
    swapped = {r.model: r for r in order_comparison(three_models, clips, "halves_swapped")}
    assert same(swapped[tsn]) and same(swapped[blvnet]) and not same(swapped[tam])  # the same pairs, moved
    assert swapped[tam].order == [4, 5, 6, 7, 0, 1, 2, 3]
    with pytest.raises(ClipError, match="the order has 4 positions but tsn_resnet_tiny runs on 8 frames"):
        order_comparison(three_models, clips, "custom", order=[0, 1, 2, 3])
    one_clip = order_comparison(three_models, clips[tsn], "reversed")  # one clip for every model
    assert [r.top1_modified for r in one_clip] == [r.top1_modified for r in results["reversed"].values()]


def test_inference_does_not_need_the_training_engine():
    import subprocess
    import sys

    code = ("import sys, blvnet_edu.inference; "
            "print(sorted(m for m in sys.modules if m.startswith('blvnet_edu.engine')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_clip_cache_decodes_and_predicts_once_per_video(three_models, clip_file, tmp_path, monkeypatch):
    import blvnet_edu.inference as inference

    decodes, forwards = [], []
    read_frames = inference.read_frames
    monkeypatch.setattr(inference, "read_frames", lambda *a, **k: decodes.append(a) or read_frames(*a, **k))
    hooks = [p.model.register_forward_hook(lambda *_: forwards.append(1)) for p in three_models.values()]
    try:
        cache = inference.ClipCache()
        clips = load_clips(clip_file, three_models, cache)
        probs = {name: cache.predict(p, clips[name]) for name, p in three_models.items()}
        assert load_clips(clip_file, three_models, cache) == clips and len(decodes) == 1
        results = order_comparison(three_models, clips, "reversed", cache=cache)
        assert [r.original for r in results] == list(probs.values())
        assert len(forwards) == 3 + 3  # the clip as it is once per model, then reversed
        other = write_video(tmp_path / "other.mp4", index_frames(30, 60, 96), fps=10)
        load_clips(other, three_models, cache)  # another file: decoded, the old clips forgotten
        assert len(decodes) == 2 and cache.probs == {}
    finally:
        for hook in hooks:
            hook.remove()


def _authors_file(tmp_path, num_classes):
    """A tiny bLVNet-TAM saved in the authors' format (DataParallel names, `new_fc`)."""
    model = randomize_(build_model("blvnet_tam_tiny", num_classes=num_classes))
    state = {("module.new_fc." + k[3:] if k.startswith("fc.") else "module." + k): v
             for k, v in model.state_dict().items()}
    path = tmp_path / f"authors_{num_classes}.pth.tar"
    torch.save({"state_dict": state, "epoch": 30}, path)
    return path, model


def test_an_authors_checkpoint_is_recognised_and_labelled(tmp_path):
    path, model = _authors_file(tmp_path, 174)
    with pytest.raises(ValueError, match="'ssv1' \\(Something-Something V1\\) or 'ssv2'"):
        load_predictor(path)  # 174 classes: V1 or V2 cannot be told
    predictor = load_predictor(path, labels="ssv2", num_frames=8)
    assert predictor.classes[0] == "Approaching something with your camera" and len(predictor.classes) == 174
    assert predictor.model.config.name == "blvnet_tam_tiny" and (predictor.size, predictor.resize) == (224, 256)
    video = random_video(1, 8, 64)
    with torch.no_grad():
        torch.testing.assert_close(predictor.model(video), model.eval()(video), rtol=1e-4, atol=1e-4)
    kinetics, _ = _authors_file(tmp_path, 400)
    assert load_predictor(kinetics, num_frames=8).classes[0] == "abseiling"  # 400 classes: Kinetics-400
    with pytest.raises(ValueError, match="list 2 classes; the model has 174"):
        (tmp_path / "two.txt").write_text("a\nb\n")
        load_predictor(path, labels=tmp_path / "two.txt")


def test_the_frames_of_a_released_model_come_from_its_file_name():
    from blvnet_edu.loading import authors_frames

    assert authors_frames("st2stv1-bLVNet-TAM-101-a2-b4-f16x2.pth.tar") == 32
    assert authors_frames("pretrained/st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar") == 16
    assert authors_frames("my_model.pth") == 16


def test_the_clip_cache_keeps_what_later_steps_compute(three_models, clip_file):
    predictor = three_models["blvnet_tam_tiny"]
    cache = ClipCache()
    clip = load_clips(clip_file, {"m": predictor}, cache)["m"]
    cache.predict(predictor, clip)
    assert cache.seconds[predictor.uid] > 0
    calls = []
    assert cache.memo(predictor, clip, ("x", 1), lambda: calls.append(1) or "value") == "value"
    assert (cache.memo(predictor, clip, ("x", 1), lambda: calls.append(1) or "other") == "value"
            and calls == [1])
    assert (cache.recall(predictor, clip, ("x", 1)) == "value"
            and cache.recall(predictor, clip, ("y",)) is None)
    cache.remember(predictor, clip, ("y",), 3)
    assert cache.recall(predictor, clip, ("y",)) == 3
    timing = cache.timing(predictor, clip, batch=4)
    assert timing.single > 0 and timing.extra > 0 and cache.timing(predictor, clip, batch=4) is timing
    cache.use(None)  # frames in memory or another file: everything forgotten
    assert cache.memos == {} and cache.recall(predictor, clip, ("y",)) is None


def test_a_cache_never_keeps_a_model_alive_and_other_frame_counts_are_bounded(checkpoint, clip_file):
    import gc
    import weakref

    predictor = load_predictor(checkpoint)
    cache = ClipCache()
    clip = load_clips(clip_file, {"m": predictor}, cache)["m"]
    cache.predict(predictor, clip)
    cache.memo(predictor, clip, ("x",), lambda: 1)
    ref = weakref.ref(predictor)
    del predictor
    gc.collect()
    assert ref() is None  # the cache held no reference to it
    predictor = load_predictor(checkpoint)
    made = [predictor.with_frames(t) for t in (2, 4, 6, 10, 12)]
    assert len(predictor._by_frames) == Predictor.FRAME_COUNTS_KEPT and 2 not in predictor._by_frames
    assert predictor.with_frames(12) is made[-1] and len({p.uid for p in made}) == 5