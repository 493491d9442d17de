"""Matrix-free preconditioned conjugate gradients on the workers."""

import numpy as np
import pytest

pytest.importorskip("distributed")

from kernelfit.distributed import (
    LowRankPreconditioner,
    dask_kernel_matvec,
    exact_solve,
    pcg_solve,
)
from kernelfit.distributed.pcg import PCGConvergenceWarning
from kernelfit.kernels import make_kernel

SMOOTH = make_kernel("gaussian", bandwidth=4.0)


def test_woodbury_inverse_matches_dense(rng):
    F = rng.standard_normal((50, 7))
    P = LowRankPreconditioner(F, 0.3, np.arange(7), 1.0)
    R = rng.standard_normal((50, 3))
    np.testing.assert_allclose(P(R), np.linalg.solve(F @ F.T + 0.3 * np.eye(50), R),
                               rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="shift must be > 0; found 0"):
        LowRankPreconditioner(F, 0.0, np.arange(7), 1.0)


@pytest.mark.parametrize("preconditioner", ["rpcholesky", "nystrom"])
def test_pcg_matches_cho_solve_and_exact_path(client, problem, reference, preconditioner):
    X, Y = problem(300)
    ref = reference(X, Y, SMOOTH, 1e-3)
    alpha, info = pcg_solve(X, Y, SMOOTH, reg=1e-3, client=client, rank=100, tol=1e-12,
                            preconditioner=preconditioner, block_size=64)
    assert info.converged and info.rank == 100 and info.shift == 1e-3
    assert info.iterations < 60  # unpreconditioned CG needs hundreds here
    assert np.abs(alpha - ref).max() < 1e-7 * np.abs(ref).max()
    exact = exact_solve(X, Y, SMOOTH, reg=1e-3, client=client, tile_size=64)
    assert np.abs(alpha - exact).max() < 1e-7 * np.abs(exact).max()


def test_rpcholesky_stops_at_the_numerical_rank(client, problem, reference):
    X, y = problem(200, d=2, c=1)
    linear = make_kernel("linear")  # rank 2: two columns capture all of K
    alpha, info = pcg_solve(X, y[:, 0], linear, reg=0.5, client=client, rank=50, tol=1e-12,
                            block_size=64)
    assert info.rank == 2 and info.iterations <= 3
    np.testing.assert_allclose(alpha, reference(X, y, linear, 0.5)[:, 0], rtol=1e-9)


def test_interpolation_without_reg_warns_when_it_stalls(client, problem):
    X, y = problem(200, c=1)
    with pytest.warns(PCGConvergenceWarning, match="reg=0"):
        _, info = pcg_solve(X, y, make_kernel("gaussian", bandwidth=8.0), client=client,
                            rank=20, tol=1e-14, max_iter=15, block_size=64)
    assert not info.converged and len(info.residuals) == 15


def test_predictions_match_numpy(client, problem, rng):
    X, Y = problem(150)
    Q = rng.standard_normal((70, X.shape[1]))
    out = dask_kernel_matvec(Q, X, Y, SMOOTH, client=client, block_size=32)
    np.testing.assert_allclose(out, SMOOTH(Q, X) @ Y, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"expected Q of shape \(m, 5\)"):
        dask_kernel_matvec(Q[:, :2], X, Y, SMOOTH, client=client)
