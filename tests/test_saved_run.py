"""blvnet_edu/saved_run.py: one owner for what a checkpoint holds, how it is written and read."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import flip_tensor_byte, randomize_

from blvnet_edu import CheckpointMismatchError, build_model
from blvnet_edu.engine.checkpointing import rng_state
from blvnet_edu.models.checkpoints import load_file
from blvnet_edu.saved_run import FORMAT, Preprocessing, SavedRun, weights_digest

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def model():
    return randomize_(build_model("blvnet_tam_tiny", num_classes=3, num_frames=4)).eval()


def training_run(model) -> SavedRun:
    """A run with every field set, as `last.pt` of a training run holds it."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 4, 3, 32, 32)).sum().backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return SavedRun(
        model.config,
        CLASSES,
        model.state_dict(),
        Preprocessing(48, 56, 2),
        {"size": 48, "lr": 0.1},
        epoch=3,
        metrics={"top1": 0.5, "per_class": [0.1, 0.2, 0.3]},
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        scaler={"scale": 1.0},
        rng=rng_state(),
        best_top1=0.75,
    )


def same(a, b) -> bool:
    """Equality through nested containers of tensors."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def test_round_trip_of_every_field(model, tmp_path):
    run = training_run(model)
    loaded = SavedRun.load(run.save(tmp_path / "run" / "last.pt"))
    assert loaded.source == tmp_path / "run" / "last.pt"
    for name in run.__dataclass_fields__:
        if name != "source":
            assert same(getattr(run, name), getattr(loaded, name)), name
    rebuilt = loaded.build_model()
    assert not rebuilt.training and rebuilt.config == model.config
    video = torch.randn(1, 4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(rebuilt(video), model(video))


def test_what_the_file_holds(model, tmp_path):
    path = SavedRun(model.config, CLASSES, model.state_dict()).save(tmp_path / "best.pt")
    payload = load_file(path)
    assert payload["format"] == FORMAT and payload["classes"] == CLASSES
    assert payload["model_config"] == model.config.to_dict()
    assert payload["weights_sha256"] == weights_digest(model.state_dict())
    assert payload["preprocessing"] == {"size": 224, "resize": 256, "stride": None}  # the defaults
    assert "optimizer" not in payload and "epoch" not in payload  # no training state: no keys


def test_the_digest_covers_names_dtypes_shapes_and_bytes():
    weights = {"a": torch.arange(6.0), "b": torch.ones(2, dtype=torch.long)}
    digest = weights_digest(weights)
    assert digest == weights_digest(dict(reversed(weights.items())))  # sorted names: order-free
    assert digest != weights_digest({"a2": weights["a"], "b": weights["b"]})
    assert digest != weights_digest({"a": weights["a"].double(), "b": weights["b"]})
    assert digest != weights_digest({"a": weights["a"].view(2, 3), "b": weights["b"]})
    assert digest != weights_digest({"a": weights["a"] + 1e-6, "b": weights["b"]})


def test_a_flipped_byte_gives_the_digest_error_naming_the_file(model, tmp_path):
    path = SavedRun(model.config, CLASSES, model.state_dict()).save(tmp_path / "best.pt")
    flip_tensor_byte(path)
    assert isinstance(load_file(path), dict)  # PyTorch itself does not notice
    with pytest.raises(ValueError, match=r"best.pt: the weights do not match the digest stored in the file"):
        SavedRun.load(path)


def test_edited_weights_give_the_digest_error(model, tmp_path):
    path = SavedRun(model.config, CLASSES, model.state_dict()).save(tmp_path / "edited.pt")
    payload = load_file(path)
    payload["model"]["fc.bias"] = payload["model"]["fc.bias"] + 1
    torch.save(payload, path)
    with pytest.raises(ValueError, match="edited.pt: the weights do not match the digest"):
        SavedRun.load(path)


@pytest.mark.parametrize("demo", ["tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"])
def test_files_without_a_digest_still_load(demo):
    path = ROOT / "app" / "demo" / f"{demo}.pt"
    assert "weights_sha256" not in load_file(path)  # written before the digest existed
    run = SavedRun.load(path)
    assert run.config.name == demo and len(run.classes) == 14 and run.epoch is not None
    assert run.preprocessing == Preprocessing(48, 48, None)  # from the training config
    assert not run.build_model().training


def test_an_old_file_without_preprocessing_takes_the_defaults(model, tmp_path):
    path = tmp_path / "old.pt"
    torch.save(
        {
            "format": FORMAT,
            "model": model.state_dict(),
            "model_config": model.config.to_dict(),
            "classes": CLASSES,
        },
        path,
    )
    run = SavedRun.load(path)
    assert run.preprocessing == Preprocessing(224, 256, None) and run.train_config == {}


@pytest.mark.parametrize("missing", [["model"], ["classes"], ["model_config", "classes"]])
def test_missing_keys_are_named(model, tmp_path, missing):
    payload = {
        "format": FORMAT,
        "model": model.state_dict(),
        "model_config": model.config.to_dict(),
        "classes": CLASSES,
    }
    for key in missing:
        del payload[key]
    torch.save(payload, tmp_path / "partial.pt")
    message = f"partial.pt is an incomplete blvnet-edu checkpoint: it lacks {', '.join(missing)}"
    with pytest.raises(ValueError, match=message):
        SavedRun.load(tmp_path / "partial.pt")


def test_foreign_and_broken_files_give_clear_errors(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        SavedRun.load(tmp_path / "none.pt")
    text = tmp_path / "notes.pt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match="could not read .*notes.pt as a PyTorch checkpoint"):
        SavedRun.load(text)
    torch.save(model.state_dict(), tmp_path / "plain.pt")  # a state dict, not a saved run
    with pytest.raises(ValueError, match="plain.pt is not a blvnet-edu checkpoint"):
        SavedRun.load(tmp_path / "plain.pt")
    config = {**model.config.to_dict(), "colour": "blue"}
    odd = {"format": FORMAT, "model": {}, "model_config": config, "classes": CLASSES}
    torch.save(odd, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match=r"odd.pt: unknown model config field\(s\) \['colour'\]"):
        SavedRun.load(tmp_path / "odd.pt")


def test_weights_that_do_not_fit_the_config(model, tmp_path):
    other = build_model("tsn_resnet_tiny", num_classes=3, num_frames=4).state_dict()
    path = SavedRun(model.config, CLASSES, other).save(tmp_path / "mixed.pt")
    with pytest.raises(CheckpointMismatchError, match="mixed.pt: the weights do not fit the saved model"):
        SavedRun.load(path).build_model()


def test_the_write_is_atomic(model, tmp_path, monkeypatch):
    run = SavedRun(model.config, CLASSES, model.state_dict())
    path = run.save(tmp_path / "best.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]  # no temporary file left
    before = path.read_bytes()

    def killed(payload, file):
        Path(file).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        replace(run, classes=["x", "y", "z"]).save(path)
    assert path.read_bytes() == before  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]
