"""The compiled distance pass of the gaussian blocks: the NumPy passes' results to the
bit, loaded only for large jobs, and NumPy's passes when Numba cannot load it."""

import sys

import numpy as np
import pytest
from sklearn.metrics import pairwise

import kernelfit
from kernelfit import gram, host_kernel_blocks, kernel_matvec
from kernelfit.kernels import make_kernel

BANDWIDTH = 1.3


def numpy_passes(block, scale, x_term, z_term):
    out = block * scale
    out -= x_term[:, None]
    out -= z_term[None, :]
    return np.minimum(out, 0.0, out=out)


def test_exponents_match_numpy_passes_bit_for_bit(rng):
    from kernelfit.block_pass_kernels import gaussian_exponents

    block = rng.normal(size=(37, 53)) * 40.0
    block[0, :5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    x_term, z_term = rng.random(37) * 30.0, rng.random(53) * 30.0
    expected = numpy_passes(block, 0.37, x_term, z_term)
    strided = np.full((37, 80), 7.0)[:, :53]  # a row stride wider than the row
    strided[...] = block
    for target in (block.copy(), strided):
        gaussian_exponents(target, 0.37, x_term, z_term)
        np.testing.assert_array_equal(target, expected)
        assert np.isnan(target[0, 0]) and target[0, 1] == 0.0 and target[0, 2] == -np.inf
        assert np.all(target[~np.isnan(target)] <= 0.0)


@pytest.mark.parametrize("same", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_are_those_of_the_numpy_passes(same, order, dtype, rng, monkeypatch):
    """Every output the block function writes (in place, cast into float32, a copy
    beside it; diagonal blocks in strips) is bitwise the NumPy passes' block."""
    monkeypatch.setattr(host_kernel_blocks, "_DIAGONAL_STRIP", 16)
    X = rng.random((70, 9))
    X[5] = X[0]  # a duplicate: its distance clamps at 0
    Z = X if same else rng.random((45, 9))
    kernel = make_kernel("gaussian", bandwidth=BANDWIDTH)

    def run():
        out = np.empty((X.shape[0], Z.shape[0]), dtype=dtype, order=order)
        beside = np.empty(out.shape, dtype=np.float32, order=order)
        kernel(X, Z, out, same=same, copy_to=beside)
        return out, beside

    assert host_kernel_blocks._compiled_pass() is not None  # numba is a dependency
    monkeypatch.setattr(host_kernel_blocks, "_use_compiled_pass", False)
    expected = run()
    monkeypatch.setattr(host_kernel_blocks, "_use_compiled_pass", True)
    found = run()
    for a, b in zip(found, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    reference = pairwise.rbf_kernel(X, Z, gamma=0.5 / BANDWIDTH**2)
    np.testing.assert_allclose(found[0], reference, rtol=1e-12 if dtype == np.float64 else 1e-6)


def test_a_large_job_loads_the_pass_and_a_small_one_does_not(rng, monkeypatch):
    """The threshold counts a Gram's lower half (``n (n + 1) / 2`` entries) and a cross
    product's ``n m``; once loaded the pass stays in use."""
    monkeypatch.setattr(host_kernel_blocks, "_use_compiled_pass", False)
    monkeypatch.setattr(host_kernel_blocks, "COMPILED_PASS_ENTRIES", 30 * 31 // 2)
    X, Z = rng.random((29, 4)), rng.random((31, 4))
    K = gram(X, kernel="gaussian", bandwidth=BANDWIDTH)  # 435 entries: below
    assert not host_kernel_blocks._use_compiled_pass
    np.testing.assert_allclose(K, pairwise.rbf_kernel(X, gamma=0.5 / BANDWIDTH**2), rtol=1e-12)
    gram(X, kernel="laplacian", bandwidth=BANDWIDTH)
    assert not host_kernel_blocks._use_compiled_pass
    V = rng.random((31, 2))
    Kv = kernel_matvec(X[:15], Z, V, kernel="gaussian", bandwidth=BANDWIDTH)  # 465: at it
    assert host_kernel_blocks._use_compiled_pass
    reference = pairwise.rbf_kernel(X[:15], Z, gamma=0.5 / BANDWIDTH**2) @ V
    np.testing.assert_allclose(Kv, reference, rtol=1e-12)
    assert host_kernel_blocks.prepare_compiled_pass(0)  # stays


def test_without_numba_the_numpy_passes_run_with_one_warning(rng, monkeypatch):
    monkeypatch.setitem(sys.modules, "kernelfit.block_pass_kernels", None)  # import fails
    monkeypatch.delattr(kernelfit, "block_pass_kernels", raising=False)
    monkeypatch.setattr(host_kernel_blocks, "_use_compiled_pass", False)
    monkeypatch.setattr(host_kernel_blocks, "COMPILED_PASS_ENTRIES", 10)
    host_kernel_blocks._compiled_pass.cache_clear()
    try:
        X = rng.random((12, 3))
        with pytest.warns(RuntimeWarning, match="compiled distance pass is unavailable"):
            K = gram(X, kernel="gaussian", bandwidth=BANDWIDTH)
        assert not host_kernel_blocks._use_compiled_pass
        np.testing.assert_allclose(K, pairwise.rbf_kernel(X, gamma=0.5 / BANDWIDTH**2),
                                   rtol=1e-12)
    finally:
        host_kernel_blocks._compiled_pass.cache_clear()
