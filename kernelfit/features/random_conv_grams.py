"""Streamed Grams of a fitted :class:`~kernelfit.features.RandomConvFeatures`.

:class:`StreamedGramMixin` gives the transformer its two streamed products,
:meth:`~StreamedGramMixin.accumulate_gram` and
:meth:`~StreamedGramMixin.accumulate_train_test_grams`: filter chunks (sized from the
memory budget) are encoded for all images at once and their products added tile by
tile (:func:`kernelfit.features.conv_gram.accumulate_feature_grams`), so the feature
matrix is never held.
"""

from __future__ import annotations

import numpy as np

from .conv_gram import accumulate_feature_grams
from .images import as_image_batch

__all__ = ["StreamedGramMixin"]


class StreamedGramMixin:
    """The streamed Gram methods of :class:`~kernelfit.features.RandomConvFeatures`.

    The transformer provides ``_setup(X)`` (the backend, the checked images, the
    dtype, the worker count and an encoder factory), ``_batch_size(backend)`` and its
    ``n_filters``, ``memory_budget``, ``progress`` and fitted ``image_shape_``.
    """

    def accumulate_gram(self, X, Y=None, out=None, progress=None, *, out_dtype=np.float64,
                        filter_chunk=None):
        """Linear Gram ``Phi(X) Phi(Y)^T`` and squared feature norms, streamed over filters.

        The feature matrix is never held: filter chunks (sized from ``memory_budget``)
        are encoded for all images at once and their products added tile by tile.

        Parameters
        ----------
        X : array-like of images, n of them
        Y : array-like of images, m of them, optional
            ``None`` for the symmetric Gram of ``X`` (only the lower triangle of tiles is
            computed, then mirrored).
        out : ndarray or np.memmap of shape (n, m), optional
            Destination (overwritten), e.g. a float32 memmap; allocated when omitted.
        progress : callable, optional
            Overrides the estimator's ``progress``.
        out_dtype : dtype, default float64
            Dtype of an allocated ``out``.
        filter_chunk : int, optional
            Filters per chunk; by default the largest chunk whose features for all
            ``n + m`` images fit in ``memory_budget``.

        Returns
        -------
        StreamedGram
            ``(gram, row_sq_norms, col_sq_norms)``; feed them to
            :func:`kernelfit.features.gaussian_gram_from_linear` for a Gaussian kernel.

        Raises
        ------
        MemoryBudgetError
            If even one filter's features for all images do not fit; both numbers are given.
        """
        backend, images_x, dtype, n_jobs, make_encoder = self._setup(X)
        sets = [images_x]
        if Y is not None:
            sets.append(as_image_batch(Y, self.image_shape_, dtype=None, name="Y"))
        (result,) = self._streamed(backend, dtype, n_jobs, make_encoder, sets,
                                   [(0, len(sets) - 1)], [out], out_dtype, filter_chunk,
                                   progress)
        return result

    def accumulate_train_test_grams(self, X, Y, out=None, cross_out=None, progress=None, *,
                                    out_dtype=np.float64, filter_chunk=None, checkpoint=None):
        """Training Gram ``Phi(X) Phi(X)^T`` and cross Gram ``Phi(Y) Phi(X)^T`` in one pass.

        The features of ``X`` (the costly part for a large training set) are computed
        once per filter chunk and used for both products.

        Parameters
        ----------
        X : array-like of n training images
        Y : array-like of m test images
        out : ndarray or np.memmap of shape (n, n), optional
        cross_out : ndarray or np.memmap of shape (m, n), optional
        progress, out_dtype, filter_chunk
            As in :meth:`accumulate_gram`.
        checkpoint : GramCheckpoint, optional
            Saves the Grams after each filter chunk and resumes from the last one saved
            (see :func:`~kernelfit.features.conv_gram.accumulate_feature_grams`).

        Returns
        -------
        train, cross : StreamedGram
            ``train.gram`` is (n, n); ``cross.gram`` is (m, n) with ``cross.row_sq_norms``
            the norms of ``Y`` and ``cross.col_sq_norms`` those of ``X``.
        """
        backend, images_x, dtype, n_jobs, make_encoder = self._setup(X)
        images_y = as_image_batch(Y, self.image_shape_, dtype=None, name="Y")
        train, cross = self._streamed(backend, dtype, n_jobs, make_encoder,
                                      [images_x, images_y], [(0, 0), (1, 0)], [out, cross_out],
                                      out_dtype, filter_chunk, progress, checkpoint)
        return train, cross

    def _streamed(self, backend, dtype, n_jobs, make_encoder, sets, products, outs, out_dtype,
                  filter_chunk, progress, checkpoint=None):
        return accumulate_feature_grams(
            make_encoder, int(self.n_filters), sets, products, backend=backend, dtype=dtype,
            outs=outs, out_dtype=out_dtype, memory_budget=backend.memory_budget(self.memory_budget),
            n_jobs=n_jobs, batch_size=self._batch_size(backend), filter_chunk=filter_chunk,
            checkpoint=checkpoint, progress=self.progress if progress is None else progress,
        )

