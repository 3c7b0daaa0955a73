"""Every speed trick of the package, apart from the paper's code and behind one switch.

`models/` outside this folder reads as the paper. `VideoNet(config, fast=True)`, the default,
runs `network.forward_features` instead of its own step-by-step forward: the same function of
the same parameters (tests/test_models_fast_network.py: outputs and every parameter gradient in
float64, for every preset family), measured faster in docs/benchmarks/speed.md.

| trick | module | used | measured (docs/benchmarks/speed.md, bLVNet-TAM-50, 16 frames, 160 px, 2 CPU cores) |
|---|---|---|---|
| one map per frame pair instead of two copies; no frame selection before stage 4 | `network.py` | `fast=True` | with the next two rows: the plain call 2.1x faster forward and 1.4x faster forward+backward than the paper path (`fast=False`) |
| TAM accumulated in place, hand-written backward, TAM read over pair storage | `tam.py` | `fast=True` | TAM costs +9.8% forward, +5.4% forward+backward over the same network without TAM |
| odd/even split as views with a single-buffer backward; in-place upsample-and-add | `network.py` | `fast=True` | (with the rows above) |
| channels_last on CPU | `network.py` | `fast=True` | 1.18x forward, 1.06x forward+backward over the same code in contiguous layout (the previous commit) |
| BatchNorm folded into the convolutions, channels_last parameters | `batchnorm.py` | `blvnet_edu.inference` | 1.13x forward over the plain call |
"""

from .batchnorm import fold_batchnorm_, prepare_for_inference
from .network import forward_features, has_hooks
from .tam import pair_weights, tam_frames, tam_pairs

__all__ = ["fold_batchnorm_", "prepare_for_inference", "forward_features", "has_hooks", "pair_weights", "tam_frames", "tam_pairs"]
