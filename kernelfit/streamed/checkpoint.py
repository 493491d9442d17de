"""A resumable streamed Gram: the accumulation checkpointed after every filter chunk.

A :class:`GramCheckpoint` lives in a directory the user chose (``checkpoint_dir=``,
``--checkpoint-dir``) and holds

* ``manifest.json``: the configuration in plain JSON, its SHA-256, the fitted feature
  map's file and, once a chunk is done, the filters done and the state file;
* ``fitted.npz``: the fitted whitening, filters and standardization statistics (a
  resumed run restores them instead of fitting again);
* ``gram-<filters done>.bin``: the accumulated Grams and squared norms after that many
  filters (raw bytes: the training Gram's lower tiles, the cross Gram, the norms;
  :mod:`kernelfit.streamed.gram_bytes`);
* ``lock``: held (``flock``) by the one process using the directory.

Every file is written to a temporary name, synced and renamed, the directory synced,
and only then does the manifest (replaced the same way) point to it; the previous
state is deleted afterwards (and, on a resume, whatever a killed run left half
written). A kill at any moment therefore leaves the manifest pointing to a complete
"Gram after chunk k", never to a half-added chunk.

A checkpoint written for another configuration (data, filters' seed, counts,
pooling, epsilons, threshold, standardization, patch size, dtypes, tile and chunk
sizes) is refused with a one-line error naming the differing fields; the two are
never mixed. The directory is the user's: nothing here or in
:mod:`kernelfit.linalg.scratch` deletes it (it holds no scratch owner marker).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..features.feature_map_records import RUNTIME_PARAMS
from ..features.whitening import ZCAWhitening
from ..results_io import atomic_file, json_ready, write_json
from .gram_bytes import read_gram_bytes, write_gram_bytes

__all__ = ["CheckpointMismatchError", "GramCheckpoint", "data_fingerprint",
           "gram_configuration"]

MANIFEST = "manifest.json"
LOCK = "lock"
FITTED = "fitted.npz"
FORMAT = 1


class CheckpointMismatchError(ValueError):
    """The checkpoint directory holds a run of another configuration."""


def data_fingerprint(*arrays) -> str:
    """SHA-256 of the arrays' dtypes, shapes and bytes (images and labels), in order."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def _config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def _sync_directory(directory: Path) -> None:
    """Make renames inside ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _differences(stored: dict, current: dict) -> list[str]:
    """``name (checkpoint X, now Y)`` for each field present in ``current`` that differs."""
    return [f"{key} (checkpoint {stored.get(key)!r}, now {value!r})"
            for key, value in current.items() if stored.get(key) != value]


def _fitted_arrays(fmap) -> dict:
    arrays = {"whitening_mean": fmap.whitening_.mean, "whitening_matrix": fmap.whitening_.matrix,
              "whitening_eigenvalues": fmap.whitening_.eigenvalues, "filters": fmap.filters_,
              "effective_filters": fmap.effective_filters_, "offsets": fmap.offsets_,
              "shape": np.array([*fmap.image_shape_, fmap.n_regions_])}
    if hasattr(fmap, "feature_mean_"):
        arrays.update(feature_mean=fmap.feature_mean_, feature_scale=fmap.feature_scale_)
    return arrays


def _restore_fitted(fmap, arrays) -> None:
    """Set the fitted attributes of ``fmap`` (a :class:`RandomConvFeatures`) from a file."""
    fmap.whitening_ = ZCAWhitening(arrays["whitening_mean"], arrays["whitening_matrix"],
                                   arrays["whitening_eigenvalues"])
    fmap.filters_ = arrays["filters"]
    fmap.effective_filters_ = arrays["effective_filters"]
    fmap.offsets_ = arrays["offsets"]
    height, width, channels, regions = (int(v) for v in arrays["shape"])
    fmap.image_shape_ = (height, width, channels)
    fmap.n_features_in_ = height * width * channels
    fmap.n_regions_ = regions
    fmap.n_features_out_ = 2 * regions * int(fmap.n_filters)
    for name in ("feature_mean", "feature_scale"):
        fmap.__dict__.pop(name + "_", None)
        if name in arrays:
            setattr(fmap, name + "_", arrays[name])


class GramCheckpoint:
    """Checkpoints of a streamed Gram accumulation in ``directory``.

    Parameters
    ----------
    directory : str or path
        Created when missing. A manifest already there must record the same
        configuration.
    config : dict
        Everything that defines the accumulated Grams (JSON values); the filter chunk
        is added when the accumulation starts (:meth:`resume`).

    Raises
    ------
    CheckpointMismatchError
        The directory holds a checkpoint of another configuration, or files that are
        not a checkpoint of this format.
    RuntimeError
        Another open checkpoint holds the directory's lock.

    Notes
    -----
    The directory is locked from construction to :meth:`close` (or the end of a
    ``with`` block).
    """

    def __init__(self, directory, config: dict):
        self.directory = Path(directory)
        self.config = json_ready(dict(config))
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.directory)
        self.manifest = self._read_manifest()
        if self.manifest is not None:
            self._check(self.config)
            self._remove_leftovers()
        else:  # written at once: a kill from now on leaves a checkpoint of this config
            self.manifest = {"format": FORMAT, "config": self.config,
                             "config_hash": _config_hash(self.config), "filters_done": 0}
            self._write_manifest()

    def close(self) -> None:
        """Release the directory's lock (the files stay)."""
        self._lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _read_manifest(self):
        path = self.directory / MANIFEST
        if not path.exists():
            if any(not _own_leftover(p.name) for p in self.directory.iterdir()):
                raise CheckpointMismatchError(
                    f"checkpoint directory {self.directory} holds files but no {MANIFEST}; "
                    "expected an empty directory or a kernelfit Gram checkpoint")
            return None
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest["config"], dict):
                raise TypeError("its config is not an object")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointMismatchError(f"{path} is not a kernelfit Gram checkpoint manifest "
                                          f"({exc})") from None
        if manifest.get("format") != FORMAT:
            raise CheckpointMismatchError(f"{path} has format {manifest.get('format')!r}; "
                                          f"expected {FORMAT}")
        if _config_hash(manifest["config"]) != manifest["config_hash"]:
            raise CheckpointMismatchError(f"{path} was edited: its configuration no longer "
                                          f"matches its hash {manifest['config_hash']}")
        return manifest

    def _check(self, config: dict) -> None:
        differing = _differences(self.manifest["config"], config)
        if differing:
            raise CheckpointMismatchError(
                f"the checkpoint in {self.directory} was written for another configuration: "
                f"{'; '.join(differing)} differ(s); rerun with the checkpoint's settings, or "
                "give another --checkpoint-dir (or delete this one) to start afresh")

    def _remove_leftovers(self) -> None:
        """Delete what a killed run left: temporary files and states no longer pointed to."""
        for path in self.directory.iterdir():
            stale_state = path.name.startswith("gram-") and path.name != self.manifest.get(
                "state")
            if stale_state or (path.name.startswith(".") and path.name.endswith(".tmp")):
                path.unlink(missing_ok=True)

    @property
    def filter_chunk(self) -> int | None:
        """The chunk size the saved state was accumulated in (None before the first)."""
        return self.manifest["config"].get("filter_chunk")

    @property
    def filters_done(self) -> int:
        """Filters whose contributions the saved state holds."""
        return int(self.manifest.get("filters_done", 0))

    def _write_manifest(self) -> None:
        write_json(self.manifest, self.directory / MANIFEST)
        _sync_directory(self.directory)

    # -- the fitted feature map --------------------------------------------------
    def restore_fitted(self, fmap) -> bool:
        """Set ``fmap``'s fitted state from the checkpoint; False when none is saved."""
        name = self.manifest.get("fitted")
        if name is None:
            return False
        with np.load(self.directory / name) as arrays:
            _restore_fitted(fmap, {key: arrays[key] for key in arrays.files})
        return True

    def save_fitted(self, fmap) -> None:
        """Save ``fmap``'s fitted state (before the first chunk)."""
        with atomic_file(self.directory / FITTED, "wb") as handle:
            np.savez(handle, **_fitted_arrays(fmap))
        _sync_directory(self.directory)
        self.manifest["fitted"] = FITTED
        self._write_manifest()

    # -- the accumulated Grams ----------------------------------------------------
    def resume(self, filter_chunk: int, outs, norms, backend) -> int:
        """Fill ``outs`` and ``norms`` from the saved state; the filters it holds.

        Raises
        ------
        CheckpointMismatchError
            The saved state was accumulated in chunks of another size.
        """
        if self.filter_chunk is not None:  # a state was saved: in chunks of this size
            self._check({"filter_chunk": int(filter_chunk)})
        self.config["filter_chunk"] = int(filter_chunk)
        self.manifest["config"] = self.config
        self.manifest["config_hash"] = _config_hash(self.config)
        name = self.manifest.get("state")
        if name is None:
            return 0
        path = self.directory / name
        size = path.stat().st_size if path.exists() else None
        if size != self.manifest["state_bytes"]:
            raise CheckpointMismatchError(f"checkpoint state {path} has {size} bytes; the "
                                          f"manifest expects {self.manifest['state_bytes']}")
        with open(path, "rb") as handle:
            for out in outs:
                read_gram_bytes(handle, out, backend)
            for norm in norms:
                handle.readinto(memoryview(norm).cast("B"))
        return self.filters_done

    def save(self, filters_done: int, outs, norms, backend) -> None:
        """Write the state after ``filters_done`` filters, then point the manifest to it."""
        name = f"gram-{filters_done:09d}.bin"
        with atomic_file(self.directory / name, "wb") as handle:
            for out in outs:
                write_gram_bytes(handle, out, backend)
            for norm in norms:
                handle.write(np.ascontiguousarray(norm, dtype=np.float64).data)
        _sync_directory(self.directory)
        previous = self.manifest.get("state")
        self.manifest.update(filters_done=int(filters_done), state=name,
                             state_bytes=(self.directory / name).stat().st_size)
        self._write_manifest()
        if previous is not None and previous != name:
            (self.directory / previous).unlink(missing_ok=True)


