"""A saved run: what a blvnet-edu checkpoint holds, and the one place that writes and reads it.

Training writes `best.pt` and `last.pt` through `SavedRun.save`; the CLI, the app, the
notebooks and `--resume` read them through `SavedRun.load`. A file is a `torch.save`d dict:

| key                   | holds                                                        | in          |
|-----------------------|--------------------------------------------------------------|-------------|
| `format`              | `"blvnet-edu/1"`                                             | every file  |
| `model`               | the weights, `{name: tensor}` (`SavedRun.weights`)           | every file  |
| `model_config`        | `BLVNetConfig.to_dict()`: the network rebuilds from the file | every file  |
| `classes`             | class names, in the classifier's order                       | every file  |
| `weights_sha256`      | sha256 of the weights (see `weights_digest`)                 | new files   |
| `preprocessing`       | `{size, resize, stride}`; older files: from `train_config`   | new files   |
| `train_config`        | the run's resolved `TrainConfig.to_dict()`                   | runs        |
| `epoch`               | the last finished epoch (0-based)                            | runs        |
| `metrics`             | that epoch's validation metrics                              | `best.pt`   |
| `optimizer`, `scheduler`, `scaler` | their state dicts                               | `last.pt`   |
| `rng`                 | every random generator's state (`engine.checkpointing`)      | `last.pt`   |
| `best_top1`           | the best validation top-1 so far                             | `last.pt`   |

`last.pt` holds what `--resume` restores; `best.pt` the best epoch's weights and metrics.

Files are written atomically (a temporary file, then a rename: a killed process never
leaves a broken file) and read with `models.checkpoints.load_file` (`weights_only=True`: no
code runs). The digest catches weights changed after saving (a flipped bit, an edit); files
written before it existed, such as the bundled `app/demo/*.pt`, load without the check.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .models.blvnet import BLVNetConfig, VideoNet
from .models.checkpoints import CheckpointMismatchError, load_file

__all__ = ["FORMAT", "Preprocessing", "SavedRun", "weights_digest"]

FORMAT = "blvnet-edu/1"
REQUIRED = ("model", "model_config", "classes")
TRAINING_STATE = ("epoch", "metrics", "optimizer", "scheduler", "scaler", "rng", "best_top1")


@dataclass(frozen=True)
class Preprocessing:
    """Evaluation preprocessing: short side resized to `resize`, centre crop of `size`,
    TSN segment sampling (`stride=None`) or dense sampling every `stride` frames."""

    size: int = 224
    resize: int = 256
    stride: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessing:
        """From a `preprocessing` entry or a training config; missing keys take the defaults."""
        default = cls()
        return cls(d.get("size") or default.size, d.get("resize") or default.resize, d.get("stride"))


def weights_digest(weights: Mapping[str, Tensor]) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in sorted name order."""
    digest = hashlib.sha256()
    for name in sorted(weights):
        tensor = weights[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


@dataclass
class SavedRun:
    """A trained network with what it needs to be used again: config, classes, preprocessing,
    weights, the training config and, for `last.pt`, the state that `--resume` restores."""

    config: BLVNetConfig
    classes: list[str]
    weights: dict[str, Tensor]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    train_config: dict[str, Any] = field(default_factory=dict)
    epoch: int | None = None
    metrics: dict[str, Any] | None = None
    optimizer: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    scaler: dict[str, Any] | None = None
    rng: dict[str, Any] | None = None
    best_top1: float | None = None
    source: Path | None = field(default=None, compare=False, repr=False)  # the file it was loaded from

    def save(self, path: str | Path) -> Path:
        """Write the run to `path` atomically, with the digest of its weights."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload: dict[str, Any] = {
            "format": FORMAT,
            "model": self.weights,
            "weights_sha256": weights_digest(self.weights),
            "model_config": self.config.to_dict(),
            "classes": list(self.classes),
            "preprocessing": dataclasses.asdict(self.preprocessing),
            "train_config": self.train_config,
        }
        payload.update({k: getattr(self, k) for k in TRAINING_STATE if getattr(self, k) is not None})
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            torch.save(payload, tmp)
            os.replace(tmp, path)
        except (
            RuntimeError
        ) as err:  # torch's writer reports a full disk as "iostream error" or "unexpected pos"
            raise OSError(
                errno.ENOSPC,
                "could not write the checkpoint (is the disk full?); the previous file, if any, is unchanged",
                str(path),
            ) from err
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SavedRun:
        """Read a blvnet-edu checkpoint.

        Raises:
            FileNotFoundError: no file at `path`.
            ValueError: not a blvnet-edu checkpoint, a required key missing, an invalid model
                config, or weights that do not match the digest stored in the file.
        """
        path = Path(path)
        return cls.from_payload(load_file(path), path)

    @staticmethod
    def holds(payload: Any) -> bool:
        """Whether a loaded file (`models.checkpoints.load_file`) is a blvnet-edu checkpoint."""
        return isinstance(payload, dict) and payload.get("format") == FORMAT

    @classmethod
    def from_payload(cls, payload: Any, path: str | Path) -> SavedRun:
        """`load` for a file already read with `load_file`; `path` names it in errors."""
        path = Path(path)
        if not cls.holds(payload):
            raise ValueError(
                f"{path} is not a blvnet-edu checkpoint (for the authors' released files use "
                "blvnet_edu.inference.load_predictor or blvnet_edu.load_official_checkpoint)"
            )
        missing = [key for key in REQUIRED if key not in payload]
        if missing:
            raise ValueError(f"{path} is an incomplete blvnet-edu checkpoint: it lacks {', '.join(missing)}")
        weights = payload["model"]
        if not isinstance(weights, Mapping) or not all(isinstance(v, Tensor) for v in weights.values()):
            raise ValueError(f"{path}: `model` must map parameter names to tensors")
        stored = payload.get("weights_sha256")
        if stored is not None and stored != weights_digest(weights):
            raise ValueError(
                f"{path}: the weights do not match the digest stored in the file "
                "(the file is corrupt or was edited)"
            )
        try:
            config = BLVNetConfig.from_dict(payload["model_config"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err
        train_config = payload.get("train_config") or {}
        return cls(
            config=config,
            classes=list(payload["classes"]),
            weights=dict(weights),
            preprocessing=Preprocessing.from_dict(payload.get("preprocessing") or train_config),
            train_config=train_config,
            **{key: payload.get(key) for key in TRAINING_STATE},
            source=path,
        )

    def build_model(self) -> VideoNet:
        """The network with these weights, in eval mode.

        Raises:
            CheckpointMismatchError: the weights do not fit the saved model config.
        """
        model = VideoNet(self.config)
        try:
            model.load_state_dict(self.weights)
        except RuntimeError as err:
            raise CheckpointMismatchError(
                f"{self.source or 'saved run'}: the weights do not fit the saved model config: {err}"
            ) from err
        return model.eval()
