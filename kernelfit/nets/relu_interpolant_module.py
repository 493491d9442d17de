"""The Theorem 1 network as a PyTorch module (see :mod:`kernelfit.nets.expressivity`)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ReluInterpolantModule"]


class ReluInterpolantModule(nn.Module):
    """:math:`c(x) = \\sum_j w_j \\max(\\langle a, x\\rangle - b_j, 0)` with ``2n + d`` parameters.

    Parameters
    ----------
    a : array, shape (d,)
    b, w : array, shape (n,)
    dtype : torch.dtype, default torch.float64
        The weights grow like the inverse of the smallest gap between projected
        points; float32 is rarely accurate enough to reproduce the labels.
    """

    def __init__(self, a, b, w, dtype=None):
        super().__init__()
        dtype = dtype or torch.float64
        self.a = nn.Parameter(torch.as_tensor(a, dtype=dtype))
        self.b = nn.Parameter(torch.as_tensor(b, dtype=dtype))
        self.w = nn.Parameter(torch.as_tensor(w, dtype=dtype))

    def forward(self, x):
        """Outputs of shape ``(m,)`` for inputs ``(m, d)``."""
        hidden = torch.relu((x.to(self.a.dtype) @ self.a)[:, None] - self.b[None, :])
        return hidden @ self.w