def _own_leftover(name: str) -> bool:
    """The lock, or a temporary file of :func:`~kernelfit.results_io.atomic_file`: what a
    run killed before its first manifest may leave in a fresh directory."""
    return name == LOCK or (name.startswith(".") and name.endswith(".tmp"))


def _lock(directory: Path):
    """An exclusive lock on ``directory`` (released when the returned file is closed).

    Raises
    ------
    RuntimeError
        Another process holds it.
    """
    handle = open(directory / LOCK, "a+")  # noqa: SIM115 (held for the object's life)
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise RuntimeError(f"checkpoint directory {directory} is in use by another run; "
                           "expected one run per checkpoint directory") from None
    return handle


def gram_configuration(feature_map, X_train, y_train, X_test, tile, storage_dtype) -> dict:
    """What defines the accumulated Grams, for a checkpoint: the feature map's parameters
    (not how it runs: :data:`~kernelfit.features.feature_map_records.RUNTIME_PARAMS`),
    a fingerprint of the images and labels, sizes, dtypes and tile edge."""
    params = {k: v for k, v in feature_map.get_params().items() if k not in RUNTIME_PARAMS}
    return {"feature_map": type(feature_map).__name__, **params,
            "data": data_fingerprint(X_train, y_train, X_test), "n_train": len(X_train),
            "n_test": len(X_test), "gram_dtype": np.dtype(storage_dtype).name,
            "tile_size": int(tile)}
