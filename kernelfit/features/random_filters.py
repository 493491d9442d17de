"""Drawing random filters in whitened patch space.

Two kinds, both normalized to unit Euclidean norm:

* ``"gaussian"``: i.i.d. standard normal entries;
* ``"patches"``: whitened training patches picked at random (the "random patches"
  variant of Coates & Ng, i.e. k-means replaced by sampling).
"""

from __future__ import annotations

import numpy as np

from .patches import normalize_patches, sample_patches
from .whitening import ZCAWhitening, fit_zca

__all__ = ["FILTER_KINDS", "draw_filters", "whitened_random_filters"]

FILTER_KINDS = ("gaussian", "patches")


def draw_filters(kind: str, n_filters: int, dim: int, rng, whitened_patches=None) -> np.ndarray:
    """Draw ``n_filters`` unit-norm filters of dimension ``dim``.

    Parameters
    ----------
    kind : {"gaussian", "patches"}
        See the module docstring.
    n_filters, dim : int
        Number and length of the filters.
    rng : numpy.random.Generator
        Source of randomness (the result is deterministic given its state).
    whitened_patches : ndarray of shape (m, dim), optional
        Pool to sample from; required for ``kind="patches"``. Patches are drawn without
        replacement while the pool lasts, then with replacement.

    Returns
    -------
    ndarray of float64, shape (n_filters, dim)

    Raises
    ------
    ValueError
        Unknown kind, ``n_filters < 1`` or a missing / mis-shaped patch pool.
    """
    if kind not in FILTER_KINDS:
        raise ValueError(f"filter kind must be one of {FILTER_KINDS}; found {kind!r}")
    if n_filters < 1:
        raise ValueError(f"n_filters must be >= 1; found {n_filters}")
    if kind == "gaussian":
        filters = rng.standard_normal((n_filters, dim))
    else:
        if whitened_patches is None or whitened_patches.ndim != 2 or (
            whitened_patches.shape[1] != dim
        ):
            found = None if whitened_patches is None else whitened_patches.shape
            raise ValueError(
                f"kind='patches' needs whitened patches of shape (m, {dim}); found {found}"
            )
        pool = whitened_patches.shape[0]
        index = rng.choice(pool, size=n_filters, replace=n_filters > pool)
        filters = np.array(whitened_patches[index], dtype=np.float64)
    norms = np.linalg.norm(filters, axis=1, keepdims=True)
    return filters / np.maximum(norms, 1e-12)


def whitened_random_filters(images, kind: str, n_filters: int, patch_size: int, stride: int,
                            contrast_epsilon: float, whitening_epsilon: float, n_patches: int,
                            rng) -> tuple[ZCAWhitening, np.ndarray]:
    """Fit ZCA whitening on sampled training patches, then draw filters in whitened space.

    Parameters
    ----------
    images : ndarray of shape (n, H, W, C)
        Training images.
    kind : {"gaussian", "patches"}
        See :func:`draw_filters`; ``"patches"`` samples from the whitened sample.
    n_filters, patch_size, stride : int
    contrast_epsilon, whitening_epsilon : float
        See :func:`~kernelfit.features.patches.normalize_patches` and
        :func:`~kernelfit.features.whitening.fit_zca`.
    n_patches : int
        Patches sampled for the whitening.
    rng : numpy.random.Generator

    Returns
    -------
    whitening : ZCAWhitening
    filters : ndarray of shape (n_filters, patch_size**2 * C)
    """
    sample = sample_patches(images, n_patches, patch_size, stride, rng)
    normalize_patches(np, sample, contrast_epsilon)
    whitening = fit_zca(sample, whitening_epsilon)
    pool = whitening.apply(sample) if kind == "patches" else None
    return whitening, draw_filters(kind, n_filters, sample.shape[1], rng, pool)
