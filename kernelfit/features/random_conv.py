"""`RandomConvFeatures`: the Coates & Ng single-layer network with random filters.

Pipeline per image: all ``p x p`` patches (stride ``s``) -> per-patch brightness
and contrast normalization -> ZCA whitening (fitted on a sample of training
patches) -> responses ``z = <w, p>`` to random unit-norm filters -> soft threshold
on both signs, ``max(0, z - alpha)`` and ``max(0, -z - alpha)`` -> sum pooling over
the quadrants of the response map. Each filter gives ``2 * pooling_grid**2``
features: with 32,000 filters and quadrants, 256,000 features per image.

For many filters use :meth:`RandomConvFeatures.accumulate_gram`, which streams
filter chunks and returns ``Phi(X) Phi(Y)^T`` and the squared norms without
ever holding the feature matrix, or
:meth:`~RandomConvFeatures.accumulate_train_test_grams`, which gives the training
and test-versus-training Grams from one encoding of the training images;
:meth:`~RandomConvFeatures.transform` materializes the features and refuses when
they would exceed the memory budget.

The streamed methods are in :mod:`~kernelfit.features.random_conv_grams`; the pooling
layouts (:data:`POOLINGS`) and the memory known before fitting (:func:`filter_memory`)
in :mod:`~kernelfit.features.conv_layout`, both also importable from here.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..backend import resolve_device
from ..memory import MemoryBudgetError, check_budget
from ..progress import phase
from ..validation import check_nonnegative, check_positive
from .conv_encoding import PatchEncoder
from .conv_features import default_n_jobs, encode_images, workspace_bytes
from .conv_layout import POOLINGS, filter_memory, pooling_regions
from .feature_statistics import STANDARDIZE_EPSILON, feature_moments
from .images import as_image_batch
from .parameters import check_count, check_float_dtype
from .random_conv_grams import StreamedGramMixin
from .random_filters import FILTER_KINDS, whitened_random_filters

__all__ = ["POOLINGS", "RandomConvFeatures", "filter_memory"]


class RandomConvFeatures(StreamedGramMixin, TransformerMixin, BaseEstimator):
    """Random-filter convolutional features (Coates & Ng 2011, filters drawn at random).

    Parameters
    ----------
    n_filters : int, default 1600
        Number of random filters ``K`` (the paper's CIFAR-10 run uses 32,000).
    patch_size : int, default 6
        Patch edge ``p``.
    stride : int, default 1
        Step between patch positions.
    filter_kind : {"patches", "gaussian"}, default "patches"
        Random whitened training patches, or Gaussian vectors; normalized to unit norm in
        whitened space.
    alpha : float, default 0.25
        Soft threshold.
    pooling_grid : int, default 2
        Sum pooling over ``pooling_grid x pooling_grid`` regions (2: quadrants), when
        ``pooling="grid"``.
    pooling : {"grid", "overlap2", "overlap3"}, default "grid"
        Layout of the pooling regions (see :data:`POOLINGS`).
    contrast_epsilon : float, default 10.0
        Added to each patch's variance before dividing (for pixels in 0..255; use about
        ``10 / 255**2`` for images scaled to [0, 1]).
    whitening_epsilon : float, default 0.1
        Added to the patch covariance eigenvalues in ZCA.
    n_whitening_patches : int, default 100000
        Training patches sampled to fit the whitening (and to draw "patches" filters).
    standardize : bool, default True
        Standardize each feature, ``(f - mean) / sqrt(var + 0.01)``, with statistics from
        up to ``n_standardize_images`` training images (as Coates & Ng do before their
        classifier; it also lowered the Gaussian-kernel error on CIFAR-10 subsets).
    n_standardize_images : int, default 2000
        Training images used for the statistics (a random subset when there are more).
    dtype : {"float32", "float64"}, default "float32"
        Precision of the encoding GEMMs and of the features.
    batch_size : int, optional
        Images per encoder call and thread: 4 on the CPU (responses of 256-filter blocks
        stay in cache), 256 on the GPU (4,096-filter blocks).
    n_jobs : int, optional
        Worker threads on the CPU; all usable CPUs when None.
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where the GEMMs run; results are NumPy arrays.
    memory_budget : int or str, optional
        Bytes for features and Gram chunks (see :func:`kernelfit.memory.parse_budget`).
    image_shape : tuple of int, optional
        ``(height, width, channels)`` to unflatten 2-D input rows.
    random_state : int, optional, default 0
        Seed for the patch sample and the filters.
    progress : callable, optional
        Progress callback.

    Attributes
    ----------
    whitening_ : ZCAWhitening
        Fitted whitening (mean and matrix over patches in (row, column, channel) order).
    filters_ : ndarray of shape (n_filters, p*p*C)
        Unit-norm filters in whitened space.
    effective_filters_ : ndarray of shape (p*p*C, n_filters)
        Whitening folded in: ``whitening_.matrix @ filters_.T``.
    offsets_ : ndarray of shape (n_filters,)
        ``-whitening_.mean @ effective_filters_``.
    feature_mean_, feature_scale_ : ndarray of shape (n_filters, 2, pooling_grid**2)
        Standardization statistics (only when ``standardize``).
    image_shape_ : tuple of int
        ``(height, width, channels)`` seen in :meth:`fit`.
    n_features_in_ : int
        Values per image, ``height * width * channels``.
    n_regions_ : int
        Pooling regions per sign and filter.
    n_features_out_ : int
        ``2 * n_regions_ * n_filters``; columns ordered (filter, sign, region).
    """

    def __init__(self, n_filters=1600, patch_size=6, stride=1, filter_kind="patches",
                 alpha=0.25, pooling_grid=2, pooling="grid", contrast_epsilon=10.0,
                 whitening_epsilon=0.1,
                 n_whitening_patches=100_000, standardize=True, n_standardize_images=2000,
                 dtype="float32", batch_size=None, n_jobs=None, device="auto",
                 memory_budget=None, image_shape=None, random_state=0, progress=None):
        self.n_filters = n_filters
        self.patch_size = patch_size
        self.stride = stride
        self.filter_kind = filter_kind
        self.alpha = alpha
        self.pooling_grid = pooling_grid
        self.pooling = pooling
        self.contrast_epsilon = contrast_epsilon
        self.whitening_epsilon = whitening_epsilon
        self.n_whitening_patches = n_whitening_patches
        self.standardize = standardize
        self.n_standardize_images = n_standardize_images
        self.dtype = dtype
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.device = device
        self.memory_budget = memory_budget
        self.image_shape = image_shape
        self.random_state = random_state
        self.progress = progress

    def _check_params(self) -> None:
        for name in ("n_filters", "patch_size", "stride", "pooling_grid", "n_standardize_images"):
            check_count(getattr(self, name), name)
        check_count(self.n_whitening_patches, "n_whitening_patches", 2)
        if self.batch_size is not None:
            check_count(self.batch_size, "batch_size")
        if self.filter_kind not in FILTER_KINDS:
            raise ValueError(f"filter_kind must be one of {FILTER_KINDS}; found "
                             f"{self.filter_kind!r}")
        if not isinstance(self.pooling, str) or self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}; found "
                             f"{self.pooling!r}")
        check_nonnegative(self.alpha, "alpha")
        check_positive(self.contrast_epsilon, "contrast_epsilon")
        check_nonnegative(self.whitening_epsilon, "whitening_epsilon")
        check_float_dtype(self.dtype)
        default_n_jobs(self.n_jobs)

    def __sklearn_tags__(self):
        """scikit-learn tags: the output dtype is ``dtype``, whatever the input's."""
        tags = super().__sklearn_tags__()
        preserved = [self.dtype] if self.dtype in ("float32", "float64") else []
        tags.transformer_tags.preserves_dtype = preserved
        return tags

    def fit(self, X, y=None):
        """Fit the whitening on sampled patches and draw the filters.

        Parameters
        ----------
        X : array-like of shape (n, h, w, c), (n, h, w) or (n, h*w*c)
            Training images, pixel values in 0..255.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad parameters, images with NaN or infinity, a patch larger than the
            images, or a patch of a single value (``patch_size=1`` on grey images),
            whose contrast cannot be normalized.
        """
        self._check_params()
        images = as_image_batch(X, self.image_shape, dtype=None)
        height, width, channels = images.shape[1:]
        patch_size, stride = int(self.patch_size), int(self.stride)
        if patch_size * patch_size * channels < 2:
            raise ValueError(f"a patch must hold at least 2 values for its contrast "
                             f"normalization (patch_size**2 * channels); found patch_size="
                             f"{patch_size} on {channels}-channel images")
        n_regions = pooling_regions(height, width, patch_size, stride, self.pooling_grid,
                                    self.pooling)
        rng = np.random.default_rng(self.random_state)
        self.whitening_, self.filters_ = whitened_random_filters(
            images, self.filter_kind, int(self.n_filters), patch_size, stride,
            float(self.contrast_epsilon), float(self.whitening_epsilon),
            int(self.n_whitening_patches), rng,
        )
        self.effective_filters_ = self.whitening_.matrix @ self.filters_.T
        self.offsets_ = -(self.whitening_.mean @ self.effective_filters_)
        self.image_shape_ = (int(height), int(width), int(channels))
        self.n_features_in_ = int(height) * int(width) * int(channels)
        self.n_regions_ = int(n_regions)
        self.n_features_out_ = 2 * self.n_regions_ * int(self.n_filters)
        for name in ("feature_mean_", "feature_scale_"):
            self.__dict__.pop(name, None)
        if self.standardize:
            count = min(images.shape[0], int(self.n_standardize_images))
            subset = np.sort(rng.choice(images.shape[0], size=count, replace=False))
            backend, dtype, n_jobs = self._runtime()
            mean, var = feature_moments(
                self._encoder_factory(backend, dtype, standardized=False), int(self.n_filters),
                images[subset], backend=backend, dtype=dtype,
                memory_budget=backend.memory_budget(self.memory_budget), n_jobs=n_jobs,
                batch_size=self._batch_size(backend), progress=self.progress,
            )
            self.feature_mean_ = mean
            self.feature_scale_ = np.sqrt(var + STANDARDIZE_EPSILON)
        return self

    # -- shared machinery ---------------------------------------------------------
    def _runtime(self):
        backend = resolve_device(self.device)
        n_jobs = default_n_jobs(self.n_jobs) if backend.is_host else 1  # threads: CPU only
        return backend, check_float_dtype(self.dtype), n_jobs

    def _batch_size(self, backend) -> int:
        if self.batch_size is not None:
            return int(self.batch_size)
        return 4 if backend.is_host else 256

    def _encoder_factory(self, backend, dtype, standardized: bool = True):
        standardized = standardized and self.standardize
        filter_block = 256 if backend.is_host else 4096

        def make_encoder(start, stop, fused=None):
            return PatchEncoder(
                backend.xp, self.effective_filters_[:, start:stop], self.offsets_[start:stop],
                float(self.alpha), self.image_shape_, int(self.patch_size), int(self.stride),
                float(self.contrast_epsilon), int(self.pooling_grid), dtype, filter_block,
                feature_mean=self.feature_mean_[start:stop] if standardized else None,
                feature_scale=self.feature_scale_[start:stop] if standardized else None,
                pooling_window=POOLINGS[self.pooling], fused=fused,
            )

        return make_encoder

    def _setup(self, X, name="X"):
        check_is_fitted(self, "filters_")
        self._check_params()
        if self.standardize and not hasattr(self, "feature_mean_"):
            raise RuntimeError("standardize=True was set after fit; fit again to compute the "
                               "feature statistics")
        backend, dtype, n_jobs = self._runtime()
        images = as_image_batch(X, self.image_shape_, dtype=None, name=name)
        return backend, images, dtype, n_jobs, self._encoder_factory(backend, dtype)

    def transform(self, X):
        """Materialize the features of ``X`` (for modest ``n * n_features_out_``).

        Parameters
        ----------
        X : array-like of images
            Same image shape as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n, ``n_features_out_``)
            In ``dtype``; columns ordered (filter, sign, region).

        Raises
        ------
        MemoryBudgetError
            If the feature matrix would not fit in ``memory_budget``; use
            :meth:`accumulate_gram` instead.
        """
        backend, images, dtype, n_jobs, make_encoder = self._setup(X)
        n = images.shape[0]
        encoder = make_encoder(0, int(self.n_filters))
        batch = self._batch_size(backend)
        needed = n * self.n_features_out_ * dtype.itemsize + n_jobs * workspace_bytes(
            encoder, batch)
        try:
            check_budget(needed, backend.memory_budget(self.memory_budget),
                         f"the {n} x {self.n_features_out_} random-conv feature matrix")
        except MemoryBudgetError as error:
            raise MemoryBudgetError(
                f"{error}. For many filters, accumulate_gram streams the Gram matrix without "
                "holding the features"
            ) from None
        out = backend.empty((n, self.n_features_out_), dtype)
        with phase(self.progress, "randconv features", total=n, unit="images") as bar:
            encode_images(encoder, images, out.reshape((n, int(self.n_filters), 2, -1)),
                          backend, n_jobs=n_jobs, batch_size=batch, advance=bar.advance)
        return backend.to_numpy(out)
