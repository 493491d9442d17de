"""PNG plots of the randomization experiments, with error bands over seeds.

Matplotlib is imported when a plot is drawn, through its object-oriented API on
the Agg canvas (no pyplot, no global backend switch). Each function returns the
path written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "plot_convergence_time",
    "plot_kernel_label_noise",
    "plot_learning_curves",
    "plot_test_error",
]

_LABELS = {
    "true_labels": "true labels",
    "random_labels": "random labels",
    "shuffled_pixels": "shuffled pixels",
    "random_pixels": "random pixels",
    "gaussian": "Gaussian",
    "partial_labels": "corrupted labels",
}


#: Line style, marker and drawing order of each corruption in Figure 1a: curves that
#: coincide (true labels and shuffled pixels fit alike) stay distinguishable, and the
#: reference curve, true labels, is drawn on top.
_STYLES = {
    "true_labels": {"linestyle": "-", "marker": "o", "zorder": 6},
    "shuffled_pixels": {"linestyle": "--", "marker": "s", "zorder": 5},
    "random_pixels": {"linestyle": "-.", "marker": "^", "zorder": 4},
    "random_labels": {"linestyle": ":", "marker": "D", "zorder": 3},
    "gaussian": {"linestyle": (0, (5, 1, 1, 1)), "marker": "v", "zorder": 2},
    "partial_labels": {"linestyle": (0, (1, 3)), "marker": "x", "zorder": 1},
}


def _figure(ncols: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4 * ncols, 4.4), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=10)
    return fig, axes


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def _seeds_title(n_seeds: int) -> str:
    return f"mean ± s.d. over {n_seeds} seeds" if n_seeds > 1 else "one seed"


def _band(ax, x, values, label: str, marker=None, **style):
    """Mean line and a mean ± one standard deviation band over the rows of ``values``;
    ``style`` goes to the line (linestyle, zorder, markevery). Returns the line."""
    values = np.asarray(values, dtype=float)
    mean, std = values.mean(axis=0), values.std(axis=0)
    (line,) = ax.plot(x, mean, label=label, marker=marker, linewidth=1.6, **style)
    if values.shape[0] > 1:
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.2,
                        linewidth=0, zorder=style.get("zorder", 1) - 0.5)
    return line


def _smooth(values, window: int) -> np.ndarray:
    """Trailing moving average (shorter windows at the start)."""
    values = np.asarray(values, dtype=float)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(0, ends - window)
    return (sums[ends] - sums[starts]) / (ends - starts)


def _title(result, what: str) -> str:
    data = result.dataset.get("display_name", result.dataset.get("name", ""))
    n = result.dataset.get("n_train")
    size = f", {n:,} training images" if isinstance(n, int) else ""
    return f"{what}\n{result.config.get('model', '')} on {data}{size}"


def plot_learning_curves(curves, path) -> Path:
    """Figure 1a: training loss against steps, one band per corruption.

    Parameters
    ----------
    curves : kernelfit.nets.figure1.LearningCurves
    path : str or os.PathLike
        PNG file to write.
    """
    fig, (ax,) = _figure()
    n_seeds, window = 0, 1
    for corruption, runs in curves.by_corruption().items():
        n_seeds = max(n_seeds, len(runs))
        length = min(len(run.step_loss) for run in runs)
        if length == 0:
            continue
        window = max(1, min(runs[0].steps_per_epoch, length // 20))
        smoothed = [_smooth(run.step_loss[:length], window) for run in runs]
        style = dict(_STYLES.get(corruption, {}))
        # markers staggered along x, so that coinciding curves still show each marker
        every = max(len(_STYLES), length // 8)
        order = list(_STYLES).index(corruption) if corruption in _STYLES else 0
        _band(ax, np.arange(1, length + 1), smoothed, _LABELS.get(corruption, corruption),
              markevery=(order * every // len(_STYLES), every), markersize=5, **style)
    batch = curves.config.get("batch_size", 128)
    ax.set_xlabel(f"training steps (minibatches of {batch} images)", fontsize=11)
    ax.set_ylabel("training loss (cross-entropy, nats)", fontsize=11)
    ax.set_ylim(bottom=0)
    title = _title(curves, "Fitting corrupted data")
    if window > 1:
        title += f"\nloss: running mean over {window} steps"
    ax.set_title(title, fontsize=11)
    ax.legend(fontsize=10, title=_seeds_title(n_seeds), title_fontsize=9)
    return _save(fig, path)


def _per_level(by_level: dict) -> tuple[np.ndarray, list]:
    levels = sorted(p for p, values in by_level.items() if values)
    width = min(len(by_level[p]) for p in levels) if levels else 0
    return np.array(levels), [[by_level[p][i] for p in levels] for i in range(width)]


def plot_convergence_time(sweep, path) -> Path:
    """Figure 1b: steps to fit the training set, relative to true labels, against ``p``.

    Parameters
    ----------
    sweep : kernelfit.nets.figure1.LabelNoiseSweep
    path : str or os.PathLike
    """
    fig, (ax,) = _figure()
    levels, rows = _per_level(sweep.relative_convergence())
    if rows:
        _band(ax, levels, rows, sweep.config.get("model", "network"), marker="o")
        ax.legend(fontsize=10, title=_seeds_title(len(rows)), title_fontsize=9)
    ax.set_xlabel("label corruption probability p", fontsize=11)
    ax.set_ylabel("steps to fit, relative to p = 0 (ratio)", fontsize=11)
    ax.set_xlim(-0.03, 1.03)
    ax.set_title(_title(sweep, "Convergence slowdown"), fontsize=11)
    note = subset_note(sweep.dataset)
    if note:
        ax.text(0.02, 0.97, note, transform=ax.transAxes, fontsize=8.5, va="top",
                ha="left", bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})
    return _save(fig, path)


def subset_note(dataset: dict) -> str | None:
    """What a convergence plot on a training subset cannot show; None on the full set."""
    n, full = dataset.get("n_train"), dataset.get("full_n_train")
    if not (isinstance(n, int) and isinstance(full, int) and 0 < n < full):
        return None
    return (f"Trained on {n:,} of the {full:,} training images:\nthe paper's slowdown "
            "with p need not show at this size.")


def plot_test_error(sweep, path, num_classes: int = 10) -> Path:
    """Figure 1c: test error after fitting against ``p``, with the chance level.

    Parameters
    ----------
    sweep : kernelfit.nets.figure1.LabelNoiseSweep
    path : str or os.PathLike
    num_classes : int, default 10
        Sets the dashed random-guessing line at ``100 (1 - 1/num_classes)`` %.
    """
    fig, (ax,) = _figure()
    levels, rows = _per_level(sweep.test_errors())
    if rows:
        _band(ax, levels, 100 * np.asarray(rows), sweep.config.get("model", "network"),
              marker="o")
    ax.axhline(100 * (1 - 1 / num_classes), color="gray", linestyle="--", linewidth=1,
               label="random guessing")
    ax.set_xlabel("label corruption probability p", fontsize=11)
    ax.set_ylabel("test error (%)", fontsize=11)
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(0, 100)
    ax.set_title(_title(sweep, "Generalization error"), fontsize=11)
    ax.legend(fontsize=10, title=_seeds_title(len(rows)), title_fontsize=9)
    return _save(fig, path)


def plot_kernel_label_noise(sweep, path, num_classes: int = 10) -> Path:
    """RKHS norm of the minimum-norm interpolant and its test error against ``p``.

    Parameters
    ----------
    sweep : kernelfit.nets.kernel_label_noise.KernelNoiseSweep
    path : str or os.PathLike
    num_classes : int, default 10
    """
    fig, (left, right) = _figure(ncols=2)
    levels, norms = _per_level(sweep.by_level("rkhs_norm"))
    if norms:
        _band(left, levels, norms, sweep.describe_kernel(), marker="o")
        left.legend(fontsize=10, title=_seeds_title(len(norms)), title_fontsize=9)
    left.set_xlabel("label corruption probability p", fontsize=11)
    left.set_ylabel(r"RKHS norm of the interpolant, $\sqrt{\alpha^\top K \alpha}$", fontsize=11)
    levels, errors = _per_level(sweep.by_level("test_error"))
    if errors:
        _band(right, levels, 100 * np.asarray(errors), sweep.describe_kernel(), marker="o")
    right.axhline(100 * (1 - 1 / num_classes), color="gray", linestyle="--", linewidth=1,
                  label="random guessing")
    right.set_xlabel("label corruption probability p", fontsize=11)
    right.set_ylabel("test error (%)", fontsize=11)
    right.set_ylim(0, 100)
    right.legend(fontsize=10)
    data = sweep.dataset.get("display_name", sweep.dataset.get("name", ""))
    n = sweep.dataset.get("n_train")
    size = f", {n:,} training images" if isinstance(n, int) else ""
    fig.suptitle(f"Exact kernel interpolation of corrupted labels\n{data}{size}", fontsize=11)
    for ax in (left, right):
        ax.set_xlim(-0.03, 1.03)
    return _save(fig, path)
