"""Table 1 and Figure 1 experiments on tiny synthetic data, with their files and plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from kernelfit.nets.experiment_data import balanced_subset
from kernelfit.nets.figure1 import run_label_noise, run_learning_curves
from kernelfit.nets.randomization_plots import (
    plot_convergence_time,
    plot_learning_curves,
    plot_test_error,
)
from kernelfit.nets.table1 import run_table1, table1_settings
from kernelfit.nets.train import TrainConfig
from kernelfit.results_io import write_json

pytestmark = pytest.mark.nets


@pytest.fixture(scope="module")
def split():
    """Class-dependent 30x30 colour images: learnable, and croppable to 28x28."""
    rng = np.random.default_rng(0)
    means = rng.integers(40, 215, size=(10, 1, 1, 3))

    def draw(n):
        y = rng.integers(0, 10, n)
        X = np.clip(means[y] + rng.normal(0, 40, size=(n, 30, 30, 3)), 0, 255)
        return X.astype(np.uint8), y

    return (*draw(64), *draw(40))


def test_table1_settings_follow_the_paper():
    assert table1_settings("alexnet") == [
        (True, True, "true"), (True, False, "true"), (False, True, "true"),
        (False, False, "true"), (False, False, "random")]
    assert table1_settings("mlp1x512") == [
        (False, True, "true"), (False, False, "true"), (False, False, "random")]
    assert table1_settings("alexnet", can_crop=False)[0] == (False, True, "true")
    assert len(table1_settings("inception")) == 5
    assert len(table1_settings("inception_nobn")) == 3


def test_table1_rows_and_files(split, tmp_path):
    config = TrainConfig(epochs=2, batch_size=32, device="cpu", stop_at_target=True)
    result = run_table1(*split, models=("mlp1x512",), config=config, dataset={"name": "toy"},
                        checkpoint_dir=tmp_path / "ckpt")
    assert [(r.weight_decay > 0, r.corruption) for r in result.runs] == [
        (True, "true_labels"), (False, "true_labels"), (False, "random_labels")]
    assert all(r.n_parameters == 1_209_866 for r in result.runs)
    markdown = result.to_markdown()
    assert "| mlp1x512 | 1,209,866 | no | yes | true |" in markdown
    path = write_json(result.to_dict(), tmp_path / "table1.json")
    assert json.loads(path.read_text())["runs"][2]["corruption"] == "random_labels"
    assert len(list((tmp_path / "ckpt").glob("*.pt"))) == 3


def test_learning_curves_and_plot(split, tmp_path):
    config = TrainConfig(epochs=2, batch_size=32, device="cpu")
    curves = run_learning_curves(*split, seeds=(0, 1), config=config)
    groups = curves.by_corruption()
    assert list(groups) == ["true_labels", "random_labels", "shuffled_pixels",
                            "random_pixels", "gaussian"]
    assert all(len(runs) == 2 and len(runs[0].step_loss) == 4 for runs in groups.values())
    png = plot_learning_curves(curves, tmp_path / "fig1a.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_label_noise_sweep_and_plots(split, tmp_path):
    config = TrainConfig(epochs=40, batch_size=32, device="cpu", lr_decay_steps=400)
    sweep = run_label_noise(*split, ps=(0.0, 1.0), seeds=(0, 1), config=config)
    assert sweep.levels() == [0.0, 1.0]
    assert sweep.config["stop_at_target"] is True
    relative = sweep.relative_convergence()
    assert relative[0.0] == [1.0, 1.0]
    assert all(r.train_accuracy >= 0.95 for r in sweep.runs)
    errors = sweep.test_errors()
    assert np.mean(errors[0.0]) < np.mean(errors[1.0])
    assert "Relative convergence time" in sweep.to_markdown()
    for plot, name in ((plot_convergence_time, "b"), (plot_test_error, "c")):
        assert plot(sweep, tmp_path / f"fig1{name}.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        run_label_noise(*split, ps=(0.0, 1.2), config=config)
    with pytest.raises(ValueError, match="seeds must be"):
        run_label_noise(*split, ps=(0.0,), seeds=(), config=config)


def test_balanced_subset():
    y = np.repeat(np.arange(10), [50, 40, 30, 30, 30, 30, 30, 30, 30, 3])
    idx = balanced_subset(y, 95, seed=1)
    assert len(set(idx)) == 95
    counts = np.bincount(y[idx], minlength=10)
    assert counts[9] == 3 and counts[:9].max() - counts[:9].min() <= 1
    np.testing.assert_array_equal(idx, balanced_subset(y, 95, seed=1))
    assert sorted(balanced_subset(y, None)) == list(range(len(y)))
    with pytest.raises(ValueError, match="positive integer"):
        balanced_subset(y, 0)
