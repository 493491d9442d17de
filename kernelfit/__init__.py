"""kernelfit: exact kernel regression and minimum-norm linear models."""

__version__ = "0.1.0"
