"""Loading kernelfit's compiled (Numba) kernel modules on first use, with a fallback.

The tile sweeps (:mod:`kernelfit.backend.skinny_kernels`) and the Gram's distance
pass (:mod:`kernelfit.block_pass_kernels`) import Numba, which costs about 0.4 s,
so they are imported only when a large job needs them. If that import fails (Numba
missing or broken, no writable folder for its cache), the caller keeps its
NumPy/BLAS code and the user is told once, by the caller's cached loader.
"""

from __future__ import annotations

import importlib
import warnings

__all__ = ["import_compiled"]


def import_compiled(module: str, missing: str, fallback: str):
    """Import the compiled-kernel ``module``, or return ``None`` with a warning.

    Parameters
    ----------
    module : str
        Absolute module name, e.g. ``"kernelfit.block_pass_kernels"``.
    missing : str
        The warning's subject, e.g. ``"compiled tile products are unavailable"``.
    fallback : str
        What runs instead, for the warning (``"BLAS"``).

    Returns
    -------
    module or None
    """
    try:
        return importlib.import_module(module)
    except Exception as error:  # any failure means: use the fallback
        warnings.warn(f"kernelfit's {missing} ({error}); using {fallback} "
                      f"(set NUMBA_CACHE_DIR to a writable folder to enable them)",
                      RuntimeWarning, stacklevel=4)
        return None
