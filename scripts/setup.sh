#!/usr/bin/env bash
# One-command setup: a virtual environment in .venv with kernelfit and its
# test/dev/docs/nets/dask extras. PyTorch is pinned to 2.13.0 and installed first, so that
# the optional `nets` extra never pulls a newer build (and its CUDA packages).
#   bash scripts/setup.sh            # everything
#   KERNELFIT_NO_TORCH=1 bash scripts/setup.sh   # skip PyTorch and the nets extra
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
extras="dev,dask,docs"
if [ -z "${KERNELFIT_NO_TORCH:-}" ]; then
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  extras="dev,nets,dask,docs"
fi
.venv/bin/python -m pip install --quiet -e ".[${extras}]"
.venv/bin/python -c "import kernelfit, numpy, scipy; print('kernelfit', kernelfit.__version__, 'ready in .venv')"
