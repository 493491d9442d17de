"""Kernel blocks (the NumPy fast path and the generic array-API path) against
scikit-learn's pairwise kernels and SciPy's ``cdist``."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics import pairwise

from kernelfit import host_kernel_blocks, host_threads
from kernelfit.kernels import make_kernel

BANDWIDTH = 1.7
RTOL = 1e-12  # float64 distances for every input dtype


def reference(name, X, Z, bandwidth=BANDWIDTH):
    """The block from scikit-learn, on float64 copies of the inputs."""
    X64, Z64 = np.asarray(X, dtype=np.float64), np.asarray(Z, dtype=np.float64)
    if name == "gaussian":
        return pairwise.rbf_kernel(X64, Z64, gamma=0.5 / bandwidth**2)
    return pairwise.laplacian_kernel(X64, Z64, gamma=1.0 / bandwidth)


def with_duplicates(rng, n, d, dtype=np.float64):
    """Rows with a few exact duplicates (their distances must clamp at 0, not go negative)."""
    X = rng.random((n, d)).astype(dtype)
    if n > 6:
        X[3] = X[0]
        X[n - 1] = X[n // 2]
    return X


def block64(kernel, X, Z, same=False):
    """The block written into a float64 ``out`` (so float32 inputs keep float64 values)."""
    out = np.empty((X.shape[0], Z.shape[0]), dtype=np.float64)
    assert kernel(X, Z, out, same=same) is out
    return out


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "m", "d"), [(1, 1, 1), (1, 7, 3), (37, 53, 11), (129, 64, 784)])
def test_block_matches_sklearn(name, dtype, n, m, d, rng):
    X, Z = with_duplicates(rng, n, d, dtype), with_duplicates(rng, m, d, dtype)
    Z[: min(n, m) // 2] = X[: min(n, m) // 2]  # rows shared between X and Z
    K = block64(make_kernel(name, bandwidth=BANDWIDTH), X, Z)
    np.testing.assert_allclose(K, reference(name, X, Z), rtol=RTOL, atol=0)
    assert K.max() <= 1.0


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_block_has_exact_unit_diagonal(name, dtype, rng):
    # Far from the origin ||x||^2 + ||x||^2 - 2 x.x cancels to rounding noise of ~1e-9
    # (||x||^2 ~ 1e7): the diagonal must still be exactly 1 and no entry above 1.
    X = (1000 + with_duplicates(rng, 75, 9)).astype(dtype)
    kernel = make_kernel(name, bandwidth=0.5)
    K = block64(kernel, X, X, same=True)
    assert np.all(np.diagonal(K) == 1.0)
    assert K.max() <= 1.0
    np.testing.assert_allclose(K, reference(name, X, X, 0.5), rtol=1e-6)
    assert K[0, 3] == pytest.approx(1.0, abs=1e-6)  # duplicate rows: distance ~ 0


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_block_default_dtype_follows_input(name, rng):
    X = rng.random((20, 4)).astype(np.float32)
    K = make_kernel(name, bandwidth=BANDWIDTH)(X, X)
    assert K.dtype == np.float32
    np.testing.assert_allclose(K, reference(name, X, X), rtol=1e-6)


def test_gaussian_matches_cdist(rng):
    X, Z = rng.standard_normal((41, 30)), rng.standard_normal((17, 30))
    K = make_kernel("gaussian", bandwidth=3.0)(X, Z)
    np.testing.assert_allclose(K, np.exp(-cdist(X, Z, "sqeuclidean") / 18.0), rtol=RTOL)


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_non_contiguous_inputs(name, rng):
    A = rng.random((60, 40))
    X, Z = np.asfortranarray(A[:31]), A[29:, ::3]
    K = make_kernel(name, bandwidth=BANDWIDTH)(X[:, ::3], Z)
    np.testing.assert_allclose(K, reference(name, X[:, ::3], Z), rtol=RTOL)


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_many_row_chunks_over_threads(name, threads, rng, monkeypatch):
    """Small chunks and several shares: every row is written once, and correctly."""
    monkeypatch.setattr(host_kernel_blocks, "_CHUNK_ENTRIES", 64)
    monkeypatch.setattr(host_kernel_blocks, "_element_threads", lambda: threads)
    X, Z = with_duplicates(rng, 101, 5), with_duplicates(rng, 23, 5)
    kernel = make_kernel(name, bandwidth=BANDWIDTH)
    np.testing.assert_allclose(kernel(X, Z), reference(name, X, Z), rtol=RTOL)
    K = kernel(X, X, same=True)
    assert np.all(np.diagonal(K) == 1.0)
    np.testing.assert_allclose(K, reference(name, X, X), rtol=RTOL)


@pytest.mark.parametrize("n_rows", [0, 1, 5, 64, 1000])
def test_row_chunks_cover_each_row_once(n_rows, monkeypatch):
    monkeypatch.setattr(host_kernel_blocks, "_CHUNK_ENTRIES", 40)
    monkeypatch.setattr(host_kernel_blocks, "_element_threads", lambda: 3)
    counts = np.zeros(n_rows, dtype=int)

    def visit(rows):
        counts[rows] += 1  # slices from different shares never overlap

    host_kernel_blocks._run_on_row_chunks(visit, (n_rows, 7))
    assert np.all(counts == 1)


def test_row_chunk_errors_reach_the_caller(monkeypatch):
    monkeypatch.setattr(host_kernel_blocks, "_element_threads", lambda: 2)

    def fail(rows):
        raise FloatingPointError(f"rows {rows}")

    with pytest.raises(FloatingPointError, match="rows"):
        host_kernel_blocks._run_on_row_chunks(fail, (10, 1 << 16))


@pytest.mark.parametrize(("env", "expected_at_most"), [
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"OPENBLAS_NUM_THREADS": "2"}, 2),
    ({"OMP_NUM_THREADS": "junk"}, host_threads.MAX_THREADS),
])
def test_element_threads_follow_thread_variables(env, expected_at_most, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert 1 <= host_threads.element_threads.__wrapped__() <= expected_at_most


@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_generic_array_api_path_matches_numpy_path(name, rng):
    xps = pytest.importorskip("array_api_strict")
    X, Z = with_duplicates(rng, 30, 6), with_duplicates(rng, 19, 6)
    kernel = make_kernel(name, bandwidth=BANDWIDTH)
    generic = kernel(xps.asarray(X), xps.asarray(Z))
    assert type(generic).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(generic._array), kernel(X, Z), rtol=RTOL)
    same = kernel(xps.asarray(X), xps.asarray(X), same=True)
    np.testing.assert_array_equal(np.diagonal(np.asarray(same._array)), 1.0)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("same", [False, True])
def test_gaussian_written_into_out_of_any_layout(order, dtype, same, rng):
    """A Cholesky tile (column-major) or a row-major buffer, float64 or float32,
    receives the same block: float64 exactly as scikit-learn's, float32 rounded."""
    X = with_duplicates(rng, 37, 5)
    Z = X if same else rng.random((23, 5))
    out = np.full((X.shape[0], Z.shape[0]), np.nan, dtype=dtype, order=order)
    assert make_kernel("gaussian", bandwidth=BANDWIDTH)(X, Z, out, same=same) is out
    rtol = RTOL if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(out, reference("gaussian", X, Z), rtol=rtol, atol=0)
    if same:
        np.testing.assert_array_equal(np.diagonal(out), 1.0)


