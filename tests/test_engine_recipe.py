"""blvnet_edu/engine: `recipe: authors` trains as the authors' code does, `recipe: ours` as before.

The authors' code is github IBM/bLVNet-TAM (commit feadcd3); each test names the lines it
mirrors. Every check watches the engine train (optimizer hooks, the loaders it builds), not
only the config's fields.
"""

import json
import math
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml
from conftest import tiny_config as config
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from blvnet_edu import build_model
from blvnet_edu.engine import train as train_module
from blvnet_edu.engine.config import RECIPES, TrainConfig, load_config
from blvnet_edu.engine.distributed import DistInfo
from blvnet_edu.engine.train import _check_same_recipe, _loaders, _lr_factor, train
from blvnet_edu.saved_run import SavedRun

RECIPE_KEYS = ("flip", "nesterov", "decay_norm_and_bias", "schedule_per", "clip_grad_norm")
ROOT = Path(__file__).resolve().parents[1]


def quiet(*_args, **_kwargs):
    pass


class Stop(Exception):
    pass


@contextmanager
def watch_steps(stop_after: int | None = None):
    """Every optimizer step of the engine, as it happens: the optimizer, the learning rates,
    the gradients it is given and the parameters before and after. `Stop` after `stop_after`."""
    steps = []

    def before(optimizer, _args, _kwargs):
        params = [p for group in optimizer.param_groups for p in group["params"]]
        steps.append(
            dict(
                optimizer=optimizer,
                lr=[group["lr"] for group in optimizer.param_groups],
                grads=[None if p.grad is None else p.grad.detach().clone() for p in params],
                before=[p.detach().clone() for p in params],
            )
        )

    def after(optimizer, _args, _kwargs):
        steps[-1]["after"] = [p.detach().clone() for group in optimizer.param_groups for p in group["params"]]
        if stop_after is not None and len(steps) >= stop_after:
            raise Stop

    handles = [
        register_optimizer_step_pre_hook(before),
        register_optimizer_step_post_hook(after),
    ]
    try:
        yield steps
    finally:
        for handle in handles:
            handle.remove()


def model_parameters(cfg: TrainConfig) -> list[torch.nn.Parameter]:
    return list(build_model(cfg.model, num_classes=8, **cfg.model_options).parameters())


def first_step(cfg: TrainConfig) -> dict:
    with watch_steps(stop_after=1) as steps, pytest.raises(Stop):
        train(cfg, log=quiet)
    return steps[0]


# --- the configuration -------------------------------------------------------------------


def test_the_recipes_resolve_and_an_explicit_key_wins(tmp_path):
    """`recipe: authors` gives the authors' five settings; each key given wins over it, from YAML,
    a `key=value` override or Python; the resolved values round-trip."""
    authors = TrainConfig(recipe="authors")
    assert {k: getattr(authors, k) for k in RECIPE_KEYS} == {
        "flip": True,
        "nesterov": True,
        "decay_norm_and_bias": True,
        "schedule_per": "epoch",
        "clip_grad_norm": None,
    }
    path = tmp_path / "c.yaml"
    path.write_text("recipe: authors\nflip: false\nclip_grad_norm: 5.0\n")
    mixed = load_config(path, ["schedule_per=step"])
    assert (mixed.flip, mixed.clip_grad_norm, mixed.schedule_per) == (False, 5.0, "step")
    assert (mixed.nesterov, mixed.decay_norm_and_bias) == (True, True)  # the rest: the authors'
    assert load_config(None, ["recipe=authors"]) == authors  # the CLI's override == Python
    assert TrainConfig(recipe="authors", flip=False).flip is False
    for cfg in (authors, mixed):  # what config.yaml and checkpoints hold builds the same config
        assert TrainConfig(**cfg.to_dict()) == cfg
        assert yaml.safe_load(yaml.safe_dump(cfg.to_dict())) == cfg.to_dict()  # plain values only
    # what is written is resolved: loading it under the other default recipe changes nothing
    assert TrainConfig(**{**authors.to_dict(), "recipe": "ours"}).nesterov is True


