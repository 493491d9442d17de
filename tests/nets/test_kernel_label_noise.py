"""The kernel counterpart: exact interpolation of corrupted labels."""

from __future__ import annotations

import numpy as np
import pytest

from kernelfit.nets.kernel_label_noise import run_kernel_label_noise


@pytest.fixture(scope="module")
def clustered():
    """Ten well-separated classes of 8x8 grey images."""
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 256, size=(10, 8, 8))

    def draw(n):
        y = rng.integers(0, 10, n)
        X = np.clip(centres[y] + rng.normal(0, 20, size=(n, 8, 8)), 0, 255).astype(np.uint8)
        return X, y

    return (*draw(200), *draw(100))


def test_zero_training_error_at_every_level(clustered):
    sweep = run_kernel_label_noise(*clustered, ps=(0.0, 0.5, 1.0), seeds=(0, 1),
                                   bandwidth=2.0, device="cpu", dataset={"name": "toy"})
    assert len(sweep.runs) == 6
    assert all(run.train_error == 0.0 for run in sweep.runs)
    norms = sweep.by_level("rkhs_norm")
    errors = sweep.by_level("test_error")
    # Structure in the labels keeps the interpolant smooth; noise makes it rough.
    assert np.mean(norms[0.0]) < np.mean(norms[0.5]) < np.mean(norms[1.0])
    assert np.mean(errors[0.0]) < 0.1 < 0.6 < np.mean(errors[1.0])
    assert all(run.labels_changed_fraction == 0 for run in sweep.runs if run.p == 0)
    assert "RKHS norm" in sweep.to_markdown()
    assert sweep.to_dict()["kernel"]["bandwidth"] == 2.0


def test_plot(clustered, tmp_path):
    pytest.importorskip("matplotlib")
    from kernelfit.nets.randomization_plots import plot_kernel_label_noise

    sweep = run_kernel_label_noise(*clustered, ps=(0.0, 1.0), bandwidth=2.0, device="cpu")
    path = plot_kernel_label_noise(sweep, tmp_path / "kernel.png")
    assert path.stat().st_size > 10_000


def test_bad_input(clustered):
    X_train, y_train, X_test, y_test = clustered
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        run_kernel_label_noise(X_train, y_train, X_test, y_test, ps=(-0.5,))
    with pytest.raises(ValueError, match="differ in size"):
        run_kernel_label_noise(X_train, y_train, X_test[:, :4], y_test)
    with pytest.raises(ValueError, match="differ in number"):
        run_kernel_label_noise(X_train, y_train, X_test, y_test[:-1])


def test_shared_factorization_matches_separate_fits(clustered):
    """Stacking every run's labels as right-hand sides gives each run's own fit."""
    from kernelfit import KernelClassifier
    from kernelfit.nets.corruptions import corrupt_labels

    X_train, y_train, X_test, y_test = clustered
    sweep = run_kernel_label_noise(X_train, y_train, X_test, y_test, ps=(0.3,), seeds=(4,),
                                   bandwidth=2.0, device="cpu")
    labels = corrupt_labels(y_train, 0.3, 10, 4).labels
    F = X_train.reshape(len(X_train), -1) / 255.0
    model = KernelClassifier(bandwidth=2.0, device="cpu").fit(F, labels)
    run = sweep.runs[0]
    assert run.rkhs_norm == pytest.approx(model.rkhs_norm_, rel=1e-8)
    expected = np.mean(model.predict(X_test.reshape(len(X_test), -1) / 255.0) != y_test)
    assert run.test_error == pytest.approx(expected)
