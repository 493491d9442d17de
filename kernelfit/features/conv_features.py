"""Encoding many images with one filter chunk: batches on worker threads (CPU) or the GPU.

On the CPU each worker thread runs single-threaded BLAS on its own image batches
(the GEMMs are small in one dimension, so one BLAS call per thread scales better
than one multithreaded call), and NumPy releases the GIL inside the GEMMs and
elementwise passes. On CuPy the batches run one after the other on the device.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import threadpool_limits

from .conv_encoding import EncoderWorkspace, PatchEncoder

__all__ = ["default_n_jobs", "encode_images", "workspace_bytes"]


def default_n_jobs(n_jobs=None) -> int:
    """Worker threads: ``n_jobs``, or the CPUs this process may use when None; -1 means all."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1
    )
    if n_jobs is None or n_jobs == -1:
        return available
    if isinstance(n_jobs, bool) or int(n_jobs) != n_jobs or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, -1 or None; found {n_jobs!r}")
    return int(n_jobs)


def workspace_bytes(encoder: PatchEncoder, batch_size: int) -> int:
    """Bytes of the buffers one worker holds while encoding ``batch_size`` images."""
    positions = encoder.rows * encoder.cols
    patch_dim = encoder.patch_size**2 * encoder.image_shape[2]
    width = max(block[1].shape[1] for block in encoder.blocks)
    per_image = positions * (patch_dim + 2 * width) + 4 * encoder.n_regions * width
    return int(batch_size * per_image * encoder.dtype.itemsize)


def encode_images(encoder: PatchEncoder, images, out, backend, *, n_jobs: int = 1,
                  batch_size: int = 4, advance=None):
    """Features of every image for the encoder's filters.

    Parameters
    ----------
    encoder : PatchEncoder
        Filters of one chunk, on ``backend``.
    images : ndarray of shape (n, H, W, C)
        Host images (uint8 or float); batches are moved to the device as needed.
    out : array of shape (n, k, 2, regions)
        Written in place, on ``backend``.
    backend : Backend
        NumPy (threads) or CuPy.
    n_jobs : int, default 1
        Worker threads on the CPU.
    batch_size : int, default 4
        Images per encoder call.
    advance : callable, optional
        Called with the number of images done after each batch (thread-safe).

    Returns
    -------
    array
        ``out``.
    """
    n = images.shape[0]
    batches = [slice(start, min(n, start + batch_size)) for start in range(0, n, batch_size)]
    lock = threading.Lock()

    def report(count):
        if advance is not None:
            with lock:
                advance(count)

    if not backend.is_host:  # a device: batches one after the other, no threads
        workspace = EncoderWorkspace(backend.xp)
        for batch in batches:
            encoder.encode(backend.asarray(images[batch]), out[batch], workspace)
            report(batch.stop - batch.start)
        return out
    local = threading.local()

    def work(batch):
        if not hasattr(local, "workspace"):
            local.workspace = EncoderWorkspace(backend.xp)
        encoder.encode(images[batch], out[batch], local.workspace)
        report(batch.stop - batch.start)

    workers = max(1, min(int(n_jobs), len(batches)))
    # Single-threaded BLAS in every case, so results do not depend on n_jobs.
    with threadpool_limits(limits=1, user_api="blas"):
        if workers == 1:
            for batch in batches:
                work(batch)
        else:
            with ThreadPoolExecutor(workers) as pool:
                for _ in pool.map(work, batches):
                    pass
    return out
