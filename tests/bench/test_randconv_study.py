"""bench/randconv_study.py on synthetic images: the grid, the resume and the combined choice."""

import json

import numpy as np
import pytest
from scipy.linalg import cho_factor, cho_solve


@pytest.fixture
def study(load_bench, monkeypatch, synthetic_split):
    module = load_bench("randconv_study")
    images, labels = synthetic_split
    loads = []

    def fake_split(n_fit, n_val, seed):
        loads.append((n_fit, n_val, seed))
        return images[: n_fit + n_val], labels[: n_fit + n_val], "synthetic"

    monkeypatch.setattr(module, "load_split", fake_split)
    module.loads = loads
    module.labels = labels
    return module


def run(study, tmp_path, *extra):
    out = tmp_path / "study.json"
    study.main(["--n-fit", "40", "--n-val", "20", "--filters", "4", "--bandwidth-factors", "1",
                "2", "--regs", "0", "0.1", "--out", str(out), *extra])
    return json.loads(out.read_text()), out


def test_held_out_errors_match_a_dense_reference(study, tmp_path, capsys):
    results, _ = run(study, tmp_path, "--stage", "screen", "--only", "baseline")
    entry = results["settings"]["baseline @ 4"]
    assert entry["n_features"] == 4 * 2 * 4
    assert {(r["kernel"], r["reg"]) for r in entry["rows"]} == {
        (k, r) for k in ("linear", "gaussian x1", "gaussian x2") for r in (0, 0.1)}
    # Recompute one Gaussian row from the features themselves.
    from kernelfit.features import RandomConvFeatures

    params = study.feature_params({}, 4, 40, 0, None)
    images = study.load_split(40, 20, 0)[0]
    features = RandomConvFeatures(**params, device="cpu").fit(images[:40]).transform(images)
    features = features.astype(np.float64)
    row = next(r for r in entry["rows"] if r["kernel"] == "gaussian x2" and r["reg"] == 0.1)
    sq = ((features[:, None, :] - features[None, :40, :]) ** 2).sum(-1)
    K = np.exp(-sq / (2 * row["bandwidth"] ** 2))
    y = study.labels[:60]
    alpha = cho_solve(cho_factor(K[:40] + 0.1 * np.eye(40)), np.eye(3)[y[:40]])
    expected = np.mean(np.argmax(K[40:] @ alpha, axis=1) != y[40:])
    assert row["val_error"] == pytest.approx(expected, abs=1e-12)
    assert "baseline" in capsys.readouterr().out


def test_a_rerun_resumes_and_the_combined_setting_takes_winning_choices(study, tmp_path,
                                                                        capsys):
    run(study, tmp_path, "--stage", "screen", "--only", "baseline", "alpha=0.5")
    capsys.readouterr()
    plot = tmp_path / "study.png"
    results, _ = run(study, tmp_path, "--stage", "screen", "combine", "--only", "baseline",
                     "alpha=0.5", "--plot", str(plot))
    assert plot.stat().st_size > 10_000
    settings = results["settings"]
    assert set(settings) == {"baseline @ 4", "alpha=0.5 @ 4", "combined @ 4"}
    log = capsys.readouterr().out
    assert "baseline @ 4: already done, skipped" in log
    assert "alpha=0.5 @ 4: already done, skipped" in log
    wins = settings["alpha=0.5 @ 4"]["best"]["val_error"] < settings["baseline @ 4"]["best"][
        "val_error"]
    assert results["combined_changes"] == ({"alpha": 0.5} if wins else {})


def test_an_unknown_curve_setting_is_refused(study, tmp_path):
    with pytest.raises(SystemExit, match="--curve-setting must be one of"):
        run(study, tmp_path, "--stage", "curve", "--curve-setting", "nope")


@pytest.mark.parametrize(("args", "message"), [
    (["--bandwidth-factors", "0", "1"],
     r"--bandwidth-factors must be > 0 and --regs >= 0; found \[0.0, 1.0\] and"),
    (["--regs", "-1"], r"found \[0.5, 1, 2, 4, 8, 16\] and \[-1.0\]"),
    (["--filters", "0"], r"must be at least 1; found 0 and \[4000, 16000\]"),
])
def test_bad_grids_are_refused_with_what_was_found(load_bench, capsys, args, message):
    import re

    module = load_bench("randconv_study")
    with pytest.raises(SystemExit):
        module.parse_args(["--out", "x.json", *args])
    assert re.search(message, capsys.readouterr().err)
