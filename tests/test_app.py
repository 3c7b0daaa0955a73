"""app/app.py (`blvnet_edu_app.app`) through its named API endpoints (gradio_client), on 127.0.0.1;
importing it does nothing, and the page binds its server's state to every handler."""

import functools
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import av
import numpy as np
import pytest
from blvnet_edu_app import app, handlers
from conftest import free_port
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from blvnet_edu.data.video_io import write_video

pytestmark = pytest.mark.slow  # live app servers

TSN, BLVNET, BLVNET_TAM = "TSN (demo)", "bLVNet without TAM (demo)", "bLVNet-TAM (demo)"
SLOTS = [TSN, BLVNET, BLVNET_TAM, "your checkpoint"]  # the side-by-side top-5 panels, in the app's order


@pytest.fixture(scope="module")
def app_module():
    return app


@pytest.fixture(scope="module")
def client(app_module):
    port = free_port()
    demo = app_module.launch(host="127.0.0.1", port=port, block=False)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


@pytest.fixture(scope="module")
def example(app_module):
    return str(app_module.HERE / "examples" / "moving_left.mp4")


def top5(client, video, frames=0) -> dict:
    """`/predict`'s top-5 panels by model (an empty dict for a model that is not there); frames 0:
    each model's own."""
    out = client.predict(handle_file(video), BLVNET_TAM, frames, None, api_name="/predict")
    return dict(zip(SLOTS, out[:4]))


def unwrap(output):
    """The value of an output the app sent as `gr.update(...)`."""
    return (
        output.get("value") if isinstance(output, dict) and {"visible", "__type__"} & set(output) else output
    )


def present(app_module) -> list[str]:
    return [name for name, file in app_module.DEMO_FILES.items() if (app_module.DEMO / file).exists()]


def test_predict_endpoint_shows_every_demo_model_on_the_same_clip(client, app_module, example):
    panels = top5(client, example)
    assert (
        panels[BLVNET_TAM]["label"] == "moving left"
        and panels[BLVNET_TAM]["confidences"][0]["confidence"] > 0.5
    )
    for name in SLOTS:
        if name in present(app_module):
            assert len(panels[name]["confidences"]) == 5, name
        else:
            assert not panels[name] or panels[name].get("label") is None, name  # no file, no panel


def _rows(table: str) -> dict[str, list[str]]:
    lines = [line for line in table.splitlines() if line.startswith("| ")][1:]  # the table, less its header
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    # model -> top-1 before, after, changed?, shift, can change?
    return {f"{row[0]} (demo)": row[2:] for row in cells}


def order(client, video, test, frames=0, seed=0, typed=""):
    """`/order_test`'s table (the reordered clip's thumbnails are checked in test_app_handlers)."""
    return client.predict(handle_file(video), BLVNET_TAM, frames, test, seed, typed, api_name="/order_test")[
        0
    ]


def test_order_test_endpoint(client, app_module, example):
    assert "choose **reversed**" in order(client, example, "as it is")
    shuffled = order(client, example, "pairs shuffled")
    rows = _rows(shuffled)
    assert (
        list(rows) == present(app_module)
        and "top-1, pairs shuffled" in shuffled
        and "Expected: TSN" in shuffled
    )
    assert rows[TSN][2:] == ["no", "0.000", "never"]  # a bag of frames
    if BLVNET in rows:
        assert rows[BLVNET][2:] == ["no", "0.000", "never"]  # a bag of pairs: the same pairs
    assert rows[BLVNET_TAM][4] == "yes"
    assert rows[BLVNET_TAM][0].startswith(top5(client, example)[BLVNET_TAM]["label"])
    assert shuffled == order(client, example, "pairs shuffled")  # seeded
    reversed_ = _rows(order(client, example, "reversed"))
    assert reversed_[TSN][2:] == ["no", "0.000", "never"] and reversed_[BLVNET_TAM][4] == "yes"
    if BLVNET in reversed_:
        assert reversed_[BLVNET][4] == "yes"
    swapped = _rows(order(client, str(app_module.HERE / "examples" / "turning_on.mp4"), "halves swapped"))
    assert swapped[BLVNET_TAM][:3] == ["turning on (100%)", "turning off (100%)", "**yes**"]
    with pytest.raises(AppError, match="even number of frames >= 4"):
        order(client, example, "pairs shuffled", frames=2)


@pytest.mark.parametrize("method", ["saliency", "gradcam"])
def test_explain_endpoint(client, example, method):
    gallery, scale, per_frame, video, note = client.predict(
        handle_file(example), BLVNET_TAM, 0, method, "black", None, "positive", 0.7, api_name="/explain"
    )
    gallery, video = unwrap(gallery), unwrap(video)
    assert len(gallery) == 8 and all(item["caption"].startswith("frame ") for item in gallery)
    assert scale["type"] == per_frame["type"] == "plotly" and "'moving left'" in per_frame["plot"]
    assert "'moving left'" in note and "8 frames at 48x48 px" in note
    path = video["video"] if isinstance(video, dict) else video
    with av.open(path) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    removal = client.predict(handle_file(example), BLVNET_TAM, 0, None, "neighbour", api_name="/frame_test")
    assert "previous frame" in removal["plot"]
    field, sentence = client.predict(handle_file(example), BLVNET_TAM, 0, "layer1.tam", api_name="/tam_view")
    assert unwrap(field)["type"] == "plotly" and "layer1.tam" in sentence


