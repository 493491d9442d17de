"""Estimators on out-of-core tiles: chosen by budget, same answer, resumable after a kill."""

import os

import numpy as np
import pytest
import scipy.linalg

import kernelfit as kf
from kernelfit.backend import resolve_device
from kernelfit.kernels import make_kernel
from kernelfit.linalg.storage_choice import open_tile_storage, problem_fingerprint

N, D, TILE = 300, 6, 50  # 6 tile columns
PACKED_BYTES = 21 * TILE * TILE * 8  # 420 kB of float64 lower tiles
WORKING_SET = 2 * N * TILE * 8  # 240 kB: two tile columns


def problem():
    rng = np.random.default_rng(7)
    return rng.random((N, D)), rng.standard_normal((N, 2))


def model(**kwargs):
    return kf.KernelRegressor(bandwidth=0.8, reg=1e-8, tile_size=TILE, **kwargs)


def reference():
    X, Y = problem()
    K = kf.gram(X, kernel="gaussian", bandwidth=0.8) + 1e-8 * np.eye(N)
    return scipy.linalg.solve(K, Y, assume_a="pos")


def test_forced_out_of_core_matches_scipy_and_cleans_up(tmp_path):
    X, Y = problem()
    fitted = model(storage="out-of-core", scratch_dir=tmp_path).fit(X, Y)
    assert fitted.storage_.startswith("out-of-core (")
    assert fitted.resumed_panels_ == 0
    np.testing.assert_allclose(fitted.dual_coef_, reference(), rtol=1e-6,
                               atol=1e-9 * np.abs(reference()).max())
    assert os.listdir(tmp_path) == []  # a finished fit leaves no tiles behind


def test_auto_goes_out_of_core_when_packed_tiles_exceed_the_budget(tmp_path):
    X, Y = problem()
    budget = (PACKED_BYTES + WORKING_SET) // 2
    small = model(memory_budget=budget, scratch_dir=tmp_path).fit(X, Y)
    roomy = model(memory_budget=10 * PACKED_BYTES, scratch_dir=tmp_path).fit(X, Y)
    assert small.storage_.startswith("out-of-core") and roomy.storage_ == "packed"
    np.testing.assert_allclose(small.dual_coef_, roomy.dual_coef_, rtol=1e-9,
                               atol=1e-12 * np.abs(roomy.dual_coef_).max())


def test_mixed_precision_out_of_core_reaches_the_float64_answer(tmp_path):
    X, Y = problem()
    fitted = model(dtype="mixed", storage="out-of-core", scratch_dir=tmp_path).fit(X, Y)
    assert fitted.refinement_.residuals_from == "data"
    assert fitted.refinement_.residuals[-1] < 1e-10
    np.testing.assert_allclose(fitted.dual_coef_, reference(), rtol=1e-5,
                               atol=1e-8 * np.abs(reference()).max())


def test_a_killed_fit_resumes_from_its_last_panel_with_the_same_answer(tmp_path, run_python):
    X, Y = problem()
    uninterrupted = model(storage="out-of-core", scratch_dir=tmp_path / "a").fit(X, Y)
    code = f"""
import os, sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_storage_choice import model, problem
from kernelfit.linalg.out_of_core import OutOfCoreStorage
finish = OutOfCoreStorage.end_panel
def end_then_die(self, k):
    finish(self, k)
    if k == 2:
        os._exit(17)  # no cleanup, like a kill
OutOfCoreStorage.end_panel = end_then_die
model(storage="out-of-core", scratch_dir={str(tmp_path / "b")!r}).fit(*problem())
"""
    result = run_python(code, timeout=120)
    assert result.returncode == 17, result.stderr
    assert len(os.listdir(tmp_path / "b")) == 1  # the killed run's tiles are kept
    resumed = model(storage="out-of-core", scratch_dir=tmp_path / "b").fit(X, Y)
    assert resumed.resumed_panels_ == 3
    np.testing.assert_array_equal(resumed.dual_coef_, uninterrupted.dual_coef_)
    assert os.listdir(tmp_path / "b") == []


def test_a_different_problem_does_not_resume_anothers_tiles(tmp_path):
    X, _ = problem()
    kernel = make_kernel("gaussian", bandwidth=0.8)
    base = problem_fingerprint(X, kernel, 0.0, np.float64, TILE)
    assert base != problem_fingerprint(X + 1e-12, kernel, 0.0, np.float64, TILE)
    assert base != problem_fingerprint(X, make_kernel("gaussian", bandwidth=0.9), 0.0,
                                       np.float64, TILE)
    assert base != problem_fingerprint(X, kernel, 1e-3, np.float64, TILE)
    assert base != problem_fingerprint(X, kernel, 0.0, np.float32, TILE)
    assert base != problem_fingerprint(X, kernel, 0.0, np.float64, TILE + 1)


def test_forced_packed_storage_over_budget_is_refused_with_both_numbers():
    X, Y = problem()
    with pytest.raises(kf.MemoryBudgetError, match=r"needs .*more than the memory budget"):
        model(storage="packed", memory_budget=WORKING_SET).fit(X, Y)


def test_unknown_storage_is_refused():
    X, Y = problem()
    with pytest.raises(ValueError, match="storage must be one of 'auto', 'packed', 'out-of-core'"):
        model(storage="disk").fit(X, Y)


