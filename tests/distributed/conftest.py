"""A small Dask cluster for the distributed tests, started once per module.

Two worker processes with one thread each (the nanny pins BLAS to one thread,
so results do not depend on placement) and tiny tiles keep every test fast.
This folder has no ``__init__.py`` on purpose: as a package it would be
imported under the name ``distributed`` and hide the Dask library. Helpers
reach the test modules as fixtures.
"""

from __future__ import annotations

import numpy as np
import pytest


def start_cluster(n_workers=2, memory_limit="1GiB"):
    """A LocalCluster of single-threaded worker processes and its client."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
        dashboard_address=":0",
    )
    return cluster, distributed.Client(cluster, set_as_default=False)


@pytest.fixture(scope="module")
def client():
    cluster, client = start_cluster()
    yield client
    client.close()
    cluster.close()


def regression_problem(n=300, d=5, c=2, seed=0):
    """Gaussian data and targets; the kernel is smooth enough for quick PCG."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, c))


def reference_solve(X, Y, kernel, reg):
    """``(K + reg I)^{-1} Y`` with SciPy's dense Cholesky."""
    import scipy.linalg

    K = kernel(X, X, same=True) + reg * np.eye(len(X))
    return scipy.linalg.cho_solve(scipy.linalg.cho_factor(K, lower=True), Y)


@pytest.fixture
def problem():
    """``problem(n, d, c, seed) -> (X, Y)``."""
    return regression_problem


@pytest.fixture
def reference():
    """``reference(X, Y, kernel, reg) -> alpha`` by SciPy."""
    return reference_solve


@pytest.fixture
def cluster_factory():
    """``cluster_factory(n_workers) -> client``; closed after the test."""
    started = []

    def make(n_workers=2, memory_limit="1GiB"):
        started.append(start_cluster(n_workers, memory_limit))
        return started[-1][1]

    yield make
    for cluster, client in started:
        client.close()
        cluster.close()
