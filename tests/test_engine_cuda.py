"""blvnet_edu/engine on a CUDA GPU: mixed-precision training, a GPU run read on a CPU.

Resume on CUDA: `test_engine.py`, parametrized by device.

Skipped where no GPU is present (CI has none); run them wherever one is lent.
"""

import json

import pytest
import torch
from conftest import random_video, tiny_config

from blvnet_edu.engine.train import train
from blvnet_edu.saved_run import SavedRun

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def quiet(*_args, **_kwargs):
    pass


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_training_on_cuda_lowers_the_loss_and_the_run_reads_on_a_cpu(dataset, tmp_path, precision):
    cfg = tiny_config(
        dataset, tmp_path / "run", device="cuda", precision=precision, channels_last=True, epochs=4, lr=0.02
    )
    train(cfg, log=quiet)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["train_loss"] < records[0]["train_loss"], records
    saved = SavedRun.load(tmp_path / "run" / "last.pt")
    assert all(w.device.type == "cpu" for w in saved.weights.values())  # readable without a GPU
    cpu = saved.build_model().eval()
    gpu = saved.build_model().cuda().eval()
    video = random_video(2, 4, 32)
    with torch.no_grad():
        torch.testing.assert_close(gpu(video.cuda()).cpu(), cpu(video), rtol=1e-4, atol=1e-4)
