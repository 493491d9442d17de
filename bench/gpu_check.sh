#!/usr/bin/env bash
# One-shot device check for a session lent a GPU (one H100/H200): fits in 8 minutes.
#
# 1. Here, on a machine with a package registry, once per session:
#        bash bench/gpu_check.sh --prepare
#    downloads the pure-Python wheels the device image lacks into .gpu_carry/wheels
#    (pip download --no-deps array-api-compat array-api-strict -d .gpu_carry/wheels)
#    and copies MNIST into .gpu_carry/data/mnist (from $KERNELFIT_DATA or ../shared/data).
#    .gpu_carry/ is git-ignored: name it in the device call's `carry`.
# 2. On the device (it has CuPy for CUDA 13, PyTorch, NumPy, SciPy, scikit-learn, pytest;
#    no package registry; the gpu extra is not installed over its CuPy):
#        run(command="bash bench/gpu_check.sh", carry=[".gpu_carry"], timeout_s=540)
#    In order it records the machine, installs kernelfit without dependencies plus the
#    carried wheels, runs `pytest -m gpu`, times the 60k float64 MNIST solve per phase
#    with device syncs (bench/bench_device_solve.py), and writes everything under $OUT
#    (summary.txt lists each step's status and seconds).
# 3. On the CPU:  bash bench/gpu_check.sh --dry-run
#    runs the same steps end to end with a tiny n; GPU-only steps are skipped with a line
#    that says so, and nothing is installed (kernelfit is taken from the checkout).
#
# Every step runs under its own `timeout`, so one failure does not eat the others.
# Exit status: the number of failed steps (0 when all passed).
set -u

MODE=device
case "${1:-}" in
  --dry-run) MODE=dry-run ;;
  --prepare) MODE=prepare ;;
  "") ;;
  *) echo "usage: bash bench/gpu_check.sh [--dry-run | --prepare]" >&2; exit 2 ;;
esac

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 2
PY=${PYTHON:-python3}
CARRY=$REPO/.gpu_carry
WHEELS="array-api-compat array-api-strict"

if [ "$MODE" = prepare ]; then
  mkdir -p "$CARRY/wheels" "$CARRY/data"
  "$PY" -m pip download -q --no-deps --only-binary=:all: $WHEELS -d "$CARRY/wheels" || exit 1
  source_dir=""
  for dir in ${KERNELFIT_DATA:-} "$REPO/../shared/data"; do
    if [ -d "$dir/mnist" ]; then source_dir=$dir/mnist; break; fi
  done
  if [ -n "$source_dir" ]; then
    cp -r "$source_dir" "$CARRY/data/" && echo "copied MNIST from $source_dir"
  else
    echo "MNIST not found here: the device run will time synthetic data of the same shape"
  fi
  ls -la "$CARRY"/wheels; du -sh "$CARRY"
  exit 0
fi

if [ -z "${OUT:-}" ]; then OUT=$(mktemp -d); fi
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: > "$SUMMARY"
FAILED=0
export PYTHONUNBUFFERED=1

# step NAME SECONDS COMMAND...: run under `timeout`, log to $OUT/NAME.log, record the status.
step() {
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  echo "== $name (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT/$name.log"
  local status=ok
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status="timed out"
  elif [ $rc -ne 0 ]; then status="failed (exit $rc)"; fi
  [ "$status" = ok ] || FAILED=$((FAILED + 1))
  echo "$name: $status in $((SECONDS - start)) s" | tee -a "$SUMMARY"
}

skip() {
  echo "$1: skipped ($2)" | tee -a "$SUMMARY"
}

# -- 1. the machine ---------------------------------------------------------------
record_machine() {
  echo "date: $(date -u)"; echo "mode: $MODE"; echo "commit: $(git rev-parse HEAD 2>/dev/null)"
  uname -a; nproc; free -g 2>/dev/null
  if command -v nvidia-smi > /dev/null; then nvidia-smi; else echo "nvidia-smi: not found"; fi
  "$PY" - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "scipy", "sklearn", "cupy", "torch", "array_api_compat", "pytest"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "not importable:", type(exc).__name__, exc)
try:
    import cupy
    print("cuda devices", cupy.cuda.runtime.getDeviceCount())
    print("cuda runtime", cupy.cuda.runtime.runtimeGetVersion())
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print("device 0", props["name"].decode(), "memory", props["totalGlobalMem"])
except Exception as exc:
    print("cupy device query failed:", type(exc).__name__, exc)
EOF
}
export -f record_machine
export PY MODE
step machine 30 bash -c record_machine

# -- 2. install kernelfit (no dependencies) and the carried wheels ---------------
if [ "$MODE" = dry-run ]; then
  export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
  skip install "dry run: would pip install --no-index --no-deps the wheels in .gpu_carry/wheels and -e .; using PYTHONPATH=$REPO"
  step import 30 "$PY" -c "import kernelfit, array_api_compat; print(kernelfit.__file__)"
else
  install() {
    local site=/tmp/kernelfit-site
    if compgen -G "$CARRY/wheels/*.whl" > /dev/null; then
      "$PY" -m pip install -q --no-index --no-deps --no-compile --upgrade --target "$site" \
        "$CARRY"/wheels/*.whl || return 1
    else
      echo "no carried wheels in $CARRY/wheels (run --prepare where pip can download)"
    fi
    "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e "$REPO" \
      || echo "editable install failed: kernelfit is imported from $REPO through PYTHONPATH"
  }
  export -f install
  export CARRY REPO
  step install 90 bash -c install
  export PYTHONPATH=$REPO:/tmp/kernelfit-site${PYTHONPATH:+:$PYTHONPATH}
  step import 30 "$PY" -c "import kernelfit, array_api_compat; print(kernelfit.__file__)"
fi

# -- 3. the GPU tests (without a GPU, in the dry run, every one of them skips) -----
# Only the files that hold gpu tests: other test files import packages the device
# image lacks (PyWavelets, Dask), which would stop the collection.
step pytest_gpu 180 "$PY" -m pytest -m gpu -q -p no:cacheprovider -rs \
  $(grep -rl "mark.gpu" tests --include="test_*.py" | sort)

# -- 4. the 60k float64 MNIST solve, per phase with device syncs ------------------
if [ -d "$CARRY/data/mnist" ]; then export KERNELFIT_DATA=$CARRY/data; fi
if [ "$MODE" = dry-run ]; then
  skip solve_60k "dry run: no GPU; timing n=400 synthetic on the CPU instead"
  step solve_small 120 "$PY" bench/bench_device_solve.py --n 400 --device cpu \
    --data synthetic --gemm-size 512 --json "$OUT/solve.json"
else
  DATA=mnist
  if ! "$PY" -c "from kernelfit.datasets import load_mnist; load_mnist()" > /dev/null 2>&1; then
    DATA=synthetic
    echo "MNIST not found: timing synthetic data of the same shape" | tee -a "$SUMMARY"
  fi
  step solve_60k 180 "$PY" bench/bench_device_solve.py --n 60000 --device cuda \
    --dtype float64 --data "$DATA" --json "$OUT/solve.json"
fi

echo "failed steps: $FAILED" | tee -a "$SUMMARY"
echo "results in $OUT"
exit "$FAILED"
