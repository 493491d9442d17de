"""Model selection on the training set: held-out splits, bandwidth and ridge searches.

Never the test set. Used by :func:`kernelfit.experiments.run_experiment` and the
streamed solve (:func:`kernelfit.streamed.solve_streamed`).

* :mod:`~kernelfit.model_selection.held_out`: the one split of the training set into
  fitted and held-out points, and the held-out error of an exact solve;
* :mod:`~kernelfit.model_selection.grid`: the bandwidth grid (multiples of the median
  heuristic), its checks, the pick, and :class:`BandwidthGridEdgeWarning`;
* :mod:`~kernelfit.model_selection.bandwidth`: the bandwidth search on features;
* :mod:`~kernelfit.model_selection.gram_bandwidth`: the median heuristic and the
  bandwidth search on a linear Gram held in tiles;
* :mod:`~kernelfit.model_selection.regularization`: the ridge search (``reg="auto"``).
"""

from .bandwidth import select_bandwidth
from .gram_bandwidth import median_bandwidth_from_tiles, select_bandwidth_from_gram
from .grid import (
    AUTO_BANDWIDTH_FACTORS,
    BandwidthGridEdgeWarning,
    check_bandwidth_candidates,
    pick_bandwidth,
    warn_if_at_grid_edge,
)
from .held_out import HeldOutSplit, held_out_split
from .regularization import REG_GRID, reg_grid, reg_scale, select_reg_from_gram

__all__ = [
    "AUTO_BANDWIDTH_FACTORS",
    "REG_GRID",
    "BandwidthGridEdgeWarning",
    "HeldOutSplit",
    "check_bandwidth_candidates",
    "held_out_split",
    "median_bandwidth_from_tiles",
    "pick_bandwidth",
    "reg_grid",
    "reg_scale",
    "select_bandwidth",
    "select_bandwidth_from_gram",
    "select_reg_from_gram",
    "warn_if_at_grid_edge",
]
