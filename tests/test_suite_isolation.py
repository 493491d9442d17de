"""The suite itself: every test runs with a temporary home and cache."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from kernelfit.datasets.locations import user_cache_dir


def test_home_and_cache_are_under_the_temporary_directory():
    temporary = Path(tempfile.gettempdir()).resolve()
    for name in ("HOME", "KERNELFIT_CACHE", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                 "NUMBA_CACHE_DIR"):
        assert temporary in Path(os.environ[name]).resolve().parents, name
    assert temporary in user_cache_dir().resolve().parents
    assert Path.home() == Path(os.environ["HOME"])


def test_subprocesses_inherit_the_temporary_cache():
    code = "from kernelfit.datasets.locations import user_cache_dir; print(user_cache_dir())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert Path(out) == user_cache_dir()
    assert Path(tempfile.gettempdir()).resolve() in Path(out).resolve().parents
