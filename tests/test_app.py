"""app/app.py through its named API endpoints (gradio_client), on 127.0.0.1: good and bad input."""

import socket
from fractions import Fraction

import av
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from blvnet_edu.cli import load_app_module
from blvnet_edu.data.video_io import write_video

from conftest import index_frames

BLVNET, TSN = "bLVNet-TAM (demo)", "TSN (demo)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_module():
    return load_app_module()


@pytest.fixture(scope="module")
def client(app_module):
    port = free_port()
    demo = app_module.launch(host="127.0.0.1", port=port, block=False)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    demo.close()


@pytest.fixture(scope="module")
def example(app_module):
    return str(app_module.HERE / "examples" / "moving_left.mp4")


def test_predict_endpoint_and_the_side_by_side_model(client, example):
    top5, other, target = client.predict(handle_file(example), BLVNET, 8, None, api_name="/predict")
    assert top5["label"] == "moving left"
    assert len(top5["confidences"]) == 5 and top5["confidences"][0]["confidence"] > 0.5
    assert other["label"] != "moving left" or other["confidences"][0]["confidence"] < top5["confidences"][0]["confidence"]


@pytest.mark.parametrize("method", ["saliency", "gradcam"])
def test_explain_endpoint(client, example, method):
    gallery, importance, video = client.predict(handle_file(example), BLVNET, 8, method, "black", None,
                                                api_name="/explain")
    assert len(gallery) == 8 and all(item["caption"].startswith("frame ") for item in gallery)
    assert importance["type"] == "plotly"
    path = video["video"] if isinstance(video, dict) else video
    with av.open(path) as container:
        assert container.streams.video[0].codec_context.name == "h264"


def test_tam_weights_endpoint(client):
    summary, layer, card = client.predict(BLVNET, api_name="/tam_weights")
    assert summary["type"] == "plotly" and layer["type"] == "plotly"
    assert "blvnet_tam_tiny" in card and "GFLOPs" in card
    no_tam = client.predict(TSN, api_name="/tam_weights")
    assert "tsn_resnet_tiny" in no_tam[2]


def _bad_files(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(write_video(tmp_path / "ok.mp4", index_frames(20), fps=5).read_bytes()[:1500])
    one = write_video(tmp_path / "one_frame.mp4", index_frames(1), fps=5)
    empty = tmp_path / "no_frames.mp4"
    with av.open(str(empty), "w") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()  # a header and a video stream, but no frame
    sound = tmp_path / "sound.mp4"
    with av.open(str(sound), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, i * 1024, Fraction(1, 16000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return [(text, "cannot read this file as a video"), (corrupt, "cannot"), (one, "at least 2"),
            (empty, "at least 2|cannot"), (sound, "no video stream")]


def test_bad_inputs_give_clear_messages_and_the_server_keeps_serving(client, example, tmp_path):
    import re

    for path, message in _bad_files(tmp_path):
        with pytest.raises(AppError) as err:
            client.predict(handle_file(str(path)), BLVNET, 8, None, api_name="/predict")
        assert re.search(message, str(err.value)), (path.name, str(err.value))
        assert "/tmp/gradio" not in str(err.value)
    with pytest.raises(AppError, match="pairs"):
        client.predict(handle_file(example), BLVNET, 7, None, api_name="/predict")
    assert client.predict(handle_file(example), BLVNET, 8, None, api_name="/predict")[0]["label"] == "moving left"


def test_large_and_long_videos_are_read_within_bounds(client, tmp_path):
    big = write_video(tmp_path / "uhd.mp4", np.full((3, 3, 2160, 3840), 90, np.uint8), fps=5)
    assert client.predict(handle_file(str(big)), BLVNET, 8, None, api_name="/predict")[0]["label"]
    long = np.zeros((9000, 3, 32, 32), np.uint8)  # 6 minutes at 25 fps
    long[:, :, :, :16] = (np.arange(9000) % 200).reshape(-1, 1, 1, 1)
    path = write_video(tmp_path / "long.mp4", long, fps=25)
    assert client.predict(handle_file(str(path)), BLVNET, 8, None, api_name="/predict")[0]["label"]


def test_a_checkpoint_that_does_not_fit(client, app_module, example, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"class {i}\n" for i in range(8)))
    tsn_weights = str(app_module.DEMO / "tsn_resnet_tiny.pt")
    with pytest.raises(AppError, match="Could not load this checkpoint"):
        client.predict(handle_file(tsn_weights), handle_file(str(labels)), "blvnet_tam_tiny",
                       api_name="/load_checkpoint")
    model, status = client.predict(handle_file(tsn_weights), None, app_module.OURS, api_name="/load_checkpoint")
    assert "tsn_resnet_tiny" in status
    assert client.predict(handle_file(example), BLVNET, 8, None, api_name="/predict")[0]["label"] == "moving left"
