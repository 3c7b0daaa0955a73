"""Clips per second read from mp4: seeking to the sampled frames against decoding every frame.

A 2-minute 640x360 H.264 video (25 fps, a key frame every 2 s, as in typical web video), 16
frames per clip by TSN segment sampling; each method reads the same clips. Median of
`--repeats` in one process.

    python benchmarks/data_decode.py
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from blvnet_edu.data.sampling import segment_indices
from blvnet_edu.data.video_io import read_frames, read_video

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def make_video(path: Path, seconds: int = 120, fps: int = 25, width: int = 640, height: int = 360) -> Path:
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(2 * fps), "preset": "veryfast"}
        for t in range(seconds * fps):
            image = background.copy()
            x = (t * 4) % (width - 64)
            image[150:214, x : x + 64] = 255
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=4, help="clips per measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=120, help="length of the test video")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "data_decode.md")
    args = parser.parse_args()
    torch.set_num_threads(2)
    with tempfile.TemporaryDirectory() as tmp:
        path = make_video(Path(tmp) / "video.mp4", seconds=args.seconds)
        generator = torch.Generator().manual_seed(0)
        clips = [segment_indices(args.seconds * 25, 16, True, generator) for _ in range(args.clips)]
        seek, full = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for indices in clips:
                read_frames(path, indices)
            seek.append(args.clips / (time.perf_counter() - start))
            start = time.perf_counter()
            for indices in clips:
                read_video(path)[indices]
            full.append(args.clips / (time.perf_counter() - start))
    s, f = statistics.median(seek), statistics.median(full)
    lines = [
        "# Data: clips per second from mp4, seeking against decoding every frame",
        "",
        f"`python benchmarks/data_decode.py` — {platform.machine()}, PyAV {av.__version__}; a "
        f"{args.seconds}-second 640x360 "
        "H.264 video (25 fps, key frame every 2 s), 16 frames per clip (TSN segments), median of "
        f"{args.repeats}.",
        "",
        "| method | clips / s |",
        "|---|---|",
        f"| `read_frames` (seek to each sampled frame) | {s:.2f} |",
        f"| decode every frame, then pick | {f:.2f} |",
        "",
        f"Seeking is {s / f:.1f}x faster here.",
        "",
    ]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
