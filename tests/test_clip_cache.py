"""blvnet_edu/clip_cache.py: one video decoded and predicted once, what later steps compute kept, no
model kept alive."""

from conftest import index_frames

import blvnet_edu.clips
from blvnet_edu.clip_cache import ClipCache
from blvnet_edu.clips import load_clips
from blvnet_edu.data.video_io import write_video
from blvnet_edu.inference import load_predictor
from blvnet_edu.order_comparison import order_comparison


def test_a_clip_cache_decodes_and_predicts_once_per_video(three_models, clip_file, tmp_path, monkeypatch):
    decodes, forwards = [], []
    read_frames = blvnet_edu.clips.read_frames
    monkeypatch.setattr(
        blvnet_edu.clips, "read_frames", lambda *a, **k: decodes.append(a) or read_frames(*a, **k)
    )
    hooks = [p.model.register_forward_hook(lambda *_: forwards.append(1)) for p in three_models.values()]
    try:
        cache = ClipCache()
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


def test_the_clip_cache_keeps_what_later_steps_compute(three_models, clip_file):
    predictor = three_models["blvnet_tam_tiny"]
    cache = ClipCache()
    clip = load_clips(clip_file, {"m": predictor}, cache)["m"]
    cache.predict(predictor, clip)
    assert cache.seconds[predictor.uid, predictor.num_frames] > 0
    calls = []
    assert cache.memo(predictor, clip, ("x", 1), lambda: calls.append(1) or "value") == "value"
    assert cache.memo(predictor, clip, ("x", 1), lambda: calls.append(1) or "other") == "value" and calls == [
        1
    ]
    assert (
        cache.recall(predictor, clip, ("x", 1)) == "value" and cache.recall(predictor, clip, ("y",)) is None
    )
    cache.remember(predictor, clip, ("y",), 3)
    assert cache.recall(predictor, clip, ("y",)) == 3
    timing = cache.timing(predictor, clip, batch=4)
    assert timing.single > 0 and timing.extra > 0 and cache.timing(predictor, clip, batch=4) is timing
    cache.use(None)  # frames in memory or another file: everything forgotten
    assert cache.memos == {} and cache.recall(predictor, clip, ("y",)) is None


def test_a_cache_never_keeps_a_model_alive(checkpoint, clip_file):
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
