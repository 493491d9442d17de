"""The random-conv throughput benchmark (bench/bench_randconv.py), run in-process on tiny sizes."""

import json

import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_randconv")


def test_rows_rates_and_gram_check_in_float64(bench, tmp_path, capsys):
    out = tmp_path / "randconv.json"
    argv = ["--n-images", "40", "--filters", "8", "16", "--dtype", "float64",
            "--data", "synthetic", "--gemm-size", "128", "--gemm-repeats", "1",
            "--n-whitening-patches", "2000", "--n-jobs", "1", "--out", str(out)]
    assert bench.main(argv) == 0
    record = json.loads(out.read_text())
    assert record["command"] == " ".join(["python", "bench/bench_randconv.py", *argv])
    assert record["dtype"] == "float64" and record["data"] == "synthetic"
    assert record["gemm"]["gflops"] > 0
    assert record["versions"]["numpy"] and record["versions"]["scipy"]
    assert record["machine"]["cores"] >= 1
    assert [row["n_filters"] for row in record["rows"]] == [8, 16]
    for row in record["rows"]:
        assert row["n_features"] == 8 * row["n_filters"]  # 2 signs x 4 quadrants
        assert row["filter_chunks"] == [[0, row["n_filters"]]]
        assert row["encoder"] == "compiled"
        assert row["encode_paths_relative_difference"] < 1e-10
        for part in ("encode", "encode_array_path", "gram", "end_to_end"):
            assert row[part]["seconds"] > 0 and row[part]["gflops"] > 0
            assert row[part]["fraction_of_gemm"] == pytest.approx(
                row[part]["gflops"] / record["gemm"]["gflops"])
        assert row["end_to_end"]["gflop"] == pytest.approx(
            row["encode"]["gflop"] + row["gram"]["gflop"])
        assert row["gram_relative_error"] < 1e-10
    table = capsys.readouterr().out
    assert "end-to-end s" in table and "gram rel. err" in table and "array path s" in table


def test_a_wrong_gram_is_refused(bench, monkeypatch):
    from kernelfit.features import conv_gram

    def broken(*args, **kwargs):
        results = conv_gram.accumulate_feature_grams(*args, **kwargs)
        results[0].gram[0, 0] *= 1 + 1e-6
        return results

    monkeypatch.setattr(bench, "accumulate_feature_grams", broken)
    images, _ = bench.load_images("synthetic", 12)
    with pytest.raises(RuntimeError, match="differs from the Gram"):
        bench.measure(images, 4, "float64", 1, 1, gemm_gflops=1.0,
                      n_whitening_patches=500)


def test_encoders_that_disagree_are_refused(bench, monkeypatch):
    from kernelfit.features.conv_encoding import PatchEncoder

    pool = PatchEncoder._pool  # the array path's pooling; the compiled path does not call it

    def off_by_a_little(self, *args):
        return pool(self, *args) * (1 + 1e-6)

    monkeypatch.setattr(PatchEncoder, "_pool", off_by_a_little)
    images, _ = bench.load_images("synthetic", 12)
    with pytest.raises(RuntimeError, match="compiled encoder's features differ from the array"):
        bench.measure(images, 4, "float64", 1, 1, gemm_gflops=1.0, n_whitening_patches=500)
