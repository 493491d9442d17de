"""The report's sweep plots say which points used which bandwidth (fake records)."""

import pytest

pytest.importorskip("matplotlib")

from kernelfit.experiments import ExperimentConfig
from kernelfit.reproduce import plots, report
from kernelfit.reproduce.plan import Step


@pytest.fixture
def drawn(saved_figures):
    """The figures the plot functions save."""
    return saved_figures(plots)


def sweep(gabor_sigmas):
    steps, records = [], {}
    for n, (pixels_sigma, gabor_sigma) in zip((500, 1000), gabor_sigmas, strict=True):
        for features, sigma, norm in (("none", pixels_sigma, 20.0), ("gabor", gabor_sigma,
                                                                       90.0)):
            name = f"sweep-{features}-{n}"
            steps.append(Step(name, name, "sweep", ExperimentConfig(
                dataset="mnist", features=features, n_train=n)))
            records[name] = {"n_train": n, "test_error": 0.1, "rkhs_norm": norm * n / 500,
                             "bandwidth": sigma}
    return steps, records


def test_gabor_points_with_their_own_bandwidths_are_annotated(tmp_path, drawn):
    steps, records = sweep([(5.25, 1234.5678), (5.25, 2049.0)])
    written = dict(report._sweep_plots(steps, records, tmp_path))
    norm_figure = drawn[1]
    ax = norm_figure.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == [r"$\sigma$=1235", r"$\sigma$=2049"]
    assert r"Gabor: $\sigma$ chosen on held-out data at each n" in ax.get_title()
    assert "| Gabor | 1,000 | 10.00% | 180.0 | 2049 |" in written["table"]
    assert "| pixels | 500 | 10.00% | 20.0 | 5.25 |" in written["table"]


def test_one_bandwidth_throughout_needs_no_note(tmp_path, drawn):
    steps, records = sweep([(5.25, 900.0), (5.25, 900.0)])
    report._sweep_plots(steps, records, tmp_path)
    ax = drawn[1].axes[0]
    assert len(ax.texts) == 0 and "held-out" not in ax.get_title()
