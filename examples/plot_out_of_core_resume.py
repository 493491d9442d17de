"""
An out-of-core solve, killed and resumed
========================================

When the lower tiles of ``K`` do not fit the memory budget, kernelfit keeps
them in one memory-mapped file and factorizes it one tile column (panel) at a
time, with two columns in RAM. Each finished panel is journalled on disk. Under
a ``scratch_dir`` you choose, a run that dies leaves its tiles behind and can be
started again with the same arguments: it finds them (their directory is named
after a hash of the data, kernel, ridge, dtype and tile size), skips the Gram
matrix and continues at the first unfinished panel. A run that finishes deletes
its tiles. (Without ``scratch_dir`` the tiles go to the system temporary
directory and are deleted on every exit Python sees.)

Here ``storage="out-of-core"`` forces the disk path for a problem small enough
to solve in a second, and a progress callback stands in for a kill.
"""

import os
import tempfile

import numpy as np

import kernelfit as kf

rng = np.random.default_rng(0)
X = rng.random((1200, 10))
y = np.sin(4 * X[:, 0]) + X[:, 1] ** 2
scratch = tempfile.mkdtemp(prefix="kernelfit-example-")


def model(progress=None):
    """The same problem each time: 6 x 6 tiles of 200, float64, on disk."""
    return kf.KernelRegressor(kernel="gaussian", bandwidth=1.0, reg=1e-6, tile_size=200,
                              storage="out-of-core", scratch_dir=scratch, progress=progress)


reference = model().fit(X, y)
print(f"uninterrupted fit: {reference.storage_}; resumed panels: {reference.resumed_panels_}")
print("left in the scratch directory after it finished:", os.listdir(scratch))

# %%
# The "kill": a progress callback that raises once half the factorization is
# done. (A real kill -- ``kill -9``, a lost node, Ctrl-C -- leaves the same state
# on disk; ``tests/linalg/test_storage_choice.py`` checks it with ``os._exit``.)


class Killed(Exception):
    """Raised by the callback below in place of a kill."""


def kill_halfway(event):
    if event.phase == "cholesky" and event.done >= event.total / 2 and not event.finished:
        raise Killed(f"stopped at {event.done:.3g} of {event.total:.3g} {event.unit}")


try:
    model(progress=kill_halfway).fit(X, y)
except Killed as exc:
    print("first attempt:", exc)
else:
    raise RuntimeError("the fit was expected to stop halfway through its factorization")
print("kept for the next run:", os.listdir(scratch))

# %%
# The same call again resumes from the journal and gives the same answer,
# bit for bit, then removes its tiles.
resumed = model().fit(X, y)
same = np.array_equal(resumed.dual_coef_, reference.dual_coef_)
print(f"second attempt: resumed after {resumed.resumed_panels_} finished panels")
print("same coefficients as the uninterrupted fit:", same)
print("left in the scratch directory:", os.listdir(scratch))
if resumed.resumed_panels_ == 0 or not same or os.listdir(scratch):
    raise RuntimeError("the second fit should resume, agree exactly and clean up")
os.rmdir(scratch)
