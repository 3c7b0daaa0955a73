"""blvnet_edu/data/video_io.py: the right frames, fast seeking, browser-ready output, clear errors."""

from fractions import Fraction

import av
import numpy as np
import pytest
import torch
from conftest import decode_index, index_frames

from blvnet_edu.data.lists import check_clip
from blvnet_edu.data.video_io import (
    VideoDecodeError,
    probe_video,
    read_frames,
    read_video,
    resize_video,
    write_video,
)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("v") / "clip.mp4", index_frames(90), fps=30)


def test_probe(clip):
    info = probe_video(clip)
    assert (info.num_frames, info.fps, info.width, info.height) == (90, 30.0, 96, 48)
    assert info.duration == pytest.approx(3.0, abs=0.05)


def test_reads_exactly_the_frames_asked_for_in_any_order(clip):
    indices = [0, 5, 89, 44, 44, 1, 60, 88]
    frames = read_frames(clip, indices)
    assert frames.shape == (8, 3, 48, 96) and frames.dtype == torch.uint8
    assert decode_index(frames) == indices


def test_every_frame_and_past_the_end(clip):
    assert decode_index(read_video(clip)) == list(range(90))
    assert decode_index(read_video(clip, max_frames=7)) == list(range(7))
    assert decode_index(read_frames(clip, [200, 89])) == [89, 89]
    with pytest.raises(ValueError):
        read_frames(clip, [-1])


def test_seeking_in_a_long_video_gets_the_right_frames(tmp_path):
    path = tmp_path / "long.mp4"
    write_video(path, index_frames(1500, 32, 96), fps=25)
    indices = list(range(3, 1500, 93))
    assert decode_index(read_frames(path, indices)) == indices
    assert decode_index(read_frames(path, indices, seek_threshold=1e9)) == indices  # no seeking


def _encode(path, frames, codec, rate, pix_fmt="yuv420p", times=None):
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames.shape[-1], frames.shape[-2], pix_fmt
        if times is not None:  # millisecond timestamps: frames at irregular times
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for i, image in enumerate(frames.permute(0, 2, 3, 1).numpy()):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if times is not None:
                frame.pts, frame.time_base = int(times[i] * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


@pytest.mark.parametrize(
    "name,codec", [("clip.avi", "mpeg4"), ("clip.webm", "libvpx-vp9"), ("clip.mkv", "libx264")]
)
def test_other_containers_and_codecs(tmp_path, name, codec):
    path = tmp_path / name
    _encode(path, index_frames(20), codec, 10)
    assert decode_index(read_frames(path, [0, 7, 19, 3])) == [0, 7, 19, 3]


def test_variable_frame_rate_gives_the_frame_on_screen(tmp_path):
    times = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.0, 1.2]
    path = tmp_path / "vfr.mp4"
    _encode(path, index_frames(len(times)), "libx264", 10, times=times)
    info = probe_video(path)
    decoded = read_video(path)
    assert decode_index(decoded) == list(range(len(times)))
    indices = list(range(int(1.2 * info.fps) + 1))
    got = decode_index(read_frames(path, indices))
    on_screen = [max(j for j, t in enumerate(times) if t <= i / info.fps + 0.5 / info.fps) for i in indices]
    assert got == on_screen


def test_write_pads_odd_sizes_and_is_h264_mp4(tmp_path):
    path = write_video(tmp_path / "odd.mp4", index_frames(5, 33, 97), fps=12)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.format.name == "yuv420p"
        assert (stream.width, stream.height) == (98, 34)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_write_rejects_wrong_frames(tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "x.mp4", torch.zeros(3, 3, 8, 8), fps=5)
    with pytest.raises(ValueError, match=r"\(T, 3, H, W\)"):
        write_video(tmp_path / "x.mp4", torch.zeros(3, 8, 8, 3, dtype=torch.uint8), fps=5)


def test_resize_video(tmp_path, clip):
    small = resize_video(clip, tmp_path / "small.mp4", short_side=24)
    info = probe_video(small)
    assert (info.width, info.height, info.num_frames) == (48, 24, 90)
    assert decode_index(read_frames(small, [10, 50])) == [10, 50]


def test_missing_empty_and_non_video_files_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_frames(tmp_path / "nope.mp4", [0])
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(VideoDecodeError, match="empty.mp4.*empty"):
        probe_video(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with pytest.raises(VideoDecodeError, match="notes.mp4"):
        read_frames(text, [0])


def test_truncated_video(tmp_path, clip):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[:2000])
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        read_frames(broken, [0, 80])


def test_a_cut_off_download_is_an_error_not_repeated_frames(tmp_path):
    whole = write_video(tmp_path / "whole.mp4", index_frames(90), fps=30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.8)])  # the header still says 90
    assert probe_video(cut).num_frames == 90
    assert decode_index(read_frames(cut, [0, 5])) == [0, 5]  # what is there still decodes
    with pytest.raises(VideoDecodeError, match="cut.mp4: the video stops at frame .* looks truncated"):
        read_frames(cut, [0, 89])
    with pytest.raises(VideoDecodeError, match="truncated"):
        check_clip(cut)
    assert check_clip(whole) == 90


def test_audio_only_file(tmp_path):
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            samples = np.zeros((1, 1024), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with pytest.raises(VideoDecodeError, match="sound.mp4: the file has no video stream"):
        read_frames(path, [0])


def test_text_and_other_non_video_files_are_refused(tmp_path):
    """FFmpeg's tty demuxer would turn a text file into a 'video' of rendered characters."""
    from blvnet_edu.data.video_io import VideoDecodeError

    text = tmp_path / "notes.txt"
    text.write_text(("The quick brown fox jumps over the lazy dog. " * 40 + "\n") * 200)
    with pytest.raises(VideoDecodeError, match="not a video file .*Tele-typewriter"):
        probe_video(text)
    from blvnet_edu.clips import ClipError, load_clip

    with pytest.raises(ClipError, match="not a video file"):
        load_clip(text, 8, 48, 56)
