"""The small AlexNet of the paper (after the TensorFlow CIFAR-10 tutorial network).

Two modules of [conv 5x5 with 64 channels, ReLU, max-pool 3x3 stride 2, local
response normalization], then fully connected layers of 384 and 192 ReLU units
and a linear 10-way classifier. Convolutions pad by 2 ("same") and the pools
pad by 1, so a 28x28 input becomes 14x14 and then 7x7; the first fully
connected layer then sees 64 * 7 * 7 = 3136 features and the whole network has
exactly 1,387,786 parameters, the count in Table 1.

Local response normalization uses the tutorial's constants
(TensorFlow ``depth_radius=4, bias=1, alpha=0.001/9, beta=0.75``), which are
PyTorch's ``size=9, alpha=0.001, k=1, beta=0.75`` (PyTorch divides ``alpha`` by
``size``).
"""

from __future__ import annotations

from torch import nn

__all__ = ["SmallAlexNet"]


class SmallAlexNet(nn.Module):
    """Small AlexNet for ``(C, 28, 28)`` inputs.

    Parameters
    ----------
    input_shape : tuple of int, default (3, 28, 28)
        ``(C, H, W)`` of one input image.
    num_classes : int, default 10
    dropout : float, default 0.0
        Dropout probability before each fully connected layer (0 disables it).
    """

    def __init__(self, input_shape=(3, 28, 28), num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        channels, height, width = input_shape
        self.features = nn.Sequential(
            *self._module(channels),
            *self._module(64),
        )
        for _ in range(2):
            height, width = (height + 1) // 2, (width + 1) // 2
        flat = 64 * height * width

        def drop() -> list[nn.Module]:
            return [nn.Dropout(dropout)] if dropout > 0 else []

        self.classifier = nn.Sequential(
            nn.Flatten(),
            *drop(),
            nn.Linear(flat, 384),
            nn.ReLU(inplace=True),
            *drop(),
            nn.Linear(384, 192),
            nn.ReLU(inplace=True),
            *drop(),
            nn.Linear(192, num_classes),
        )
        self.feature_shape = (64, height, width)

    @staticmethod
    def _module(in_channels: int) -> list[nn.Module]:
        return [
            nn.Conv2d(in_channels, 64, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
            nn.LocalResponseNorm(size=9, alpha=0.001, beta=0.75, k=1.0),
        ]

    def forward(self, x):
        """Class scores (logits) of shape ``(N, num_classes)`` for images ``(N, C, H, W)``."""
        return self.classifier(self.features(x))
