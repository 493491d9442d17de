"""Memory measurement: the sampled anonymous peak against the kernel's own counters."""

import resource

import numpy as np
import pytest

from kernelfit.memory_usage import AnonymousPeak, ProcessCpu, anonymous_rss, peak_rss


def status_kib(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))


def test_anonymous_rss_reads_the_kernels_figure():
    before = status_kib("RssAnon") * 1024
    now = anonymous_rss()
    assert abs(now - before) < 64 << 20  # the same counter, read a moment later


def test_a_short_lived_allocation_raises_the_sampled_peak(tmp_path):
    size = 256 << 20
    with AnonymousPeak(interval=0.01) as sampler:
        start = anonymous_rss()
        block = np.ones(size // 8)  # touched: resident
        for _ in range(50):  # give the sampler several chances
            block += 1.0
        del block
    assert sampler.peak >= start + 0.75 * size
    assert peak_rss() >= sampler.peak  # RSS counts the anonymous part and more


def test_mapped_file_pages_count_in_rss_but_not_in_the_anonymous_figure(tmp_path):
    size = 128 << 20
    mapped = np.memmap(tmp_path / "tiles.bin", dtype=np.float64, mode="w+", shape=(size // 8,))
    before_anon = anonymous_rss()
    before_file = status_kib("RssFile")
    mapped[:] = 1.0  # dirty file pages, resident
    assert status_kib("RssFile") - before_file > (size >> 10) // 2
    assert anonymous_rss() - before_anon < size // 4
    del mapped


@pytest.mark.parametrize("interval", [0, -1.0])
def test_a_sampling_interval_must_be_positive(interval):
    with pytest.raises(ValueError, match=f"positive number of seconds; found {interval}"):
        AnonymousPeak(interval=interval)


def test_a_child_process_reports_its_own_peak_not_its_parents(run_python):
    """ru_maxrss survives fork and exec; a reproduction step run as a child of a large
    process must still report its own (small) peak."""
    size = 400 << 20
    block = np.ones(size // 8)  # touched: this process's peak is now above `size`
    child = run_python("from kernelfit.memory_usage import peak_rss; print(peak_rss())")
    assert child.returncode == 0, child.stderr
    reported = int(child.stdout.strip())
    assert reported < size / 2
    assert block.sum() == size // 8
    assert peak_rss() >= size


def test_process_cpu_counts_the_faults_of_fresh_memory_against_getrusage():
    """Touching fresh pages costs page faults; ProcessCpu reports them and the CPU time
    as getrusage (the independent reference) sees them around the same work."""
    size = 64 << 20
    before = resource.getrusage(resource.RUSAGE_SELF)
    with ProcessCpu() as cpu:
        block = np.empty(size // 8)
        block[::512] = 1.0  # one write per 4 KiB page: every page faulted once
    after = resource.getrusage(resource.RUSAGE_SELF)
    pages_touched = size // 4096
    # Huge pages serve up to 512 small pages per fault; at least one fault per 2 MiB.
    assert size // (2 << 20) <= cpu.minor_faults <= after.ru_minflt - before.ru_minflt
    assert cpu.minor_faults <= pages_touched + 1000
    assert 0 <= cpu.system_seconds <= after.ru_stime - before.ru_stime
    assert 0 <= cpu.user_seconds <= after.ru_utime - before.ru_utime
    assert cpu.to_dict() == {"user_seconds": cpu.user_seconds,
                             "system_seconds": cpu.system_seconds,
                             "minor_faults": cpu.minor_faults}
    assert block[0] == 1.0


def test_process_cpu_sees_no_faults_when_memory_is_already_touched():
    block = np.ones(16 << 17)
    with ProcessCpu() as cpu:
        block[::512] = 2.0
    assert cpu.minor_faults < 100
