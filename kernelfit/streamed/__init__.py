"""Exact kernel solves on streamed features: features -> Gram tiles -> Cholesky, no feature matrix.

* :func:`solve_streamed` (:mod:`~kernelfit.streamed.solve`): the whole path for
  :class:`~kernelfit.features.RandomConvFeatures`, used by
  :func:`kernelfit.experiments.run_experiment` for ``features="randconv"``;
* :func:`plan_streamed_memory` (:mod:`~kernelfit.streamed.memory_plan`): its memory
  model, checked before anything is allocated;
* :mod:`~kernelfit.streamed.kernel_tiles`: Gaussian kernels in place.

The bandwidth and ridge searches on the Gram held in tiles are in
:mod:`kernelfit.model_selection`.
"""

from .memory_plan import StreamedMemoryPlan, plan_streamed_memory
from .solve import StreamedSolution, solve_streamed

__all__ = ["StreamedMemoryPlan", "StreamedSolution", "plan_streamed_memory", "solve_streamed"]
