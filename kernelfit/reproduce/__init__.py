"""``kernelfit reproduce``: re-run Section 5 of Zhang et al. and write a report.

* :mod:`~kernelfit.reproduce.plan` -- the steps at each scale (smoke, quick, full);
* :mod:`~kernelfit.reproduce.store` -- stored results, reused when their
  configuration matches;
* :mod:`~kernelfit.reproduce.estimate` -- expected durations from measured rates;
* :mod:`~kernelfit.reproduce.gram_checkpoints` -- where the random-conv steps
  checkpoint their streamed Gram (shared, adopted, deleted after), and its disk;
* :mod:`~kernelfit.reproduce.runner` -- runs the steps through the same code as
  the individual commands;
* :mod:`~kernelfit.reproduce.report`, :mod:`~kernelfit.reproduce.plots` --
  ``REPORT.md`` and its PNGs;
* :mod:`~kernelfit.reproduce.paper` -- the paper's figures.
"""

from .plan import MODES, Step, experiment_command, plan
from .runner import Reproduction, run_reproduction
from .store import ResultStore

__all__ = ["MODES", "Reproduction", "ResultStore", "Step", "experiment_command", "plan",
           "run_reproduction"]
