"""Plotly figures for the explainer: TAM weights, temporal importance, top-k predictions."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.express as px
import plotly.graph_objects as go
from torch import Tensor

from .tam_weights import TAMSummary

__all__ = ["frames_figure", "tam_layer_heatmap", "tam_summary_figure", "temporal_importance_figure", "topk_figure"]

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=50, b=50))


def frames_figure(frames: Tensor, captions: Sequence[str] | None = None, columns: int = 8,
                  title: str | None = None) -> go.Figure:
    """A clip's frames side by side: `(T, 3, H, W)` uint8, one panel per frame."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected (T, 3, H, W) frames, got {tuple(frames.shape)}")
    images = frames.permute(0, 2, 3, 1).cpu().numpy()  # (T, H, W, 3)
    captions = list(captions) if captions is not None else [f"frame {t}" for t in range(len(images))]
    fig = px.imshow(images, facet_col=0, facet_col_wrap=min(columns, len(images)),
                    facet_col_spacing=0.01, facet_row_spacing=0.06)
    for annotation in fig.layout.annotations:  # facet titles "facet_col=i" -> captions
        annotation.text = captions[int(annotation.text.split("=")[1])]
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    rows = -(-len(images) // columns)
    fig.update_layout(title=title, height=60 + 150 * rows, margin=dict(l=10, r=10, t=60, b=10))
    return fig


def tam_layer_heatmap(layer: str, weights: Tensor, max_channels: int = 256) -> go.Figure:
    """One TAM's `(offsets, channels)` weights as a heat map (first `max_channels` channels)."""
    k = weights.shape[0] // 2
    shown = weights[:, :max_channels].float()
    fig = go.Figure(go.Heatmap(
        z=shown.tolist(), y=[f"{o:+d}" for o in range(-k, k + 1)], x=list(range(shown.shape[1])),
        colorscale="RdBu", zmid=0.0, colorbar=dict(title="weight"),
    ))
    fig.update_layout(title=f"TAM weights of {layer}", xaxis_title="channel",
                      yaxis_title="temporal offset (frames)", **_LAYOUT)
    return fig


def tam_summary_figure(summaries: Sequence[TAMSummary]) -> go.Figure:
    """Layers x offsets: the share of each offset in every TAM (past left, future right)."""
    if not summaries:
        fig = go.Figure()
        fig.update_layout(title="this model has no TAM (no learned temporal aggregation)", **_LAYOUT)
        return fig
    offsets = summaries[0].offsets
    fig = go.Figure(go.Heatmap(
        z=[s.share for s in summaries], x=[f"{o:+d}" for o in offsets], y=[s.layer for s in summaries],
        colorscale="Viridis", zmin=0.0, colorbar=dict(title="share"),
        text=[[f"{v:.0%}" for v in s.share] for s in summaries], texttemplate="%{text}",
    ))
    fig.update_layout(title="How much each TAM draws on past (-), current (0) and future (+) frames",
                      xaxis_title="temporal offset (frames)", yaxis=dict(autorange="reversed"), **_LAYOUT)
    return fig


def temporal_importance_figure(importance: Tensor, frame_labels: Sequence[str] | None = None) -> go.Figure:
    """Bars: drop of the target probability when each frame is removed."""
    values = importance.tolist()
    labels = list(frame_labels) if frame_labels is not None else [f"frame {i}" for i in range(len(values))]
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color=["#d1495b" if v > 0 else "#8d99ae" for v in values]))
    fig.update_layout(title="Temporal importance: probability drop when a frame is removed",
                      yaxis_title="drop of target probability", **_LAYOUT)
    return fig


def topk_figure(probabilities: dict[str, float], k: int = 5, title: str = "Top predictions") -> go.Figure:
    top = sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)[:k][::-1]
    fig = go.Figure(go.Bar(x=[p for _, p in top], y=[c for c, _ in top], orientation="h",
                           text=[f"{p:.1%}" for _, p in top], textposition="auto"))
    fig.update_layout(title=title, xaxis=dict(range=[0, 1], tickformat=".0%"), **_LAYOUT)
    return fig
