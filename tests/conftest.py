"""Test-suite wiring: real data location, isolated home and cache, GPU detection,
subprocess runner.

The package never refers to the shared data folder; only the tests point
``KERNELFIT_DATA`` at it (unless the caller already set it). With
``KERNELFIT_TEST_NO_SHARED=1`` the shared folder is not looked at, so the suite
runs as on a fresh clone with no data (tests that need data skip with a reason).
Every test runs with ``HOME``, ``KERNELFIT_CACHE`` and the XDG folders in a
temporary directory, so nothing is written to the user's own cache.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

#: Set to 1 to hide the shared data folder (``.ci/run``'s second pass).
NO_SHARED_ENV = "KERNELFIT_TEST_NO_SHARED"

if (os.environ.get(NO_SHARED_ENV) != "1" and "KERNELFIT_DATA" not in os.environ
        and SHARED_DATA.is_dir()):
    os.environ["KERNELFIT_DATA"] = str(SHARED_DATA)

# Numba's compiled-code cache (kernelfit.backend.skinny_kernels) in a temporary folder,
# not beside the package: set before anything imports Numba, which reads it once.
NUMBA_CACHE = tempfile.mkdtemp(prefix="kernelfit-tests-numba-")
os.environ["NUMBA_CACHE_DIR"] = NUMBA_CACHE
atexit.register(shutil.rmtree, NUMBA_CACHE, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def isolated_home(tmp_path_factory):
    """``HOME``, ``KERNELFIT_CACHE`` and the XDG cache and config folders in a temporary
    directory for the whole run (subprocesses inherit them)."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.setenv("KERNELFIT_CACHE", str(home / ".cache" / "kernelfit"))
        patch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        patch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        patch.setenv("MPLCONFIGDIR", str(home / ".config" / "matplotlib"))
        yield home


def _has_gpu() -> bool:
    from kernelfit.backend import cuda_available

    return cuda_available()


def pytest_collection_modifyitems(config, items):
    if _has_gpu():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def run_python():
    """Run a Python snippet in a fresh interpreter; returns CompletedProcess.

    Used for shapes that crash the bundled OpenBLAS, so that a segfault fails
    one test instead of killing the run.
    """

    def run(code: str, timeout: float = 600, env: dict | None = None):
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
            env=full_env, cwd=REPO,
        )

    return run


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(12345)


def tol(dtype) -> dict:
    """Dtype-appropriate tolerances for comparisons against references."""
    import numpy as np

    return {"rtol": 2e-5, "atol": 2e-5} if np.dtype(dtype) == np.float32 else {
        "rtol": 1e-10, "atol": 1e-11}



@pytest.fixture(scope="session")
def load_bench():
    """``load_bench(name)`` imports the program ``bench/<name>.py`` as a module
    (bench/ is not a package); its imports of sibling programs resolve as when it runs
    as a script, with bench/ first on the path."""
    import importlib.util
    import sys

    def load(name: str):
        bench = str(REPO / "bench")
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, bench)
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(bench)
        return module

    return load


@pytest.fixture
def saved_figures(monkeypatch):
    """``saved_figures(module)`` captures the figures ``module._save`` writes (still
    written), and returns the list they are appended to."""
    figures = []

    def capture(module):
        real_save = module._save

        def save(fig, path):
            figures.append(fig)
            return real_save(fig, path)

        monkeypatch.setattr(module, "_save", save)
        return figures

    return capture


@pytest.fixture
def encoded_images(monkeypatch):
    """``{"images": count}`` of the images the streamed random-conv Gram encodes (those
    its feature map's standardization encodes are not counted)."""
    import kernelfit.features.conv_gram as conv_gram

    count = {"images": 0}
    encode = conv_gram.encode_images

    def counted(encoder, images, *args, **kwargs):
        count["images"] += len(images)
        return encode(encoder, images, *args, **kwargs)

    monkeypatch.setattr(conv_gram, "encode_images", counted)
    return count

