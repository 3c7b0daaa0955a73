"""Checkpoints of this project: written atomically, loaded with `weights_only=True`.

A training checkpoint holds the model, optimizer, scheduler, gradient scaler, the epoch just
finished, every random generator's state, the training config, the model config and the
class names, so `--resume` continues exactly where training stopped and `load_model` can
rebuild the network from the file alone.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.blvnet import BLVNetConfig, VideoNet
from ..models.checkpoints import CheckpointMismatchError

__all__ = [
    "FORMAT",
    "config_to_dict",
    "config_from_dict",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "model_from_payload",
    "rng_state",
    "set_rng_state",
    "unwrap",
]

FORMAT = "blvnet-edu/1"


def rng_state() -> dict[str, Any]:
    """Every random generator the training run touches (only tensors and plain values)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def config_to_dict(config: BLVNetConfig) -> dict[str, Any]:
    """A model config as plain values (tuples as lists), for checkpoints."""
    d = dict(config.__dict__)
    d["layers"], d["widths"] = list(config.layers), list(config.widths)
    return d


def config_from_dict(d: dict[str, Any]) -> BLVNetConfig:
    return BLVNetConfig(**{**d, "layers": tuple(d["layers"]), "widths": tuple(d["widths"])})


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write to a temporary file, then rename: a killed process never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save({"format": FORMAT, **payload}, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise ValueError(f"could not read {path} as a PyTorch checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(
            f"{path} is not a blvnet-edu checkpoint (for the authors' released files use "
            "blvnet_edu.load_official_checkpoint)"
        )
    return payload


def model_from_payload(payload: dict[str, Any], source: str | Path = "checkpoint") -> VideoNet:
    """The network stored in a loaded blvnet-edu checkpoint, in eval mode."""
    model = VideoNet(config_from_dict(payload["model_config"]))
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as err:
        raise CheckpointMismatchError(f"{source}: the weights do not fit the saved model config: {err}") from err
    return model.eval()


def load_model(path: str | Path) -> tuple[VideoNet, list[str]]:
    """Rebuild the network saved in a blvnet-edu checkpoint: `(model in eval mode, classes)`."""
    payload = load_checkpoint(path)
    return model_from_payload(payload, path), list(payload["classes"])


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP and/or torch.compile wrappers."""
    model = getattr(model, "_orig_mod", model)
    return getattr(model, "module", model)
