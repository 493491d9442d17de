"""The distributed tiled Cholesky against SciPy, on a two-worker LocalCluster."""

import numpy as np
import pytest

pytest.importorskip("distributed")

from kernelfit.backend import NotPositiveDefiniteError
from kernelfit.distributed import cholesky_factor, exact_solve, transfer_totals
from kernelfit.distributed.factorization import factor_graph
from kernelfit.distributed.metrics import transfer_delta
from kernelfit.distributed.placement import block_cyclic_owner, process_grid
from kernelfit.kernels import make_kernel
from kernelfit.linalg import cholesky_graph
from kernelfit.memory import MemoryBudgetError

KERNEL = make_kernel("gaussian", bandwidth=2.0)


def test_graph_follows_the_sequential_op_list():
    nt, b, n = 4, 10, 35
    graph, final = factor_graph("t", nt, lambda i: slice(i * b, min((i + 1) * b, n)), "tok",
                                KERNEL, np.float64, 0.5)
    ops = cholesky_graph(nt)
    assert len(graph) == nt * (nt + 1) // 2 + len(ops)
    for (i, j), key in final.items():  # tile (i, j) is written once per op on it
        assert key == ("t", i, j, sum(op.writes == (i, j) for op in ops))
    potrf = graph[("t", 2, 2, 3)]  # diagonal tile 2: two syrk updates, then potrf
    assert potrf[0].__name__ == "potrf_tile" and potrf[1] == ("t", 2, 2, 2)
    assert potrf[2:] == (20, 2, nt)
    gemm = graph[("t", 3, 2, 2)]  # A_32 -= L_30 L_20^T, then -= L_31 L_21^T
    assert gemm[1:] == (("t", 3, 2, 1), ("t", 3, 1, 2), ("t", 2, 1, 2))
    assert graph[("t", 1, 1, 0)][-1] == 0.5 and graph[("t", 1, 0, 0)][-1] == 0.0


@pytest.mark.parametrize(("n", "tile", "c"), [(300, 64, 2), (200, 32, 1)])
def test_exact_matches_cho_solve(client, problem, reference, n, tile, c):
    X, Y = problem(n, c=c)
    Y = Y[:, 0] if c == 1 else Y
    alpha = exact_solve(X, Y, KERNEL, reg=1e-3, client=client, tile_size=tile)
    assert alpha.shape == Y.shape
    np.testing.assert_allclose(alpha, reference(X, Y, KERNEL, 1e-3), rtol=1e-9,
                               atol=1e-9 * np.abs(alpha).max())


def test_float32_tiles_match_to_single_precision(client, problem, reference):
    X, Y = problem(256, d=3)
    kernel = make_kernel("laplacian", bandwidth=3.0)
    alpha = exact_solve(X, Y, kernel, reg=1e-1, client=client, tile_size=64, dtype=np.float32)
    ref = reference(X.astype(np.float32).astype(np.float64), Y, kernel, 1e-1)
    assert np.abs(alpha - ref).max() < 1e-4 * np.abs(ref).max()


def test_block_cyclic_owners():
    assert [process_grid(w) for w in (1, 2, 4, 6, 7, 16)] == [
        (1, 1), (1, 2), (2, 2), (2, 3), (1, 7), (4, 4)]
    owner = block_cyclic_owner(["d", "b", "c", "a"])  # a 2 x 2 grid of sorted names
    assert [owner(("tile-x", i, j, 0))[0] for i, j in [(0, 0), (1, 0), (1, 1), (2, 1), (3, 2)]] \
        == ["a", "c", "d", "b", "c"]
    with pytest.raises(ValueError, match="at least one worker; found 0"):
        process_grid(0)


def test_factor_stays_on_workers_and_releases(client, problem):
    X, Y = problem(160)
    before = transfer_totals(client)
    events = []
    with cholesky_factor(X, KERNEL, reg=1e-2, client=client, tile_size=32,
                         progress=events.append) as factor:
        assert events[-1].phase == "cholesky" and events[-1].done == 15
        assert factor.nt == 5 and len(factor.tiles) == 15
        assert factor.nbytes == 15 * 32 * 32 * 8
        assert factor.task_count == 15 + len(cholesky_graph(5))
        a1 = factor.solve(Y[:, 0], progress=events.append)
        a2 = factor.solve(Y)
        assert events[-1].phase == "solve" and events[-1].finished
    np.testing.assert_allclose(a1, a2[:, 0], rtol=1e-12)
    assert factor.tiles == {}
    moved = transfer_delta(before, transfer_totals(client))
    # 1 x 2 grid: each factor tile crosses about once, plus the solves' small blocks
    assert 0 < moved["sent_bytes"] < 2 * 15 * 32 * 32 * 8
    has_data = client.run(lambda: __import__("kernelfit.distributed.data").distributed.data
                          ._REPLICAS.copy())
    assert all(not replicas for replicas in has_data.values())


def test_not_positive_definite_is_raised_with_its_tile(client):
    X = np.eye(96, 97, k=1)
    X[50] = np.eye(1, 97)[0]  # an indefinite metric makes K[50, 50] = -0.5, the rest I
    indefinite = make_kernel(lambda A, B: A @ B.T - 1.5 * (A[:, :1] @ B[:, :1].T))
    with pytest.raises(NotPositiveDefiniteError, match=r"pivot 50 .*tile 1 of 3"):
        exact_solve(X, np.ones(96), indefinite, client=client, tile_size=32)


def test_tile_too_large_for_the_workers_is_refused_before_submitting(client):
    X = np.zeros((8000, 1))
    with pytest.raises(MemoryBudgetError) as info:
        cholesky_factor(X, KERNEL, client=client, tile_size=8000)
    message = str(info.value)
    assert f"{2**30:,} bytes" in message  # the workers' memory_limit
    assert "8000 x 8000" in message and "needs" in message


def test_same_answer_bit_for_bit_on_one_and_two_workers(client, problem, cluster_factory):
    X, Y = problem(200)
    two = exact_solve(X, Y, KERNEL, reg=1e-3, client=client, tile_size=32)
    one = exact_solve(X, Y, KERNEL, reg=1e-3, client=cluster_factory(1), tile_size=32)
    np.testing.assert_array_equal(one, two)
    unpinned = cholesky_factor(X, KERNEL, reg=1e-3, client=client, tile_size=32,
                               placement="scheduler")
    with unpinned:
        np.testing.assert_array_equal(unpinned.solve(Y), two)


def test_data_from_a_npy_file_every_worker_reads(client, problem, reference, tmp_path):
    X, Y = problem(128)
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float32))
    alpha = exact_solve(str(path), Y, KERNEL, reg=1e-2, client=client, tile_size=64)
    ref = reference(X.astype(np.float32).astype(np.float64), Y, KERNEL, 1e-2)
    np.testing.assert_allclose(alpha, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
