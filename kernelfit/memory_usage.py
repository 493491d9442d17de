"""How much memory this process holds: peak RSS, and the peak of its anonymous part.

Peak RSS (``VmHWM``, else ``getrusage``) also counts resident pages of memory-mapped files, such
as out-of-core tiles or a float64 copy of ``K`` kept on disk; the kernel can drop
those pages at any time, so they are cache rather than memory the run needs. The
anonymous part (heap, NumPy arrays) is what the run holds in RAM. Linux reports
its current value only (``RssAnon`` in ``/proc/self/status``), so
:class:`AnonymousPeak` samples it in a thread.

:class:`ProcessCpu` measures what touching fresh memory costs: the CPU time the
operating system spends for this process (mostly page faults: zeroing new pages
and, in a virtual machine, the host backing them) beside its own compute.
"""

from __future__ import annotations

import resource
import threading

__all__ = ["AnonymousPeak", "ProcessCpu", "anonymous_rss", "peak_rss"]


def peak_rss() -> int:
    """Peak resident set size of this program so far, in bytes (mapped files included).

    Linux's ``VmHWM`` where there is one: it starts afresh when a program is
    started, whereas ``getrusage``'s ``ru_maxrss`` (the fallback elsewhere) keeps
    the parent's peak across ``fork`` and ``exec``, so a small child of a large
    process (a reproduction step) would report its parent's peak.
    """
    high_water = _proc_status_bytes("VmHWM:")
    if high_water is not None:
        return high_water
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def anonymous_rss() -> int | None:
    """Resident anonymous memory of this process now, in bytes; None where Linux's
    ``/proc/self/status`` is not available."""
    return _proc_status_bytes("RssAnon:")


def _proc_status_bytes(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes; None where it cannot be read."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class AnonymousPeak:
    """Context manager sampling :func:`anonymous_rss`; ``peak`` is the largest value seen.

    Parameters
    ----------
    interval : float, default 0.25
        Seconds between samples (a peak shorter than this can be missed).

    Attributes
    ----------
    peak : int or None
        Bytes; None where the value cannot be read.
    """

    def __init__(self, interval: float = 0.25):
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds; found {interval!r}")
        self.interval, self.peak = interval, anonymous_rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="kernelfit-memory-sampler")

    def _sample(self) -> None:
        value = anonymous_rss()
        if value is not None and (self.peak is None or value > self.peak):
            self.peak = value

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self._sample()


class ProcessCpu:
    """Context manager: CPU seconds and page faults of this process while it is open.

    ``getrusage`` sums all threads, so both times are CPU seconds, not wall time:
    two busy threads for one second count two.

    Attributes
    ----------
    user_seconds, system_seconds : float
        CPU time in this program and in the operating system on its behalf (on
        Linux, mostly page faults when a run first touches fresh memory).
    minor_faults : int
        Page faults served without disk I/O (fresh anonymous pages among them).
    """

    def __init__(self):
        self.user_seconds = self.system_seconds = 0.0
        self.minor_faults = 0
        self._start = None

    def __enter__(self):
        self._start = resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc):
        end, start = resource.getrusage(resource.RUSAGE_SELF), self._start
        self.user_seconds = end.ru_utime - start.ru_utime
        self.system_seconds = end.ru_stime - start.ru_stime
        self.minor_faults = end.ru_minflt - start.ru_minflt

    def to_dict(self) -> dict:
        """The three figures under the names of the attributes (for JSON records)."""
        return {"user_seconds": self.user_seconds, "system_seconds": self.system_seconds,
                "minor_faults": self.minor_faults}
