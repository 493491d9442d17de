"""`GaborTransform`: a scikit-learn transformer for Gabor wavelet (scattering) features.

A thin front end around :func:`kernelfit.features.gabor_core.gabor_scattering`:
it validates images, builds the filter bank once in :meth:`GaborTransform.fit`,
streams batches through the FFTs on NumPy or CuPy, and returns a NumPy matrix.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
from array_api_compat import array_namespace
from array_api_compat import device as device_of
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..backend import backend_for
from ..progress import phase
from .conv_features import default_n_jobs
from .gabor_core import count_gabor_channels, gabor_scattering
from .gabor_filters import build_gabor_filter_bank
from .images import as_image_batch
from .parameters import check_count, check_float_dtype

__all__ = ["GaborTransform"]

class GaborTransform(TransformerMixin, BaseEstimator):
    r"""Gabor wavelet modulus coefficients, locally averaged and subsampled.

    For each image channel the features are the low-pass image :math:`S_0 x` and the
    first-order coefficients :math:`S_1 x[j, \theta] = (|x \star \psi_{j,\theta}| \star
    \phi)\downarrow_k` (and optionally second order), see
    :mod:`kernelfit.features.gabor_core`. Boundaries are periodic on the (padded) grid.
    The transform is positively homogeneous: scaling the images by ``a > 0`` scales the
    features by ``a``.

    Parameters
    ----------
    n_scales : int, default 3
        ``J``, number of wavelet scales (widths 0.8, 1.6, 3.2 pixels).
    n_orientations : int, default 6
        ``L``, orientations ``pi l / L``.
    averaging_scale : float, default 2
        ``J_phi``: the low-pass Gaussian has width ``0.8 * 2**J_phi`` pixels.
    subsample : int, optional
        Subsampling factor ``k``; defaults to ``2**floor(averaging_scale)``. The grid is
        zero-padded up to a multiple of ``k``.
    max_order : {1, 2}, default 2
        Highest scattering order. Second order costs about 5x the FFTs of first order and
        lowered the MNIST error (see Notes).
    padding : int, default 0
        Zero pixels added on each side before the periodic transform.
    dtype : {"float32", "float64"}, default "float32"
        Precision of the FFTs and of the output.
    batch_size : int, default 128
        Images per FFT batch.
    n_jobs : int, optional
        FFT worker threads on the CPU (``scipy.fft`` workers); all usable CPUs when None.
    image_shape : tuple of int, optional
        ``(height, width[, channels])`` to unflatten rows of a 2-D input.
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where the FFTs run (CuPy on "cuda"); the output is always a NumPy array.
    progress : callable, optional
        Progress callback (phase ``"gabor features"``, unit ``images``).

    Attributes
    ----------
    filter_bank_ : GaborFilterBank
        The filters, on the padded grid.
    image_shape_ : tuple of int
        ``(height, width, channels)`` seen in :meth:`fit`.
    n_features_in_ : int
        Values per image, ``height * width * channels``.
    grid_shape_ : tuple of int
        Padded grid ``(height, width)``.
    n_features_out_ : int
        Columns of the output: ``channels * C * (H / k) * (W / k)``.

    Notes
    -----
    MNIST with the defaults (28 x 28 images, periodic, subsample 4): 7 x 7 maps of
    1 + 3 * 6 + 6**2 * 3 = 127 channels, 6,223 features. Exact Gaussian-kernel
    interpolation on a 10,000-image training subset (full test set), bandwidth 1.4 x the
    median heuristic: 0.69% test error, against 0.85% with ``max_order=1,
    n_orientations=8`` (1,225 features) and 2.36% on pixels.
    """

    def __init__(
        self,
        n_scales=3,
        n_orientations=6,
        averaging_scale=2,
        subsample=None,
        max_order=2,
        padding=0,
        dtype="float32",
        batch_size=128,
        n_jobs=None,
        image_shape=None,
        device="auto",
        progress=None,
    ):
        self.n_scales = n_scales
        self.n_orientations = n_orientations
        self.averaging_scale = averaging_scale
        self.subsample = subsample
        self.max_order = max_order
        self.padding = padding
        self.dtype = dtype
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.image_shape = image_shape
        self.device = device
        self.progress = progress

    # -- parameters --------------------------------------------------------------
    def _factor(self) -> int:
        if self.subsample is not None:
            return check_count(self.subsample, "subsample", 1)
        return 2 ** max(0, math.floor(float(self.averaging_scale)))

    def _float_dtype(self):
        return check_float_dtype(self.dtype)

    def _check_params(self) -> None:
        check_count(self.n_scales, "n_scales", 1)
        check_count(self.n_orientations, "n_orientations", 1)
        check_count(self.batch_size, "batch_size", 1)
        check_count(self.padding, "padding", 0)
        if self.max_order not in (1, 2):
            raise ValueError(f"max_order must be 1 or 2; found {self.max_order!r}")
        self._float_dtype()
        default_n_jobs(self.n_jobs)

    # -- scikit-learn API ------------------------------------------------------------
    def __sklearn_tags__(self):
        """scikit-learn tags: the output dtype is ``dtype``, whatever the input's."""
        tags = super().__sklearn_tags__()
        preserved = [self.dtype] if self.dtype in ("float32", "float64") else []
        tags.transformer_tags.preserves_dtype = preserved
        return tags

    def fit(self, X, y=None):
        """Record the image shape and build the filter bank.

        Parameters
        ----------
        X : array-like of shape (n, h, w), (n, h, w, c) or (n, h*w*c)
            Training images (checked; only their shape is used).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        images = as_image_batch(X, self.image_shape, dtype=None)
        height, width, channels = images.shape[1:]
        factor = self._factor()
        pad = int(self.padding)
        grid = tuple(factor * math.ceil((s + 2 * pad) / factor) for s in (height, width))
        self.image_shape_ = (int(height), int(width), int(channels))
        self.n_features_in_ = int(height) * int(width) * int(channels)
        self.grid_shape_ = grid
        self.filter_bank_ = build_gabor_filter_bank(
            grid, int(self.n_scales), int(self.n_orientations), float(self.averaging_scale)
        )
        per_map = (grid[0] // factor) * (grid[1] // factor)
        n_maps = count_gabor_channels(int(self.n_scales), int(self.n_orientations),
                                      int(self.max_order))
        self.n_features_out_ = int(channels) * n_maps * per_map
        return self

    def transform(self, X):
        """Compute the features of a batch of images.

        Parameters
        ----------
        X : array-like of shape (n, h, w), (n, h, w, c) or (n, h*w*c)
            Images of the shape seen in :meth:`fit`.

        Returns
        -------
        array of shape (n, ``n_features_out_``)
            Features per image in the order (channel, map, row, column). NumPy for
            host input (computed on ``device``, copied back explicitly); for
            arrays of another array-API library (CuPy, array-api-strict, torch)
            computed on, and returned on, their own device.

        Raises
        ------
        ValueError
            Images of another shape than in :meth:`fit`, or NaN / infinite values.
        RuntimeError
            If the transformer is not fitted.
        """
        check_is_fitted(self, "filter_bank_")
        self._check_params()
        dtype = self._float_dtype()
        on_host = isinstance(X, np.ndarray) or not hasattr(X, "__array_namespace__")
        backend = backend_for(X, self.device)
        images = as_image_batch(X, self.image_shape_, dtype=None,  # converted per batch
                                xp=np if on_host else None)
        complex_dtype = np.complex64 if dtype == np.float32 else np.complex128
        band_pass = backend.asarray(self.filter_bank_.band_pass.astype(complex_dtype))
        averaging = [backend.asarray(a.astype(dtype))
                     for a in self.filter_bank_.averaging_matrices(self._factor())]
        xp = array_namespace(band_pass)
        n = images.shape[0]
        shape = (n, self.n_features_out_)
        out = np.empty(shape, dtype=dtype) if on_host else backend.empty(shape, dtype)
        step = int(self.batch_size)
        fft, workers = _scipy_fft(self.n_jobs) if backend.is_host else (xp.fft, None)
        with phase(self.progress, "gabor features", total=n, unit="images") as bar:
            for start in range(0, n, step):
                rows = slice(start, min(start + step, n))  # in bounds (array API)
                batch = backend.astype(backend.asarray(images[rows, ...]), dtype)
                with workers() if workers is not None else contextlib.nullcontext():
                    features = self._batch_features(xp, batch, band_pass, averaging, fft)
                out[rows, ...] = (
                    backend.to_numpy(features) if on_host else features)
                bar.advance(batch.shape[0])
        return out

    def _batch_features(self, xp, batch, band_pass, averaging, fft):
        count, height, width, channels = batch.shape
        grid = self.grid_shape_
        top, left = (grid[0] - height) // 2, (grid[1] - width) // 2
        planes = xp.zeros((count, channels, *grid), dtype=batch.dtype, device=device_of(batch))
        planes[:, :, top : top + height, left : left + width] = xp.permute_dims(
            batch, (0, 3, 1, 2))
        coefficients = gabor_scattering(
            xp, xp.reshape(planes, (count * channels, *grid)), band_pass, *averaging,
            int(self.max_order), fft=fft,
        )
        return xp.reshape(coefficients, (count, -1))


def _scipy_fft(n_jobs):
    """``scipy.fft`` and a context giving it ``n_jobs`` worker threads."""
    import functools

    import scipy.fft

    return scipy.fft, functools.partial(scipy.fft.set_workers, default_n_jobs(n_jobs))

