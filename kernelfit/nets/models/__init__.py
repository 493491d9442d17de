"""The paper's networks and a registry that builds them by name.

========================  ===============================  ======================
name                      network                          parameters (3x28x28)
========================  ===============================  ======================
``"mlp1x512"``            MLP, one hidden layer of 512      1,209,866
``"mlp3x512"``            MLP, three hidden layers of 512   1,735,178
``"alexnet"``             small AlexNet                     1,387,786
``"inception"``           small Inception (BatchNorm)       1,649,402
``"inception_nobn"``      small Inception w/o BatchNorm     1,649,402
========================  ===============================  ======================

CIFAR-10 models take ``(3, 28, 28)`` crops of the 32x32 images; the MLPs also
take MNIST's ``(1, 28, 28)``. Importing this package imports PyTorch.
"""

from __future__ import annotations

from torch import nn

from .alexnet import SmallAlexNet
from .inception import SmallInception
from .mlp import MLP

__all__ = [
    "MLP",
    "MODEL_NAMES",
    "PAPER_PARAMETER_COUNTS",
    "SmallAlexNet",
    "SmallInception",
    "build_model",
    "canonical_model_name",
    "count_parameters",
    "default_learning_rate",
]

MODEL_NAMES = ("mlp1x512", "mlp3x512", "alexnet", "inception", "inception_nobn")

#: Parameter counts of Table 1 of the paper, for ``(3, 28, 28)`` inputs and 10 classes.
PAPER_PARAMETER_COUNTS = {
    "mlp1x512": 1_209_866,
    "mlp3x512": 1_735_178,
    "alexnet": 1_387_786,
    "inception": 1_649_402,
    "inception_nobn": 1_649_402,
}


def canonical_model_name(name) -> str:
    """The registry name for ``name``, ignoring case, dashes and underscores.

    Raises
    ------
    TypeError
        ``name`` is not a string.
    ValueError
        No model has that name.
    """
    if not isinstance(name, str):
        raise TypeError(f"model name must be a string; found {type(name).__name__}")
    known = {n.replace("_", ""): n for n in MODEL_NAMES}
    key = known.get(name.lower().replace("-", "").replace("_", ""))
    if key is None:
        raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
    return key


def build_model(
    name: str,
    *,
    input_shape=(3, 28, 28),
    num_classes: int = 10,
    batchnorm: bool = True,
    dropout: float = 0.0,
) -> nn.Module:
    """Build one of the paper's networks.

    Parameters
    ----------
    name : str
        One of :data:`MODEL_NAMES` (case-insensitive, ``-`` or ``_``).
    input_shape : tuple of int, default (3, 28, 28)
        ``(C, H, W)`` of one input image.
    num_classes : int, default 10
    batchnorm : bool, default True
        Only for ``"inception"``; False is the same as ``"inception_nobn"``.
    dropout : float, default 0.0
        Dropout probability in [0, 1) before the fully connected layers.

    Returns
    -------
    torch.nn.Module
        Maps ``(N, C, H, W)`` float images to ``(N, num_classes)`` logits.

    Raises
    ------
    ValueError
        Unknown name, a bad input shape or dropout outside [0, 1).
    """
    key = canonical_model_name(name)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes; found {input_shape}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); found {dropout!r}")
    if int(num_classes) < 2:
        raise ValueError(f"num_classes must be >= 2; found {num_classes!r}")
    if key.startswith("mlp"):
        hidden = (512,) if key == "mlp1x512" else (512, 512, 512)
        return MLP(shape, hidden, num_classes, dropout)
    if key == "alexnet":
        return SmallAlexNet(shape, num_classes, dropout)
    return SmallInception(shape, num_classes, batchnorm and key == "inception", dropout)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (batch-normalization running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def default_learning_rate(name: str) -> float:
    """The paper's initial learning rate: 0.1 for Inception, 0.01 for AlexNet and the MLPs."""
    return 0.1 if canonical_model_name(name).startswith("inception") else 0.01
