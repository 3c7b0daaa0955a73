#!/usr/bin/env bash
# Every test tier and the lint: what CI (.ci/run) runs after scripts/setup.sh. Arguments go to
# pytest. The inner loop while editing is `.venv/bin/python -m pytest -m "not slow"` (README, "Tests").
set -euo pipefail
cd "$(dirname "$0")/.."
LINTED=(blvnet_edu app benchmarks tests)
.venv/bin/ruff check "${LINTED[@]}"
.venv/bin/ruff format --check "${LINTED[@]}"
.venv/bin/python -m pytest "$@"
