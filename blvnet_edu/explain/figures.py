"""Plotly figures for the explainer: attributions per frame and their colour bar, what removing
a frame costs, TAM weights (by layer, by channel group, on one clip), top-k predictions.

Every figure names what it shows in its title: the method and the class for attributions,
the replacement for frame removal, the layer for TAM weights."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.express as px
import plotly.graph_objects as go
import torch
from torch import Tensor

from .attributions import REPLACEMENT_NAMES, FrameRemoval
from .overlays import colour_table
from .tam_weights import CHANNEL_GROUPS, ChannelGroups, TAMSummary

__all__ = [
    "frames_figure",
    "tam_layer_heatmap",
    "tam_summary_figure",
    "temporal_importance_figure",
    "topk_figure",
    "frame_attribution_figure",
    "frame_removal_figure",
    "colorbar_figure",
    "tam_groups_figure",
    "receptive_field_figure",
]

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50))


def frames_figure(
    frames: Tensor, captions: Sequence[str] | None = None, columns: int = 8, title: str | None = None
) -> go.Figure:
    """A clip's frames side by side: `(T, 3, H, W)` uint8, one panel per frame."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected (T, 3, H, W) frames, got {tuple(frames.shape)}")
    images = frames.permute(0, 2, 3, 1).cpu().numpy()  # (T, H, W, 3)
    captions = list(captions) if captions is not None else [f"frame {t}" for t in range(len(images))]
    fig = px.imshow(
        images,
        facet_col=0,
        facet_col_wrap=min(columns, len(images)),
        facet_col_spacing=0.01,
        facet_row_spacing=0.06,
    )
    width = _CAPTION_CHARS // min(columns, len(images))  # characters a caption may take on one line
    wrapped = [_wrap_caption(c, width) for c in captions]
    for annotation in fig.layout.annotations:  # facet titles "facet_col=i" -> captions
        annotation.text = wrapped[int(annotation.text.split("=")[1])]
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    rows = -(-len(images) // columns)
    extra = 14 * max(c.count("<br>") for c in wrapped)  # room for two-line captions
    fig.update_layout(
        title=title, height=60 + (150 + extra) * rows, margin=dict(l=10, r=10, t=60 + extra, b=10)
    )
    return fig


_CAPTION_CHARS = 128  # characters of caption that fit across a figure of the notebook's width


def _wrap_caption(caption: str, width: int) -> str:
    """`caption` on two lines (plotly's `<br>`) where it would not fit under its frame:
    after its first ": " if it has one, else at the space nearest its middle."""
    if len(caption) <= width or " " not in caption:
        return caption
    if ": " in caption:
        head, tail = caption.split(": ", 1)
        return f"{head}:<br>{tail}"
    middle = len(caption) // 2
    cut = min((i for i, ch in enumerate(caption) if ch == " "), key=lambda i: abs(i - middle))
    return f"{caption[:cut]}<br>{caption[cut + 1 :]}"


def tam_layer_heatmap(layer: str, weights: Tensor, max_channels: int = 256) -> go.Figure:
    """One TAM's `(offsets, channels)` weights as a heat map (first `max_channels` channels)."""
    k = weights.shape[0] // 2
    shown = weights[:, :max_channels].float()
    fig = go.Figure(
        go.Heatmap(
            z=shown.tolist(),
            y=[f"{o:+d}" for o in range(-k, k + 1)],
            x=list(range(shown.shape[1])),
            colorscale="RdBu",
            zmid=0.0,
            colorbar=dict(title="weight"),
        )
    )
    fig.update_layout(
        title=f"TAM weights of {layer}",
        xaxis_title="channel",
        yaxis_title="temporal offset (frames)",
        **_LAYOUT,
    )
    return fig


def tam_summary_figure(summaries: Sequence[TAMSummary]) -> go.Figure:
    """Layers x offsets: the share of each offset in every TAM (past left, future right)."""
    if not summaries:
        fig = go.Figure()
        fig.update_layout(title="this model has no TAM (no learned temporal aggregation)", **_LAYOUT)
        return fig
    offsets = summaries[0].offsets
    fig = go.Figure(
        go.Heatmap(
            z=[s.share for s in summaries],
            x=[f"{o:+d}" for o in offsets],
            y=[s.layer for s in summaries],
            colorscale="Viridis",
            zmin=0.0,
            zmax=1.0,
            colorbar=dict(title="share"),  # one scale for every model
            text=[[f"{v:.0%}" for v in s.share] for s in summaries],
            texttemplate="%{text}",
        )
    )
    fig.update_layout(
        title="Each TAM: past (-), current (0), future (+)",
        xaxis_title="temporal offset (frames)",
        yaxis=dict(autorange="reversed"),
        **_LAYOUT,
    )
    return fig


def temporal_importance_figure(importance: Tensor, frame_labels: Sequence[str] | None = None) -> go.Figure:
    """Bars: drop of the target probability when each frame is removed."""
    values = importance.tolist()
    labels = list(frame_labels) if frame_labels is not None else [f"frame {i}" for i in range(len(values))]
    fig = go.Figure(
        go.Bar(x=labels, y=values, marker_color=["#d1495b" if v > 0 else "#8d99ae" for v in values])
    )
    fig.update_layout(
        title="Temporal importance: probability drop when a frame is removed",
        yaxis_title="drop of target probability",
        **_LAYOUT,
    )
    return fig


def topk_figure(probabilities: dict[str, float], k: int = 5, title: str = "Top predictions") -> go.Figure:
    top = sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)[:k][::-1]
    fig = go.Figure(
        go.Bar(
            x=[p for _, p in top],
            y=[c for c, _ in top],
            orientation="h",
            text=[f"{p:.1%}" for _, p in top],
            textposition="auto",
        )
    )
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".0%"), **_LAYOUT)
    return fig


