"""Writing a benchmark's Markdown report (shared by the scripts in this folder)."""

from __future__ import annotations

from pathlib import Path


def write_report(path: Path, lines: list[str], echo: bool = True) -> Path:
    """Write `lines` as `path` (folders created) and print them."""
    text = "\n".join(lines).rstrip("\n") + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if echo:
        print(text)
    return path
