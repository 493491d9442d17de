"""One small progress interface for every long loop in kernelfit.

The library never prints. A long routine (Gram matrix, factorization, feature
extraction, training) accepts ``progress=None`` or a callable, opens a
:class:`Phase` with :func:`phase`, and calls :meth:`Phase.advance` as work is
done. Front ends (the CLI, notebooks) pass a callable that renders the events,
for example :class:`TqdmProgress`.
"""

from __future__ import annotations

import os
import sys
import time
import weakref
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = [
    "Phase",
    "ProgressCallback",
    "ProgressEvent",
    "TqdmProgress",
    "end_progress_lines",
    "phase",
    "progress_lines_ended",
]


@dataclass(frozen=True)
class ProgressEvent:
    """A snapshot of one phase of work.

    Attributes
    ----------
    phase : str
        Name of the phase, e.g. ``"gram"`` or ``"cholesky"``.
    done, total : float
        Work finished so far and the total, in ``unit``.
    unit : str
        Unit of ``done`` and ``total`` (``"tiles"``, ``"GFLOP"``, ``"images"``).
    elapsed : float
        Seconds since the phase started.
    finished : bool
        True on the last event of the phase.
    restored : float
        The part of ``done`` restored (from a checkpoint) rather than done in
        ``elapsed``; rates and time left count only the rest.
    """

    phase: str
    done: float
    total: float
    unit: str
    elapsed: float
    finished: bool = False
    restored: float = 0.0


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class Phase:
    """A running phase; report work with :meth:`advance`. Use :func:`phase` to create one."""

    callback: ProgressCallback | None
    name: str
    total: float
    unit: str = ""
    done: float = 0.0
    start: float = field(default_factory=time.perf_counter)
    restored: float = 0.0

    def _emit(self, finished: bool = False) -> None:
        if self.callback is not None:
            elapsed = time.perf_counter() - self.start
            self.callback(ProgressEvent(self.name, self.done, self.total, self.unit, elapsed,
                                        finished, self.restored))

    def advance(self, amount: float = 1.0) -> None:
        """Record ``amount`` more units of work as done."""
        self.done += amount
        self._emit()

    def restore(self, amount: float) -> None:
        """Record ``amount`` units as done before this run (e.g. read from a checkpoint):
        they count in ``done`` but not in the rate at which the rest is expected."""
        if not 0 <= amount < float("inf"):
            raise ValueError(f"restored work must be a finite amount >= 0; found {amount!r}")
        self.done += amount
        self.restored += amount
        self._emit()

    def close(self) -> None:
        """Mark the phase as finished (idempotent in effect for renderers)."""
        self._emit(finished=True)

    @property
    def elapsed(self) -> float:
        """Seconds since the phase started."""
        return time.perf_counter() - self.start

    def __enter__(self) -> Phase:
        self._emit()
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()


def phase(callback: ProgressCallback | None, name: str, total: float, unit: str = "") -> Phase:
    """Open a progress phase.

    Parameters
    ----------
    callback : callable or None
        Receives a :class:`ProgressEvent` on each update; ``None`` disables reporting.
    name : str
        Phase name shown to the user.
    total : float
        Total amount of work, in ``unit``.
    unit : str, default ""
        Unit of work.

    Returns
    -------
    Phase
        Use as a context manager and call :meth:`Phase.advance`.
    """
    return Phase(callback, name, float(total), unit)


#: Renderers with bars open, so that :func:`end_progress_lines` can finish them.
_RENDERERS_WITH_BARS: weakref.WeakSet = weakref.WeakSet()


