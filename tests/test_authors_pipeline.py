"""The authors' test preprocessing, end to end: their video -> our clip -> their logits.

tests/data/authors_pipeline/ (README there) holds a video and what the authors' own test
pipeline (IBM/bLVNet-TAM test.py, 16 frames, 1 clip, 1 crop, 224 px) and network feed and
output on it, with the deterministic weights of tests/data/official_blvnet_tam, at their two
resize settings: short side 256 (default) and 224 (`--disable_scaleup`).
"""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import official_state_dict, save_in_authors_format

from blvnet_edu.clips import load_clip
from blvnet_edu.inference import load_predictor
from blvnet_edu.models import build_model, load_official_checkpoint
from blvnet_edu.models.checkpoints import official_config

HERE = Path(__file__).parent / "data" / "authors_pipeline"
VIDEO = HERE / "authors_pipeline_shared.mp4"
REFERENCE = json.loads((HERE / "authors_pipeline_shared.json").read_text())


@pytest.fixture(scope="module")
def authors_checkpoint(tmp_path_factory):
    """The deterministic weights saved as the authors save them (DataParallel names)."""
    path = tmp_path_factory.mktemp("authors") / "st2stv1-bLVNet-TAM-50-a2-b4-f8x2.pth.tar"
    save_in_authors_format({k: v.float() for k, v in official_state_dict().items()}, path)
    return path


@pytest.fixture(scope="module")
def network64():
    """bLVNet-TAM-50 as the checkpoint's shapes say, in float64 like the reference."""
    state = official_state_dict()
    detected = official_config(state)
    model = build_model(detected.pop("name"), num_frames=16, **detected)
    load_official_checkpoint(model, state)
    return model.double().eval()


# Largest logit difference allowed, relative to the largest logit. Measured: 1.4e-6 (256) and
# 1.4e-5 (224). Not bit-exact: torchvision's antialiased bilinear resize rounds some pixels one
# grey level away from Pillow's, which the authors use (more of them when shrinking 240 -> 224).
TOLERANCE = {256: 3e-6, 224: 3e-5}


@pytest.mark.parametrize("resize", [256, 224])
def test_our_clip_and_logits_equal_the_authors_pipeline(resize, network64):
    reference = REFERENCE["scales"][str(resize)]
    clip = load_clip(VIDEO, num_frames=16, size=224, resize=resize)
    assert clip.indices == reference["frame_indices_0based"]
    assert list(clip.input.flatten(1, 2).shape) == reference["input_shape"]  # (1, 48, 224, 224)
    pooled = F.avg_pool2d(clip.input[0], 8)  # (16, 3, 28, 28)
    diff = (pooled - torch.tensor(reference["pooled"])).abs()  # 8x8 means of normalised pixels
    assert (
        diff.max() < 3e-3 and (diff > 1e-5).float().mean() < 0.1
    )  # some pixels off by a grey level (resampling rounding)
    with torch.no_grad():
        logits = network64(clip.input.double())[0]
    expected = torch.tensor(reference["logits"], dtype=torch.float64)
    assert (logits - expected).abs().max() <= TOLERANCE[resize] * expected.abs().max()
    assert logits.topk(5).indices.tolist() == [i for i, _ in reference["top5"]]


def test_the_settings_differ_so_the_test_tells_them_apart():
    a, b = (torch.tensor(REFERENCE["scales"][s]["pooled"]) for s in ("256", "224"))
    assert (a - b).abs().max() > 0.1


@pytest.mark.parametrize("resize", [256, 224])
def test_an_authors_checkpoint_loads_by_itself_and_gives_their_top5(resize, authors_checkpoint):
    predictor = load_predictor(authors_checkpoint, labels="ssv1", resize=resize)
    assert predictor.model.config.name == "blvnet_tam_50" and predictor.num_frames == 16
    assert (predictor.size, predictor.resize) == (224, resize)
    assert predictor.classes[0] == "Holding something" and len(predictor.classes) == 174
    clip = load_clip(VIDEO, predictor.num_frames, predictor.size, predictor.resize)
    with torch.no_grad():
        logits = predictor.model(clip.input)[0].double()
    expected = torch.tensor(REFERENCE["scales"][str(resize)]["logits"], dtype=torch.float64)
    assert (logits - expected).abs().max() <= 1e-4 * expected.abs().max()  # float32, BatchNorm folded
    assert logits.topk(5).indices.tolist() == [i for i, _ in REFERENCE["scales"][str(resize)]["top5"]]
