"""One small progress interface for every long loop in kernelfit.

The library never prints. A long routine (Gram matrix, factorization, feature
extraction, training) accepts ``progress=None`` or a callable, opens a
:class:`Phase` with :func:`phase`, and calls :meth:`Phase.advance` as work is
done. Front ends (the CLI, notebooks) pass a callable that renders the events,
for example :class:`TqdmProgress`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Phase", "ProgressCallback", "ProgressEvent", "TqdmProgress", "phase"]


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
    """

    phase: str
    done: float
    total: float
    unit: str
    elapsed: float
    finished: bool = False


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

    def _emit(self, finished: bool = False) -> None:
        if self.callback is not None:
            elapsed = time.perf_counter() - self.start
            self.callback(
                ProgressEvent(self.name, self.done, self.total, self.unit, elapsed, finished)
            )

    def advance(self, amount: float = 1.0) -> None:
        """Record ``amount`` more units of work as done."""
        self.done += amount
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


class TqdmProgress:
    """Render progress events as one tqdm bar per phase (with rate and ETA).

    Parameters
    ----------
    disable : bool, default False
        Swallow all events (``--quiet``).
    file : file-like, optional
        Where bars are drawn; tqdm's default (stderr) when omitted.
    """

    def __init__(self, disable: bool = False, file=None):
        self.disable = disable
        self.file = file
        self._bars: dict[str, object] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if self.disable:
            return
        from tqdm.auto import tqdm

        bar = self._bars.get(event.phase)
        if bar is None:
            bar = tqdm(
                total=event.total,
                desc=event.phase,
                unit=event.unit or "it",
                file=self.file,
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} {unit} "
                "[{elapsed}<{remaining}, {rate_fmt}]",
            )
            self._bars[event.phase] = bar
        bar.n = event.done
        bar.refresh()
        if event.finished:
            bar.close()
            del self._bars[event.phase]
