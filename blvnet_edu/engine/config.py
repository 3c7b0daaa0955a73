"""The training configuration: one dataclass, read from YAML with `key=value` overrides.

The resolved configuration is written next to the results (`config.yaml`) and inside every
checkpoint, so any run can be repeated from its folder.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["TrainConfig", "load_config"]


@dataclass
class TrainConfig:
    # model
    model: str = "blvnet_tam_tiny"
    model_options: dict[str, Any] = field(default_factory=dict)  # build_model overrides
    pretrained: str | None = None  # ImageNet bLResNet (or torchvision ResNet) weights file
    # data: a folder with train.csv, val.csv, classes.txt (see blvnet_edu.data.lists)
    data: str = "data/synthetic"
    size: int = 224  # crop size
    resize: int = 256  # evaluation: short side before the centre crop
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)  # training multi-scale crop
    flip: bool = False  # off: it changes direction-sensitive labels
    stride: int | None = None  # dense sampling stride; None = TSN segment sampling
    eval_clips: int = 1
    eval_crops: int = 1
    # optimisation (the paper: SGD, momentum 0.9, cosine schedule, weight decay 5e-4)
    epochs: int = 50
    batch_size: int = 8  # per process
    accumulate: int = 1  # gradient accumulation steps
    lr: float = 0.01  # for the global batch (batch_size x processes x accumulate)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: float = 0.0
    clip_grad_norm: float | None = 20.0
    freeze_bn: bool = False  # keep BatchNorm statistics and affine fixed (small batches)
    # execution
    device: str = "auto"  # auto, cpu, cuda, cuda:1, ...
    precision: str = "fp32"  # fp32, bf16, fp16 (autocast; fp16 with a gradient scaler)
    channels_last: bool = False
    compile: bool = False
    workers: int = 2
    threads: int | None = None  # CPU threads per process (None: torch's default)
    seed: int = 0
    max_steps_per_epoch: int | None = None  # cut epochs short (smoke tests)
    out: str = "runs/default"

    def __post_init__(self) -> None:
        self._check_types()
        self.scales = tuple(self.scales)
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise ValueError(f"precision must be fp32, bf16 or fp16, got {self.precision!r}")
        for name in ("epochs", "batch_size", "accumulate", "size", "resize", "eval_clips"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_crops not in (1, 3):
            raise ValueError(f"eval_crops must be 1 or 3, got {self.eval_crops}")

    def _check_types(self) -> None:
        """Each value of the type its field declares (YAML reads `lr=abc` as a string,
        `epochs=1.5` as a float)."""
        kinds = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}
        for f in dataclasses.fields(self):
            value, declared = getattr(self, f.name), str(f.type)
            base = declared.removesuffix(" | None")
            if value is None and declared.endswith("| None"):
                continue
            if base == "str" and isinstance(value, os.PathLike):  # data=Path(...), out=tmp_path / "run"
                value = os.fspath(value)
                setattr(self, f.name, value)
            expected = kinds.get(base)
            bad_bool = isinstance(value, bool) and base in ("int", "float")
            if expected is not None and (bad_bool or not isinstance(value, expected)):
                raise ValueError(
                    f"{f.name} must be {base}{' or empty' if declared != base else ''}, got {value!r}"
                )
            if base.startswith("dict") and not isinstance(value, dict):
                raise ValueError(f"{f.name} must be a mapping (key: value), got {value!r}")
            if base.startswith("tuple") and not (
                isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value)
            ):
                raise ValueError(f"{f.name} must be a list of numbers, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scales"] = list(self.scales)
        return d


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ValueError(f"overrides look like key=value, got {item!r}")
    key, value = item.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as err:
        raise ValueError(f"override {item!r}: the value is not valid YAML") from err
    return key.strip().split("."), parsed


def load_config(path: str | Path | None = None, overrides: list[str] = ()) -> TrainConfig:
    """A `TrainConfig` from an optional YAML file, then `key=value` overrides
    (`epochs=3`, `model_options.num_frames=16`)."""
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"{path}{where}: not valid YAML ({problem})") from err
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: not UTF-8 text") from err
        if not isinstance(values, dict):
            raise ValueError(f"{path}: a config is a mapping of keys to values")
    for item in overrides:
        keys, value = _parse_override(item)
        target = values
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = value
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {sorted(known)}")
    return TrainConfig(**values)
