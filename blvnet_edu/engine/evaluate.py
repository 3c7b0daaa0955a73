"""Evaluation: loss, top-1/top-5, per-class accuracy and the confusion matrix.

Each item may hold several views of one video (clips x crops, `(V, T, 3, H, W)`); their
softmax scores are averaged into one prediction per video, as in the paper's multi-clip,
multi-crop testing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader

__all__ = ["Metrics", "collect_scores", "evaluate", "metrics_from_scores"]


@dataclass
class Metrics:
    loss: float
    top1: float
    top5: float
    per_class: list[float]  # accuracy of each class (nan where a class has no example)
    confusion: list[list[int]] = field(repr=False)  # [true][predicted]
    count: int = 0

    def summary(self) -> dict:
        return {"loss": self.loss, "top1": self.top1, "top5": self.top5, "count": self.count}


def metrics_from_scores(scores: Tensor, labels: Tensor, num_classes: int, loss: float) -> Metrics:
    """`scores` `(N, K)` (probabilities or logits), `labels` `(N,)`."""
    k = min(5, num_classes)
    top = scores.topk(k, dim=1).indices  # (N, k)
    hit = top == labels[:, None]
    confusion = torch.bincount(labels * num_classes + top[:, 0], minlength=num_classes**2)
    confusion = confusion.view(num_classes, num_classes)  # (true, predicted)
    totals = confusion.sum(1)
    per_class = (confusion.diag().double() / totals.clamp(min=1)).where(totals > 0, torch.nan)
    return Metrics(
        loss=loss,
        top1=hit[:, 0].double().mean().item(),
        top5=hit.any(1).double().mean().item(),
        per_class=per_class.tolist(),
        confusion=confusion.tolist(),
        count=len(labels),
    )


@torch.inference_mode()
def collect_scores(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    progress=lambda it: it,
) -> tuple[Tensor, Tensor]:
    """Class probabilities `(N, K)`, averaged over each video's views, and labels `(N,)`."""
    model.eval()
    scores, labels = [], []
    for videos, target in progress(loader):
        videos = videos.to(device, non_blocking=True)
        views = videos.shape[1] if videos.ndim == 6 else 1
        flat = videos.flatten(0, 1) if videos.ndim == 6 else videos  # (B*V, T, 3, H, W)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            logits = model(flat).float()
        scores.append(logits.softmax(-1).unflatten(0, (-1, views)).mean(1).cpu())  # (B, K)
        labels.append(target)
    return torch.cat(scores), torch.cat(labels)


def evaluate(
    model: nn.Module,
    loader: DataLoader,
    num_classes: int,
    device: torch.device,
    autocast_dtype: torch.dtype | None = None,
    progress=lambda it: it,
) -> Metrics:
    scores, labels = collect_scores(model, loader, device, autocast_dtype, progress)
    loss = F.nll_loss(scores.clamp_min(1e-12).log(), labels).item()
    return metrics_from_scores(scores, labels, num_classes, loss)
