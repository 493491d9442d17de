"""Train one of the paper's networks with the paper's recipe, and record the run.

SGD with momentum 0.9, batches of 128, an initial learning rate of 0.1
(Inception) or 0.01 (AlexNet, MLPs) multiplied by 0.95 after every epoch (or
every ``lr_decay_steps`` steps), per-image standardization of 28x28 crops. Weight decay, random-crop
augmentation, dropout and batch normalization are switches of
:class:`~kernelfit.nets.training_records.TrainConfig`.

Convergence time is measured in SGD steps: the first step at which the
training accuracy over the last epoch's worth of minibatches (predictions made
during training, before each update) reaches ``target_accuracy``. Every image
is seen once per epoch, so this is the accuracy on the whole training set as
the network classified it during that pass, with no extra evaluation pass.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import zlib
from collections import deque
from copy import deepcopy

import numpy as np
import torch
from torch import nn

from ..progress import phase
from ..validation import check_same_rows
from .checkpoints import load_checkpoint, save_checkpoint
from .device import resolve_torch_device
from .models import build_model, count_parameters, default_learning_rate
from .preprocessing import crop_batch, images_to_tensor, random_crop_offsets, standardize_per_image
from .training_records import TrainConfig, TrainResult

__all__ = ["TrainConfig", "TrainResult", "evaluate_accuracy", "run_digest", "train_model"]

# Settings that may differ between a checkpoint and the run resuming it.
_RESUMABLE_CHANGES = ("epochs", "device", "stop_at_target", "eval_every", "eval_batch_size")
# TrainResult fields that a checkpoint carries.
_HISTORY = ("step_loss", "step_accuracy", "eval_epochs", "epoch_train_accuracy",
            "epoch_test_accuracy",
            "epoch_learning_rate", "epoch_seconds", "convergence_step", "seconds")


def _check_data(X, y, name: str, num_classes: int):
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim not in (3, 4) or 0 in X.shape:
        raise ValueError(f"X_{name} must be (N, H, W) or (N, H, W, C) images; found {X.shape}")
    if X.dtype.kind not in "uif":
        raise TypeError(f"X_{name} must hold numbers; found dtype {X.dtype}")
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise TypeError(f"y_{name} must be 1-D integer labels; found {y.dtype} {y.shape}")
    check_same_rows(X, y, f"X_{name}", f"y_{name}")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(f"y_{name} must lie in [0, {num_classes}); found [{y.min()}, {y.max()}]")
    return X, y


def _fingerprint(X, y) -> dict:
    """Cheap identity of a data split (shape, labels, a sample of images)."""
    if X is None:
        return {}
    X = np.asarray(X)
    sample = np.ascontiguousarray(X[:: max(1, X.shape[0] // 64)])
    return {"shape": list(X.shape), "dtype": str(X.dtype),
            "labels_crc": zlib.crc32(np.ascontiguousarray(y, dtype=np.int64).tobytes()),
            "images_crc": zlib.crc32(sample.tobytes())}


def run_digest(config: TrainConfig, X_train, y_train, X_test=None, y_test=None) -> str:
    """Eight hex digits identifying a run's settings and data, for checkpoint file names.

    Settings that a resumed run may change (``epochs``, ``device``, ...) are left out.
    """
    settings = {k: v for k, v in dataclasses.asdict(config).items()
                if k not in _RESUMABLE_CHANGES}
    if settings["learning_rate"] is None:
        settings["learning_rate"] = default_learning_rate(config.model)
    record = [settings, _fingerprint(X_train, y_train), _fingerprint(X_test, y_test)]
    return f"{zlib.crc32(json.dumps(record, sort_keys=True).encode()):08x}"


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      crop_size: int, batch_size: int = 1000) -> float:
    """Accuracy of ``model`` in evaluation mode, on central crops of NCHW ``images``."""
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, images.shape[0], batch_size):
        batch = standardize_per_image(crop_batch(images[start : start + batch_size], crop_size))
        correct += int((model(batch).argmax(1) == labels[start : start + batch_size]).sum())
    model.train(was_training)
    return correct / images.shape[0]


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.SGD:
    """SGD with momentum; weight decay on weights (ndim > 1) only, not on biases."""
    weights = [p for p in model.parameters() if p.ndim > 1]
    others = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": weights, "weight_decay": config.weight_decay},
              {"params": others, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=config.learning_rate, momentum=config.momentum)


def _check_resume(state: dict, config: dict, fingerprint: dict, path) -> None:
    saved = {k: v for k, v in state["config"].items() if k not in _RESUMABLE_CHANGES}
    wanted = {k: v for k, v in config.items() if k not in _RESUMABLE_CHANGES}
    diff = {k: (saved.get(k), wanted.get(k)) for k in sorted(saved.keys() | wanted.keys())
            if saved.get(k) != wanted.get(k)}
    if state["fingerprint"] != fingerprint:
        diff["data"] = (state["fingerprint"], fingerprint)
    if diff:
        raise ValueError(
            f"checkpoint {path} belongs to another run; differing (checkpoint, now): {diff}. "
            "Delete it or pass resume=False"
        )


class _Run:
    """The state of one training run between epochs."""

    def __init__(self, config: TrainConfig, X_train, y_train, X_test, y_test):
        self.config = config
        self.device = resolve_torch_device(config.device)
        torch.manual_seed(config.seed)
        channels = 1 if X_train.ndim == 3 else X_train.shape[3]
        self.model = build_model(
            config.model, input_shape=(channels, config.crop_size, config.crop_size),
            num_classes=config.num_classes, batchnorm=config.batchnorm, dropout=config.dropout,
        ).to(self.device)
        self.optimizer = _optimizer(self.model, config)
        self.images = images_to_tensor(X_train, self.device)
        self.labels = torch.as_tensor(y_train, device=self.device)
        self.test = None
        if X_test is not None:
            self.test = (images_to_tensor(X_test, self.device),
                         torch.as_tensor(y_test, device=self.device))
        self.n = self.images.shape[0]
        self.steps_per_epoch = math.ceil(self.n / config.batch_size)
        self.window = deque(maxlen=self.steps_per_epoch)  # (correct, seen) per recent step
        self.fingerprint = {"train": _fingerprint(X_train, y_train),
                            "test": _fingerprint(X_test, y_test)}
        self.result = TrainResult(
            dataclasses.asdict(config), count_parameters(self.model), self.n,
            0 if y_test is None else len(y_test), self.steps_per_epoch, str(self.device),
        )

    def restore(self, path) -> int:
        """Continue from the checkpoint at ``path`` if there is one; return the next epoch."""
        try:
            state = load_checkpoint(path, map_location=self.device)
        except FileNotFoundError:
            return 0
        _check_resume(state, self.result.config, self.fingerprint, path)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)
        for key, value in state["history"].items():
            setattr(self.result, key, value)
        self.window.extend(tuple(pair) for pair in state["window"])
        return len(self.result.epoch_seconds)

    def save(self, path) -> None:
        """Write a checkpoint of the state after the last finished epoch."""
        state = {
            "config": self.result.config, "fingerprint": self.fingerprint,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "history": {k: getattr(self.result, k) for k in _HISTORY},
            "window": [list(pair) for pair in self.window],
        }
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        save_checkpoint(state, path)

    def _set_learning_rate(self, epoch: int, step: int) -> None:
        """``lr0 * decay**k`` with ``k`` the epoch, or ``step // lr_decay_steps``."""
        config = self.config
        k = epoch if config.lr_decay_steps is None else step // config.lr_decay_steps
        for group in self.optimizer.param_groups:
            group["lr"] = config.learning_rate * config.lr_decay**k

    def train_epoch(self, epoch: int, bar) -> bool:
        """One pass over the training set; True when it stopped at the target accuracy."""
        config, result = self.config, self.result
        self._set_learning_rate(epoch, len(result.step_loss))
        result.epoch_learning_rate.append(self.optimizer.param_groups[0]["lr"])
        rng = np.random.default_rng([config.seed, epoch])
        order = torch.as_tensor(rng.permutation(self.n), device=self.device)
        self.model.train()
        for step in range(self.steps_per_epoch):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            batch, offsets = self.images[index], None
            if config.random_crop:
                offsets = random_crop_offsets(rng, len(index), batch.shape[2:], config.crop_size)
            batch = standardize_per_image(crop_batch(batch, config.crop_size, offsets))
            logits = self.model(batch)
            loss = nn.functional.cross_entropy(logits, self.labels[index])
            if config.lr_decay_steps is not None:
                self._set_learning_rate(epoch, len(result.step_loss))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            correct = int((logits.detach().argmax(1) == self.labels[index]).sum())
            result.step_loss.append(float(loss.detach()))
            result.step_accuracy.append(correct / len(index))
            self.window.append((correct, len(index)))
            bar.advance()
            if (result.convergence_step is None and len(self.window) == self.steps_per_epoch
                    and sum(c for c, _ in self.window) >= config.target_accuracy * self.n):
                result.convergence_step = len(result.step_loss)
                if config.stop_at_target:
                    return True
        return False

    def evaluate(self, epoch: int) -> None:
        """Append the train and test accuracy of the current network after ``epoch``."""
        size = (self.config.crop_size, self.config.eval_batch_size)
        model = self.model
        if self.config.recompute_bn_stats:
            model = recompute_batchnorm_statistics(self.model, self.images, *size)
        self.result.eval_epochs.append(epoch + 1)
        self.result.epoch_train_accuracy.append(
            evaluate_accuracy(model, self.images, self.labels, *size))
        if self.test is not None:
            self.result.epoch_test_accuracy.append(evaluate_accuracy(model, *self.test, *size))


