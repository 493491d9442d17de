"""One exact kernel experiment on a labelled image data set, end to end.

``load -> (features) -> Gram into packed tiles -> tiled Cholesky -> float64
solves -> matrix-free residual -> predict``, with a timing per phase, the
peak memory, and a JSON-ready :class:`ExperimentResult`. The CLI's data-set
commands and ``kernelfit reproduce`` are faces over :func:`run_experiment`.
With ``features="randconv"`` the features are never materialized: they are
streamed into the Gram tiles (:func:`kernelfit.streamed.solve_streamed`).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from .backend import resolve_device, resolve_precision, to_numpy
from .experiment_records import (
    DEFAULT_BANDWIDTH,
    ExperimentConfig,
    ExperimentResult,
    config_record,
)
from .experiment_setup import (
    STREAMED_FEATURES,
    check_config,
    configured_feature_map,
    configured_streamed_feature_map,
)
from .gram_builder import kernel_matvec
from .kernels import make_kernel
from .memory import parse_budget
from .memory_usage import AnonymousPeak, ProcessCpu, peak_rss
from .model_selection import AUTO_BANDWIDTH_FACTORS, select_bandwidth
from .phase_clock import add_to_record, cpu_by_phase, timed_phase
from .progress import phase
from .provenance import environment
from .solvers.gram_sources import KernelGramSource
from .solvers.pipeline import measure_solution
from .solvers.targets import decode_scores, encode_targets

__all__ = [
    "DEFAULT_BANDWIDTH",
    "ExperimentConfig",
    "ExperimentResult",
    "run_experiment",
]


def _load(config, progress):
    from . import datasets

    loader = {"mnist": datasets.load_mnist, "fashion-mnist": datasets.load_fashion_mnist,
              "cifar10": datasets.load_cifar10}.get(config.dataset)
    if loader is None:
        raise ValueError(f"unknown dataset {config.dataset!r}; expected mnist, fashion-mnist "
                         "or cifar10")
    data = loader(data_dir=config.data_dir, progress=progress, download=config.download)
    rng = np.random.default_rng(config.seed)

    def subset(X, y, n, name):
        if n is None or n == len(y):
            return X, y
        if n > len(y):
            split = {"n_train": "training", "n_test": "test"}[name]
            raise ValueError(f"{name} must be at most the size of the {data.display_name} "
                             f"{split} set, {len(y):,} images (omit it to use them all); "
                             f"found {n:,}")
        idx = np.sort(rng.permutation(len(y))[:n])
        return X[idx], y[idx]

    Xtr, ytr = subset(data.X_train, data.y_train, config.n_train, "n_train")
    Xte, yte = subset(data.X_test, data.y_test, config.n_test, "n_test")
    return data, Xtr, ytr, Xte, yte


def _features(config, Xtr, Xte, dtype, progress):
    """Training and test features, and the record of the feature map (None on pixels)."""
    if config.features in (None, "none"):
        flat = [X.reshape(len(X), -1).astype(dtype) / dtype(255) for X in (Xtr, Xte)]
        return flat[0], flat[1], None
    from .features.feature_map_records import feature_map_record

    fmap = configured_feature_map(config)
    if "progress" in fmap.get_params():
        fmap.set_params(progress=progress)
    Ftr = np.asarray(fmap.fit_transform(Xtr), dtype=dtype)
    Fte = np.asarray(fmap.transform(Xte), dtype=dtype)
    return Ftr, Fte, feature_map_record(fmap)


def _run_streamed(config, data, Xtr, ytr, Xte, yte, timings, started, progress):
    """``features="randconv"``: features streamed into Gram tiles, never materialized."""
    from .features.feature_map_records import feature_map_record
    from .streamed import solve_streamed_regs
    from .streamed.solution import SHARED_PHASES

    fmap = configured_streamed_feature_map(config)
    fmap.set_params(progress=progress)
    auto_reg = config.reg == "auto"
    # With reg="auto" the interpolant comes from the same Gram, reported beside the choice.
    solution, *unregularized = solve_streamed_regs(
        fmap, Xtr, ytr, Xte, kernel=config.kernel, bandwidth=config.bandwidth,
        regs=("auto", 0.0) if auto_reg else (config.reg,), dtype=config.dtype,
        device=config.device, tile_size=config.tile_size, memory_budget=config.memory_budget,
        seed=config.seed, checkpoint_dir=config.checkpoint_dir, scratch_dir=config.scratch_dir,
        progress=progress,
    )
    timings.update(solution.timings)
    add_to_record(solution.cpu_phases)  # each solve's own phases, named like its timings
    extra = None
    for fit in unregularized:
        timings.update({f"reg 0: {k}": v for k, v in fit.timings.items()
                        if k not in SHARED_PHASES})
        add_to_record(fit.cpu_phases, prefix="reg 0: ")
        extra = {"reg": fit.reg, **_errors(fit, ytr, yte), "rkhs_norm": fit.rkhs_norm,
                 "relative_residual": fit.relative_residual, "solver": fit.solver}
    versions, machine = environment()
    return ExperimentResult(
        config=config_record(config, solution.bandwidth_search, solution.refinement,
                              solution.reg_search if auto_reg else None,
                              solution.reg if auto_reg else None),
        dataset={"name": data.display_name, **data.source.to_dict()},
        n_train=len(ytr), n_test=len(yte), n_features=solution.n_features,
        bandwidth=solution.bandwidth, **_errors(solution, ytr, yte),
        rkhs_norm=solution.rkhs_norm, relative_residual=solution.relative_residual,
        solver=solution.solver, storage=solution.storage,
        timings={k: round(v, 3) for k, v in timings.items()}, peak_rss_bytes=peak_rss(),
        versions=versions, machine=machine, started=started, unregularized=extra,
        resumed_filters=None if config.checkpoint_dir is None else solution.resumed_filters,
        feature_map=feature_map_record(fmap),
    )


def _errors(solution, ytr, yte) -> dict:
    """Training and test classification errors of a streamed solution."""
    return {"train_error": float(np.mean(solution.predict(solution.train_scores) != ytr)),
            "test_error": float(np.mean(solution.predict(solution.test_scores) != yte))}


def run_experiment(config: ExperimentConfig, progress=None) -> ExperimentResult:
    """Run one exact kernel experiment; see the module docstring for the phases.

    Parameters
    ----------
    config : ExperimentConfig
        ``reg="auto"`` (a ridge term chosen on a held-out part of the training set) and
        ``kernel="linear"`` on the features are for the streamed feature maps
        (``features="randconv"``, whose kernel is ``"gaussian"`` or ``"linear"``).
    progress : callable, optional
        Progress callback; phases ``load``, ``features``, ``gram``, ``cholesky``,
        ``solve``, ``residual`` and ``predict``. With ``features="randconv"``
        (streamed, :func:`kernelfit.streamed.solve_streamed`): ``load``, the feature
        map's phases, ``randconv gram``, ``kernel``, ``cholesky``, ``solve``,
        ``refine`` or ``residual``, and ``predict``.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    ValueError
        A bad ``dtype`` or ``reg``, ``reg="auto"`` without a streamed feature map, or a
        kernel or Dask setting the streamed path does not support (before loading data).
    """
    with AnonymousPeak() as anonymous, ProcessCpu() as cpu, cpu_by_phase() as phases:
        result = _run_experiment(config, progress)
    result.peak_anonymous_bytes = anonymous.peak
    result.cpu = {**cpu.to_dict(), "phases": phases}
    return result


def _gram_source(config, Ftr, kernel):
    """The fitted kernel as a Gram source: its float64 product gives the residual."""
    if config.dask:
        from .distributed.gram_source import DaskGramSource

        return DaskGramSource(Ftr, kernel, client=config.dask)
    return KernelGramSource(Ftr, kernel, device=config.device)


def _run_experiment(config, progress):
    from .estimators import KernelClassifier

    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if config.dtype not in ("auto", "float32", "float64", "mixed"):
        raise ValueError(f"dtype must be auto, float32, float64 or mixed; found {config.dtype!r}")
    auto = config.dtype == "auto"
    if auto:  # the device's default until n is known; recorded as resolved
        config = replace(config, dtype=resolve_precision("auto", resolve_device(config.device)))
    check_config(config)
    timings = {}
    with timed_phase(timings, "load"), phase(progress, "load", total=1,
                                             unit="data sets") as bar:
        data, Xtr, ytr, Xte, yte = _load(config, progress)
        bar.advance()
    if config.features in STREAMED_FEATURES:
        return _run_streamed(config, data, Xtr, ytr, Xte, yte, timings, started, progress)
    precision_choice = None
    if auto and not config.dask:  # mixed where it pays here (kernelfit.precision_choice)
        from .precision_choice import choose_precision

        precision_choice = choose_precision(len(ytr), resolve_device(config.device),
                                            d=int(np.prod(Xtr.shape[1:])))
        config = replace(config, dtype=precision_choice.precision)
    dtype = np.float64 if config.dtype == "float64" else np.float32
    mixed = config.dtype == "mixed"
    with timed_phase(timings, "features"):
        Ftr, Fte, feature_map = _features(config, Xtr, Xte, dtype, progress)
    bandwidth = config.bandwidth
    bandwidth_search = None
    if config.kernel in ("gaussian", "laplacian"):
        if bandwidth == "auto":
            # The search's own fits are not the final fit's phases: their CPU stays inside.
            with timed_phase(timings, "bandwidth_search"), cpu_by_phase():
                median = make_kernel(config.kernel, X=Ftr).bandwidth
                grid = [median * f for f in AUTO_BANDWIDTH_FACTORS]
                bandwidth, bandwidth_search = select_bandwidth(Ftr, ytr, config.kernel, grid,
                                                               config.seed, progress=progress)
        elif bandwidth is None:
            bandwidth = (DEFAULT_BANDWIDTH.get(config.dataset)
                         if config.features in (None, "none") else None)
    budget = parse_budget(config.memory_budget)
    clf = KernelClassifier(
        kernel=config.kernel, bandwidth=bandwidth, reg=config.reg,
        dtype="mixed" if mixed else dtype,
        device=config.device, memory_budget=budget, tile_size=config.tile_size,
        storage=config.storage, scratch_dir=config.scratch_dir, progress=progress,
        backend="dask" if config.dask else "local", client=config.dask,
    )
    clf.fit(Ftr, ytr)
    kernel = clf.kernel_
    Y = encode_targets(ytr)[1]
    solution = measure_solution(clf.solution_, _gram_source(config, Ftr, kernel), Y,
                                progress=progress)
    timings.update(solution.timings)
    refinement = solution.refinement
    train_pred = decode_scores(solution.K_alpha, clf.classes_)
    with timed_phase(timings, "predict"):
        scores = to_numpy(clf.decision_function(Fte) if config.dask else kernel_matvec(
            Fte, Ftr, clf.dual_coef_, kernel, device=config.device, progress=progress,
            phase_name="predict"))
        test_pred = decode_scores(scores, clf.classes_)
    versions, machine = environment()
    cfg = config_record(config, bandwidth_search, refinement)
    if precision_choice is not None:
        cfg["dtype_choice"] = precision_choice.reason
    return ExperimentResult(
        config=cfg, dataset={"name": data.display_name, **data.source.to_dict()},
        n_train=len(ytr), n_test=len(yte), n_features=int(Ftr.shape[1]),
        bandwidth=kernel.bandwidth, train_error=float(np.mean(train_pred != ytr)),
        test_error=float(np.mean(test_pred != yte)), rkhs_norm=solution.rkhs_norm,
        relative_residual=solution.relative_residual, solver=solution.solver,
        storage=solution.storage,
        timings={k: round(v, 3) for k, v in timings.items()}, peak_rss_bytes=peak_rss(),
        versions=versions, machine=machine, started=started, feature_map=feature_map,
    )
