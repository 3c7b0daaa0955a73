"""channels_last on a CPU: the input frames' memory layout, chosen once for the whole network.

oneDNN's convolutions run faster on channels_last (NHWC) maps than on contiguous (NCHW) ones
on a CPU, and every layer keeps the layout of its input, so converting the input frames once
converts the network. `VideoNet.layout` is `nn.Identity` in the paper's modules and
`ChannelsLastOnCPU` in the fast ones; on other devices the frames go through as they are
(there the engine chooses the layout, e.g. `benchmarks/gpu_training.py`). Measured in
docs/benchmarks/speed.md.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ChannelsLastOnCPU"]


class ChannelsLastOnCPU(nn.Module):
    """`(N, C, H, W)` frames -> the same values in channels_last memory, on a CPU."""

    def forward(self, frames: Tensor) -> Tensor:
        if frames.device.type != "cpu":
            return frames
        return frames.contiguous(memory_format=torch.channels_last)
