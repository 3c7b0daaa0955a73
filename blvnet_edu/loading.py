"""Any checkpoint to a network: a blvnet-edu saved run, or one of the authors' released files.

Shared by inference (`load_predictor`: the CLI's `predict`, the app, the notebooks) and
evaluation (`blvnet-edu eval`), so that both read a file the same way:

- a blvnet-edu checkpoint (`saved_run.SavedRun`) knows its network, classes and preprocessing;
- an authors' checkpoint (`st2stv1-bLVNet-TAM-50-a2-b4-f8x2.pth.tar`, ...) holds weights only:
  the network is read from the tensor shapes (`models.checkpoints.official_config`), the
  classes come from a shipped label map (`data.label_maps`: `ssv1`, `ssv2`, `kinetics400`;
  Kinetics-400 is implied by 400 classes, 174 classes can be V1 or V2 and must be named),
  the frames from the caller or the file name (`f16x2`: 32; else 16), and the preprocessing is
  the authors' test default (`Preprocessing()`: short side 256, centre crop 224).
"""

from __future__ import annotations

import re
from pathlib import Path

from .budget import BudgetError, Limits
from .checkpoint_checks import check_budget, structure_bytes
from .data.label_maps import label_map_for, load_labels
from .models.blvnet import BLVNetConfig, VideoNet, preset_config
from .models.checkpoints import (
    convert_official,
    load_file,
    load_official_checkpoint,
    official_config,
    read_checkpoint,
)
from .saved_run import Preprocessing, SavedRun

__all__ = ["AUTHORS_FRAMES", "authors_frames", "load_network"]


def _labels(labels: str | Path, limits: Limits | None) -> list[str]:
    classes = load_labels(labels)
    if limits is not None and len(classes) > limits.max_classes:
        raise BudgetError(
            f"the labels ({labels}) list {len(classes)} classes; the limit is {limits.max_classes}"
        )
    return classes


AUTHORS_FRAMES = 16  # the released models are "8x2": 8 pairs of frames
_FRAMES_IN_NAME = re.compile(r"f(\d+)x2")  # st2stv1-bLVNet-TAM-101-a2-b4-f16x2.pth.tar: 32 frames


def authors_frames(checkpoint: str | Path) -> int:
    """Frames of a released model: from its file name (`f16x2`: 32), else 16."""
    match = _FRAMES_IN_NAME.search(Path(checkpoint).name)
    return 2 * int(match[1]) if match else AUTHORS_FRAMES


def _sized(config: BLVNetConfig, size: int, limits: Limits | None, source: str) -> None:
    """Refuse a network over `limits` before anything is built: classes, parameters, frames,
    input size and GFLOPs per clip are counted by arithmetic from the config
    (`checkpoint_checks.check_budget`), so a 2 KB file declaring a billion blocks costs nothing."""
    if limits is not None:
        check_budget(config, config.num_classes, size, config.num_frames, limits, source)


def load_network(
    checkpoint: str | Path,
    labels: str | Path | None = None,
    model_name: str | None = None,
    limits: Limits | None = None,
    allow_unverified: bool = False,
) -> tuple[VideoNet, list[str], Preprocessing]:
    """`(network in eval mode, class names, preprocessing)` from a checkpoint file.

    Args:
        checkpoint: a blvnet-edu checkpoint or an authors' released file.
        labels: `ssv1`, `ssv2`, `kinetics400` or a file of class names (overrides a saved run's).
        model_name: build an authors' checkpoint as this preset instead of reading its shapes.
        limits: refuse (`budget.BudgetError`) label lists and networks over the limits
            (classes, parameters, frames, input size, GFLOPs per clip) before anything is built.
        allow_unverified: read a blvnet-edu checkpoint without a digest of the whole file
            (`saved_run.SavedRun.verify`).

    Raises:
        FileNotFoundError, or ValueError naming the file and the problem (not a checkpoint,
        labels that do not fit, 174 classes without saying V1 or V2, weights that do not fit).
    """
    payload = load_file(checkpoint, structure_bytes(limits) if limits is not None else None)
    if SavedRun.holds(payload):
        run = SavedRun.from_payload(payload, checkpoint, allow_unverified)
        _sized(run.config, run.preprocessing.size, limits, str(checkpoint))
        model, classes, preprocessing = run.build_model(), run.classes, run.preprocessing
        if labels:
            classes = _labels(labels, limits)
    else:
        try:
            state = convert_official(read_checkpoint(payload))
            detected = official_config(state) if model_name is None else None
        except ValueError as err:
            raise ValueError(f"{checkpoint}: not a blvnet-edu checkpoint, nor {err}") from err
        fc = state.get("fc.weight")
        num_classes = detected["num_classes"] if detected else (fc.shape[0] if fc is not None else None)
        labels = labels or (label_map_for(num_classes) if num_classes else None)
        if labels is None:
            choices = (
                "'ssv1' (Something-Something V1) or 'ssv2' (V2)"
                if num_classes == 174
                else "a file with one class name per line"
            )
            raise ValueError(
                f"{checkpoint} is an authors' checkpoint with {num_classes} classes and holds no "
                f"class names: give labels, {choices}"
            )
        classes = _labels(labels, limits)
        frames = authors_frames(checkpoint)  # the clip length it was trained on (a saved run keeps its own)
        if detected is not None:  # the network as the tensor shapes say
            name, options = detected.pop("name"), {"num_frames": frames, **detected}
        else:
            name, options = model_name, {"num_classes": len(classes), "num_frames": frames}
        config = preset_config(name, **options)
        _sized(config, Preprocessing().size, limits, str(checkpoint))
        model = VideoNet(config)
        load_official_checkpoint(model, state)
        model.eval()
        preprocessing = Preprocessing()  # the authors' test defaults
    if len(classes) != model.config.num_classes:
        raise ValueError(
            f"the labels ({labels}) list {len(classes)} classes; the model has {model.config.num_classes}"
        )
    return model, classes, preprocessing
