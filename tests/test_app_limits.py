"""The app under bad and over-budget input: every kind gets a message, and another visitor's
normal request, sent at the same moment, is served as fast as when alone (127.0.0.1 only).

The server runs with limits scaled to the demo models (48-pixel frames, 0.04 GFLOP a clip),
so that each over-budget case is cheap to build; `budget.Limits` is the same code at the
defaults (tests/test_budget.py)."""

import concurrent.futures
import dataclasses
import re
import statistics
import time
from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from blvnet_edu_app import app, handlers
from conftest import free_port, h264_clip, index_frames, ramp_frames
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from blvnet_edu.budget import Limits
from blvnet_edu.data.video_io import write_video
from blvnet_edu.saved_run import SavedRun

pytestmark = pytest.mark.slow  # a live app server under hostile inputs

TAM = app.BLVNET_TAM
LIMITS = Limits(
    max_frame_pixels=1280 * 720, max_decode_frames=5000, max_explain_gflop=20, max_classes=1000, timeout_s=30
)


@pytest.fixture(scope="module")
def server():
    port = free_port()
    demo = app.launch(host="127.0.0.1", port=port, block=False, limits=LIMITS)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="module")
def example():
    return str(app.HERE / "examples" / "moving_left.mp4")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file per kind of bad upload."""
    d = tmp_path_factory.mktemp("bad")
    (d / "notes.mp4").write_text("not a video\n" * 50)
    (d / "empty.mp4").write_bytes(b"")
    ok = write_video(d / "ok.mp4", index_frames(20), fps=5)
    (d / "truncated.mp4").write_bytes(ok.read_bytes()[:1500])
    write_video(d / "one_frame.mp4", index_frames(1), fps=5)
    with av.open(str(d / "no_frames.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # a header and a video stream, but no frame
    with av.open(str(d / "sound.mp4"), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, i * 1024, Fraction(1, 16000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    from PIL import Image

    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(d / "picture.png")
    (d / "picture.mp4").write_bytes((d / "picture.png").read_bytes())
    write_video(d / "full_hd.mp4", np.full((2, 3, 1080, 1920), 90, np.uint8), fps=5)
    h264_clip(d / "one_key_frame.mp4", ramp_frames(3000), keyint=100000)  # 2 minutes behind one key frame
    run = SavedRun.load(app.DEMO / "blvnet_tam_tiny.pt")
    names = [f"class {i}" for i in range(300_000)]  # the tiny weights: the file stays small
    dataclasses.replace(run, config=dataclasses.replace(run.config, num_classes=300_000), classes=names).save(
        d / "classes.pt"
    )
    (d / "labels.txt").write_text("".join(f"class {i}\n" for i in range(300_000)))
    torch.save(
        {"state_dict": {"x": torch.zeros(1)}, "hook": Fraction(1, 3)}, d / "pickled.pt"
    )  # a class: refused
    return d


def predict(video, frames=8, model=TAM):
    return lambda c: c.predict(
        handle_file(str(video)) if video else None, model, frames, None, api_name="/predict"
    )


def explain(video, method="saliency", frames=8, target=None):
    return lambda c: c.predict(
        handle_file(str(video)),
        TAM,
        frames,
        method,
        "black",
        target,
        "absolute_value",
        0.8,
        api_name="/explain",
    )


def load(checkpoint, labels=None):
    return lambda c: c.predict(
        handle_file(str(checkpoint)),
        handle_file(str(labels)) if labels else None,
        app.OURS,
        app.LABEL_AUTO,
        api_name="/load_checkpoint",
    )


BAD = {  # kind -> (request, what the message must say)
    "text file named .mp4": (lambda f: predict(f / "notes.mp4"), "not a (readable )?video"),
    "empty file": (lambda f: predict(f / "empty.mp4"), "the file is empty"),
    "truncated mp4": (lambda f: predict(f / "truncated.mp4"), "cannot"),
    "one frame": (lambda f: predict(f / "one_frame.mp4"), "at least 2"),
    "a header without frames": (lambda f: predict(f / "no_frames.mp4"), "at least 2|cannot"),
    "audio only": (lambda f: predict(f / "sound.mp4"), "no video stream"),
    "a picture named .mp4": (lambda f: predict(f / "picture.mp4"), "not a (readable )?video"),
    "frames over the size limit": (
        lambda f: predict(f / "full_hd.mp4"),
        r"1920x1080 .* the largest accepted is 0.9",
    ),
    "one key frame for 2 minutes": (lambda f: predict(f / "one_key_frame.mp4"), "key frames are far apart"),
    "no clip": (lambda f: predict(None), "Upload a clip"),
    "odd frames for bLVNet": (
        lambda f: predict(app.EXAMPLES[0], frames=7),
        "even number of frames|7 is not in the list of choices",
    ),
    "unknown model": (
        lambda f: predict(app.EXAMPLES[0], model="resnet9000"),
        "unknown model|resnet9000 is not in the list of choices",
    ),
    "unknown class to explain": (
        lambda f: explain(app.EXAMPLES[0], target="flying"),
        "unknown class|flying is not in the list of choices",
    ),
    "unknown attribution method": (
        lambda f: explain(app.EXAMPLES[0], method="magic"),
        "choose a method|magic is not in the list of choices",
    ),
    "occlusion over the work limit": (
        lambda f: explain(app.EXAMPLES[0], "occlusion", frames=32),
        "occlusion at 32 frames would take about .* choose Saliency",
    ),
    "checkpoint that is text": (lambda f: load(f / "notes.mp4"), "Could not load this checkpoint"),
    "checkpoint declaring 300,000 classes": (
        lambda f: load(f / "classes.pt"),
        r"its structure .* MB, more than",
    ),
    "label file of 300,000 lines": (
        lambda f: load(app.DEMO / "blvnet_tam_tiny.pt", f / "labels.txt"),
        "list 300000 classes",
    ),
    "checkpoint with pickled objects": (lambda f: load(f / "pickled.pt"), "Could not load this checkpoint"),
}


def timed(call, client):
    start = time.perf_counter()
    try:
        return call(client), None, time.perf_counter() - start
    except AppError as err:
        return None, err, time.perf_counter() - start


@pytest.fixture(scope="module")
def alone(server, example):
    """A normal visitor's /predict, alone: the median of 5 after a warm-up (seconds)."""
    client = Client(server, verbose=False)
    predict(example)(client)
    return statistics.median(timed(predict(example), client)[2] for _ in range(5))


