"""The small Inception of the paper, with and without batch normalization.

Layers (from the appendix of the 2017 paper): conv 3x3 with 96 channels;
Inception(32, 32), Inception(32, 48), Downsample(80); Inception(112, 48),
Inception(96, 64), Inception(80, 80), Inception(48, 96), Downsample(96);
Inception(176, 160), Inception(176, 160); global mean pool; linear 10-way.
``Inception(c1, c3)`` concatenates a 1x1 and a 3x3 conv module;
``Downsample(c3)`` concatenates a 3x3 stride-2 conv module and a 3x3 stride-2
max-pool. On 28x28 inputs the feature maps are 28x28, then 14x14, then 7x7.

Reconciling the parameter counts
--------------------------------
Table 1 gives 1,649,402 parameters both with and without batch normalization.
The convolution weights and the classifier alone come to 1,647,690; the
remaining 1,712 are exactly one number per output channel of the 22 conv
modules. So each conv module has one learned per-channel offset, in both
variants, and batch normalization adds no learned scale. We implement the
conv module as

.. math::  \\mathrm{ReLU}(\\mathrm{norm}(W * x) + \\beta),

with ``norm`` a batch normalization without affine parameters (or the identity
in the "w/o BatchNorm" variant) and ``beta`` the conv bias, added *after* the
normalization. Without normalization this is an ordinary conv with bias; with
it, it is batch normalization with a learned shift and no scale (TensorFlow's
``batch_norm`` default, ``center=True, scale=False``). A bias added before the
normalization would be cancelled by its mean subtraction and never trained;
placing it after keeps every counted parameter useful and lets both variants
share parameter names and shapes.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ConvModule", "Downsample", "InceptionBlock", "SmallInception"]


class ConvModule(nn.Module):
    """Conv (no bias), optional batch normalization (no affine), per-channel bias, ReLU.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
    stride : int, default 1
    batchnorm : bool, default True
        Normalize each channel over the batch before adding the bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        batchnorm: bool = True,
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            bias=False,
        )
        self.norm = nn.BatchNorm2d(out_channels, affine=False) if batchnorm else nn.Identity()
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        """``ReLU(norm(conv(x)) + bias)``."""
        return torch.relu(self.norm(self.conv(x)) + self.bias[:, None, None])


class InceptionBlock(nn.Module):
    """Concatenation of a 1x1 conv module (``c1`` channels) and a 3x3 one (``c3``)."""

    def __init__(self, in_channels: int, c1: int, c3: int, batchnorm: bool = True):
        super().__init__()
        self.branch1 = ConvModule(in_channels, c1, 1, batchnorm=batchnorm)
        self.branch3 = ConvModule(in_channels, c3, 3, batchnorm=batchnorm)
        self.out_channels = c1 + c3

    def forward(self, x):
        """Channel concatenation of both branches."""
        return torch.cat([self.branch1(x), self.branch3(x)], dim=1)


class Downsample(nn.Module):
    """Concatenation of a 3x3 stride-2 conv module (``c3`` channels) and a 3x3 stride-2 max-pool."""

    def __init__(self, in_channels: int, c3: int, batchnorm: bool = True):
        super().__init__()
        self.conv = ConvModule(in_channels, c3, 3, stride=2, batchnorm=batchnorm)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.out_channels = c3 + in_channels

    def forward(self, x):
        """Channel concatenation of the strided conv and the pool."""
        return torch.cat([self.conv(x), self.pool(x)], dim=1)


#: The body after the stem: ("inception", c1, c3) or ("downsample", c3).
LAYOUT = (
    ("inception", 32, 32),
    ("inception", 32, 48),
    ("downsample", 80),
    ("inception", 112, 48),
    ("inception", 96, 64),
    ("inception", 80, 80),
    ("inception", 48, 96),
    ("downsample", 96),
    ("inception", 176, 160),
    ("inception", 176, 160),
)


class SmallInception(nn.Module):
    """Small Inception for CIFAR-10-sized inputs.

    Parameters
    ----------
    input_shape : tuple of int, default (3, 28, 28)
        ``(C, H, W)`` of one input image.
    num_classes : int, default 10
    batchnorm : bool, default True
        False gives the paper's "Inception w/o BatchNorm" (same parameter count).
    dropout : float, default 0.0
        Dropout probability before the classifier (0 disables it).
    """

    def __init__(
        self,
        input_shape=(3, 28, 28),
        num_classes: int = 10,
        batchnorm: bool = True,
        dropout: float = 0.0,
    ):
        super().__init__()
        blocks: list[nn.Module] = [ConvModule(input_shape[0], 96, 3, batchnorm=batchnorm)]
        channels = 96
        for kind, *widths in LAYOUT:
            block_type = InceptionBlock if kind == "inception" else Downsample
            block = block_type(channels, *widths, batchnorm=batchnorm)
            blocks.append(block)
            channels = block.out_channels
        self.features = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        """Class scores (logits) of shape ``(N, num_classes)`` for images ``(N, C, H, W)``."""
        pooled = self.features(x).mean(dim=(2, 3))
        return self.classifier(self.dropout(pooled))
