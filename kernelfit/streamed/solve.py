r"""Exact kernel classification on streamed features, never holding the features.

For feature maps with hundreds of thousands of features per image (random
convolutions, :class:`~kernelfit.features.RandomConvFeatures`), the feature matrix
cannot be materialized. :func:`solve_streamed` instead

1. fits the feature map on the training images;
2. streams filter chunks once and accumulates the training Gram straight into packed
   lower tiles (:class:`~kernelfit.linalg.symmetric_view.SymmetricTileView` over a
   :class:`~kernelfit.linalg.PackedStorage`), the dense test-versus-training Gram,
   and the squared feature norms;
3. turns both into Gaussian kernels in place (bandwidth given, the median heuristic,
   or a held-out choice on the training set) -- or, for ``kernel="linear"``, keeps
   the Grams as they are -- chooses ``reg`` on the held-out part of the training set
   if asked (:mod:`~kernelfit.model_selection.regularization`), keeps a packed copy of ``K``
   and adds ``reg`` to the diagonal of the original;
4. factors it with the tiled Cholesky and solves in float64 (``"mixed"``: a float32
   factor refined against the stored ``K``), once per ridge term asked for
   (:func:`solve_streamed_regs`: e.g. the held-out choice and the interpolant, each
   from a fresh copy of the kept ``K``, so one Gram serves them all);
5. reports ``K alpha`` (float64 products with the stored ``K``), the relative residual
   :math:`\|K\alpha + \mathrm{reg}\,\alpha - Y\| / \|Y\|`, the RKHS norm
   :math:`\sqrt{\alpha^T K \alpha}`, and the test scores ``K(test, train) alpha``.

With ``checkpoint_dir`` the accumulation is saved after every filter chunk
(:mod:`kernelfit.streamed.checkpoint`) and a rerun resumes after the last one saved.

The residual and the refinement are against the *stored* ``K`` (float32 for
``"float32"`` and ``"mixed"``), i.e. the Gaussian of the accumulated Gram rounded to
the storage dtype, not against an exact kernel recomputed from features.

Peak memory: see :mod:`kernelfit.streamed.memory_plan`; ``2 P + C + W``, or
``P + 2 n t s + C + W`` when the budget puts the kept copy of ``K`` in a scratch file
(``keep_kernel``; CPU only). For
``n = 50,000`` training and ``m = 10,000`` test images in float32 with the default
tiles of 2,048 (25 a side, the last 848 wide, 325 lower tiles):

* ``P = (n^2 + 24 * 2048^2 + 848^2) / 2 * 4 B = 5.20 GB`` (4.85 GiB) allocated; the
  budget check counts every tile as full, 325 * 2048^2 * 4 B = 5.45 GB;
* ``C = 10,000 * 50,000 * 4 B = 2.0 GB``; ``W = 2 * 2048^2 * 8 B + 32 MiB = 101 MB``;
* peak about 12.5 GB (11.6 GiB): the factor, the copy of ``K`` and ``C``
  (13.0 GB as planned).

During the accumulation the feature chunk takes the room of the copy of ``K``:
with 8 features per filter, a filter costs ``(n + m + 2048) * 8 * 4 B = 2.0 MB``,
so a 5.45 GB chunk holds about 2,700 filters and 4,000 filters take 2 chunks.
In float64 the same run plans 25.9 GB (24.1 GiB), more than the default budget
(80% of the available memory) of a 24 GiB machine: it is refused before allocating.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import replace

import numpy as np

from ..backend import resolve_device, resolve_precision
from ..features.conv_gram import GRAM_TILE
from ..linalg import PackedStorage
from ..linalg.out_of_core import OutOfCoreStorage
from ..linalg.scratch import new_scratch_dir
from ..linalg.storage_choice import OpenedStorage, discard_tile_storage
from ..linalg.symmetric_view import SymmetricTileView
from ..linalg.tile_matvec import copy_tiles
from ..memory import parse_budget
from ..phase_clock import cpu_by_phase, timed_phase
from ..solvers.gram_sources import StoredGramSource
from ..solvers.pipeline import solve_kernel_system
from ..solvers.targets import encode_targets
from .bandwidth_and_reg import resolve_bandwidth, resolve_reg
from .checkpoint import GramCheckpoint, gram_configuration
from .kernel_tiles import cross_matvec, gaussian_cross, gaussian_tiles
from .memory_plan import filter_cost, plan_streamed_memory
from .solution import (
    DTYPES,
    STREAMED_KERNELS,
    StreamedSolution,
    check_bandwidth,
    check_kernel,
    check_regs,
)

__all__ = ["STREAMED_KERNELS", "StreamedSolution", "solve_streamed", "solve_streamed_regs"]

def solve_streamed(feature_map, X_train, y_train, X_test, *, reg=0.0, **options
                   ) -> StreamedSolution:
    """Fit the feature map, stream the Grams, solve exactly for one ``reg``, score the test.

    :func:`solve_streamed_regs` with ``regs=(reg,)``; the keyword arguments are its own.

    Returns
    -------
    StreamedSolution
    """
    return solve_streamed_regs(feature_map, X_train, y_train, X_test, regs=(reg,),
                               **options)[0]


def solve_streamed_regs(feature_map, X_train, y_train, X_test, *, regs=(0.0,),
                        kernel="gaussian", bandwidth=None, dtype="auto", device="auto",
                        tile_size=None, memory_budget=None, seed=0, filter_chunk=None,
                        checkpoint_dir=None, keep_kernel="auto", scratch_dir=None,
                        progress=None) -> list[StreamedSolution]:
    """Fit the feature map, stream the Grams once, and solve exactly for each ridge term.

    The features are streamed once; the training Gram, the cross Gram, the kernel and
    the bandwidth are shared by every solve. Each ridge term is one Cholesky of a fresh
    copy of the kept ``K`` (the copy the residuals are measured against, counted by the
    memory plan), so several terms cost no more memory than one.

    Parameters
    ----------
    feature_map : RandomConvFeatures
        Unfitted (or to be refitted) transformer with ``accumulate_train_test_grams``;
        its ``memory_budget`` is lowered to the feature-chunk share of the plan.
    X_train : array of n images
    y_train : array of shape (n,)
        Class labels.
    X_test : array of m images
    regs : sequence of float or "auto", default (0.0,)
        Ridge terms added to the diagonal of ``K``, one solution each, in this order;
        ``"auto"`` (at most once): the held-out choice among
        :data:`~kernelfit.model_selection.REG_GRID` (without 0 for the linear kernel)
        times the kernel's mean diagonal (1 for the Gaussian, ``mean ||phi_i||^2`` for
        the linear kernel), at the bandwidth in use (chosen first when
        ``bandwidth="auto"``). ``("auto", 0.0)`` gives the held-out choice and the
        interpolant from one Gram. Equal values are solved once.
    kernel : {"gaussian", "linear"}, default "gaussian"
        ``"gaussian"``: ``exp(-||phi_i - phi_j||^2 / (2 sigma^2))``; ``"linear"``: the
        accumulated Gram ``phi_i . phi_j`` itself (no bandwidth). On standardized
        features the linear Gram is singular (the standardization images' features sum
        to zero), so it wants ``reg > 0`` or ``"auto"``: with ``reg=0`` a Cholesky may
        still pass and give a large ``relative_residual``.
    bandwidth : float, None or "auto", default None
        Gaussian ``sigma`` on the features; None: the median heuristic from the Gram;
        ``"auto"``: the held-out choice among ``(0.5, 0.7, 1, 1.4, 2, 2.8, 4)`` times the
        median (fitted with ``regs[0]``, or with 0 when ``regs`` holds ``"auto"``). Must
        be None for the linear kernel.
    dtype : {"auto", "float32", "float64", "mixed"}, default "auto"
        Storage of ``K``, its factor and the cross Gram (``"mixed"``: float32 storage,
        float64 refinement against the stored ``K``). ``"auto"``: ``"mixed"`` on the
        CPU, ``"float64"`` on a GPU (:func:`kernelfit.backend.resolve_precision`).
    device : {"auto", "cpu", "cuda"}, default "auto"
        Where the tiles live and the factorization runs; must agree with the feature
        map's device (the Gram is accumulated where its features are computed).
    tile_size : int, optional
        Tile edge of the packed storage; by default that of the Gram accumulation
        (2048), so its tiles are added in place.
    memory_budget : int or str, optional
        For everything (see :mod:`kernelfit.streamed.memory_plan`); 80% of the memory
        available now when None.
    seed : int, default 0
        Seed of the held-out split (``"auto"`` bandwidth and ridge: the same split).
    filter_chunk : int, optional
        Filters per chunk of the accumulation; the largest the budget allows when None.
    checkpoint_dir : str or path, optional
        Checkpoint the accumulation there after every filter chunk
        (:mod:`kernelfit.streamed.checkpoint`); a run with the same configuration
        resumes after the last chunk saved (a finished one skips the accumulation), in
        the saved chunk size unless ``filter_chunk`` says otherwise (then refused).
        The directory is kept. None: no checkpoint.
    keep_kernel : {"auto", "memory", "disk"}, default "auto"
        Where the copy of ``K`` kept for the residuals, the refinement and the solves
        after the first lives: packed in RAM, or (CPU only) in a file under
        ``scratch_dir`` read through a working set of two tile columns; ``"auto"``:
        RAM when the plan fits the budget, else disk.
    scratch_dir : str or path, optional
        Parent of the on-disk copy (the system temporary directory when None); the
        copy is deleted when the solves end.
    progress : callable, optional
        Phases ``randconv gram`` (and the feature map's own), ``kernel`` (Gaussian
        only), ``cholesky``, ``solve``, ``refine`` or ``residual``, ``predict``.

    Returns
    -------
    list of StreamedSolution
        One per entry of ``regs``; the ``"auto"`` one carries ``reg_search``.

    Raises
    ------
    ValueError
        A bad ``kernel``, ``dtype``, ``bandwidth``, ``regs``, fewer than 2 classes, or a
        device that disagrees with the feature map's.
    CheckpointMismatchError
        ``checkpoint_dir`` holds a checkpoint of another configuration (before fitting).
    MemoryBudgetError
        The plan does not fit in ``memory_budget`` (checked before allocating).
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}; found {dtype!r}")
    kernel = check_kernel(kernel)
    bandwidth = check_bandwidth(bandwidth, kernel)
    regs = check_regs(regs)
    classes, Y = encode_targets(y_train)
    n, m = len(X_train), len(X_test)
    if len(Y) != n:
        raise ValueError(f"y_train must have one label per training image; found {n} images "
                         f"and {len(Y)} labels")
    if m < 1:
        raise ValueError("X_test must hold at least 1 image; found 0")
    backend = resolve_device(device)
    feature_backend = resolve_device(feature_map.get_params()["device"])
    if feature_backend.device != backend.device:
        raise ValueError(f"the feature map runs on {feature_backend.device} but device={device!r} "
                         f"resolves to {backend.device}; the Gram tiles must live where the "
                         "features are computed")
    dtype = resolve_precision(dtype, backend)
    storage_dtype = np.float64 if dtype == "float64" else np.float32
    # By default the accumulation's own tile edge: each Gram tile it adds lands in exactly
    # one storage tile, updated in place (other edges work, through gathered copies).
    tile = min(int(tile_size or GRAM_TILE), n)
    # The device's free memory bounds the tiles (a GPU's, not the host's RAM).
    if keep_kernel == "disk" and not backend.is_host:
        raise ValueError(f"a copy of K kept on disk needs the CPU; keep_kernel must be "
                         f"'memory' or 'auto' on {backend.device}; found 'disk'")
    if not backend.is_host:
        keep_kernel = "memory"  # a device's tiles are kept on the device
    plan = plan_streamed_memory(n, m, tile, storage_dtype, backend.memory_budget(memory_budget),
                                filters=filter_cost(feature_map, X_train, n + m + tile),
                                keep_kernel=keep_kernel)
    own = feature_map.get_params()["memory_budget"]
    feature_map.set_params(memory_budget=min(plan.feature_budget, parse_budget(own))
                           if own is not None else plan.feature_budget)
    room = plan.budget - plan.packed - plan.cross  # what the kept copy of K takes later
    checkpoint = None if checkpoint_dir is None else GramCheckpoint(checkpoint_dir, (
        gram_configuration(feature_map, X_train, y_train, X_test, tile, storage_dtype)))
    if checkpoint is not None and filter_chunk is None:
        # Resume in the saved chunks (checked against this budget), not in chunks planned
        # from the memory available now.
        filter_chunk = checkpoint.filter_chunk
    timings = {}

    with backend.timed(timings, "features+gram"), checkpoint or contextlib.nullcontext():
        if checkpoint is None or not checkpoint.restore_fitted(feature_map):
            feature_map.fit(X_train)
            if checkpoint is not None:
                checkpoint.save_fitted(feature_map)
        resumed = 0 if checkpoint is None else checkpoint.filters_done
        storage = PackedStorage(n, tile, storage_dtype, backend, plan.budget)
        view = SymmetricTileView(storage)
        cross = np.zeros((m, n), dtype=storage_dtype)  # host: each cross tile copied explicitly
        train_gram, cross_gram = feature_map.accumulate_train_test_grams(
            X_train, X_test, out=view, cross_out=cross, progress=progress,
            filter_chunk=filter_chunk, checkpoint=checkpoint)  # diagonal tiles symmetrized
        norms = train_gram.row_sq_norms

    auto = "auto" in regs
    bandwidth, bandwidth_search = resolve_bandwidth(
        view, norms, y_train, kernel, bandwidth, 0.0 if auto else regs[0], seed, room, timings,
        progress)
    chosen, reg_search = resolve_reg(view, norms, y_train, kernel, bandwidth,
                                      "auto" if auto else 0.0, seed, room, timings, progress)

    with backend.timed(timings, "kernel"):
        if kernel == "gaussian":
            gaussian_tiles(storage, norms, bandwidth, progress=progress)
            gaussian_cross(cross, cross_gram.row_sq_norms, norms, bandwidth)
        stored, kept_dir = _keep_copy(storage, plan, room, scratch_dir)

    shared = dict(classes=classes, targets=Y, kernel=kernel,
                  bandwidth=None if bandwidth is None else float(bandwidth),
                  bandwidth_search=bandwidth_search, n_features=int(feature_map.n_features_out_),
                  resumed_filters=resumed,
                  storage="packed" if kept_dir is None else "packed + copy of K on disk")
    by_reg = {}
    try:
        for reg in dict.fromkeys(chosen if r == "auto" else r for r in regs):
            own_timings = dict(timings)
            with cpu_by_phase() as own_cpu:  # this solve's phases, kept apart
                if by_reg:  # the factor overwrote the first copy: factor a fresh one
                    with timed_phase(own_timings, "copy K"):
                        storage = copy_tiles(stored, memory_budget=room if kept_dir is None
                                             else plan.budget - plan.cross - plan.working)
                by_reg[reg] = _solve_one(storage, stored, cross, Y, reg, dtype, room,
                                         own_timings, shared, progress)
            by_reg[reg] = replace(by_reg[reg], cpu_phases=own_cpu)
    finally:
        storage.close()
        discard_tile_storage(OpenedStorage(stored, kept_dir))
    return [replace(by_reg[chosen], reg_search=reg_search) if r == "auto" else by_reg[r]
            for r in regs]


