"""Peak memory of a fit against its memory budget, for each place the tiles can live.

Each fit runs in a fresh interpreter, after a small warm-up fit, and samples the
process's anonymous resident memory (:class:`kernelfit.memory_usage.AnonymousPeak`:
pages of memory-mapped files, such as out-of-core tiles, do not count). The budget
covers the ``n x n`` storage; the allowance covers the rest: the data, targets and
solution (``O(n d)``), a few tiles of temporaries and the interpreter's own noise.
An extra ``n x n`` float32 array (64 MB at n = 4,000) does not fit in the allowance.
"""

import json

import numpy as np
import pytest

from kernelfit.linalg import PackedStorage

N, D, TILE = 4000, 10, 500
PACKED64 = PackedStorage.nbytes_for(N, TILE, np.float64)
PACKED32 = PackedStorage.nbytes_for(N, TILE, np.float32)
WORKING_SET = 2 * N * TILE * 8  # two float64 tile columns (out of core)
ALLOWANCE = (16 << 20) + 4 * TILE * TILE * 8

CHILD = """
import json, tempfile
import numpy as np
from kernelfit import KernelRegressor
from kernelfit.memory_usage import AnonymousPeak, anonymous_rss

rng = np.random.default_rng(0)
X, y = rng.standard_normal(({n}, {d})), rng.standard_normal({n})
options = json.loads({options!r})
KernelRegressor(bandwidth=1.0, dtype=options.get("dtype")).fit(X[:300], y[:300])
base = anonymous_rss()
with tempfile.TemporaryDirectory() as scratch:
    with AnonymousPeak(interval=0.002) as peak:
        model = KernelRegressor(bandwidth=1.0, tile_size={tile}, scratch_dir=scratch,
                                **options).fit(X, y)
print(json.dumps({{"increase": peak.peak - base, "storage": model.storage_}}))
"""

#: options, bytes the budget must cover, bytes resident in anonymous memory, storage_.
CASES = {
    "packed": ({"storage": "packed"}, PACKED64, PACKED64, "packed"),
    "out-of-core": ({"storage": "out-of-core"}, WORKING_SET, WORKING_SET, "out-of-core"),
    "kept K in memory": ({"dtype": "mixed", "keep_kernel": "memory"}, PACKED64 + PACKED32,
                         PACKED64 + PACKED32, "float64 copy of K in memory"),
    # K is read through a memory map: its pages are not anonymous memory.
    "kept K on disk": ({"dtype": "mixed", "keep_kernel": "disk"}, PACKED32 + WORKING_SET,
                       PACKED32, "float64 copy of K on disk"),
    "mixed, K recomputed": ({"dtype": "mixed", "keep_kernel": False}, PACKED32, PACKED32,
                            "packed"),
}


def peak_of_fit(run_python, options: dict) -> dict:
    code = CHILD.format(n=N, d=D, tile=TILE, options=json.dumps(options))
    proc = run_python(code, timeout=300, env={"OMP_NUM_THREADS": "1",
                                              "OPENBLAS_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_a_fit_stays_inside_its_memory_budget(run_python, case):
    options, needed, resident, storage = CASES[case]
    budget = int(needed * 1.02)
    record = peak_of_fit(run_python, {**options, "memory_budget": budget})
    assert storage in record["storage"]
    assert record["increase"] <= budget + ALLOWANCE, (
        f"{case}: peak {record['increase'] / 1e6:.1f} MB over a budget of "
        f"{budget / 1e6:.1f} MB (+ {ALLOWANCE / 1e6:.1f} MB allowed)")
    # the measurement sees the tiles (a peak missed by the sampler would pass above)
    assert record["increase"] >= 0.8 * resident
