"""blvnet_edu/data/datasets.py: items from clip lists, reproducible per epoch."""

import torch
from conftest import decode_index, index_frames

from blvnet_edu.data.datasets import VideoClipDataset
from blvnet_edu.data.lists import ClipEntry
from blvnet_edu.data.transforms import EvalTransform, TrainTransform
from blvnet_edu.data.video_io import write_video


def make_entries(tmp_path, n=3, frames=40):
    entries = []
    for i in range(n):
        path = write_video(tmp_path / f"{i}.mp4", index_frames(frames, 48, 96), fps=10)
        entries.append(ClipEntry(str(path), i, frames))
    return entries


class Identity:
    """uint8 frames as they are, to check which frames were picked."""

    def __call__(self, video, generator=None):
        return video


def test_training_items_are_reproducible_per_epoch(tmp_path):
    dataset = VideoClipDataset(make_entries(tmp_path), 8, Identity(), train=True, seed=1)
    video, label = dataset[1]
    assert video.shape == (8, 3, 48, 96) and label == 1
    first = decode_index(video)
    assert first == sorted(first) and [i // 5 for i in first] == list(range(8))  # one per segment
    assert decode_index(dataset[1][0]) == first
    dataset.set_epoch(1)
    assert decode_index(dataset[1][0]) != first


def test_eval_items_stack_clips_and_crops(tmp_path):
    dataset = VideoClipDataset(
        make_entries(tmp_path, 1), 4, EvalTransform(32, 40, crops=3), train=False, num_clips=2
    )
    video, _ = dataset[0]
    assert video.shape == (6, 4, 3, 32, 32) and video.dtype == torch.float32


def test_train_transform_output(tmp_path):
    dataset = VideoClipDataset(make_entries(tmp_path, 1), 4, TrainTransform(32), train=True, stride=2)
    video, _ = dataset[0]
    assert video.shape == (4, 3, 32, 32) and video.dtype == torch.float32
