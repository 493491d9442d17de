"""Table 1 of Zhang et al.: train and test accuracy with and without regularizers.

For each model: every combination of random-crop augmentation and weight decay
(crops only for AlexNet and Inception, as in the paper, and only where the
images are larger than the crop), plus a row fitting random labels with both
turned off.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..progress import phase
from ..tables import markdown_table
from .models import canonical_model_name
from .randomization_runs import RunSummary, train_on_corruption
from .training_records import TrainConfig

__all__ = ["DEFAULT_WEIGHT_DECAY", "Table1Result", "run_table1", "table1_settings"]

#: Weight-decay coefficient when weight decay is on (the paper does not state one).
DEFAULT_WEIGHT_DECAY = 5e-4

_HEADERS = ("Model", "# params", "Random crop", "Weight decay", "Labels",
            "Train accuracy (%)", "Test accuracy (%)", "Epochs", "Steps to fit")


def table1_settings(model: str, can_crop: bool = True) -> list[tuple[bool, bool, str]]:
    """The rows of Table 1 for ``model``: ``(random_crop, weight_decay, labels)`` triples.

    Parameters
    ----------
    model : str
        Model name; as in the paper, only AlexNet and Inception (with
        BatchNorm) get random-crop rows.
    can_crop : bool, default True
        False when the images are no larger than the crop (MNIST).
    """
    crops = (True, False) if can_crop and model in ("alexnet", "inception") else (False,)
    rows = [(crop, decay, "true") for crop in crops for decay in (True, False)]
    return [*rows, (False, False, "random")]


@dataclass
class Table1Result:
    """Rows of Table 1 (one :class:`RunSummary` each) and the settings behind them."""

    headers = _HEADERS  # column names of :meth:`table_rows` (a class attribute, not a field)

    dataset: dict
    config: dict
    weight_decay: float
    runs: list[RunSummary] = field(default_factory=list)

    def table_rows(self) -> list[list[str]]:
        """Formatted cells, in the column order of :meth:`to_markdown`."""
        rows = []
        for run in self.runs:
            rows.append([
                run.model, f"{run.n_parameters:,}", "yes" if run.random_crop else "no",
                "yes" if run.weight_decay else "no",
                "random" if run.corruption == "random_labels" else "true",
                f"{100 * run.train_accuracy:.2f}", f"{100 * run.test_accuracy:.2f}",
                str(run.epochs_run),
                "-" if run.convergence_step is None else str(run.convergence_step),
            ])
        return rows

    def to_markdown(self) -> str:
        """The table in Markdown, with a caption naming the data and the training budget."""
        name = self.dataset.get("display_name", self.dataset.get("name", "data"))
        caption = (f"Train and test accuracy on {name} ({self.dataset.get('n_train', '?')} "
                   f"training and {self.dataset.get('n_test', '?')} test images; at most "
                   f"{self.config.get('epochs')} epochs, stopping at "
                   f"{100 * self.config.get('target_accuracy', 1.0):g}% training accuracy; "
                   f"weight decay {self.weight_decay:g} when on).\n\n")
        return caption + markdown_table(_HEADERS, self.table_rows())

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"experiment": "table1", "dataset": self.dataset, "config": self.config,
                "weight_decay": self.weight_decay,
                "runs": [dataclasses.asdict(run) for run in self.runs]}


def run_table1(X_train, y_train, X_test, y_test, *, models=("mlp1x512", "mlp3x512"),
               config: TrainConfig | None = None, weight_decay: float = DEFAULT_WEIGHT_DECAY,
               seed: int = 0, dataset: dict | None = None, checkpoint_dir=None,
               progress=None) -> Table1Result:
    """Train every row of Table 1 for each model and collect train and test accuracy.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : ndarray
        The clean split: uint8 images ``(n, H, W[, C])`` and int labels.
    models : sequence of str, default ("mlp1x512", "mlp3x512")
    config : TrainConfig, optional
        Base settings (epochs, device, ...); ``model``, ``random_crop`` and
        ``weight_decay`` are set per row. By default training stops once the
        training accuracy reaches ``target_accuracy``.
    weight_decay : float, default 5e-4
        Coefficient used in the rows with weight decay.
    seed : int, default 0
    dataset : dict, optional
        Description of the data, copied into the result.
    checkpoint_dir : str or os.PathLike, optional
        Per-run checkpoints, so an interrupted table resumes.
    progress : callable, optional
        Receives a ``"table1"`` phase counted in runs and each run's ``"train"`` phase.

    Returns
    -------
    Table1Result
    """
    base = config if config is not None else TrainConfig(stop_at_target=True)
    if weight_decay <= 0:
        raise ValueError(f"weight_decay must be > 0 (it is the 'on' value); found {weight_decay}")
    models = [canonical_model_name(m) for m in models]
    can_crop = min(X_train.shape[1:3]) > base.crop_size
    plan = [(model, *row) for model in models for row in table1_settings(model, can_crop)]
    result = Table1Result(dict(dataset or {}), dataclasses.asdict(base), weight_decay)
    result.dataset.setdefault("n_train", len(y_train))
    result.dataset.setdefault("n_test", len(y_test))
    with phase(progress, "table1", total=len(plan), unit="runs") as bar:
        for model, crop, decay, labels in plan:
            run_config = dataclasses.replace(base, model=model, random_crop=crop,
                                             weight_decay=weight_decay if decay else 0.0)
            corruption = "random_labels" if labels == "random" else "true_labels"
            result.runs.append(train_on_corruption(
                X_train, y_train, X_test, y_test, run_config, corruption=corruption,
                seed=seed, checkpoint_dir=checkpoint_dir, progress=progress))
            bar.advance()
    return result
