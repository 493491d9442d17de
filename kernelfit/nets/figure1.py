"""Figure 1 of Zhang et al.: fitting random labels and random pixels.

(a) :func:`run_learning_curves`: training loss against steps for true labels,
random labels, shuffled pixels, random pixels and Gaussian images.
(b, c) :func:`run_label_noise`: convergence time relative to true labels, and
test error, against the label corruption probability ``p``.

Every setting is run for several seeds so the plots can show error bands
(:mod:`kernelfit.nets.figure1_plots`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from ..progress import phase
from ..tables import markdown_table
from .corruptions import check_probability
from .randomization_runs import RunSummary, train_on_corruption
from .training_records import TrainConfig

__all__ = [
    "DEFAULT_PS",
    "FIGURE1A_CORRUPTIONS",
    "LabelNoiseSweep",
    "LearningCurves",
    "run_label_noise",
    "run_learning_curves",
]

FIGURE1A_CORRUPTIONS = (
    "true_labels", "random_labels", "shuffled_pixels", "random_pixels", "gaussian",
)
DEFAULT_PS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class LearningCurves:
    """Per-step training losses of each corruption and seed (Figure 1a)."""

    dataset: dict
    config: dict
    runs: list[RunSummary] = field(default_factory=list)

    def by_corruption(self) -> dict[str, list[RunSummary]]:
        """Runs grouped by corruption, in the order they were run."""
        groups: dict[str, list[RunSummary]] = {}
        for run in self.runs:
            groups.setdefault(run.corruption, []).append(run)
        return groups

    def to_dict(self) -> dict:
        """JSON-ready dict (with the per-step losses)."""
        return {"experiment": "learning_curves", "dataset": self.dataset, "config": self.config,
                "runs": [dataclasses.asdict(run) for run in self.runs]}


@dataclass
class LabelNoiseSweep:
    """Convergence time and test error at each corruption level (Figures 1b and 1c)."""

    dataset: dict
    config: dict
    runs: list[RunSummary] = field(default_factory=list)

    def levels(self) -> list[float]:
        """The corruption probabilities, sorted."""
        return sorted({run.p for run in self.runs})

    def relative_convergence(self) -> dict[float, list[float]]:
        """Steps to fit at each ``p`` divided by those of ``p = 0`` with the same seed.

        Runs that did not reach the target (and seeds without a converged
        ``p = 0`` run) are left out.
        """
        base = {r.seed: r.convergence_step for r in self.runs if r.p == 0.0 and r.converged}
        out: dict[float, list[float]] = {p: [] for p in self.levels()}
        for run in self.runs:
            if run.converged and base.get(run.seed):
                out[run.p].append(run.convergence_step / base[run.seed])
        return out

    def test_errors(self) -> dict[float, list[float]]:
        """Test error (fraction) of every seed at each ``p``."""
        out: dict[float, list[float]] = {p: [] for p in self.levels()}
        for run in self.runs:
            out[run.p].append(1.0 - run.test_accuracy)
        return out

    def to_markdown(self) -> str:
        """Mean and standard deviation over seeds at each ``p``."""
        relative, errors = self.relative_convergence(), self.test_errors()
        rows = []
        for p in self.levels():
            runs = [r for r in self.runs if r.p == p]
            rel = relative[p]
            rows.append([
                f"{p:g}", f"{len([r for r in runs if r.converged])}/{len(runs)}",
                f"{np.mean([r.labels_changed_fraction for r in runs]):.3f}",
                f"{np.mean(rel):.2f} ± {np.std(rel):.2f}" if rel else "-",
                f"{100 * np.mean(errors[p]):.2f} ± {100 * np.std(errors[p]):.2f}",
            ])
        headers = ("p", "Converged", "Labels changed", "Relative convergence time",
                   "Test error (%)")
        return markdown_table(headers, rows)

    def to_dict(self) -> dict:
        """JSON-ready dict, with the per-level aggregates."""
        return {"experiment": "label_noise", "dataset": self.dataset, "config": self.config,
                "relative_convergence": self.relative_convergence(),
                "test_errors": self.test_errors(),
                "runs": [dataclasses.asdict(run) for run in self.runs]}


def _check_seeds(seeds) -> tuple[int, ...]:
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, (int, np.integer)) for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of integers; found {seeds!r}")
    return seeds


def run_learning_curves(X_train, y_train, X_test, y_test, *,
                        corruptions=FIGURE1A_CORRUPTIONS, p: float | None = None,
                        seeds=(0, 1, 2), config: TrainConfig | None = None,
                        dataset: dict | None = None, checkpoint_dir=None,
                        progress=None) -> LearningCurves:
    """Train on each corruption with each seed for a fixed number of epochs (Figure 1a).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The clean split.
    corruptions : sequence of str, default :data:`FIGURE1A_CORRUPTIONS`
    p : float, optional
        Corruption probability, for ``"partial_labels"`` among ``corruptions``.
    seeds : sequence of int, default (0, 1, 2)
    config : TrainConfig, optional
        Training settings; all runs train for ``config.epochs`` epochs unless
        ``config.stop_at_target`` is set.
    dataset : dict, optional
        Description of the data, copied into the result.
    checkpoint_dir : str or os.PathLike, optional
        Per-run checkpoints, so an interrupted sweep resumes.
    progress : callable, optional
        Receives a ``"curves"`` phase counted in runs and each run's ``"train"`` phase.

    Returns
    -------
    LearningCurves
    """
    config = config if config is not None else TrainConfig()
    seeds = _check_seeds(seeds)
    result = LearningCurves(dict(dataset or {}), dataclasses.asdict(config))
    with phase(progress, "curves", total=len(corruptions) * len(seeds), unit="runs") as bar:
        for corruption in corruptions:
            for seed in seeds:
                result.runs.append(train_on_corruption(
                    X_train, y_train, X_test, y_test, config, corruption=corruption, p=p,
                    seed=seed, keep_curve=True, checkpoint_dir=checkpoint_dir,
                    progress=progress))
                bar.advance()
    return result


def run_label_noise(X_train, y_train, X_test, y_test, *, ps=DEFAULT_PS, seeds=(0, 1, 2),
                    config: TrainConfig | None = None, dataset: dict | None = None,
                    checkpoint_dir=None, progress=None) -> LabelNoiseSweep:
    """Train until the training set is fitted at each corruption level (Figures 1b, 1c).

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The clean split.
    ps : sequence of float, default (0, 0.2, 0.4, 0.6, 0.8, 1)
        Label corruption probabilities, each in [0, 1]; include 0 so
        convergence times can be taken relative to it.
    seeds : sequence of int, default (0, 1, 2)
    config : TrainConfig, optional
        Training settings; ``config.epochs`` is the budget per run. Training
        stops at ``target_accuracy`` (``stop_at_target`` is forced on).
    dataset : dict, optional
    checkpoint_dir : str or os.PathLike, optional
    progress : callable, optional
        Receives a ``"label noise"`` phase counted in runs and each run's ``"train"`` phase.

    Returns
    -------
    LabelNoiseSweep
    """
    levels = tuple(check_probability(p) for p in ps)
    if not levels:
        raise ValueError("ps must hold at least one corruption probability; found none")
    seeds = _check_seeds(seeds)
    config = dataclasses.replace(config if config is not None else TrainConfig(),
                                 stop_at_target=True)
    result = LabelNoiseSweep(dict(dataset or {}), dataclasses.asdict(config))
    with phase(progress, "label noise", total=len(levels) * len(seeds), unit="runs") as bar:
        for p in levels:
            for seed in seeds:
                result.runs.append(train_on_corruption(
                    X_train, y_train, X_test, y_test, config, corruption="partial_labels",
                    p=p, seed=seed, checkpoint_dir=checkpoint_dir, progress=progress))
                bar.advance()
    return result
