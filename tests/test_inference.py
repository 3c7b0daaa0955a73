"""blvnet_edu/inference.py: load a checkpoint, predict and explain a clip, clear errors for bad
checkpoints."""

import subprocess
import sys

import pytest
import torch
from conftest import CLASSES, random_video, randomize_

from blvnet_edu import build_model
from blvnet_edu.clips import load_clip
from blvnet_edu.data.video_io import read_video
from blvnet_edu.inference import explain, load_predictor, predict, predict_clip


def test_predict_returns_labelled_probabilities(checkpoint, clip_file):
    predictor = load_predictor(checkpoint)
    assert (predictor.size, predictor.resize, predictor.num_frames) == (48, 56, 8)
    probs = predict(clip_file, predictor)
    assert list(probs) == CLASSES and sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    clip = load_clip(clip_file, 8, 48, 56)
    assert clip.indices == [2, 7, 12, 17, 22, 27, 32, 37]  # centres of 8 segments: evaluation sampling
    assert clip.frames.shape == (8, 3, 48, 48) and clip.input.shape == (1, 8, 3, 48, 48)
    decoded = read_video(clip_file)  # uint8 frames in memory: the same preprocessing as the file
    assert predict(decoded, predictor) == pytest.approx(probs, abs=1e-6)


def test_other_frame_counts_run_the_same_model(checkpoint, clip_file):
    """T is an input: another clip length builds nothing and copies nothing."""
    predictor = load_predictor(checkpoint)
    four = predictor.at_frames(4)
    assert four.num_frames == 4 and four.model is predictor.model and four.uid == predictor.uid
    assert predictor.at_frames(predictor.num_frames) is predictor and predictor.num_frames == 8
    assert len(predict(clip_file, predictor, num_frames=12)) == 10
    with pytest.raises(ValueError, match="pairs"):
        predictor.at_frames(5)
    own = load_predictor(checkpoint, num_frames=12)
    assert own.num_frames == 12 and own.model.config.num_frames == 8  # sampling, not the network


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "occlusion", "gradcam"])
def test_explain_every_method(checkpoint, clip_file, method):
    predictor = load_predictor(checkpoint)
    clip = load_clip(clip_file, 8, 48, 56)
    result = explain(predictor, clip, method=method, steps=4)
    assert result.maps.shape == (8, 48, 48) and result.overlays.shape == (8, 3, 48, 48)
    assert result.maps.min() >= 0 and result.maps.max() == pytest.approx(1.0)
    assert result.importance.shape == (8,) and len(result.captions) == 8
    probs = predict_clip(predictor, clip)
    assert result.target == max(probs, key=probs.get)
    assert explain(predictor, clip, target="class 3", method=method, steps=4).target == "class 3"


def test_wrong_checkpoints(tmp_path, checkpoint):
    with pytest.raises(FileNotFoundError):
        load_predictor(tmp_path / "none.pt")
    with pytest.raises(
        ValueError,
        match="junk.pt: not a blvnet-edu checkpoint, nor a bLVNet-TAM network in the authors. format",
    ):
        junk = tmp_path / "junk.pt"
        torch.save({"a": torch.zeros(1)}, junk)
        load_predictor(junk)
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\n")
    with pytest.raises(ValueError, match="does not fit|missing from the checkpoint"):
        load_predictor(junk, labels=labels, model_name="blvnet_tam_tiny")
    with pytest.raises(ValueError, match="list 2 classes; the model has 10"):
        load_predictor(checkpoint, labels=labels)


def test_top_level_predict(checkpoint, clip_file):
    import blvnet_edu

    probs = blvnet_edu.predict(clip_file, blvnet_edu.load_predictor(checkpoint))
    assert max(probs.values()) <= 1.0 and len(probs) == 10


def test_inference_does_not_need_the_training_engine():
    code = (
        "import sys, blvnet_edu.inference, blvnet_edu.clips, blvnet_edu.clip_cache, "
        "blvnet_edu.order_comparison, blvnet_edu.model_card; "
        "print(sorted(m for m in sys.modules if m.startswith('blvnet_edu.engine')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_package_and_building_a_model_need_only_torch():
    """No video decoder (PyAV is imported where a file is read or written), UI, attribution or
    plotting library is imported by `import blvnet_edu` and `build_model`."""
    code = (
        "import sys, blvnet_edu; blvnet_edu.build_model('blvnet_tam_tiny'); "
        "print(sorted(set(sys.modules) & {'av', 'gradio', 'captum', 'plotly', 'matplotlib', 'torchvision'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _authors_file(tmp_path, num_classes):
    """A tiny bLVNet-TAM saved in the authors' format (DataParallel names, `new_fc`)."""
    model = randomize_(build_model("blvnet_tam_tiny", num_classes=num_classes))
    state = {
        ("module.new_fc." + k[3:] if k.startswith("fc.") else "module." + k): v
        for k, v in model.state_dict().items()
    }
    path = tmp_path / f"authors_{num_classes}.pth.tar"
    torch.save({"state_dict": state, "epoch": 30}, path)
    return path, model


def test_an_authors_checkpoint_is_recognised_and_labelled(tmp_path):
    path, model = _authors_file(tmp_path, 174)
    with pytest.raises(ValueError, match="'ssv1' \\(Something-Something V1\\) or 'ssv2'"):
        load_predictor(path)  # 174 classes: V1 or V2 cannot be told
    predictor = load_predictor(path, labels="ssv2", num_frames=8)
    assert predictor.classes[0] == "Approaching something with your camera" and len(predictor.classes) == 174
    assert predictor.model.config.name == "blvnet_tam_tiny" and (predictor.size, predictor.resize) == (
        224,
        256,
    )
    video = random_video(1, 8, 64)
    with torch.no_grad():
        torch.testing.assert_close(predictor.model(video), model.eval()(video), rtol=1e-4, atol=1e-4)
    kinetics, _ = _authors_file(tmp_path, 400)
    assert load_predictor(kinetics, num_frames=8).classes[0] == "abseiling"  # 400 classes: Kinetics-400
    with pytest.raises(ValueError, match="list 2 classes; the model has 174"):
        (tmp_path / "two.txt").write_text("a\nb\n")
        load_predictor(path, labels=tmp_path / "two.txt")


def test_the_frames_of_a_released_model_come_from_its_file_name():
    from blvnet_edu.loading import authors_frames

    assert authors_frames("st2stv1-bLVNet-TAM-101-a2-b4-f16x2.pth.tar") == 32
    assert authors_frames("pretrained/st2stv2-bLVNet-TAM-50-a2-b4-f8x2.pth.tar") == 16
    assert authors_frames("my_model.pth") == 16
