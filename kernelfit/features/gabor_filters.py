r"""A bank of complex Gabor (Morlet) filters and one Gaussian low-pass, built once in NumPy.

The filters live on a periodic ``height x width`` grid and are stored as their
discrete Fourier transforms, ready for FFT convolutions. In (row, column)
coordinates :math:`u`, the band-pass filter of scale :math:`j` and orientation
:math:`\theta` is a Morlet wavelet

.. math::

    \psi_{j,\theta}(u) = c \, e^{-u^T A u / 2}\,
        \left(e^{i \xi_j \langle u, e_\theta \rangle} - \beta\right),
    \qquad A = R_\theta \operatorname{diag}(1, s^2) R_\theta^T / \sigma_j^2,

with :math:`\sigma_j = \sigma_0 2^j`, :math:`\xi_j = \xi_0 2^{-j}`, the unit wave
vector :math:`e_\theta = (\cos\theta, \sin\theta)`, orientations
:math:`\theta_l = \pi l / L`, the slant :math:`s` (the envelope is :math:`1/s`
times longer along the stripes than across them), and :math:`\beta` chosen so the
filter has zero mean. Filters are periodized on the grid.

Normalization: every band-pass filter has :math:`\hat\psi(0) = 0` and
:math:`\max |\hat\psi| = 1`; the low-pass :math:`\phi` is a Gaussian of width
:math:`\sigma_0 2^{J_\phi}` with :math:`\hat\phi(0) = \sum_u \phi(u) = 1`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GaborFilterBank", "build_gabor_filter_bank"]

#: Width of the finest envelope, in pixels.
SIGMA0 = 0.8
#: Centre frequency of the finest filter, in radians per pixel.
XI0 = 3 * np.pi / 4
#: Periods summed on each side when periodizing a filter on the grid.
_WRAPS = 2


@dataclass(frozen=True)
class GaborFilterBank:
    """Fourier transforms of Morlet band-pass filters and a Gaussian low-pass.

    Attributes
    ----------
    shape : tuple of int
        Grid ``(height, width)`` the filters are defined on.
    band_pass : ndarray of complex128, shape (n_scales, n_orientations, height, width)
        :math:`\\hat\\psi_{j,\\theta}` on the DFT grid (zero frequency at index 0).
    low_pass : ndarray of float64, shape (height, width)
        :math:`\\hat\\phi`; real because :math:`\\phi` is symmetric.
    sigmas : ndarray of shape (n_scales,)
        Envelope widths :math:`\\sigma_j` in pixels.
    frequencies : ndarray of shape (n_scales,)
        Centre frequencies :math:`\\xi_j` in radians per pixel.
    orientations : ndarray of shape (n_orientations,)
        :math:`\\theta_l` in radians, the direction of the wave vector in (row, column)
        coordinates.
    averaging_sigma : float
        Width of the low-pass Gaussian in pixels.
    low_pass_rows, low_pass_cols : ndarray of shape (height,) and (width,)
        The periodized 1-D Gaussians whose outer product is :math:`\\phi` in space
        (an isotropic periodized Gaussian is separable), each summing to 1.
    """

    shape: tuple[int, int]
    band_pass: np.ndarray
    low_pass: np.ndarray
    sigmas: np.ndarray
    frequencies: np.ndarray
    orientations: np.ndarray
    averaging_sigma: float
    low_pass_rows: np.ndarray
    low_pass_cols: np.ndarray

    @property
    def n_scales(self) -> int:
        """Number of scales ``J``."""
        return self.band_pass.shape[0]

    @property
    def n_orientations(self) -> int:
        """Number of orientations ``L``."""
        return self.band_pass.shape[1]

    def spatial(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the filters in space, ``(band_pass, low_pass)``, origin at index ``(0, 0)``."""
        return np.fft.ifft2(self.band_pass), np.fft.ifft2(self.low_pass).real

    def averaging_matrices(self, factor: int) -> tuple[np.ndarray, np.ndarray]:
        """Matrices ``(A, B)`` with ``(x * phi) subsampled by factor = A @ x @ B.T``.

        ``A[r, u] = phi_rows[(factor * r - u) mod height]``, shape (height // factor,
        height), and likewise ``B`` for the columns.
        """
        return (_circulant_rows(self.low_pass_rows, factor),
                _circulant_rows(self.low_pass_cols, factor))


