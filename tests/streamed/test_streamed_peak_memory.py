"""Peak memory of the streamed random-conv solve against its memory plan and budget.

As in ``tests/linalg/test_peak_memory.py``: a fresh interpreter, a small warm-up solve,
then the anonymous resident memory sampled during the solve, which must stay within the
budget (all of which :func:`kernelfit.streamed.plan_streamed_memory` plans) plus an
allowance for the images, features of a batch and the interpreter's noise.
"""

import json

import pytest

N, M, TILE, BUDGET = 3000, 500, 500, 150_000_000
ALLOWANCE = (16 << 20) + 4 * TILE * TILE * 8

CHILD = """
import json
import numpy as np
from kernelfit.features import RandomConvFeatures
from kernelfit.memory_usage import AnonymousPeak, anonymous_rss
from kernelfit.streamed import plan_streamed_memory, solve_streamed

rng = np.random.default_rng(0)
X = rng.integers(0, 256, ({n}, 12, 12), dtype=np.uint8)
y = rng.integers(0, 10, {n})
Xt = rng.integers(0, 256, ({m}, 12, 12), dtype=np.uint8)

def features():
    return RandomConvFeatures(n_filters=32, patch_size=3, n_whitening_patches=2000,
                              n_standardize_images=200, device="cpu", n_jobs=1)

solve_streamed(features(), X[:200], y[:200], Xt[:20], bandwidth=5.0, dtype="float64",
               device="cpu", tile_size=250)
base = anonymous_rss()
with AnonymousPeak(interval=0.002) as peak:
    solve_streamed(features(), X, y, Xt, bandwidth=5.0, dtype="float64", device="cpu",
                   tile_size={tile}, memory_budget={budget})
plan = plan_streamed_memory({n}, {m}, {tile}, np.float64, {budget})
print(json.dumps({{"increase": peak.peak - base, "packed": plan.packed}}))
"""


@pytest.mark.xfail(strict=True, reason=(
    "accumulating the feature Gram (phase 'randconv gram') exceeds the plan: 182 MB of "
    "anonymous memory (159 MB of NumPy arrays by tracemalloc) for a 150 MB budget that "
    "plans 112 MB for that phase"))
def test_the_streamed_solve_stays_inside_its_memory_budget(run_python):
    code = CHILD.format(n=N, m=M, tile=TILE, budget=BUDGET)
    proc = run_python(code, timeout=300, env={"OMP_NUM_THREADS": "1",
                                              "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["increase"] >= 2 * record["packed"]  # the sampler saw K and its copy
    assert record["increase"] <= BUDGET + ALLOWANCE, (
        f"peak {record['increase'] / 1e6:.1f} MB over a budget of {BUDGET / 1e6:.0f} MB "
        f"(+ {ALLOWANCE / 1e6:.1f} MB allowed)")
