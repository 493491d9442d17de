"""A stopped `kernelfit reproduce` stops its step's child gently, so the child cleans up."""

import os
import signal
import subprocess
import sys
import time

CHILD = """
import signal, sys, time
from pathlib import Path
out = Path(sys.argv[1])
def stop(signum, frame):
    (out / "cleaned").write_text(signal.Signals(signum).name)
    sys.exit(128 + signum)
signal.signal(signal.SIGTERM, stop)
(out / "ready").write_text("")
time.sleep(60)
"""

PARENT = """
import sys
from kernelfit.cli.interrupts import signals_as_interrupts
from kernelfit.reproduce.runner import run_child
with signals_as_interrupts():
    try:
        run_child([sys.executable, "-c", sys.argv[1], sys.argv[2]])
    except KeyboardInterrupt:
        sys.exit(3)
"""


def test_a_stopped_parent_sends_sigterm_to_its_step_and_waits(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, CHILD, str(tmp_path)],
                              start_new_session=True)  # the signal reaches the parent only
    deadline = time.monotonic() + 60
    while not (tmp_path / "ready").exists():
        assert parent.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    os.kill(parent.pid, signal.SIGTERM)
    assert parent.wait(timeout=60) == 3
    assert (tmp_path / "cleaned").read_text() == "SIGTERM"  # it was not killed outright


def test_a_step_that_ends_returns_its_status(tmp_path):
    from kernelfit.reproduce.runner import run_child

    assert run_child([sys.executable, "-c", "import sys; sys.exit(5)"]) == 5