def test_tam_weights_endpoint_every_layer(client, app_module):
    layer, summary, plot, note, card = client.predict(BLVNET_TAM, api_name="/tam_weights")
    tams = list(app_module.load_models()[BLVNET_TAM].model.tams())
    assert [choice[0] for choice in layer["choices"]] == tams and unwrap(layer) == tams[-1]
    assert unwrap(summary)["type"] == "plotly" and tams[-1] in unwrap(plot)["plot"]
    assert f"{len(tams)} TAMs" in note and "blvnet_tam_tiny" in card and "GFLOPs" in card
    for name in tams:
        assert f"Channels of {name}" in client.predict(BLVNET_TAM, name, api_name="/tam_layer")["plot"]
    with pytest.raises(AppError, match="no TAM named"):
        client.predict(BLVNET_TAM, "layer9.tam", api_name="/tam_layer")
    for name in present(app_module):
        if name != BLVNET_TAM:  # no TAM: a sentence instead of empty plots
            layer, summary, plot, note, card = client.predict(name, api_name="/tam_weights")
            assert "has no TAM" in note and summary["visible"] is False and plot["visible"] is False
            assert layer["choices"] == [] and "GFLOPs" in card


def test_large_and_long_videos_are_read_within_bounds(client, tmp_path):
    big = write_video(tmp_path / "uhd.mp4", np.full((3, 3, 2160, 3840), 90, np.uint8), fps=5)
    assert top5(client, str(big))[BLVNET_TAM]["label"]
    long = np.zeros((9000, 3, 32, 32), np.uint8)  # 6 minutes at 25 fps
    long[:, :, :, :16] = (np.arange(9000) % 200).reshape(-1, 1, 1, 1)
    path = write_video(tmp_path / "long.mp4", long, fps=25)
    assert top5(client, str(path))[BLVNET_TAM]["label"]


def test_a_checkpoint_that_does_not_fit_and_one_that_does(client, app_module, example, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(8)))
    tsn_weights = str(app_module.DEMO / "tsn_resnet_tiny.pt")
    with pytest.raises(AppError, match="Could not load this checkpoint"):
        client.predict(
            handle_file(tsn_weights),
            handle_file(str(labels)),
            "blvnet_tam_tiny",
            app_module.LABEL_AUTO,
            api_name="/load_checkpoint",
        )
    model, status, panel, frames = client.predict(
        handle_file(tsn_weights), None, app_module.OURS, app_module.LABEL_AUTO, api_name="/load_checkpoint"
    )
    assert "tsn_resnet_tiny" in status and unwrap(model) == "your checkpoint" and panel["visible"] is True
    assert frames["choices"][0][0] == "each model's own (your checkpoint: 8)"
    panels = top5(client, example)  # this visitor's checkpoint joins the side-by-side panels
    assert panels[BLVNET_TAM]["label"] == "moving left"
    assert panels["your checkpoint"]["label"] == panels[TSN]["label"]  # the same weights as the demo TSN
    other_visitor = Client(client.src, verbose=False)
    assert not top5(other_visitor, example)["your checkpoint"]  # a checkpoint is its visitor's alone


def test_uploads_larger_than_the_limit_are_refused(app_module, tmp_path):
    """`blvnet-edu app --max-upload-mb N`: Gradio refuses a larger file before the handler runs."""
    port = free_port()
    demo = app_module.launch(host="127.0.0.1", port=port, block=False, max_upload_mb=1)
    try:
        assert demo.max_file_size == 1024 * 1024
        big = tmp_path / "big.mp4"
        big.write_bytes(b"\0" * (2 * 1024 * 1024))
        small_client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        with pytest.raises(Exception, match="(?i)size|large|exceed"):
            small_client.predict(handle_file(str(big)), "bLVNet-TAM (demo)", 0, None, api_name="/predict")
    finally:
        demo.close()


