"""Wall seconds per named phase, and the CPU seconds behind them.

Every phase of a run (``load``, ``gram``, ``cholesky``, ``solve``, ``predict``, ...) is
timed by a :class:`Stopwatch` or :func:`timed_phase`. Its wall seconds are added to
the caller's ``timings`` dict, as they always were. While a :func:`cpu_by_phase` block
is open, the same call also adds the phase's CPU seconds to that block's record:
``getrusage`` of the whole process (all threads, BLAS's included), split into time in
the program (``user_seconds``) and time the operating system spent on its behalf
(``system_seconds``: on Linux mostly page faults of fresh memory and file I/O), with
its minor page faults. That is how a phase's distance from its floor is split into
arithmetic and operating-system work.

The record is carried by a context variable, so the numerical code only names its
phases; the experiment that opens the block decides whether CPU time is recorded.
A phase is recorded in the innermost open block. Code that runs a whole solve inside a
phase of its own (a held-out search fitting several models) opens a block around it,
so that the inner ``gram`` or ``cholesky`` are not charged to the outer run's phases of
those names; a caller that reports several solves side by side keeps each one's
record (:func:`add_to_record`).
Phases are timed on the thread that runs the pipeline; ``getrusage`` counts the work
of every thread of the process in that interval.
"""

from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Stopwatch", "add_to_record", "cpu_by_phase", "timed_phase"]

#: The open :func:`cpu_by_phase` record, or None.
_RECORD: ContextVar[dict | None] = ContextVar("kernelfit_cpu_by_phase", default=None)


@contextmanager
def cpu_by_phase():
    """Record the CPU seconds of every phase timed inside the block.

    Yields
    ------
    dict
        Filled as phases end: ``{phase: {"user_seconds", "system_seconds",
        "minor_faults"}}``, summed when a phase runs more than once. Blocks nest;
        a phase is recorded in the innermost one.
    """
    record: dict = {}
    token = _RECORD.set(record)
    try:
        yield record
    finally:
        _RECORD.reset(token)


def add_to_record(phases: dict, prefix: str = "") -> None:
    """Add a record of another block (``phases``, as :func:`cpu_by_phase` yields) to the
    open one, each phase named ``prefix + name``; nothing when no block is open."""
    record = _RECORD.get()
    if record is None:
        return
    for name, used in phases.items():
        _add(record, prefix + name, used["user_seconds"], used["system_seconds"],
             used["minor_faults"])


def _add(record, name, user, system, faults):
    phase = record.setdefault(name, {"user_seconds": 0.0, "system_seconds": 0.0,
                                     "minor_faults": 0})
    phase["user_seconds"] += user
    phase["system_seconds"] += system
    phase["minor_faults"] += faults


class Stopwatch:
    """Laps of a run: each :meth:`lap` charges the time since the last one to a phase.

    Parameters
    ----------
    synchronize : callable, optional
        Called before each reading (a device's wait for queued work), so that a
        phase is charged with its own device work and not with earlier work.
    """

    def __init__(self, synchronize=None):
        self._synchronize = synchronize
        self.restart()

    def _read(self):
        if self._synchronize is not None:
            self._synchronize()
        return time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)

    def restart(self) -> None:
        """Start the next lap now (what came before is charged to no phase)."""
        self._wall, self._usage = self._read()

    def lap(self, timings: dict, name: str) -> float:
        """Add the seconds since the last lap to ``timings[name]`` (and the CPU seconds
        to an open :func:`cpu_by_phase` record), then start the next lap.

        Returns
        -------
        float
            The lap's wall seconds.
        """
        wall, usage = self._read()
        seconds = wall - self._wall
        timings[name] = timings.get(name, 0.0) + seconds
        record = _RECORD.get()
        if record is not None:
            _add(record, name, usage.ru_utime - self._usage.ru_utime,
                 usage.ru_stime - self._usage.ru_stime, usage.ru_minflt - self._usage.ru_minflt)
        self._wall, self._usage = wall, usage
        return seconds


@contextmanager
def timed_phase(timings: dict, name: str, synchronize=None):
    """Charge the ``with`` block to phase ``name`` (see :meth:`Stopwatch.lap`), also when
    it raises."""
    watch = Stopwatch(synchronize)
    try:
        yield
    finally:
        watch.lap(timings, name)
