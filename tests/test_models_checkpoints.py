"""blvnet_edu/models/checkpoints.py: the authors' checkpoints load strictly and give their logits."""

import dataclasses
import pickle

import pytest
import torch
from conftest import deterministic_tensor, official_logits, official_manifest, official_state_dict

from blvnet_edu import CheckpointMismatchError, build_model, load_imagenet_backbone, load_official_checkpoint
from blvnet_edu.models import BLVNetConfig


def reference_model(**overrides):
    ref = official_logits()
    config = dict(
        num_frames=ref["num_frames"],
        num_classes=ref["num_classes"],
        dropout=ref["dropout"],
        blending_frames=ref["blending_frames"],
        alpha=ref["alpha"],
        beta=ref["beta"],
    )
    config.update(overrides)
    return build_model("blvnet_tam_50", **config).double().eval()


def test_reproduces_the_authors_logits(reference_state_dict):
    """Equivalence with the authors' implementation: same weights, same input, same logits."""
    ref = official_logits()
    model = load_official_checkpoint(reference_model(), reference_state_dict)
    g = torch.Generator().manual_seed(ref["input_seed"])
    video = torch.randn(ref["input_shape"], generator=g, dtype=torch.float64)
    with torch.no_grad():
        logits = model(video)
    expected = torch.tensor(ref["logits"], dtype=torch.float64)
    assert logits.shape == expected.shape == (2, 174)
    relative = (logits - expected).abs().max() / expected.abs().max()
    assert relative < 1e-6, f"relative difference {relative:.2e}"


def test_every_tensor_is_loaded(reference_state_dict):
    model = load_official_checkpoint(reference_model(), reference_state_dict)
    state = model.state_dict()
    torch.testing.assert_close(
        state["layer0.b_conv0.weight"], reference_state_dict["baseline_model.b_conv0.weight"]
    )
    torch.testing.assert_close(state["fc.weight"], reference_state_dict["new_fc.weight"])
    tam = state["layer4.1.tam.weight"]  # rows: prev (-1), curr (0), next (+1)
    for row, part in enumerate(["prev", "curr", "next"]):
        official = reference_state_dict[f"baseline_model.layer4.1.tam.{part}.weight"]
        torch.testing.assert_close(tam[row], official.flatten())


def test_module_prefix_and_files_are_accepted(reference_state_dict, tmp_path):
    prefixed = {f"module.{k}": v for k, v in reference_state_dict.items()}
    path = tmp_path / "blvnet_tam_50.pth"
    torch.save(prefixed, path)
    model = load_official_checkpoint(reference_model(), path)
    torch.testing.assert_close(model.fc.bias, reference_state_dict["new_fc.bias"])
    torch.save({"state_dict": prefixed}, path)  # wrapped, as training scripts save it
    load_official_checkpoint(reference_model(), str(path))


def test_classifier_without_dropout_is_baseline_model_fc(reference_state_dict):
    state = dict(reference_state_dict)
    state["baseline_model.fc.weight"] = state.pop("new_fc.weight")
    state["baseline_model.fc.bias"] = state.pop("new_fc.bias")
    model = load_official_checkpoint(reference_model(dropout=0.0), state)
    torch.testing.assert_close(model.fc.weight, reference_state_dict["new_fc.weight"])


def test_wider_blending_uses_blending_layers_keys():
    manifest = {}
    for key, shape in official_manifest().items():
        if ".tam." in key:
            prefix = key.split("tam.")[0]
            for i in range(5):
                manifest[f"{prefix}tam.blending_layers.{i}.weight"] = shape
        else:
            manifest[key] = shape
    state = official_state_dict(manifest)
    model = load_official_checkpoint(reference_model(blending_frames=5), state)
    torch.testing.assert_close(
        model.layer2.tam.weight[4], state["baseline_model.layer2.tam.blending_layers.4.weight"].flatten()
    )


def test_mismatch_lists_missing_unexpected_and_shapes(reference_state_dict):
    state = dict(reference_state_dict)
    del state["baseline_model.layer1.big.0.conv1.weight"]
    state["baseline_model.layer9.weight"] = torch.zeros(1)
    model = reference_model(num_classes=10)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        load_official_checkpoint(model, state)
    message = str(err.value)
    assert "missing from the checkpoint (1): layer1.big.0.conv1.weight" in message
    assert "not in the model (1): layer9.weight" in message
    assert "fc.weight: checkpoint (174, 2048) vs model (10, 2048)" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # untouched


