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
