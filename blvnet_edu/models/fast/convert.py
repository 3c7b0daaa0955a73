"""Switching a network between the paper's modules and the fast ones, in place.

Each fast module is a subclass of the paper's module with the same parameters and another
`forward`, so a switch changes the class of the modules and nothing else: parameters,
buffers, children and hooks stay where they are, and `print(model)` shows what runs
(in the spirit of pytorchvideo's `convert`):

| paper module | fast module | trick | switch |
|---|---|---|---|
| `TAM` | `FastTAM` (`fast/tam.py`) | sum accumulated in place, hand-written backward | `tam` |
| bL layer 0's `TAM` | `FastTAM(inplace=True)` | at inference, written over the stem output | `tam` |
| `FrameRouting(2)` | `PairStorage` (`fast/routing.py`) | one map per pair between stages | `pairs` |
| `BLModule` | `FastBLModule` (`fast/blnet.py`) | reads pairs | `pairs` |
| `TAM` of stages 1-3 | `PairTAM` (`fast/tam.py`) | TAM read over pair storage | `pairs` |
| `layout` (`nn.Identity`) | `ChannelsLastOnCPU` (`fast/layout.py`) | channels_last, CPU | `channels_last` |

`build_model(..., fast=True)` (the default) builds the paper's modules and calls `to_fast`;
`model.fast = False` calls `to_paper`.
"""

from __future__ import annotations

from torch import nn

from ..blnet import BLLayer0, BLModule
from ..tam import TAM
from ..temporal import FrameRouting
from .blnet import FastBLModule
from .layout import ChannelsLastOnCPU
from .routing import PairStorage
from .tam import FastTAM, PairTAM

__all__ = ["to_fast", "to_paper", "is_fast", "FAST_MODULES"]

FAST_MODULES = (FastTAM, PairTAM, PairStorage, FastBLModule, ChannelsLastOnCPU)
_PAPER = {FastTAM: TAM, PairTAM: TAM, FastBLModule: BLModule}


def _swap(module: nn.Module, cls: type) -> None:
    module.__class__ = cls  # same object: parameters, children and hooks are kept


def _replace_routings(model: nn.Module, old: type, make) -> None:
    """Replace every routing of type `old` by `make(routing)`, one new object per old one
    (stages share their network's routing). Routings are replaced, not changed, because a
    stage built by hand may hold the shared `temporal.PAIRS`."""
    new: dict[int, nn.Module] = {}
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is old and (old is not FrameRouting or child.group_size == 2):
                setattr(parent, name, new.setdefault(id(child), make(child)))


def to_paper(model: nn.Module) -> nn.Module:
    """Every fast module back to the paper's (in place); returns `model`."""
    _replace_routings(model, PairStorage, lambda _: FrameRouting(2))
    for module in model.modules():
        if isinstance(module, FastTAM):
            module.__dict__.pop("inplace", None)
        if type(module) in _PAPER:
            _swap(module, _PAPER[type(module)])
        if isinstance(getattr(module, "layout", None), ChannelsLastOnCPU):
            module.layout = nn.Identity()
    return model


def to_fast(model: nn.Module, tam: bool = True, pairs: bool = True, channels_last: bool = True) -> nn.Module:
    """The paper's modules of `model` to the fast ones (in place); returns `model`.

    `tam`: every TAM to `FastTAM`. `pairs`: pair storage (`PairStorage`, `FastBLModule` and
    the `PairTAM` of stages 1-3) where frames are routed in pairs, `FastBLModule` where they
    are not. `channels_last`: the input frames in channels_last memory on a CPU. Each switch
    on its own is what benchmarks/speed.py measures."""
    to_paper(model)
    paired = pairs and any(type(m) is FrameRouting and m.group_size == 2 for m in model.modules())
    if pairs:
        _replace_routings(model, FrameRouting, lambda _: PairStorage())
    for module in model.modules():
        if type(module) is BLModule and pairs:
            _swap(module, FastBLModule)
            if module.tam is not None:
                _swap(module.tam, PairTAM if paired else FastTAM if tam else TAM)
    if tam:
        for module in model.modules():
            if type(module) is TAM:
                _swap(module, FastTAM)
        for module in model.modules():
            if type(module) is BLLayer0 and type(module.tam) is FastTAM:
                module.tam.inplace = True  # the stem output has no other reader
    if channels_last:
        for module in list(model.modules()):
            if type(getattr(module, "layout", None)) is nn.Identity:
                module.layout = ChannelsLastOnCPU()
    return model


def is_fast(model: nn.Module) -> bool:
    """Whether any module of `model` is a fast one."""
    return any(isinstance(m, FAST_MODULES) for m in model.modules())