def _keep_copy(storage, plan, room, scratch_dir):
    """The copy of ``K`` kept beside the factor: packed in RAM, or in a scratch file.

    Returns the storage and the scratch directory (None in RAM).
    """
    if plan.kept == "memory":
        return copy_tiles(storage, memory_budget=room), None
    parent = tempfile.gettempdir() if scratch_dir is None else os.fspath(scratch_dir)
    directory = new_scratch_dir(parent, "kernelfit-kernel-")
    try:
        kept = OutOfCoreStorage(storage.n, directory, storage.tile_size, storage.dtype,
                                memory_budget=plan.working)
        for i in range(storage.nt):
            for j in range(i + 1):
                kept.store(i, j, storage.backend.to_numpy(storage.tile(i, j)))
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return kept, directory


def _solve_one(storage, stored, cross, Y, reg, dtype, room, timings, shared, progress):
    """Factor ``storage`` (``K``, overwritten) with ``reg`` added, solve, score the test."""
    source = StoredGramSource(storage, stored, fallback_budget=room)
    solved = solve_kernel_system(source, Y, reg=reg, dtype=dtype, progress=progress)
    timings.update(solved.timings)
    with timed_phase(timings, "predict"):  # on the host: no device work to wait for
        scores = cross_matvec(cross, solved.alpha, progress=progress)
    return StreamedSolution(
        dual_coef=solved.alpha, train_scores=solved.K_alpha, test_scores=scores,
        reg=float(reg), reg_search=None, relative_residual=solved.relative_residual,
        rkhs_norm=solved.rkhs_norm, solver=solved.solver, refinement=solved.refinement,
        timings=timings, **shared)