def test_the_default_recipe_and_old_configs_are_unchanged():
    """`ours` is the engine's recipe before the option existed; a `train_config` of an older
    checkpoint (no `recipe`, `nesterov`, `decay_norm_and_bias`, `schedule_per`) still loads, as `ours`."""
    cfg = TrainConfig()
    assert cfg.recipe == "ours"
    assert {k: getattr(cfg, k) for k in RECIPE_KEYS} == {
        "flip": False,
        "nesterov": False,
        "decay_norm_and_bias": False,
        "schedule_per": "step",
        "clip_grad_norm": 20.0,
    }
    old = {k: v for k, v in cfg.to_dict().items() if k not in ("recipe", "nesterov", "decay_norm_and_bias")}
    del old["schedule_per"]
    assert TrainConfig(**old) == cfg
    assert TrainConfig(**{**old, "clip_grad_norm": None}).clip_grad_norm is None  # empty: no clipping
    # a resume from such a checkpoint: the optimizer settings compare as `ours`
    _check_same_recipe(cfg, types.SimpleNamespace(train_config=old), Path("old.pt"))
    with pytest.raises(ValueError, match="other optimizer settings.*nesterov: False -> True"):
        _check_same_recipe(TrainConfig(recipe="authors"), types.SimpleNamespace(train_config=old), Path("o"))


def test_clear_errors():
    with pytest.raises(ValueError, match="recipe must be one of ours, authors, got 'foo'"):
        load_config(None, ["recipe=foo"])
    with pytest.raises(ValueError, match="recipe must be one of ours, authors"):
        TrainConfig(recipe=None)
    with pytest.raises(ValueError, match="schedule_per must be step or epoch"):
        load_config(None, ["schedule_per=batch"])
    with pytest.raises(ValueError, match="nesterov must be bool"):
        load_config(None, ["nesterov=1"])
    with pytest.raises(ValueError, match="decay_norm_and_bias must be bool"):
        load_config(None, ["decay_norm_and_bias=yes please"])
    with pytest.raises(ValueError, match="warmup_epochs must be a whole number"):
        load_config(None, ["recipe=authors", "warmup_epochs=0.5"])
    with pytest.raises(ValueError, match="momentum must be > 0 with nesterov"):
        load_config(None, ["recipe=authors", "momentum=0"])
    with pytest.raises(ValueError, match="clip_grad_norm must be > 0 or empty"):
        load_config(None, ["recipe=authors", "clip_grad_norm=0"])


def test_the_authors_config_file():
    """configs/kinetics_blvnet_tam_50_authors.yaml: the Kinetics config with the authors' recipe,
    and nothing else changed."""
    ours = load_config(ROOT / "configs" / "kinetics_blvnet_tam_50.yaml")
    authors = load_config(ROOT / "configs" / "kinetics_blvnet_tam_50_authors.yaml")
    assert authors.recipe == "authors" and authors.warmup_epochs == 0
    assert {k: getattr(authors, k) for k in RECIPE_KEYS} == RECIPES["authors"]
    changed = {k for k, v in authors.to_dict().items() if v != ours.to_dict()[k]}
    assert changed == {"recipe", "warmup_epochs", "out", *RECIPE_KEYS}


# --- the engine under `recipe: authors` --------------------------------------------------


