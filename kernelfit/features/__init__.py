"""Feature maps applied before the kernel (Section 5 of Zhang et al.).

* :class:`GaborTransform`: Gabor (Morlet) wavelet modulus coefficients, locally averaged
  and subsampled (first-order scattering, optional second order), FFTs on NumPy or CuPy.
* :class:`RandomConvFeatures`: the Coates & Ng single-layer network with random filters;
  :meth:`RandomConvFeatures.accumulate_gram` (and ``accumulate_train_test_grams``)
  stream the Gram matrix for tens of thousands of filters without holding the
  features, and :func:`gaussian_gram_from_linear` turns it into a Gaussian kernel
  matrix in place (:func:`median_bandwidth_from_gram` gives a bandwidth).
* :class:`DiscreteWaveletTransform`: a cheap PyWavelets DWT-modulus map.

:func:`make_feature_map` builds one by name (``"gabor"``, ``"randconv"``, ``"dwt"``).
"""

from .conv_gram import StreamedGram
from .gabor_filters import GaborFilterBank, build_gabor_filter_bank
from .gabor_transform import GaborTransform
from .gaussian_gram import gaussian_gram_from_linear, median_bandwidth_from_gram
from .random_conv import RandomConvFeatures
from .registry import DATASET_DEFAULTS, FEATURE_MAPS, make_feature_map
from .wavelet_transform import DiscreteWaveletTransform

__all__ = [
    "DATASET_DEFAULTS",
    "FEATURE_MAPS",
    "DiscreteWaveletTransform",
    "GaborFilterBank",
    "GaborTransform",
    "RandomConvFeatures",
    "StreamedGram",
    "build_gabor_filter_bank",
    "gaussian_gram_from_linear",
    "make_feature_map",
    "median_bandwidth_from_gram",
]
