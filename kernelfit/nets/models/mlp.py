"""Multi-layer perceptrons of the paper (1x512 and 3x512 hidden ReLU units)."""

from __future__ import annotations

import math

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Fully connected ReLU network on flattened images.

    Parameters
    ----------
    input_shape : tuple of int
        ``(C, H, W)`` of one input image, e.g. ``(3, 28, 28)`` for the paper's
        cropped CIFAR-10 or ``(1, 28, 28)`` for MNIST.
    hidden : tuple of int, default (512,)
        Width of each hidden layer.
    num_classes : int, default 10
    dropout : float, default 0.0
        Dropout probability before each linear layer after the first (0 disables it).

    Notes
    -----
    On ``(3, 28, 28)`` inputs, ``hidden=(512,)`` has 1,209,866 parameters and
    ``hidden=(512, 512, 512)`` has 1,735,178, as in Table 1 of the paper.
    """

    def __init__(self, input_shape, hidden=(512,), num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(input_shape)
        for size in hidden:
            if dropout > 0 and width != math.prod(input_shape):
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(width, size), nn.ReLU(inplace=True)]
            width = size
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        """Class scores (logits) of shape ``(N, num_classes)`` for images ``(N, C, H, W)``."""
        return self.layers(x)