@pytest.mark.slow
def test_authors_optimizer_is_nesterov_sgd_with_decay_on_every_parameter(dataset, tmp_path):
    """train.py:142-145: `torch.optim.SGD(model.parameters(), args.lr, momentum=args.momentum,
    weight_decay=args.weight_decay, nesterov=True)`: one group, every parameter (BatchNorm and
    biases included) decayed. Checked on the first update the engine makes: p - lr (1 + m) (g + wd p)."""
    lr, m, wd = 0.05, 0.9, 0.1  # a large decay: its share of the update is far above float error
    cfg = config(dataset, tmp_path / "run", recipe="authors", weight_decay=wd)
    step = first_step(cfg)
    optimizer = step["optimizer"]
    assert type(optimizer) is torch.optim.SGD
    assert [(g["nesterov"], g["momentum"], g["weight_decay"]) for g in optimizer.param_groups] == [
        (True, m, wd)
    ]
    params = [p for g in optimizer.param_groups for p in g["params"]]
    reference = model_parameters(cfg)
    assert [p.shape for p in params] == [p.shape for p in reference]  # every parameter, in order
    assert any(p.ndim == 1 for p in params)
    assert all(g is not None for g in step["grads"])
    one_d = {"after": [], "no_decay": [], "no_nesterov": []}
    for before, grad, after in zip(step["before"], step["grads"], step["after"]):
        d = grad + wd * before
        torch.testing.assert_close(after, before - lr * (d + m * d))
        if before.ndim == 1:
            one_d["after"].append(after)
            one_d["no_decay"].append(before - lr * (1 + m) * grad)
            one_d["no_nesterov"].append(before - lr * d)
    # BatchNorm and biases: what they would be without the decay, or without Nesterov, differs
    after, no_decay, no_nesterov = (torch.cat(v) for v in one_d.values())
    assert not torch.allclose(after, no_decay, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(after, no_nesterov, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_authors_lr_is_constant_in_an_epoch_and_cosine_over_epochs(dataset, tmp_path):
    """train.py:152 `CosineAnnealingLR(optimizer, args.epochs, eta_min=0)`, stepped at
    train.py:188-192 with `scheduler.step(epoch)` before each epoch's training: epoch e trains at
    lr (1 + cos(pi e / epochs)) / 2, from lr itself (no warm-up). Compared to that scheduler,
    driven as their loop drives it, to the last bit."""
    epochs, steps_per_epoch = 4, 3
    cfg = config(
        dataset, tmp_path / "run", recipe="authors", epochs=epochs, max_steps_per_epoch=steps_per_epoch
    )
    with watch_steps() as steps:
        train(cfg, log=quiet)
    lrs = [s["lr"][0] for s in steps]
    assert len(lrs) == epochs * steps_per_epoch
    param = torch.nn.Parameter(torch.zeros(1))
    theirs = torch.optim.SGD([param], cfg.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, epochs, eta_min=0)
    expected = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # step(epoch) is deprecated, and what their code calls
        for epoch in range(epochs):
            scheduler.step(epoch)
            expected.append(theirs.param_groups[0]["lr"])
    assert lrs == [lr for lr in expected for _ in range(steps_per_epoch)]
    assert lrs[0] == cfg.lr  # no warm-up
    assert expected == [cfg.lr * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(epochs)]
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in records] == expected  # each epoch logs the rate it trained at


def scaled_loss(factor: float):
    return types.SimpleNamespace(
        cross_entropy=lambda logits, labels: factor * F.cross_entropy(logits, labels)
    )


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["authors", "ours"])
def test_authors_gradients_are_not_clipped(dataset, tmp_path, monkeypatch, recipe):
    """core/video_utils.py:149-152: `loss.backward()` then `optimizer.step()`, no clipping
    anywhere in their repository. A loss scaled by 1e4 reaches the optimizer with a gradient
    norm far above 20 and moves the weights by lr (1 + m) g; `ours` clips it to norm 20."""
    monkeypatch.setattr(train_module, "F", scaled_loss(1e4))
    cfg = config(dataset, tmp_path / "run", recipe=recipe, weight_decay=0.0)
    step = first_step(cfg)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in step["grads"]]))
    moved = torch.linalg.vector_norm(
        torch.cat([(a - b).flatten() for a, b in zip(step["after"], step["before"])])
    )
    bound = cfg.lr * (1 + cfg.momentum) * 20.0  # the largest first update a norm-20 clip allows
    if recipe == "authors":
        assert norm > 1000 and moved > 10 * bound
    else:
        assert norm <= 20.0 * (1 + 1e-5) and moved <= bound * (1 + 1e-5)


