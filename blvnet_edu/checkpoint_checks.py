"""A checkpoint's contents checked as data, before anything is built from them.

A checkpoint is a few kilobytes that can ask for anything: 100,000 blocks in a stage, 300
million classes, a crop of 100,000 pixels, NaN weights, class names that merge in a top-5.
Every reader (`load_predictor`, the CLI, the app, `--resume`) goes through these checks, in
this order, and nothing is allocated until they pass:

| check                 | refuses                                                       |
|-----------------------|---------------------------------------------------------------|
| `structure_bytes`     | (with `Limits`) a pickled structure larger than any checkpoint |
|                       | within the limits needs, before it is unpickled               |
| `BLVNetConfig`        | a field of the wrong type or out of range (`num_frames="x"`) |
| `check_classes`       | classes that are not a list of distinct, non-empty names      |
| `check_preprocessing` | `size`/`resize`/`stride` that are not whole numbers in range  |
| `check_weights`       | names that are not strings, values that are not tensors, NaN  |
|                       | or infinite values                                            |
| `check_budget`        | (with `Limits`) classes, parameters, frames, input size and   |
|                       | GFLOPs per clip over the limits, counted by arithmetic from   |
|                       | the config (`models.cost`): a 2 KB file declaring a billion   |
|                       | blocks is refused in microseconds                             |

Each raises `ValueError` (`budget.BudgetError` for the limits) with a message that names
the file, the field and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from .budget import BudgetError, Limits, check_frames
from .models.blvnet import MIN_INPUT_SIZE, BLVNetConfig
from .models.cost import config_gflops, config_params

__all__ = ["check_classes", "check_preprocessing", "check_weights", "check_budget", "structure_bytes"]


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_classes(classes: Any, num_classes: int | None, source: str) -> list[str]:
    """The class names as a list: distinct non-empty strings, `num_classes` of them if given."""
    if not isinstance(classes, (list, tuple)):
        raise ValueError(f"{source}: `classes` must be a list of class names, got {type(classes).__name__}")
    bad = [i for i, name in enumerate(classes) if not isinstance(name, str) or not name.strip()]
    if bad:
        raise ValueError(
            f"{source}: class names must be non-empty strings; entry {bad[0]} is {classes[bad[0]]!r}"
        )
    seen: dict[str, int] = {}
    for i, name in enumerate(classes):
        if name in seen:
            raise ValueError(
                f"{source}: the class name {name!r} appears twice (entries {seen[name]} and {i}); "
                "each class needs its own name"
            )
        seen[name] = i
    if num_classes is not None and len(classes) != num_classes:
        raise ValueError(f"{source}: {len(classes)} class names for a model of {num_classes} classes")
    return list(classes)


def check_preprocessing(values: Any, source: str) -> dict[str, int | None]:
    """`{size, resize, stride}`, each a whole number in range (`size` >= 32, `resize` >= `size`,
    `stride` >= 1 or None); missing keys are left out (the defaults apply)."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{source}: `preprocessing` must be a mapping, got {type(values).__name__}")
    checked: dict[str, int | None] = {}
    for key, least in (("size", MIN_INPUT_SIZE), ("resize", MIN_INPUT_SIZE), ("stride", 1)):
        value = values.get(key)
        if value is None:
            continue
        if not _whole(value) or value < least:
            raise ValueError(
                f"{source}: preprocessing {key} must be a whole number >= {least}, got {value!r}"
            )
        checked[key] = value
    if "size" in checked and "resize" in checked and checked["resize"] < checked["size"]:
        raise ValueError(
            f"{source}: preprocessing resize ({checked['resize']}) is smaller than the crop "
            f"size ({checked['size']})"
        )
    return checked


def check_weights(weights: Any, source: str) -> dict[str, Tensor]:
    """`{name: tensor}` with every floating-point value finite."""
    if not isinstance(weights, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in weights.items()
    ):
        raise ValueError(f"{source}: `model` must map parameter names to tensors")
    bad = [
        name
        for name, tensor in weights.items()
        if (tensor.is_floating_point() or tensor.is_complex()) and not bool(torch.isfinite(tensor).all())
    ]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ValueError(f"{source}: the weights hold NaN or infinite values ({shown})")
    return dict(weights)


def structure_bytes(limits: Limits) -> int:
    """The most a checkpoint's pickled structure (`data.pkl`) may take within `limits`: 1 MB
    for keys, config and training state, and 300 bytes per class (its name and its per-class
    metrics). A bLVNet-TAM-101 `last.pt` of 174 classes (optimizer and all) holds 0.15 MB."""
    return 1_000_000 + 300 * limits.max_classes


def check_budget(
    config: BLVNetConfig, num_classes: int, size: int, num_frames: int, limits: Limits, source: str
) -> None:
    """Refuse a network over `limits` (classes, parameters, frames, input size, GFLOPs of one
    clip of `num_frames` at `size` px), counted by arithmetic before anything is built."""
    if num_classes > limits.max_classes:
        raise BudgetError(f"{source} declares {num_classes} classes; the limit is {limits.max_classes}")
    params = config_params(config)
    if params > limits.max_params_m * 1e6:
        raise BudgetError(
            f"{source} describes a network of {params / 1e6:,.0f}M parameters; the limit is "
            f"{limits.max_params_m:g}M"
        )
    if size > limits.max_input_size:
        raise BudgetError(f"{source} takes {size}x{size} input; the limit is {limits.max_input_size}")
    try:
        check_frames(num_frames, limits, pairs=config.frame_routing == "pairs")
    except BudgetError as err:
        raise BudgetError(f"{source}: {err}") from None
    gflops = config_gflops(config, size, num_frames)
    if gflops > limits.max_clip_gflop:
        raise BudgetError(
            f"{source} costs {gflops:,.0f} GFLOPs per clip of {num_frames} frames at {size} px; "
            f"the limit is {limits.max_clip_gflop:g}"
        )
