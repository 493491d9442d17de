"""RandomConvFeatures: fitting, transform, streamed Gram accumulation, errors."""

import numpy as np
import pytest
from sklearn.base import clone

from kernelfit.features import RandomConvFeatures
from kernelfit.memory import MemoryBudgetError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, size=(37, 12, 12, 3)).astype(np.uint8)
    Y = rng.integers(0, 256, size=(23, 12, 12, 3)).astype(np.uint8)
    return X, Y


def small(**params):
    defaults = dict(n_filters=150, patch_size=5, n_whitening_patches=3000,
                    n_standardize_images=30, n_jobs=2, device="cpu")
    return RandomConvFeatures(**{**defaults, **params})


def relative_error(a, b):
    return np.abs(np.asarray(a, np.float64) - b).max() / np.abs(b).max()


def test_fitted_attributes_and_shapes(data):
    X, _ = data
    f = small().fit(X)
    assert f.image_shape_ == (12, 12, 3)
    assert f.filters_.shape == (150, 75)
    np.testing.assert_allclose(np.linalg.norm(f.filters_, axis=1), 1.0)
    assert f.effective_filters_.shape == (75, 150) and f.offsets_.shape == (150,)
    assert f.n_features_out_ == 150 * 2 * 4
    assert f.feature_mean_.shape == f.feature_scale_.shape == (150, 2, 4)
    F = f.transform(X)
    assert F.shape == (37, 1200) and F.dtype == np.float32


@pytest.mark.parametrize(("dtype", "rtol"), [("float64", 1e-10), ("float32", 1e-5)])
@pytest.mark.parametrize("standardize", [False, True])
def test_streamed_gram_equals_phi_phi_t(data, dtype, rtol, standardize):
    X, Y = data
    f = small(dtype=dtype, standardize=standardize).fit(X)
    FX = f.transform(X).astype(np.float64)
    FY = f.transform(Y).astype(np.float64)
    events = []
    sym = f.accumulate_gram(X, progress=events.append, filter_chunk=40)  # 4 chunks
    assert relative_error(sym.gram, FX @ FX.T) < rtol
    assert np.array_equal(sym.gram, sym.gram.T)
    np.testing.assert_allclose(sym.row_sq_norms, (FX * FX).sum(1), rtol=rtol)
    assert sym.col_sq_norms is sym.row_sq_norms
    assert events[-1].finished and events[-1].unit == "GFLOP"
    assert events[-1].done == pytest.approx(events[-1].total, rel=1e-9)
    f.set_params(memory_budget="3MB")  # chunks sized from the budget
    cross = f.accumulate_gram(X, Y)
    assert cross.gram.shape == (37, 23)
    assert relative_error(cross.gram, FX @ FY.T) < rtol
    np.testing.assert_allclose(cross.col_sq_norms, (FY * FY).sum(1), rtol=rtol)


def test_train_and_test_grams_in_one_pass(data):
    X, Y = data
    f = small(dtype="float64").fit(X)
    FX, FY = f.transform(X), f.transform(Y)
    events = []
    train, cross = f.accumulate_train_test_grams(X, Y, progress=events.append, filter_chunk=60)
    assert relative_error(train.gram, FX @ FX.T) < 1e-10
    assert relative_error(cross.gram, FY @ FX.T) < 1e-10
    np.testing.assert_allclose(cross.row_sq_norms, (FY * FY).sum(1), rtol=1e-12)
    assert cross.col_sq_norms is train.row_sq_norms
    encode = 2e-9 * (37 + 23) * 8 * 8 * 75 * 150  # X encoded once, not twice
    gram = 2e-9 * (37 * 37 + 37 * 23) * 1200
    assert events[-1].total == pytest.approx(encode + gram)


def test_gram_into_a_float32_memmap(data, tmp_path):
    X, Y = data
    f = small(dtype="float64").fit(X)
    FX, FY = f.transform(X), f.transform(Y)
    out = np.lib.format.open_memmap(tmp_path / "gram.npy", mode="w+", dtype=np.float32,
                                    shape=(37, 23))
    out[:] = 123.0  # overwritten, not accumulated onto
    result = f.accumulate_gram(X, Y, out=out)
    assert result.gram is out
    assert relative_error(out, FX @ FY.T) < 1e-6
    with pytest.raises(ValueError, match=r"out must have shape \(37, 23\); found \(37, 22\)"):
        f.accumulate_gram(X, Y, out=np.zeros((37, 22)))


def test_deterministic_under_a_seed_and_thread_count(data):
    X, _ = data
    f = small(random_state=3).fit(X)
    a = f.transform(X)
    np.testing.assert_array_equal(small(random_state=3).fit(X).transform(X), a)
    np.testing.assert_array_equal(f.filters_, small(random_state=3).fit(X).filters_)
    b = small(random_state=3, n_jobs=1).fit(X).transform(X)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)  # same up to BLAS rounding
    c = small(random_state=4).fit(X).transform(X)
    assert not np.allclose(a, c)


def test_gaussian_filters_and_input_layouts(data):
    X, _ = data
    f = small(filter_kind="gaussian", standardize=False).fit(X)
    F = f.transform(X)
    np.testing.assert_array_equal(f.transform(X.reshape(37, -1)), F)  # rows of 3*12*12
    assert np.all(F >= 0)  # soft-threshold sums are non-negative
    grey = X[..., 0]
    g = small(standardize=False).fit(grey)
    assert g.image_shape_ == (12, 12, 1) and g.transform(grey).shape == (37, 1200)


def test_transform_refuses_a_feature_matrix_over_budget(data):
    X, _ = data
    f = small().fit(X).set_params(memory_budget="100kB")
    with pytest.raises(MemoryBudgetError,
                       match=r"37 x 1200 .* needs .* budget of .*accumulate_gram"):
        f.transform(X)


