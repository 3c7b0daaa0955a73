"""blvnet_edu/saved_run.py: one owner for what a checkpoint holds, how it is written and read."""

import copy
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import flip_tensor_byte, randomize_

from blvnet_edu import CheckpointMismatchError, build_model
from blvnet_edu.budget import BudgetError, Limits
from blvnet_edu.engine.checkpointing import rng_state
from blvnet_edu.inference import load_predictor
from blvnet_edu.models.blocks import Bottleneck
from blvnet_edu.models.checkpoints import load_file
from blvnet_edu.saved_run import (
    FORMAT,
    LEGACY_FORMAT,
    Preprocessing,
    SavedRun,
    UnverifiedCheckpointError,
    payload_digest,
    weights_digest,
)

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def model():
    return randomize_(build_model("blvnet_tam_tiny", num_classes=3, num_frames=4)).eval()


def training_run(model) -> SavedRun:
    """A run with every field set, as `last.pt` of a training run holds it (from a copy of
    `model`: the step changes its weights)."""
    model = copy.deepcopy(model)
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


def sealed(payload: dict) -> dict:
    """`payload` with the digest `SavedRun.save` would give it."""
    payload["sha256"] = payload_digest(payload)
    return payload


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
        trained = copy.deepcopy(model)
        trained.load_state_dict(run.weights)
        assert torch.equal(rebuilt(video), trained.eval()(video))


def test_what_the_file_holds(model, tmp_path):
    path = SavedRun(model.config, CLASSES, model.state_dict()).save(tmp_path / "best.pt")
    payload = load_file(path)
    assert payload["format"] == FORMAT and payload["classes"] == CLASSES
    assert payload["model_config"] == model.config.to_dict()
    assert payload["sha256"] == payload_digest(payload)
    assert payload["preprocessing"] == {"size": 224, "resize": 256, "stride": None}  # the defaults
    assert "optimizer" not in payload and "epoch" not in payload  # no training state: no keys


def test_the_digest_covers_every_value_type_and_structure():
    payload = {
        "model": {"a": torch.arange(6.0)},
        "optimizer": {"state": {0: {"m": torch.ones(2)}}},
        "x": [1, 2.0],
    }
    digest = payload_digest(payload)
    assert digest == payload_digest(dict(reversed(payload.items())))  # key order does not matter
    assert digest == payload_digest({**payload, "sha256": "anything"})  # the digest's own entry is left out
    changed = [
        {**payload, "model": {"a": torch.arange(6.0).double()}},  # dtype
        {**payload, "model": {"a": torch.arange(6.0).view(2, 3)}},  # shape
        {**payload, "model": {"a2": torch.arange(6.0)}},  # name
        {**payload, "optimizer": {"state": {0: {"m": torch.ones(2) + 1e-7}}}},  # the optimizer's bytes
        {**payload, "optimizer": {"state": {"0": {"m": torch.ones(2)}}}},  # an int key as a string
        {**payload, "x": [1, 2]},  # a float as an int
        {**payload, "x": (1, 2.0)},  # a tuple for a list
        {**payload, "y": None},  # an added key
    ]
    assert len({digest, *map(payload_digest, changed)}) == len(changed) + 1


def test_the_weights_digest_of_old_files_covers_names_dtypes_shapes_and_bytes():
    weights = {"a": torch.arange(6.0), "b": torch.ones(2, dtype=torch.long)}
    digest = weights_digest(weights)
    assert digest == weights_digest(dict(reversed(weights.items())))  # sorted names: order-free
    assert digest != weights_digest({"a2": weights["a"], "b": weights["b"]})
    assert digest != weights_digest({"a": weights["a"].double(), "b": weights["b"]})
    assert digest != weights_digest({"a": weights["a"].view(2, 3), "b": weights["b"]})
    assert digest != weights_digest({"a": weights["a"] + 1e-6, "b": weights["b"]})


