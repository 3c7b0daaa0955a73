"""The training loop: one process on a CPU or GPU, or many under `torchrun` (DDP).

    blvnet-edu train --config configs/synthetic_tiny.yaml epochs=10 out=runs/tam
    torchrun --nproc_per_node 8 -m blvnet_edu.cli train --config configs/kinetics_blvnet_tam_50.yaml

Per epoch it writes, under `out/`: `metrics.jsonl` and `metrics.csv` (loss, top-1/top-5, per-
class accuracy, learning rate, time), `confusion.csv` (latest validation confusion matrix),
`last.pt` (everything needed to resume) and `best.pt` (the best model so far), both
`saved_run.SavedRun` files, all written atomically. `config.yaml` holds the resolved
configuration. With `resume=True` training restarts after the last finished epoch, with the
model, optimizer, scheduler, scaler and random generators as they were: the result equals an
uninterrupted run.

Each epoch ends with three writes, in this order, so that a kill at any point resumes: the
logs (a logged epoch whose checkpoint was not saved is trimmed and trained again), `last.pt`
(with the epoch's metrics), then `best.pt` (a resume rewrites it from `last.pt` where the
best epoch was the last one and `best.pt` does not hold it).

The recipe's settings (`config.TrainConfig`, `recipe: ours | authors`) act here: the flip in
`TrainTransform`, Nesterov momentum and the weight decay's parameter groups in the optimizer,
the cosine schedule stepped after every optimizer update (`schedule_per: step`) or once per
epoch (`schedule_per: epoch`, the authors' `CosineAnnealingLR(T_max=epochs)`), and gradient
clipping.

Precision is decided here and only here: autocast in bf16 or fp16 (fp16 with a gradient
scaler), optional channels_last and `torch.compile`.
"""

from __future__ import annotations

import csv
import json
import math
import time
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
import yaml
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from ..data.datasets import VideoClipDataset
from ..data.lists import read_classes
from ..data.transforms import EvalTransform, TrainTransform
from ..models.blvnet import build_model
from ..models.checkpoints import load_imagenet_backbone
from ..saved_run import Preprocessing, SavedRun
from .checkpointing import rng_state, set_rng_state, unwrap
from .config import RECIPES, TrainConfig
from .distributed import DistInfo, setup, teardown
from .evaluate import evaluate

__all__ = ["train", "AUTOCAST_DTYPES"]

AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _param_groups(model: nn.Module, weight_decay: float, decay_norm_and_bias: bool = False) -> list[dict]:
    """No weight decay on biases and BatchNorm parameters (1-D tensors); with
    `decay_norm_and_bias`, one group: the same decay on every parameter (the authors')."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if decay_norm_and_bias:
        return [{"params": trainable, "weight_decay": weight_decay}]
    decay, no_decay = [], []
    for p in trainable:
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_factor(total_steps: int, warmup_steps: int):
    """Linear warm-up, then cosine decay to zero, per scheduler step: an optimizer update, or an
    epoch (`schedule_per: epoch`). Without warm-up, step `e` gets 0.5 (1 + cos(pi e / total)),
    the closed form of the authors' `CosineAnnealingLR(optimizer, epochs, eta_min=0)` stepped
    with `scheduler.step(epoch)` before each epoch (the same floats)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def _check_same_recipe(cfg: TrainConfig, saved: SavedRun, path: Path) -> None:
    """Refuse to resume with settings that change the optimizer's or the schedule's structure
    (parameter groups, Nesterov, the schedule's unit): the saved state would not mean the same.
    Checkpoints written before these settings existed were trained with `ours`."""
    changed = [
        f"{name}: {saved.train_config.get(name, RECIPES['ours'][name])!r} -> {getattr(cfg, name)!r}"
        for name in ("nesterov", "decay_norm_and_bias", "schedule_per")
        if saved.train_config.get(name, RECIPES["ours"][name]) != getattr(cfg, name)
    ]
    if changed:
        raise ValueError(
            f"{path} was trained with other optimizer settings ({', '.join(changed)}); "
            "resume with the configuration saved in its folder"
        )


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)


