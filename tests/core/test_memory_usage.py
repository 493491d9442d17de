"""Memory measurement: the sampled anonymous peak against the kernel's own counters."""

import numpy as np
import pytest

from kernelfit.memory_usage import AnonymousPeak, anonymous_rss, peak_rss


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
