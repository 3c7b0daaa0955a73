"""The whole bLVNet(-TAM) as one diagram: frames, resolutions and channels at every stage, and
where each TAM sits.

Nothing is drawn from memory of the paper: the shapes come from a forward pass on PyTorch's
`meta` device (shapes only, no arithmetic) of the network the config builds, and the TAMs
from `VideoNet.tams()`, so the diagram changes with `num_frames`, `alpha`, `beta`, the input
size and the TAM's presence.
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from ..models.blvnet import BLVNetConfig, VideoNet

__all__ = ["network_shapes", "network_diagram"]

_BL_STAGES = ("layer0", "layer1", "layer2", "layer3")
_BIG, _LITTLE, _SHARED = 1.0, -1.0, 0.0  # lanes (y) of the diagram
_TAM_COLOUR, _BIG_COLOUR, _LITTLE_COLOUR, _SHARED_COLOUR = "#e4572e", "#9fc5e8", "#b6d7a8", "#eeeeee"


def network_shapes(config: BLVNetConfig, size: int = 224) -> dict[str, tuple[int, ...]]:
    """Output shape `(maps, C, h, w)` of the stem, of each bL stage's big and little branch
    and of its merge, and of stage 4, for one clip of `config.num_frames` frames at `size` px
    (a forward pass on the meta device)."""
    return _meta_forward(config, size)[0]


def _meta_forward(config: BLVNetConfig, size: int) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """`network_shapes`, and the names of the network's TAMs: one network built on `meta`."""
    if config.frame_routing != "pairs" or config.backbone != "blresnet":
        raise ValueError(f"{config.name}: the diagram draws bLVNet's Big-Little stages (pair routing)")
    with torch.device("meta"):
        model = VideoNet(config).eval()
    wanted = ["conv1", *_BL_STAGES, "layer4"]
    wanted += [f"{s}.{part}" for s in _BL_STAGES[1:] for part in ("big", "little_e")]
    wanted += ["layer0.b_conv0", "layer0.bn_l2"]  # layer 0's big and little outputs
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    hooks = [
        modules[name].register_forward_hook(
            lambda module, inputs, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
        for name in wanted
    ]
    try:
        with torch.no_grad():
            model(torch.zeros(1, config.num_frames, 3, size, size, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes, list(model.tams())


def _box(fig: go.Figure, x: float, y: float, text: str, colour: str, width: float = 0.42) -> None:
    fig.add_shape(
        type="rect",
        x0=x - width,
        x1=x + width,
        y0=y - 0.42,
        y1=y + 0.42,
        fillcolor=colour,
        line=dict(width=1),
    )
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font=dict(size=10))


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float) -> None:
    fig.add_annotation(
        x=x1,
        y=y1,
        ax=x0,
        ay=y0,
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        text="",
        showarrow=True,
        arrowhead=2,
    )


def network_diagram(config: BLVNetConfig, size: int = 224) -> go.Figure:
    """bLVNet(-TAM) from input to logits: a box per part with its frames (maps per clip),
    channels and resolution, big branches on the top lane and little ones below, and an
    orange diamond at each TAM with the number of frames it mixes."""
    shapes, tams = _meta_forward(config, size)
    t, pairs = config.num_frames, config.num_frames // 2
    fig = go.Figure()
    x = 0.0
    _box(fig, x, _SHARED, f"<b>input</b><br>{t} frames<br>3 x {size}²", _SHARED_COLOUR)
    _, c, h, _ = shapes["conv1"]
    x += 1
    _arrow(fig, x - 1 + 0.42, _SHARED, x - 0.42, _SHARED)
    right = x + 0.42  # right edge of the last shared box: arrows start there
    _box(fig, x, _SHARED, f"<b>stem</b><br>{t} frames<br>{c} x {h}²", _SHARED_COLOUR)
    tam_x, tam_text = [], []
    for stage in _BL_STAGES:
        x += 1
        tam = f"{stage}.tam"
        if tam in tams:  # on the stage's input, over all T frames (a fused pair counts twice)
            tam_x.append((right + x - 0.42) / 2)
            tam_text.append(f"TAM<br>{t}")
        if stage == "layer0":
            big, little = shapes["layer0.b_conv0"], shapes["layer0.bn_l2"]
        else:
            big, little = shapes[f"{stage}.big"], shapes[f"{stage}.little_e"]
        merged = shapes[stage]
        _box(fig, x, _BIG, f"<b>{stage} big</b><br>odd frames: {pairs}<br>{big[1]} x {big[2]}²", _BIG_COLOUR)
        _box(
            fig,
            x,
            _LITTLE,
            f"<b>{stage} little</b><br>even frames: {pairs}<br>{little[1]} x {little[2]}²",
            _LITTLE_COLOUR,
        )
        for lane in (_BIG, _LITTLE):
            _arrow(fig, right, _SHARED, x - 0.42, lane)
            _arrow(fig, x + 0.42, lane, x + 0.7 - 0.25, _SHARED)
        x += 0.7
        _box(fig, x, _SHARED, f"merge<br>{pairs} maps<br>{merged[2]}²", "white", width=0.25)
        right = x + 0.25
    x += 1
    _, c4, h4, _ = shapes["layer4"]
    stage4_tams = [name for name in tams if name.startswith("layer4.")]
    _arrow(fig, right, _SHARED, x - 0.42, _SHARED)
    _box(
        fig,
        x,
        _SHARED,
        f"<b>stage 4</b>, {config.layers[3]} blocks<br>{pairs} frames<br>{c4} x {h4}²",
        _SHARED_COLOUR,
    )
    if stage4_tams:  # one in every block, on the block's input: over the T/2 frames
        tam_x.append(x)
        tam_text.append(f"TAM in each block<br>{pairs}")
    x += 1
    _arrow(fig, x - 1 + 0.42, _SHARED, x - 0.42, _SHARED)
    _box(fig, x, _SHARED, f"<b>pool, fc</b><br>{pairs} x {config.num_classes}<br>averaged", "white")
    if tam_x:
        fig.add_scatter(
            x=tam_x,
            y=[0.62 if tx == x - 1 else _SHARED for tx in tam_x],
            mode="markers+text",
            marker=dict(symbol="diamond", size=14, color=_TAM_COLOUR),
            text=tam_text,
            textposition=["top center" if tx == x - 1 else "bottom center" for tx in tam_x],
            textfont=dict(size=9, color=_TAM_COLOUR),
            hoverinfo="text",
            name="TAM",
        )
    title = f"{config.name}, {t} frames at {size} px: frames (maps per clip), channels x resolution" + (
        "; orange: TAM, with the frames it mixes" if tam_x else " (no TAM)"
    )
    fig.update_layout(
        title=title,
        template="plotly_white",
        showlegend=False,
        height=330,
        margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(visible=False, range=[-0.5, x + 0.5]),
        yaxis=dict(visible=False, range=[-1.5, 1.6]),
    )
    return fig
