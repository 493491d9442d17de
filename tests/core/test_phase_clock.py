"""Per-phase wall and CPU seconds, against getrusage and perf_counter around the same work."""

import resource
import time

import numpy as np
import pytest

from kernelfit.phase_clock import Stopwatch, cpu_by_phase, timed_phase


def busy(seconds):
    """Spin in this thread (user time only)."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x


def test_laps_charge_wall_and_cpu_time_to_their_phases():
    timings = {}
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with cpu_by_phase() as record:
        watch = Stopwatch()
        busy(0.15)
        first = watch.lap(timings, "spin")
        size = 64 << 20
        block = np.empty(size // 8)
        block[::512] = 1.0  # one write per 4 KiB page: fresh pages, faulted by the OS
        watch.lap(timings, "touch")
        busy(0.05)
        watch.lap(timings, "spin")  # a phase run again is summed
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert set(timings) == set(record) == {"spin", "touch"}
    assert first >= 0.15 and timings["spin"] >= 0.2
    assert sum(timings.values()) <= wall
    spin = record["spin"]
    assert spin["user_seconds"] >= 0.1  # the spin is this thread's own CPU time
    total_user = sum(r["user_seconds"] for r in record.values())
    total_system = sum(r["system_seconds"] for r in record.values())
    assert total_user <= after.ru_utime - before.ru_utime + 1e-6
    assert total_system <= after.ru_stime - before.ru_stime + 1e-6
    faults = record["touch"]["minor_faults"]
    # Huge pages serve up to 512 small pages per fault: at least one fault per 2 MiB.
    assert size // (2 << 20) <= faults <= after.ru_minflt - before.ru_minflt
    assert block[0] == 1.0


def test_restart_leaves_the_time_before_it_uncharged():
    timings = {}
    watch = Stopwatch()
    busy(0.1)
    watch.restart()
    assert watch.lap(timings, "after") < 0.05
    assert timings["after"] < 0.05


def test_without_an_open_record_only_the_wall_time_is_kept():
    timings = {}
    with timed_phase(timings, "alone"):
        busy(0.01)
    assert timings["alone"] >= 0.01
    with cpu_by_phase() as record:
        pass
    assert record == {}  # nothing was timed inside


def test_records_nest_and_a_failing_phase_is_still_charged():
    timings = {}
    with cpu_by_phase() as outer:
        with cpu_by_phase() as inner, pytest.raises(RuntimeError, match="boom"), \
                timed_phase(timings, "failing"):
            busy(0.02)
            raise RuntimeError("boom")
        with timed_phase(timings, "later"):
            pass
    assert set(inner) == {"failing"} and set(outer) == {"later"}
    assert timings["failing"] >= 0.02


def test_synchronize_is_called_before_each_reading():
    calls = []
    timings = {}
    with timed_phase(timings, "device", synchronize=lambda: calls.append(1)):
        assert calls == [1]
    assert calls == [1, 1]
