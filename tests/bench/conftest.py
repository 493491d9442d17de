"""Fixtures of the bench programs' tests."""

import numpy as np
import pytest


@pytest.fixture
def synthetic_split():
    """60 random 16 x 16 RGB images and 3-class labels: a stand-in for a CIFAR-10 split."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(60, 16, 16, 3)).astype(np.uint8)
    labels = rng.integers(0, 3, size=60)
    return images, labels