def test_a_checkpoint_of_another_depth_is_refused(reference_state_dict):
    with pytest.raises(CheckpointMismatchError, match="missing from the checkpoint"):
        load_official_checkpoint(build_model("blvnet_tam_101").double(), reference_state_dict)


def test_bad_files_give_clear_errors(tmp_path):
    model = build_model("blvnet_tam_tiny")
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_official_checkpoint(model, tmp_path / "nope.pth")
    junk = tmp_path / "clip.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a checkpoint")
    with pytest.raises(ValueError, match="could not read .*clip.mp4 as a PyTorch checkpoint"):
        load_official_checkpoint(model, junk)


class Payload:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_files_are_read_with_weights_only(tmp_path, capsys):
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"conv1.weight": Payload()}, f, protocol=2)
    with pytest.raises(ValueError, match="could not read"):
        load_official_checkpoint(build_model("blvnet_tam_tiny"), path)
    assert "code ran" not in capsys.readouterr().out


def imagenet_blresnet50_state():
    """A checkpoint shaped like the Big-Little Net release's ImageNet bLResNet-50."""
    state = {}
    for key, shape in official_manifest().items():
        if ".tam." in key or key.startswith("new_fc"):
            continue
        key = key.replace("baseline_model.", "")
        state[f"module.{key}"] = deterministic_tensor(key, shape).float()
    state["module.fc.weight"] = torch.zeros(1000, 2048)
    state["module.fc.bias"] = torch.zeros(1000)
    return {"state_dict": state, "epoch": 100}


def test_imagenet_blresnet_initialises_everything_but_classifier_and_tams(tmp_path):
    path = tmp_path / "ImageNet-bLResNet-50-a2-b4.pth.tar"
    torch.save(imagenet_blresnet50_state(), path)
    model = build_model("blvnet_tam_50", num_classes=174)
    fc_before = model.fc.weight.clone()
    report = load_imagenet_backbone(model, path)
    expected_missing = {f"{name}.weight" for name in model.tams()} | {"fc.weight", "fc.bias"}
    assert set(report.missing) == expected_missing
    assert {"module.fc.weight", "module.fc.bias"}.isdisjoint(report.loaded)
    assert any("fc.weight (classifier)" in s for s in report.skipped)
    assert len(report.loaded) == len(model.state_dict()) - len(expected_missing)
    torch.testing.assert_close(
        model.layer3.big[4].conv2.weight,
        deterministic_tensor("layer3.big.4.conv2.weight", [256, 256, 3, 3]).float(),
    )
    assert torch.equal(model.fc.weight, fc_before)
    assert "loaded" in str(report) and "left as initialised" in str(report)


def test_imagenet_weights_also_fit_tsn_blresnet_and_refuse_unrelated_models(tmp_path):
    state = imagenet_blresnet50_state()
    report = load_imagenet_backbone(build_model("tsn_blresnet50"), state)
    assert report.missing == ["fc.weight", "fc.bias"]
    with pytest.raises(CheckpointMismatchError, match="no tensor of this checkpoint fits"):
        load_imagenet_backbone(build_model("blvnet_tam_tiny"), state)


@pytest.mark.parametrize(
    "name, overrides",
    [
        ("blvnet_tam_50", {}),
        ("blvnet_tam_101", {"num_classes": 400}),
        ("blvnet_tam_50", {"blending_frames": 5, "num_classes": 10}),
        ("blvnet_50", {}),
        ("blvnet_tam_50", {"alpha": 4}),
    ],
)
def test_official_config_reads_the_network_from_tensor_shapes(name, overrides):
    from blvnet_edu.models.checkpoints import official_config

    with torch.device("meta"):
        model = build_model(name, **overrides)
    detected = official_config(model.state_dict())
    assert detected.pop("name") == name
    rebuilt = BLVNetConfig(name=name, **detected)
    assert rebuilt == dataclasses.replace(model.config, name=name)


def test_official_config_of_the_authors_reference_and_of_something_else():
    from blvnet_edu.models.checkpoints import official_config

    detected = official_config(official_state_dict())  # the authors' key names
    assert detected["name"] == "blvnet_tam_50" and detected["num_classes"] == 174
    assert (detected["alpha"], detected["beta"], detected["blending_frames"]) == (2, 4, 3)
    with pytest.raises(ValueError, match="a bLVNet-TAM network in the authors. format .it lacks"):
        official_config(build_model("tsn_resnet_tiny").state_dict())
