"""The training configuration: one dataclass, read from YAML with `key=value` overrides.

The resolved configuration is written next to the results (`config.yaml`) and inside every
checkpoint, so any run can be repeated from its folder.

Two training recipes (`recipe`), which differ in five settings, each a key of its own
(`RECIPES`): `ours` (the default) and `authors`, what the authors' code (github
IBM/bLVNet-TAM, `train.py`, `opts.py`, `core/video_utils.py`) does. A key given explicitly
wins over the recipe; the resolved values are what `config.yaml` and the checkpoints hold.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..budget import Limits, check_frames
from ..models.blvnet import MIN_INPUT_SIZE, PRESETS, list_models

__all__ = ["TrainConfig", "load_config", "RECIPES"]

# The settings a recipe decides, per recipe. The authors' values, from github IBM/bLVNet-TAM
# (commit feadcd3): horizontal flip in training (core/video_utils.py:82-86, for every dataset,
# Something-Something included), SGD(model.parameters(), ..., nesterov=True) with one weight
# decay for every parameter (train.py:142-145), CosineAnnealingLR(optimizer, args.epochs,
# eta_min=0) stepped once per epoch, before it (train.py:152, 188-192), no warm-up, and no
# gradient clipping (none in the repository). Their lr 0.01, momentum 0.9, weight decay 5e-4
# and 50 epochs (opts.py:20-29) are our defaults in both recipes.
RECIPES: dict[str, dict[str, Any]] = {
    "ours": {
        "flip": False,
        "nesterov": False,
        "decay_norm_and_bias": False,
        "schedule_per": "step",
        "clip_grad_norm": 20.0,
    },
    "authors": {
        "flip": True,
        "nesterov": True,
        "decay_norm_and_bias": True,
        "schedule_per": "epoch",
        "clip_grad_norm": None,
    },
}


class _FromRecipe:
    """The default of a setting the recipe decides (resolved in `TrainConfig.__post_init__`)."""

    def __repr__(self) -> str:
        return "<from recipe>"


FROM_RECIPE: Any = _FromRecipe()


@dataclass
class TrainConfig:
    """Everything a training run needs; `load_config` reads it from YAML and overrides.

    `recipe` chooses the values of five settings that are left unset (`RECIPES`):

    | setting               | `ours` (default)              | `authors` (IBM/bLVNet-TAM)          |
    |-----------------------|-------------------------------|-------------------------------------|
    | `flip`                | False: no horizontal flip     | True: flip half the training clips  |
    | `nesterov`            | False: plain momentum         | True: Nesterov momentum             |
    | `decay_norm_and_bias` | False: no decay on 1-D params | True: decay on every parameter      |
    | `schedule_per`        | "step": cosine per update     | "epoch": cosine per epoch           |
    | `clip_grad_norm`      | 20.0                          | None (no clipping)                  |

    These are our choices, not the paper's: flip is off because direction-sensitive labels
    ("moving left", "pushing something from left to right") change under it; no decay on
    BatchNorm and biases, a per-step schedule (with optional `warmup_epochs`) and clipping are
    common practice for small batches and stability, not measured here. A setting given
    explicitly wins over the recipe (`recipe: authors` with `flip: false`). Once built, every
    setting holds its resolved value (`to_dict`, `config.yaml`, checkpoints), so
    `TrainConfig(**cfg.to_dict()) == cfg`; `dataclasses.replace(cfg, recipe=...)` keeps the
    resolved settings, build a new config to change recipe. `warmup_epochs` is 0 in both
    recipes; with `schedule_per: epoch` it must be a whole number of epochs.
    """

    # model
    model: str = "blvnet_tam_tiny"
    model_options: dict[str, Any] = field(default_factory=dict)  # build_model overrides
    pretrained: str | None = None  # ImageNet bLResNet (or torchvision ResNet) weights file
    # data: a folder with train.csv, val.csv, classes.txt (see blvnet_edu.data.lists)
    data: str = "data/synthetic"
    size: int = 224  # crop size
    resize: int = 256  # evaluation: short side before the centre crop
    scales: tuple[float, ...] = (1.0, 0.875, 0.75, 0.66)  # training multi-scale crop
    flip: bool = FROM_RECIPE  # ours: off, it changes direction-sensitive labels; authors: on
    stride: int | None = None  # dense sampling stride; None = TSN segment sampling
    eval_clips: int = 1
    eval_crops: int = 1
    # optimisation: SGD, cosine schedule to zero; `recipe` decides the settings marked FROM_RECIPE
    recipe: str = "ours"  # ours or authors (RECIPES)
    epochs: int = 50
    batch_size: int = 8  # per process
    accumulate: int = 1  # gradient accumulation steps
    lr: float = 0.01  # for the global batch (batch_size x processes x accumulate)
    momentum: float = 0.9
    nesterov: bool = FROM_RECIPE  # Nesterov momentum
    weight_decay: float = 5e-4
    decay_norm_and_bias: bool = FROM_RECIPE  # weight decay on 1-D parameters (BatchNorm, biases) too
    schedule_per: str = FROM_RECIPE  # step: cosine per optimizer update; epoch: once per epoch
    warmup_epochs: float = 0.0  # linear warm-up (whole epochs with schedule_per: epoch)
    clip_grad_norm: float | None = FROM_RECIPE  # None: no clipping
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
        self._resolve_recipe()
        self._check_types()
        self.scales = tuple(self.scales)
        self._check_ranges()
        self._check_model()

    def _resolve_recipe(self) -> None:
        """Each setting left unset takes the recipe's value."""
        if not isinstance(self.recipe, str) or self.recipe not in RECIPES:
            raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        for name, value in RECIPES[self.recipe].items():
            if getattr(self, name) is FROM_RECIPE:
                setattr(self, name, value)

    def _check_ranges(self) -> None:
        """Each value in its range (sizes within `budget.Limits().max_input_size`): a run that
        cannot work is refused before anything is built or read."""
        largest = Limits().max_input_size

        def refuse(name: str, expected: str) -> None:
            raise ValueError(f"{name} must be {expected}, got {getattr(self, name)!r}")

        if self.precision not in ("fp32", "bf16", "fp16"):
            refuse("precision", "fp32, bf16 or fp16")
        for name in ("epochs", "batch_size", "accumulate", "eval_clips"):
            if getattr(self, name) < 1:
                refuse(name, ">= 1")
        for name in ("stride", "threads", "max_steps_per_epoch"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                refuse(name, ">= 1 or empty")
        if self.eval_crops not in (1, 3):
            refuse("eval_crops", "1 or 3")
        if not MIN_INPUT_SIZE <= self.size <= largest:
            refuse("size", f"between {MIN_INPUT_SIZE} and {largest} pixels (Limits.max_input_size)")
        if not self.size <= self.resize <= largest:
            refuse(
                "resize", f"between size ({self.size}) and {largest} pixels (the short side before the crop)"
            )
        if not self.scales or not all(0 < s <= 1 for s in self.scales):
            refuse("scales", "a list of crop scales in (0, 1]")
        finite = {name: getattr(self, name) for name in ("lr", "momentum", "weight_decay", "warmup_epochs")}
        for name, value in [*finite.items(), ("clip_grad_norm", self.clip_grad_norm or 0.0)]:
            if not math.isfinite(value):
                refuse(name, "a finite number")
        if not self.lr > 0:
            refuse("lr", "> 0")
        if not 0 <= self.momentum < 1:
            refuse("momentum", "in [0, 1)")
        for name in ("weight_decay", "warmup_epochs", "workers"):
            if getattr(self, name) < 0:
                refuse(name, ">= 0")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            refuse("clip_grad_norm", "> 0 or empty (no clipping)")
        if self.nesterov and not self.momentum > 0:
            refuse("momentum", "> 0 with nesterov: true (Nesterov momentum needs a momentum)")
        if self.schedule_per not in ("step", "epoch"):
            refuse("schedule_per", "step or epoch")
        if self.schedule_per == "epoch" and self.warmup_epochs != int(self.warmup_epochs):
            refuse("warmup_epochs", "a whole number of epochs with schedule_per: epoch")

    def _check_model(self) -> None:
        """`model` a preset and `model_options` fields of its config, each of the field's
        type (`model_options.num_frames=x` names the key, not a `TypeError` inside the model),
        the frames within `budget.check_frames`."""
        if self.model not in PRESETS:
            raise ValueError(f"model must be one of {', '.join(list_models())}, got {self.model!r}")
        preset = PRESETS[self.model]
        fields = {f.name for f in dataclasses.fields(preset)} - {"name", "num_classes"}
        if "num_classes" in self.model_options:
            raise ValueError(
                "model_options.num_classes cannot be set: the classes come from the data's classes.txt"
            )
        unknown = sorted(set(self.model_options) - fields)
        if unknown:
            raise ValueError(f"unknown model_options {unknown} for {self.model}; known: {sorted(fields)}")
        options = dict(self.model_options)
        for key, value in options.items():
            default, name = getattr(preset, key), f"model_options.{key}"
            if default is None or isinstance(default, str):
                ok, expected = value is None or isinstance(value, str), "text"
            elif isinstance(default, int):
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
                expected = "a whole number >= 1"
            elif isinstance(default, float):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                expected = "a number"
            else:  # layers, widths
                ok = isinstance(value, (list, tuple)) and all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value
                )
                expected, options[key] = "a list of whole numbers", tuple(value) if ok else value
            if not ok:
                raise ValueError(f"{name} must be {expected}, got {value!r}")
        try:
            config = dataclasses.replace(preset, **options)
        except ValueError as err:
            raise ValueError(f"model_options: {err}") from err
        try:
            check_frames(config.num_frames, Limits(), pairs=config.frame_routing == "pairs")
        except ValueError as err:
            raise ValueError(f"model_options.num_frames: {err}") from err

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
        for depth, key in enumerate(keys[:-1]):
            target = target.setdefault(key, {})
            if not isinstance(target, dict):
                where = ".".join(keys[: depth + 1])
                raise ValueError(f"override {item!r}: {where} is not a mapping (it is {target!r})")
        target[keys[-1]] = value
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {sorted(known)}")
    return TrainConfig(**values)
