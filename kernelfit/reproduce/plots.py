"""PNG plots of a reproduction: test error and RKHS norm against training-set size.

Matplotlib's object-oriented API on the Agg canvas (as in
:mod:`kernelfit.nets.randomization_plots`). Each function takes the points to
draw, ``{label: [(n, value), ...]}``, and returns the path written.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_error_vs_n", "plot_norm_vs_n"]


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=150, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def _draw(ax, series: dict, paper: dict, notes: dict | None = None) -> None:
    """Measured lines, and the paper's figure as a star in the same colour; ``notes``
    (``{label: {n: text}}``) are written next to the points they belong to."""
    notes = notes or {}
    for (label, points), marker in zip(series.items(), "osd^v", strict=False):
        points = sorted(points)
        color = None
        if points:
            (line,) = ax.plot([n for n, _ in points], [v for _, v in points], marker=marker,
                              linewidth=1.6, label=f"measured: {label}")
            color = line.get_color()
        for n, value in points:
            if n in notes.get(label, {}):
                ax.annotate(notes[label][n], (n, value), xytext=(4, -11),
                            textcoords="offset points", fontsize=7.5, color=color)
        if label in paper:
            n, value = paper[label]
            ax.plot([n], [value], marker="*", markersize=13, linestyle="none", color=color,
                    markeredgecolor="black", label=f"paper: {label}")
    if any(series.values()) or paper:
        ax.legend(fontsize=9)


def _save(fig, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def plot_error_vs_n(series: dict, path, *, title: str, paper: dict | None = None) -> Path:
    """Test error (%) of the exact interpolant against n, log-log.

    Parameters
    ----------
    series : dict of str to list of (int, float)
        Label -> (training-set size, test error as a fraction).
    path : str or os.PathLike
    title : str
    paper : dict of str to (int, float), optional
        Label -> the paper's (n, test error), drawn as stars.
    """
    fig, ax = _figure()
    _draw(ax, {k: [(n, 100 * e) for n, e in v] for k, v in series.items()},
          {k: (n, 100 * e) for k, (n, e) in (paper or {}).items()})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training images n (log scale)", fontsize=11)
    ax.set_ylabel("test error (%, log scale)", fontsize=11)
    ax.set_title(title, fontsize=11)
    return _save(fig, path)


def plot_norm_vs_n(series: dict, path, *, title: str, paper: dict | None = None,
                   notes: dict | None = None, caption: str | None = None) -> Path:
    """RKHS norm ``sqrt(sum_c alpha_c^T K alpha_c)`` of the interpolant against n.

    Parameters
    ----------
    series : dict of str to list of (int, float)
        Label -> (training-set size, RKHS norm).
    path : str or os.PathLike
    title : str
    paper : dict of str to (int, float), optional
        Label -> the paper's (n, norm), drawn as stars.
    notes : dict of str to dict of int to str, optional
        Label -> {n: text} written beside that point (e.g. each point's bandwidth
        when it differs from point to point, as the norms then live in different RKHSs).
    caption : str, optional
        A line under the title saying what the notes mean.
    """
    fig, ax = _figure()
    _draw(ax, series, paper or {}, notes)
    if caption:
        title = f"{title}\n{caption}"
    ax.set_xscale("log")
    ax.set_yscale("log")  # feature-map norms run orders of magnitude above pixel ones
    ax.set_xlabel("training images n (log scale)", fontsize=11)
    ax.set_ylabel(r"RKHS norm $\sqrt{\sum_c \alpha_c^\top K \alpha_c}$ (log scale)",
                  fontsize=11)
    ax.set_title(title, fontsize=11)
    return _save(fig, path)
