"""Configuration and record of one training run (plain dataclasses, JSON-friendly)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

__all__ = ["TrainConfig", "TrainResult"]


@dataclass
class TrainConfig:
    """How to train; every field has the paper's default where the paper gives one.

    Attributes
    ----------
    model : str, default "mlp1x512"
        A name of :data:`kernelfit.nets.models.MODEL_NAMES`.
    epochs : int, default 10
        Maximum number of passes over the training set.
    batch_size : int, default 128
    learning_rate : float or None, default None
        Initial learning rate; None takes the paper's (0.1 Inception, 0.01 others).
    lr_decay : float, default 0.95
        Factor applied to the learning rate after every epoch.
    lr_decay_steps : int or None, default None
        Apply ``lr_decay`` every this many steps instead of every epoch. On a
        subset, the number of steps in one epoch of the full data set keeps the
        paper's schedule per step (391 for CIFAR-10, 469 for MNIST at batch 128);
        decaying per epoch of a small subset starves training.
    momentum : float, default 0.9
    weight_decay : float, default 0.0
        L2 penalty on the weights (not on biases); 0 turns it off.
    random_crop : bool, default False
        Random ``crop_size`` crops for training (central crops otherwise and at test time).
    dropout : float, default 0.0
    batchnorm : bool, default True
        Batch normalization in Inception (ignored by the other models).
    crop_size : int, default 28
    num_classes : int, default 10
    seed : int, default 0
        Seeds the initialization, the batch order, the crops and dropout.
    device : str, default "auto"
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    target_accuracy : float, default 1.0
        Training accuracy that counts as converged.
    stop_at_target : bool, default False
        Stop as soon as the target is reached.
    eval_every : int, default 1
        Evaluate train and test accuracy every this many epochs (and always
        after the last one); evaluation costs about a third of an epoch.
    eval_batch_size : int, default 1000
    recompute_bn_stats : bool, default True
        Before each evaluation, recompute the BatchNorm statistics of a copy of
        the network with one pass over the training images (central crops,
        a cumulative average), so that the evaluated network is the one that
        fitted the minibatches. The running averages of a short run lag far
        behind: a small Inception that fitted 256 CIFAR-10 images within 37 to
        92 steps read 34 to 97% on them with its running averages, and 99 to
        100% with recomputed statistics. Networks without BatchNorm are
        evaluated as they are.
    """

    model: str = "mlp1x512"
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float | None = None
    lr_decay: float = 0.95
    lr_decay_steps: int | None = None
    momentum: float = 0.9
    weight_decay: float = 0.0
    random_crop: bool = False
    dropout: float = 0.0
    batchnorm: bool = True
    crop_size: int = 28
    num_classes: int = 10
    seed: int = 0
    device: str = "auto"
    target_accuracy: float = 1.0
    stop_at_target: bool = False
    eval_every: int = 1
    eval_batch_size: int = 1000
    recompute_bn_stats: bool = True

    def validate(self) -> None:
        """Raise ValueError naming the first setting out of range."""
        for name in ("epochs", "batch_size", "crop_size", "eval_every", "eval_batch_size",
                     "num_classes", "lr_decay_steps"):
            value = getattr(self, name)
            if name == "lr_decay_steps" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; found {value!r}")
        checks = {
            "learning_rate": self.learning_rate is None or self.learning_rate > 0,
            "lr_decay": 0 < self.lr_decay <= 1,
            "momentum": 0 <= self.momentum < 1,
            "weight_decay": self.weight_decay >= 0,
            "dropout": 0 <= self.dropout < 1,
            "target_accuracy": 0 < self.target_accuracy <= 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{name} is out of range; found {getattr(self, name)!r}")


@dataclass
class TrainResult:
    """What happened during training (plain data; :meth:`to_dict` gives JSON).

    Attributes
    ----------
    config : dict
        The :class:`TrainConfig` as a dict, with ``learning_rate`` filled in.
    n_parameters, n_train, n_test, steps_per_epoch : int
    device : str
    step_loss, step_accuracy : list of float
        Minibatch cross-entropy and accuracy at every SGD step (training mode).
    eval_epochs : list of int
        Epochs (counted from 1) after which the accuracies below were measured.
    epoch_train_accuracy, epoch_test_accuracy : list of float
        Accuracy on the whole training set (on the labels trained on) and on
        the test set at each of ``eval_epochs`` (evaluation mode, central crops).
    epoch_learning_rate, epoch_seconds : list of float
    convergence_step : int or None
        First step at which the last epoch of minibatches reached ``target_accuracy``.
    seconds : float
        Wall time of training and evaluation.
    model : torch.nn.Module
        The trained network (not serialized).
    """

    config: dict
    n_parameters: int
    n_train: int
    n_test: int
    steps_per_epoch: int
    device: str
    step_loss: list = field(default_factory=list)
    step_accuracy: list = field(default_factory=list)
    eval_epochs: list = field(default_factory=list)
    epoch_train_accuracy: list = field(default_factory=list)
    epoch_test_accuracy: list = field(default_factory=list)
    epoch_learning_rate: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    convergence_step: int | None = None
    seconds: float = 0.0
    model: object = field(default=None, repr=False, compare=False)

    @property
    def final_train_accuracy(self) -> float:
        """Training accuracy after the last epoch (NaN before any epoch)."""
        return self.epoch_train_accuracy[-1] if self.epoch_train_accuracy else math.nan

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy after the last epoch (NaN without a test set)."""
        return self.epoch_test_accuracy[-1] if self.epoch_test_accuracy else math.nan

    def to_dict(self) -> dict:
        """JSON-serializable dict of everything but the model."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "model"}
        out["final_train_accuracy"] = self.final_train_accuracy
        out["final_test_accuracy"] = self.final_test_accuracy
        return out
