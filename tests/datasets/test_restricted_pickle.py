"""The NumPy-only unpickler admits arrays and containers and refuses everything else."""

import codecs
import os
import pickle
import pickletools

import numpy as np
import pytest

from kernelfit.datasets.errors import UnsafePickleError
from kernelfit.datasets.restricted_pickle import load_numpy_pickle


class RunsShell:
    """Unpickling this calls os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class CallsEval:
    def __reduce__(self):
        return (eval, ("1 + 1",))


class Rot13:
    def __reduce__(self):
        return (codecs.encode, ("abc", "rot13"))


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_arrays_and_containers_round_trip(protocol):
    value = {
        "data": np.arange(24, dtype=np.uint8).reshape(4, 6),
        "floats": np.linspace(0, 1, 5, dtype=np.float32),
        "labels": [1, 2, 3],
        "name": "batch",
        "raw": b"\x00\xff",
        "nested": ((np.int64(0).item(), None, True), 2.5),
    }
    out = load_numpy_pickle(pickle.dumps(value, protocol=protocol), source="t")
    np.testing.assert_array_equal(out["data"], value["data"])
    np.testing.assert_array_equal(out["floats"], value["floats"])
    assert {k: out[k] for k in ("labels", "name", "raw", "nested")} == {
        k: value[k] for k in ("labels", "name", "raw", "nested")
    }


def test_malicious_reduce_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    blob = pickle.dumps({"data": RunsShell(f"touch {marker}")}, protocol=2)
    assert any(op.name == "GLOBAL" and "system" in arg for op, arg, _ in pickletools.genops(blob))
    with pytest.raises(UnsafePickleError, match=r"evil\.pkl: refused to load global "
                       r"(posix|nt)\.system"):
        load_numpy_pickle(blob, source="evil.pkl")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_builtins_eval_is_refused(protocol):
    with pytest.raises(UnsafePickleError, match=r"(__builtin__|builtins)\.eval"):
        load_numpy_pickle(pickle.dumps(CallsEval(), protocol=protocol), source="x")


def test_codecs_encode_is_admitted_for_latin1_only():
    with pytest.raises(UnsafePickleError, match="only latin1"):
        load_numpy_pickle(pickle.dumps(Rot13(), protocol=2), source="x")


def test_other_numpy_callables_are_refused():
    blob = pickle.dumps(np.load, protocol=2)
    with pytest.raises(UnsafePickleError, match=r"numpy\.load"):
        load_numpy_pickle(blob, source="x")


def test_a_refusal_is_an_unpickling_error():
    assert issubclass(UnsafePickleError, pickle.UnpicklingError)
