"""The README's Python example runs as written and does what its comments say."""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_example() -> str:
    """The first ```python block under the README's "## Python API" heading."""
    text = README.read_text()
    section = text[text.index("## Python API"):]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "README.md has no ```python block under '## Python API'"
    return match.group(1)


@pytest.mark.filterwarnings("error")  # the example must run without a warning
def test_readme_python_example_runs_and_its_comments_hold():
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(compile(python_example(), str(README), "exec"), namespace)
    X, y = namespace["X"], namespace["y"]
    # "1.0: the minimum-norm interpolant fits any labels"
    assert namespace["clf"].score(X, y) == 1.0
    # min_norm: an underdetermined system, solved exactly, with the least norm
    res = namespace["res"]
    A, b = X[:100], y[:100].astype(float)
    assert A.shape[0] < A.shape[1]
    assert res.residual < 1e-12
    reference = np.linalg.pinv(A) @ b  # the minimum-norm solution, independently
    np.testing.assert_allclose(res.w, reference, rtol=1e-9, atol=1e-12)
    assert res.norm == pytest.approx(np.linalg.norm(reference), rel=1e-12)
    # "~3e-11, from 2.7 at w = 0": SGD converges to the minimum-norm w
    sgd = namespace["sgd"]
    start = np.linalg.norm(np.linalg.pinv(X[:50]) @ y[:50].astype(float))
    assert start == pytest.approx(2.7, abs=0.05)
    assert 1e-11 < sgd.distance_to_min_norm[-1] < 1e-10
