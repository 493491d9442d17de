"""scikit-learn's estimator checks on the feature transformers, with tiny parameters.

The checks feed generic tables of 1 to 10 columns. These transformers take images:
rows of ``s*s`` (grey) or ``3*s*s`` (RGB) values, or ``image_shape`` to say how to
unflatten them. A check whose table is not a batch of images is an expected failure
(listed below with its reason), as are the two checks that want types refused with
ValueError: kernelfit raises TypeError for a wrong type (STYLE.md, item 6).
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelfit.features import DiscreteWaveletTransform, GaborTransform, RandomConvFeatures

NOT_IMAGES = ("the check's rows of 2, 5 or 10 values are not square images and no "
              "image_shape is given: refused with a ValueError that says so")
TYPE_ERROR = "a wrong input type is a TypeError in kernelfit, not the ValueError expected"
TOO_SMALL = ("the check's rows are 1 x 1 images (3 values: RGB), smaller than one wavelet "
             "level: refused with a ValueError that says so")

#: Failing checks shared by every transformer.
COMMON = {
    "check_estimators_overwrite_params": NOT_IMAGES,
    "check_estimators_fit_returns_self": NOT_IMAGES,
    "check_readonly_memmap_input": NOT_IMAGES,
    "check_estimators_dtypes": NOT_IMAGES,
    "check_fit2d_1sample": NOT_IMAGES,
    "check_fit_idempotent": NOT_IMAGES,
    "check_fit_check_is_fitted": NOT_IMAGES,
    "check_n_features_in": NOT_IMAGES,
    "check_complex_data": TYPE_ERROR,
    "check_dtype_object": ("object arrays are refused with a TypeError, not converted; "
                           + TYPE_ERROR),
}

#: The DWT also refuses images smaller than its coarsest level.
WAVELET = {name: TOO_SMALL for name in (
    "check_fit_score_takes_y", "check_dont_overwrite_parameters", "check_pipeline_consistency",
    "check_estimators_nan_inf", "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_transformer_data_not_an_array", "check_transformer_general",
    "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_fit2d_1feature", "check_dict_unchanged",
    "check_fit2d_predict1d")}


#: Random-conv features refuse patches of one value (a 1-column table is 1 x 1 grey
#: images): such a patch has no variance to normalize its contrast by.
ONE_VALUE = ("the check's 1-column rows are 1 x 1 grey images, whose patches hold one "
             "value with no variance to normalize: refused with a ValueError that says so")
RANDOM_CONV = {name: ONE_VALUE for name in (
    "check_n_features_in_after_fitting", "check_positive_only_tag_during_fit",
    "check_fit2d_1feature")}


def expected_failures(estimator) -> dict:
    """The checks each transformer is known to fail, with the reason."""
    if isinstance(estimator, DiscreteWaveletTransform):
        return {**COMMON, **WAVELET}
    if isinstance(estimator, RandomConvFeatures):
        return {**COMMON, **RANDOM_CONV}
    return dict(COMMON)


@parametrize_with_checks(
    [GaborTransform(n_scales=1, n_orientations=2, max_order=1, device="cpu"),
     RandomConvFeatures(n_filters=4, patch_size=1, n_whitening_patches=50,
                        n_standardize_images=20, device="cpu"),
     DiscreteWaveletTransform(level=1)],
    expected_failed_checks=expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_a_transform_with_the_wrong_row_length_names_both_lengths(rng):
    X = rng.uniform(size=(6, 16))
    gabor = GaborTransform(n_scales=1, n_orientations=2, max_order=1, device="cpu").fit(X)
    assert gabor.n_features_in_ == 16
    with pytest.raises(ValueError, match=r"X has 9 features, but it is expecting 16 features"):
        gabor.transform(X[:, :9])


def test_sparse_input_is_refused_by_name(rng):
    import scipy.sparse

    X = scipy.sparse.csr_matrix(rng.uniform(size=(6, 16)))
    with pytest.raises(TypeError, match=r"sparse input is not supported; found csr_matrix"):
        RandomConvFeatures(n_filters=4, patch_size=2, device="cpu").fit(X)
