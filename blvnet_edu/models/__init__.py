"""bLVNet-TAM, its parts and its baselines; see `blvnet.py` for the skeleton and `fast/` for the speed."""

from .blnet import BLLayer0, BLModule
from .blocks import Bottleneck, make_layer
from .blvnet import PRESETS, BLVNetConfig, VideoNet, build_model, list_models
from .checkpoints import (
    CheckpointMismatchError,
    LoadReport,
    load_imagenet_backbone,
    load_official_checkpoint,
)
from .tam import TAM
from .temporal import PAIRS, SINGLE_FRAMES, FrameRouting, fold_time, unfold_time

__all__ = [
    "BLLayer0",
    "BLModule",
    "BLVNetConfig",
    "Bottleneck",
    "CheckpointMismatchError",
    "FrameRouting",
    "LoadReport",
    "PAIRS",
    "PRESETS",
    "SINGLE_FRAMES",
    "TAM",
    "VideoNet",
    "build_model",
    "fold_time",
    "list_models",
    "load_imagenet_backbone",
    "load_official_checkpoint",
    "make_layer",
    "unfold_time",
]
