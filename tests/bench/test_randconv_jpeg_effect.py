"""bench/randconv_jpeg_effect.py: the JPEG round trip, and the study on synthetic images
(the rows, the resume and the refusal of another configuration)."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import cho_factor, cho_solve

BENCH = Path(__file__).resolve().parents[2] / "bench"


def smooth_images(n, size=32, seed=0):
    """Low-frequency colour fields plus mild noise: photograph-like for JPEG."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(n):
        freq = rng.uniform(0, 2, (3, 2))
        planes = [128 + 80 * np.sin(2 * np.pi * (freq[c, 0] * x + freq[c, 1] * y) + c)
                  for c in range(3)]
        image = np.stack(planes, -1) + rng.normal(0, 8, (size, size, 3))
        images.append(np.clip(image, 0, 255).round().astype(np.uint8))
    return np.array(images)


@pytest.fixture
def effect(load_bench, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))  # as when run as a script
    module = load_bench("randconv_jpeg_effect")
    images = smooth_images(60)
    labels = np.random.default_rng(1).integers(0, 3, size=60)

    def fake_split(n_fit, n_val, seed):
        return images[: n_fit + n_val], labels[: n_fit + n_val], "synthetic"

    monkeypatch.setattr(module, "load_split", fake_split)
    module.images, module.labels = images, labels
    return module


def test_round_trip_at_quality_100_without_subsampling_keeps_the_pixels(effect):
    images = smooth_images(8)
    out = effect.jpeg_round_trip(images, 100, chroma="4:4:4")
    assert out.dtype == np.uint8 and out.shape == images.shape
    difference = np.abs(out.astype(int) - images)
    assert difference.max() <= 6 and difference.mean() < 1
    single = effect.jpeg_round_trip(images[0], 100, chroma="4:4:4")
    assert single.shape == images[0].shape
    np.testing.assert_array_equal(single, out[0])


def test_lower_quality_changes_the_pixels_more(effect):
    images = smooth_images(8)
    changes = [np.abs(effect.jpeg_round_trip(images, q).astype(int) - images).mean()
               for q in (95, 75, 50, 25)]
    assert changes[0] > 0.5
    assert np.all(np.diff(changes) > 0), changes


def test_420_chroma_averages_colour_over_2x2_pixels(effect):
    # Alternate two colours pixel by pixel: 4:4:4 keeps them, 4:2:0 keeps only the
    # average colour of each 2 x 2 block (every block holds two of each).
    board = np.indices((16, 16)).sum(0) % 2 == 1
    image = np.zeros((16, 16, 3), np.uint8)
    image[board], image[~board] = (200, 60, 128), (60, 140, 100)
    full = np.abs(effect.jpeg_round_trip(image, 100, chroma="4:4:4").astype(int) - image)
    half = np.abs(effect.jpeg_round_trip(image, 100).astype(int) - image)
    assert full.mean() < 2
    assert half.mean() > 20


