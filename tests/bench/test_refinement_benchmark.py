"""The refinement benchmark (bench/bench_refinement.py): its CG is right, its counts honest."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_refinement")


def test_cg_with_an_exact_preconditioner_solves_in_one_step(bench, rng):
    M = rng.standard_normal((40, 40))
    A = M @ M.T + 40 * np.eye(40)
    Y = rng.standard_normal((40, 3))
    solve = np.linalg.inv(A)
    history, products = bench.conjugate_gradients(lambda V: A @ V, lambda R: solve @ R, Y,
                                                   tol=1e-12)
    assert history[0] < 1e-12 and len(history) == 1 and products == 2


def test_cg_without_a_preconditioner_converges_like_cg(bench, rng):
    """Identity preconditioner: plain CG, which solves an SPD system of order 30 to
    round-off within 30 steps and whose residuals agree with NumPy's solve."""
    M = rng.standard_normal((30, 30))
    A = M @ M.T / 30 + np.eye(30)
    Y = rng.standard_normal((30, 2))
    history, products = bench.conjugate_gradients(lambda V: A @ V, lambda R: R.copy(), Y,
                                                   tol=1e-10, max_steps=30)
    assert history[-1] <= 1e-10 < history[0]
    assert products == len(history) + 1  # one per step and one for the final check
    assert bench._first_below(history, 1e-10, final=1) == len(history) + 1


def test_rows_on_a_small_mnist_subset(bench, tmp_path):
    from kernelfit.datasets.errors import DatasetNotFoundError

    try:
        bench.load_mnist(download=False)
    except DatasetNotFoundError as error:
        pytest.skip(f"MNIST not found: {error}")
    out = tmp_path / "refinement.json"
    assert bench.main(["--n", "700", "--out", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    for name in ("iterative_refinement", "cg"):
        residuals = row[name]["residuals"]
        assert residuals[0] < 1e-2 and min(residuals) < 1e-11  # both refine to float64 level
    ir = row["iterative_refinement"]
    assert ir["products"] == len(ir["residuals"])
