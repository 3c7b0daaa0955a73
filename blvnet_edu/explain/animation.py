"""Clips as animated GIFs, and a labelled grid of them as HTML: a preview that plays in a
notebook, in its exported HTML page and on GitHub alike (no JavaScript, no video codec).

GIF keeps at most 256 colours per frame: `clip_gif` quantises every frame to one shared
palette (adaptive, no dithering), which is exact for the flat colours of the synthetic
clips and close for real video.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping

import numpy as np
from PIL import Image
from torch import Tensor

__all__ = ["clip_gif", "clips_html"]


def clip_gif(frames: Tensor, fps: float = 8.0, scale: int = 1) -> bytes:
    """`(T, 3, H, W)` uint8 frames as a looping GIF, `fps` frames per second, each pixel
    repeated `scale` times in both directions (small clips shown larger, still sharp)."""
    if frames.ndim != 4 or frames.shape[1] != 3 or frames.shape[0] < 1:
        raise ValueError(f"expected (T, 3, H, W) uint8 frames, got {tuple(frames.shape)}")
    if not fps > 0 or scale < 1:
        raise ValueError(f"fps must be > 0 and scale >= 1, got fps={fps}, scale={scale}")
    images = frames.permute(0, 2, 3, 1).cpu().numpy().astype(np.uint8)  # (T, H, W, 3)
    images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    strip = Image.fromarray(np.concatenate(list(images), axis=0))  # one palette for the whole clip
    palette = strip.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    pictures = [
        Image.fromarray(image).quantize(palette=palette, dither=Image.Dither.NONE) for image in images
    ]
    out = io.BytesIO()
    pictures[0].save(
        out, format="GIF", save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0
    )
    return out.getvalue()


def clips_html(clips: Mapping[str, Tensor], fps: float = 8.0, scale: int = 2, columns: int = 7) -> str:
    """A grid of animated clips, each captioned with its name: `{name: (T, 3, H, W) uint8}`.
    The GIFs are embedded as data URIs, so the HTML stands alone."""
    cells = []
    for name, frames in clips.items():
        data = base64.b64encode(clip_gif(frames, fps, scale)).decode("ascii")
        cells.append(
            "<figure style='margin:4px;text-align:center'>"
            f"<img src='data:image/gif;base64,{data}' alt='{html.escape(name, quote=True)}'>"
            f"<figcaption style='font-size:12px'>{html.escape(name)}</figcaption></figure>"
        )
    grid = f"display:grid;grid-template-columns:repeat({columns}, max-content);gap:2px"
    return f"<div style='{grid}'>{''.join(cells)}</div>"
