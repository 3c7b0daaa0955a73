"""blvnet_edu/data/transforms.py: shapes, the same crop on every frame, explicit randomness, no flip."""

import pytest
import torch

from blvnet_edu.data.transforms import (
    EvalTransform,
    TrainTransform,
    center_crop,
    multi_scale_crop,
    normalize,
    random_crop,
    resize_short_side,
    three_crops,
)


def ramp_video(frames=4, height=60, width=80):
    """Every frame the same horizontal ramp plus the frame index: crops are recognisable."""
    x = torch.arange(width).view(1, 1, 1, width).expand(frames, 3, height, width)
    t = torch.arange(frames).view(frames, 1, 1, 1)
    return (x + t).to(torch.uint8).contiguous()


def test_resize_short_side_keeps_aspect():
    assert resize_short_side(ramp_video(), 30).shape == (4, 3, 30, 40)
    assert resize_short_side(ramp_video(height=90, width=60), 30).shape == (4, 3, 45, 30)


def test_crops_are_the_same_on_every_frame():
    video = ramp_video()
    for crop in (
        random_crop(video, 32, torch.Generator().manual_seed(0)),
        multi_scale_crop(video, 32, generator=torch.Generator().manual_seed(0)),
    ):
        assert crop.shape == (4, 3, 32, 32)
        diffs = crop.int() - crop[:1].int()
        assert torch.equal(diffs[:, 0, 0, 0], torch.arange(4, dtype=torch.int32))
        assert (diffs == diffs[:, :1, :1, :1]).all()


def test_randomness_is_explicit():
    video = ramp_video()
    a = TrainTransform(32)(video, torch.Generator().manual_seed(5))
    b = TrainTransform(32)(video, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    crops = {int(random_crop(video, 16, torch.Generator().manual_seed(s))[0, 0, 0, 0]) for s in range(10)}
    assert len(crops) > 1


def test_no_horizontal_flip_by_default():
    video = ramp_video()  # increases left to right: a flip would make it decrease
    for seed in range(20):
        out = TrainTransform(32, scales=(1.0,))(video, torch.Generator().manual_seed(seed))
        assert (out[..., 1:] >= out[..., :-1]).all()
    flipped = [
        TrainTransform(32, scales=(1.0,), flip=True)(video, torch.Generator().manual_seed(s))
        for s in range(20)
    ]
    assert any((f[..., 1:] < f[..., :-1]).any() for f in flipped)


def test_eval_one_and_three_crops():
    video = ramp_video(height=60, width=120)
    assert EvalTransform(32, 40, 1)(video).shape == (4, 3, 32, 32)
    three = EvalTransform(32, 40, 3)(video)
    assert three.shape == (3, 4, 3, 32, 32)
    lefts = [c[0, 0, 0, 0].item() for c in three_crops(resize_short_side(video, 40), 32)]
    assert lefts[0] < lefts[1] < lefts[2]
    assert torch.equal(center_crop(video, 32), three_crops(video, 32)[1])


def test_normalize_uses_imagenet_statistics():
    white = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    out = normalize(white)
    assert out.dtype == torch.float32
    torch.testing.assert_close(
        out[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225])
    )


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"\(T, 3, H, W\)"):
        resize_short_side(torch.zeros(3, 10, 10, dtype=torch.uint8), 5)
    with pytest.raises(ValueError, match="cannot crop"):
        random_crop(ramp_video(), 100)
