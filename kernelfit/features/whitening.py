r"""ZCA whitening fitted on a sample of normalized patches (NumPy, float64).

With the sample mean :math:`m` and covariance :math:`\Sigma = V \Lambda V^T`,

.. math:: W = V (\Lambda + \epsilon I)^{-1/2} V^T, \qquad p_{white} = W (p - m),

with :math:`\epsilon = 0.1` as in Coates & Ng (2011). ``W`` is symmetric.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ZCAWhitening", "fit_zca"]


@dataclass(frozen=True)
class ZCAWhitening:
    """A fitted ZCA transform ``p -> matrix @ (p - mean)``.

    Attributes
    ----------
    mean : ndarray of shape (d,)
    matrix : ndarray of shape (d, d)
        Symmetric whitening matrix.
    eigenvalues : ndarray of shape (d,)
        Eigenvalues of the sample covariance, ascending.
    """

    mean: np.ndarray
    matrix: np.ndarray
    eigenvalues: np.ndarray

    def apply(self, patches: np.ndarray) -> np.ndarray:
        """Whiten rows of ``patches`` (shape (m, d)); returns a new float64 array."""
        return (np.asarray(patches, dtype=np.float64) - self.mean) @ self.matrix


def fit_zca(patches: np.ndarray, epsilon: float = 0.1) -> ZCAWhitening:
    """Fit ZCA whitening to sample patches.

    Parameters
    ----------
    patches : ndarray of shape (m, d)
        Normalized patches, ``m >= 2``.
    epsilon : float, default 0.1
        Regularizer added to the covariance eigenvalues.

    Returns
    -------
    ZCAWhitening

    Raises
    ------
    ValueError
        Fewer than two patches, or ``epsilon < 0``.
    """
    patches = np.asarray(patches, dtype=np.float64)
    if patches.ndim != 2 or patches.shape[0] < 2:
        raise ValueError(f"fit_zca needs at least 2 patches of shape (m, d); found {patches.shape}")
    if not epsilon >= 0:
        raise ValueError(f"the whitening epsilon must be >= 0; found {epsilon!r}")
    mean = patches.mean(axis=0)
    centred = patches - mean
    # Distinct operands: avoids a SYRK on one array (unsafe in this OpenBLAS build).
    covariance = centred.T @ np.array(centred) / (patches.shape[0] - 1)
    eigenvalues, vectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    matrix = (vectors / np.sqrt(eigenvalues + epsilon)) @ vectors.T
    return ZCAWhitening(mean=mean, matrix=(matrix + matrix.T) / 2, eigenvalues=eigenvalues)