def test_every_bad_input_gets_a_message_while_another_visitor_is_served(server, files, example, alone):
    assert len(BAD) >= 15
    bad_client, normal_client = Client(server, verbose=False), Client(server, verbose=False)
    slow = []
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for kind, (request, message) in BAD.items():
            bad = pool.submit(timed, request(files), bad_client)
            normal = pool.submit(timed, predict(example), normal_client)
            (_, err, _), (panels, normal_err, seconds) = bad.result(), normal.result()
            assert err is not None and re.search(message, str(err)), (kind, err)
            assert "Traceback" not in str(err) and "/tmp/gradio" not in str(err), (kind, err)
            assert normal_err is None and panels[2]["label"] == "moving left", kind
            if seconds > 3 * alone + 1.0:  # served in normal time: not queued behind the bad request
                slow.append((kind, round(seconds, 2)))
    assert not slow, f"alone {alone:.2f} s; slower beside: {slow}"


def test_occlusion_within_the_limit_is_scaled_down_and_says_so(server):
    client = Client(server, verbose=False)
    gallery, scale, per_frame, video, note = explain(app.EXAMPLES[0], "occlusion", frames=16)(client)
    gallery = gallery["value"] if isinstance(gallery, dict) and "value" in gallery else gallery
    assert len(gallery) == 16 and "patches instead of 6" in note


def test_a_checkpoint_within_the_limits_still_loads(server):
    client = Client(server, verbose=False)
    model, status, panel, frames = load(app.DEMO / "tsn_resnet_tiny.pt")(client)
    assert "tsn_resnet_tiny" in status


def test_the_cache_is_kept_under_its_bound(tmp_path):
    for i in range(10):
        (tmp_path / f"upload{i}").mkdir()
        (tmp_path / f"upload{i}" / "clip.mp4").write_bytes(b"\0" * 300_000)
        time.sleep(0.01)  # distinct modification times: oldest first
    newest = tmp_path / "upload9" / "clip.mp4"
    deleted = handlers.prune_cache(keep=str(tmp_path / "upload0" / "clip.mp4"), folder=tmp_path, max_mb=1.0)
    left = sorted(p.parent.name for p in tmp_path.rglob("*.mp4"))
    assert deleted == 7 * 300_000 and left == ["upload0", "upload8", "upload9"] and newest.exists()
    assert sum(p.stat().st_size for p in tmp_path.rglob("*.mp4")) <= 1024 * 1024


def test_a_light_request_is_served_while_heavy_explanations_run(example):
    """Two visitors ask for occlusion at 64 frames (heavy: expected to take over `HEAVY_S` here);
    a third one's saliency and prediction, sent while they run, answer before the heavy ones
    have both ended (they never wait behind them; the times are printed, the benchmark
    app_limits.py measures them); both heavy ones answer, the second after its turn came, and
    its note says it waited. Default limits (the server of this module refuses such work)."""
    port = free_port()
    demo = app.launch(host="127.0.0.1", port=port, block=False, cache_examples=False)
    try:
        url = f"http://127.0.0.1:{port}/"
        heavy_clients, light = [Client(url, verbose=False) for _ in range(2)], Client(url, verbose=False)
        predict(example)(light)  # the light visitor's first call: models warm
        light_alone = timed(explain(example, "saliency"), light)[2]
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            heavy = [pool.submit(timed, explain(example, "occlusion", frames=64), c) for c in heavy_clients]
            time.sleep(3.0)  # planned (decoding, the measured forward pass): one runs, one is queued
            assert not any(h.done() for h in heavy)
            beside = [timed(explain(example, "saliency"), light), timed(predict(example), light)]
            served = [h.done() for h in heavy]
            answers = [h.result() for h in heavy]
    finally:
        demo.close()
    assert all(err is None for _, err, _ in beside), beside
    seconds = [round(s, 2) for _, _, s in beside]
    print(f"saliency alone {light_alone:.2f} s; beside two heavy: saliency, predict {seconds} s")
    assert not all(served), (light_alone, seconds)  # the light requests did not wait for both heavy ones
    assert all(err is None for _, err, _ in answers), answers
    notes = [out[4] for out, _, _ in answers]
    assert sum("*Queued:* it waited" in note for note in notes) == 1, notes
    assert all("24-pixel patches" in note for note in notes)
