"""Peak memory of the streamed random-conv solve against its memory budget.

As in ``tests/linalg/test_peak_memory.py``: a fresh interpreter, a small warm-up solve,
then the anonymous resident memory sampled during the solve, which must stay within the
budget (all of which :func:`kernelfit.streamed.plan_streamed_memory` plans) plus an
allowance for the images and the interpreter's noise, and must show the two packed
copies of ``K`` (the tiles and the copy kept for the refinement). Several ridge terms
from one Gram (a fresh copy of the kept ``K`` factored per term) stay within the same
budget.
"""

import json

import pytest

M = 500
ALLOWANCE = 24 << 20

CHILD = """
import json
import numpy as np
from kernelfit.features import RandomConvFeatures
from kernelfit.memory_usage import AnonymousPeak, anonymous_rss
from kernelfit.streamed import plan_streamed_memory, solve_streamed, solve_streamed_regs

rng = np.random.default_rng(0)
X = rng.integers(0, 256, ({n}, 12, 12), dtype=np.uint8)
y = rng.integers(0, 10, {n})
Xt = rng.integers(0, 256, ({m}, 12, 12), dtype=np.uint8)

def features():
    return RandomConvFeatures(n_filters=32, patch_size=3, n_whitening_patches=2000,
                              n_standardize_images=200, device="cpu", n_jobs=1)

solve_streamed(features(), X[:200], y[:200], Xt[:20], bandwidth=5.0, dtype="float64",
               device="cpu", tile_size=100)
base = anonymous_rss()
with AnonymousPeak(interval=0.002) as peak:
    solve_streamed_regs(features(), X, y, Xt, regs={regs}, bandwidth=5.0, dtype="float64",
                        device="cpu", tile_size={tile}, memory_budget={budget})
plan = plan_streamed_memory({n}, {m}, {tile} or 2048, np.float64, {budget})
print(json.dumps({{"increase": peak.peak - base, "packed": plan.packed}}))
"""


@pytest.mark.parametrize("regs", [(0.0,), (0.0, 0.1)])
def test_the_streamed_solve_stays_inside_its_memory_budget(run_python, regs):
    # The default tile: the Gram tiles are the storage tiles, updated in place.
    n, tile, budget = 4096, None, 330_000_000
    code = CHILD.format(n=n, m=M, tile=tile, budget=budget, regs=regs)
    proc = run_python(code, timeout=300, env={"OMP_NUM_THREADS": "1",
                                              "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout.strip().splitlines()[-1])
    assert record["increase"] >= 2 * record["packed"]  # the sampler saw K and its copy
    assert record["increase"] <= budget + ALLOWANCE, (
        f"peak {record['increase'] / 1e6:.1f} MB over a budget of {budget / 1e6:.0f} MB "
        f"(+ {ALLOWANCE / 1e6:.1f} MB allowed)")
