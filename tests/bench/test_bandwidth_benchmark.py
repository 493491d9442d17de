"""The held-out bandwidth benchmark (bench/bench_bandwidth.py) on tiny splits of the real data."""

import json

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics.pairwise import rbf_kernel

from kernelfit.datasets import as_float, load_mnist


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_bandwidth")


def test_split_is_disjoint_and_seeded(bench):
    fit, val = bench.split(1000, 700, 200, seed=3)
    assert len(fit) == 700 and len(val) == 200 and not set(fit) & set(val)
    again = bench.split(1000, 700, 200, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((fit, val), again, strict=True))
    with pytest.raises(ValueError, match="n_fit \\+ n_val = 1001 exceeds the 1000"):
        bench.split(1000, 801, 200, seed=0)


def test_rows_match_a_direct_solve_and_are_kept_between_runs(bench, tmp_path, capsys):
    out = tmp_path / "bw.json"
    argv = ["--sigmas", "4", "6", "--n-fit", "400", "--n-val", "100", "--dtype", "float64",
            "--out", str(out)]
    assert bench.main(argv) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["bandwidth"] for r in rows] == [4.0, 6.0]
    data = load_mnist()
    X = as_float(data.X_train).reshape(len(data.y_train), -1)
    fit, val = bench.split(len(data.y_train), 400, 100, 0)
    Y = np.eye(10)[data.y_train[fit]]
    for row in rows:
        gamma = 0.5 / row["bandwidth"] ** 2
        alpha = scipy.linalg.solve(rbf_kernel(X[fit], X[fit], gamma=gamma), Y, assume_a="pos")
        pred = np.argmax(rbf_kernel(X[val], X[fit], gamma=gamma) @ alpha, axis=1)
        assert row["val_errors"] == int(np.sum(pred != data.y_train[val]))
        assert row["dataset"] == "mnist"
    capsys.readouterr()
    assert bench.main(argv) == 0  # nothing recomputed: the same rows, the same table
    assert json.loads(out.read_text())["rows"] == rows
    assert "val errors" in capsys.readouterr().out
