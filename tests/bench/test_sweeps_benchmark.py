"""The sweep benchmark (bench/bench_sweeps.py): its references are right, its rows honest."""

import json

import numpy as np
import pytest
import scipy.linalg


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_sweeps")


def dense(storage):
    n = storage.n
    A = np.zeros((n, n))
    for i in range(storage.nt):
        for j in range(i + 1):
            A[storage.bounds(i), storage.bounds(j)] = storage.tile(i, j)
    return A


def test_the_references_equal_dense_numpy_and_scipy(bench, rng):
    K, L = bench.sweep_matrices(70, rng, tile_size=16)
    lower = dense(K)
    K_dense = np.tril(lower) + np.tril(lower, -1).T
    V = rng.standard_normal((70, 4))
    np.testing.assert_allclose(bench.numpy_product(K, V), K_dense @ V, rtol=1e-12, atol=1e-12)
    factor = np.tril(dense(L))
    R = rng.standard_normal((70, 4)).astype(np.float32)
    expected = scipy.linalg.cho_solve((factor.astype(np.float64), True), R.astype(np.float64))
    np.testing.assert_allclose(bench.numpy_correction(L, R), expected, rtol=1e-4, atol=1e-5)


def test_rows_and_json(bench, tmp_path, capsys):
    out = tmp_path / "sweeps.json"
    assert bench.main(["--n", "90", "--tile-size", "32", "--columns", "3", "--repeats", "2",
                       "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert [r["sweep"] for r in record["rows"]] == [
        "product, float64 K, BLAS", "product, float64 K, compiled",
        "correction, float32 L, BLAS", "correction, float32 L, compiled"]
    for row in record["rows"]:
        assert len(row["seconds"]["kernelfit"]) == len(row["seconds"]["reference"]) == 4
        best = min(row["seconds"]["kernelfit"])
        assert row["kernelfit_gbs"] == pytest.approx(row["gb"] / best)
        assert row["speedup"] == pytest.approx(min(row["seconds"]["reference"]) / best)
        assert row["max_relative_difference"] < 1e-4
    assert "speedup" in capsys.readouterr().out
