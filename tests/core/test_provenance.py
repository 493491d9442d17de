"""The provenance every result carries: versions, machine, and a bench run's record."""

import json
import sys

from kernelfit import __version__
from kernelfit.provenance import environment, run_record


def test_environment_names_the_software_and_the_machine():
    versions, machine = environment()
    assert versions["kernelfit"] == __version__
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))
    assert {"internal_api", "version", "num_threads"} <= set(versions["blas"][0])
    assert machine["cores"] >= 1 and machine["cpu"]


def test_run_record_is_the_command_the_environment_and_the_fields(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench/bench_x.py", "--n", "5"])
    record = run_record(rows=[{"n": 5}], copy_gbs=1.5)
    assert record["command"] == "python bench/bench_x.py --n 5"
    assert record["rows"] == [{"n": 5}] and record["copy_gbs"] == 1.5
    assert (record["versions"], record["machine"]) == environment()
    assert len(record["date"]) == len("2026-11-29 21:00:00")
    json.dumps(record)  # JSON-ready


def test_save_run_writes_the_record_and_says_where(tmp_path, capsys):
    from kernelfit.provenance import save_run

    out = tmp_path / "run.json"
    record = save_run(out, rows=[1, 2])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    assert record["rows"] == [1, 2]
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert save_run(None, rows=[])["rows"] == [] and not capsys.readouterr().out
