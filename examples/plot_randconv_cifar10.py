"""
Random-convolution features on a CIFAR-10 subset
================================================

On CIFAR-10 a Gaussian kernel on raw pixels interpolates the training set but
generalizes poorly. Zhang et al. (Section 5) first map each image through a
single convolutional layer with random filters (Coates & Ng): whitened 6x6
patches, a soft threshold, sum pooling over the four quadrants.
:class:`kernelfit.features.RandomConvFeatures` is that map. The paper uses
32,000 filters on all 50,000 images; this example uses 256 filters on 1,500
training and 500 test images, so both errors are far above the full runs'.

The example reads CIFAR-10 from ``$KERNELFIT_DATA`` and never downloads it.
Without the variable, or without CIFAR-10 there, it prints a note and stops.
"""

import os

import numpy as np

import kernelfit as kf
from kernelfit.datasets import DatasetNotFoundError, as_float, load_cifar10
from kernelfit.features import RandomConvFeatures

cifar = None
data_dir = os.environ.get("KERNELFIT_DATA")
if data_dir is None:
    print("Skipped: set KERNELFIT_DATA to a directory holding CIFAR-10 to run this example.")
else:
    try:
        cifar = load_cifar10(data_dir, download=False)
    except DatasetNotFoundError as exc:
        print(f"Skipped: no CIFAR-10 under KERNELFIT_DATA={data_dir} ({exc}).")

# %%
# A seeded subset, and an exact fit on the pixels (scaled to [0, 1]) at the
# ``kernelfit cifar10`` default bandwidth, 6.55.
if cifar is not None:
    rng = np.random.default_rng(0)
    train = rng.choice(len(cifar.y_train), 1500, replace=False)
    test = rng.choice(len(cifar.y_test), 500, replace=False)
    images_train, images_test = cifar.X_train[train], cifar.X_test[test]  # uint8, (n, 32, 32, 3)
    y_train, y_test = cifar.y_train[train], cifar.y_test[test]

    flat_train = as_float(images_train).reshape(len(train), -1)
    flat_test = as_float(images_test).reshape(len(test), -1)
    pixels = kf.KernelClassifier(kernel="gaussian", bandwidth=6.55).fit(flat_train, y_train)
    print(f"pixels: test error {1 - pixels.score(flat_test, y_test):.1%}")

# %%
# 256 random filters give ``2 x 4 x 256 = 2048`` features per image (two signs,
# four quadrants). The whitening is fitted on patches of the training images
# only. The features are standardized, and the bandwidth is the median
# heuristic (``bandwidth=None``).
if cifar is not None:
    conv = RandomConvFeatures(n_filters=256, n_whitening_patches=20_000,
                              n_standardize_images=1000, random_state=0)
    F_train = conv.fit_transform(images_train)
    F_test = conv.transform(images_test)
    model = kf.KernelClassifier(kernel="gaussian").fit(F_train, y_train)
    print(f"{F_train.shape[1]} random-conv features: test error "
          f"{1 - model.score(F_test, y_test):.1%}, train error "
          f"{1 - model.score(F_train, y_train):.1%}")
