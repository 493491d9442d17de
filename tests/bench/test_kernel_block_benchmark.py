"""The kernel-block benchmark (bench/bench_kernel_block.py) at toy sizes: every method
it times runs, the compiled pass gives the shipped block, and each storage's first fill
is reported apart from the repeats on memory already touched."""

import json

import pytest


@pytest.fixture(scope="module")
def bench(load_bench):
    return load_bench("bench_kernel_block")


def test_tables_and_json_at_toy_sizes(bench, tmp_path, capsys):
    out = tmp_path / "kernel-block.json"
    assert bench.main(["--block", "64", "--laplacian-block", "16", "--d", "8",
                       "--repeats", "2", "--matvec-n", "90", "--matvec-k", "3",
                       "--matvec-repeats", "1", "--gram-n", "300", "--gram-repeats", "2",
                       "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    blocks = [r for r in rows if r["case"].startswith("gaussian")]
    assert len(blocks) == 2 and all("compiled" in r and "gemm" in r for r in blocks)
    assert all(r["max_relative_difference"] < 1e-12 for r in rows if "kernelfit" in r)
    gram = {r["case"].split(" n=")[0]: r for r in rows if r["case"].startswith("gram ")}
    for label in ("float64", "float32"):
        assert len(gram[f"gram {label}"]["seconds"]) == 2  # the repeats only
        assert len(gram[f"gram {label} first fill, fresh memory"]["seconds"]) == 1
        assert f"gram {label} compiled pass" in gram
    assert all(0 < r["ratio_to_gemm_min"] <= r["ratio_to_gemm_max"] for r in gram.values())
    assert "first fill, fresh memory" in capsys.readouterr().out
