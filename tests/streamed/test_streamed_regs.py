"""Several ridge terms from one streamed Gram, against separate streamed runs and SciPy."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

import kernelfit.streamed.solve as streamed_solve
from kernelfit.features import RandomConvFeatures
from kernelfit.memory import MemoryBudgetError
from kernelfit.streamed import plan_streamed_memory, solve_streamed, solve_streamed_regs

RTOL = {"float64": 1e-9, "mixed": 2e-5}


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, size=(90, 32, 32, 3), dtype=np.uint8)
    Xt = rng.integers(0, 256, size=(30, 32, 32, 3), dtype=np.uint8)
    return X, rng.integers(0, 3, size=90), Xt


def features(**params):
    return RandomConvFeatures(**{**dict(n_filters=32, n_whitening_patches=3000,
                                        n_standardize_images=60, n_jobs=1, device="cpu",
                                        dtype="float64"), **params})


def relative(a, b):
    return np.abs(np.asarray(a) - b).max() / np.abs(b).max()


@pytest.fixture
def spies(monkeypatch):
    """Counts of Gram accumulations and of factorizations."""
    counts = {"grams": 0, "solves": 0}
    accumulate = RandomConvFeatures.accumulate_train_test_grams
    solve = streamed_solve.solve_kernel_system

    def counted_accumulate(self, *args, **kwargs):
        counts["grams"] += 1
        return accumulate(self, *args, **kwargs)

    def counted_solve(*args, **kwargs):
        counts["solves"] += 1
        return solve(*args, **kwargs)

    monkeypatch.setattr(RandomConvFeatures, "accumulate_train_test_grams", counted_accumulate)
    monkeypatch.setattr(streamed_solve, "solve_kernel_system", counted_solve)
    return counts


@pytest.mark.parametrize("dtype", ["float64", "mixed"])
def test_shared_gram_equals_separate_runs(images, spies, dtype):
    X, y, Xt = images
    auto, zero, fixed = solve_streamed_regs(features(), X, y, Xt, regs=("auto", 0.0, 0.3),
                                            dtype=dtype, device="cpu")
    assert spies["grams"] == 1  # the features were streamed once
    assert spies["solves"] == len({auto.reg, 0.0, 0.3})  # one factorization per distinct reg
    assert auto.reg_search is not None and auto.reg in auto.reg_search
    assert zero.reg_search is None and fixed.reg_search is None
    assert (zero.reg, fixed.reg) == (0.0, 0.3)
    for shared in (auto, zero, fixed):
        alone = solve_streamed(features(), X, y, Xt, reg=shared.reg, dtype=dtype, device="cpu")
        assert alone.bandwidth == shared.bandwidth
        assert relative(shared.dual_coef, alone.dual_coef) < RTOL[dtype]
        assert relative(shared.test_scores, alone.test_scores) < RTOL[dtype]
        np.testing.assert_array_equal(shared.predict(shared.test_scores),
                                      alone.predict(alone.test_scores))
        assert shared.rkhs_norm == pytest.approx(alone.rkhs_norm, rel=RTOL[dtype])
        assert shared.relative_residual < (1e-12 if dtype == "float64" else 1e-9)
    assert spies["grams"] == 4


def test_each_reg_matches_a_dense_scipy_solve(images):
    X, y, Xt = images
    fmap = features()
    F = fmap.fit_transform(X).astype(np.float64)
    Ft = fmap.transform(Xt).astype(np.float64)
    regs = (0.0, 1e-2, 0.3)
    solutions = solve_streamed_regs(features(), X, y, Xt, regs=regs, dtype="float64",
                                    device="cpu")
    gamma = 1.0 / (2.0 * solutions[0].bandwidth**2)
    K, Kt = rbf_kernel(F, F, gamma=gamma), rbf_kernel(Ft, F, gamma=gamma)
    Y = np.where(y[:, None] == np.unique(y)[None, :], 1.0, 0.0)
    for reg, sol in zip(regs, solutions, strict=True):
        alpha = scipy.linalg.solve(K + reg * np.eye(len(y)), Y, assume_a="pos")
        assert relative(sol.dual_coef, alpha) < 1e-9
        assert relative(sol.test_scores, Kt @ alpha) < 1e-9
        assert sol.rkhs_norm == pytest.approx(np.sqrt(np.sum(alpha * (K @ alpha))), rel=1e-9)


def test_equal_regs_are_solved_once(images, spies):
    X, y, Xt = images
    first, second = solve_streamed_regs(features(), X, y, Xt, regs=(0.1, 0.1), device="cpu",
                                        dtype="float64")
    assert spies["solves"] == 1
    np.testing.assert_array_equal(first.dual_coef, second.dual_coef)


def test_several_regs_fit_in_the_one_reg_plan(images):
    """The kept copy of K is in the plan (2 P + C + W): a budget that refuses one solve
    refuses several, with both numbers, and several cost no more than one."""
    X, y, Xt = images
    plan = plan_streamed_memory(len(X), len(Xt), len(X), np.float32, 1 << 40)
    short = 2 * plan.packed + plan.cross + plan.work - 1
    fmap = features()
    with pytest.raises(MemoryBudgetError,
                       match=r"packed K and its factor 2 x .* needs .* more than the memory"):
        solve_streamed_regs(fmap, X, y, Xt, regs=(0.0, "auto"), dtype="mixed", device="cpu",
                            memory_budget=short)
    assert not hasattr(fmap, "filters_")


@pytest.mark.parametrize(("regs", "match"), [
    ((), r"regs must be a non-empty sequence .*\(\)"),
    ("auto", r"regs must be a non-empty sequence .*'auto'"),
    (("auto", "auto"), r"regs may hold 'auto' once .*\('auto', 'auto'\)"),
    ((0.0, -1.0), r"reg must be a non-negative number or 'auto'.*-1\.0"),
])
def test_bad_regs_are_refused_before_any_work(images, regs, match):
    X, y, Xt = images
    fmap = features()
    with pytest.raises(ValueError, match=match):
        solve_streamed_regs(fmap, X, y, Xt, regs=regs, device="cpu")
    assert not hasattr(fmap, "filters_")


@pytest.mark.parametrize("dtype", ["float64", "mixed"])
def test_a_copy_of_k_kept_on_disk_gives_the_same_solutions(images, tmp_path, dtype):
    X, y, Xt = images
    kwargs = dict(regs=(0.0, 0.3), dtype=dtype, device="cpu", tile_size=32)
    in_memory = solve_streamed_regs(features(), X, y, Xt, keep_kernel="memory", **kwargs)
    on_disk = solve_streamed_regs(features(), X, y, Xt, keep_kernel="disk",
                                  scratch_dir=tmp_path, **kwargs)
    for a, b in zip(in_memory, on_disk, strict=True):
        np.testing.assert_allclose(b.dual_coef, a.dual_coef, rtol=1e-12, atol=0)
        np.testing.assert_allclose(b.test_scores, a.test_scores, rtol=1e-12, atol=0)
        assert b.relative_residual == pytest.approx(a.relative_residual, rel=1e-6, abs=1e-15)
    assert list(tmp_path.iterdir()) == []  # the scratch copy is deleted when the solves end
    assert (in_memory[0].storage, on_disk[0].storage) == ("packed", "packed + copy of K on disk")


def test_the_plan_keeps_k_on_disk_when_two_copies_do_not_fit():
    n, m, tile = 20_000, 2_000, 2_000
    filters = (4000, 10 << 20, 50 << 20)
    roomy = plan_streamed_memory(n, m, tile, np.float32, 1 << 40, filters=filters,
                                 keep_kernel="auto")
    assert roomy.kept == "memory" and roomy.working == 0
    in_ram = 2 * roomy.packed + roomy.cross + roomy.work + (10 << 20)
    on_disk = roomy.packed + 2 * n * tile * 4 + roomy.cross + roomy.work + (10 << 20)
    assert on_disk < in_ram
    tight = plan_streamed_memory(n, m, tile, np.float32, on_disk, filters=filters,
                                 keep_kernel="auto")
    assert tight.kept == "disk" and tight.working == 2 * n * tile * 4
    assert tight.peak <= on_disk
    with pytest.raises(MemoryBudgetError, match=r"its copy on disk with a working set of .* "
                                                 r"needs .* more than the memory budget"):
        plan_streamed_memory(n, m, tile, np.float32, on_disk - 1, filters=filters,
                             keep_kernel="auto")
    with pytest.raises(MemoryBudgetError, match=r"packed K and its factor 2 x"):
        plan_streamed_memory(n, m, tile, np.float32, on_disk, filters=filters,
                             keep_kernel="memory")
    with pytest.raises(ValueError, match=r"keep_kernel must be one of .* found 'tape'"):
        plan_streamed_memory(n, m, tile, np.float32, on_disk, keep_kernel="tape")
