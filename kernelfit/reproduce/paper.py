"""The figures Zhang et al. report, to set beside the measured ones.

Source: "Understanding deep learning (still) requires rethinking
generalization", Communications of the ACM 64(3), 2021: Section 5 (kernel
results, quoted in the text) and Table 1 (CIFAR-10 networks). Test errors are
fractions; ``None`` means the paper gives no figure.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAPER_KERNEL", "PAPER_TABLE1", "PaperFigure"]


@dataclass(frozen=True)
class PaperFigure:
    """One kernel result of Section 5.

    Attributes
    ----------
    label : str
        Row label in the report.
    test_error : float
    rkhs_norm : float or None
        "approximately 220" (raw MNIST) and 390 (Gabor MNIST).
    setting : str
        How the paper obtained it.
    """

    label: str
    test_error: float
    rkhs_norm: float | None
    setting: str


#: Section 5 results, keyed by the report row that measures them: a step's name, or a
#: row of its :attr:`~kernelfit.reproduce.plan.Step.report_rows` (the random-conv
#: interpolant and its "+ l2" row come from one step).
PAPER_KERNEL = {
    "mnist-gaussian": PaperFigure(
        "MNIST, Gaussian kernel on pixels", 0.012, 220.0,
        "60,000 train; K alpha = y, no regularization; LAPACK, 24 cores, 256 GB, < 3 min"),
    "mnist-gabor": PaperFigure(
        "MNIST, Gabor wavelet transform first", 0.006, 390.0,
        "60,000 train; no regularization"),
    "cifar10-pixels": PaperFigure(
        "CIFAR-10, Gaussian kernel on pixels", 0.46, None,
        "50,000 train; no regularization"),
    "cifar10-randconv": PaperFigure(
        "CIFAR-10, random-conv features", 0.17, None,
        "32,000 random filters; no regularization, no augmentation"),
    "cifar10-randconv-l2": PaperFigure(
        "CIFAR-10, random-conv features + l2", 0.15, None,
        "32,000 random filters; l2 regularization"),
}

#: Table 1 rows for the models the CPU runs cover: (model, random crop, weight
#: decay, labels) -> (train accuracy %, test accuracy %).
PAPER_TABLE1 = {
    ("mlp3x512", False, True, "true"): (100.0, 53.35),
    ("mlp3x512", False, False, "true"): (100.0, 52.39),
    ("mlp3x512", False, False, "random"): (100.0, 10.48),
    ("mlp1x512", False, True, "true"): (99.80, 50.39),
    ("mlp1x512", False, False, "true"): (100.0, 50.51),
    ("mlp1x512", False, False, "random"): (99.34, 10.61),
    ("alexnet", True, True, "true"): (99.90, 81.22),
    ("alexnet", True, False, "true"): (99.82, 79.66),
    ("alexnet", False, True, "true"): (100.0, 77.36),
    ("alexnet", False, False, "true"): (100.0, 76.07),
    ("alexnet", False, False, "random"): (99.82, 9.86),
    ("inception", True, True, "true"): (100.0, 89.05),
    ("inception", True, False, "true"): (100.0, 89.31),
    ("inception", False, True, "true"): (100.0, 86.03),
    ("inception", False, False, "true"): (100.0, 85.75),
    ("inception", False, False, "random"): (100.0, 9.78),
}
