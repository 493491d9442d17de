"""The compiled one-pass tile products (``kernelfit.backend.skinny_products``) against
NumPy: every layout, dtype, tail and thread split, and the cases they hand back to BLAS."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.linalg

import kernelfit.backend as backend_package
from kernelfit import host_threads
from kernelfit.backend import resolve_device, skinny_products
from kernelfit.backend.skinny_products import skinny_gemm_acc, symmetric_gemm_acc
from kernelfit.linalg import PackedStorage, cholesky_solve, tile_matvec
from kernelfit.linalg.tile_matvec import tile_symmetric_matvec

# Products of float32 numbers summed in float32 (as SGEMM does) or float64.
TOL = {np.float32: {"rtol": 2e-5, "atol": 2e-4}, np.float64: {"rtol": 1e-12, "atol": 1e-11}}

#: (rows, columns, right-hand sides): column counts off the kernels' blocks of 4,
#: odd and even class counts, one class, and the most columns the path takes.
SHAPES = [(300, 257, 10), (257, 301, 7), (513, 129, 1), (200, 203, 16)]


@pytest.fixture(scope="module")
def three_workers():
    with ThreadPoolExecutor(3) as pool:
        yield pool


@pytest.fixture(params=[1, 3], ids=["one share", "three shares"])
def shares(request, monkeypatch, three_workers):
    """One thread, or three shares of the columns (each its own row buffer), on three
    workers at once whatever the machine's thread limit."""
    monkeypatch.setattr(skinny_products, "_SHARE_ENTRIES", 1 if request.param > 1 else 1 << 40)
    monkeypatch.setattr(skinny_products, "element_threads", lambda: request.param)
    monkeypatch.setattr(host_threads, "thread_pool", lambda: three_workers)
    return request.param


def column_major(rng, shape, dtype=np.float64):
    return np.asfortranarray(rng.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tile_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["F", "C"])
