"""The effective parameters of a feature map, as a JSON record, and how two records differ.

A result records the feature map it actually used, with every parameter after the
per-data-set defaults (:data:`~kernelfit.features.registry.DATASET_DEFAULTS`) and the
class defaults were applied, not only those that were asked for::

    {"name": "randconv", "params": {"n_filters": 4000, "pooling": "overlap3", ...}}

:func:`configured_feature_map_record` gives the record that the current code would
write for a configuration, so that a stored result can be checked against it
(:func:`feature_map_differences`); parameters that change how a map runs, not what
it computes (:data:`RUNTIME_PARAMS`), are recorded but not compared.
"""

from __future__ import annotations

import numpy as np

from ..results_io import json_ready
from .registry import FEATURE_MAPS, make_feature_map

__all__ = ["RUNTIME_PARAMS", "configured_feature_map_record", "feature_map_differences",
           "feature_map_record"]

#: Parameters that change how a feature map runs (threads, batches, device, memory,
#: progress), not the features it computes: recorded, never compared.
RUNTIME_PARAMS = ("batch_size", "n_jobs", "device", "memory_budget", "progress")


def _json_value(value):
    """``value`` as JSON: NumPy scalars and dtypes, tuples and non-finite floats included;
    any other object as its ``repr`` (recorded, though it can never match a later one)."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if value is None or isinstance(value, (bool, int, float, str, np.generic)):
        return json_ready(value)
    return repr(value)


def feature_map_record(feature_map) -> dict:
    """The name and effective parameters of ``feature_map``, JSON-ready.

    Parameters
    ----------
    feature_map : estimator
        One of the transformers of :data:`~kernelfit.features.registry.FEATURE_MAPS`.

    Returns
    -------
    dict
        ``{"name": ..., "params": {...}}``: the registry name and every parameter of
        ``get_params()`` except the progress callback.

    Raises
    ------
    TypeError
        ``feature_map`` is not one of the registry's transformers.
    """
    names = {cls: name for name, cls in FEATURE_MAPS.items()}
    name = names.get(type(feature_map))
    if name is None:
        raise TypeError(f"feature_map must be one of {sorted(c.__name__ for c in names)}; "
                        f"found {type(feature_map).__name__}")
    params = {k: _json_value(v) for k, v in sorted(feature_map.get_params().items())
              if k != "progress"}
    return {"name": name, "params": params}


def configured_feature_map_record(name: str, dataset: str | None, params: dict,
                                   seed=None) -> dict:
    """The record a run of ``name`` on ``dataset`` with ``params`` asked for would write,
    by the same rule as :func:`~kernelfit.features.registry.make_feature_map`.

    Raises
    ------
    ValueError
        An unknown name or a parameter the feature map does not have.
    """
    return feature_map_record(make_feature_map(name, dataset=dataset, seed=seed, **params))


def feature_map_differences(recorded, expected: dict) -> list[str]:
    """How a recorded feature map differs from ``expected`` in what it computes.

    Parameters
    ----------
    recorded : dict or None
        A result's ``feature_map`` entry, as read from its JSON.
    expected : dict
        :func:`configured_feature_map_record` of the same configuration.

    Returns
    -------
    list of str
        One ``"pooling: recorded 'grid', now 'overlap3'"`` line per differing name or
        parameter (:data:`RUNTIME_PARAMS` left out); empty when they agree.
    """
    if not isinstance(recorded, dict) or not isinstance(recorded.get("params"), dict):
        return [f"feature_map must be a record with a name and params; found {recorded!r}"]
    if recorded.get("name") != expected["name"]:
        return [f"name: recorded {recorded.get('name')!r}, now {expected['name']!r}"]
    missing = object()
    keys = sorted((set(recorded["params"]) | set(expected["params"])) - set(RUNTIME_PARAMS))
    lines = []
    for key in keys:
        old = recorded["params"].get(key, missing)
        new = expected["params"].get(key, missing)
        if old != new:
            lines.append(f"{key}: recorded {'(absent)' if old is missing else repr(old)}, "
                         f"now {'(absent)' if new is missing else repr(new)}")
    return lines