def recompute_batchnorm_statistics(model: nn.Module, images: torch.Tensor, crop_size: int,
                                   batch_size: int = 1000) -> nn.Module:
    """A copy of ``model`` whose BatchNorm layers hold the statistics of ``images``.

    The copy's running means and variances are reset and accumulated as a
    cumulative average over one pass of central crops (standardized per image,
    as for evaluation), with every other layer in evaluation mode. ``model``
    itself is not changed; without BatchNorm layers it is returned as is.

    Parameters
    ----------
    model : nn.Module
    images : torch.Tensor of shape (n, C, H, W)
        Training images, as held for training.
    crop_size : int
    batch_size : int, default 1000

    Returns
    -------
    nn.Module
        In evaluation mode.

    Raises
    ------
    ValueError
        For a batch size below 1, or images that are not 4-D or smaller than the crop.

    Notes
    -----
    Called before every evaluation (``TrainConfig.recompute_bn_stats``), it adds
    one forward pass over the training images to each evaluation of a network
    with BatchNorm.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; found {batch_size!r}")
    if images.ndim != 4 or min(images.shape[2:]) < crop_size:
        raise ValueError(f"images must have shape (n, C, H, W) with H, W >= crop_size = "
                         f"{crop_size}; found {tuple(images.shape)}")
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    copy = deepcopy(model)
    copy.eval()
    for layer in copy.modules():
        if isinstance(layer, nn.modules.batchnorm._BatchNorm):
            layer.reset_running_stats()
            layer.momentum = None  # a cumulative average over the whole pass
            layer.train()
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            copy(standardize_per_image(crop_batch(images[start : start + batch_size], crop_size)))
    return copy.eval()


def train_model(X_train, y_train, X_test=None, y_test=None, config: TrainConfig | None = None,
                *, checkpoint_path=None, resume: bool = True, progress=None) -> TrainResult:
    """Train a network on images and record losses, accuracies and convergence time.

    Parameters
    ----------
    X_train : ndarray, shape (n, H, W) or (n, H, W, C)
        Training images (uint8 or float); H and W at least ``config.crop_size``.
    y_train : ndarray of int, shape (n,)
    X_test, y_test : ndarray, optional
        Test set, evaluated every ``config.eval_every`` epochs and at the end.
    config : TrainConfig, optional
        Defaults to ``TrainConfig()``.
    checkpoint_path : str or os.PathLike, optional
        Write a checkpoint there (atomically) after every epoch. With
        ``resume=True`` an existing checkpoint of the same configuration and
        data is continued; one of another run is an error.
    resume : bool, default True
    progress : callable, optional
        :mod:`kernelfit.progress` callback; one ``"train"`` phase counted in steps.

    Returns
    -------
    TrainResult
        The history; ``result.model`` holds the trained network.
    """
    config = dataclasses.replace(config) if config is not None else TrainConfig()
    config.validate()
    X_train, y_train = _check_data(X_train, y_train, "train", config.num_classes)
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test, y_test = _check_data(X_test, y_test, "test", config.num_classes)
        if X_test.shape[1:] != X_train.shape[1:]:
            raise ValueError(
                f"test images have shape {X_test.shape[1:]}; training images {X_train.shape[1:]}"
            )
    if min(X_train.shape[1:3]) < config.crop_size:
        raise ValueError(f"crop_size {config.crop_size} exceeds the images {X_train.shape[1:3]}")
    if config.learning_rate is None:
        config.learning_rate = default_learning_rate(config.model)
    start = time.perf_counter()
    run = _Run(config, X_train, y_train, X_test, y_test)
    first_epoch = run.restore(checkpoint_path) if checkpoint_path and resume else 0
    seconds_before, result = run.result.seconds, run.result
    stopped = config.stop_at_target and result.convergence_step is not None
    total = config.epochs * run.steps_per_epoch
    with phase(progress, "train", total=total, unit="steps") as bar:
        bar.advance(len(result.step_loss))
        for epoch in range(first_epoch, config.epochs):
            if stopped:
                break
            epoch_start = time.perf_counter()
            stopped = run.train_epoch(epoch, bar)
            if stopped or (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
                run.evaluate(epoch)
            result.epoch_seconds.append(time.perf_counter() - epoch_start)
            result.seconds = seconds_before + time.perf_counter() - start
            if checkpoint_path is not None:
                run.save(checkpoint_path)
    result.model = run.model
    return result
