"""``import kernelfit`` shortens OpenBLAS's idle spinning unless the user chose a value,
and the run records say which value the BLAS read."""

import os
import subprocess
import sys

import kernelfit

CODE = ("import kernelfit, os; from kernelfit.provenance import blas_thread_timeout; "
        "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], '|', blas_thread_timeout())")


def run(code, **env):
    base = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env},
                         capture_output=True, text=True, check=True).stdout
    return [part.strip() for part in out.split("|")]


def test_import_sets_the_short_spin_before_numpy_loads():
    assert run(CODE) == [kernelfit.BLAS_THREAD_TIMEOUT, kernelfit.BLAS_THREAD_TIMEOUT]


def test_a_value_the_user_set_is_kept():
    assert run(CODE, OPENBLAS_THREAD_TIMEOUT="22") == ["22", "22"]


def test_numpy_loaded_first_is_recorded_as_such():
    value, recorded = run("import numpy; " + CODE)
    assert value == kernelfit.BLAS_THREAD_TIMEOUT
    assert recorded == value + " (NumPy loaded first: its OpenBLAS kept the default)"


def test_a_value_exported_before_numpy_reached_it():
    assert run("import numpy; " + CODE, OPENBLAS_THREAD_TIMEOUT="16") == ["16", "16"]


def test_run_records_carry_the_setting():
    code = ("import kernelfit; from kernelfit.provenance import environment; "
            "print(environment()[0]['blas_thread_timeout'])")
    assert run(code) == [kernelfit.BLAS_THREAD_TIMEOUT]