@pytest.mark.slow
def test_authors_training_clips_flip_and_evaluation_never_does(dataset, tmp_path):
    """core/video_utils.py:82-86: the training augmentor is `GroupMultiScaleCrop` then
    `GroupRandomHorizontalFlip` (core/video_transforms.py:45-60: half the clips, every frame of
    one alike), built for every dataset (train.py:127-129); evaluation (video_utils.py:87-92)
    scales and centre-crops, never flips. With a fixed seed, the clips the engine's training set
    gives are those of the same run without flip, some mirrored; the validation clips are equal."""

    def clips(cfg):
        train_set, _sampler, _loader, val_loader = _loaders(cfg, 4, 8, DistInfo(), pin=False)
        train_set.set_epoch(1)
        return [x for x, _ in train_set], [x for x, _ in val_loader.dataset]

    authors = config(dataset, tmp_path / "a", recipe="authors")
    plain = config(dataset, tmp_path / "p", recipe="authors", flip=False)
    ours = config(dataset, tmp_path / "o")
    (flipped_train, flipped_val), (plain_train, plain_val) = clips(authors), clips(plain)
    mirrored = 0
    for a, b in zip(flipped_train, plain_train, strict=True):
        same, mirror = torch.equal(a, b), torch.equal(a, b.flip(-1))
        assert same or mirror
        mirrored += mirror and not same
    assert 0 < mirrored < len(plain_train), mirrored
    assert all(torch.equal(a, b) for a, b in zip(flipped_val, plain_val, strict=True))
    ours_train, _ = clips(ours)  # the default: never mirrored
    assert all(torch.equal(a, b) for a, b in zip(ours_train, plain_train, strict=True))


@pytest.mark.slow
def test_ours_trains_as_before(dataset, tmp_path):
    """The default recipe: plain momentum, no decay on 1-D parameters, a cosine rate per update."""
    epochs, steps_per_epoch = 2, 3
    cfg = config(dataset, tmp_path / "run", epochs=epochs, max_steps_per_epoch=steps_per_epoch)
    with watch_steps() as steps:
        train(cfg, log=quiet)
    groups = steps[0]["optimizer"].param_groups
    assert [(g["nesterov"], g["weight_decay"]) for g in groups] == [(False, cfg.weight_decay), (False, 0.0)]
    assert all(p.ndim <= 1 for p in groups[1]["params"]) and all(p.ndim > 1 for p in groups[0]["params"])
    factor = _lr_factor(epochs * steps_per_epoch, 0)
    assert [s["lr"][0] for s in steps] == [cfg.lr * factor(i) for i in range(epochs * steps_per_epoch)]


@pytest.mark.slow
def test_authors_resume_gives_the_same_result_as_an_uninterrupted_run(dataset, tmp_path):
    """A run with the per-epoch schedule stopped after its first epoch and resumed equals one
    that was not stopped (weights, losses, the learning rate of each epoch); the run's
    config.yaml holds the resolved recipe; resuming it under another recipe is refused."""
    straight = config(dataset, tmp_path / "straight", recipe="authors", epochs=3, max_steps_per_epoch=3)
    train(straight, log=quiet)

    def crash_after_first_epoch(message):
        if str(message).startswith("epoch 1/"):
            raise Stop

    broken = config(dataset, tmp_path / "broken", recipe="authors", epochs=3, max_steps_per_epoch=3)
    with pytest.raises(Stop):
        train(broken, log=crash_after_first_epoch)
    assert SavedRun.load(tmp_path / "broken" / "last.pt").epoch == 0
    with pytest.raises(ValueError, match="other optimizer settings"):
        train(config(dataset, tmp_path / "broken", epochs=3, max_steps_per_epoch=3), resume=True, log=quiet)
    train(load_config(tmp_path / "broken" / "config.yaml"), resume=True, log=quiet)  # from its folder
    assert load_config(tmp_path / "broken" / "config.yaml") == broken
    a = SavedRun.load(tmp_path / "straight" / "last.pt")
    b = SavedRun.load(tmp_path / "broken" / "last.pt")
    assert a.train_config == straight.to_dict() and b.train_config == broken.to_dict()
    for key, value in a.weights.items():
        assert torch.equal(value, b.weights[key]), key

    def lines(run):
        return [json.loads(x) for x in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]

    for field in ("lr", "train_loss", "val_loss"):
        assert [r[field] for r in lines("straight")] == [r[field] for r in lines("broken")], field
    assert len({r["lr"] for r in lines("straight")}) == 3
