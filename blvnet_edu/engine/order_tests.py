"""Order diagnostics: how much does a trained model depend on the order of its frames?

The paper's Figure 1 in one measurement each. On the same clips, the model is evaluated as
they are, played backwards, with their frame pairs shuffled (each pair `(x_0, x_1),
(x_2, x_3), ...` kept intact, the pairs put in a random order) and with their two halves
swapped (the cut between two pairs):

| model                | reversed clips        | shuffled pairs, halves swapped |
|----------------------|-----------------------|--------------------------------|
| TSN (bag of frames)  | no prediction changes | no prediction changes          |
| bLVNet without TAM   | predictions change    | no prediction changes          |
| bLVNet-TAM           | predictions change    | predictions change             |

A model that needs frame order loses accuracy on the modified clips (the "shuffle test" of
the temporal-modelling literature); one whose accuracy stays put did not need the order for
that data, whatever its architecture could do. The reorderings themselves are pure tensor
functions in `data/order.py`; this module runs them over a whole clip list.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from ..data.order import ORDER_TESTS

__all__ = ["order_scores", "order_report"]


@torch.inference_mode()
def order_scores(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    tests: dict[str, Callable] | None = None,
    seed: int = 0,
    autocast_dtype: torch.dtype | None = None,
    progress=lambda it: it,
) -> tuple[dict[str, Tensor], Tensor]:
    """Class probabilities `(N, K)` for the clips as they are (`"original"`) and under each
    test, from one pass over the data (each video decoded once), and labels `(N,)`.

    Items may hold several views `(V, T, 3, H, W)`; their probabilities are averaged.
    """
    tests = ORDER_TESTS if tests is None else tests
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    scores: dict[str, list[Tensor]] = {"original": [], **{name: [] for name in tests}}
    labels = []
    for videos, target in progress(loader):
        views = videos.shape[1] if videos.ndim == 6 else 1
        variants = {"original": videos, **{name: test(videos, generator) for name, test in tests.items()}}
        for name, clips in variants.items():
            flat = clips.to(device, non_blocking=True)
            flat = flat.flatten(0, 1) if flat.ndim == 6 else flat  # (B*V, T, 3, H, W)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(flat).float()
            scores[name].append(logits.softmax(-1).unflatten(0, (-1, views)).mean(1).cpu())  # (B, K)
        labels.append(target)
    if not labels:
        raise ValueError("the clip list is empty: nothing to evaluate")
    return {name: torch.cat(s) for name, s in scores.items()}, torch.cat(labels)


def order_report(scores: dict[str, Tensor], labels: Tensor) -> dict[str, dict[str, float]]:
    """Per test: top-1 on the modified clips, its drop from the original top-1, and how
    often the top-1 prediction changed."""
    original = scores["original"].argmax(1)
    top1 = (original == labels).double().mean().item()
    report = {}
    for name, s in scores.items():
        if name == "original":
            continue
        predicted = s.argmax(1)
        accuracy = (predicted == labels).double().mean().item()
        report[name] = {
            "top1": accuracy,
            "top1_drop": top1 - accuracy,
            "prediction_changed": (predicted != original).double().mean().item(),
        }
    return report
