"""Choose the PyTorch device once per public call."""

from __future__ import annotations

import warnings

import torch

__all__ = ["resolve_torch_device"]

_warned_auto = False


def resolve_torch_device(device: str = "auto") -> torch.device:
    """Resolve ``"auto" | "cpu" | "cuda"`` (or ``"cuda:N"``) to a :class:`torch.device`.

    Parameters
    ----------
    device : str, default "auto"
        ``"auto"`` takes the GPU when PyTorch sees one and otherwise the CPU;
        ``"cuda"`` requires one.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        An unknown device name.
    RuntimeError
        ``"cuda"`` was requested but PyTorch sees no CUDA device.
    """
    global _warned_auto
    if not isinstance(device, str) or not (
        device in ("auto", "cpu") or device.split(":")[0] == "cuda"
    ):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]'; found {device!r}")
    if device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda" if device == "auto" else device)
    if device != "auto":
        raise RuntimeError(
            f"device={device!r} was requested but PyTorch sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})"
        )
    if not _warned_auto and torch.version.cuda is not None:
        warnings.warn("PyTorch has CUDA support but sees no GPU; training on the CPU", stacklevel=3)
        _warned_auto = True
    return torch.device("cpu")
