"""Reading and writing video files with PyAV (FFmpeg), and reading folders of frame images.

- `probe_video(path)`: frame count, frame rate, duration and size, from the container.
- `read_frames(path, indices)`: only the frames asked for, as a `(T, 3, H, W)` uint8 tensor
  (RGB, the layout torchvision's video transforms and our models use). It seeks to the key
  frame before each distant target instead of decoding the whole file, so taking 16 frames
  of a 10-minute video costs a few GOPs, not 15,000 frames. Rotation metadata (a phone's
  display matrix) is applied, as players do. `max_short_side` shrinks large frames while they
  are converted to RGB, so a 4K clip never holds 4K RGB frames in memory.
- `decode_work(path, indices)`: how many frames `read_frames` will decode for those indices,
  from the key frames alone (nothing decoded): what `budget.check_video` limits.
- `write_video(path, frames, fps)`: H.264 in mp4 (yuv420p, `+faststart`), the one format
  every browser plays; written to a temporary file and renamed, so a crash never leaves half
  a video.
- `resize_video(src, dst, short_side)`: re-encode with a smaller short side (dataset prep).

Frame `i` is the frame on screen at time `start + i / fps` (the stream's average rate). For
constant-frame-rate files that is exactly the i-th frame; for variable frame rates it is
the frame shown at that moment, which is what a sampler spreading frames over time wants.

A *frame folder* is accepted wherever a video file is: a directory of numbered images
(`00001.jpg`, `00002.jpg`, ... or `.png`, the layout of Something-Something V1), frame `i`
being the `i`-th image in numeric order, decoded with Pillow. Folders carry no frame rate:
`probe_video` reports `FRAME_FOLDER_FPS` (12, the rate of the released SSv1 frames).

Any problem with a file (missing, empty, not a video, no video stream, undecodable) raises an
error that names the file: `FileNotFoundError` or `VideoDecodeError`; so does a frame folder
without numbered images or with an unreadable one.

PyAV is imported by the functions that open a video file, not with this module: importing
`blvnet_edu` (which reaches this module through `clips`) and building a model need no decoder.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

if TYPE_CHECKING:  # for the annotations; the functions that open a file import PyAV themselves
    import av

__all__ = [
    "FRAME_EXTENSIONS",
    "FRAME_FOLDER_FPS",
    "VideoDecodeError",
    "VideoInfo",
    "frame_files",
    "probe_video",
    "read_frames",
    "decode_work",
    "read_video",
    "write_video",
    "resize_video",
]

PathLike = str | os.PathLike

FRAME_EXTENSIONS = (".jpg", ".jpeg", ".png")
FRAME_FOLDER_FPS = 12.0  # frame folders have no rate; the released SSv1 frames are 12 fps


class VideoDecodeError(ValueError):
    """A file that is not a readable video; the message names the file."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    num_frames: int  # from the container, or estimated as duration x fps
    fps: float
    duration: float  # seconds
    width: int
    height: int


# FFmpeg demuxers of real video containers (`container.format.name` lists a demuxer's names).
VIDEO_CONTAINERS = frozenset(
    {
        "mov",
        "mp4",
        "m4a",
        "3gp",
        "3g2",
        "mj2",
        "matroska",
        "webm",
        "avi",
        "mpeg",
        "mpegts",
        "mpegvideo",
        "flv",
        "ogg",
        "asf",
        "gif",
        "mxf",
        "h264",
        "hevc",
        "m4v",
        "nut",
        "dv",
    }
)


def _open(path: PathLike) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    if path.stat().st_size == 0:
        raise VideoDecodeError(f"{path}: the file is empty")
    import av

    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as err:
        raise VideoDecodeError(f"{path}: not a readable video ({err})") from err
    formats = set(container.format.name.split(","))
    if not formats & VIDEO_CONTAINERS:  # FFmpeg also "decodes" text (tty), images, subtitles, ...
        name = container.format.long_name or container.format.name
        container.close()
        raise VideoDecodeError(
            f"{path}: not a video file (FFmpeg reads it as {name!r}); accepted: MP4/MOV, "
            "WebM/MKV, AVI, MPEG, FLV, OGG, WMV, GIF, or a folder of numbered frames"
        )
    if not container.streams.video:
        container.close()
        raise VideoDecodeError(f"{path}: the file has no video stream")
    return container


