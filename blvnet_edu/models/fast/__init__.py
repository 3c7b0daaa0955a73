"""Every speed trick of the package, apart from the paper's code, as modules of their own.

`models/` outside this folder reads as the paper. Each fast module here is a subclass of a
paper module with the same parameters and a faster `forward`; `build_model(..., fast=True)`
(the default) swaps them in (`convert.to_fast`), `model.fast = False` swaps them back, and
`print(model)` shows which run. Whole-network tests prove the two equal in float64, outputs
and every parameter gradient (tests/test_models_fast_convert.py); each trick's own gain is
measured in docs/benchmarks/speed.md (benchmarks/speed.py switches them off one at a time);
measured that way, two earlier tricks went: the stem output split as views with a one-buffer
backward (no gain forward, slower forward+backward) and the local fusion's upsample-and-add
in place (slower forward+backward; at inference only, 1.00x).

| trick | module | switch |
|---|---|---|
| TAM accumulated in place, hand-written backward | `tam.py`: `FastTAM` | `tam` |
| at inference, bL layer 0's TAM written over the stem output | `tam.py`: `FastTAM(inplace=True)` | `tam` |
| one map per frame pair between stages (no copies, no selection) | `routing.py`: `PairStorage` | `pairs` |
| stages 1-3 on pairs: TAM read over pair storage | `tam.py`: `PairTAM`; `blnet.py` | `pairs` |
| channels_last input frames on a CPU | `layout.py`: `ChannelsLastOnCPU` | `channels_last` |
| BatchNorm folded into the convolutions (inference only) | `batchnorm.py` | `prepare_for_inference` |

A switch is an argument of `convert.to_fast(model, tam=, pairs=, channels_last=)`.
"""

from .batchnorm import fold_batchnorm_, prepare_for_inference
from .blnet import FastBLModule
from .convert import FAST_MODULES, is_fast, to_fast, to_paper
from .layout import ChannelsLastOnCPU
from .routing import PairStorage
from .tam import FastTAM, PairTAM, pair_weights, tam_frames, tam_pairs

__all__ = [
    "ChannelsLastOnCPU",
    "FAST_MODULES",
    "FastBLModule",
    "FastTAM",
    "PairStorage",
    "PairTAM",
    "fold_batchnorm_",
    "is_fast",
    "pair_weights",
    "prepare_for_inference",
    "tam_frames",
    "tam_pairs",
    "to_fast",
    "to_paper",
]
