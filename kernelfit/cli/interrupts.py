"""SIGTERM and SIGHUP handled like Ctrl-C, so every exit runs the clean-up code.

``timeout``, a batch scheduler or a closed terminal stop a process with SIGTERM
or SIGHUP, whose default action ends it without unwinding: ``finally`` blocks
do not run and scratch files stay on disk. Inside :func:`signals_as_interrupts`
those signals raise :class:`Interrupted` (a ``KeyboardInterrupt``) instead, so
they take the same path as Ctrl-C.
"""

from __future__ import annotations

import contextlib
import signal
import threading

__all__ = ["HANDLED_SIGNALS", "Interrupted", "signals_as_interrupts"]

#: Signals turned into :class:`Interrupted` (those this platform has).
HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                        if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop requested by a signal other than SIGINT.

    Attributes
    ----------
    signum : int
        The signal received.
    """

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_as_interrupts():
    """Within the block, SIGTERM and SIGHUP raise :class:`Interrupted`.

    The previous handlers come back on exit. Outside the main thread (where
    Python cannot install handlers) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_interrupted) for sig in HANDLED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
