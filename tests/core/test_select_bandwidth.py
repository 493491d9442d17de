"""The held-out bandwidth choice on raw features, against a SciPy solve on the same split."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

from kernelfit.experiments import select_bandwidth


def blobs(n=300, d=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, d)) + 1.2 * np.eye(3, d)[y]
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
    candidates = [1.0, 2.0, 4.0]
    events = []
    best, errors = select_bandwidth(X, y, "gaussian", candidates, progress=events.append)
    expected = held_out_errors(X, y, candidates)
    assert errors == pytest.approx(expected)
    assert best == min(expected, key=lambda b: (expected[b], -b))
    assert [e.done for e in events if e.phase == "bandwidth"][-1] == len(candidates)
    assert events[-1].finished and events[-1].unit == "fits"


def test_ties_go_to_the_larger_bandwidth():
    X, y = blobs(n=200, seed=1)
    # Two copies of one candidate tie exactly; a slightly larger twin must win the tie.
    best, errors = select_bandwidth(X, y, "gaussian", [3.0, 3.0 * (1 + 1e-12)])
    assert len(set(errors.values())) == 1
    assert best == max(errors)