@pytest.mark.parametrize("where", ["weights", "optimizer momentum", "random state"])
def test_a_flipped_byte_anywhere_fails_the_archive_checksum(model, tmp_path, where):
    run = training_run(model)
    path = run.save(tmp_path / "last.pt")
    records = {"weights": 0, "optimizer momentum": len(run.weights), "random state": -1}
    with zipfile.ZipFile(path) as archive:
        count = sum("/data/" in name for name in archive.namelist())
    flip_tensor_byte(path, records[where] % count)
    with pytest.raises(
        ValueError, match=r"last.pt is corrupt: the archive member .*/data/\d+ does not match"
    ):
        SavedRun.load(path)


def test_an_edit_anywhere_fails_the_digest(model, tmp_path):
    """torch.save writes new checksums: the digest catches what they cannot, e.g. an edited
    optimizer momentum, which would resume a ruined run with exit 0."""
    path = training_run(model).save(tmp_path / "last.pt")
    for edit in (
        lambda p: p["optimizer"]["state"][0]["momentum_buffer"].mul_(1e32),
        lambda p: p["model"]["fc.bias"].add_(1),
        lambda p: p["train_config"].update(lr=10.0),
        lambda p: p.update(epoch=0),
    ):
        payload = load_file(path)
        edit(payload)
        torch.save(payload, tmp_path / "edited.pt")
        with pytest.raises(ValueError, match="edited.pt: the contents do not match the digest"):
            SavedRun.load(tmp_path / "edited.pt")


def test_a_file_of_ours_without_its_digest_loads_only_when_allowed(model, tmp_path):
    path = SavedRun(model.config, CLASSES, model.state_dict()).save(tmp_path / "run.pt")
    payload = load_file(path)
    payload["model"]["fc.bias"] = payload["model"]["fc.bias"] + 1  # an edit, and the digest removed
    del payload["sha256"]
    torch.save(payload, tmp_path / "stripped.pt")
    with pytest.raises(UnverifiedCheckpointError, match="stripped.pt has no digest.*--allow-unverified"):
        SavedRun.load(tmp_path / "stripped.pt")
    with pytest.raises(UnverifiedCheckpointError):
        load_predictor(tmp_path / "stripped.pt")
    assert torch.equal(
        SavedRun.load(tmp_path / "stripped.pt", allow_unverified=True).weights["fc.bias"],
        payload["model"]["fc.bias"],
    )
    del payload["format"]  # nor does removing the format make it an authors' state dict
    torch.save(payload, tmp_path / "anonymous.pt")
    with pytest.raises(
        ValueError, match="anonymous.pt looks like a blvnet-edu checkpoint but its format is None"
    ):
        load_predictor(tmp_path / "anonymous.pt")


def test_files_of_the_first_format_load_only_when_allowed(model, tmp_path):
    """blvnet-edu/1 files carry a digest of their weights only."""
    weights = model.state_dict()
    old = {
        "format": LEGACY_FORMAT,
        "model": weights,
        "weights_sha256": weights_digest(weights),
        "model_config": model.config.to_dict(),
        "classes": CLASSES,
    }
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(UnverifiedCheckpointError, match="old.pt was written by an earlier blvnet-edu"):
        SavedRun.load(tmp_path / "old.pt")
    run = SavedRun.load(tmp_path / "old.pt", allow_unverified=True)
    run.save(tmp_path / "old.pt")  # the upgrade the message gives
    assert (
        load_file(tmp_path / "old.pt")["format"] == FORMAT
        and SavedRun.load(tmp_path / "old.pt").classes == CLASSES
    )
    torch.save({**old, "model": {**weights, "fc.bias": weights["fc.bias"] + 1}}, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="edited.pt: the weights do not match the digest"):
        SavedRun.load(tmp_path / "edited.pt", allow_unverified=True)  # its weights digest still counts


@pytest.mark.parametrize("demo", ["tsn_resnet_tiny", "blvnet_tiny", "blvnet_tam_tiny"])
def test_the_bundled_demo_files_carry_the_full_digest(demo):
    path = ROOT / "app" / "demo" / f"{demo}.pt"
    payload = load_file(path)
    assert payload["format"] == FORMAT and payload["sha256"] == payload_digest(payload)
    run = SavedRun.load(path)
    assert run.config.name == demo and len(run.classes) == 14 and run.epoch is not None
    assert run.preprocessing == Preprocessing(48, 48, None)  # from the training config
    assert not run.build_model().training


