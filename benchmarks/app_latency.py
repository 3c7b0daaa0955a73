"""The app's latency on this machine: a 10-second clip from file to prediction and attribution.

Measures `blvnet_edu.inference` (what the app calls), in one process, median of `--repeats`:

- predict: decode the sampled frames of the file, preprocess, forward;
- predict + saliency: the above plus a saliency map of every frame;
- full explanation: saliency plus temporal importance (one forward per frame removed);
for the bundled demo model (8 frames at 48 px) and for bLVNet-TAM-50 (16 frames at 224 px).
Targets (demo model, 2 CPU cores): prediction under 1 s, prediction + saliency under 3 s.
Results: docs/benchmarks/app_latency.md.

    python benchmarks/app_latency.py
"""

from __future__ import annotations

import sys
import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from blvnet_edu import build_model
from blvnet_edu.data.video_io import write_video
from blvnet_edu.explain.attributions import attribute
from blvnet_edu.inference import Predictor, explain, load_clip, load_predictor, predict_clip

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def ten_second_clip(path: Path, width: int = 640, height: int = 360, fps: int = 25) -> Path:
    """A 640x360, 25 fps, 10 s clip with a moving square on a textured background."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 255, (3, height, width), dtype=np.uint8)
    frames = np.repeat(background[None], fps * 10, axis=0)
    for t in range(len(frames)):
        x = int((width - 80) * t / len(frames))
        frames[t, :, 140:220, x : x + 80] = 255
    return write_video(path, frames, fps)


def measure(predictor: Predictor, clip_path: Path, repeats: int) -> dict[str, float]:
    times = {"predict": [], "predict + saliency": [], "full explanation": []}
    for _ in range(repeats + 1):  # the first round warms up
        start = time.perf_counter()
        clip = load_clip(clip_path, predictor.num_frames, predictor.size, predictor.resize)
        probs = predict_clip(predictor, clip)
        predicted = time.perf_counter()
        attribute(predictor.model, clip.input, predictor.classes.index(max(probs, key=probs.get)), "saliency")
        with_saliency = time.perf_counter()
        explain(predictor, clip, method="saliency")
        full = time.perf_counter() - with_saliency + (predicted - start)
        times["predict"].append(predicted - start)
        times["predict + saliency"].append(with_saliency - start)
        times["full explanation"].append(full)
    return {k: statistics.median(v[1:]) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "app_latency.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clip = ten_second_clip(Path(tmp) / "ten_seconds.mp4")
        demo = load_predictor(ROOT / "app" / "demo" / "blvnet_tam_tiny.pt")
        big_model = build_model("blvnet_tam_50", num_classes=174, num_frames=16).eval()
        big = Predictor("blvnet_tam_50", big_model, [f"class {i}" for i in range(174)], 224, 256)
        rows = [(f"demo bLVNet-TAM tiny, {demo.num_frames} frames, {demo.size} px", measure(demo, clip, args.repeats)),
                ("bLVNet-TAM-50, 16 frames, 224 px", measure(big, clip, args.repeats))]
    lines = [
        "# App latency: a 10-second clip (640x360, 25 fps, H.264) to prediction and attribution",
        "",
        f"`python benchmarks/app_latency.py` — {platform.machine()}, {args.threads} threads, torch {torch.__version__}; "
        f"median of {args.repeats} runs after one warm-up, seconds, in `blvnet_edu.inference` (what the app calls).",
        "",
        "| model | predict | predict + saliency | full explanation (saliency + temporal importance) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {r['predict']:.3f} | {r['predict + saliency']:.3f} | {r['full explanation']:.3f} |"
              for name, r in rows]
    lines += ["", "Targets for the demo model on 2 CPU cores: predict < 1 s, predict + saliency < 3 s.", ""]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