def _short(value: float) -> str:
    return f"{value:+.2g}" if value else "0"


def frame_attribution_figure(
    per_frame: Tensor, share: Tensor, labels: Sequence[str], method: str, target: str, subtitle: str = ""
) -> go.Figure:
    """Bars: each frame's share of the clip's |attribution| (how much of it lies in the frame),
    coloured by the sign of the frame's summed attribution (red: for the class, blue: against),
    which is written on the bar. `method` is the method's name as the user reads it."""
    values, shares = per_frame.tolist(), share.tolist()
    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=shares,
            text=[f"{v:+.2g}" for v in values],
            textposition="outside",
            marker_color=["#d1495b" if v > 0 else "#3a7bd5" for v in values],
            customdata=values,
            hovertemplate="%{x}: %{y:.0%} of the clip's |attribution|, sum %{customdata:+.3g}<extra></extra>",
        )
    )
    title = f"{method}, class '{target}': how much of the attribution each frame holds"
    fig.update_layout(
        title=title + (f"<br><sup>{subtitle}</sup>" if subtitle else ""),
        yaxis=dict(title="share of the clip's |attribution|", tickformat=".0%"),
        **_LAYOUT,
    )
    return fig


def frame_removal_figure(removal: FrameRemoval, labels: Sequence[str], target: str) -> go.Figure:
    """Bars: how much the class's score (logit) drops when each frame is replaced; the hover
    gives the probability before and after."""
    drops = removal.score_drop.tolist()
    after = removal.probabilities.tolist()
    fig = go.Figure(
        go.Bar(
            x=list(labels),
            y=drops,
            marker_color=["#d1495b" if d > 0 else "#8d99ae" for d in drops],
            customdata=after,
            hovertemplate=(
                f"%{{x}}: score %{{y:+.3g}}; probability {removal.probability:.3f} -> "
                f"%{{customdata:.3f}}<extra></extra>"
            ),
        )
    )
    replaced = REPLACEMENT_NAMES.get(removal.replacement, removal.replacement)
    fig.update_layout(
        title=f"What '{target}' loses without each frame<br><sup>each frame replaced in turn "
        f"by {replaced}</sup>",
        yaxis_title="drop of the class's score (logit)",
        **_LAYOUT,
    )
    return fig


