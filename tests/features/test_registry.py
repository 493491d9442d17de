"""make_feature_map, defaults per data set, and scikit-learn conventions."""

import numpy as np
import pytest
from sklearn.base import clone

from kernelfit.features import (
    DATASET_DEFAULTS,
    FEATURE_MAPS,
    DiscreteWaveletTransform,
    GaborTransform,
    RandomConvFeatures,
    make_feature_map,
)


def test_names_and_dataset_defaults():
    assert isinstance(make_feature_map("gabor"), GaborTransform)
    assert isinstance(make_feature_map("dwt"), DiscreteWaveletTransform)
    f = make_feature_map("randconv", dataset="cifar10")
    assert isinstance(f, RandomConvFeatures) and f.n_filters == 32000
    assert make_feature_map("randconv", dataset="cifar10", n_filters=1000).n_filters == 1000
    assert make_feature_map("gabor", dataset="unknown-set").get_params() == GaborTransform(
        ).get_params()
    for (name, _), params in DATASET_DEFAULTS.items():
        assert set(params) <= set(FEATURE_MAPS[name]().get_params())


def test_unknown_names_and_parameters_are_refused():
    with pytest.raises(ValueError, match=r"unknown feature map 'sift'; expected one of"):
        make_feature_map("sift")
    with pytest.raises(ValueError, match=r"no parameter\(s\) \['filters'\]"):
        make_feature_map("randconv", filters=10)


@pytest.mark.parametrize("name", sorted(FEATURE_MAPS))
def test_init_only_stores_parameters_and_clone_works(name):
    cls = FEATURE_MAPS[name]
    params = cls().get_params()
    estimator = cls(**params)
    assert estimator.get_params() == params
    assert not [k for k in vars(estimator) if k.endswith("_")]
    assert clone(estimator).get_params() == params


def test_fit_transform_equals_fit_then_transform():
    X = np.random.default_rng(0).integers(0, 256, size=(6, 16, 16, 3)).astype(np.uint8)
    for name, params in (("gabor", {"n_scales": 2}), ("dwt", {}),
                         ("randconv", {"n_filters": 8, "n_whitening_patches": 500})):
        a = make_feature_map(name, **params).fit_transform(X)
        b = make_feature_map(name, **params).fit(X).transform(X)
        np.testing.assert_array_equal(a, b)


def test_the_seed_is_the_random_state_of_maps_that_draw_at_random():
    assert make_feature_map("randconv", seed=7).random_state == 7
    # an explicit random_state wins over the run's seed
    assert make_feature_map("randconv", seed=7, random_state=2).random_state == 2
    # a deterministic map has no random_state and ignores the seed
    assert "random_state" not in make_feature_map("gabor", seed=7).get_params()
