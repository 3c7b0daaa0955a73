"""Class names of the authors' released checkpoints, shipped with the package.

Line i of each file names logit i of the released checkpoints (the lists and how each
order was verified: ../shared/reference/labels/README.md in the project's workspace):

| name          | classes | order |
|---------------|---------|-------|
| `ssv1`        | 174     | Something-Something V1: line order of the official labels CSV (not sorted) |
| `ssv2`        | 174     | Something-Something V2: the ids of the official labels JSON |
| `kinetics400` | 400     | Kinetics-400: the sorted set of the official CSV's labels |

The two Something-Something lists hold the same 174 names in different orders: a V1
checkpoint read with the V2 list (or a sorted list, as TSM and TRN write) names almost every
class wrongly, which is why `load_labels` never guesses between them.
"""

from __future__ import annotations

from pathlib import Path

from .lists import read_classes

__all__ = ["LABEL_MAPS", "load_labels", "label_map_for"]

_FOLDER = Path(__file__).resolve().parent / "labels"
LABEL_MAPS = {
    "ssv1": "something_something_v1.txt",
    "ssv2": "something_something_v2.txt",
    "kinetics400": "kinetics400.txt",
}
_SIZES = {"ssv1": 174, "ssv2": 174, "kinetics400": 400}


def load_labels(labels: str | Path) -> list[str]:
    """A shipped label map by name (`ssv1`, `ssv2`, `kinetics400`) or a file, one name per line."""
    if str(labels) in LABEL_MAPS:
        return read_classes(_FOLDER / LABEL_MAPS[str(labels)])
    path = Path(labels)
    if not path.is_file():
        raise FileNotFoundError(
            f"labels {str(labels)!r}: no such file, and not a shipped label map ({', '.join(LABEL_MAPS)})"
        )
    return read_classes(path)


def label_map_for(num_classes: int) -> str | None:
    """The one shipped label map with `num_classes` classes, or `None` if none or several fit."""
    fits = [name for name, size in _SIZES.items() if size == num_classes]
    return fits[0] if len(fits) == 1 else None
