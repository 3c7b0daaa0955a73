"""blvnet_edu/models on a CUDA GPU: same outputs as the CPU, autocast, channels_last, compile.

The fast path against the paper's on CUDA: `test_models_fast_network.py`, parametrized by device.

Skipped where no GPU is present (CI has none); run them wherever one is lent.
"""

import pytest
import torch
from conftest import random_video, randomize_

from blvnet_edu import build_model

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def models():
    cpu = randomize_(build_model("blvnet_tam_tiny", dropout=0.0)).double().eval()
    gpu = randomize_(build_model("blvnet_tam_tiny", dropout=0.0)).double().eval().cuda()
    return cpu, gpu


def test_cuda_matches_cpu_in_float64():
    cpu, gpu = models()
    video = random_video(2, 8, 64, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(gpu(video.cuda()).cpu(), cpu(video), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_training_step(dtype):
    model = randomize_(build_model("blvnet_tam_tiny")).cuda().train()
    video = random_video(2, 8, 64).cuda()
    with torch.autocast("cuda", dtype=dtype):
        loss = model(video).float().logsumexp(1).mean()
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_channels_last_and_inductor_compile_match_eager():
    model = randomize_(build_model("blvnet_tam_tiny", dropout=0.0)).cuda().eval()
    video = random_video(2, 8, 64).cuda()
    with torch.no_grad():
        expected = model(video)
        model_cl = model.to(memory_format=torch.channels_last)
        torch.testing.assert_close(model_cl(video), expected, rtol=1e-3, atol=1e-3)
        compiled = torch.compile(model_cl)
        torch.testing.assert_close(compiled(video), expected, rtol=1e-3, atol=1e-3)


def test_full_size_model_forward_backward_on_gpu():
    model = build_model("blvnet_tam_50").cuda().train()
    video = random_video(2, 16, 224).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        model(video).float().sum().backward()
    assert all(p.grad is not None for p in model.parameters())