def test_chunk_plan_follows_the_budget():
    from kernelfit.features.conv_gram import plan_filter_chunk

    # 100 rows x 8 features x 4 bytes = 3,200 bytes per filter, after 10,000 fixed bytes.
    assert plan_filter_chunk(100, 500, 8, 4, 10_000, 10_000 + 3_200 * 7 + 5, "x") == 7
    assert plan_filter_chunk(100, 5, 8, 4, 0, 10**9, "x") == 5
    with pytest.raises(MemoryBudgetError, match=r"x needs .*13,200 bytes.*13,199 bytes"):
        plan_filter_chunk(100, 500, 8, 4, 10_000, 13_199, "x")


def test_an_explicit_chunk_is_checked_against_the_budget(data):
    X, _ = data
    f = small(standardize=False).fit(X).set_params(memory_budget="1MB")
    with pytest.raises(MemoryBudgetError, match="in chunks of 150 filters"):
        f.accumulate_gram(X, filter_chunk=1000)
    with pytest.raises(ValueError, match="filter_chunk must be >= 1; found 0"):
        f.set_params(memory_budget=None).accumulate_gram(X, filter_chunk=0)


def test_gram_refuses_an_impossible_budget_with_both_numbers(data):
    X, _ = data
    f = small().fit(X).set_params(memory_budget=20_000)
    with pytest.raises(MemoryBudgetError) as info:
        f.accumulate_gram(X)
    message = str(info.value)
    assert "needs" in message and "20,000 bytes" in message and "37 x 37 images" in message


@pytest.mark.parametrize(
    ("X", "error", "message"),
    [
        (np.zeros((2, 12, 12, 1)), ValueError, r"\(height, width, channels\)=\(12, 12, 3\)"),
        (np.zeros((2, 10, 10, 3)), ValueError, r"=\(12, 12, 3\); found \(10, 10, 3\)"),
        (np.zeros((2, 12, 12)), ValueError, "channels"),
        (np.full((1, 12, 12, 3), np.nan), ValueError, "NaN or infinity; the first bad row is 0"),
        (np.array([["a"]]), TypeError, "real numbers"),
    ],
)
def test_bad_images_are_refused(data, X, error, message):
    f = small(n_filters=4, standardize=False).fit(data[0])
    with pytest.raises(error, match=message):
        f.transform(X)
    with pytest.raises(error, match=message):
        f.accumulate_gram(data[0], X)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"n_filters": 0}, "n_filters must be an integer >= 1; found 0"),
        ({"patch_size": 13}, r"patch_size=13 is larger than the images \(12 x 12\)"),
        ({"filter_kind": "kmeans"}, "filter_kind"),
        ({"alpha": -1.0}, "alpha"),
        ({"dtype": "float16"}, "dtype"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_bad_parameters_are_refused(data, params, message):
    with pytest.raises(ValueError, match=message):
        small(**params).fit(data[0])


def test_a_one_value_patch_is_refused_before_it_normalizes_to_nan():
    """patch_size 1 on grey images: a patch of one value has no unbiased variance."""
    grey = np.random.default_rng(0).integers(0, 256, size=(20, 8, 8)).astype(np.float64)
    with pytest.raises(ValueError, match=r"at least 2 values .*; found patch_size=1 on "
                                         r"1-channel images"):
        small(n_filters=2, patch_size=1).fit(grey)
    small(n_filters=2, patch_size=2).fit(grey)  # 4 values: fine


def test_nan_in_training_images_is_refused():
    X = np.zeros((3, 8, 8, 3))
    X[2, 1, 1, 0] = np.nan
    with pytest.raises(ValueError, match="first bad row is 2"):
        small(n_filters=2).fit(X)


def test_clone_and_refit_without_standardization(data):
    X, _ = data
    f = small().fit(X)
    g = clone(f).set_params(standardize=False).fit(X)
    assert not hasattr(g, "feature_mean_")
    f.set_params(standardize=True)
    np.testing.assert_array_equal(f.transform(X[:2]), small().fit(X).transform(X[:2]))


@pytest.mark.gpu
def test_cupy_gram_matches_numpy(data):
    import cupy

    X, Y = data
    cpu = small(dtype="float64").fit(X)
    gpu = clone(cpu).set_params(device="cuda").fit(X)
    a, b = cpu.accumulate_gram(X, Y), gpu.accumulate_gram(X, Y)
    assert isinstance(b.gram, cupy.ndarray)  # accumulated on the device, tile by tile
    assert relative_error(cupy.asnumpy(b.gram), a.gram) < 1e-10


@pytest.mark.parametrize(("pooling", "regions"), [("grid", 4), ("overlap2", 4), ("overlap3", 9)])
def test_pooling_layouts_set_the_feature_count(pooling, regions):
    images = np.random.default_rng(3).integers(0, 256, size=(4, 32, 32, 3)).astype(np.uint8)
    features = RandomConvFeatures(n_filters=3, pooling=pooling, n_whitening_patches=500,
                                  n_standardize_images=4, n_jobs=1, device="cpu").fit(images)
    assert features.n_regions_ == regions
    assert features.transform(images[:2]).shape == (2, 3 * 2 * regions)


def test_a_pooling_window_larger_than_the_response_map_is_refused(data):
    with pytest.raises(ValueError, match=r"size <= 8 \(the response map is 8 x 8\)"):
        small(pooling="overlap3").fit(data[0])


def test_unknown_pooling_is_refused(data):
    with pytest.raises(ValueError, match=r"pooling must be one of \['grid', 'overlap2', "
                                         r"'overlap3'\]; found 'max'"):
        RandomConvFeatures(n_filters=2, pooling="max").fit(data[0])
