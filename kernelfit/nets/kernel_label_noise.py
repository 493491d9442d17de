"""The kernel counterpart of the randomization test (beyond the paper).

The same label corruptions as :func:`kernelfit.nets.figure1.run_label_noise`,
fitted by exact kernel interpolation (:class:`kernelfit.KernelClassifier`,
``reg=0`` by default: the minimum-RKHS-norm function through the one-hot
labels). Each level reports the training error (0 for an interpolant), the
test error against the true test labels, and the RKHS norm of the
interpolant, which grows as the labels carry less structure.

No PyTorch here: images are flattened and scaled to [0, 1].
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..progress import phase
from ..tables import markdown_table
from .corruptions import check_probability, corrupt_labels

__all__ = ["KernelNoiseRun", "KernelNoiseSweep", "run_kernel_label_noise"]


@dataclass
class KernelNoiseRun:
    """One exact kernel fit to corrupted labels.

    Attributes
    ----------
    p : float
    seed : int
    train_error : float
        Error on the corrupted training labels that were fitted.
    test_error : float
        Error on the true test labels.
    rkhs_norm : float
        ``sqrt(alpha^T K alpha)`` of the fitted interpolant (summed over classes).
    labels_changed_fraction : float
    fit_seconds : float
        This run's share of the sweep's time: all runs share one Gram matrix
        and one factorization (their labels are solved as extra columns).
    """

    p: float
    seed: int
    train_error: float
    test_error: float
    rkhs_norm: float
    labels_changed_fraction: float
    fit_seconds: float


@dataclass
class KernelNoiseSweep:
    """Kernel fits at each corruption level and seed."""

    dataset: dict
    kernel: dict
    runs: list[KernelNoiseRun] = field(default_factory=list)

    def levels(self) -> list[float]:
        """The corruption probabilities, sorted."""
        return sorted({run.p for run in self.runs})

    def by_level(self, name: str) -> dict[float, list[float]]:
        """Values of the run attribute ``name`` at each ``p`` (one per seed)."""
        out: dict[float, list[float]] = {p: [] for p in self.levels()}
        for run in self.runs:
            out[run.p].append(getattr(run, name))
        return out

    def describe_kernel(self) -> str:
        """E.g. ``"gaussian kernel, bandwidth 5"``."""
        text = f"{self.kernel.get('kernel')} kernel"
        if self.kernel.get("bandwidth") is not None:
            text += f", bandwidth {self.kernel['bandwidth']:g}"
        if self.kernel.get("reg"):
            text += f", reg {self.kernel['reg']:g}"
        return text

    def to_markdown(self) -> str:
        """Mean ± standard deviation over seeds at each level."""
        columns = {k: self.by_level(k) for k in ("train_error", "test_error", "rkhs_norm")}
        rows = []
        for p in self.levels():
            tr, te, norm = (np.asarray(columns[k][p]) for k in columns)
            rows.append([f"{p:g}", str(len(tr)), f"{100 * tr.mean():.2f}",
                         f"{100 * te.mean():.2f} ± {100 * te.std():.2f}",
                         f"{norm.mean():.4g} ± {norm.std():.2g}"])
        headers = ("p", "Seeds", "Train error (%)", "Test error (%)", "RKHS norm")
        return f"{self.describe_kernel()}\n\n" + markdown_table(headers, rows)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return {"experiment": "kernel_label_noise", "dataset": self.dataset,
                "kernel": self.kernel, "runs": [dataclasses.asdict(r) for r in self.runs]}


def _flatten01(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"images must be (n, ...) arrays; found shape {X.shape}")
    out = X.reshape(X.shape[0], -1).astype(np.float64)
    return out / 255.0 if X.dtype == np.uint8 else out


def run_kernel_label_noise(X_train, y_train, X_test, y_test, *, ps=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
                           seeds=(0,), kernel: str = "gaussian", bandwidth: float | None = None,
                           reg: float = 0.0, num_classes: int = 10, device: str = "auto",
                           memory_budget=None, dataset: dict | None = None,
                           progress=None) -> KernelNoiseSweep:
    """Fit exact kernel interpolants to partially corrupted labels at each level.

    Parameters
    ----------
    X_train, X_test : ndarray, shape (n, ...) and (m, ...)
        Images; uint8 pixels are scaled to [0, 1], each image flattened to a row.
    y_train, y_test : ndarray of int, shape (n,) and (m,)
    ps : sequence of float, default (0, 0.2, 0.4, 0.6, 0.8, 1)
    seeds : sequence of int, default (0,)
    kernel : str, default "gaussian"
    bandwidth : float, optional
        Passed to the estimator (its default when None).
    reg : float, default 0.0
        0 gives the minimum-norm interpolant.
    num_classes : int, default 10
    device : {"auto", "cpu", "cuda"} or Backend, default "auto"
        Resolved once; the solve and the test scores run there.
    memory_budget : int or str, optional
        For the ``n x n`` Gram storage.
    dataset : dict, optional
        Description of the data, copied into the result.
    progress : callable, optional
        Receives a ``"kernel fits"`` phase (the solve pipeline, then predict) and
        the phases of those steps.

    Returns
    -------
    KernelNoiseSweep
    """
    from ..backend import resolve_device
    from ..gram_builder import kernel_matvec
    from ..kernels import make_kernel
    from ..solvers.gram_sources import KernelGramSource
    from ..solvers.pipeline import solution_metrics, solve_kernel_system
    from ..solvers.targets import one_hot

    levels = tuple(check_probability(p) for p in ps)
    seeds = tuple(seeds)
    if not levels or not seeds:
        raise ValueError(f"need at least one p and one seed; found ps={ps!r}, seeds={seeds!r}")
    F_train, F_test = _flatten01(X_train), _flatten01(X_test)
    if F_train.shape[1] != F_test.shape[1]:
        raise ValueError(f"train and test images differ in size: {F_train.shape[1]} values "
                         f"per image against {F_test.shape[1]}")
    y_test = np.asarray(y_test)
    if len(y_test) != len(F_test) or len(y_train) != len(F_train):
        raise ValueError(f"labels and images differ in number: train {len(y_train)} vs "
                         f"{len(F_train)}, test {len(y_test)} vs {len(F_test)}")
    k = make_kernel(kernel, bandwidth=bandwidth, X=F_train)
    sweep = KernelNoiseSweep(dict(dataset or {}), {"kernel": kernel, "bandwidth": k.bandwidth,
                                                   "reg": reg})
    sweep.dataset.setdefault("n_train", len(F_train))
    sweep.dataset.setdefault("n_test", len(F_test))
    runs = [(p, seed, corrupt_labels(y_train, p, num_classes, seed))
            for p in levels for seed in seeds]
    # K depends only on the images: one factorization serves every level and seed,
    # with the one-hot labels of all runs stacked as right-hand sides.
    classes = np.arange(num_classes)
    Y = np.concatenate([one_hot(lab.labels, classes) for _, _, lab in runs], axis=1)
    backend = resolve_device(device)  # once: the layers below get the Backend
    backend.synchronize()
    start = time.perf_counter()
    with phase(progress, "kernel fits", total=2, unit="steps") as bar:
        source = KernelGramSource(F_train, k, device=backend, storage="packed",
                                  memory_budget=memory_budget)
        solution = solve_kernel_system(source, Y, reg=reg, dtype="float64",
                                       progress=progress)
        alpha, KA = solution.alpha, solution.K_alpha
        bar.advance()
        # K(test, train) alpha on the device, copied to the host explicitly.
        scores = backend.to_numpy(kernel_matvec(F_test, F_train, alpha, k, device=backend,
                                                progress=progress, phase_name="predict"))
        bar.advance()
    seconds = (time.perf_counter() - start) / len(runs)
    for r, (p, seed, labels) in enumerate(runs):
        cols = slice(r * num_classes, (r + 1) * num_classes)
        fitted = KA[:, cols] + reg * alpha[:, cols]
        sweep.runs.append(KernelNoiseRun(
            p=p, seed=int(seed),
            train_error=float(np.mean(fitted.argmax(1) != labels.labels)),
            test_error=float(np.mean(scores[:, cols].argmax(1) != y_test)),
            rkhs_norm=solution_metrics(Y[:, cols], alpha[:, cols], reg, KA[:, cols])[1],
            labels_changed_fraction=labels.changed_fraction, fit_seconds=seconds))
    return sweep
