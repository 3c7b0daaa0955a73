"""blvnet_edu/clips.py: a clip file in, what the models see out; one decode per preprocessing, clear
errors for bad input."""

import pytest
from conftest import index_frames

from blvnet_edu.clips import ClipError, load_clip, load_clips
from blvnet_edu.data.video_io import write_video


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "empty"),
        (b"GIF89a not a video at all" * 20, "cannot read this video"),
    ],
)
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


def test_one_decode_per_preprocessing(three_models, clip_file):
    clips = load_clips(clip_file, three_models)
    assert clips["tsn_resnet_tiny"] is clips["blvnet_tiny"] is clips["blvnet_tam_tiny"]
    blvnet = three_models["blvnet_tiny"]
    eight_and_four = load_clips(clip_file, {"a": blvnet, "b": blvnet.at_frames(4)})
    assert len(eight_and_four["a"].indices) == 8 and len(eight_and_four["b"].indices) == 4
