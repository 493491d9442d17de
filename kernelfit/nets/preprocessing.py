"""Image batches as the networks see them: NCHW, cropped, standardized per image.

The paper feeds 28x28 crops of the 32x32 CIFAR-10 images: a random crop when
augmenting and the central crop otherwise, then standardizes each image to
zero mean and unit variance (TensorFlow's ``per_image_standardization``).
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["crop_batch", "images_to_tensor", "random_crop_offsets", "standardize_per_image"]


def images_to_tensor(X, device: torch.device | str = "cpu") -> torch.Tensor:
    """Convert ``(N, H, W)`` or ``(N, H, W, C)`` images to an ``(N, C, H, W)`` tensor.

    The dtype is kept (uint8 stays uint8, so a data set costs one byte per
    value on the device); conversion to float happens per batch.
    """
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, :, :, None]
    if X.ndim != 4:
        raise ValueError(f"images must be (N, H, W) or (N, H, W, C); found shape {X.shape}")
    return torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2))).to(device)


def crop_batch(batch: torch.Tensor, size: int, offsets: np.ndarray | None = None) -> torch.Tensor:
    """Crop ``size x size`` windows out of an ``(N, C, H, W)`` batch.

    Parameters
    ----------
    batch : torch.Tensor, shape (N, C, H, W)
    size : int
        Side of the crop; at most ``min(H, W)``.
    offsets : ndarray of int, shape (N, 2), optional
        Top-left corner ``(row, column)`` of each crop (a random crop). When
        omitted every image gets its central crop.

    Returns
    -------
    torch.Tensor, shape (N, C, size, size)
    """
    n, _, height, width = batch.shape
    if size > height or size > width:
        raise ValueError(f"crop size {size} exceeds the image size {height}x{width}")
    if offsets is None:
        top, left = (height - size) // 2, (width - size) // 2
        return batch[:, :, top : top + size, left : left + size]
    if size == height and size == width:
        return batch
    offsets = torch.as_tensor(offsets, device=batch.device)
    span = torch.arange(size, device=batch.device)
    rows = (offsets[:, 0:1] + span)[:, None, :, None]
    cols = (offsets[:, 1:2] + span)[:, None, None, :]
    images = torch.arange(n, device=batch.device)[:, None, None, None]
    channels = torch.arange(batch.shape[1], device=batch.device)[None, :, None, None]
    return batch[images, channels, rows, cols]


def random_crop_offsets(rng: np.random.Generator, n: int, image_hw, size: int) -> np.ndarray:
    """Uniform top-left corners for ``n`` random ``size x size`` crops of ``image_hw`` images."""
    height, width = image_hw
    return np.stack(
        [rng.integers(0, height - size + 1, n), rng.integers(0, width - size + 1, n)], axis=1
    )


def standardize_per_image(batch: torch.Tensor) -> torch.Tensor:
    """Scale each image to zero mean and unit variance, as float32.

    .. math:: x' = (x - \\mu) / \\max(\\sigma, 1/\\sqrt{m})

    with ``m`` the number of values in one image (the floor keeps constant
    images finite, as in TensorFlow's ``per_image_standardization``).
    """
    x = batch.float()
    values = math.prod(x.shape[1:])
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    std = x.std(dim=(1, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.clamp(std, min=1.0 / math.sqrt(values))
