"""Out-of-core tile storage: lower tiles in a file on disk, resumable factorization.

The lower tiles live in one memory-mapped file. The factorization runs in
left-looking order, so panel ``k`` writes only tile column ``k``:

1. :meth:`OutOfCoreStorage.begin_panel` reads column ``k`` into RAM (the
   working set is this column plus one finished column being applied, about
   ``2 n b`` numbers) and a background thread asks the kernel to read ahead
   (``posix_fadvise(WILLNEED)``) the finished tiles the panel will apply, in
   the order it applies them and at most :data:`PREFETCH_LEAD` tiles ahead,
   so disk reads overlap the BLAS work without evicting what comes next;
2. the updates, ``potrf`` and ``trsm`` run on the RAM copy;
3. :meth:`OutOfCoreStorage.end_panel` journals the column to a staging file,
   syncs it, records that in the manifest, copies it into place, syncs, and
   only then records ``panels_done = k + 1``.

A run killed at any point resumes from the last finished panel. A half-copied
column is restored from the journal. The manifest is replaced atomically, so
nothing on disk ever claims more than what is finished.
"""

from __future__ import annotations

import json
import os
import shutil
import threading

import numpy as np

from ..backend import host_backend
from ..memory import check_budget, format_bytes, parse_budget
from ..results_io import atomic_file, write_json
from .storage import PackedStorage, TileStorage, default_tile_size

__all__ = ["OutOfCoreStorage"]

#: How many finished tiles the read-ahead thread may run ahead of the factorization.
PREFETCH_LEAD = 48

_MANIFEST = "manifest.json"
_TILES = "tiles.bin"
_JOURNAL = "panel.journal"


