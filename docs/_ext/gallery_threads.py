"""One BLAS thread for the gallery examples.

The examples solve problems of a few hundred to a few thousand points, where a
second BLAS thread gains little; on a machine that other jobs keep busy it can
cost a great deal: a 560-point fit measured 0.01 s with one OpenBLAS thread and
up to 1 s with two at a load average of 6 on 2 cores. sphinx-gallery calls
:func:`one_blas_thread` before each example (``reset_modules``).
"""

from __future__ import annotations


def one_blas_thread(gallery_conf, fname):
    """Limit every loaded BLAS (NumPy's and SciPy's) to one thread."""
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
