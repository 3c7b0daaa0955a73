"""blvnet-edu: bLVNet-TAM (Fan et al., NeurIPS 2019), readable and complete.

`import blvnet_edu` and `build_model` need only torch: the names that read clips and
checkpoints (`load_predictor`, `predict`, `SavedRun`) are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .models import (
    BLVNetConfig,
    CheckpointMismatchError,
    VideoNet,
    build_model,
    list_models,
    load_imagenet_backbone,
    load_official_checkpoint,
)

if TYPE_CHECKING:
    from .inference import load_predictor, predict
    from .saved_run import SavedRun

__version__ = "0.1.0"

__all__ = [
    "BLVNetConfig",
    "CheckpointMismatchError",
    "VideoNet",
    "build_model",
    "list_models",
    "load_imagenet_backbone",
    "load_official_checkpoint",
    "load_predictor",
    "predict",
    "SavedRun",
]

_LAZY = {"load_predictor": "inference", "predict": "inference", "SavedRun": "saved_run"}


def __getattr__(name: str):
    """`load_predictor`, `predict` and `SavedRun`, imported on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
