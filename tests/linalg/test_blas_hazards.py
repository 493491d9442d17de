"""Regression tests for shapes that crash the OpenBLAS bundled with NumPy/SciPy here.

Measured on this class of machine (2-core Xeon, AVX-512): float64 ``X @ X.T``
at 16,000 x 784 and ``spotrf`` at n >= 32,000 segfault with 2 threads. Each
test runs kernelfit's tiled path on the dangerous shape in a subprocess, so a
crash fails one test instead of killing the run.
"""

import pytest


def test_gram_at_the_syrk_crash_shape(run_python):
    code = """
import numpy as np, kernelfit as kf
X = np.random.default_rng(0).random((16000, 784))
K = kf.gram(X, kernel="linear", dtype=np.float32)
i = [0, 7777, 15999]
ref = X[i] @ X[i].T
assert np.allclose(K[np.ix_(i, i)], ref, rtol=1e-5), "wrong values"
print("ok", K.shape)
"""
    result = run_python(code, timeout=900)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
    assert "ok (16000, 16000)" in result.stdout


@pytest.mark.slow
def test_tiled_cholesky_at_the_spotrf_crash_size(run_python):
    code = """
import numpy as np
from kernelfit.linalg import PackedStorage, tiled_cholesky, cholesky_solve
n = 32000
st = PackedStorage(n, dtype=np.float32)
rng = np.random.default_rng(0)
for i in range(st.nt):
    for j in range(i + 1):
        t = st.tile(i, j)
        t[...] = rng.random(t.shape, dtype=np.float32) * 1e-3
        if i == j:
            t[...] = (t + t.T) / 2 + np.eye(t.shape[0], dtype=np.float32)
tiled_cholesky(st)
x = cholesky_solve(st, np.ones((n, 1)))
assert np.isfinite(x).all()
print("ok")
"""
    result = run_python(code, timeout=1800)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-2000:]}"