@pytest.mark.parametrize("trans_a", [False, True])
def test_skinny_product_equals_numpy(rng, shares, shape, tile_dtype, order, trans_a):
    m, p, c = shape
    A = np.asarray(rng.standard_normal((m, p)), dtype=tile_dtype, order=order)
    rows, inner = (p, m) if trans_a else (m, p)
    B = column_major(rng, (inner, c), tile_dtype)
    C = column_major(rng, (rows, c), tile_dtype)
    expected = C.astype(np.float64) - 0.5 * ((A.T if trans_a else A).astype(np.float64)
                                             @ B.astype(np.float64))
    assert skinny_gemm_acc(C, A, B, trans_a=trans_a, alpha=-0.5)
    np.testing.assert_allclose(C, expected, **TOL[tile_dtype])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("tile_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["F", "C"])
def test_symmetric_product_applies_the_tile_and_its_mirror(rng, shares, shape, tile_dtype,
                                                           order):
    m, p, c = shape
    A = np.asarray(rng.standard_normal((m, p)), dtype=tile_dtype, order=order)
    B_rows, B_cols = column_major(rng, (m, c)), column_major(rng, (p, c))
    C_rows, C_cols = column_major(rng, (m, c)), column_major(rng, (p, c))
    A64 = A.astype(np.float64)
    expected_rows, expected_cols = C_rows + A64 @ B_cols, C_cols + A64.T @ B_rows
    assert symmetric_gemm_acc(C_rows, C_cols, A, B_rows, B_cols)
    # float64 sums of float32 entries: as accurate as float64
    np.testing.assert_allclose(C_rows, expected_rows, **TOL[np.float64])
    np.testing.assert_allclose(C_cols, expected_cols, **TOL[np.float64])


def test_host_backend_streamed_and_symmetric_methods(rng):
    backend = resolve_device("cpu")
    A, B = column_major(rng, (200, 180)), column_major(rng, (180, 5))
    C = column_major(rng, (200, 5))
    expected = C + A @ B
    assert backend.streamed_gemm_acc(C, A, B) is C
    np.testing.assert_allclose(C, expected, **TOL[np.float64])
    B_rows, C_cols = column_major(rng, (200, 5)), column_major(rng, (180, 5))
    rows_before, cols_before = C.copy(), C_cols.copy()
    backend.symmetric_gemm_acc(C, C_cols, A, B_rows, B)
    np.testing.assert_allclose(C, rows_before + A @ B, **TOL[np.float64])
    np.testing.assert_allclose(C_cols, cols_before + A.T @ B_rows, **TOL[np.float64])


@pytest.mark.parametrize("case", ["many columns", "small tile", "strided tile", "row-major C",
                                  "integer tile"])
def test_unsuited_operands_are_left_to_blas(rng, case):
    A, B = column_major(rng, (200, 180)), column_major(rng, (180, 5))
    C = column_major(rng, (200, 5))
    if case == "many columns":
        B, C = column_major(rng, (180, skinny_products.MAX_COLUMNS + 1)), column_major(
            rng, (200, skinny_products.MAX_COLUMNS + 1))
    elif case == "small tile":
        A, B, C = A[:20, :20].copy(order="F"), B[:20], C[:20].copy(order="F")
    elif case == "strided tile":
        A = column_major(rng, (400, 180))[::2]
    elif case == "row-major C":
        C = np.ascontiguousarray(C)
    else:
        A = np.ones((200, 180), dtype=np.int64, order="F")
    before = C.copy()
    assert not skinny_gemm_acc(C, A, B)
    np.testing.assert_array_equal(C, before)
    # ...and the backend still gives the product, through BLAS
    if case != "integer tile":
        out = resolve_device("cpu").streamed_gemm_acc(C, A, B)
        np.testing.assert_allclose(out, before + A @ B, **TOL[np.float64])


def test_float32_operands_into_a_float64_result_multiply_in_float64(rng, shares):
    A = np.asfortranarray(rng.standard_normal((300, 257)).astype(np.float32))
    for trans_a in (False, True):
        B = column_major(rng, (300 if trans_a else 257, 10), np.float32)
        C = column_major(rng, (257 if trans_a else 300, 10))
        expected = C + (A.T if trans_a else A).astype(np.float64) @ B.astype(np.float64)
        assert skinny_gemm_acc(C, A, B, trans_a=trans_a)
        np.testing.assert_allclose(C, expected, **TOL[np.float64])


def test_no_columns_are_left_to_blas(rng):
    A = column_major(rng, (200, 180))
    assert not skinny_gemm_acc(np.zeros((200, 0), order="F"), A, np.zeros((180, 0), order="F"))


def test_without_numba_kernels_blas_gives_the_product_and_a_warning(rng, monkeypatch):
    """Numba unable to load the kernels (e.g. no writable cache folder): one warning,
    then BLAS."""
    monkeypatch.setitem(sys.modules, "kernelfit.backend.skinny_kernels", None)  # import fails
    monkeypatch.delattr(backend_package, "skinny_kernels", raising=False)
    skinny_products._kernels.cache_clear()
    try:
        A, B = column_major(rng, (200, 180)), column_major(rng, (180, 5))
        C = column_major(rng, (200, 5))
        before = C.copy()
        with pytest.warns(RuntimeWarning, match="compiled tile products are unavailable"):
            assert not skinny_gemm_acc(C, A, B)
        np.testing.assert_array_equal(C, before)
        out = resolve_device("cpu").streamed_gemm_acc(C, A, B)  # no second warning
        np.testing.assert_allclose(out, before + A @ B, **TOL[np.float64])
    finally:
        skinny_products._kernels.cache_clear()


def test_shares_run_inline_inside_a_pool_worker(monkeypatch):
    """A pool task that splits work again runs its shares itself instead of waiting for
    workers that are all busy (which would never return)."""
    seen = []

    def outer(_, start, stop):
        host_threads.run_shares(lambda i, a, b: seen.append((i, a, b)), 10, 4)

    two_workers = ThreadPoolExecutor(2)
    monkeypatch.setattr(host_threads, "thread_pool", lambda: two_workers)
    done = threading.Event()
    caller = threading.Thread(target=lambda: (host_threads.run_shares(outer, 2, 2),
                                              done.set()), daemon=True)
    caller.start()
    try:
        assert done.wait(30), "nested run_shares did not return"
    finally:
        two_workers.shutdown(wait=False)
    assert sorted(seen) == sorted([(0, 0, 2), (1, 2, 5), (2, 5, 7), (3, 7, 10)] * 2)


def test_shapes_that_do_not_chain_are_refused(rng):
    A, C = column_major(rng, (200, 180)), column_major(rng, (200, 5))
    with pytest.raises(ValueError, match=r"found C \(200, 5\), op\(A\) \(200, 180\), "
                                         r"B \(179, 5\)"):
        skinny_gemm_acc(C, A, column_major(rng, (179, 5)))
    with pytest.raises(ValueError, match="one row per column of op"):
        symmetric_gemm_acc(C, column_major(rng, (180, 5)), A, column_major(rng, (201, 5)),
                           column_major(rng, (180, 5)))
    for rows_columns, cols_columns in ((4, 1), (1, 4)):  # each product chains on its own
        with pytest.raises(ValueError, match=f"found B_rows with {rows_columns} columns "
                                             f"and B_cols with {cols_columns}"):
            symmetric_gemm_acc(column_major(rng, (200, cols_columns)),
                               column_major(rng, (180, rows_columns)), A,
                               column_major(rng, (200, rows_columns)),
                               column_major(rng, (180, cols_columns)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("streamed", [False, True], ids=["BLAS", "compiled"])
def test_tile_symmetric_matvec_either_way(rng, monkeypatch, shares, dtype, streamed):
    """The stored-K product with the compiled passes (forced below their size threshold)
    and with BLAS, against the dense symmetric matrix."""
    monkeypatch.setattr(tile_matvec, "STREAMED_PRODUCT_BYTES", 0 if streamed else np.inf)
    n = 530
    M = rng.standard_normal((n, n))
    dense = (M + M.T).astype(dtype)
    storage = PackedStorage(n, tile_size=200, dtype=dtype)
    for i in range(storage.nt):
        for j in range(i + 1):
            storage.store(i, j, dense[storage.bounds(i), storage.bounds(j)])
    V = rng.standard_normal((n, 10))
    np.testing.assert_allclose(tile_symmetric_matvec(storage, V),
                               dense.astype(np.float64) @ V, rtol=1e-11, atol=1e-10)


def test_the_element_thread_limit_comes_from_host_threads():
    assert skinny_products.element_threads is host_threads.element_threads


def test_compiled_product_rounds_like_blas(monkeypatch):
    """K alpha with heavy cancellation (Gaussian Grams and their interpolants' alpha):
    the compiled product's root-mean-square error against long double, summed over
    three problems, is within a few percent of BLAS's (adding each 4-column group to the
    running result, as the first version did, made it about 1.5x)."""
    errors = {"blas": 0.0, "compiled": 0.0}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        n = 2400
        X = rng.random((n, 30))
        sq = (X * X).sum(1)
        K = np.exp(-np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0) / 8.0)
        alpha = np.linalg.solve(K + 1e-8 * np.eye(n), np.eye(10)[rng.integers(0, 10, n)])
        storage = PackedStorage(n, tile_size=600, dtype=np.float64)
        for i in range(storage.nt):
            for j in range(i + 1):
                storage.store(i, j, K[storage.bounds(i), storage.bounds(j)])
        exact = K.astype(np.longdouble) @ alpha.astype(np.longdouble)
        for name, threshold in (("blas", np.inf), ("compiled", 0)):
            monkeypatch.setattr(tile_matvec, "STREAMED_PRODUCT_BYTES", threshold)
            error = (tile_symmetric_matvec(storage, alpha) - exact).astype(np.float64)
            errors[name] += float(np.sqrt(np.mean(error ** 2)))
    assert errors["compiled"] <= 1.2 * errors["blas"], errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("streamed", [False, True], ids=["BLAS", "compiled"])
def test_triangular_sweeps_either_way(rng, monkeypatch, shares, dtype, streamed):
    """``cholesky_solve`` with the compiled products in its sweeps (forced below their
    size threshold) and with BLAS, against SciPy's ``cho_solve``."""
    monkeypatch.setattr(tile_matvec, "STREAMED_PRODUCT_BYTES", 0 if streamed else np.inf)
    n = 530
    M = rng.standard_normal((n, n)) / np.sqrt(n)
    A = M @ M.T + np.eye(n)
    factor = np.linalg.cholesky(A)
    storage = PackedStorage(n, tile_size=200, dtype=dtype)
    for i in range(storage.nt):
        for j in range(i + 1):
            storage.store(i, j, factor[storage.bounds(i), storage.bounds(j)])
    B = rng.standard_normal((n, 7))
    expected = scipy.linalg.cho_solve((factor, True), B)
    got = cholesky_solve(storage, B.astype(dtype), dtype=dtype)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10}
    np.testing.assert_allclose(got, expected, **tol)
