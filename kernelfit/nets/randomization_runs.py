"""One randomization-test run: corrupt a data set, train a network on it, summarize.

The shared step of the Table 1 and Figure 1 experiments. The corruption and the
training use the same seed (in independent random streams).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .corruptions import corrupt
from .train import run_digest, train_model
from .training_records import TrainConfig

__all__ = ["RunSummary", "train_on_corruption"]


@dataclass
class RunSummary:
    """Outcome of training one network on one corrupted data set.

    Attributes
    ----------
    model : str
    corruption : str
        One of :data:`kernelfit.nets.corruptions.CORRUPTIONS`.
    p : float
        Label corruption probability (0 for the pixel corruptions).
    seed : int
    random_crop : bool
    weight_decay : float
    n_parameters : int
    train_accuracy, test_accuracy : float
        After the last epoch; training accuracy is on the (corrupted) labels
        trained on, test accuracy on the true test labels.
    convergence_step : int or None
        Steps until the training accuracy reached the target; None if it did not.
    epochs_run, steps_per_epoch : int
    seconds : float
        Wall time of the run (training and evaluation).
    epoch_seconds : list of float
        Wall time of each epoch (training and any evaluation after it).
    labels_changed_fraction : float
        Fraction of training labels whose value the corruption changed.
    step_loss : list of float
        Training loss at every step (kept for learning curves, else empty).
    """

    model: str
    corruption: str
    p: float
    seed: int
    random_crop: bool
    weight_decay: float
    n_parameters: int
    train_accuracy: float
    test_accuracy: float
    convergence_step: int | None
    epochs_run: int
    steps_per_epoch: int
    seconds: float
    epoch_seconds: list
    labels_changed_fraction: float
    step_loss: list = field(default_factory=list)

    @property
    def converged(self) -> bool:
        """True when the training accuracy reached the target."""
        return self.convergence_step is not None


def train_on_corruption(X_train, y_train, X_test, y_test, config: TrainConfig, *,
                        corruption: str = "true_labels", p: float | None = None,
                        seed: int = 0, keep_curve: bool = False,
                        checkpoint_dir=None, progress=None) -> RunSummary:
    """Corrupt the data with ``seed``, train ``config`` (its seed set to ``seed``), summarize.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The clean split (not modified).
    config : TrainConfig
        Training settings; ``seed`` is overridden.
    corruption : str, default "true_labels"
    p : float, optional
        For ``"partial_labels"``.
    seed : int, default 0
    keep_curve : bool, default False
        Keep the per-step training loss in the summary.
    checkpoint_dir : str or os.PathLike, optional
        Checkpoint the run there after every epoch, under a name made of its
        settings; an interrupted run called again resumes from it.
    progress : callable, optional

    Returns
    -------
    RunSummary
    """
    data = corrupt(corruption, X_train, y_train, X_test, y_test, p=p,
                   num_classes=config.num_classes, seed=seed)
    run_config = dataclasses.replace(config, seed=seed)
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = Path(checkpoint_dir) / (
            f"{config.model}-{corruption}-p{data.p:g}-seed{seed}-"
            f"{run_digest(run_config, data.X_train, data.y_train, data.X_test, data.y_test)}.pt"
        )
    result = train_model(data.X_train, data.y_train, data.X_test, data.y_test, run_config,
                         checkpoint_path=checkpoint, progress=progress)
    return RunSummary(
        model=config.model, corruption=corruption, p=data.p, seed=seed,
        random_crop=config.random_crop, weight_decay=config.weight_decay,
        n_parameters=result.n_parameters, train_accuracy=result.final_train_accuracy,
        test_accuracy=result.final_test_accuracy, convergence_step=result.convergence_step,
        epochs_run=len(result.epoch_seconds), steps_per_epoch=result.steps_per_epoch,
        seconds=result.seconds, epoch_seconds=list(result.epoch_seconds),
        labels_changed_fraction=float(data.labels_changed.mean()),
        step_loss=list(result.step_loss) if keep_curve else [],
    )
