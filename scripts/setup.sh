#!/usr/bin/env bash
# Set up everything blvnet-edu needs on a fresh machine, idempotently:
# a virtual environment in .venv with the package (editable) and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --progress-bar off -e ".[dev]"
