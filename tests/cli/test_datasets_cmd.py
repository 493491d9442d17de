"""``kernelfit datasets`` reports what is present and whether it verified."""

import json
import os

import pytest

from kernelfit.cli import main


@pytest.mark.skipif(not os.environ.get("KERNELFIT_DATA"), reason="KERNELFIT_DATA not set")
def test_datasets_table_and_json(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "mnist" in out and "verified" in out
    assert main(["datasets", "--json"]) == 0
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["mnist"]["present"] and records["mnist"]["verified"]


def test_datasets_empty_dir_says_absent(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERNELFIT_DATA", str(tmp_path))
    monkeypatch.setenv("KERNELFIT_CACHE", str(tmp_path / "cache"))
    assert main(["datasets", "--json", "--data-dir", str(tmp_path)]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["present"] for r in records] == [False, False, False]


def test_a_copy_that_fails_verification_makes_the_command_fail(tmp_path, capsys, monkeypatch):
    import numpy as np

    from kernelfit.datasets.idx_datasets import IDX_FILES
    from kernelfit.datasets.idx_format import encode_idx

    monkeypatch.delenv("KERNELFIT_DATA", raising=False)
    monkeypatch.setenv("KERNELFIT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "mnist").mkdir()
    for role, name in IDX_FILES.items():  # MNIST's names, other content
        shape = (5, 28, 28) if role.endswith("images") else (5,)
        (tmp_path / "mnist" / name).write_bytes(encode_idx(np.zeros(shape, np.uint8)))
    assert main(["datasets", "--data-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "checksum mismatch" in captured.out
    assert "kernelfit datasets: mnist failed verification" in captured.err
    assert main(["datasets", "--json", "--data-dir", str(tmp_path)]) == 1
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert records["mnist"]["failed"] and records["mnist"]["verified"] is False
    assert main(["datasets", "--no-verify", "--data-dir", str(tmp_path)]) == 0
