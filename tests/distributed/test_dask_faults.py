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


@pytest.mark.parametrize("task", ["potrf", "trsm", "syrk", "gemm"])
def test_a_tile_task_never_changes_its_inputs(task):
    """A worker stores the object a task receives; a rerun after a worker loss reads it
    again, so an update in place would be applied twice."""
    import scipy.linalg

    from kernelfit.distributed.tile_tasks import TILE_TASKS

    rng = np.random.default_rng(2)
    B = rng.standard_normal((6, 6))
    spd = np.asfortranarray(B @ B.T + 6 * np.eye(6))
    factor = np.asfortranarray(scipy.linalg.cholesky(spd, lower=True))
    tile = np.asfortranarray(rng.standard_normal((6, 6)))
    args = {"potrf": (spd, 0, 0, 1), "trsm": (tile, factor), "syrk": (spd, tile),
            "gemm": (tile, factor, factor)}[task]
    before = [np.array(a) if isinstance(a, np.ndarray) else a for a in args]
    first = np.array(TILE_TASKS[task](*args))
    again = TILE_TASKS[task](*args)  # a rerun on the same stored inputs
    for arg, kept in zip(args, before, strict=True):
        if isinstance(arg, np.ndarray):
            np.testing.assert_array_equal(arg, kept)
    np.testing.assert_array_equal(again, first)
