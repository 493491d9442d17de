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
import os
import sys

__version__ = "0.1.0"

#: How long idle OpenBLAS threads spin before they sleep, as log2 of CPU cycles: 2^16,
#: about 25 microseconds. OpenBLAS's default, 2^28 (about 0.1 s), keeps both of its
#: threads spinning after every call, against the next library's threads: SciPy's
#: OpenBLAS after NumPy's, or kernelfit's elementwise and compiled passes after a GEMM.
#: On a 2-core machine (``python bench/bench_blas_spin.py --n 12000``) the default
#: made a 12,000-point mixed-precision fit 1.08x slower, its refinement 1.32x.
#: OpenBLAS reads the variable once, when it loads, so it only applies when kernelfit
#: is imported before NumPy (the CLI always is); a value the user set is kept.
BLAS_THREAD_TIMEOUT = "16"
#: True when NumPy (so its OpenBLAS) loaded before the variable was set: that library
#: kept OpenBLAS's default (a value the user exported beforehand reached it).
BLAS_LOADED_FIRST = "numpy" in sys.modules and "OPENBLAS_THREAD_TIMEOUT" not in os.environ
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", BLAS_THREAD_TIMEOUT)

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
