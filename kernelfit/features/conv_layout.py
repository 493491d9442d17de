"""The layout of the random-conv encoding, known from its parameters before any image.

:data:`POOLINGS` names the pooling layouts; :func:`pooling_regions` counts the regions
a layout gives for an image shape, and :func:`filter_memory` the bytes that grow with
the filter count (for the streamed memory plan, before fitting).
"""

from __future__ import annotations

from .conv_encoding import pooling_matrix
from .parameters import check_float_dtype
from .patches import patch_grid

__all__ = ["POOLINGS", "filter_memory", "pooling_regions"]

#: Named pooling layouts over the response map: ``"grid"`` splits it into
#: ``pooling_grid x pooling_grid`` regions (quadrants by default); the others are
#: overlapping ``(size, stride)`` windows of :func:`~.conv_encoding.pooling_matrix`. For
#: 6 x 6 patches of 32 x 32 images (27 x 27 positions), ``"overlap2"`` gives 2 x 2
#: windows of 14 (stride 13) and ``"overlap3"`` 3 x 3 windows of 15 (stride 6), 18
#: features per filter. Regions are summed; an average differs from the sum by a
#: constant factor per layout, which standardization and a bandwidth relative to the
#: median distance both remove.
POOLINGS = {"grid": None, "overlap2": (14, 13), "overlap3": (15, 6)}


def pooling_regions(height: int, width: int, patch_size: int, stride: int, pooling_grid: int,
                    pooling: str) -> int:
    """Pooling regions per sign and filter for ``height x width`` images.

    Parameters
    ----------
    height, width : int
        Image size.
    patch_size, stride : int
        Patch edge and step between patch positions.
    pooling_grid : int
        Regions per side for ``pooling="grid"``.
    pooling : str
        A key of :data:`POOLINGS`.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        A patch larger than the images, or windows larger than the response map.
    """
    rows, cols = patch_grid(int(height), int(width), int(patch_size), int(stride))
    return int(pooling_matrix(rows, cols, int(pooling_grid), POOLINGS[pooling]).shape[0])


def filter_memory(feature_map, image_shape, n_rows: int) -> tuple[int, int]:
    """Bytes that grow with the filter count, known before any image is seen.

    Parameters
    ----------
    feature_map : RandomConvFeatures
        Its parameters are checked (a bad pooling, a patch larger than the images).
    image_shape : tuple of int
        ``(height, width, channels)``.
    n_rows : int
        Images whose features a filter chunk holds at once (training, test, and a
        diagonal tile's copy).

    Returns
    -------
    fitted : int
        The fitted arrays, about ``n_filters (3 d + 1 + 8 R) * 8`` bytes for patches of
        ``d`` values and ``R`` pooling regions: filters, whitened filters, offsets, and
        the standardization statistics with their accumulators.
    per_filter : int
        One filter's features for ``n_rows`` images, ``n_rows * 2 R * itemsize``: the
        smallest filter chunk.

    Raises
    ------
    ValueError
        A bad parameter, or a patch larger than the images.
    """
    feature_map._check_params()
    height, width, channels = (int(v) for v in image_shape)
    patch = int(feature_map.patch_size)
    regions = pooling_regions(height, width, patch, feature_map.stride,
                              feature_map.pooling_grid, feature_map.pooling)
    n_filters, dim = int(feature_map.n_filters), patch * patch * channels
    statistics = 8 * regions if feature_map.standardize else 0
    fitted = n_filters * (3 * dim + 1 + statistics) * 8
    itemsize = check_float_dtype(feature_map.dtype).itemsize
    return int(fitted), int(n_rows) * 2 * regions * itemsize
