"""The tiled Cholesky factorization ``A = L L^T`` as an explicit graph of tile operations.

:func:`cholesky_graph` lists the operations of the right-looking algorithm on
named tiles, each with the tiles it reads and the tile it writes, so another
scheduler (a Dask cluster, a GPU stream) can run the same graph.
:func:`tiled_cholesky` runs it in order on a :class:`~kernelfit.linalg.TileStorage`
with one BLAS-3 call per operation:

* ``potrf(k)``: ``L_kk = chol(A_kk)``
* ``trsm(i, k)``: ``L_ik = A_ik L_kk^{-T}``
* ``syrk(j, k)``: ``A_jj -= L_jk L_jk^T``
* ``gemm(i, j, k)``: ``A_ij -= L_ik L_jk^T``
"""

from __future__ import annotations

from dataclasses import dataclass

from ..backend import NotPositiveDefiniteError
from ..progress import phase

__all__ = ["TileOp", "cholesky_flops", "cholesky_graph", "tiled_cholesky"]


@dataclass(frozen=True)
class TileOp:
    """One tile operation of the factorization at panel step ``k``.

    Attributes
    ----------
    kind : {"potrf", "trsm", "syrk", "gemm"}
    i, j : int
        The tile written, ``(i, j)``.
    k : int
        The panel step.
    """

    kind: str
    i: int
    j: int
    k: int

    @property
    def writes(self) -> tuple[int, int]:
        """The tile this operation overwrites."""
        return (self.i, self.j)

    @property
    def reads(self) -> tuple[tuple[int, int], ...]:
        """Factor tiles this operation needs (besides the tile it updates)."""
        if self.kind == "potrf":
            return ()
        if self.kind == "trsm":
            return ((self.k, self.k),)
        if self.kind == "syrk":
            return ((self.j, self.k),)
        return ((self.i, self.k), (self.j, self.k))

    def flops(self, sizes) -> float:
        """Floating-point operations, given the tile edges ``sizes``."""
        bi, bj, bk = sizes[self.i], sizes[self.j], sizes[self.k]
        return {
            "potrf": bk**3 / 3.0,
            "trsm": float(bi * bk * bk),
            "syrk": float(bj * bj * bk),
            "gemm": 2.0 * bi * bj * bk,
        }[self.kind]


def cholesky_graph(nt: int, start: int = 0, order: str = "right") -> list[TileOp]:
    """The tiled Cholesky on ``nt x nt`` tiles, from panel ``start``.

    Parameters
    ----------
    nt : int
        Tiles per side.
    start : int, default 0
        First panel (columns before it are already factorized).
    order : {"right", "left"}, default "right"
        ``"right"``: after factorizing panel ``k``, update the whole trailing
        matrix (each trailing tile is touched at every step). ``"left"``:
        before factorizing panel ``k``, apply every earlier panel to it, so
        step ``k`` writes only column ``k`` (what out-of-core storage needs).

    Returns
    -------
    list of TileOp
        In a valid sequential order. An operation writing tile ``(i, j)``
        depends on the previous writer of that tile and on the writers of
        :attr:`TileOp.reads`. In left-looking order the panel of an
        operation is its column ``j``; :attr:`TileOp.k` names the factor
        column it applies.
    """
    if order not in ("right", "left"):
        raise ValueError(f"order must be 'right' or 'left'; found {order!r}")
    ops = []
    for k in range(start, nt):
        if order == "left":
            for j in range(k):
                ops.append(TileOp("syrk", k, k, j))
                ops.extend(TileOp("gemm", i, k, j) for i in range(k + 1, nt))
        ops.append(TileOp("potrf", k, k, k))
        ops.extend(TileOp("trsm", i, k, k) for i in range(k + 1, nt))
        if order == "right":
            for j in range(k + 1, nt):
                ops.append(TileOp("syrk", j, j, k))
                ops.extend(TileOp("gemm", i, j, k) for i in range(j + 1, nt))
    return ops


def cholesky_flops(n: int) -> float:
    """Nominal flops of an ``n x n`` Cholesky, ``n^3 / 3``."""
    return n**3 / 3.0


def tiled_cholesky(storage, *, progress=None, start_panel: int = 0, on_panel_done=None):
    """Factorize the matrix held in ``storage`` in place: its lower tiles become ``L``.

    Parameters
    ----------
    storage : TileStorage
        Holds the lower tiles of a symmetric positive-definite matrix.
    progress : callable, optional
        Progress callback; phase ``"cholesky"`` in GFLOP, so the rate is GFLOP/s.
    start_panel : int, default 0
        Resume at this panel (panels before it must already be factorized).
    on_panel_done : callable, optional
        ``on_panel_done(k)`` after panel ``k`` and its trailing update finish
        (checkpointing for resumable out-of-core runs).

    Returns
    -------
    storage

    Raises
    ------
    NotPositiveDefiniteError
        A pivot was not positive; ``index`` gives its global position. The
        storage is then partly overwritten.
    """
    backend = storage.backend
    sizes = [storage.bounds(i).stop - storage.bounds(i).start for i in range(storage.nt)]
    order = getattr(storage, "preferred_order", "right")
    ops = cholesky_graph(storage.nt, start_panel, order)
    total = sum(op.flops(sizes) for op in ops) / 1e9
    begin, end = getattr(storage, "begin_panel", None), getattr(storage, "end_panel", None)
    panel = {}  # factor tiles of the current panel, by row
    finished = {}  # left-looking: tiles of an earlier factor column being applied
    step = None
    with phase(progress, "cholesky", total=total, unit="GFLOP") as bar:
        for op in ops:
            op_panel = op.k if order == "right" else op.j
            if op_panel != step:
                if step is not None:
                    _finish_panel(step, end, on_panel_done)
                panel.clear()
                step = op_panel
                if begin is not None:
                    begin(step)
            if op.kind in ("syrk", "gemm") and order == "left":
                _left_update(op, storage, backend, finished)
                bar.advance(op.flops(sizes) / 1e9)
                continue
            target = storage.tile(op.i, op.j)
            if op.kind == "potrf":
                try:
                    result = backend.potrf(target, offset=storage.bounds(op.k).start)
                except NotPositiveDefiniteError as exc:
                    raise NotPositiveDefiniteError(
                        f"{exc} (tile {op.k} of {storage.nt})", exc.index
                    ) from exc
                panel[op.k] = result
            elif op.kind == "trsm":
                result = backend.trsm_right_lower_t(panel[op.k], target)
                panel[op.i] = result
            elif op.kind == "syrk":
                result = backend.syrk(target, panel[op.j])
            else:
                result = backend.gemm_nt(target, panel[op.i], panel[op.j])
            storage.store(op.i, op.j, result)
            bar.advance(op.flops(sizes) / 1e9)
        if step is not None:
            _finish_panel(step, end, on_panel_done)
    return storage


def _left_update(op, storage, backend, finished):
    """Apply factor column ``op.k`` to tile ``(op.i, op.j)`` of the current panel."""
    for tile in op.reads:
        if tile not in finished:
            finished[tile] = storage.tile(*tile)
    target = storage.tile(op.i, op.j)
    if op.kind == "syrk":
        result = backend.syrk(target, finished[(op.j, op.k)])
    else:
        result = backend.gemm_nt(target, finished[(op.i, op.k)], finished[(op.j, op.k)])
    storage.store(op.i, op.j, result)
    if op.i == storage.nt - 1:  # column op.k fully applied: drop it (bounded working set)
        finished.clear()


def _finish_panel(k, end, on_panel_done):
    if end is not None:
        end(k)
    if on_panel_done is not None:
        on_panel_done(k)