def base(model) -> dict:
    return {
        "format": FORMAT,
        "model": model.state_dict(),
        "model_config": model.config.to_dict(),
        "classes": CLASSES,
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.update(classes=3), "`classes` must be a list of class names, got int"),
        (lambda p: p.update(classes=["a", "b", "a"]), "the class name 'a' appears twice"),
        (lambda p: p.update(classes=["a", "", "c"]), "class names must be non-empty strings; entry 1"),
        (lambda p: p.update(classes=["a", "b"]), "2 class names for a model of 3 classes"),
        (lambda p: p["model_config"].update(num_frames="x"), "num_frames must be a whole number, got 'x'"),
        (lambda p: p["model_config"].update(widths=None), "widths must be 4 whole numbers, got None"),
        (lambda p: p["model_config"].update(layers=[2, 2, 2, 1.5]), "layers must be 4 whole numbers"),
        (lambda p: p["model"]["fc.weight"].fill_(float("nan")), r"NaN or infinite values \(fc.weight\)"),
        (
            lambda p: p.update(preprocessing={"size": 0}),
            "preprocessing size must be a whole number >= 32, got 0",
        ),
        (
            lambda p: p.update(preprocessing={"resize": -5}),
            "preprocessing resize must be a whole number >= 32",
        ),
        (lambda p: p.update(preprocessing={"size": "48"}), "preprocessing size must be a whole number"),
        (
            lambda p: p.update(preprocessing={"size": 64, "resize": 48}),
            r"resize \(48\) is smaller than the crop",
        ),
        (lambda p: p.update(epoch="3"), "`epoch` must be a whole number >= 0"),
        (lambda p: p.update(train_config=[1]), "`train_config` must be a mapping"),
    ],
)
def test_every_field_is_checked_before_anything_is_built(model, tmp_path, change, message):
    payload = base(model)
    payload["model"] = {k: v.clone() for k, v in payload["model"].items()}
    change(payload)
    torch.save(sealed(payload), tmp_path / "bad.pt")
    with pytest.raises(ValueError, match=message):
        SavedRun.load(tmp_path / "bad.pt")


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda p: p["model_config"].update(layers=[2, 2, 2, 100_000]),
            "network of 28,160M parameters",
        ),
        (lambda p: p["model_config"].update(layers=[2, 2, 2, 10**12]), "M parameters; the limit is 150M"),
        (lambda p: p.update(preprocessing={"size": 100_000, "resize": 100_000}), "takes 100000x100000 input"),
        (lambda p: p["model_config"].update(num_frames=100_000), "100000 frames per clip is over the limit"),
        (
            lambda p: (
                p.update(preprocessing={"size": 600, "resize": 600})
                or p["model_config"].update(num_frames=64, widths=[64, 128, 256, 512], layers=[3, 4, 6, 3])
            ),
            "GFLOPs per clip",
        ),
    ],
)
def test_a_network_over_the_limits_is_refused_by_arithmetic(model, tmp_path, change, message, monkeypatch):
    """The sweep's 2.8 MB file with 100,000 blocks in stage 4 tied a server up for 16 minutes
    (the network was built on the `meta` device first): now it is refused from its config,
    before any module is built."""
    payload = base(model)
    change(payload)
    torch.save(sealed(payload), tmp_path / "huge.pt")
    monkeypatch.setattr(Bottleneck, "__init__", lambda *a, **k: pytest.fail("a module was built"))
    with pytest.raises(BudgetError, match=message):
        load_predictor(tmp_path / "huge.pt", limits=Limits())


def test_an_old_file_without_preprocessing_takes_the_defaults(model, tmp_path):
    path = tmp_path / "old.pt"
    torch.save(sealed(base(model)), path)
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
    torch.save(sealed(odd), tmp_path / "odd.pt")
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
