"""bench/randconv_confirm.py on synthetic images: the rows against a dense reference, the
median first, one Gram per setting (the checkpoint), resume and refusals."""

import json
import sys

import numpy as np
import pytest
from scipy.linalg import cho_factor, cho_solve


@pytest.fixture
def confirm(load_bench, monkeypatch, synthetic_split):
    module = load_bench("randconv_confirm")
    images, labels = synthetic_split
    monkeypatch.setattr(sys.modules["randconv_study"], "load_split",
                        lambda n_fit, n_val, seed: (images[: n_fit + n_val],
                                                    labels[: n_fit + n_val], "synthetic"))
    calls = []
    solve = module.solve_streamed_regs

    def counted(*args, **kwargs):
        calls.append(kwargs["bandwidth"])
        return solve(*args, **kwargs)

    monkeypatch.setattr(module, "solve_streamed_regs", counted)
    module.calls, module.images, module.labels = calls, images, labels
    return module


def run(confirm, tmp_path, *extra):
    out = tmp_path / "confirm.json"
    confirm.main(["--settings", "baseline", "--filters", "4", "--n-fit", "40", "--n-val", "20",
                  "--bandwidth-factors", "2", "1", "--regs", "0", "0.1",
                  "--checkpoint-root", str(tmp_path / "ckpt"), "--out", str(out),
                  "--plot", str(tmp_path / "confirm.png"), *extra])
    return json.loads(out.read_text())


def test_rows_match_a_dense_float64_reference(confirm, tmp_path, capsys):
    results = run(confirm, tmp_path)
    entry = results["settings"]["baseline"]
    assert list(entry["by_factor"]) == ["1", "2"]  # the median first
    assert confirm.calls[0] is None and confirm.calls[1] == pytest.approx(
        2 * entry["median_bandwidth"])
    rows = entry["by_factor"]["2"]["rows"]
    assert all(r["resumed_filters"] == 4 for r in rows)  # the Gram came from the checkpoint
    from kernelfit.features import RandomConvFeatures

    params = confirm.feature_params({}, 4, 40, 0, None)
    params.pop("memory_budget")
    features = RandomConvFeatures(**params, device="cpu").fit(confirm.images[:40]).transform(
        confirm.images[:60]).astype(np.float64)
    sq = ((features[:, None, :] - features[None, :40, :]) ** 2).sum(-1)
    y = confirm.labels
    for row in (r for f in entry["by_factor"].values() for r in f["rows"]):
        K = np.exp(-sq / (2 * row["bandwidth"] ** 2))
        alpha = cho_solve(cho_factor(K[:40] + row["reg"] * np.eye(40)), np.eye(3)[y[:40]])
        scores = K[40:] @ alpha
        expected = np.mean(np.argmax(scores, axis=1) != y[40:])
        # float32 storage of the Gram: at most a near-tie may flip
        assert abs(row["val_error"] - expected) <= 1 / 20 + 1e-12
        assert row["relative_residual"] < 1e-8
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())
    assert (tmp_path / "confirm.png").stat().st_size > 0
    best = results["summary"][0]["best"]
    assert best["val_error"] == min(r["val_error"] for f in entry["by_factor"].values()
                                    for r in f["rows"])
    assert "best held-out" in capsys.readouterr().out


def test_a_rerun_skips_what_is_done(confirm, tmp_path, capsys):
    run(confirm, tmp_path)
    done = len(confirm.calls)
    run(confirm, tmp_path)
    assert len(confirm.calls) == done
    assert "already done, skipped" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--settings", "nope"], "unknown: ['nope']"),
    (["--filters", "0"], "--filters must be at least 1; found 0"),
    (["--regs", "-1"], "--regs >= 0; found [1, 2, 4] and [-1.0]"),
])
def test_bad_arguments_are_refused(confirm, tmp_path, argv, message, capsys):
    with pytest.raises(SystemExit):
        confirm.main([*argv, "--checkpoint-root", str(tmp_path), "--out",
                      str(tmp_path / "x.json")])
    assert message in capsys.readouterr().err


def test_an_unconverged_solve_is_marked_and_never_chosen(confirm, tmp_path, capsys):
    """A mixed-precision solve left far from a solution (residual 0.31) keeps its row but
    is neither the best nor the best interpolant, nor drawn."""
    row = {"kernel": "gaussian x4", "bandwidth": 4.0, "reg": 0.0, "val_error": 0.01,
           "rkhs_norm": 1.0, "relative_residual": 0.31, "resumed_filters": 0, "timings": {}}
    good = {**row, "kernel": "gaussian x1", "bandwidth": 1.0, "val_error": 0.2,
            "relative_residual": 1e-12}
    results = {"n_fit": 40, "n_val": 20, "settings": {"baseline": {
        "name": "baseline", "by_factor": {"1": {"rows": [good]}, "4": {"rows": [row]}}}}}
    (summary,) = confirm.summary_rows(results)
    assert summary["best"] is good and summary["best_unregularized"] is good
    confirm.print_table(results)
    out = capsys.readouterr().out
    assert "unsolved" in out and " 20.00%" in out and "1.00%" not in out
    confirm.draw(results, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0


def test_a_failed_solve_is_recorded_and_the_other_regs_are_solved_alone(confirm, tmp_path,
                                                                       monkeypatch, capsys):
    from kernelfit.backend import NotPositiveDefiniteError

    solve = confirm.solve_streamed_regs

    def failing_at_reg0_wide(*args, **kwargs):  # a float32 Cholesky failing at 2 x, reg 0
        if kwargs["bandwidth"] is not None and 0 in kwargs["regs"]:
            raise NotPositiveDefiniteError("pivot 7 is not positive")
        return solve(*args, **kwargs)

    monkeypatch.setattr(confirm, "solve_streamed_regs", failing_at_reg0_wide)
    results = run(confirm, tmp_path)
    rows = {r["reg"]: r for r in results["settings"]["baseline"]["by_factor"]["2"]["rows"]}
    assert rows[0]["val_error"] is None and rows[0]["relative_residual"] is None
    assert rows[0]["failure"] == "NotPositiveDefiniteError: pivot 7 is not positive"
    assert rows[0.1]["val_error"] is not None and rows[0.1]["relative_residual"] < 1e-8
    out = capsys.readouterr().out
    assert "solving each reg alone" in out and "failed" in out
    assert results["summary"][0]["best"]["val_error"] is not None