def _stream_info(path: PathLike, stream: av.video.stream.VideoStream, container) -> VideoInfo:
    import av

    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    num_frames = stream.frames or (round(duration * fps) if fps and duration else 0)
    return VideoInfo(str(path), int(num_frames), fps, duration, stream.width, stream.height)


def frame_files(folder: PathLike) -> list[Path]:
    """The numbered images of a frame folder (`00001.jpg`, ...), in numeric order."""
    frames = [p for p in Path(folder).iterdir() if p.suffix.lower() in FRAME_EXTENSIONS and p.stem.isdigit()]
    if not frames:
        raise VideoDecodeError(f"{folder}: a folder without numbered frame images (00001.jpg, ...)")
    return sorted(frames, key=lambda p: int(p.stem))


def _read_image(path: Path, max_short_side: int | None = None) -> np.ndarray:
    """One frame image as `(H, W, 3)` uint8 RGB, turned as its EXIF orientation says and
    scaled down (box filter) where its short side is over `max_short_side`."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            size = _shrunk(image.width, image.height, max_short_side)
            if size != image.size:
                image = image.resize(size, Image.Resampling.BOX)
            return np.asarray(image)
    except OSError as err:  # includes PIL.UnidentifiedImageError
        raise VideoDecodeError(f"{path}: not a readable image ({err})") from err


def _probe_folder(folder: Path) -> VideoInfo:
    frames = frame_files(folder)
    height, width, _ = _read_image(frames[0]).shape
    count = len(frames)
    return VideoInfo(str(folder), count, FRAME_FOLDER_FPS, count / FRAME_FOLDER_FPS, width, height)


def _read_folder(folder: Path, indices: Sequence[int], max_short_side: int | None = None) -> Tensor:
    """Frames of a frame folder; indices past the last image give the last image."""
    frames = frame_files(folder)
    decoded = {i: _read_image(frames[min(i, len(frames) - 1)], max_short_side) for i in set(indices)}
    if len({image.shape for image in decoded.values()}) > 1:
        raise VideoDecodeError(f"{folder}: the frame images differ in size")
    return _as_clip(folder, [decoded[i] for i in indices])


def probe_video(path: PathLike) -> VideoInfo:
    """Frame count, rate, duration and size of a video (from its header, nothing decoded) or of
    a frame folder (its first image decoded)."""
    if Path(path).is_dir():
        return _probe_folder(Path(path))
    container = _open(path)
    try:
        info = _stream_info(path, container.streams.video[0], container)
    finally:
        container.close()
    if info.width <= 0 or info.height <= 0:
        raise VideoDecodeError(f"{path}: the video stream has no picture size")
    return info


def read_frames(
    path: PathLike,
    indices: Sequence[int],
    seek_threshold: float = 1.0,
    max_short_side: int | None = None,
    max_decoded: int | None = None,
) -> Tensor:
    """Decode the frames at `indices` (any order, repeats allowed): `(len(indices), 3, H, W)` uint8.

    Indices past the header's frame count give the last frame. A stream that stops well
    before the count its header gives (a cut-off download) raises `VideoDecodeError`; a few
    missing frames are tolerated, since headers of some containers only estimate the count.

    Args:
        path: a video file PyAV can read, or a frame folder.
        indices: frame indices, `0 <= i`.
        seek_threshold: seek instead of decoding on when the next wanted frame is more than
            this many seconds ahead.
        max_short_side: frames whose short side is larger are scaled down to it (area
            filter) during colour conversion; None keeps the decoded size.
        max_decoded: stop with `VideoDecodeError` after decoding this many frames (a guard;
            `decode_work` tells the count beforehand).
    """
    if len(indices) == 0:
        raise ValueError("no frame indices given")
    if min(indices) < 0:
        raise ValueError(f"frame indices must be >= 0, got {min(indices)}")
    if Path(path).is_dir():
        return _read_folder(Path(path), indices, max_short_side)
    convert = functools.partial(_to_rgb, max_short_side=max_short_side)
    with _video_stream(path) as (container, stream):
        info = _stream_info(path, stream, container)
        decoded, last_index = _decode_at(
            container,
            stream,
            info,
            sorted(set(indices)),
            seek_threshold,
            convert,
            _Counter(path, max_decoded),
        )
    if not decoded:
        raise VideoDecodeError(f"{path}: no frame could be decoded")
    # Frames the header promises but the stream lacks: a few are normal (headers estimate),
    # many mean a cut-off file, e.g. an interrupted download.
    promised = [i for i in indices if last_index < i < info.num_frames]
    if promised and max(promised) - last_index > max(3, round(0.05 * info.num_frames)):
        raise VideoDecodeError(
            f"{path}: the video stops at frame {last_index} although its header says {info.num_frames} "
            "frames; the file looks truncated (an incomplete download?)"
        )
    return _as_clip(path, [decoded[i] for i in indices])


@contextmanager
def _video_stream(path: PathLike):
    """`(container, video stream)` of a file; FFmpeg errors become `VideoDecodeError`s naming it."""
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        # each frame thread holds frames: memory grows with it
        stream.thread_count = min(4, os.cpu_count() or 1)
        yield container, stream
    except av.FFmpegError as err:
        raise VideoDecodeError(f"{path}: cannot decode ({err})") from err
    finally:
        container.close()


def _as_clip(path: PathLike, images: list[np.ndarray]) -> Tensor:
    """`(H, W, 3)` uint8 images -> a `(T, 3, H, W)` uint8 tensor."""
    if not images:
        raise VideoDecodeError(f"{path}: no frame could be decoded")
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # (T, 3, H, W)


def _shrunk(width: int, height: int, max_short_side: int | None) -> tuple[int, int]:
    """`(width, height)` scaled down so that the short side is at most `max_short_side`."""
    if max_short_side is None or min(width, height) <= max_short_side:
        return width, height
    scale = max_short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that show `frame` upright (its display matrix)."""
    return round((frame.rotation or 0) / 90) % 4


