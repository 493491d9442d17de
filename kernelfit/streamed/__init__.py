"""Exact kernel solves on streamed features: features -> Gram tiles -> Cholesky, no feature matrix.

* :func:`solve_streamed` and :func:`solve_streamed_regs` (:mod:`~kernelfit.streamed.solve`):
  the whole path for :class:`~kernelfit.features.RandomConvFeatures`, used by
  :func:`kernelfit.experiments.run_experiment` for ``features="randconv"``; the second
  solves for several ridge terms from one streamed Gram;
* :class:`GramCheckpoint` (:mod:`~kernelfit.streamed.checkpoint`): the accumulation
  saved after every filter chunk, so a killed run resumes;
* :func:`plan_streamed_memory` (:mod:`~kernelfit.streamed.memory_plan`): its memory
  model, checked before anything is allocated;
* :mod:`~kernelfit.streamed.kernel_tiles`: Gaussian kernels in place.

The bandwidth and ridge searches on the Gram held in tiles are in
:mod:`kernelfit.model_selection`.
"""

from .checkpoint import CheckpointMismatchError, GramCheckpoint
from .memory_plan import StreamedMemoryPlan, plan_streamed_memory
from .solution import StreamedSolution
from .solve import solve_streamed, solve_streamed_regs

__all__ = ["CheckpointMismatchError", "GramCheckpoint", "StreamedMemoryPlan", "StreamedSolution",
           "plan_streamed_memory", "solve_streamed", "solve_streamed_regs"]
