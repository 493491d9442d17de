"""What defines an experiment run and what it yields, as plain JSON-ready records.

* :class:`ExperimentConfig`: everything that defines a run;
* :class:`ExperimentResult`: its figures, timings and provenance;
* :func:`config_record`: the configuration as stored in a result, with the searches
  and the refinement;
* :data:`DEFAULT_BANDWIDTH`: the default Gaussian bandwidth per data set.

:func:`kernelfit.experiments.run_experiment` turns the one into the other; the CLI and
``kernelfit reproduce`` build configurations without loading the numerics.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

__all__ = ["DEFAULT_BANDWIDTH", "ExperimentConfig", "ExperimentResult", "config_record"]

#: Default Gaussian bandwidth (sigma, on pixels scaled to [0, 1]) per data set,
#: chosen by held-out validation on the training set (see docs/cli.md). MNIST:
#: 50,000 fitted, 10,000 scored; sigma = 5 and 5.25 tie and ties go to the
#: larger bandwidth, as in :func:`~kernelfit.model_selection.select_bandwidth`.
#: CIFAR-10: ``--bandwidth auto`` chose 0.5 x the median distance (6.549) on its
#: 10,000 / 2,000 split, and an independent 10,000 / 2,000 split preferred it to
#: 0.25, 0.35 and 0.7 x the median. Fashion-MNIST takes MNIST's earlier value, not
#: validated on its own.
DEFAULT_BANDWIDTH = {"mnist": 5.25, "fashion-mnist": 5.0, "cifar10": 6.55}


@dataclass
class ExperimentConfig:
    """Everything that defines a run (serialized into the result)."""

    dataset: str = "mnist"
    kernel: str = "gaussian"
    bandwidth: float | str | None = None
    reg: float | str = 0.0  # or "auto": held-out choice on the training set (streamed only)
    features: str = "none"
    feature_params: dict = field(default_factory=dict)
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0
    dtype: str = "float64"
    device: str = "auto"
    memory_budget: str | int | None = None
    tile_size: int | None = None
    data_dir: str | None = None
    download: bool = True
    dask: str | None = None  # solve on Dask: "local:N[:MEMORY]" or a scheduler address
    storage: str = "auto"  # "packed" or "out-of-core" (see kernelfit.linalg.storage_choice)
    scratch_dir: str | None = None  # parent of out-of-core tiles (resumable)
    checkpoint_dir: str | None = None  # streamed Gram checkpoints (features="randconv")


@dataclass
class ExperimentResult:
    """Figures, timings and provenance of one run; ``to_dict()`` is the JSON output.

    ``peak_rss_bytes`` counts resident pages of memory-mapped files (a float64
    ``K`` kept on disk, out-of-core tiles) as well; ``peak_anonymous_bytes`` is
    the sampled peak of the process's own memory (see :mod:`kernelfit.memory_usage`).
    With ``reg="auto"`` on streamed features, ``unregularized`` holds the ``reg = 0`` fit
    from the same Gram (``train_error``, ``test_error``, ``rkhs_norm``,
    ``relative_residual``, ``solver``); ``resumed_filters`` counts the filters whose Gram
    a checkpoint gave. ``feature_map`` is the feature map actually used, with every
    parameter after the data set's and the class's defaults (``{"name": "randconv",
    "params": {...}}``, :func:`kernelfit.features.feature_map_records.feature_map_record`;
    None on pixels), where ``config["feature_params"]`` holds only what was asked for.
    ``cpu`` holds the run's CPU seconds, its own and the operating system's on its
    behalf (page faults of fresh memory, file I/O), and its minor page faults
    (:class:`kernelfit.memory_usage.ProcessCpu`); ``cpu["phases"]`` splits them by phase
    (:func:`kernelfit.phase_clock.cpu_by_phase`: the keys of ``timings``, with
    ``refinement`` and ``corrections`` as the parts of a mixed-precision ``solve``).
    """

    config: dict
    dataset: dict
    n_train: int
    n_test: int
    n_features: int
    bandwidth: float | None
    train_error: float
    test_error: float
    rkhs_norm: float
    relative_residual: float
    solver: str
    storage: str
    timings: dict
    peak_rss_bytes: int
    versions: dict
    machine: dict
    started: str
    peak_anonymous_bytes: int | None = None
    unregularized: dict | None = None
    resumed_filters: int | None = None
    feature_map: dict | None = None
    cpu: dict | None = None

    def to_dict(self) -> dict:
        """JSON-serialisable dict (see ``kernelfit/schemas/experiment.schema.json``)."""
        return asdict(self)


def config_record(config, bandwidth_search, refinement, reg_search=None,
                  reg_chosen=None) -> dict:
    """The configuration as a dict, with the searches, the chosen ridge and the refinement.

    ``reg`` stays as configured (``"auto"`` included) so that stored results match their
    configuration; the ridge term ``reg="auto"`` chose is ``reg_chosen`` and its held-out
    error per candidate ``reg_search``.
    """
    cfg = asdict(config)
    if bandwidth_search is not None:
        cfg["bandwidth_search"] = {str(k): v for k, v in bandwidth_search.items()}
    if reg_search is not None:
        cfg["reg_search"] = {str(k): v for k, v in reg_search.items()}
    if reg_chosen is not None:
        cfg["reg_chosen"] = float(reg_chosen)
    if refinement is not None:
        cfg["refinement"] = refinement.to_dict()
    return cfg
