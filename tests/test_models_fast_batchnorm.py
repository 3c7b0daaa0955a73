"""blvnet_edu/models/fast/batchnorm.py: BatchNorm folded into the convolutions gives the same network."""

import copy

import pytest
import torch
from conftest import random_video, randomize_

from blvnet_edu import build_model
from blvnet_edu.models.fast import fold_batchnorm_


@pytest.mark.parametrize("name", ["blvnet_tam_tiny", "blvnet_tiny", "tsn_blresnet_tiny", "tsn_resnet_tiny"])
def test_folded_model_computes_the_same_function(name):
    model = randomize_(build_model(name)).double().eval()  # random BatchNorm statistics and affines
    folded = fold_batchnorm_(copy.deepcopy(model))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    video = random_video(2, model.config.num_frames, 64, dtype=torch.float64)
    with torch.no_grad():
        expected, got = model(video), folded(video)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    assert fold_batchnorm_(folded) is folded  # folding again changes nothing
    torch.testing.assert_close(folded(video), expected, rtol=1e-10, atol=1e-10)


def test_every_batchnorm_of_the_full_model_is_folded_and_channels_last_is_kept():
    model = build_model("blvnet_tam_50").eval().to(memory_format=torch.channels_last)
    batchnorms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert batchnorms == convs  # every convolution of the network is followed by a BatchNorm
    fold_batchnorm_(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert all(
        m.bias is not None and m.weight.is_contiguous(memory_format=torch.channels_last)
        for m in model.modules()
        if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1)
    )


def test_training_mode_is_refused():
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm_(build_model("blvnet_tam_tiny").train())
