"""Figure 1's plots: every curve visible, and notes where the data cannot show the paper's
trend (fake results, no training; needs matplotlib only)."""

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from kernelfit.nets import randomization_plots as plots


@pytest.fixture
def drawn(saved_figures):
    """The figures the plot functions save."""
    return saved_figures(plots)


def fake_curves(corruptions, length=40):
    loss = np.linspace(2.3, 0.1, length).tolist()  # identical curves: the worst case
    runs = {c: [SimpleNamespace(step_loss=loss, steps_per_epoch=4)] for c in corruptions}
    return SimpleNamespace(by_corruption=lambda: runs, config={"batch_size": 32, "model": "mlp"},
                           dataset={"name": "toy", "n_train": 64})


def test_figure1a_curves_that_coincide_stay_distinguishable(tmp_path, drawn):
    corruptions = ["true_labels", "random_labels", "shuffled_pixels", "random_pixels",
                   "gaussian"]
    plots.plot_learning_curves(fake_curves(corruptions), tmp_path / "fig1a.png")
    lines = {line.get_label(): line for line in drawn[0].axes[0].get_lines()}
    styles = {(str(line.get_linestyle()), line.get_marker()) for line in lines.values()}
    assert len(styles) == len(corruptions)  # no two curves drawn alike
    marked = {tuple(line.get_markevery()) for line in lines.values()}
    assert len(marked) == len(corruptions)  # markers staggered: each curve's are seen
    top = max(lines.values(), key=lambda line: line.get_zorder())
    assert top.get_label() == "true labels"  # the reference curve is never hidden
    assert lines["shuffled pixels"].get_zorder() < lines["true labels"].get_zorder()


def fake_sweep(n_train, full_n_train):
    return SimpleNamespace(
        relative_convergence=lambda: {0.0: [1.0, 1.0], 0.5: [0.9, 1.1], 1.0: [1.0, 0.95]},
        config={"model": "mlp1x512"},
        dataset={"display_name": "CIFAR-10", "n_train": n_train, "full_n_train": full_n_train})


def texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def test_figure1b_on_a_subset_says_the_trend_need_not_show(tmp_path, drawn):
    plots.plot_convergence_time(fake_sweep(500, 50000), tmp_path / "fig1b.png")
    assert texts(drawn[0]) == ["Trained on 500 of the 50,000 training images:\nthe paper's "
                               "slowdown with p need not show at this size."]
    plots.plot_convergence_time(fake_sweep(50000, 50000), tmp_path / "full.png")
    assert texts(drawn[1]) == []