def test_importing_the_app_does_nothing(tmp_path):
    """No file or folder made (in TMPDIR or the working folder), no environment variable set, no
    model loaded: `launch` does all of that."""
    temp, cwd = tmp_path / "tmp", tmp_path / "cwd"
    temp.mkdir()
    cwd.mkdir()
    # torch's own doing, set beforehand outside TMPDIR: torchvision (which blvnet_edu.explain imports)
    # imports torch._dynamo, which sets TORCHINDUCTOR_CACHE_DIR and makes that folder (in TMPDIR by default).
    env = {**os.environ, "TMPDIR": str(temp), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "torchinductor")}
    code = textwrap.dedent("""
        import gc, os
        before = dict(os.environ)
        import blvnet_edu_app.app, blvnet_edu_app.handlers
        from blvnet_edu.models.blvnet import VideoNet
        print(sorted(k for k in {*before, *os.environ} if before.get(k) != os.environ.get(k)),
              sum(isinstance(o, VideoNet) for o in gc.get_objects()))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[] 0"  # no variable changed, no network built
    assert list(temp.iterdir()) == [] and list(cwd.iterdir()) == []


def test_the_page_binds_its_server_state_to_every_handler(tmp_path, monkeypatch):
    """What `launch` makes of `--max-checkpoints` and `--max-cache-mb` reaches the handlers as an
    explicit `handlers.Server`; the module's defaults are left as they are."""
    monkeypatch.setenv("GRADIO_EXAMPLES_CACHE", str(tmp_path))
    server = handlers.Server(handlers.OwnCheckpoints(capacity=2), max_cache_mb=123)
    demo = app.build_ui(handlers.load_models(), cache_examples=False, server=server)
    bound = [block.fn for block in demo.fns.values() if isinstance(block.fn, functools.partial)]
    every = {
        "predict",
        "order_test",
        "explain",
        "frame_test",
        "tam_view",
        "tam_weights",
        "tam_layer",
        "model_changed",
        "load_custom",
    }
    assert {fn.func.__name__ for fn in bound} >= every
    assert all(fn.keywords["server"] is server for fn in bound)
    defaults = handlers.SERVER.own.capacity, handlers.SERVER.max_cache_mb, handlers.MAX_CACHE_MB
    assert defaults == (4, 2000, 2000)


def test_an_upload_named_with_quotes_is_named_as_the_user_gave_it(client, tmp_path):
    """Gradio keeps `my "clip".mp4` as `my %22clip%22.mp4`; the message names it as given."""
    bad = tmp_path / 'my "clip".mp4'
    bad.write_text("not a video\n" * 50)
    with pytest.raises(AppError, match="cannot read this video") as err:
        top5(client, str(bad))
    assert 'my "clip".mp4: not a readable video' in str(err.value) and "%2" not in str(err.value)


def saliency(port: int, example: str):
    """One saliency explanation of `example` by bLVNet-TAM through the server's `/explain`."""
    return Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
        handle_file(example), BLVNET_TAM, 0, "saliency", "black", None, "positive", 0.7, api_name="/explain"
    )


def test_a_server_removes_its_folders_at_close_and_those_of_earlier_servers_at_start(
    app_module, example, tmp_path, monkeypatch
):
    """At start: the overlay folders and Gradio cache parts of earlier servers that are gone are
    deleted, nothing else (other apps' files in Gradio's cache, the cached examples, a running
    server's folders). At `close()`: this server's own (its overlay videos, its uploads and
    outputs in Gradio's cache)."""
    temp, gradio = tmp_path / "tmp", tmp_path / "gradio"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(gradio))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid is no longer running
    earlier = [temp / f"blvnet-overlays-{gone.pid}-abcd", gradio / f"blvnet-edu-{gone.pid}-abcd"]
    running = os.getppid()
    others = [
        gradio / "0123abcd",
        temp / "blvnet-edu-examples" / "0123abcd",
        gradio / f"blvnet-edu-{running}-abcd",
        temp / f"blvnet-overlays-{running}-abcd",
    ]
    for folder in earlier + others:
        folder.mkdir(parents=True)
        (folder / "file.mp4").write_bytes(b"x")
    port = free_port()
    demo = app_module.launch(host="127.0.0.1", port=port, block=False, cache_examples=False)
    try:
        assert not any(folder.exists() for folder in earlier)
        assert all((folder / "file.mp4").exists() for folder in others)
        explained = saliency(port, example)
        assert "Saliency" in explained[4]
        ours = [*temp.glob(f"blvnet-overlays-{os.getpid()}-*"), *gradio.glob(f"blvnet-edu-{os.getpid()}-*")]
        assert len(ours) == 2 and all(any(folder.rglob("*.mp4")) for folder in ours)
        assert any(ours[1].rglob("moving_left.mp4"))  # the upload, in this server's part of the cache
    finally:
        demo.close()
    assert not any(folder.exists() for folder in ours)
    assert all((folder / "file.mp4").exists() for folder in others)


SERVE = """
import sys
from blvnet_edu_app import app
app.launch(host="127.0.0.1", port=int(sys.argv[1]), cache_examples=False)  # blocks, as `blvnet-edu app`
"""


def test_a_server_stopped_with_sigterm_removes_its_folders(example, tmp_path):
    """`blvnet-edu app` stopped by `kill PID` (SIGTERM, as a service manager does): the exit
    handlers run and remove its overlay videos and its part of Gradio's cache."""
    temp, gradio = tmp_path / "tmp", tmp_path / "gradio"
    temp.mkdir()
    port = free_port()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_TEMP_DIR": str(gradio)}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(600):
            if not app.port_free("127.0.0.1", port) or server.poll() is not None:
                break
            time.sleep(0.1)
        saliency(port, example)
        made = [*temp.glob(f"blvnet-overlays-{server.pid}-*"), *gradio.glob(f"blvnet-edu-{server.pid}-*")]
        assert len(made) == 2 and all(any(folder.rglob("*.mp4")) for folder in made)
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, server.stderr.read()
    finally:
        server.kill()
        server.wait()
    assert not any(folder.exists() for folder in made)
