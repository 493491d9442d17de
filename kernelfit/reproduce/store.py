"""Results of a reproduction on disk, reused when their configuration matches.

Layout of the reproduction folder ``DIR``:

* ``DIR/results/<step>.json`` -- a kernel experiment: the JSON of
  :meth:`~kernelfit.experiment_records.ExperimentResult.to_dict` (what
  ``kernelfit mnist --json`` writes) plus the ``command`` that reruns it;
* ``DIR/steps/<step>.json`` -- a sub-command step: its arguments and outputs;
* ``DIR/nets/`` -- what those sub-commands write;
* ``DIR/plots/``, ``DIR/REPORT.md`` -- generated from the above;
* ``DIR/checkpoints/<name>/`` -- while a random-conv step's result is not written, its
  streamed Gram checkpoint (:mod:`kernelfit.reproduce.gram_checkpoints`; elsewhere with
  ``--checkpoint-dir``).

A kernel record is reused when its stored configuration equals the step's on
every field that changes the result (:data:`RESULT_FIELDS`), so the output of
a separate ``kernelfit mnist --json`` run with the same options can be placed
under ``results/`` and is picked up. ``feature_params`` holds only what was asked
for, so a step with a feature map also compares the record's ``feature_map`` (the
effective parameters, after the data set's and the class's defaults) with what the
current defaults give (:mod:`kernelfit.features.feature_map_records`): a result
computed under other defaults is not passed off as current. A record from before
results carried ``feature_map`` is reused only for the feature maps in
:data:`UNRECORDED_FEATURE_MAPS_TRUSTED`, whose parameters have not changed since
they were written; random-conv records are rerun (their CIFAR-10 defaults changed
in commit 54c8ba2). :meth:`ResultStore.mismatch` says why a record is not reused.
A sub-command record is reused when its arguments are the same and all of its
outputs exist. Records are written atomically after each step: an interrupted run
keeps every finished step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from ..experiment_records import ExperimentConfig
from ..results_io import write_json

__all__ = ["RESULT_FIELDS", "UNRECORDED_FEATURE_MAPS_TRUSTED", "ResultStore"]

#: Configuration fields that define a kernel result (where the data was read
#: from, whether downloading was allowed, and where the tiles and the Gram
#: checkpoints lived, do not).
RESULT_FIELDS = tuple(f.name for f in fields(ExperimentConfig)
                      if f.name not in ("data_dir", "download", "storage", "scratch_dir",
                                        "checkpoint_dir"))


#: Feature maps whose records without a ``feature_map`` entry are still reused: the
#: Gabor transform's and the wavelet map's parameters (class and data-set defaults)
#: are those of their first commit (229e850). Take a name out when its defaults change.
UNRECORDED_FEATURE_MAPS_TRUSTED = ("gabor", "dwt")


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
        when the step reruns); :meth:`mismatch` says why a record is not used.
        """
        return self.match(step)[0]

    def mismatch(self, step) -> str | None:
        """Why the stored record of ``step`` is not reused; None when there is none or
        it is reused."""
        return self.match(step)[1]

    def match(self, step) -> tuple[dict | None, str | None]:
        """``(record, None)`` when the stored record of ``step`` is reused, ``(None, why)``
        when one is stored but not reused, ``(None, None)`` when none is stored."""
        path = self._path(step)
        if not path.exists():
            return None, None
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            return None, f"{path} cannot be read as JSON ({exc})"
        if not isinstance(record, dict):
            return None, f"{path} holds a {type(record).__name__}, not a result record"
        if step.config is not None:
            why = _config_mismatch(record, step.config)
            return (None, why) if why else (record, None)
        if record.get("argv") != list(step.argv):
            return None, f"it ran {record.get('argv')}, the step runs {list(step.argv)}"
        missing = [p for p in step.outputs if not (self.root / p).exists()]
        return (None, f"its outputs {missing} are missing") if missing else (record, None)

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


def _config_mismatch(record: dict, config) -> str | None:
    """Why a kernel record does not hold the result of ``config``; None when it does."""
    stored = record.get("config")
    if not isinstance(stored, dict):
        return "it has no configuration"
    ours, theirs = _canonical(asdict(config)), _canonical(stored)
    differing = [f"{k}: recorded {theirs[k]!r}, the step has {ours[k]!r}"
                 for k in RESULT_FIELDS if theirs[k] != ours[k]]
    if differing:
        return "its configuration differs (" + "; ".join(differing) + ")"
    if config.features in (None, "none"):
        return None
    if "feature_map" not in record:
        if config.features in UNRECORDED_FEATURE_MAPS_TRUSTED:
            return None
        return (f"it does not record the effective parameters of its {config.features!r} "
                f"feature map (written before results carried feature_map), and that map's "
                f"defaults have changed since")
    from ..features.feature_map_records import (
        configured_feature_map_record,
        feature_map_differences,
    )

    try:
        expected = configured_feature_map_record(config.features, config.dataset,
                                                 config.feature_params, seed=config.seed)
    except ValueError as exc:
        return f"the step's feature map cannot be built ({exc})"
    differing = feature_map_differences(record["feature_map"], expected)
    if differing:
        return ("its feature map differs from what the current defaults give ("
                + "; ".join(differing) + ")")
    return None
