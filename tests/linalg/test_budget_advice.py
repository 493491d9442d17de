"""A memory-budget refusal ends with advice that fits what was refused."""

import numpy as np
import pytest

from kernelfit.linalg import PackedStorage
from kernelfit.linalg.out_of_core import OutOfCoreStorage
from kernelfit.memory import MemoryBudgetError, check_budget, format_bytes


def test_out_of_core_refusal_names_the_budget_needed_and_smaller_tiles(tmp_path):
    with pytest.raises(MemoryBudgetError) as caught:
        OutOfCoreStorage(2000, tmp_path, tile_size=500, dtype=np.float32, memory_budget="1MB")
    message = str(caught.value)
    need = 2 * 2000 * 500 * 4
    assert f"two 2000 x 500 float32 tile columns) needs {format_bytes(need)}" in message
    assert f"to at least {format_bytes(need)}" in message and "--tile-size" in message
    assert "packed" not in message and "float32 or" not in message  # it is out of core already


@pytest.mark.parametrize("dtype, suggests_float32", [(np.float64, True), (np.float32, False)])
def test_packed_refusal_suggests_disk_and_float32_only_when_it_helps(dtype, suggests_float32):
    with pytest.raises(MemoryBudgetError) as caught:
        PackedStorage(1000, 250, dtype, memory_budget="1MB")
    message = str(caught.value)
    assert "--storage out-of-core" in message
    assert ("--dtype float32" in message) == suggests_float32


def test_default_advice_names_the_option():
    with pytest.raises(MemoryBudgetError, match=r"needs 2 kB \(2,000 bytes\), more than the "
                       r"memory budget of 1 kB \(1,000 bytes\); raise the memory budget "
                       r"\(--memory-budget\) or reduce the problem size$"):
        check_budget(2000, 1000, "x")
    with pytest.raises(MemoryBudgetError, match=r"; use fewer filters$"):
        check_budget(2000, 1000, "x", "use fewer filters")
    check_budget(1000, 1000, "x")  # exactly the budget fits