def _to_rgb(
    frame: av.VideoFrame, max_short_side: int | None = None, size: tuple[int, int] | None = None
) -> np.ndarray:
    """A decoded frame as `(H, W, 3)` uint8 RGB as a player shows it: turned by its rotation
    metadata (multiples of 90 degrees), and scaled down (area filter) where its short side is
    over `max_short_side`, or scaled to `size` `(width, height)` of the stored picture."""
    shrunk = _shrunk(frame.width, frame.height, max_short_side)
    if size is not None:
        image = frame.to_ndarray(width=size[0], height=size[1], format="rgb24")
    elif shrunk != (frame.width, frame.height):
        image = frame.to_ndarray(width=shrunk[0], height=shrunk[1], format="rgb24", interpolation="AREA")
    else:
        image = frame.to_ndarray(format="rgb24")
    turns = _quarter_turns(frame)
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


class _Counter:
    """Frames decoded so far; past `limit`, a `VideoDecodeError` (a guard behind `decode_work`)."""

    def __init__(self, path: PathLike, limit: int | None):
        self.path, self.limit, self.count = path, limit, 0

    def __call__(self, frames):
        for frame in frames:
            self.count += 1
            if self.limit is not None and self.count > self.limit:
                raise VideoDecodeError(
                    f"{self.path}: decoding stopped after {self.limit} frames (the limit); "
                    "the video's key frames are too far apart"
                )
            yield frame


def _seek(container, stream, seconds: float) -> None:
    """Seek to the key frame at or before `seconds` of the stream's time (what `read_frames`
    does, and what `decode_work` prices)."""
    start_pts = stream.start_time or 0
    start = float(start_pts * stream.time_base)
    container.seek(
        start_pts + max(0, int((seconds - start) / stream.time_base)), stream=stream, backward=True
    )