def test_out_of_core_refuses_a_device_backend(tmp_path):
    xps = pytest.importorskip("array_api_strict")
    from kernelfit.backend import Backend

    device = Backend(xps, xps.Device("device1"))  # an emulated device, not host memory
    X, _ = problem()
    with pytest.raises(ValueError, match=r"out-of-core storage runs on the CPU; found device "
                                         r"\"array_api_strict.Device\('device1'\)\""):
        open_tile_storage(X, make_kernel("gaussian", bandwidth=1.0), 0.0, np.float64,
                          device, storage="out-of-core", scratch_dir=tmp_path)
    assert resolve_device("cpu").is_host


@pytest.mark.parametrize("kept_on_disk", [False, True])
def test_a_tee_fills_the_factor_tiles_with_the_exact_cast_of_the_kept_kernel(kept_on_disk,
                                                                             tmp_path):
    """One pass over the blocks fills the float64 K and the float32 factor tiles (the
    factor's copy made in the block's own pass), equal to scikit-learn's block."""
    from sklearn.metrics.pairwise import rbf_kernel

    from kernelfit.linalg import OutOfCoreStorage, PackedStorage
    from kernelfit.linalg.storage_choice import TeeTiles

    X = np.random.default_rng(4).random((230, 6))
    kept = (OutOfCoreStorage(230, tmp_path / "k", tile_size=64) if kept_on_disk
            else PackedStorage(230, 64))
    factor = PackedStorage(230, 64, np.float32)
    tiles = {key: factor.tile(*key) for key in ((0, 0), (3, 1), (3, 3))}
    kf.gram(X, kernel="gaussian", bandwidth=0.9, dtype=np.float64,
            out=TeeTiles(kept, factor))
    K = kept.to_dense(lower_only=True)
    np.testing.assert_allclose(np.tril(K), np.tril(rbf_kernel(X, gamma=0.5 / 0.9**2)),
                               rtol=1e-12, atol=0)
    np.testing.assert_array_equal(np.tril(factor.to_dense(lower_only=True)),
                                  np.tril(K).astype(np.float32))
    assert all(factor.tile(*key) is tile for key, tile in tiles.items())  # filled in place
    kept.close()


def test_a_tee_into_a_storage_whose_tiles_are_copies_still_fills_it():
    """The second target's tile is written back with store(): a dense storage hands out
    copies of its blocks, and mirrors what it stores."""
    from kernelfit.linalg import PackedStorage
    from kernelfit.linalg.storage import DenseStorage
    from kernelfit.linalg.storage_choice import TeeTiles

    X = np.random.default_rng(6).random((90, 4))
    dense = DenseStorage(np.zeros((90, 90), np.float32), tile_size=32)
    kept = PackedStorage(90, 32)
    kf.gram(X, kernel="gaussian", bandwidth=0.7, dtype=np.float64, out=TeeTiles(kept, dense))
    K = kf.gram(X, kernel="gaussian", bandwidth=0.7)
    np.testing.assert_allclose(dense.to_dense(), K.astype(np.float32), rtol=1e-6, atol=0)


def test_a_tee_on_an_emulated_device_keeps_both_copies_there():
    """Off the host the tee takes the generic path: each block computed on the device,
    the float32 copy cast there; nothing is converted to NumPy on the way."""
    xps = pytest.importorskip("array_api_strict")
    from sklearn.metrics.pairwise import rbf_kernel

    from kernelfit.backend import Backend
    from kernelfit.linalg import PackedStorage
    from kernelfit.linalg.storage_choice import TeeTiles

    device = Backend(xps, xps.Device("device1"))
    X = np.random.default_rng(8).random((70, 5))
    kept = PackedStorage(70, 32, np.float64, device)
    factor = PackedStorage(70, 32, np.float32, device)
    Xd = xps.asarray(X, device=xps.Device("device1"))
    kf.gram(Xd, kernel="gaussian", bandwidth=0.8, dtype=np.float64, device=device,
            out=TeeTiles(kept, factor))
    tile = factor.tile(2, 1)
    assert tile.device == xps.Device("device1") and tile.dtype == xps.float32
    K = rbf_kernel(X, gamma=0.5 / 0.8**2)
    got = np.asarray(xps.asarray(tile, device=xps.Device("CPU_DEVICE"))._array)
    np.testing.assert_allclose(got, K[64:70, 32:64].astype(np.float32), rtol=1e-6, atol=0)


def test_copy_to_on_an_emulated_device_stays_there():
    xps = pytest.importorskip("array_api_strict")
    device1 = xps.Device("device1")
    rng = np.random.default_rng(9)
    X, Z = rng.random((9, 3)), rng.random((7, 3))
    kernel = make_kernel("gaussian", bandwidth=0.9)
    out = xps.zeros((9, 7), dtype=xps.float64, device=device1)
    copy = xps.zeros((9, 7), dtype=xps.float32, device=device1)
    kernel(xps.asarray(X, device=device1), xps.asarray(Z, device=device1), out, copy_to=copy)
    assert copy.device == device1
    back = np.asarray(xps.asarray(copy, device=xps.Device("CPU_DEVICE"))._array)
    from sklearn.metrics.pairwise import rbf_kernel

    np.testing.assert_allclose(back, rbf_kernel(X, Z, gamma=0.5 / 0.81), rtol=1e-6, atol=0)