class OutOfCoreStorage(TileStorage):
    """Lower tiles in a file under ``directory``, with a bounded RAM working set.

    Parameters
    ----------
    n : int
        Matrix order.
    directory : str or path
        Where ``tiles.bin``, ``manifest.json`` and the panel journal live.
    tile_size : int, optional
        Tile edge (:func:`default_tile_size` when None).
    dtype : {float32, float64}
    memory_budget : int or str, optional
        RAM for the working set (two tile columns); refused before anything
        is written if even that does not fit.
    resume : bool, default False
        Reopen an existing matching storage and continue where it stopped.
    fingerprint : str, optional
        Identifies the matrix (e.g. a hash of the data and kernel); a resumed
        storage must match it.
    """

    kind = "out-of-core"
    preferred_order = "left"

    def __init__(self, n, directory, tile_size=None, dtype=np.float64, memory_budget=None,
                 resume=False, fingerprint=None):
        super().__init__(n, tile_size or default_tile_size(n), dtype, host_backend())
        self.directory = os.fspath(directory)
        self.fingerprint = fingerprint
        self._offsets, offset = {}, 0
        for i in range(self.nt):
            for j in range(i + 1):
                self._offsets[i, j] = offset
                offset += self._len(i) * self._len(j) * self.dtype.itemsize
        self.nbytes = offset
        check_budget(self.working_set_bytes(), parse_budget(memory_budget),
                     f"the out-of-core working set (two {self.n} x {self.tile_size} "
                     f"{self.dtype} tile columns)",
                     f"raise the memory budget (--memory-budget) to at least "
                     f"{format_bytes(self.working_set_bytes())}, or use smaller tiles "
                     f"(--tile-size; the working set is 2 x n x tile x {self.dtype.itemsize} "
                     "bytes)")
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, _TILES)
        manifest = self._read_manifest()
        if resume and manifest is not None:
            self._check_matches(manifest)
            self.state = manifest
            self._file = np.memmap(path, dtype=np.uint8, mode="r+", shape=(self.nbytes,))
            self._recover_journal()
        else:
            free = shutil.disk_usage(self.directory).free
            if self.nbytes > free:
                raise OSError(f"out-of-core tiles need {format_bytes(self.nbytes)} but "
                              f"{self.directory} has {format_bytes(free)} free")
            self.state = {"n": self.n, "tile_size": self.tile_size, "dtype": self.dtype.name,
                          "fingerprint": fingerprint, "gram_done": False, "panels_done": 0,
                          "journal_panel": None}
            self._write_manifest()  # says "nothing finished" before any tile exists
            self._file = np.memmap(path, dtype=np.uint8, mode="w+", shape=(self.nbytes,))
        self._column = {}
        self._prefetch = None
        self._panel = None
        self._consumed = 0
        self._stop = False
        self._lead = threading.Condition()
        self._fd = os.open(path, os.O_RDONLY)

    # -- sizes -------------------------------------------------------------
    def _len(self, i):
        s = self.bounds(i)
        return s.stop - s.start

    def working_set_bytes(self) -> int:
        """RAM the factorization holds at once: two tile columns."""
        return 2 * self.n * self.tile_size * self.dtype.itemsize

    @staticmethod
    def nbytes_for(n, tile_size, dtype) -> int:
        """Bytes of the tile file (the same as packed tiles)."""
        return PackedStorage.nbytes_for(n, tile_size, dtype)

    # -- manifest ----------------------------------------------------------
    def _manifest_path(self):
        return os.path.join(self.directory, _MANIFEST)

    def _read_manifest(self):
        try:
            with open(self._manifest_path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def _write_manifest(self):
        write_json(self.state, self._manifest_path())  # synced, then renamed into place

    def _check_matches(self, manifest):
        want = {"n": self.n, "tile_size": self.tile_size, "dtype": self.dtype.name,
                "fingerprint": self.fingerprint}
        found = {k: manifest.get(k) for k in want}
        if found != want:
            raise ValueError(f"cannot resume {self.directory}: it holds {found}, "
                             f"but this problem is {want}")

    @property
    def gram_done(self) -> bool:
        """True once the Gram matrix has been written completely."""
        return bool(self.state["gram_done"])

    @property
    def panels_done(self) -> int:
        """Number of factorized panels on disk."""
        return int(self.state["panels_done"])

    def mark_gram_done(self) -> None:
        """Sync the tiles and record that the Gram matrix is complete."""
        self._file.flush()
        self.state["gram_done"] = True
        self._write_manifest()

    # -- tiles -------------------------------------------------------------
    def _view(self, i, j):
        off = self._offsets[i, j]
        shape = (self._len(i), self._len(j))
        size = shape[0] * shape[1] * self.dtype.itemsize
        return np.ndarray(shape, self.dtype, buffer=self._file[off : off + size], order="F")

    def tile(self, i, j):
        if (i, j) in self._column:
            return self._column[i, j]
        if self._panel is not None and j < self._panel:  # a finished tile being applied
            with self._lead:
                self._consumed += 1
                self._lead.notify()
        return self._view(i, j)

    def store(self, i, j, array):
        if (i, j) in self._column:
            if array is not self._column[i, j]:
                self._column[i, j][...] = array
        else:
            view = self._view(i, j)
            if not np.shares_memory(view, array):
                view[...] = array

    def write_block(self, i, j, block):
        self._view(i, j)[...] = block

    def fill_block(self, i, j, compute):
        compute(self._view(i, j))

    # -- panels (called by tiled_cholesky) ----------------------------------
    def begin_panel(self, k):
        """Load tile column ``k`` into RAM and start reading ahead the tiles it will apply."""
        self._column = {(i, k): np.array(self._view(i, k), order="F") for i in range(k, self.nt)}
        self._panel, self._consumed, self._stop = k, 0, False
        self._prefetch = threading.Thread(target=self._read_ahead, args=(k,), daemon=True)
        self._prefetch.start()

    def _read_ahead(self, k):
        order = [(i, j) for j in range(k) for i in range(k, self.nt)]  # as the panel applies
        for count, (i, j) in enumerate(order):
            with self._lead:
                self._lead.wait_for(
                    lambda c=count: self._stop or c - self._consumed < PREFETCH_LEAD)
                if self._stop:
                    return
                if count < self._consumed:
                    continue  # the panel has already read it
            size = self._len(i) * self._len(j) * self.dtype.itemsize
            if hasattr(os, "posix_fadvise"):
                os.posix_fadvise(self._fd, self._offsets[i, j], size, os.POSIX_FADV_WILLNEED)
            else:  # no read-ahead advice on this platform: touch one number per page
                float(self._file[self._offsets[i, j]:self._offsets[i, j] + size:4096].sum())

    def _stop_read_ahead(self):
        if self._prefetch is not None:
            with self._lead:
                self._stop = True
                self._lead.notify_all()
            self._prefetch.join()
            self._prefetch = None
        self._panel = None

    def end_panel(self, k):
        """Journal column ``k``, sync, copy it into place, sync, record progress."""
        self._stop_read_ahead()
        journal = os.path.join(self.directory, _JOURNAL)
        with atomic_file(journal, "wb") as f:  # synced, then renamed into place
            for i in range(k, self.nt):
                f.write(np.asfortranarray(self._column[i, k]).tobytes(order="F"))
        self.state["journal_panel"] = k
        self._write_manifest()
        self._apply_journal(k)
        self._column = {}

    def _apply_journal(self, k):
        journal = os.path.join(self.directory, _JOURNAL)
        data = np.fromfile(journal, dtype=self.dtype)
        pos = 0
        for i in range(k, self.nt):
            view = self._view(i, k)
            count = view.size
            view[...] = data[pos : pos + count].reshape(view.shape, order="F")
            pos += count
        self._file.flush()
        self.state.update(panels_done=k + 1, journal_panel=None)
        self._write_manifest()
        os.remove(journal)

    def _recover_journal(self):
        k = self.state.get("journal_panel")
        if k is not None and os.path.exists(os.path.join(self.directory, _JOURNAL)):
            self._apply_journal(k)  # the copy into place may have been cut short

    def close(self):
        self._stop_read_ahead()
        self._file.flush()
        self._column = {}
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