def _decode_at(
    container,
    stream,
    info: VideoInfo,
    wanted: list[int],
    seek_threshold: float,
    convert=_to_rgb,
    count=lambda frames: frames,
) -> tuple[dict, int]:
    """`{index: (H, W, 3) uint8}` for the sorted, unique `wanted` indices, and the index of
    the last frame decoded (wanted indices past it get that frame)."""
    time_base = stream.time_base
    if not info.fps or time_base is None:  # no usable timing: count frames from the start
        return _decode_by_count(container, stream, wanted, convert, count)
    start_pts = stream.start_time or 0
    start = float(start_pts * time_base)
    half_frame = 0.5 / info.fps
    target = {i: start + i / info.fps for i in wanted}  # when frame i is on screen
    pending = list(wanted)
    out: dict[int, np.ndarray] = {}

    def decode_from(seconds: float):
        """A decoder that starts at the key frame at or before `seconds`."""
        _seek(container, stream, seconds)
        return count(container.decode(stream))

    first = target[pending[0]]
    frames = decode_from(first if first - start > seek_threshold else start)
    previous, last, restarted = None, None, False  # last: the latest frame decoded, across seeks
    sought = pending[0]  # the target of the last seek: seeking for it again lands at the same key frame
    while pending:
        frame = next(frames, None)
        if frame is None:
            break
        if frame.time is None:  # a stream without timestamps
            container.seek(start_pts, stream=stream, backward=True)
            return _decode_by_count(container, stream, wanted, convert, count)
        t = frame.time
        if previous is None and t > target[pending[0]] + half_frame and not restarted:
            # The seek landed after the target (an imprecise index): decode from the start.
            frames, restarted = decode_from(start), True
            continue
        while pending and t > target[pending[0]] + half_frame:
            # `frame` starts after the target time, so the frame on screen then is `previous`.
            out[pending.pop(0)] = convert(previous if previous is not None else frame)
        if pending and pending[0] != sought and target[pending[0]] - t > seek_threshold:
            frames, previous, sought = decode_from(target[pending[0]]), None, pending[0]
            continue
        previous = last = frame
    if last is None:
        return out, -1
    last_index = round((last.time - start) * info.fps)
    if pending:
        image = convert(last)
        out.update({i: image for i in pending})  # past the end of the stream
    return out, last_index


def _decode_by_count(
    container, stream, wanted: list[int], convert=_to_rgb, count=lambda frames: frames
) -> tuple[dict, int]:
    out, last, last_index = {}, None, -1
    wanted_set, highest = set(wanted), max(wanted)
    for last_index, frame in enumerate(count(container.decode(stream))):
        last = frame
        if last_index in wanted_set:
            out[last_index] = convert(frame)
        if last_index >= highest:
            break
    for i in wanted:
        if i not in out and last is not None:
            out[i] = convert(last)
    return out, last_index


def decode_work(path: PathLike, indices: Sequence[int], seek_threshold: float = 1.0) -> int:
    """How many frames `read_frames(path, indices)` decodes, from the key frames alone.

    Follows `read_frames`' walk: from the key frame at or before the first wanted frame (or
    the start, when that is within `seek_threshold`), decoding on to each next wanted frame,
    seeking again where it is more than `seek_threshold` seconds ahead. Each seek is answered
    by the container's index (one packet read, nothing decoded), so a 4-hour video with a
    single key frame is priced in milliseconds. A frame folder decodes one image per frame.
    """
    wanted = sorted(set(indices))
    if not wanted:
        return 0
    if Path(path).is_dir():
        return len(wanted)
    with _video_stream(path) as (container, stream):
        info = _stream_info(path, stream, container)
        time_base = stream.time_base
        if not info.fps or time_base is None:  # counted from the start
            return wanted[-1] + 1
        start_pts = stream.start_time or 0
        start = float(start_pts * time_base)

        def key_frame_before(seconds: float) -> float:
            """The time of the key frame a seek to `seconds` lands on."""
            _seek(container, stream, seconds)
            for packet in container.demux(stream):
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is not None:
                    return min(seconds, float(stamp * time_base))
            return start

        work, position = 0.0, None  # position: the time the decoder has reached
        for index in wanted:
            target = start + index / info.fps
            if position is not None and target - position <= seek_threshold:
                work += (target - position) * info.fps
            else:
                origin = (
                    start
                    if position is None and target - start <= seek_threshold
                    else key_frame_before(target)
                )
                work += (target - origin) * info.fps + 1
            position = target
    return math.ceil(work)