def test_gaussian_into_a_memory_mapped_tile(tmp_path, rng):
    """Out-of-core tiles are column-major views of a memory-mapped file."""
    X, Z = rng.random((19, 4)), rng.random((11, 4))
    mm = np.memmap(tmp_path / "tile.bin", dtype=np.float64, mode="w+", shape=(19, 11),
                   order="F")
    make_kernel("gaussian", bandwidth=BANDWIDTH)(X, Z, mm)
    np.testing.assert_allclose(np.asarray(mm), reference("gaussian", X, Z), rtol=RTOL)


@pytest.mark.parametrize("name", ["gaussian", "laplacian", "linear"])
def test_out_of_the_wrong_shape_is_refused(name, rng):
    X, Z = rng.random((6, 3)), rng.random((4, 3))
    with pytest.raises(ValueError, match=r"out must have shape \(6, 4\); found \(4, 6\)"):
        make_kernel(name, bandwidth=1.0)(X, Z, np.empty((4, 6)))


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [9, 37, 64])
def test_split_diagonal_block_matches_sklearn(order, dtype, n, rng, monkeypatch):
    """A diagonal block computed as row strips of about 4 rows (each strip's part left
    of its own square by GEMM, the upper half mirrored): the values of the whole block,
    exactly symmetric outside the strips' own squares."""
    monkeypatch.setattr(host_kernel_blocks, "_DIAGONAL_STRIP", 4)
    X = with_duplicates(rng, n, 6)
    out = np.full((n, n), np.nan, dtype=dtype, order=order)
    assert make_kernel("gaussian", bandwidth=BANDWIDTH)(X, X, out, same=True) is out
    rtol = RTOL if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(out, reference("gaussian", X, X), rtol=rtol, atol=0)
    assert np.all(np.diagonal(out) == 1.0)
    strips = round(n / 4)
    strip_of = np.searchsorted([n * s // strips for s in range(1, strips)], np.arange(n),
                               side="right")
    outside = strip_of[:, None] != strip_of[None, :]
    assert strips >= 2 and outside.sum() >= n * n // 2  # in strips, not computed whole
    np.testing.assert_array_equal(out[outside], out.T[outside])


def test_split_diagonal_block_default_output(rng, monkeypatch):
    monkeypatch.setattr(host_kernel_blocks, "_DIAGONAL_STRIP", 4)
    X = rng.random((23, 3)).astype(np.float32)
    K = make_kernel("gaussian", bandwidth=BANDWIDTH)(X, X, same=True)
    assert K.dtype == np.float32
    np.testing.assert_allclose(K, reference("gaussian", X, X), rtol=1e-6)


@pytest.mark.parametrize("n", [37, 1100])  # 1100: the diagonal block is split in strips
@pytest.mark.parametrize("copy_order", ["F", "C"])
@pytest.mark.parametrize("same", [False, True])
@pytest.mark.parametrize("name", ["gaussian", "laplacian"])
def test_copy_to_receives_the_block_in_its_own_dtype(name, same, copy_order, n, rng):
    """The float32 tile beside a kept float64 K: exactly the cast of the float64 block,
    written in the chunk pass (gaussian, matching layout) or once afterwards."""
    X = with_duplicates(rng, n, 5)
    Z = X if same else rng.random((n // 2 + 3, 5))
    shape = (X.shape[0], Z.shape[0])
    out = np.full(shape, np.nan, order="F")
    copy = np.full(shape, np.nan, dtype=np.float32, order=copy_order)
    kernel = make_kernel(name, bandwidth=BANDWIDTH)
    assert kernel(X, Z, out, same=same, copy_to=copy) is out
    np.testing.assert_allclose(out, reference(name, X, Z), rtol=RTOL, atol=0)
    np.testing.assert_array_equal(copy, out.astype(np.float32))
    if same:
        np.testing.assert_array_equal(np.diagonal(copy), 1.0)


def test_copy_to_on_the_generic_path_and_its_shape_checked(rng):
    xps = pytest.importorskip("array_api_strict")
    X, Z = with_duplicates(rng, 30, 6), rng.random((19, 6))
    kernel = make_kernel("gaussian", bandwidth=BANDWIDTH)
    copy = xps.zeros((30, 19), dtype=xps.float32)
    block = kernel(xps.asarray(X), xps.asarray(Z), copy_to=copy)
    np.testing.assert_array_equal(np.asarray(copy._array),
                                  np.asarray(block._array).astype(np.float32))
    with pytest.raises(ValueError, match=r"copy_to must have shape \(30, 19\); found \(19, 30\)"):
        kernel(X, Z, np.empty((30, 19)), copy_to=np.empty((19, 30), np.float32))
