"""scikit-learn estimators for exact kernel regression and classification.

Thin layers: they validate, build a Gram source (data plus the kernel, on this
machine or on Dask), call the solve pipeline
(:func:`kernelfit.solvers.pipeline.solve_kernel_system`) and keep the fitted state.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .backend import to_numpy
from .gram_builder import kernel_matvec
from .kernels import make_kernel
from .solvers.gram_sources import KernelGramSource
from .solvers.pipeline import PIPELINE_SOLVERS, solve_kernel_system, storage_precision
from .solvers.targets import decode_scores, encode_targets
from .validation import check_count, check_finite_rows, check_nonnegative

__all__ = ["KernelClassifier", "KernelRegressor"]


class _ExactKernelModel(BaseEstimator):
    """Shared fit/decision machinery; not part of the public API."""

    def __init__(
        self,
        kernel="gaussian",
        bandwidth=None,
        reg=0.0,
        solver="auto",
        dtype=None,
        device="auto",
        memory_budget=None,
        degree=3,
        gamma=None,
        coef0=1.0,
        tile_size=None,
        progress=None,
        backend="local",
        client=None,
        keep_kernel="auto",
        storage="auto",
        scratch_dir=None,
    ):
        self.kernel = kernel
        self.bandwidth = bandwidth
        self.reg = reg
        self.solver = solver
        self.dtype = dtype
        self.device = device
        self.memory_budget = memory_budget
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self.tile_size = tile_size
        self.progress = progress
        self.backend = backend
        self.client = client
        self.keep_kernel = keep_kernel
        self.storage = storage
        self.scratch_dir = scratch_dir

    def _validate_X(self, X, reset):
        X = validate_data(
            self, X, reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        check_finite_rows(X, "X")
        return X

    def _fit_dual(self, X, Y):
        """Solve ``(K + reg I) alpha = Y``; sets every fitted attribute."""
        reg = check_nonnegative(self.reg, "reg")
        check_count(self.tile_size, "tile_size")
        if self.backend not in ("local", "dask"):
            raise ValueError(f"backend must be 'local' or 'dask'; found {self.backend!r}")
        if self.backend == "dask":
            from .distributed.estimator_backend import dask_gram_source

            source = dask_gram_source(self, X, Y, reg)
            if source is None:  # solved by the matrix-free PCG
                return self
        else:
            storage_precision(self.dtype)
            if self.solver not in PIPELINE_SOLVERS:
                raise ValueError(f"solver must be 'auto', 'cholesky', 'lu' or 'lstsq'; found "
                                 f"{self.solver!r}")
            self.kernel_ = make_kernel(
                self.kernel, bandwidth=self.bandwidth, degree=self.degree, gamma=self.gamma,
                coef0=self.coef0, X=X,
            )
            source = KernelGramSource(
                X, self.kernel_, device=self.device, storage=self.storage,
                tile_size=self.tile_size, memory_budget=self.memory_budget,
                scratch_dir=self.scratch_dir, keep_kernel=self.keep_kernel)
        solution = solve_kernel_system(source, Y, reg=reg, dtype=self.dtype or "float64",
                                       solver=self.solver, residual=False,
                                       progress=self.progress)
        self.solution_ = solution
        self.timings_ = dict(solution.timings)
        self.storage_ = solution.storage
        self.resumed_panels_ = solution.resumed_panels
        self.solver_ = solution.solver
        if solution.refinement is not None:
            self.refinement_ = solution.refinement
        self.rkhs_norm_ = solution.rkhs_norm
        self.dual_coef_ = solution.alpha
        self.X_fit_ = X
        return self

    def _decision(self, X):
        check_is_fitted(self, "dual_coef_")
        X = self._validate_X(X, reset=False)
        if self.backend == "dask":
            from .distributed.estimator_backend import decision

            return decision(self, X)
        return to_numpy(kernel_matvec(
            X, self.X_fit_, self.dual_coef_, self.kernel_, device=self.device,
            memory_budget=self.memory_budget, progress=self.progress,
        ))


class KernelRegressor(RegressorMixin, _ExactKernelModel):
    """Exact kernel (ridge) regression; ``reg=0`` gives the minimum-norm interpolant.

    Solves ``(K + reg I) alpha = y`` with the tiled Cholesky on packed lower
    tiles (``n^2 / 2`` numbers), falling back to LU or least squares if the
    matrix is not numerically positive definite.

    Parameters
    ----------
    kernel : {"gaussian", "laplacian", "linear", "polynomial"} or callable, default "gaussian"
    bandwidth : float, optional
        ``sigma`` of the gaussian/laplacian kernel; the median heuristic if None.
    reg : float, default 0.0
        Ridge regularization added to the diagonal.
    solver : {"auto", "cholesky", "lu", "lstsq"}, default "auto"
    dtype : {None, "float32", "float64", "mixed"}, default None
        Storage dtype of the Gram matrix and factor (float64 when None).
        Triangular solves always run in float64. ``"mixed"``: a float32
        factor corrected by float64 iterative refinement with matrix-free
        residuals, about half the factorization time of float64 for the same
        accuracy (see ``keep_kernel``).
    device : {"auto", "cpu", "cuda"}, default "auto"
    memory_budget : int or str, optional
        Bytes (or e.g. ``"16GiB"``) for the n x n storage; refused before allocating.
    degree, gamma, coef0 : float
        Polynomial kernel parameters.
    tile_size : int, optional
        Tile edge of the factorization (2048 by default).
    progress : callable, optional
        Progress callback (:mod:`kernelfit.progress`).
    backend : {"local", "dask"}, default "local"
        ``"dask"`` runs the solve and predictions on a Dask cluster
        (:mod:`kernelfit.distributed`, the ``dask`` extra): ``solver`` "auto" or
        "cholesky" is the distributed tiled Cholesky, ``"pcg"`` the matrix-free
        preconditioned conjugate gradients; ``memory_budget`` is replaced by
        the workers' memory limits.
    client : None, distributed.Client or str, default None
        With ``backend="dask"``: a client, a scheduler address, ``"local:N"``,
        or None for the current default client. A string survives ``clone``.
    keep_kernel : {"auto", "memory", "disk", False}, default "auto"
        Only with ``dtype="mixed"``: keep ``K`` in float64 (packed, ``4 n^2``
        bytes) beside the float32 factor, so that each refinement step is a
        product with the stored tiles instead of recomputing every kernel
        block from the data. ``"auto"`` keeps it in RAM when both fit
        ``memory_budget`` (n up to about 50,000 in 24 GiB), else in a file
        under ``scratch_dir``, else not at all; ``"memory"`` or ``"disk"``
        forces the place (:func:`kernelfit.linalg.storage_choice.open_kept_kernel`).
    storage : {"auto", "packed", "out-of-core"}, default "auto"
        Where the tiles of ``K`` live (:mod:`kernelfit.linalg.storage_choice`):
        packed lower tiles in RAM, or a memory-mapped file on disk with a
        working set of two tile columns. ``"auto"`` goes out of core when the
        packed tiles exceed ``memory_budget``.
    scratch_dir : str or path, optional
        Parent directory of the out-of-core tiles (the system temporary
        directory by default). A fit that is killed leaves its tiles there and
        the same fit run again resumes from the last finished panel; a fit
        that finishes deletes them.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n,) or (n, k)
    rkhs_norm_ : float
        ``sqrt(alpha^T K alpha)`` (summed over outputs).
    X_fit_ : ndarray of shape (n, d)
    kernel_ : Kernel
        The kernel with its resolved bandwidth.
    solver_ : str
        The method that produced ``dual_coef_``.
    storage_ : str
        ``"packed"`` or ``"out-of-core (SIZE in DIR)"``, with ``" + float64
        copy of K in memory"`` or ``"on disk"`` (see ``keep_kernel``).
    resumed_panels_ : int
        Factorized panels an out-of-core fit found on disk and did not redo.
    timings_ : dict
        Seconds spent in ``gram``, ``cholesky`` and ``solve``.
    refinement_ : RefinementInfo
        Only with ``dtype="mixed"``: iterations and residuals of the refinement.
    solution_ : Solution
        The pipeline's record (:class:`kernelfit.solvers.pipeline.Solution`);
        ``K_alpha`` and the residual are measured only with the refinement
        (:func:`~kernelfit.solvers.pipeline.measure_solution` fills them).
        Not set with ``solver="pcg"``.
    pcg_info_ : PCGInfo
        Only with ``backend="dask", solver="pcg"``: iterations and residuals.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y):
        """Fit the exact kernel model to ``X`` (n, d) and ``y`` (n,) or (n, k)."""
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False,
            multi_output=True, y_numeric=True,
        )
        check_finite_rows(X, "X")
        check_finite_rows(y, "y")
        return self._fit_dual(X, np.asarray(y, np.float64))

    def predict(self, X):
        """Predict ``f(X) = K(X, X_fit_) @ dual_coef_``."""
        return self._decision(X)


class KernelClassifier(ClassifierMixin, _ExactKernelModel):
    """Exact kernel classification by regression on one-hot targets (as in Zhang et al.).

    Multiclass labels become one-hot rows (two classes: one column of
    +-1); the decision is the arg-max of the fitted function. Parameters and
    fitted attributes are those of :class:`KernelRegressor`, plus ``classes_``
    (:func:`kernelfit.solvers.targets.encode_targets` maps labels to the fitted
    targets).
    """

    def fit(self, X, y):
        """Fit to ``X`` (n, d) and class labels ``y`` (n,)."""
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], ensure_all_finite=False
        )
        check_finite_rows(X, "X")
        check_classification_targets(y)
        self.classes_, Y = encode_targets(y)
        return self._fit_dual(X, Y)

    def decision_function(self, X):
        """Scores of shape (n,) for two classes, (n, n_classes) otherwise."""
        return self._decision(X)

    def predict(self, X):
        """Predicted class labels."""
        return decode_scores(self.decision_function(X), self.classes_)
