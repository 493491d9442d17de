"""The bandwidth and the ridge term of a streamed solve, chosen on the Gram held in tiles.

:func:`resolve_bandwidth` gives the Gaussian bandwidth in use (given, the median
heuristic, or the held-out choice) and :func:`resolve_reg` the ridge term (given, or the
held-out choice); both work on the linear Gram in packed tiles and the squared feature
norms, before the Gram is turned into a kernel
(:mod:`kernelfit.model_selection` holds the searches themselves).
"""

from __future__ import annotations

from ..model_selection import (
    AUTO_BANDWIDTH_FACTORS,
    median_bandwidth_from_tiles,
    select_bandwidth_from_gram,
    select_reg_from_gram,
)
from ..phase_clock import cpu_by_phase

__all__ = ["resolve_bandwidth", "resolve_reg"]


def resolve_bandwidth(view, norms, y, kernel, bandwidth, reg, seed, room, timings, progress):
    """The Gaussian bandwidth in use and, for ``"auto"``, the held-out error per candidate.

    Parameters
    ----------
    view : SymmetricTileView
        The linear Gram ``Phi Phi^T`` in packed lower tiles.
    norms : ndarray of shape (n,)
        ``||phi_i||^2``.
    y : ndarray of shape (n,)
        Training labels.
    kernel : {"gaussian", "linear"}
    bandwidth : float, None or "auto"
        A float is used as it is; None: the median heuristic; ``"auto"``: the held-out
        choice among :data:`~kernelfit.model_selection.AUTO_BANDWIDTH_FACTORS` times the
        median, fitted with ``reg`` (0 when the ridge term is ``"auto"`` too: it is
        chosen afterwards, at this bandwidth).
    reg : float
    seed : int
        Seed of the held-out split.
    room : int
        Bytes the search may allocate.
    timings : dict
        Receives ``"bandwidth_search"`` (after a device sync) for ``"auto"``.
    progress : callable, optional

    Returns
    -------
    bandwidth : float or None
        None for the linear kernel.
    errors : dict or None
        Validation error per candidate, for ``"auto"``.
    """
    if kernel == "linear" or isinstance(bandwidth, float):
        return bandwidth, None
    if bandwidth is None:
        return median_bandwidth_from_tiles(view, norms), None
    with view.storage.backend.timed(timings, "bandwidth_search"), cpu_by_phase():
        median = median_bandwidth_from_tiles(view, norms)
        best, errors = select_bandwidth_from_gram(
            view, norms, y, [median * f for f in AUTO_BANDWIDTH_FACTORS], seed=seed,
            reg=reg, memory_budget=room, progress=progress)
    return best, errors


def resolve_reg(view, norms, y, kernel, bandwidth, reg, seed, room, timings, progress):
    """The ridge term in use and, for ``"auto"``, the held-out error per grid value.

    Parameters
    ----------
    view, norms, y, kernel, seed, room, progress
        As in :func:`resolve_bandwidth`.
    bandwidth : float or None
        The bandwidth in use (None for the linear kernel).
    reg : float or "auto"
        A float is used as it is; ``"auto"``: the held-out choice
        (:func:`~kernelfit.model_selection.select_reg_from_gram`).
    timings : dict
        Receives ``"reg_search"`` for ``"auto"``.

    Returns
    -------
    reg : float
    errors : dict or None
        Validation error per grid value, for ``"auto"``.
    """
    if reg != "auto":
        return reg, None
    with view.storage.backend.timed(timings, "reg_search"), cpu_by_phase():
        best, errors = select_reg_from_gram(view, norms, y, kernel=kernel, bandwidth=bandwidth,
                                            seed=seed, memory_budget=room, progress=progress)
    return best, errors
