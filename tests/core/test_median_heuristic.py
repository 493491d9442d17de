"""The median heuristic against SciPy's pairwise distances, from data, a Gram and tiles."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from kernelfit.features import median_bandwidth_from_gram
from kernelfit.kernels import median_bandwidth
from kernelfit.linalg import PackedStorage
from kernelfit.linalg.symmetric_view import SymmetricTileView
from kernelfit.median_heuristic import bandwidth_from_squared_distances, median_sample
from kernelfit.model_selection import median_bandwidth_from_tiles


def tiled(G, tile=16):
    view = SymmetricTileView(PackedStorage(G.shape[0], tile, G.dtype, "cpu"))
    view[...] = G
    return view


def three_ways(X, **kwargs):
    """The heuristic from the data, from the linear Gram, and from the Gram in tiles."""
    X64 = np.asarray(X, dtype=np.float64)
    G, norms = X64 @ X64.T, (X64 * X64).sum(1)
    return (median_bandwidth(X, **kwargs), median_bandwidth_from_gram(G, norms, **kwargs),
            median_bandwidth_from_tiles(tiled(G), norms, **kwargs))


@pytest.mark.parametrize("n", [2, 3, 50, 301])
def test_all_points_match_scipy_pdist(rng, n):
    X = rng.standard_normal((n, 7)) * 3.0 + 1.0
    reference = np.median(pdist(X)) / np.sqrt(2.0)
    for ours in three_ways(X, sample=1000):
        assert ours == pytest.approx(reference, rel=1e-12)


def test_float32_data_within_float32_rounding_of_the_reference(rng):
    X = rng.standard_normal((200, 30)).astype(np.float32)
    reference = np.median(pdist(X.astype(np.float64))) / np.sqrt(2.0)
    # The distances are computed in float64 from the float32 values: the data are exact.
    assert median_bandwidth(X) == pytest.approx(reference, rel=1e-12)


def test_a_sample_is_the_same_points_for_every_source(rng):
    X = rng.standard_normal((500, 4))
    index = median_sample(500, sample=60, seed=3)
    assert index.shape == (60,) and np.all(np.diff(index) > 0)
    reference = np.median(pdist(X[index])) / np.sqrt(2.0)
    for ours in three_ways(X, sample=60, seed=3):
        assert ours == pytest.approx(reference, rel=1e-12)
    assert three_ways(X, sample=60, seed=4)[0] != pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize("X", [np.ones((1, 3)), np.full((5, 2), 4.0)],
                         ids=["one point", "all points equal"])
def test_degenerate_data_gives_one(X):
    assert three_ways(X) == (1.0, 1.0, 1.0)


def test_negative_round_off_counts_as_zero():
    D = np.array([[0.0, -1e-18, 8.0], [-1e-18, 0.0, 2.0], [8.0, 2.0, 0.0]])
    assert bandwidth_from_squared_distances(D) == pytest.approx(np.sqrt(2.0) / np.sqrt(2.0))


def test_an_empty_sample_is_refused():
    with pytest.raises(ValueError, match=r"sample of at least 1 point; found sample=0"):
        median_sample(10, sample=0)
