"""`VideoClipDataset`: clip lists -> `(T, 3, H, W)` float clips and labels for a DataLoader.

For training each item is one clip, sampled (segment or dense) and augmented with a
generator seeded by `(seed, epoch, index)`: the same epoch gives the same clips whatever the
number of workers or processes, which is what makes `--resume` and DDP reproducible. Call
`set_epoch(epoch)` before each epoch (the training engine does).

For evaluation an item holds `num_clips` clips x `crops` crops, `(V, T, 3, H, W)`, whose
scores are averaged per video.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .lists import ClipEntry, read_list
from .sampling import dense_indices, multi_clip_indices, segment_indices
from .video_io import VideoDecodeError, read_frames

__all__ = ["VideoClipDataset", "item_seed"]

Transform = Callable[[Tensor, torch.Generator | None], Tensor]


def item_seed(seed: int, epoch: int, index: int) -> int:
    """A distinct, reproducible seed for each (run seed, epoch, item)."""
    return ((seed * 1_000_003 + epoch) * 1_000_003 + index) % (2**63 - 1)


class VideoClipDataset(Dataset):
    def __init__(
        self,
        entries: list[ClipEntry] | str | Path,
        clip_frames: int,
        transform: Transform,
        train: bool,
        stride: int | None = None,
        num_clips: int = 1,
        seed: int = 0,
        num_classes: int | None = None,
    ) -> None:
        """
        Args:
            entries: clip entries, or a `path,label,num_frames` list file (each line checked
                first: `lists.read_list` with `check_files`).
            clip_frames: frames per clip (T).
            transform: `(T, 3, H, W)` uint8 -> float, e.g. `TrainTransform` / `EvalTransform`.
            train: random sampling and augmentation, one clip per item.
            stride: dense sampling with this stride; `None` = TSN segment sampling.
            num_clips: clips per video in evaluation.
            seed: base seed of the sampling and augmentation.
            num_classes: labels of a list file must be below it.
        """
        if isinstance(entries, (str, Path)):
            self.entries = read_list(entries, num_classes, check_files=True)
        else:
            self.entries = list(entries)
        self.clip_frames = clip_frames
        self.transform = transform
        self.train = train
        self.stride = stride
        self.num_clips = num_clips
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.entries)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def labels(self) -> list[int]:
        return [e.label for e in self.entries]

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        entry = self.entries[index]
        try:
            return self._item(index, entry)
        except (VideoDecodeError, FileNotFoundError) as err:
            if not entry.where:
                raise
            raise type(err)(f"{entry.where}: {err}") from err  # the list and line of the clip

    def _item(self, index: int, entry: ClipEntry) -> tuple[Tensor, int]:
        if self.train:
            generator = torch.Generator().manual_seed(item_seed(self.seed, self.epoch, index))
            if self.stride is None:
                indices = segment_indices(entry.num_frames, self.clip_frames, True, generator)
            else:
                indices = dense_indices(entry.num_frames, self.clip_frames, self.stride, True, generator)
            return self.transform(read_frames(entry.path, indices), generator), entry.label
        clips = multi_clip_indices(entry.num_frames, self.clip_frames, self.num_clips, self.stride)
        frames = read_frames(entry.path, [i for clip in clips for i in clip])  # decoded once
        views = []
        for c in range(self.num_clips):
            out = self.transform(frames[c * self.clip_frames : (c + 1) * self.clip_frames], None)
            views.append(out if out.ndim == 5 else out.unsqueeze(0))  # (crops, T, 3, H, W)
        return torch.cat(views), entry.label  # (clips*crops, T, 3, H, W)
