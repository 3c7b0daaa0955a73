"""blvnet-edu: bLVNet-TAM (Fan et al., NeurIPS 2019), readable and complete."""

from .inference import load_predictor, predict
from .models import (
    BLVNetConfig,
    CheckpointMismatchError,
    VideoNet,
    build_model,
    list_models,
    load_imagenet_backbone,
    load_official_checkpoint,
)
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