@pytest.mark.parametrize(("images", "quality", "chroma", "error", "message"), [
    (np.zeros((2, 8, 8, 3), np.uint8), 0, "4:2:0", ValueError,
     "quality must be an int in 1..100; found 0"),
    (np.zeros((2, 8, 8, 3), np.uint8), 101, "4:2:0", ValueError,
     "quality must be an int in 1..100; found 101"),
    (np.zeros((2, 8, 8, 3), np.uint8), 75.0, "4:2:0", TypeError,
     "quality must be an int in 1..100; found float 75.0"),
    (np.zeros((2, 8, 8, 3), np.uint8), True, "4:2:0", TypeError,
     "quality must be an int in 1..100; found bool True"),
    (np.zeros((2, 8, 8, 3), np.uint8), 75, "4:1:1", ValueError,
     r"chroma must be one of \['4:4:4', '4:2:2', '4:2:0'\]; found '4:1:1'"),
    (np.zeros((2, 8, 8, 3), np.float32), 75, "4:2:0", TypeError,
     "images must be uint8; found dtype float32"),
    (np.zeros((2, 8, 8), np.uint8), 75, "4:2:0", ValueError,
     r"images must have shape \(H, W, 3\) or \(n, H, W, 3\); found \(2, 8, 8\)"),
])
def test_bad_round_trip_inputs_are_refused(effect, images, quality, chroma, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        effect.jpeg_round_trip(images, quality, chroma)


def run(effect, tmp_path, *extra, filters="4"):
    out = tmp_path / "effect.json"
    results = effect.main(["--n-fit", "40", "--n-val", "20", "--filters", filters,
                           "--bandwidth-factors", "2", "--regs", "0.1", "--out", str(out),
                           *extra])
    return json.loads(out.read_text()), results


def test_every_quality_is_scored_on_its_own_round_trip(effect, tmp_path, capsys):
    plot = tmp_path / "effect.png"
    saved, _ = run(effect, tmp_path, "--qualities", "50", "90", "--plot", str(plot))
    assert plot.stat().st_size > 10_000
    entries = saved["qualities"]
    assert set(entries) == {"as given", "quality 90", "quality 50"}
    assert saved["config"]["params"]["pooling"] == "overlap3"
    assert saved["config"]["bandwidth_factors"] == [1.0, 2.0]  # 1: the interpolant's
    assert saved["config"]["regs"] == [0.0, 0.1]
    assert "versions" in saved and "command" in saved
    assert entries["as given"]["mean_abs_change"] == 0
    assert 0 < entries["quality 90"]["mean_abs_change"] < entries["quality 50"][
        "mean_abs_change"]
    for entry in entries.values():
        assert len(entry["rows"]) == 3 * 2  # linear, x1, x2 at two regs
        errors = [r["val_error"] for r in entry["rows"] if r["val_error"] is not None]
        assert all(0 <= e <= 1 for e in errors)
        assert entry["best"]["val_error"] == min(errors)
        assert (entry["interpolant"]["kernel"], entry["interpolant"]["reg"]) == (
            "gaussian x1", 0)
    # Recompute quality 50's interpolant from its round-tripped images' features.
    from kernelfit.features import RandomConvFeatures

    images = effect.jpeg_round_trip(effect.images, 50)
    params = saved["config"]["params"]
    features = RandomConvFeatures(**params, device="cpu").fit(images[:40]).transform(images)
    features = features.astype(np.float64)
    row = entries["quality 50"]["interpolant"]
    K = np.exp(-((features[:, None] - features[None, :40]) ** 2).sum(-1)
               / (2 * row["bandwidth"] ** 2))
    alpha = cho_solve(cho_factor(K[:40]), np.eye(3)[effect.labels[:40]])
    expected = np.mean(np.argmax(K[40:] @ alpha, axis=1) != effect.labels[40:60])
    assert row["val_error"] == pytest.approx(expected, abs=1e-12)
    log = capsys.readouterr().out
    assert "interpolant (median, reg 0)" in log
    assert (f"held-out error per grey level of mean pixel change: "
            f"{effect.format_slopes(saved['slopes'])}") in log


def test_slopes_are_least_squares_fits_in_points_per_grey_level(effect):
    from scipy.stats import linregress

    def entry(change, interpolant, best):
        return {"mean_abs_change": change, "interpolant": interpolant and {
            "val_error": interpolant}, "best": {"val_error": best}}

    entries = {"as given": entry(0.0, 0.289, 0.278), "quality 95": entry(0.83, 0.292, 0.280),
               "quality 50": entry(6.9, 0.308, 0.302),
               "quality 10": entry(13.0, None, 0.372)}
    got = effect.slopes(entries)
    assert got["interpolant"] == pytest.approx(
        linregress([0, 0.83, 6.9], [28.9, 29.2, 30.8]).slope, rel=1e-9)
    assert got["best"] == pytest.approx(
        linregress([0, 0.83, 6.9, 13.0], [27.8, 28.0, 30.2, 37.2]).slope, rel=1e-9)
    assert effect.slopes({"as given": entry(0.0, 0.3, 0.3)}) == {"interpolant": None,
                                                                 "best": None}
    assert effect.format_slopes({"interpolant": 0.6867, "best": None}) == (
        "interpolant +0.69, best - percentage points")


def test_a_rerun_skips_finished_qualities_and_refuses_another_configuration(effect, tmp_path,
                                                                           capsys):
    first, _ = run(effect, tmp_path, "--qualities", "50")
    capsys.readouterr()
    second, _ = run(effect, tmp_path, "--qualities", "50", "20")
    log = capsys.readouterr().out
    assert "as given: already done, skipped" in log
    assert "quality 50: already done, skipped" in log
    assert "quality 20: already done" not in log
    assert second["qualities"]["quality 50"] == first["qualities"]["quality 50"]
    assert set(second["qualities"]) == {"as given", "quality 50", "quality 20"}
    assert set(second["slopes"]) == {"interpolant", "best"}
    with pytest.raises(SystemExit, match=r"holds a run of another configuration: n_filters "
                       r"\(in the file 4, now 5\); give another --out"):
        run(effect, tmp_path, "--qualities", "50", filters="5")
    with pytest.raises(SystemExit, match=r"configuration: n_fit \(in the file 40, now 30\); "
                       r"random_state"):
        effect.main(["--n-fit", "30", "--n-val", "20", "--filters", "4", "--bandwidth-factors",
                     "2", "--regs", "0.1", "--out", str(tmp_path / "effect.json"), "--seed", "3"])


def test_out_of_range_qualities_are_refused(effect, tmp_path, capsys):
    with pytest.raises(SystemExit):
        run(effect, tmp_path, "--qualities", "0", "75")
    assert "--qualities must lie in 1..100; found [0, 75]" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(effect, tmp_path, "--regs", "-1")
    assert ("--bandwidth-factors must be > 0 and --regs >= 0; found [2.0] and [-1.0]"
            in capsys.readouterr().err)
