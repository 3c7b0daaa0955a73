#!/usr/bin/env bash
# Issue 24's device check in one run (a few minutes on one H200), for the `device` tool or any
# CUDA machine, from the repository root:
#   1. benchmarks/gpu_profile.py: where a training step's time goes, bLVNet-TAM-50 x16 beside
#      TSN-ResNet-50 x8 (torch.profiler: per kind of operation, kernels per step, per part);
#   2. benchmarks/gpu_training.py --batch 32: clips per second, eager and compiled, training
#      and inference, beside TSN-ResNet-50 at 8 and 16 frames.
# Reports go to $OUT (the device tool's folder that comes back) or docs/benchmarks/.
# Needs only torch (and torchvision, PyYAML) besides this tree: the machine's python3 has them.
set -euo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT="${OUT:-docs/benchmarks}"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
python3 benchmarks/gpu_profile.py --out "$OUT/gpu_profile.md" 2>&1 | tee "$OUT/gpu_profile.log"
python3 benchmarks/gpu_training.py --batch 32 --steps 10 --out "$OUT/gpu_training.md" 2>&1 | tee "$OUT/gpu_training.log"
