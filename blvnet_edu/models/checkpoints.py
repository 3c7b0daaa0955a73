"""Loading weights: the authors' released bLVNet-TAM checkpoints and ImageNet backbones.

Our parameter names are the authors' with three differences, undone by `convert_official`:

| authors' checkpoint                                | ours                         |
|----------------------------------------------------|------------------------------|
| `module.` prefix (DataParallel), `baseline_model.` | none                         |
| `b_conv0`, `bn_b0`, `l_conv*`, `bl_init`, `tam` of the backbone | under `layer0.` |
| `X.tam.prev/curr/next.weight` (width 3), each `(C, 1, 1, 1)` | one `X.tam.weight`, `(offsets, C)` |
| or `X.tam.blending_layers.i.weight`, each `(C, 1, 1, 1)` | one `X.tam.weight`, `(offsets, C)` |
| `new_fc` (dropout > 0) or `baseline_model.fc`      | `fc`                         |

Every file of this project is read by `load_file`, the one place that calls PyTorch's loader,
with `weights_only=True`: a checkpoint can hold tensors and plain containers, never code.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import torch
from torch import Tensor, nn

from .blvnet import PRESETS

__all__ = [
    "CheckpointMismatchError",
    "LoadReport",
    "load_file",
    "read_checkpoint",
    "convert_official",
    "official_config",
    "load_official_checkpoint",
    "load_imagenet_backbone",
]

Checkpoint = str | PathLike | Mapping[str, Tensor]

_LAYER0_PARTS = (
    "b_conv0.",
    "bn_b0.",
    "l_conv0.",
    "bn_l0.",
    "l_conv1.",
    "bn_l1.",
    "l_conv2.",
    "bn_l2.",
    "bl_init.",
    "bn_bl_init.",
    "tam.",
)
_TAM_WIDTH3_ROWS = {"prev": 0, "curr": 1, "next": 2}  # offsets -1, 0, +1
_TAM_KEY = re.compile(
    r"^(?P<prefix>.*?)tam\.(?:(?P<named>prev|curr|next)|blending_layers\.(?P<index>\d+))\.weight$"
)


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model; the message lists every difference."""


@dataclass
class LoadReport:
    """What `load_imagenet_backbone` did."""

    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # model tensors left as initialised
    skipped: list[str] = field(default_factory=list)  # checkpoint tensors not used, with why

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        if self.missing:
            lines.append(f"left as initialised ({len(self.missing)}): {_short_list(self.missing)}")
        if self.skipped:
            lines.append(f"not used from the checkpoint ({len(self.skipped)}): {_short_list(self.skipped)}")
        return "\n".join(lines)


def _short_list(items: list[str], limit: int = 20) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... and {len(items) - limit} more" if len(items) > limit else "")


def check_archive(path: Path, max_structure_bytes: int | None = None) -> None:
    """Test every member of a zip-format torch file (torch >= 1.6 writes zips, the authors'
    2019 files may be the older pickle format, which has no checksums) against its CRC-32, so
    that a flipped byte anywhere in the file, even in a tensor nothing else checks, is caught.
    torch writes members uncompressed; a compressed one is refused (a small file could
    otherwise unpack to gigabytes). `max_structure_bytes` bounds the pickled structure
    (`data.pkl`: keys, config, class names, metadata; the tensors are stored apart), which is
    unpickled in Python before anything can be checked: 300,000 class names take 6.5 MB and
    over a second, a real checkpoint's a few hundred KB."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            packed = [m.filename for m in members if m.compress_type != zipfile.ZIP_STORED]
            if packed:
                raise ValueError(
                    f"could not read {path} as a PyTorch checkpoint: it holds compressed members "
                    f"({packed[0]}), which torch.save never writes"
                )
            structure = sum(m.file_size for m in members if m.filename.endswith("/data.pkl"))
            if max_structure_bytes is not None and structure > max_structure_bytes:
                raise ValueError(
                    f"{path}: its structure (names, config, metadata: data.pkl) is {structure / 1e6:.1f} MB, "
                    f"more than a checkpoint within the limits needs ({max_structure_bytes / 1e6:.1f} MB)"
                )
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as err:
        raise ValueError(
            f"could not read {path} as a PyTorch checkpoint: a broken zip archive ({err})"
        ) from err
    if bad is not None:
        raise ValueError(
            f"{path} is corrupt: the archive member {bad} does not match its CRC-32 checksum "
            "(a changed byte); use another copy of the file"
        )


def load_file(path: str | PathLike, max_structure_bytes: int | None = None) -> object:
    """What a file written by `torch.save` holds, on the CPU, without running any code; a
    zip-format file's checksums (and, if given, the size of its pickled structure) are tested
    first (`check_archive`).

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is not a PyTorch checkpoint (or holds objects other than
            tensors and plain containers), or a checksum of its archive fails.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    check_archive(path, max_structure_bytes)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:  # torch's message is a page long: say what it means in one line
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        kind = (
            f"it holds a Python object ({found[1]}), and only tensors and plain values are read"
            if found
            else "not a file written by torch.save"
        )
        raise ValueError(f"could not read {path} as a PyTorch checkpoint: {kind}") from err
    except Exception as err:  # truncated zips, not a checkpoint at all, ...
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"could not read {path} as a PyTorch checkpoint: {first}") from err