class TqdmProgress:
    """Render progress events: tqdm bars in a terminal, plain periodic lines in a log.

    In a terminal each phase gets one tqdm bar (with rate and ETA); a phase that
    runs again (the two triangular solves, each refinement pass) is labelled with
    its run number (``solve 2``, ``refine 3``). When the stream is not a terminal
    (a log file, a batch job) no carriage-return frames are written: one line when
    a phase starts, one every ``interval`` seconds, and one when it ends.

    Parameters
    ----------
    disable : bool, default False
        Swallow all events (``--quiet``).
    file : file-like, optional
        Where bars or lines are written; ``sys.stderr`` when omitted.
    interval : float, default 30
        Seconds between two plain lines of one phase when ``file`` is not a terminal.
    """

    def __init__(self, disable: bool = False, file=None, interval: float = 30.0):
        self.disable = disable
        self.file = file
        self.interval = float(interval)
        self._bars: dict[str, object] = {}
        self._labels: dict[str, str] = {}
        self._runs: dict[str, int] = {}
        self._last_line: dict[str, float] = {}
        self._restored: dict[str, float] = {}

    @property
    def _stream(self):
        return self.file if self.file is not None else sys.stderr

    def _label(self, name: str) -> str:
        """The phase's name, with its run number from the second run on."""
        if name not in self._labels:
            runs = self._runs[name] = self._runs.get(name, 0) + 1
            self._labels[name] = name if runs == 1 else f"{name} {runs}"
        return self._labels[name]

    def __call__(self, event: ProgressEvent) -> None:
        if self.disable or (event.finished and event.phase not in self._labels):
            return  # off, or a phase closed twice
        label = self._label(event.phase)
        if _is_terminal(self._stream):
            self._draw_bar(event, label)
        else:
            self._write_line(event, label)
        if event.finished:
            del self._labels[event.phase]

    def _draw_bar(self, event: ProgressEvent, label: str) -> None:
        from tqdm.auto import tqdm

        bar = self._bars.get(event.phase)
        if bar is None:
            bar = tqdm(
                total=event.total,
                desc=label,
                unit=event.unit or "it",
                file=self._stream,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} {unit} "
                "[{elapsed}<{remaining}, {rate_fmt}]",
            )
            self._bars[event.phase] = bar
            _RENDERERS_WITH_BARS.add(self)
        bar.initial = event.restored  # tqdm's rate and time left count from here
        bar.n = event.done
        bar.refresh()
        if event.finished:
            bar.close()
            del self._bars[event.phase]

    def _write_line(self, event: ProgressEvent, label: str) -> None:
        now = time.monotonic()
        last = self._last_line.get(event.phase)
        unit = f" {event.unit}" if event.unit else ""
        if event.finished:
            self._last_line.pop(event.phase, None)
            self._restored.pop(event.phase, None)
            text = f"{label}: done, {event.done:.4g}{unit} in {_clock(event.elapsed)}"
            if event.restored:
                text += f" ({event.restored:.4g}{unit} of it restored)"
        elif event.restored > self._restored.get(event.phase, 0.0):
            self._restored[event.phase] = event.restored
            text = f"{label}: {event.restored:.4g}{unit} restored, not recomputed"
            if event.total > 0:
                text += f" ({100 * event.restored / event.total:.0f}%)"
        elif last is None:
            self._last_line[event.phase] = now
            text = f"{label}: started, {event.total:.4g}{unit} to do"
        elif now - last >= self.interval:
            self._last_line[event.phase] = now
            text = f"{label}: {event.done:.4g}/{event.total:.4g}{unit}"
            if event.total > 0:
                text += f" ({100 * event.done / event.total:.0f}%)"
            text += f" after {_clock(event.elapsed)}"
            if event.restored < event.done < event.total:
                left = event.elapsed * (event.total - event.done) / (event.done - event.restored)
                text += f", about {_clock(left)} left"
        else:
            return
        print(text, file=self._stream, flush=True)

    def close(self) -> None:
        """Finish every open bar where it stands, so that the next line starts afresh."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()
        self._labels.clear()


def end_progress_lines() -> None:
    """Finish the open bars of every :class:`TqdmProgress` (before an error or
    ``interrupted`` is printed, so that the message gets a line of its own)."""
    for renderer in list(_RENDERERS_WITH_BARS):
        renderer.close()


@contextmanager
def progress_lines_ended():
    """On leaving the block, however it is left, :func:`end_progress_lines`."""
    try:
        yield
    finally:
        end_progress_lines()


def _is_terminal(stream) -> bool:
    """A terminal that can show a bar (a pseudo-terminal of width 0 cannot: lines then)."""
    isatty = getattr(stream, "isatty", None)
    try:
        if not (isatty and isatty()):
            return False
    except ValueError:  # a closed stream
        return False
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, OSError, ValueError):  # no descriptor: trust isatty
        return True


def _clock(seconds: float) -> str:
    """``"12.3 s"``, ``"4 min 05 s"`` or ``"2 h 03 min"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
