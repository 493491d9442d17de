"""The CUDA backend's tile operations against SciPy, and that they work in place.

Marked ``gpu``: skipped cleanly without CuPy and a CUDA device (see conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

pytestmark = pytest.mark.gpu

DTYPES = [np.float32, np.float64]


def tol(dtype):
    return {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-11, "atol": 1e-11}


@pytest.fixture
def cuda():
    from kernelfit.backend import resolve_device

    return resolve_device("cuda")


def spd(rng, n, dtype):
    A = rng.standard_normal((n, n))
    return (A @ A.T / n + np.eye(n)).astype(dtype)


def tile(cuda, a):
    return cuda.xp.asarray(np.asfortranarray(a))


@pytest.mark.parametrize("dtype", DTYPES)
def test_potrf_in_place(cuda, rng, dtype):
    A = spd(rng, 300, dtype)
    t = tile(cuda, A)
    pointer = t.data.ptr
    L = cuda.potrf(t)
    assert L.data.ptr == pointer
    np.testing.assert_allclose(cuda.to_numpy(L), np.linalg.cholesky(A.astype(np.float64)),
                               **tol(dtype))


def test_potrf_reports_the_failing_pivot(cuda):
    from kernelfit.backend import NotPositiveDefiniteError

    A = np.diag([1.0, 2.0, -1.0, 4.0])
    with pytest.raises(NotPositiveDefiniteError, match="pivot 12 is not positive") as info:
        cuda.potrf(tile(cuda, A), offset=10)
    assert info.value.index == 12


@pytest.mark.parametrize("dtype", DTYPES)
def test_trsm_in_place(cuda, rng, dtype):
    L = np.linalg.cholesky(spd(rng, 200, np.float64)).astype(dtype)
    B = rng.standard_normal((150, 200)).astype(dtype)
    Bt = tile(cuda, B)
    pointer = Bt.data.ptr
    out = cuda.trsm_right_lower_t(tile(cuda, L), Bt)
    assert out.data.ptr == pointer
    expected = scipy.linalg.solve_triangular(L.astype(np.float64), B.T.astype(np.float64),
                                             lower=True).T
    np.testing.assert_allclose(cuda.to_numpy(out), expected, **tol(dtype))
    for trans in (False, True):
        C = rng.standard_normal((200, 3)).astype(dtype)
        got = cuda.trsm_left_lower(tile(cuda, L), tile(cuda, C), trans=trans)
        ref = scipy.linalg.solve_triangular(L.astype(np.float64), C, lower=True,
                                            trans=int(trans))
        np.testing.assert_allclose(cuda.to_numpy(got), ref, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_and_syrk_in_place(cuda, rng, dtype):
    C = rng.standard_normal((120, 100)).astype(dtype)
    A = rng.standard_normal((120, 64)).astype(dtype)
    B = rng.standard_normal((100, 64)).astype(dtype)
    Ct = tile(cuda, C)
    pointer = Ct.data.ptr
    out = cuda.gemm_nt(Ct, tile(cuda, A), tile(cuda, B))
    assert out.data.ptr == pointer
    np.testing.assert_allclose(cuda.to_numpy(out), C - A @ B.T, **tol(dtype))
    S = spd(rng, 100, dtype)
    St = tile(cuda, S)
    out = cuda.syrk(St, tile(cuda, B))
    assert out.data.ptr == St.data.ptr
    np.testing.assert_allclose(np.tril(cuda.to_numpy(out)), np.tril(S - B @ B.T), **tol(dtype))


def test_free_memory_and_gpu_tile(cuda):
    from kernelfit.linalg import default_tile_size

    _free, total = cuda.xp.cuda.Device().mem_info
    assert 0 < cuda.free_memory() <= total
    assert default_tile_size(60_000, cuda) == 7_500
    assert cuda.memory_budget("1GiB") == 1 << 30


def test_tiled_solve_on_the_gpu_matches_scipy(cuda, rng):
    import kernelfit as kf

    X = rng.standard_normal((3000, 8))
    y = rng.standard_normal(3000)
    Xd = cuda.asarray(X)
    K = kf.gram(Xd, bandwidth=3.0)
    alpha = kf.solve(K, cuda.asarray(y), reg=1e-3, tile_size=1024)
    assert isinstance(alpha, cuda.xp.ndarray)
    Kn = cuda.to_numpy(K)
    expected = scipy.linalg.solve(Kn + 1e-3 * np.eye(3000), y, assume_a="pos")
    np.testing.assert_allclose(cuda.to_numpy(alpha), expected, rtol=1e-7, atol=1e-9)


def test_auto_precision_on_the_gpu_is_float64(cuda):
    from kernelfit.backend import resolve_precision

    assert resolve_precision("auto", cuda) == "float64"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("trans_a", [False, True])
def test_gemm_acc_in_place(cuda, rng, dtype, trans_a):
    A = rng.standard_normal((64, 120) if trans_a else (120, 64)).astype(dtype)
    B = rng.standard_normal((64, 10)).astype(dtype)
    C = rng.standard_normal((120, 10)).astype(dtype)
    Ct = tile(cuda, C)
    out = cuda.gemm_acc(Ct, tile(cuda, A), tile(cuda, B), trans_a=trans_a, alpha=-1.0)
    assert out.data.ptr == Ct.data.ptr
    np.testing.assert_allclose(cuda.to_numpy(out), C - (A.T if trans_a else A) @ B, **tol(dtype))