def _loaders(cfg: TrainConfig, frames: int, num_classes: int, info: DistInfo, pin: bool):
    data = Path(cfg.data)
    train_set = VideoClipDataset(
        data / "train.csv",
        frames,
        TrainTransform(cfg.size, cfg.scales, cfg.flip),
        True,
        stride=cfg.stride,
        seed=cfg.seed,
        num_classes=num_classes,
    )
    val_set = VideoClipDataset(
        data / "val.csv",
        frames,
        EvalTransform(cfg.size, cfg.resize, cfg.eval_crops),
        False,
        stride=cfg.stride,
        num_clips=cfg.eval_clips,
        num_classes=num_classes,
    )
    if len(train_set) < cfg.batch_size * info.world_size:
        raise ValueError(
            f"{data / 'train.csv'} has {len(train_set)} clips, fewer than one global batch "
            f"({cfg.batch_size} x {info.world_size} processes)"
        )
    # One sampler for one process or many: each rank takes its share of one seeded permutation.
    sampler = DistributedSampler(
        train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed, drop_last=True
    )
    common = dict(num_workers=cfg.workers, pin_memory=pin, persistent_workers=False)
    train_loader = DataLoader(train_set, cfg.batch_size, sampler=sampler, drop_last=True, **common)
    views = cfg.eval_clips * cfg.eval_crops
    val_loader = DataLoader(val_set, max(1, cfg.batch_size // views), shuffle=False, **common)
    return train_set, sampler, train_loader, val_loader


def _log_epoch(out: Path, record: dict, classes: list[str], confusion: list[list[int]]) -> None:
    with open(out / "metrics.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    scalars = {k: v for k, v in record.items() if not isinstance(v, (list, dict))}
    new = not (out / "metrics.csv").exists()
    with open(out / "metrics.csv", "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(scalars))
        if new:
            writer.writeheader()
        writer.writerow(scalars)
    with open(out / "confusion.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["true \\ predicted", *classes])
        writer.writerows([name, *row] for name, row in zip(classes, confusion))


def _epoch_of_json(line: str) -> float:
    """The epoch of a `metrics.jsonl` line; a torn line (a kill while writing) counts as none."""
    try:
        return json.loads(line)["epoch"]
    except (ValueError, KeyError, TypeError):
        return float("inf")


def _epoch_of_csv(row: str) -> float:
    try:
        return int(row.split(",", 1)[0])
    except ValueError:
        return float("inf")


def _trim_logs(out: Path, epochs_done: int) -> None:
    """Keep the log rows of the epochs the run starts from: none for a fresh run; for a
    resumed one, those its checkpoint holds (a run killed between logging an epoch and
    saving its checkpoint logs that epoch again). Torn rows and temporary files left by a
    kill are removed."""
    for leftover in out.glob(".*.tmp*"):  # a write interrupted by a kill (saves are atomic)
        leftover.unlink(missing_ok=True)
    jsonl, table = out / "metrics.jsonl", out / "metrics.csv"
    if jsonl.exists():
        rows = [
            line
            for line in jsonl.read_text(errors="replace").splitlines()
            if _epoch_of_json(line) <= epochs_done
        ]
        jsonl.write_text("".join(row + "\n" for row in rows))
    if table.exists():
        header, *rows = table.read_text(errors="replace").splitlines() or [""]
        kept = [row for row in rows if _epoch_of_csv(row) <= epochs_done]
        if kept:
            table.write_text("".join(line + "\n" for line in [header, *kept]))
        else:
            table.unlink()  # the next epoch writes the header again


def _check_resumable(out: Path) -> None:
    """Refuse `resume=True` where `out` holds no `last.pt`, saying what happened."""
    if (out / "last.pt").is_file():
        return
    jsonl = out / "metrics.jsonl"
    logged = jsonl.read_text(errors="replace").splitlines() if jsonl.is_file() else []
    epochs = [e for e in map(_epoch_of_json, logged) if e != float("inf")]
    if epochs:
        raise FileNotFoundError(
            f"{out} holds no last.pt although metrics.jsonl lists epoch {max(epochs)}: the run stopped "
            "before it saved its first checkpoint (or last.pt was removed), so there is nothing to resume "
            "from; start the run again without --resume (its logs are rewritten)"
        )
    raise FileNotFoundError(
        f"nothing to resume in {out}: no last.pt (no epoch of this run has finished); "
        "start the run without --resume"
    )


def _repair_best(last: SavedRun, best_path: Path) -> bool:
    """Rewrite `best.pt` from `last.pt` where the last saved epoch was the best and `best.pt`
    does not hold it (a kill between the two writes); whether it did."""
    if last.metrics is None or last.metrics.get("top1") != last.best_top1:
        return False  # the best epoch is an earlier one, saved before last.pt
    try:
        best = SavedRun.load(best_path)
        if best.metrics is not None and best.metrics.get("top1") == last.best_top1:
            return False
    except (FileNotFoundError, ValueError):
        pass  # none (the first epoch) or unreadable: write it
    replace(last, optimizer=None, scheduler=None, scaler=None, rng=None, best_top1=None).save(best_path)
    return True


def train(cfg: TrainConfig, resume: bool | str = False, log=print, allow_unverified: bool = False) -> dict:
    """Train as `cfg` says; returns the last epoch's record. `resume`: True (from
    `out/last.pt`) or a checkpoint path; `allow_unverified`: resume from a checkpoint without
    a digest of the whole file (`saved_run.SavedRun.verify`)."""
    info, device = setup(cfg.device)
    try:
        return _train(cfg, resume, log, info, device, allow_unverified)
    finally:
        teardown()


def _train(
    cfg: TrainConfig, resume, log, info: DistInfo, device: torch.device, allow_unverified: bool = False
) -> dict:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    log = log if info.is_main else (lambda *_a, **_k: None)
    out = Path(cfg.out)
    if resume is True:
        _check_resumable(out)
    classes = read_classes(Path(cfg.data) / "classes.txt")
    torch.manual_seed(cfg.seed)  # the same initial weights in every process
    model = build_model(cfg.model, num_classes=len(classes), **cfg.model_options)
    if cfg.pretrained:
        log(load_imagenet_backbone(model, cfg.pretrained))
    if cfg.freeze_bn:
        _freeze_batchnorm(model)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    train_set, sampler, train_loader, val_loader = _loaders(
        cfg, model.config.num_frames, len(classes), info, pin=device.type == "cuda"
    )
    steps_in_epoch = (
        len(train_loader)
        if cfg.max_steps_per_epoch is None
        else min(len(train_loader), cfg.max_steps_per_epoch)
    )
    updates_per_epoch = max(1, steps_in_epoch // cfg.accumulate)
    groups = _param_groups(model, cfg.weight_decay, cfg.decay_norm_and_bias)
    optimizer = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    # stepped after each epoch (epoch e trains at factor(e)), or after each optimizer update
    steps_per_unit = 1 if cfg.schedule_per == "epoch" else updates_per_epoch
    lr_factor = _lr_factor(cfg.epochs * steps_per_unit, round(cfg.warmup_epochs * steps_per_unit))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    autocast_dtype = AUTOCAST_DTYPES[cfg.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16")

    start_epoch, best_top1 = 0, -1.0
    if not resume and (out / "last.pt").exists():
        raise ValueError(
            f"{out} already holds a training run (last.pt): continue it with --resume, or give another `out`"
        )
    if resume:
        path = out / "last.pt" if resume is True else Path(resume)
        saved = SavedRun.load(path, allow_unverified)  # fields added to the model config since: defaults
        if saved.config != model.config:
            raise ValueError(
                f"{path} was trained with another model ({saved.config}); "
                "resume with the configuration saved in its folder"
            )
        if saved.optimizer is None or saved.rng is None:
            raise ValueError(
                f"{path} holds no training state (optimizer, random generators): resume from a run's last.pt"
            )
        _check_same_recipe(cfg, saved, path)
        model.load_state_dict(saved.weights)
        optimizer.load_state_dict(saved.optimizer)
        scheduler.load_state_dict(saved.scheduler)
        scaler.load_state_dict(saved.scaler)
        set_rng_state(saved.rng)
        start_epoch, best_top1 = saved.epoch + 1, saved.best_top1
        log(f"resumed from {path} after epoch {saved.epoch}")
        if info.is_main and _repair_best(saved, out / "best.pt"):
            log(f"{out / 'best.pt'} rewritten from {path}: the run stopped while saving it")

    ddp = (
        DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)
        if info.enabled
        else model
    )
    run = torch.compile(ddp) if cfg.compile else ddp
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        _trim_logs(out, start_epoch)

    record: dict = {}
    for epoch in range(start_epoch, cfg.epochs):
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        model.train()
        if cfg.freeze_bn:
            _freeze_batchnorm(model)
        started = time.perf_counter()
        loss_sum = torch.zeros(3, device=device)  # loss x n, correct, n
        bar = tqdm(
            train_loader,
            total=steps_in_epoch,
            desc=f"epoch {epoch + 1}/{cfg.epochs}",
            disable=not info.is_main,
            leave=False,
            dynamic_ncols=True,
        )
        optimizer.zero_grad(set_to_none=True)
        for step, (videos, labels) in enumerate(bar):
            if step >= steps_in_epoch:
                break
            videos = videos.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            last_micro = (step + 1) % cfg.accumulate == 0
            sync = ddp.no_sync() if info.enabled and not last_micro else nullcontext()
            with sync:
                with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                    logits = run(videos).float()
                loss = F.cross_entropy(logits, labels)
                scaler.scale(loss / cfg.accumulate).backward()
            if last_micro:
                if cfg.clip_grad_norm:
                    scaler.unscale_(optimizer)
                    nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                if cfg.schedule_per == "step":
                    scheduler.step()
            n = labels.numel()
            loss_sum += torch.stack(
                [loss.detach() * n, (logits.argmax(1) == labels).sum(), torch.tensor(n, device=device)]
            )
            bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{optimizer.param_groups[0]['lr']:.2e}")
        if info.enabled:
            dist.all_reduce(loss_sum)
        train_loss, train_top1 = (loss_sum[0] / loss_sum[2]).item(), (loss_sum[1] / loss_sum[2]).item()
        record = {
            "epoch": epoch + 1,
            "lr": optimizer.param_groups[0]["lr"],
            "train_loss": train_loss,
            "train_top1": train_top1,
        }
        if cfg.schedule_per == "epoch":  # after the record's lr (this epoch's); before last.pt
            scheduler.step()
        if info.is_main:
            metrics = evaluate(
                unwrap(model), val_loader, len(classes), device, autocast_dtype, _validation_bar
            )
            record.update(
                val_loss=metrics.loss,
                val_top1=metrics.top1,
                val_top5=metrics.top5,
                time_s=round(time.perf_counter() - started, 2),
                per_class={c: a for c, a in zip(classes, metrics.per_class)},
            )
            _log_epoch(out, record, classes, metrics.confusion)
            saved = SavedRun(
                model.config,
                classes,
                unwrap(model).state_dict(),
                Preprocessing(cfg.size, cfg.resize, cfg.stride),
                cfg.to_dict(),
                epoch=epoch,
            )
            improved = metrics.top1 > best_top1
            best_top1 = max(best_top1, metrics.top1)
            saved = replace(saved, metrics=metrics.summary())
            # last.pt first: what a resume needs; best.pt after it (a resume repairs it: `_repair_best`)
            replace(
                saved,
                optimizer=optimizer.state_dict(),
                scheduler=scheduler.state_dict(),
                scaler=scaler.state_dict(),
                rng=rng_state(),
                best_top1=best_top1,
            ).save(out / "last.pt")
            if improved:
                saved.save(out / "best.pt")
            log(
                f"epoch {epoch + 1}/{cfg.epochs}: train loss {train_loss:.3f} top-1 {train_top1:.3f} | "
                f"val loss {metrics.loss:.3f} top-1 {metrics.top1:.3f} top-5 {metrics.top5:.3f} "
                f"({record['time_s']:.1f} s)"
            )
        if info.enabled:
            dist.barrier()
    return record


def _validation_bar(batches):
    return tqdm(batches, desc="validation", leave=False, dynamic_ncols=True)