def colorbar_figure(threshold: float, sign: str, alpha: float, label: str) -> go.Figure:
    """The overlay's colour scale as it looks over a mid-grey frame: the value at each end
    (`threshold` saturates) in the attribution's own units, `label` naming them."""
    table = colour_table(sign)
    both = sign == "all"
    steps = torch.linspace(-1 if both else 0, 1, 11)
    index = ((steps + 1) / 2 if both else steps) * (len(table) - 1)
    colours = [
        128 * (1 - alpha * abs(v)) + table[int(round(float(i)))] * alpha * abs(v)
        for v, i in zip(steps.tolist(), index)
    ]
    scale = [[k / 10, "rgb({:.0f},{:.0f},{:.0f})".format(*c.tolist())] for k, c in enumerate(colours)]
    low = -threshold if both else 0.0
    if threshold <= 0:
        ticks, names = [0.0], ["0: nothing to draw"]
    elif both:
        ticks, names = [low, 0.0, threshold], [f"≤ {low:.2g}", "0", f"≥ {threshold:+.2g}"]
    else:
        ticks, names = [0.0, threshold / 2, threshold], ["0", f"{threshold / 2:.2g}", f"≥ {threshold:.2g}"]
    what = {"negative": f"size of the negative values ({label})", "absolute_value": f"|{label}|"}.get(
        sign, label
    )
    fig = go.Figure(
        go.Heatmap(
            z=[steps.tolist()],
            x=torch.linspace(low, threshold, 11).tolist(),
            showscale=False,
            colorscale=scale,
            zmin=-1 if both else 0,
            zmax=1,
            hoverinfo="skip",
        )
    )
    fig.update_layout(
        title=dict(text=f"colour scale: {what}", font=dict(size=13)),
        height=130,
        margin=dict(l=20, r=20, t=35, b=35),
        template="plotly_white",
        xaxis=dict(tickvals=ticks, ticktext=names),
        yaxis=dict(visible=False),
    )
    return fig


def tam_groups_figure(layer: str, weights: Tensor, groups: ChannelGroups, step: str = "frames") -> go.Figure:
    """One TAM's `(offsets, channels)` weights, one panel per channel group (`group_channels`),
    channels sorted inside each; each panel is titled with its group and count. Red is positive
    (as in the attribution overlays). `step`: what one offset moves by ("frame pairs" in
    bLVNet's stage 4)."""
    from plotly.subplots import make_subplots

    k = weights.shape[0] // 2
    shown = [name for name in CHANNEL_GROUPS if groups.groups[name]]
    counts = [len(groups.groups[name]) for name in shown]
    widths = [max(count / sum(counts), 0.14) for count in counts]  # a small group stays readable
    fig = make_subplots(
        rows=1,
        cols=len(shown),
        column_widths=widths,
        horizontal_spacing=0.015,
        shared_yaxes=True,
        subplot_titles=[f"{name}<br>{count}" for name, count in zip(shown, counts)],
    )
    limit = float(weights.abs().max()) or 1.0
    for col, name in enumerate(shown, start=1):
        channels = groups.groups[name]
        fig.add_trace(
            go.Heatmap(
                z=weights[:, channels].float().tolist(),
                y=[f"{o:+d}" for o in range(-k, k + 1)],
                x=[str(c) for c in channels],
                colorscale="RdBu_r",
                zmin=-limit,
                zmax=limit,
                showscale=col == 1,
                colorbar=dict(title="weight"),
                hovertemplate="channel %{x}, offset %{y}: %{z:.3f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(showticklabels=False, type="category", row=1, col=col)
    for annotation in fig.layout.annotations:
        annotation.font = dict(size=11)
    fig.update_yaxes(title_text=f"temporal offset ({step})", row=1, col=1)
    fig.update_layout(
        title=f"Channels of {layer} by what their weights do",
        **{**_LAYOUT, "margin": dict(l=60, r=20, t=80, b=30)},
    )
    return fig


def receptive_field_figure(
    field: Tensor, input_labels: Sequence[str], output_labels: Sequence[str], layer: str
) -> go.Figure:
    """Output frames of a TAM (rows) against input frames (columns): the share of each input
    frame in each output frame, on one clip (`receptive_field.temporal_receptive_field`)."""
    fig = go.Figure(
        go.Heatmap(
            z=field.tolist(),
            x=list(input_labels),
            y=list(output_labels),
            colorscale="Viridis",
            zmin=0.0,
            zmax=float(field.max()) if field.numel() and field.max() > 0 else 1.0,
            colorbar=dict(title="share"),
            hovertemplate="%{y} draws %{z:.0%} from %{x}<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"This clip through {layer}: what each output frame draws from each input frame",
        xaxis_title="input frame",
        yaxis=dict(title=f"output of {layer}", autorange="reversed"),
        **_LAYOUT,
    )
    return fig
