r"""The Gabor (first- and second-order scattering) transform of one batch of images.

Pure functions of arrays: they receive an array-API namespace ``xp`` (NumPy, CuPy,
array-api-strict through ``array_api_compat``) and the filters already on the
images' device, and use only ``xp`` and an FFT module with ``fftn``/``ifftn``
(``xp.fft`` by default), so results stay on that device.
With :math:`\star` a circular convolution and :math:`\downarrow_k` subsampling by
:math:`k` in both directions, the coefficients of an image :math:`x` are

.. math::

    S_0 x = (x \star \phi)\downarrow_k, \qquad
    S_1 x [j, \theta] = (|x \star \psi_{j,\theta}| \star \phi)\downarrow_k, \qquad
    S_2 x [j_1, \theta_1, j_2, \theta_2] =
        (||x \star \psi_{j_1,\theta_1}| \star \psi_{j_2,\theta_2}| \star \phi)\downarrow_k
    \quad (j_2 > j_1).

The wavelet convolutions are FFT products; the averaging by the (separable)
Gaussian :math:`\phi` and the subsampling are two small GEMMs per batch,
:math:`A U B^T`, cheaper than a forward and an inverse FFT per map.
"""

from __future__ import annotations

__all__ = ["average_subsample", "count_gabor_channels", "gabor_scattering"]


def count_gabor_channels(n_scales: int, n_orientations: int, max_order: int) -> int:
    """Number of coefficient maps per image channel: ``1 + J L (+ L^2 J (J-1) / 2)``."""
    count = 1 + n_scales * n_orientations
    if max_order >= 2:
        count += n_orientations**2 * n_scales * (n_scales - 1) // 2
    return count


def average_subsample(xp, maps, rows_matrix, cols_matrix):
    """Low-pass filter and subsample real maps: ``A @ U @ B.T`` for every map ``U``.

    Parameters
    ----------
    xp : module
        Array namespace.
    maps : real array of shape (..., H, W)
    rows_matrix, cols_matrix : real arrays of shape (H // k, H) and (W // k, W)
        From :meth:`GaborFilterBank.averaging_matrices` (the separable periodized Gaussian,
        rows subsampled), so the result equals the circular convolution with
        :math:`\\phi` subsampled by ``k``.

    Returns
    -------
    real array of shape (..., H // k, W // k)
    """
    *lead, height, width = maps.shape
    out_rows, out_cols = rows_matrix.shape[0], cols_matrix.shape[0]
    cols = xp.reshape(maps, (-1, width)) @ cols_matrix.T  # one GEMM: (N H, W // k)
    cols = xp.permute_dims(xp.reshape(cols, (-1, height, out_cols)), (0, 2, 1))  # (N, W//k, H)
    both = xp.reshape(cols, (-1, height)) @ rows_matrix.T  # one GEMM (reshape makes it dense)
    return xp.reshape(xp.permute_dims(xp.reshape(both, (-1, out_cols, out_rows)), (0, 2, 1)),
                      (*lead, out_rows, out_cols))


def gabor_scattering(xp, images, band_pass, rows_matrix, cols_matrix, max_order: int = 1,
                     fft=None):
    """Scattering coefficients of a batch of single-channel images.

    Parameters
    ----------
    xp : module
        Array-API namespace of the images.
    images : real array of shape (n, H, W)
        Images on the filters' grid; float32 gives complex64 FFTs, float64 complex128.
    band_pass : complex array of shape (J, L, H, W)
        :math:`\\hat\\psi_{j,\\theta}`.
    rows_matrix, cols_matrix : real arrays
        Low-pass and subsampling, see :func:`average_subsample`.
    max_order : {1, 2}, default 1
        Highest scattering order.
    fft : module, optional
        Provides ``fftn`` and ``ifftn`` with ``axes`` (default ``xp.fft``; e.g.
        ``scipy.fft`` with worker threads on the CPU).

    Returns
    -------
    real array of shape (n, C, H // k, W // k)
        ``C = count_gabor_channels(J, L, max_order)`` maps in the order: order 0, then
        order 1 by ``(j, theta)``, then order 2 by ``(j1, theta1, j2, theta2)`` with
        ``j2 > j1``.
    """
    fft = xp.fft if fft is None else fft
    axes = (-2, -1)
    n_scales, n_orientations = band_pass.shape[:2]
    n, height, width = images.shape
    spectra = fft.fftn(xp.astype(images, band_pass.dtype), axes=axes)  # the standard's
    # fftn takes complex input only
    maps = [average_subsample(xp, images, rows_matrix, cols_matrix)[:, None, ...]]
    psi = xp.reshape(band_pass, (n_scales * n_orientations, height, width))
    modulus = xp.abs(fft.ifftn(spectra[:, None, ...] * psi[None, ...], axes=axes))  # n,JL,H,W
    maps.append(average_subsample(xp, modulus, rows_matrix, cols_matrix))
    if max_order >= 2:
        modulus_spectra = fft.fftn(xp.astype(modulus, band_pass.dtype), axes=axes)
        for j1 in range(n_scales - 1):
            first = modulus_spectra[:, j1 * n_orientations : (j1 + 1) * n_orientations, ...]
            coarser = psi[(j1 + 1) * n_orientations :, ...]  # (L (J - j1 - 1), H, W)
            second = xp.abs(fft.ifftn(first[:, :, None, ...] * coarser[None, None, ...],
                                      axes=axes))
            second = xp.reshape(second, (n, -1, height, width))
            maps.append(average_subsample(xp, second, rows_matrix, cols_matrix))
    return xp.concat(maps, axis=1)
