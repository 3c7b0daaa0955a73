"""blvnet_edu/models/blocks.py: Bottleneck and stages, in both shortcut styles."""

import pytest
import torch
from torch import nn

from blvnet_edu.models import TAM, Bottleneck, make_layer
from blvnet_edu.models.blocks import blnet_downsample, resnet_downsample


def test_bottleneck_shapes_and_width():
    block = Bottleneck(64, 256, stride=2, downsample=resnet_downsample(64, 256, 2))
    assert block.conv1.out_channels == 64 and block.conv3.out_channels == 256
    assert block(torch.randn(2, 64, 16, 16)).shape == (2, 256, 8, 8)


def test_blnet_downsample_pools_then_projects():
    pool_conv = blnet_downsample(64, 256, 2)
    assert [type(m) for m in pool_conv] == [nn.AvgPool2d, nn.Conv2d, nn.BatchNorm2d]
    assert [type(m) for m in blnet_downsample(64, 256, 1)] == [nn.Conv2d, nn.BatchNorm2d]
    assert blnet_downsample(64, 64, 1) is None
    assert resnet_downsample(64, 64, 1) is None and resnet_downsample(64, 64, 2)[0].stride == (2, 2)


def test_last_relu_only_on_the_last_block_of_a_multi_block_stage():
    stage = make_layer(32, 64, 3, stride=2, last_relu=False)
    assert [b.last_relu for b in stage] == [True, True, False]
    single = make_layer(32, 64, 1, stride=2, last_relu=False)
    assert single[0].last_relu  # the authors keep it for single-block branches
    x = torch.randn(2, 32, 8, 8)
    assert (stage(x) < 0).any() and (single(x) >= 0).all()


def test_temporal_module_goes_into_every_block_and_shortcut_sees_it_in_the_first():
    stage = make_layer(16, 64, 2, stride=2, temporal=lambda c: TAM(c))
    assert [b.tam.channels for b in stage] == [16, 64]
    block = stage[0]
    with torch.no_grad():
        block.tam.weight.zero_()  # TAM outputs zeros: the projection shortcut then gives 0 too
        block.bn3.weight.zero_()
        block.bn3.bias.zero_()
        block.downsample[-1].bias.zero_()
    out = block(torch.rand(8, 16, 8, 8), 4)
    assert torch.all(out == 0)
    second = stage[1]
    with torch.no_grad():
        second.tam.weight.zero_()
        second.bn3.weight.zero_()
        second.bn3.bias.zero_()
    x = torch.rand(8, 64, 4, 4)
    torch.testing.assert_close(second(x, 4), x)  # identity shortcut keeps the un-aggregated input
    with pytest.raises(ValueError, match="clip length"):
        second(x)  # a TAM cannot guess T
    assert stage(torch.rand(8, 16, 8, 8), 4).shape == (8, 64, 4, 4)  # a Stage hands T to its blocks
