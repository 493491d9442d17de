"""``dtype="auto"``: mixed precision where the measured rates say it pays (precision_choice)."""

import math

import pytest

from kernelfit.backend import Backend, host_backend
from kernelfit.precision_choice import (
    REFINEMENT_PRODUCTS,
    SMALL_FLOPS,
    choose_precision,
    sweep_rate,
)

RATES = {"gemm_float64_gflops": 35.0, "gemm_float32_gflops": 70.0, "sweep_gbs": 1.0}


def crossover(rates, d=None):
    """The n above which the model's saving exceeds its cost, solved independently
    by bisection on saving(n) - cost(n)."""
    r64, r32 = rates["gemm_float64_gflops"] * 1e9, rates["gemm_float32_gflops"] * 1e9

    def gain(n):
        saving = n**3 / 3 * (1 / r64 - 1 / r32) + (n * n * d / r64 if d else 0)
        return saving - 12 * REFINEMENT_PRODUCTS * n * n / (rates["sweep_gbs"] * 1e9)

    lo, hi = 1.0, 1e7
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if gain(mid) > 0 else (mid, hi)
    return hi


@pytest.mark.parametrize("d", [None, 784])
def test_the_choice_flips_at_the_model_crossover(d):
    n_star = crossover(RATES, d)
    small = math.ceil((3 * SMALL_FLOPS) ** (1 / 3))
    above, below = max(int(n_star * 1.05), small), int(n_star * 0.95)
    assert choose_precision(above, host_backend(), d=d, rates=RATES).precision == "mixed"
    if below >= small:
        assert choose_precision(below, host_backend(), d=d, rates=RATES).precision == "float64"


def test_slow_sweeps_keep_float64_and_the_reason_gives_the_rates():
    slow = dict(RATES, sweep_gbs=0.01)
    choice = choose_precision(20000, host_backend(), rates=slow)
    assert choice.precision == "float64"
    assert "GEMM 35 / 70 GFLOP/s" in choice.reason and "sweeps 0.0 GB/s" in choice.reason


def test_small_problems_are_float64_without_measuring(monkeypatch):
    import kernelfit.precision_choice as pc

    monkeypatch.setattr(pc, "measured_rates", lambda: pytest.fail("measured for a small n"))
    choice = choose_precision(1000, host_backend())
    assert choice.precision == "float64" and "n = 1,000" in choice.reason


def test_a_device_without_mixed_default_keeps_it():
    xps = pytest.importorskip("array_api_strict")
    choice = choose_precision(50000, Backend(xps))
    assert choice.precision == "float64" and "default" in choice.reason


@pytest.mark.parametrize(("n", "d"), [(0, None), (10, 0)])
def test_bad_sizes_are_refused(n, d):
    with pytest.raises(ValueError, match=f"found n={n}, d={d}"):
        choose_precision(n, host_backend(), d=d, rates=RATES)


def test_sweep_rate_is_positive_and_finite():
    rate = sweep_rate(size=256, columns=10, repeats=1)
    assert math.isfinite(rate) and rate > 0
