"""A saved run: what a blvnet-edu checkpoint holds, and the one place that writes and reads it.

Training writes `best.pt` and `last.pt` through `SavedRun.save`; the CLI, the app, the
notebooks and `--resume` read them through `SavedRun.load`. A file is a `torch.save`d dict:

| key                   | holds                                                        | in          |
|-----------------------|--------------------------------------------------------------|-------------|
| `format`              | `"blvnet-edu/2"` (`/1`: files written before the full digest) | every file  |
| `model`               | the weights, `{name: tensor}` (`SavedRun.weights`)           | every file  |
| `model_config`        | `BLVNetConfig.to_dict()`: the network rebuilds from the file | every file  |
| `classes`             | class names, in the classifier's order                       | every file  |
| `sha256`              | sha256 of everything else in the file (`payload_digest`)     | every file  |
| `preprocessing`       | `{size, resize, stride}`; older files: from `train_config`   | new files   |
| `train_config`        | the run's resolved `TrainConfig.to_dict()`                   | runs        |
| `epoch`               | the last finished epoch (0-based)                            | runs        |
| `metrics`             | that epoch's validation metrics                              | runs        |
| `optimizer`, `scheduler`, `scaler` | their state dicts                               | `last.pt`   |
| `rng`                 | every random generator's state (`engine.checkpointing`)      | `last.pt`   |
| `best_top1`           | the best validation top-1 so far                             | `last.pt`   |

`last.pt` holds what `--resume` restores; `best.pt` the best epoch's weights and metrics.

Files are written atomically (a temporary file, then a rename: a killed process never
leaves a broken file) and read with `models.checkpoints.load_file` (`weights_only=True`: no
code runs; the zip archive's CRC-32s are tested first). The digest covers the whole file:
config, classes, preprocessing, weights, optimizer, random state and training state, so a
flipped bit or an edit anywhere is refused, including one to the optimizer's momentum that
would otherwise resume a run silently ruined. It is required: a file of our format without
it (or a `blvnet-edu/1` file, whose digest `weights_sha256` covered the weights only) loads
only with `allow_unverified=True` (CLI: `--allow-unverified`); to give such a file a full
digest, `SavedRun.load(path, allow_unverified=True).save(path)`. Then every field is checked
as data (`checkpoint_checks`) before a network is built.
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

from .checkpoint_checks import check_classes, check_preprocessing, check_weights
from .models.blvnet import BLVNetConfig, VideoNet
from .models.checkpoints import CheckpointMismatchError, load_file

__all__ = [
    "FORMAT",
    "Preprocessing",
    "SavedRun",
    "payload_digest",
    "weights_digest",
    "UnverifiedCheckpointError",
]

FORMAT = "blvnet-edu/2"
LEGACY_FORMAT = "blvnet-edu/1"  # the digest (`weights_sha256`) covers the weights only
OUR_KEYS = ("model_config", "sha256", "weights_sha256")  # a file with one of these is ours
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
    def from_dict(cls, d: Mapping[str, Any], source: str = "preprocessing") -> Preprocessing:
        """From a `preprocessing` entry or a training config; missing keys take the defaults.

        Raises:
            ValueError: a value that is not a whole number in range (`checkpoint_checks`)."""
        checked = check_preprocessing(d, source)
        default = cls()
        size = checked.get("size", default.size)
        resize = checked.get("resize", max(default.resize, size))
        return cls(size, resize, checked.get("stride"))


class UnverifiedCheckpointError(ValueError):
    """A blvnet-edu checkpoint without a digest of the whole file (`allow_unverified` loads it)."""


def _feed(digest, value: Any) -> None:
    """Add `value` to `digest` in a form that tells every type and structure apart."""
    if isinstance(value, Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, Mapping):
        digest.update(f"D{len(value)}\0".encode())
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            _feed(digest, key)
            _feed(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__[0]}{len(value)}\0".encode())
        for item in value:
            _feed(digest, item)
    elif value is None or isinstance(value, (bool, int, float, str, bytes, torch.dtype, torch.device)):
        digest.update(f"{type(value).__name__}:{value!r}\0".encode())
    else:
        raise TypeError(f"cannot digest a {type(value).__name__} in a checkpoint")


def payload_digest(payload: Mapping[str, Any]) -> str:
    """sha256 of everything in a checkpoint's dict but its `sha256` entry: every key and value,
    tensors by dtype, shape and bytes, dicts in sorted key order."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != "sha256"})
    return digest.hexdigest()


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
            "model_config": self.config.to_dict(),
            "classes": list(self.classes),
            "preprocessing": dataclasses.asdict(self.preprocessing),
            "train_config": self.train_config,
        }
        payload.update({k: getattr(self, k) for k in TRAINING_STATE if getattr(self, k) is not None})
        payload["sha256"] = payload_digest(payload)
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
    def load(cls, path: str | Path, allow_unverified: bool = False) -> SavedRun:
        """Read a blvnet-edu checkpoint.

        Raises:
            FileNotFoundError: no file at `path`.
            UnverifiedCheckpointError: a file of ours without a digest of the whole file
                (unless `allow_unverified`).
            ValueError: not a blvnet-edu checkpoint, a required key missing, contents that do
                not match the file's digest, or a field that is not valid (`checkpoint_checks`).
        """
        path = Path(path)
        return cls.from_payload(load_file(path), path, allow_unverified)

    @staticmethod
    def holds(payload: Any) -> bool:
        """Whether a loaded file (`models.checkpoints.load_file`) is a blvnet-edu checkpoint:
        any dict with our `format` or one of our keys (so that a file of ours whose `format`
        was removed is still read, and refused, as ours, not as an authors' state dict)."""
        if not isinstance(payload, dict):
            return False
        marked = isinstance(payload.get("format"), str) and payload["format"].startswith("blvnet-edu")
        return marked or any(key in payload for key in OUR_KEYS)

    @staticmethod
    def verify(payload: Mapping[str, Any], path: Path, allow_unverified: bool = False) -> None:
        """Check the file's digest (see the module's docstring)."""
        found = payload.get("format")
        if found not in (FORMAT, LEGACY_FORMAT):
            raise ValueError(
                f"{path} looks like a blvnet-edu checkpoint but its format is {found!r}; this version "
                f"reads {FORMAT!r} (the file was edited, or written by a newer blvnet-edu)"
            )
        if found == FORMAT and "sha256" in payload:
            if payload["sha256"] != payload_digest(payload):
                raise ValueError(
                    f"{path}: the contents do not match the digest stored in the file (the file is "
                    "corrupt or was edited after saving); use another copy, or retrain"
                )
            return
        if not allow_unverified:
            why = (
                "was written by an earlier blvnet-edu, whose digest covers only the weights"
                if found == LEGACY_FORMAT
                else "has no digest (`sha256`): it was edited, or not written by SavedRun.save"
            )
            raise UnverifiedCheckpointError(
                f"{path} {why}, so a change to its config, classes or training state would go "
                "unnoticed. If you trust it, load it with --allow-unverified (Python: "
                "allow_unverified=True), and save it again to give it a full digest: "
                "SavedRun.load(path, allow_unverified=True).save(path)"
            )
        stored = payload.get("weights_sha256")
        if stored is not None and stored != weights_digest(payload.get("model") or {}):
            raise ValueError(
                f"{path}: the weights do not match the digest stored in the file "
                "(the file is corrupt or was edited)"
            )

    @classmethod
    def from_payload(cls, payload: Any, path: str | Path, allow_unverified: bool = False) -> SavedRun:
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
        cls.verify(payload, path, allow_unverified)
        weights = check_weights(payload["model"], str(path))
        try:
            config = BLVNetConfig.from_dict(payload["model_config"])
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}") from err
        classes = check_classes(payload["classes"], config.num_classes, str(path))
        train_config = payload.get("train_config") or {}
        if not isinstance(train_config, Mapping):
            raise ValueError(f"{path}: `train_config` must be a mapping, got {type(train_config).__name__}")
        preprocessing = payload.get("preprocessing")
        if preprocessing is None:  # older files: the training config's
            preprocessing = {k: train_config.get(k) for k in ("size", "resize", "stride")}
        epoch = payload.get("epoch")
        if epoch is not None and (not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0):
            raise ValueError(f"{path}: `epoch` must be a whole number >= 0, got {epoch!r}")
        return cls(
            config=config,
            classes=classes,
            weights=weights,
            preprocessing=Preprocessing.from_dict(preprocessing, f"{path}"),
            train_config=dict(train_config),
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
