"""The solve pipeline with the Dask tile graph as its Gram source, against SciPy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.distance import cdist

pytest.importorskip("distributed")

from kernelfit.kernels import make_kernel
from kernelfit.solvers.pipeline import solve_kernel_system

SIGMA = 1.5
ALPHA_RTOL = {"float64": 1e-10, "mixed": 1e-10, "float32": 2e-3}


@pytest.mark.parametrize("dtype", ["float64", "float32", "mixed"])
@pytest.mark.parametrize("reg", [0.0, 1e-3])
def test_dask_source_matches_dense_cholesky(client, dtype, reg):
    from kernelfit.distributed.gram_source import DaskGramSource

    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((120, 6)), rng.standard_normal((120, 2))
    K = np.exp(-cdist(X, X, "sqeuclidean") / (2 * SIGMA**2))
    alpha = scipy.linalg.cho_solve(scipy.linalg.cho_factor(K + reg * np.eye(120)), Y)
    source = DaskGramSource(X, make_kernel("gaussian", bandwidth=SIGMA), client=client,
                            tile_size=32)
    sol = solve_kernel_system(source, Y, reg=reg, dtype=dtype)
    assert np.linalg.norm(sol.alpha - alpha) / np.linalg.norm(alpha) < ALPHA_RTOL[dtype]
    KA = K @ sol.alpha
    np.testing.assert_allclose(sol.K_alpha, KA, rtol=0, atol=1e-12 * np.abs(KA).max())
    residual = np.linalg.norm(KA + reg * sol.alpha - Y) / np.linalg.norm(Y)
    assert sol.relative_residual == pytest.approx(residual, rel=1e-3, abs=1e-14)
    assert sol.rkhs_norm == pytest.approx(np.sqrt(np.sum(sol.alpha * KA)), rel=1e-10)
    assert sol.storage == "dask tiles" and "gram" not in sol.timings
    if dtype == "mixed":
        assert sol.refinement.residuals_from == "data" and sol.refinement.iterations >= 1
