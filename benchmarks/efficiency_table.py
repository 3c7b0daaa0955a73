"""Parameters and GFLOPs of every preset at 8, 16 and 32 frames, beside the paper's numbers.

GFLOPs are multiply-adds per clip at 224 px counted by `torch.utils.flop_counter` on a real
forward pass (174 classes, as in the paper's Something-Something table).

    python benchmarks/efficiency_table.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blvnet_edu import build_model
from blvnet_edu.models.blvnet import PRESETS
from blvnet_edu.profiling import PAPER_COST, profile_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FULL = [
    "blvnet_tam_50",
    "blvnet_50",
    "tsn_blresnet50",
    "tsn_resnet50",
    "blvnet_tam_101",
    "blvnet_101",
    "tsn_blresnet101",
    "tsn_resnet101",
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks" / "efficiency_table.md")
    args = parser.parse_args()
    lines = [
        "# Efficiency table: parameters and GFLOPs (224 px, 174 classes)",
        "",
        "`python benchmarks/efficiency_table.py` — multiply-adds per clip counted by "
        "`torch.utils.flop_counter`; "
        "paper = Table 1 of Fan et al. 2019 where it gives the number.",
        "",
        "| model | params (M) | " + " | ".join(f"GFLOPs @ {t} frames" for t in args.frames) + " | paper |",
        "|---|---|" + "---|" * len(args.frames) + "---|",
    ]
    tiny = sorted(n for n in PRESETS if n.endswith("_tiny"))
    for name in FULL + tiny:
        size = 224 if name in FULL else 64
        cells, params = [], 0.0
        for frames in args.frames:
            profile = profile_model(build_model(name, num_classes=174, num_frames=frames), size=size)
            params = profile.params / 1e6
            cells.append(f"{profile.gflops:.2f}")
        paper = "; ".join(
            f"{t} frames: {p:.1f}M, {g:.1f} GFLOPs" for (n, t), (p, g) in PAPER_COST.items() if n == name
        )
        label = name if name in FULL else f"{name} (64 px)"
        lines.append(f"| {label} | {params:.2f} | " + " | ".join(cells) + f" | {paper or '-'} |")
        print(lines[-1], flush=True)
    lines += [
        "",
        "bLVNet with T frames costs about what TSN costs with T/2: the big branch runs at half "
        "resolution and stage 4 on one frame per pair.",
        "",
    ]
    write_report(args.out, lines, echo=False)


if __name__ == "__main__":
    main()
