"""bench/gpu_check.sh runs end to end on the CPU with --dry-run (every step, tiny n)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_gpu_check_dry_run(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path), "PYTHON": sys.executable}
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--dry-run"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = (tmp_path / "summary.txt").read_text().splitlines()
    steps = [line.split(":")[0] for line in summary]
    assert steps == ["machine", "install", "import", "pytest_gpu", "solve_60k", "solve_small",
                     "failed steps"]
    assert "install: skipped (dry run" in summary[1]
    assert summary[-1] == "failed steps: 0"
    result = json.loads((tmp_path / "solve.json").read_text())["result"]
    assert set(result["timings"]) == {"load", "to_device", "gram", "cholesky", "solve",
                                      "residual", "predict"}
    assert result["relative_residual"] < 1e-8
    assert (tmp_path / "machine.log").read_text().count("numpy") >= 1


def test_gpu_check_rejects_unknown_options(tmp_path):
    proc = subprocess.run(["bash", str(REPO / "bench" / "gpu_check.sh"), "--fast"],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert proc.returncode == 2
    assert "usage: bash bench/gpu_check.sh [--dry-run | --prepare]" in proc.stderr
