"""blvnet_edu/data/something_something.py (+ frame folders in video_io.py): the official
SSv1/SSv2 layouts, generated tiny."""

import json

import av
import numpy as np
import pytest
import torch
from conftest import decode_index, index_frames
from PIL import Image

from blvnet_edu.cli import main
from blvnet_edu.data.datasets import VideoClipDataset
from blvnet_edu.data.lists import read_classes, read_list
from blvnet_edu.data.something_something import read_ssv1_annotations, ssv1_lists, ssv2_class, ssv2_lists
from blvnet_edu.data.video_io import FRAME_FOLDER_FPS, VideoDecodeError, probe_video, read_frames, read_video

# Official order, deliberately not alphabetical.
SSV1_CLASSES = ["Pushing something from left to right", "Holding something", "Dropping something"]
SSV2_LABELS = {
    "Pushing something from left to right": "2",
    "Holding something next to something": "0",
    "Dropping something": "1",
}


def write_frames(folder, frames, suffix=".jpg"):
    """`(T, 3, H, W)` uint8 frames as `00001.jpg, 00002.jpg, ...` (numbering from 1, as SSv1)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames, start=1):
        Image.fromarray(frame.permute(1, 2, 0).numpy()).save(folder / f"{i:05d}{suffix}", quality=95)


def write_webm(path, frames, fps=12):
    """`(T, 3, H, W)` uint8 frames as a webm (VP9 when PyAV's FFmpeg has it)."""
    codec = next(c for c in ("libvpx-vp9", "libvpx", "mpeg4") if c in av.codecs_available)
    container_format = "webm" if codec.startswith("libvpx") else "matroska"
    with av.open(str(path), mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[-1], frames.shape[-2], "yuv420p"
        for frame in np.ascontiguousarray(frames.permute(0, 2, 3, 1).numpy()):  # (T, H, W, 3)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture
def ssv1(tmp_path):
    """SSv1: labels in official order, `;` splits, frame folders; one missing, one empty, one broken."""
    root = tmp_path / "ssv1"
    root.mkdir()
    (root / "something-something-v1-labels.csv").write_text("\n".join(SSV1_CLASSES) + "\n")
    train = [
        "1;Pushing something from left to right",
        "2;Holding something",
        "3;Dropping something",
        "4;Holding something",
        "5;Dropping something",
        "6;Holding something",
        "7;Dancing",
        "no separator",
    ]
    (root / "something-something-v1-train.csv").write_text("\n".join(train) + "\n")
    (root / "something-something-v1-validation.csv").write_text("8;Dropping something\n9;Holding something\n")
    for video_id in ("1", "2", "3", "4", "8", "9"):
        write_frames(root / video_id, index_frames(10, 40, 60))
    (root / "5").mkdir()  # empty frame folder; 6 is missing
    (root / "4" / "00003.jpg").write_bytes(b"not a jpeg")  # 4: the check decodes 1 and 10 only
    (root / "4" / "00010.jpg").write_bytes(b"not a jpeg")
    return root


@pytest.fixture
def ssv2(tmp_path):
    root, videos = tmp_path / "labels", tmp_path / "videos"
    root.mkdir()
    videos.mkdir()
    (root / "something-something-v2-labels.json").write_text(json.dumps(SSV2_LABELS))

    def item(video_id, template):
        return {
            "id": video_id,
            "label": template.lower().replace("[", "").replace("]", ""),
            "template": template,
            "placeholders": ["a potato"],
        }

    train = [
        item("10", "Holding [something] next to [something]"),
        item("11", "Dropping [something]"),
        item("12", "Pushing [something] from left to right"),
        item("13", "Dropping [something]"),
        item("14", "Juggling [something]"),
        {"label": "no id"},
    ]
    val = [item("20", "Holding [something] next to [something]")]
    (root / "something-something-v2-train.json").write_text(json.dumps(train))
    (root / "something-something-v2-validation.json").write_text(json.dumps(val))
    for video_id in ("10", "11", "12", "20"):  # 13 is missing
        write_webm(videos / f"{video_id}.webm", index_frames(12, 48, 96))
    return root, videos


def test_frame_folders_read_like_videos(tmp_path):
    write_frames(tmp_path / "clip", index_frames(12, 48, 96), suffix=".png")
    (tmp_path / "clip" / "notes.txt").write_text("not a frame")
    info = probe_video(tmp_path / "clip")
    assert (info.num_frames, info.fps, info.width, info.height) == (12, FRAME_FOLDER_FPS, 96, 48)
    frames = read_frames(tmp_path / "clip", [11, 0, 5, 5, 30])  # past the end: the last frame
    assert frames.shape == (5, 3, 48, 96) and frames.dtype == torch.uint8
    assert decode_index(frames) == [11, 0, 5, 5, 11]
    assert decode_index(read_video(tmp_path / "clip", max_frames=3)) == [0, 1, 2]


def test_frame_folders_sort_by_number_not_by_name(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i, frame in enumerate(index_frames(11, 40, 60), start=1):  # 1.jpg ... 11.jpg: "10" < "2" by name
        Image.fromarray(frame.permute(1, 2, 0).numpy()).save(folder / f"{i}.jpg", quality=95)
    assert decode_index(read_frames(folder, list(range(11)))) == list(range(11))


def test_bad_frame_folders_raise_decode_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoDecodeError, match="empty: a folder without numbered frame images"):
        probe_video(tmp_path / "empty")
    write_frames(tmp_path / "broken", index_frames(3, 40, 60))
    (tmp_path / "broken" / "00002.jpg").write_bytes(b"oops")
    with pytest.raises(VideoDecodeError, match="00002.jpg: not a readable image"):
        read_frames(tmp_path / "broken", [0, 1])
    with pytest.raises(FileNotFoundError):
        probe_video(tmp_path / "nowhere")


def test_ssv1_keeps_the_official_order_and_reports_bad_videos(ssv1, tmp_path):
    classes, items, problems = read_ssv1_annotations(ssv1)
    assert classes == SSV1_CLASSES and len(items["train"]) == 6 and len(problems) == 2
    report = ssv1_lists(ssv1, tmp_path / "out")
    assert read_classes(tmp_path / "out" / "classes.txt") == SSV1_CLASSES
    assert report["official_labels"] and report["clips"] == {"train": 3, "val": 2}
    train = {
        e.path.rsplit("/", 1)[-1]: (e.label, e.num_frames) for e in read_list(tmp_path / "out" / "train.csv")
    }
    assert train == {"1": (0, 10), "2": (1, 10), "3": (2, 10)}  # CSV order, not alphabetical
    reasons = {s["clip"]: s["reason"] for s in report["skipped_clips"]}
    assert reasons.keys() == {"4", "5", "6"}
    assert reasons["6"] == "missing" and "numbered frame images" in reasons["5"]
    assert "00010.jpg: not a readable image" in reasons["4"]
    assert report["skipped_by_reason"] == {"missing": 1, "unreadable": 2}
    assert json.loads((tmp_path / "out" / "report.json").read_text())["bad_annotation_rows"] == problems


def test_ssv1_subsets_keep_official_order_and_reindex(ssv1, tmp_path):
    chosen = ["Dropping something", "Pushing something from left to right"]
    report = ssv1_lists(ssv1, tmp_path / "sub", class_list=chosen)
    assert read_classes(tmp_path / "sub" / "classes.txt") == [
        "Pushing something from left to right",
        "Dropping something",
    ]
    assert not report["official_labels"]
    assert sorted(e.label for e in read_list(tmp_path / "sub" / "train.csv")) == [0, 1]
    ssv1_lists(ssv1, tmp_path / "first", num_classes=2, per_class=1)
    assert read_classes(tmp_path / "first" / "classes.txt") == SSV1_CLASSES[:2]
    with pytest.raises(ValueError, match="not in the annotations"):
        ssv1_lists(ssv1, tmp_path / "x", class_list=["Dancing"])


def test_a_dataset_reads_frame_folder_lists(ssv1, tmp_path):
    ssv1_lists(ssv1, tmp_path / "out")
    dataset = VideoClipDataset(
        tmp_path / "out" / "train.csv", clip_frames=4, transform=lambda frames, generator: frames, train=False
    )
    frames, label = dataset[0]
    assert frames.shape == (1, 4, 3, 40, 60) and label == dataset.labels()[0]
    assert decode_index(frames[0]) == [1, 3, 6, 8]  # the centre of each of 4 segments of 10 frames


def test_ssv2_labels_come_from_the_json_ids(ssv2, tmp_path):
    assert ssv2_class("Holding [something] next to [something]") == "Holding something next to something"
    root, videos = ssv2
    report = ssv2_lists(root, tmp_path / "out", videos=videos)
    official = [
        "Holding something next to something",
        "Dropping something",
        "Pushing something from left to right",
    ]
    assert read_classes(tmp_path / "out" / "classes.txt") == official
    train = {e.path.rsplit("/", 1)[-1]: e.label for e in read_list(tmp_path / "out" / "train.csv")}
    assert train == {"10.webm": 0, "11.webm": 1, "12.webm": 2}
    assert [s["clip"] for s in report["skipped_clips"]] == ["13"]
    assert report["skipped_by_reason"] == {"missing": 1}
    assert len(report["bad_annotation_rows"]) == 2  # unknown class, no id
    entry = read_list(tmp_path / "out" / "val.csv")[0]
    assert decode_index(read_frames(entry.path, [0, entry.num_frames - 1])) == [0, entry.num_frames - 1]


def test_cli_commands(ssv1, ssv2, tmp_path, capsys):
    assert main(["ssv1-lists", "--root", str(ssv1), "--classes", "2", "--out", str(tmp_path / "v1")]) == 0
    assert "skipped 2 clips, 2 bad rows" in capsys.readouterr().out  # 4 and 6 are in the first 2 classes
    root, videos = ssv2
    (tmp_path / "pick.txt").write_text("Dropping something\n")
    assert (
        main(
            [
                "ssv2-lists",
                "--root",
                str(root),
                "--videos",
                str(videos),
                "--class-list",
                str(tmp_path / "pick.txt"),
                "--per-class",
                "1",
                "--out",
                str(tmp_path / "v2"),
            ]
        )
        == 0
    )
    assert read_classes(tmp_path / "v2" / "classes.txt") == ["Dropping something"]
    assert [e.label for e in read_list(tmp_path / "v2" / "train.csv")] == [0]
