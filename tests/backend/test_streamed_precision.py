"""The streamed solve's default precision follows the device: mixed on the CPU."""

from __future__ import annotations

import numpy as np

from kernelfit.features import RandomConvFeatures
from kernelfit.streamed import solve_streamed


def test_auto_precision_is_mixed_on_the_cpu():
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, size=(60, 16, 16, 3), dtype=np.uint8)
    Xt = rng.integers(0, 256, size=(10, 16, 16, 3), dtype=np.uint8)
    y = rng.integers(0, 3, size=60)
    fmap = RandomConvFeatures(n_filters=16, n_whitening_patches=500, n_standardize_images=50,
                              n_jobs=1, device="cpu", patch_size=5)
    solution = solve_streamed(fmap, X, y, Xt, device="cpu", reg=0.1)
    assert solution.solver == "mixed" and solution.refinement is not None
    assert solution.relative_residual < 1e-12
    assert {"features+gram", "kernel", "cholesky", "solve"} <= set(solution.timings)
