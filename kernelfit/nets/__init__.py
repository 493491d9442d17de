"""Deep-net companion of kernelfit: the randomization tests of Zhang et al.

Modules (PyTorch is imported only by those marked *torch*):

* :mod:`~kernelfit.nets.corruptions` -- true, partially corrupted and random
  labels; shuffled pixels, random pixels, Gaussian images (NumPy).
* :mod:`~kernelfit.nets.models` -- MLPs, small AlexNet, small Inception (*torch*).
* :mod:`~kernelfit.nets.train` -- the paper's SGD recipe, convergence time,
  atomic checkpoints (*torch*).
* :mod:`~kernelfit.nets.table1`, :mod:`~kernelfit.nets.figure1` -- the
  experiments (*torch*); :mod:`~kernelfit.nets.randomization_plots` draws them.
* :mod:`~kernelfit.nets.expressivity` -- Theorem 1: a depth-2 ReLU network with
  ``2n + d`` weights through any labels, built in O(n log n) (NumPy).
* :mod:`~kernelfit.nets.kernel_label_noise` -- the same corruptions through
  exact kernel interpolation (NumPy and the core library).

Names below are loaded on first use, so ``import kernelfit.nets`` stays light.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CORRUPTIONS": "corruptions",
    "CorruptedData": "corruptions",
    "corrupt": "corruptions",
    "corrupt_labels": "corruptions",
    "random_labels": "corruptions",
    "shuffle_pixels": "corruptions",
    "random_pixels": "corruptions",
    "gaussian_images": "corruptions",
    "MODEL_NAMES": "models",
    "build_model": "models",
    "count_parameters": "models",
    "TrainConfig": "training_records",
    "TrainResult": "training_records",
    "train_model": "train",
    "ReluInterpolant": "expressivity",
    "fit_relu_interpolant": "expressivity",
    "run_table1": "table1",
    "run_learning_curves": "figure1",
    "run_label_noise": "figure1",
    "run_kernel_label_noise": "kernel_label_noise",
    "load_experiment_data": "experiment_data",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kernelfit.nets' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
