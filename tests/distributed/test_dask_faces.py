"""The faces of the Dask backend: the estimators, the CLI options, client resolution."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("distributed")

from sklearn.base import clone

from kernelfit import KernelClassifier, KernelRegressor
from kernelfit.cli import build_parser
from kernelfit.distributed import resolve_client


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((180, 4))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(180)
    return X, y, rng.standard_normal((40, 4))


def test_regressor_exact_matches_local(client, data):
    X, y, Q = data
    params = dict(bandwidth=2.0, reg=1e-3, tile_size=32)
    local = KernelRegressor(**params).fit(X, y)
    dask = KernelRegressor(**params, backend="dask", client=client).fit(X, y)
    assert dask.solver_ == "cholesky" and set(dask.timings_) == {"cholesky", "solve"}
    np.testing.assert_allclose(dask.dual_coef_, local.dual_coef_, rtol=1e-9)
    np.testing.assert_allclose(dask.predict(Q), local.predict(Q), rtol=1e-10, atol=1e-12)
    assert dask.rkhs_norm_ == pytest.approx(local.rkhs_norm_, rel=1e-10)


def test_regressor_mixed_and_pcg(client, data):
    X, y, Q = data
    local = KernelRegressor(bandwidth=3.0, reg=1e-2).fit(X, y)
    mixed = KernelRegressor(bandwidth=3.0, reg=1e-2, dtype="mixed", tile_size=64,
                            backend="dask", client=client).fit(X, y)
    assert mixed.solver_ == "mixed" and mixed.refinement_.iterations >= 1
    np.testing.assert_allclose(mixed.dual_coef_, local.dual_coef_, rtol=1e-9, atol=1e-9)
    pcg = KernelRegressor(bandwidth=3.0, reg=1e-2, solver="pcg", backend="dask",
                          client=client).fit(X, y)
    assert pcg.solver_ == "pcg" and pcg.pcg_info_.converged
    np.testing.assert_allclose(pcg.predict(Q), local.predict(Q), rtol=1e-6, atol=1e-8)


def test_classifier_on_dask_predicts_like_local(client, data):
    X, _, Q = data
    labels = np.digitize(X[:, 0], [-0.5, 0.5])
    params = dict(bandwidth=2.0, reg=1e-3, tile_size=64)
    local = KernelClassifier(**params).fit(X, labels)
    dask = KernelClassifier(**params, backend="dask", client=client).fit(X, labels)
    np.testing.assert_array_equal(dask.predict(Q), local.predict(Q))
    np.testing.assert_allclose(dask.decision_function(Q), local.decision_function(Q),
                               rtol=1e-9, atol=1e-10)


def test_bad_backend_settings_are_clear_errors(client, data):
    X, y, _ = data
    with pytest.raises(ValueError, match="backend must be 'local' or 'dask'; found 'ray'"):
        KernelRegressor(backend="ray").fit(X, y)
    with pytest.raises(ValueError, match=r"solver must be one of .* found 'lu'"):
        KernelRegressor(solver="lu", backend="dask", client=client).fit(X, y)
    with pytest.raises(RuntimeError, match="needs a cluster"):
        KernelRegressor(backend="dask").fit(X, y)  # no default client exists
    assert clone(KernelRegressor(backend="dask", client="local:2")).client == "local:2"


@pytest.mark.parametrize(("spec", "error", "match"), [
    ("local:0", ValueError, "'local:N' or 'local:N:MEMORY' with N >= 1"),
    ("local:two", ValueError, "found 'local:two'"),
    (3, TypeError, "found int"),
])
def test_client_specifications(spec, error, match):
    with pytest.raises(error, match=match):
        resolve_client(spec)


def test_cli_passes_the_cluster_through():
    parser = build_parser()
    args = parser.parse_args(["mnist", "--dask", "local:2:1GiB"])
    assert args.dask == "local:2:1GiB" and args.scheduler is None
    args = parser.parse_args(["cifar10", "--scheduler", "tcp://10.0.0.1:8786"])
    assert args.scheduler == "tcp://10.0.0.1:8786" and args.dask is None
    with pytest.raises(SystemExit):
        parser.parse_args(["mnist", "--dask", "local:2", "--scheduler", "tcp://h:1"])


def test_importing_kernelfit_does_not_import_dask(run_python):
    proc = run_python("import sys, kernelfit, kernelfit.estimators, kernelfit.experiments\n"
                      "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


DATA = os.environ.get("KERNELFIT_DATA")


@pytest.mark.skipif(not DATA or not os.path.isdir(os.path.join(DATA, "mnist")),
                    reason="real MNIST not found (set KERNELFIT_DATA)")
def test_mnist_on_a_local_cluster_end_to_end(tmp_path):
    out = tmp_path / "run.json"
    proc = subprocess.run(
        [sys.executable, "-m", "kernelfit.cli", "mnist", "--n-train", "600", "--n-test", "200",
         "--dask", "local:2", "--tile-size", "256", "--quiet", "--json", str(out)],
        capture_output=True, text=True, timeout=300, env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(out.read_text())
    assert record["storage"] == "dask tiles" and record["config"]["dask"] == "local:2"
    assert record["solver"] == "mixed" and record["relative_residual"] < 1e-8
    assert record["train_error"] == 0.0 and record["test_error"] < 0.3