def read_video(path: PathLike, max_frames: int | None = None) -> Tensor:
    """Every frame (or the first `max_frames`) as `(T, 3, H, W)` uint8."""
    if Path(path).is_dir():
        count = len(frame_files(path))
        return _read_folder(Path(path), range(count if max_frames is None else min(count, max_frames)))
    images = []
    with _video_stream(path) as (container, stream):
        for frame in container.decode(stream):
            images.append(_to_rgb(frame))
            if max_frames is not None and len(images) >= max_frames:
                break
    return _as_clip(path, images)


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad `(T, H, W, 3)` by one edge pixel where H or W is odd (yuv420p needs even sizes)."""
    _, h, w, _ = frames.shape
    if h % 2 or w % 2:
        frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return frames


def _encode(
    path: Path, images, width: int, height: int, fps: float | Fraction, crf: int, intra_only: bool = False
) -> Path:
    """Encode `(H, W, 3)` uint8 images as H.264 mp4 into a temporary file, then rename it.

    `intra_only`: every frame a key frame at a fixed quantiser (`crf` used as the QP), so each
    decoded frame depends on that frame alone, not on its neighbours or their order.
    """
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.mp4")
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with av.open(str(tmp), mode="w", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            if intra_only:
                stream.options = {
                    "qp": str(crf),
                    "preset": "veryfast",
                    "x264-params": "keyint=1:min-keyint=1:scenecut=0",
                }
            else:
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            for image in images:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())  # flush the encoder
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_video(
    path: PathLike, frames: Tensor | np.ndarray, fps: float, crf: int = 20, intra_only: bool = False
) -> Path:
    """Write `(T, 3, H, W)` uint8 frames as an H.264 mp4 that browsers play.

    Odd sizes are padded by one pixel (H.264 in yuv420p needs even sizes). The file appears
    only once complete. With `intra_only`, every frame is coded on its own (key frames at a
    fixed quantiser): larger files, but a decoded frame is the same whatever frames surround
    it, which datasets built on frame order need (inter-frame coding would otherwise leave
    order-dependent artefacts a network can learn).
    """
    array = frames.detach().cpu().numpy() if isinstance(frames, Tensor) else np.asarray(frames)
    if array.ndim != 4 or array.shape[1] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected (T, 3, H, W) uint8 frames, got {array.shape} {array.dtype}")
    if len(array) == 0:
        raise ValueError("no frames to write")
    array = _even(np.ascontiguousarray(array.transpose(0, 2, 3, 1)))  # (T, H, W, 3)
    return _encode(Path(path), array, array.shape[2], array.shape[1], fps, crf, intra_only)


def resize_video(src: PathLike, dst: PathLike, short_side: int, crf: int = 20) -> Path:
    """Re-encode `src` as H.264 mp4 whose shorter side is `short_side` pixels (never upscaled)."""
    info = probe_video(src)
    scale = min(1.0, short_side / min(info.width, info.height))
    width = max(2, 2 * round(info.width * scale / 2))
    height = max(2, 2 * round(info.height * scale / 2))
    with _video_stream(src) as (container, stream):
        frames = container.decode(stream)
        first = next(frames, None)
        if first is None:
            raise VideoDecodeError(f"{src}: no frame could be decoded")
        images = (_to_rgb(frame, size=(width, height)) for frame in itertools.chain([first], frames))
        out_width, out_height = (height, width) if _quarter_turns(first) % 2 else (width, height)  # turned
        return _encode(Path(dst), images, out_width, out_height, info.fps or 25.0, crf)
