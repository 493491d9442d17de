"""The held-out bandwidth choice on raw features, against a SciPy solve on the same split."""

import warnings

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

from kernelfit.model_selection import (
    BandwidthGridEdgeWarning,
    select_bandwidth,
    warn_if_at_grid_edge,
)


def blobs(n=300, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d)) + 2.0 * np.eye(3, d)[y]
    return X, y


def held_out_errors(X, y, candidates, seed=0, n_fit=10000, n_val=2000):
    """The documented split (seeded permutation, held-out rows first) and exact solves."""
    order = np.random.default_rng(seed).permutation(len(y))
    n_val = min(n_val, len(y) // 5)
    val, fit = order[:n_val], order[n_val:n_val + n_fit]
    Y = np.eye(3)[y[fit]]
    errors = {}
    for bw in candidates:
        gamma = 0.5 / bw**2
        alpha = scipy.linalg.solve(rbf_kernel(X[fit], X[fit], gamma=gamma), Y, assume_a="pos")
        pred = np.argmax(rbf_kernel(X[val], X[fit], gamma=gamma) @ alpha, axis=1)
        errors[bw] = float(np.mean(pred != y[val]))
    return errors


def test_errors_and_choice_match_a_direct_solve_and_progress_counts_fits():
    X, y = blobs()
    candidates = [0.1, 0.5, 2.0, 6.0]  # 0.5 validates best (held-out error 1/6)
    events = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", BandwidthGridEdgeWarning)  # an interior choice
        best, errors = select_bandwidth(X, y, "gaussian", candidates, progress=events.append)
    expected = held_out_errors(X, y, candidates)
    assert errors == pytest.approx(expected)
    assert best == min(expected, key=lambda b: (expected[b], -b))
    assert [e.done for e in events if e.phase == "bandwidth"][-1] == len(candidates)
    assert events[-1].finished and events[-1].unit == "fits"


def test_ties_go_to_the_larger_bandwidth():
    X, y = blobs(n=200, seed=1)
    # Two copies of one candidate tie exactly; a slightly larger twin must win the tie.
    with pytest.warns(BandwidthGridEdgeWarning, match="chose its largest candidate"):
        best, errors = select_bandwidth(X, y, "gaussian", [3.0, 3.0 * (1 + 1e-12)])
    assert len(set(errors.values())) == 1
    assert best == max(errors)


@pytest.mark.parametrize(("best", "side"), [(1.0, "smallest"), (4.0, "largest")])
def test_a_choice_at_either_end_of_the_grid_is_flagged(best, side):
    with pytest.warns(BandwidthGridEdgeWarning,
                      match=f"chose its {side} candidate, sigma = {best:g}"):
        warn_if_at_grid_edge(best, [4.0, 2.0, 1.0])


def test_an_interior_choice_or_a_single_candidate_is_not_flagged():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_at_grid_edge(2.0, [1.0, 2.0, 4.0])
        warn_if_at_grid_edge(2.0, [2.0])


@pytest.mark.parametrize(("candidates", "message"), [
    ([], "at least one candidate; found none"),
    ([1.0, 0.0], r"positive and finite; found \[0.0\]"),
    ([np.nan, 2.0], r"positive and finite; found \[nan\]"),
])
def test_bad_candidates_are_refused_before_any_fit(candidates, message):
    X, y = blobs(n=60)
    with pytest.raises(ValueError, match=message):
        select_bandwidth(X, y, "gaussian", candidates)