def _circulant_rows(kernel: np.ndarray, factor: int) -> np.ndarray:
    size = kernel.shape[0]
    index = (factor * np.arange(size // factor)[:, None] - np.arange(size)[None, :]) % size
    return kernel[index]


def _offsets(size: int) -> np.ndarray:
    """Signed offsets of every grid index and its periodic copies, shape (2*_WRAPS+1, size)."""
    base = np.arange(size, dtype=np.float64)
    base = np.where(base < (size + 1) // 2, base, base - size)  # 0, 1, ..., -2, -1
    return base[None, :] + size * np.arange(-_WRAPS, _WRAPS + 1, dtype=np.float64)[:, None]


def _periodized(shape, quadratic, wave=None) -> np.ndarray:
    """Sum over periodic copies of ``exp(-u^T A u / 2) * exp(i <k, u>)`` on the grid."""
    rows = _offsets(shape[0])[:, None, :, None]
    cols = _offsets(shape[1])[None, :, None, :]
    a, b, c = quadratic[0, 0], quadratic[0, 1], quadratic[1, 1]
    value = np.exp(-0.5 * (a * rows**2 + 2 * b * rows * cols + c * cols**2))
    if wave is not None:
        value = value * np.exp(1j * (wave[0] * rows + wave[1] * cols))
    return value.sum(axis=(0, 1))


def _morlet(shape, sigma, xi, theta, slant) -> np.ndarray:
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    quadratic = rotation @ np.diag([1.0, slant**2]) @ rotation.T / sigma**2
    direction = np.array([np.cos(theta), np.sin(theta)])
    gabor = _periodized(shape, quadratic, xi * direction)
    envelope = _periodized(shape, quadratic)
    morlet = gabor - (gabor.sum() / envelope.sum()) * envelope
    spectrum = np.fft.fft2(morlet)
    spectrum[0, 0] = 0.0  # exact zero mean (it is ~1e-17 already)
    return spectrum / np.abs(spectrum).max()


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
    kernel = np.exp(-0.5 * (_offsets(size) / sigma) ** 2).sum(axis=0)
    return kernel / kernel.sum()


def build_gabor_filter_bank(
    shape,
    n_scales: int = 3,
    n_orientations: int = 8,
    averaging_scale: float | None = None,
    slant: float | None = None,
) -> GaborFilterBank:
    """Build Morlet filters for ``n_scales`` scales and ``n_orientations`` orientations.

    Parameters
    ----------
    shape : tuple of int
        Grid ``(height, width)``, e.g. the padded image size.
    n_scales : int, default 3
        ``J``; scale ``j`` has width ``0.8 * 2**j`` pixels and frequency ``3 pi / 4 / 2**j``.
    n_orientations : int, default 8
        ``L``; orientations ``pi * l / L`` for ``l = 0 .. L-1``.
    averaging_scale : float, optional
        ``J_phi``: the low-pass Gaussian has width ``0.8 * 2**J_phi`` pixels. Defaults to
        ``n_scales``.
    slant : float, optional
        Envelope aspect ratio ``s`` (width across the stripes over width along them).
        Defaults to ``min(1, 4 / n_orientations)``.

    Returns
    -------
    GaborFilterBank

    Raises
    ------
    ValueError
        A non-positive count, a grid smaller than 2 x 2, or a non-positive slant.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 2:
        raise ValueError(f"shape must be (height, width) with both >= 2; found {shape}")
    for value, name in ((n_scales, "n_scales"), (n_orientations, "n_orientations")):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1; found {value!r}")
    n_scales, n_orientations = int(n_scales), int(n_orientations)
    averaging_scale = n_scales if averaging_scale is None else float(averaging_scale)
    slant = min(1.0, 4.0 / n_orientations) if slant is None else float(slant)
    if not slant > 0:
        raise ValueError(f"slant must be > 0; found {slant!r}")
    sigmas = SIGMA0 * 2.0 ** np.arange(n_scales)
    frequencies = XI0 / 2.0 ** np.arange(n_scales)
    orientations = np.pi * np.arange(n_orientations) / n_orientations
    band_pass = np.empty((n_scales, n_orientations, *shape), dtype=np.complex128)
    for j in range(n_scales):
        for l, theta in enumerate(orientations):
            band_pass[j, l] = _morlet(shape, sigmas[j], frequencies[j], theta, slant)
    averaging_sigma = SIGMA0 * 2.0**averaging_scale
    rows, cols = _gaussian_1d(shape[0], averaging_sigma), _gaussian_1d(shape[1], averaging_sigma)
    return GaborFilterBank(
        shape=shape,
        band_pass=band_pass,
        low_pass=np.fft.fft2(np.outer(rows, cols)).real,
        sigmas=sigmas,
        frequencies=frequencies,
        orientations=orientations,
        averaging_sigma=averaging_sigma,
        low_pass_rows=rows,
        low_pass_cols=cols,
    )
