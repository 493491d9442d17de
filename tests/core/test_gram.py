"""Kernels and blocked Gram matrices against scikit-learn's pairwise kernels."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.metrics import pairwise

import kernelfit as kf
from kernelfit.memory import MemoryBudgetError
from tests.conftest import tol

DTYPES = [np.float32, np.float64]


def reference(kernel, X, Y, bandwidth=2.0):
    Y = X if Y is None else Y
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    if kernel == "gaussian":
        return pairwise.rbf_kernel(X64, Y64, gamma=1 / (2 * bandwidth**2))
    if kernel == "laplacian":
        return pairwise.laplacian_kernel(X64, Y64, gamma=1 / bandwidth)
    if kernel == "polynomial":
        return pairwise.polynomial_kernel(X64, Y64, degree=3, coef0=1.0)
    return pairwise.linear_kernel(X64, Y64)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", ["gaussian", "laplacian", "linear", "polynomial"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_gram_matches_sklearn(kernel, dtype, symmetric, rng):
    X = rng.standard_normal((157, 13)).astype(dtype)
    Y = None if symmetric else rng.standard_normal((61, 13)).astype(dtype)
    K = kf.gram(X, Y, kernel, bandwidth=2.0, block_size=40)
    assert K.dtype == dtype
    np.testing.assert_allclose(K, reference(kernel, X, Y), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_symmetric_diagonal_is_exact(dtype, rng):
    # Large offsets make ||x||^2 + ||x||^2 - 2 x.x cancel badly if not handled.
    X = (1000 + rng.standard_normal((50, 7))).astype(dtype)
    K = kf.gram(X, kernel="gaussian", bandwidth=0.05, block_size=16)
    assert np.all(np.diag(K) == 1.0)
    np.testing.assert_array_equal(K, K.T)


def test_float32_distances_are_float64_accurate(rng):
    X = (100 + rng.standard_normal((40, 5))).astype(np.float32)
    K32 = kf.gram(X, kernel="gaussian", bandwidth=1.0)
    K64 = kf.gram(X.astype(np.float64), kernel="gaussian", bandwidth=1.0)
    np.testing.assert_allclose(K32, K64, rtol=1e-6, atol=1e-7)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 60), m=st.integers(1, 40), d=st.integers(1, 9),
    block=st.integers(1, 70), dtype=st.sampled_from(DTYPES), symmetric=st.booleans(),
)
def test_gram_any_shape_and_block(n, m, d, block, dtype, symmetric):
    rng = np.random.default_rng(n * 1000 + m * 10 + d)
    X = rng.standard_normal((n, d)).astype(dtype)
    Y = None if symmetric else rng.standard_normal((m, d)).astype(dtype)
    K = kf.gram(X, Y, "gaussian", bandwidth=1.5, block_size=block)
    np.testing.assert_allclose(K, reference("gaussian", X, Y, 1.5), **tol(dtype))


def test_gram_blocks_yield_lower_blocks_once(rng):
    X = rng.standard_normal((23, 3))
    seen = [(r.start, c.start) for r, c, _ in kf.gram_blocks(X, block_size=5)]
    assert len(seen) == len(set(seen)) == 15  # 5 row blocks: 5 * 6 / 2
    assert all(r >= c for r, c in seen)


def test_gram_writes_into_memmap(tmp_path, rng):
    X = rng.standard_normal((30, 4))
    out = np.memmap(tmp_path / "K.dat", dtype=np.float64, mode="w+", shape=(30, 30))
    result = kf.gram(X, kernel="laplacian", bandwidth=3.0, out=out, block_size=7)
    assert result is out
    np.testing.assert_allclose(np.asarray(out), reference("laplacian", X, None, 3.0), **tol(
        np.float64))


def test_callable_kernel(rng):
    X = rng.standard_normal((20, 3))
    K = kf.gram(X, kernel=lambda A, B: (A @ B.T + 1.0) ** 2, block_size=6)
    np.testing.assert_allclose(K, (X @ X.T + 1) ** 2, rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_matvec_matches_dense(dtype, rng):
    X = rng.standard_normal((70, 6)).astype(dtype)
    Z = rng.standard_normal((45, 6)).astype(dtype)
    V = rng.standard_normal((45, 3))
    got = kf.kernel_matvec(X, Z, V, "gaussian", bandwidth=2.0, block_size=16)
    np.testing.assert_allclose(got, reference("gaussian", X, Z) @ V, **tol(dtype))
    got1 = kf.kernel_matvec(X, Z, V[:, 0], "gaussian", bandwidth=2.0, block_size=16)
    assert got1.shape == (70,)


def test_median_bandwidth_default_is_deterministic(rng):
    X = rng.standard_normal((200, 4))
    k1 = kf.make_kernel("gaussian", X=X)
    k2 = kf.make_kernel("gaussian", X=X)
    assert k1.bandwidth == k2.bandwidth > 0


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "match"),
    [
        (np.array([[0.0, 1.0], [np.nan, 1.0], [np.inf, 0]]), {}, ValueError, "first bad row is 1"),
        (np.array([["a", "b"]]), {}, TypeError, "real numbers"),
        (np.ones((3, 2)), {"bandwidth": 0.0}, ValueError, "bandwidth must be > 0"),
        (np.ones((3, 2)), {"bandwidth": -1.0}, ValueError, "bandwidth must be > 0"),
        (np.ones(3), {}, ValueError, "2-D array"),
        (np.ones((3, 2)), {"kernel": "sigmoid"}, ValueError, "unknown kernel"),
    ],
)
def test_gram_bad_input(X, kwargs, error, match):
    kwargs = {"bandwidth": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        kf.gram(X, **kwargs)


def test_gram_feature_mismatch_gives_both_shapes():
    with pytest.raises(ValueError, match=r"X.shape=\(3, 2\).*Y.shape=\(4, 5\)"):
        kf.gram(np.ones((3, 2)), np.ones((4, 5)), bandwidth=1.0)


def test_gram_refuses_budget_before_allocating():
    X = np.ones((100_000, 2))
    match = r"80,000,000,000 bytes.*budget of .*1,000,000 bytes"
    with pytest.raises(MemoryBudgetError, match=match):
        kf.gram(X, bandwidth=1.0, memory_budget=1_000_000)


def test_cuda_without_gpu_says_how_to_install():
    from kernelfit.backend import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match=r"kernelfit\[gpu-cuda12\]"):
        kf.gram(np.ones((3, 2)), bandwidth=1.0, device="cuda")


def test_array_api_namespace_gram_and_matvec():
    """The math paths run on a second array namespace (array-api-strict)."""
    xps = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(0)
    Xn = rng.standard_normal((25, 4))
    X = xps.asarray(Xn)
    K = kf.gram(X, kernel="gaussian", bandwidth=1.3, block_size=7)
    assert type(K).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(xps.asarray(K, copy=True)._array), reference(
        "gaussian", Xn, None, 1.3), rtol=1e-12)
    V = xps.asarray(rng.standard_normal((25, 2)))
    KV = kf.kernel_matvec(X, X, V, "gaussian", bandwidth=1.3, block_size=7)
    np.testing.assert_allclose(KV._array, reference("gaussian", Xn, None, 1.3) @ V._array,
                               rtol=1e-12)


@pytest.mark.gpu
def test_gram_on_gpu_matches_cpu(rng):
    import cupy

    X = rng.standard_normal((300, 20))
    K = kf.gram(cupy.asarray(X), kernel="gaussian", bandwidth=2.0, block_size=64)
    np.testing.assert_allclose(cupy.asnumpy(K), reference("gaussian", X, None), rtol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
def test_symmetric_matvec_matches_dense(dtype, rng):
    from kernelfit.gram_builder import symmetric_matvec

    X = rng.standard_normal((83, 6)).astype(dtype)
    V = rng.standard_normal((83, 2))
    ref = reference("gaussian", X, None, 2.0) @ V
    got = symmetric_matvec(X, V, "gaussian", bandwidth=2.0, block_size=20)
    np.testing.assert_allclose(got, ref, **tol(dtype))
    assert symmetric_matvec(X, V[:, 1], bandwidth=2.0, block_size=20).shape == (83,)
    with pytest.raises(ValueError, match=r"X.shape=\(83, 6\) and V.shape=\(5, 2\)"):
        symmetric_matvec(X, V[:5], bandwidth=2.0)


@pytest.mark.parametrize("kernel", ["gaussian", "laplacian"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_symmetric_matvec_is_float64_accurate(kernel, dtype, rng):
    """Blocks of the matrix-free product are float64 for float32 data too, and equal the
    dense ``K @ V`` (diagonal blocks, mirrored blocks and a ragged last block)."""
    from kernelfit.gram_builder import symmetric_matvec

    X = rng.random((151, 37)).astype(dtype)
    X[100] = X[7]  # duplicate rows in different blocks
    V = rng.standard_normal((151, 3))
    X64 = X.astype(np.float64)
    dense = np.exp(-cdist(X64, X64, "sqeuclidean") / (2 * 1.5**2)) if kernel == "gaussian" \
        else np.exp(-cdist(X64, X64, "cityblock") / 1.5)
    got = symmetric_matvec(X, V, kernel, bandwidth=1.5, block_size=40)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, dense @ V, rtol=1e-12, atol=1e-12 * np.abs(dense @ V).max())
    np.testing.assert_allclose(kf.kernel_matvec(X, X, V, kernel, bandwidth=1.5, block_size=40),
                               dense @ V, rtol=1e-12, atol=1e-12 * np.abs(dense @ V).max())
