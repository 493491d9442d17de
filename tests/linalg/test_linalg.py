"""The tiled Cholesky and triangular solves against SciPy, on every storage."""

import itertools

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from kernelfit.backend import NotPositiveDefiniteError, resolve_device
from kernelfit.linalg import (
    DenseStorage,
    PackedStorage,
    cholesky_graph,
    cholesky_solve,
    tiled_cholesky,
)
from kernelfit.memory import MemoryBudgetError


def spd(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n + 3))
    return (A @ A.T / n + np.eye(n)).astype(dtype)


def dtype_tol(K) -> float:
    """Relative tolerance for a Cholesky factor or solve of ``K`` in ``K``'s dtype.

    ``2 sqrt(n) eps cond(K)``: the first-order error bound's ``eps cond(K)`` with the
    ``sqrt(n)`` growth of rounding errors in the inner products. The reference uses
    ``K`` as stored (float32 values, exactly), so only the factorization is compared.
    The measured errors on these matrices (cond(K) about 5) stay below 4 eps.
    """
    K64 = np.asarray(K, dtype=np.float64)
    eps = np.finfo(np.asarray(K).dtype).eps
    return 2.0 * np.sqrt(K.shape[0]) * eps * np.linalg.cond(K64)


def packed_from(K, tile):
    st_ = PackedStorage(K.shape[0], tile, K.dtype)
    for i in range(st_.nt):
        for j in range(i + 1):
            st_.write_block(i, j, K[st_.bounds(i), st_.bounds(j)])
    return st_


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, tile", [(1, 1), (7, 3), (64, 64), (100, 32), (257, 50), (300, 1000)])
@pytest.mark.parametrize("kind", ["packed", "dense"])
def test_tiled_cholesky_matches_scipy(n, tile, dtype, kind):
    K = spd(n, dtype)
    ref = scipy.linalg.cholesky(K.astype(np.float64), lower=True)
    storage = packed_from(K, tile) if kind == "packed" else DenseStorage(K.copy(), tile)
    tiled_cholesky(storage)
    L = storage.to_dense(lower_only=True)
    np.testing.assert_allclose(L, ref, rtol=0, atol=dtype_tol(K) * np.abs(ref).max())


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 90), tile=st.integers(1, 100), c=st.integers(1, 4),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_cholesky_solve_matches_cho_solve(n, tile, c, dtype):
    K = spd(n, dtype, seed=n)
    B = np.random.default_rng(c).standard_normal((n, c))
    storage = tiled_cholesky(packed_from(K, tile))
    got = cholesky_solve(storage, B)
    ref = scipy.linalg.cho_solve(scipy.linalg.cho_factor(K.astype(np.float64)), B)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, rtol=0, atol=dtype_tol(K) * scale)


def test_not_positive_definite_names_the_pivot():
    K = spd(50, np.float64)
    K[30, 30] = -5.0
    with pytest.raises(NotPositiveDefiniteError, match="pivot 30") as info:
        tiled_cholesky(packed_from(K, 16))
    assert info.value.index == 30


def test_nan_in_matrix_is_an_error_not_silent():
    K = spd(20, np.float64)
    K[5, 3] = K[3, 5] = np.nan
    with pytest.raises(NotPositiveDefiniteError):
        tiled_cholesky(packed_from(K, 8))


def test_graph_is_complete_and_ordered():
    nt = 5
    ops = cholesky_graph(nt)
    kinds = ("potrf", "trsm", "syrk", "gemm")
    counts = {kind: sum(op.kind == kind for op in ops) for kind in kinds}
    assert counts == {"potrf": 5, "trsm": 10, "syrk": 10, "gemm": 10}
    done = set()
    for op in ops:  # every tile a step reads was finished earlier in the same step
        for tile in op.reads:
            assert (tile, op.k) in done or op.kind == "potrf"
        done.add((op.writes, op.k))
    assert sum(op.flops([10] * nt) for op in ops) == pytest.approx(50**3 / 3, rel=0.2)


def test_progress_reports_gflop_and_finishes():
    events = []
    tiled_cholesky(packed_from(spd(60, np.float64), 20), progress=events.append)
    assert events[0].phase == "cholesky" and events[0].unit == "GFLOP"
    assert events[-1].finished
    assert events[-1].done == pytest.approx(events[-1].total)
    assert all(a.done <= b.done for a, b in itertools.pairwise(events))


def test_resume_from_panel_matches_uninterrupted():
    K = spd(90, np.float64)
    full = tiled_cholesky(packed_from(K, 30)).to_dense(lower_only=True)

    class Stop(Exception):
        pass

    def stop_after_first(k):
        if k == 0:
            raise Stop

    storage = packed_from(K, 30)
    with pytest.raises(Stop):
        tiled_cholesky(storage, on_panel_done=stop_after_first)
    tiled_cholesky(storage, start_panel=1)
    np.testing.assert_allclose(storage.to_dense(lower_only=True), full, rtol=1e-12, atol=1e-14)


def test_packed_storage_refuses_budget_with_both_numbers():
    with pytest.raises(MemoryBudgetError, match=r"needs .*bytes.*budget of .*1,000 bytes"):
        PackedStorage(1000, 100, np.float64, memory_budget=1000)


def test_packed_storage_uses_half_the_memory():
    n, b = 1000, 100
    assert PackedStorage.nbytes_for(n, b, np.float64) == 55 * b * b * 8
    assert PackedStorage.nbytes_for(n, b, np.float64) < 0.56 * n * n * 8


def test_storage_rejects_bad_dtype():
    with pytest.raises(TypeError, match="float32 or float64"):
        PackedStorage(10, 5, np.int32)


def test_generic_array_api_backend_factorizes():
    xps = pytest.importorskip("array_api_strict")
    from kernelfit.backend import Backend

    K = spd(40, np.float64)
    storage = DenseStorage(xps.asarray(K.copy()), 16, backend=Backend(xps))
    tiled_cholesky(storage)
    L = np.tril(np.from_dlpack(storage.array))
    np.testing.assert_allclose(L, scipy.linalg.cholesky(K, lower=True), atol=1e-12)
    B = xps.asarray(np.ones((40, 2)))
    X = cholesky_solve(storage, B)
    np.testing.assert_allclose(K @ np.from_dlpack(X), np.ones((40, 2)), atol=1e-10)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiled_cholesky_on_gpu(dtype):
    import cupy

    K = spd(300, dtype)
    storage = PackedStorage(300, 128, dtype, device="cuda")
    for i in range(storage.nt):
        for j in range(i + 1):
            storage.write_block(i, j, cupy.asarray(K[storage.bounds(i), storage.bounds(j)]))
    tiled_cholesky(storage)
    ref = scipy.linalg.cholesky(K.astype(np.float64), lower=True)
    np.testing.assert_allclose(storage.to_dense(lower_only=True), ref, rtol=0,
                               atol=dtype_tol(K) * np.abs(ref).max())
    assert resolve_device("cuda").name == "cupy"
