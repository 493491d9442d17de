"""The bandwidth grid: its default factors, its checks, the pick and the grid-edge warning.

Shared by the held-out bandwidth searches on features
(:func:`~kernelfit.model_selection.select_bandwidth`) and on a Gram held in tiles
(:func:`~kernelfit.model_selection.select_bandwidth_from_gram`).
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["AUTO_BANDWIDTH_FACTORS", "BandwidthGridEdgeWarning", "check_bandwidth_candidates",
           "pick_bandwidth", "warn_if_at_grid_edge"]

#: Multiples of the median heuristic that ``bandwidth="auto"`` tries on a held-out
#: part of the training set. Wide on purpose: on feature maps the best multiple is
#: well above 1 (Gabor on MNIST: 1.4 to 2.8 in subset checks; see
#: :mod:`kernelfit.features.registry`), on raw pixels below it.
AUTO_BANDWIDTH_FACTORS = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)


class BandwidthGridEdgeWarning(UserWarning):
    """The held-out bandwidth choice is the smallest or largest candidate: the best
    value may lie outside the grid searched."""


def warn_if_at_grid_edge(best: float, candidates) -> None:
    """Warn (:class:`BandwidthGridEdgeWarning`) when ``best`` is an end of ``candidates``."""
    values = sorted(float(c) for c in candidates)
    if len(values) < 2 or values[0] < best < values[-1]:
        return
    side = "smallest" if best == values[0] else "largest"
    warnings.warn(
        f"the held-out bandwidth search chose its {side} candidate, sigma = {best:.4g}; "
        f"a {'smaller' if side == 'smallest' else 'larger'} sigma may validate better "
        "(pass --bandwidth / bandwidth= to try one)", BandwidthGridEdgeWarning, stacklevel=4)


def check_bandwidth_candidates(candidates) -> list[float]:
    """The candidates as floats; refuses an empty grid and non-positive or non-finite values."""
    values = [float(c) for c in candidates]
    if not values:
        raise ValueError("the bandwidth search needs at least one candidate; found none")
    bad = [v for v in values if not (np.isfinite(v) and v > 0)]
    if bad:
        raise ValueError(f"bandwidth candidates must be positive and finite; found {bad}")
    return values


def pick_bandwidth(errors: dict) -> float:
    """The candidate with the lowest held-out error (ties go to the larger bandwidth);
    warns (:class:`BandwidthGridEdgeWarning`) when it is an end of the grid."""
    best = min(errors, key=lambda b: (errors[b], -b))
    warn_if_at_grid_edge(best, errors)
    return best