def read_checkpoint(checkpoint: Checkpoint) -> dict[str, Tensor]:
    """A state dict from a path or a mapping; unwraps `{"state_dict": ...}` and `{"model": ...}`."""
    if isinstance(checkpoint, (str, PathLike)):
        checkpoint = load_file(checkpoint)
    if not isinstance(checkpoint, Mapping):
        raise ValueError(
            f"expected a state dict (a mapping of names to tensors), got {type(checkpoint).__name__}"
        )
    for wrapper in ("state_dict", "model"):
        if wrapper in checkpoint and isinstance(checkpoint[wrapper], Mapping):
            checkpoint = checkpoint[wrapper]
            break
    state = {k: v for k, v in checkpoint.items() if isinstance(v, Tensor)}
    if not state:
        raise ValueError("the checkpoint holds no tensors")
    return state


def _rename(key: str) -> str:
    """An authors' (bLVNet-TAM or bLResNet) key in our naming, TAM keys aside."""
    key = key.removeprefix("module.")
    if key.startswith("new_fc."):
        return "fc." + key.removeprefix("new_fc.")
    key = key.removeprefix("baseline_model.")
    if key.startswith(_LAYER0_PARTS):
        key = "layer0." + key
    return key


def convert_official(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The authors' state dict in our naming, per-offset TAM convs merged into `(offsets, C)`."""
    converted: dict[str, Tensor] = {}
    tam_rows: dict[str, dict[int, Tensor]] = {}
    for key, value in state.items():
        key = _rename(key)
        match = _TAM_KEY.match(key)
        if match is None:
            converted[key] = value
            continue
        row = _TAM_WIDTH3_ROWS[match["named"]] if match["named"] else int(match["index"])
        tam_rows.setdefault(match["prefix"] + "tam.weight", {})[row] = value.reshape(-1)
    for key, rows in tam_rows.items():
        if sorted(rows) != list(range(len(rows))):
            raise CheckpointMismatchError(f"{key}: offsets {sorted(rows)} are not a complete TAM")
        shapes = {tuple(r.shape) for r in rows.values()}
        if len(shapes) != 1:
            raise CheckpointMismatchError(f"{key}: per-offset weights of different sizes {sorted(shapes)}")
        converted[key] = torch.stack([rows[i] for i in range(len(rows))])  # (offsets, C)
    return converted


_BETA_PREFERENCE = (4, 2, 1, 3, 5, 6, 7, 8)  # the paper's beta first; equal architectures otherwise


def _block_count(state: Mapping[str, Tensor], prefix: str) -> int:
    """How many Bottlenecks `prefix.<i>.conv1.weight` the state holds."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.conv1\.weight$")
    indices = {int(m[1]) for key in state if (m := pattern.match(key))}
    return max(indices) + 1 if indices else 0


def official_config(checkpoint: Checkpoint) -> dict:
    """What an authors' bLVNet(-TAM) checkpoint tells about its network, from tensor shapes.

    Returns `{"name": preset, **BLVNetConfig overrides}`: the depth (the blocks per stage),
    `widths`, `alpha` (little branch width), `beta` (the smallest of the paper's choices that
    gives the little branches' depth), `blending_frames` and `temporal_module` (TAM weights
    present or not) and `num_classes`. The number of frames is not in the weights: it is
    the caller's (the released models use 16, "8x2").

    Raises:
        ValueError: not a Big-Little video network in the authors' format; the message
            completes "not ...".
    """
    state = convert_official(read_checkpoint(checkpoint))
    required = ("conv1.weight", "layer0.b_conv0.weight", "layer1.little_e.0.weight", "fc.weight")
    absent = [key for key in required if key not in state]
    if absent:
        raise ValueError("a bLVNet-TAM network in the authors' format (it lacks " + ", ".join(absent) + ")")
    bl_blocks = [_block_count(state, f"layer{i}.big") + 1 for i in (1, 2, 3)]
    little_blocks = [_block_count(state, f"layer{i}.little") for i in (1, 2, 3)]
    layers = (*bl_blocks, _block_count(state, "layer4"))
    widths = tuple(state[f"layer{i}.fusion.0.conv3.weight"].shape[0] // 4 for i in (1, 2, 3)) + (
        state["layer4.0.conv3.weight"].shape[0] // 4,
    )
    little_e = state["layer1.little_e.0.weight"]  # (C_out, C_out / alpha, 1, 1)
    alpha = little_e.shape[0] // little_e.shape[1]
    beta = next(
        (
            b
            for b in _BETA_PREFERENCE
            if all(max(1, n // b - 1) == m for n, m in zip(bl_blocks, little_blocks))
        ),
        None,
    )
    if beta is None:
        raise ValueError(
            f"little branches of {little_blocks} blocks fit no beta for stages of {bl_blocks} blocks"
        )
    tam = state.get("layer0.tam.weight")
    kind = "blvnet_tam" if tam is not None else "blvnet"
    temporal = "tam" if tam is not None else None
    names = [  # the preset of that family with these stages, if any
        n
        for n, c in PRESETS.items()
        if c.frame_routing == "pairs"
        and c.temporal_module == temporal
        and (c.layers, c.widths) == (layers, widths)
    ]
    return {
        "name": names[0] if names else f"{kind}_50",
        "layers": layers,
        "widths": widths,
        "alpha": alpha,
        "beta": beta,
        "blending_frames": tam.shape[0] if tam is not None else 3,
        "temporal_module": temporal,
        "num_classes": state["fc.weight"].shape[0],
    }


def _differences(model: nn.Module, state: Mapping[str, Tensor]) -> tuple[list[str], list[str], list[str]]:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [
        f"{k}: checkpoint {tuple(state[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    return missing, unexpected, mismatched


def load_official_checkpoint(model: nn.Module, checkpoint: Checkpoint) -> nn.Module:
    """Load a checkpoint in the authors' released format into `model`, strictly.

    Args:
        model: a `VideoNet` whose config matches the checkpoint (depth, alpha, beta,
            frames, blending width, classes).
        checkpoint: a path, or a state dict; keys with or without `module.`, classifier
            `new_fc` or `baseline_model.fc`.

    Raises:
        CheckpointMismatchError: listing missing and unexpected keys and shape mismatches;
            the model is left untouched.
    """
    state = convert_official(read_checkpoint(checkpoint))
    missing, unexpected, mismatched = _differences(model, state)
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing from the checkpoint ({len(missing)}): {_short_list(missing)}")
        if unexpected:
            parts.append(f"not in the model ({len(unexpected)}): {_short_list(unexpected)}")
        if mismatched:
            parts.append(f"shape mismatches ({len(mismatched)}): {_short_list(mismatched)}")
        hint = getattr(model, "config", None)
        raise CheckpointMismatchError(
            "the checkpoint does not fit the model"
            + (f" {hint.name} ({hint})" if hint is not None else "")
            + ":\n  "
            + "\n  ".join(parts)
        )
    model.load_state_dict(state, strict=True)
    return model


def load_imagenet_backbone(model: nn.Module, checkpoint: Checkpoint) -> LoadReport:
    """Initialise the backbone from ImageNet weights; the classifier and TAMs stay as they are.

    Takes the Big-Little Net release's `ImageNet-bLResNet-{50,101}-a2-b4.pth.tar` for the
    `blresnet` presets, or a torchvision ResNet state dict for the `tsn_resnet` presets.
    Tensors whose name or shape do not fit are reported, not loaded.
    """
    state = {_rename(k): v for k, v in read_checkpoint(checkpoint).items()}
    expected = model.state_dict()
    report = LoadReport()
    usable = {}
    for key, value in state.items():
        if key.startswith("fc."):
            report.skipped.append(f"{key} (classifier)")
        elif key not in expected:
            report.skipped.append(f"{key} (not in the model)")
        elif value.shape != expected[key].shape:
            report.skipped.append(f"{key} (shape {tuple(value.shape)} vs {tuple(expected[key].shape)})")
        else:
            usable[key] = value
    if not any(not k.endswith("num_batches_tracked") for k in usable):
        raise CheckpointMismatchError(f"no tensor of this checkpoint fits the model:\n{report}")
    model.load_state_dict(usable, strict=False)
    report.loaded = sorted(usable)
    report.missing = [k for k in expected if k not in usable]
    return report
