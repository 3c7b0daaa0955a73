"""bLVNet-TAM, its parts and its baselines; see `blvnet.py` for the skeleton."""

from .blnet import BLLayer0, BLModule
from .blocks import Bottleneck, make_layer
from .blvnet import PRESETS, BLVNetConfig, VideoNet, build_model, list_models
from .checkpoints import (
    CheckpointMismatchError,
    LoadReport,
    load_imagenet_backbone,
    load_official_checkpoint,
)
from .tam import TAM, TAMReference
from .temporal import FrameRouting, PairRouting, fold_time, unfold_time

__all__ = [
    "BLLayer0",
    "BLModule",
    "BLVNetConfig",
    "Bottleneck",
    "CheckpointMismatchError",
    "FrameRouting",
    "LoadReport",
    "PRESETS",
    "PairRouting",
    "TAM",
    "TAMReference",
    "VideoNet",
    "build_model",
    "fold_time",
    "list_models",
    "load_imagenet_backbone",
    "load_official_checkpoint",
    "make_layer",
    "unfold_time",
]
