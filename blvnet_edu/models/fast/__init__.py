"""Every speed trick of the package, apart from the paper's code and behind one switch.

`models/` outside this folder reads as the paper. `VideoNet(config, fast=True)`, the default,
runs `network.forward_features` instead of its own step-by-step forward: the same function of
the same parameters (tests/test_models_fast.py: outputs and every parameter gradient in
float64, for every preset family), measured faster in docs/benchmarks/speed.md.

| trick | module | used |
|---|---|---|
| one map per frame pair instead of two copies; no frame selection before stage 4 | `network.py` | `fast=True` |
| TAM accumulated in place, hand-written backward, TAM read over pair storage | `tam.py` | `fast=True` |
| odd/even split as views with a single-buffer backward; in-place upsample-and-add | `network.py` | `fast=True` |
| channels_last on CPU | `network.py` | `fast=True` |
| BatchNorm folded into the convolutions | `batchnorm.py` | `blvnet_edu.inference` |
"""

from .batchnorm import fold_batchnorm_, prepare_for_inference
from .network import forward_features, has_hooks
from .tam import pair_weights, tam_frames, tam_pairs

__all__ = ["fold_batchnorm_", "prepare_for_inference", "forward_features", "has_hooks", "pair_weights", "tam_frames", "tam_pairs"]
