"""The kept-K write benchmark (bench/bench_kept_kernel_writes.py): both modes, same tiles."""

import json

import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_kept_kernel_writes")


def test_both_modes_write_the_same_tiles_and_the_rows_say_so(bench, tmp_path, capsys):
    out = tmp_path / "writes.json"
    assert bench.main(["--n", "150", "--d", "6", "--tile-size", "32", "--repeats", "2",
                       "--scratch-dir", str(tmp_path), "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    rows = record["rows"]
    assert [(r["mode"], r["repeat"]) for r in rows] == [
        ("direct", 0), ("background", 0), ("direct", 1), ("background", 1)]
    for row in rows:
        assert row["seconds"] > 0 and row["user_seconds"] >= 0 and row["sync_seconds"] >= 0
        assert row["kept_bytes"] == 8 * sum(min(32, 150 - 32 * i) * min(32, 150 - 32 * j)
                                            for i in range(5) for j in range(i + 1))
    best = {m: min(r["seconds"] for r in rows if r["mode"] == m) for m in bench.MODES}
    assert record["ratio_direct_over_background"] == pytest.approx(
        best["direct"] / best["background"])
    assert "direct / background" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["writes.json"]  # scratch removed


def test_differing_tiles_are_refused(bench, tmp_path, monkeypatch):
    fill = bench.fill

    def tampered(mode, *args):
        row, checksum = fill(mode, *args)
        return row, [c + (mode == "background") for c in checksum]

    monkeypatch.setattr(bench, "fill", tampered)
    with pytest.raises(SystemExit, match="the background tiles differ from the direct tiles"):
        bench.main(["--n", "40", "--d", "3", "--repeats", "1", "--scratch-dir", str(tmp_path)])


@pytest.mark.parametrize("argv, message", [(["--n", "1"], "--n must be at least 2"),
                                           (["--repeats", "0"], "found 40000, 784, 0")])
def test_bad_sizes_are_refused(bench, argv, message, capsys):
    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err
