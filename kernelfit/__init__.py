"""kernelfit: exact kernel regression and minimum-norm linear models.

The main entry points:

* :func:`gram`, :func:`gram_blocks`, :func:`kernel_matvec` -- Gram matrices in blocks;
* :func:`solve` -- exact solves of ``(K + reg I) alpha = Y`` (tiled Cholesky, fallbacks);
* :func:`min_norm`, :func:`sgd_linear`, :func:`rkhs_norm` -- minimum-norm experiments;
* :class:`KernelRegressor`, :class:`KernelClassifier` -- scikit-learn estimators.

Submodules load lazily, so ``import kernelfit`` stays fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "gram": "kernelfit.gram_builder",
    "gram_blocks": "kernelfit.gram_builder",
    "kernel_matvec": "kernelfit.gram_builder",
    "make_kernel": "kernelfit.kernels",
    "solve": "kernelfit.solvers",
    "factorize": "kernelfit.solvers",
    "min_norm": "kernelfit.solvers",
    "sgd_linear": "kernelfit.solvers",
    "rkhs_norm": "kernelfit.solvers",
    "random_centers_interpolant": "kernelfit.solvers",
    "forced_labels_interpolant": "kernelfit.solvers",
    "KernelRegressor": "kernelfit.estimators",
    "KernelClassifier": "kernelfit.estimators",
    "MemoryBudgetError": "kernelfit.memory",
    "NotPositiveDefiniteError": "kernelfit.backend",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kernelfit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
