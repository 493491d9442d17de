"""Results of a reproduction on disk, reused when their configuration matches.

Layout of the reproduction folder ``DIR``:

* ``DIR/results/<step>.json`` -- a kernel experiment: the JSON of
  :meth:`~kernelfit.experiment_records.ExperimentResult.to_dict` (what
  ``kernelfit mnist --json`` writes) plus the ``command`` that reruns it;
* ``DIR/steps/<step>.json`` -- a sub-command step: its arguments and outputs;
* ``DIR/nets/`` -- what those sub-commands write;
* ``DIR/plots/``, ``DIR/REPORT.md`` -- generated from the above.

A kernel record is reused when its stored configuration equals the step's on
every field that changes the result (:data:`RESULT_FIELDS`), so the output of
a separate ``kernelfit mnist --json`` run with the same options can be placed
under ``results/`` and is picked up. A sub-command record is reused when its
arguments are the same and all of its outputs exist. Records are written
atomically after each step: an interrupted run keeps every finished step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from ..experiment_records import ExperimentConfig
from ..results_io import write_json

__all__ = ["RESULT_FIELDS", "ResultStore"]

#: Configuration fields that define a kernel result (where the data was read
#: from, whether downloading was allowed, and where the tiles lived, do not).
RESULT_FIELDS = tuple(f.name for f in fields(ExperimentConfig)
                      if f.name not in ("data_dir", "download", "storage", "scratch_dir"))


def _canonical(config: dict) -> dict:
    out = {}
    for name in RESULT_FIELDS:
        value = config.get(name)
        if name == "reg" and value is not None and not isinstance(value, str):
            value = float(value)  # "auto" stays a string
        if name == "bandwidth" and isinstance(value, int):
            value = float(value)
        out[name] = value
    return out


class ResultStore:
    """Read and write the records of one reproduction folder.

    Parameters
    ----------
    root : str or Path
        The reproduction folder (created when missing).
    """

    def __init__(self, root):
        self.root = Path(root)
        for sub in ("results", "steps", "nets", "plots"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _path(self, step) -> Path:
        kind = "results" if step.config is not None else "steps"
        return self.root / kind / f"{step.name}.json"

    def load(self, step) -> dict | None:
        """The stored record of ``step`` if it matches the step, else None.

        A record that cannot be parsed is treated as missing (and rewritten
        when the step reruns).
        """
        path = self._path(step)
        if not path.exists():
            return None
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if step.config is not None:
            stored = record.get("config")
            if not isinstance(stored, dict):
                return None
            return record if _canonical(stored) == _canonical(asdict(step.config)) else None
        if record.get("argv") != list(step.argv):
            return None
        missing = [p for p in step.outputs if not (self.root / p).exists()]
        return None if missing else record

    def save(self, step, record: dict) -> Path:
        """Write ``record`` for ``step`` atomically; returns the path."""
        return write_json(record, self._path(step))

    def records(self, steps) -> dict:
        """``{step.name: record}`` for every step with a matching record."""
        found = {}
        for step in steps:
            record = self.load(step)
            if record is not None:
                found[step.name] = record
        return found

    def read_output(self, relative: str) -> dict | None:
        """A JSON output of a sub-command step, or None when absent."""
        path = self.root / relative
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError:
            return None
