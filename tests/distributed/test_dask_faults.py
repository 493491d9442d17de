"""A worker killed in the middle of the distributed factorization."""

import contextlib
import os
import time

import numpy as np
import pytest

pytest.importorskip("distributed")

from kernelfit.distributed import exact_solve, submit_cholesky
from kernelfit.kernels import make_kernel


def test_killed_worker_is_replaced_and_the_answer_is_unchanged(client, problem, reference):
    kernel = make_kernel("gaussian", bandwidth=2.0)
    X, Y = problem(640, c=1)
    factor = submit_cholesky(X, kernel, reg=1e-3, client=client, tile_size=32)  # 210 tiles
    tiles = list(factor.tiles.values())
    deadline = time.monotonic() + 60
    while sum(f.done() for f in tiles) < 20 and time.monotonic() < deadline:
        time.sleep(0.005)
    holders = client.who_has(tiles)
    victim = max(client.scheduler_info(n_workers=-1)["workers"],
                 key=lambda w: sum(w in where for where in holders.values()))
    assert any(victim in where for where in holders.values())  # it held finished tiles
    done_at_kill = sum(f.done() for f in tiles)
    assert 0 < done_at_kill < len(tiles), "the kill must land mid-factorization"
    with contextlib.suppress(Exception):  # the worker dies before it can answer
        client.run(os._exit, 1, workers=[victim])
    with factor:
        factor.wait()
        alpha = factor.solve(Y)
    workers = client.scheduler_info(n_workers=-1)["workers"]
    assert victim not in workers  # the nanny started a fresh worker process
    np.testing.assert_allclose(alpha, reference(X, Y, kernel, 1e-3), rtol=1e-9,
                               atol=1e-9 * np.abs(alpha).max())
    client.wait_for_workers(2, timeout=60)
    undisturbed = exact_solve(X, Y, kernel, reg=1e-3, client=client, tile_size=32)
    np.testing.assert_array_equal(alpha, undisturbed)  # recomputed tiles: the same bits
