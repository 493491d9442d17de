"""What ``kernelfit reproduce`` runs, at each scale.

A :class:`Step` is either one kernel experiment (an
:class:`~kernelfit.experiment_records.ExperimentConfig`, run by
:func:`~kernelfit.experiments.run_experiment`, the code path of
``kernelfit mnist``/``cifar10``) or one invocation of another ``kernelfit``
sub-command (the nets' ``randomize`` experiments), given by its argument list.

Scales:

* ``full`` -- the paper's sizes where this machine allows them (all 60,000
  MNIST and 50,000 CIFAR-10 training images, every test image);
* ``quick`` -- subsets chosen to finish in under 10 minutes on 2 CPU cores;
* ``smoke`` -- a seconds-long pass through every code path, for the tests.

Choices that differ from the paper are stated where they are made:

* Random-convolution features use the paper's 32,000 filters
  (:data:`FULL_FILTERS`). Measured on this machine (a 2-core AMD EPYC): their
  features and Gram over 50,000 training and 10,000 test images are 2.38e6 GFLOP
  (18 features per filter with the 3 x 3 overlapping pooling), about 160 GFLOP/s
  end to end, so 4-5 hours; then two float32 Cholesky factorizations of the
  50,000-point system (the held-out ridge and reg 0) of about 210 s each (213 s
  and 211 s in the 4,000-filter run, ``bench/results/cifar10-randconv-4000-overlap3.json``,
  3,474 s in all). The streamed Gram is checkpointed after every filter chunk
  (:mod:`kernelfit.reproduce.gram_checkpoints`), so a stopped reproduction resumes
  mid-Gram, and the linear-kernel step solves from the same Gram.
* The CIFAR-10 pixel solve runs in float32 (the residual is reported): its
  float64 refinement passes are matrix-free products from the data, which cost as
  much as the whole factorization again at d = 3,072; at n <= 20,000 float32 and
  float64 gave the same test error. The random-conv steps run ``mixed``, what
  ``--dtype auto`` gives them on a CPU: their refinement multiplies by the float32
  ``K`` kept in memory instead (about 32 s per solve against 212 s for the
  factorization in the 4,000-filter run, residuals 6.4e-12 and 7.8e-12 instead of
  float32's 1e-4 to 1e-3), and their Gram is the same float32 Gram, so a checkpoint
  or a record of ``kernelfit cifar10 --features randconv`` with the default dtype
  serves the step. The Gabor solve runs in float64 (packed, 14.4 GB at 60,000):
  its Gram at the validated bandwidth is not positive definite in float32.
* Feature-map bandwidths are chosen by ``bandwidth="auto"``: held-out
  validation on the training set, never the test set; so is the ridge term
  of the "random-conv features + l2" row (``reg="auto"``).
* The paper's two random-conv rows (the interpolant and "+ l2") come from one
  step, ``cifar10-randconv``: one streamed Gram, factorized once for the
  held-out ridge and once for reg = 0 (the record's ``unregularized``); see
  :attr:`Step.report_rows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..experiment_records import ExperimentConfig

__all__ = ["FULL_FILTERS", "MODES", "RANDCONV_DTYPE", "RANDCONV_L2_REG", "ROW_SOURCES", "Step",
           "experiment_argv", "experiment_command", "plan", "record_command"]

MODES = ("smoke", "quick", "full")

#: Random-convolution filters in the full run: the paper's 32,000.
FULL_FILTERS = 32000

#: Solve dtype of the random-conv steps: what ``--dtype auto`` gives them on a CPU.
RANDCONV_DTYPE = "mixed"

#: Ridge term of the "random-conv features + l2" row: chosen on a held-out part of
#: the training set (:mod:`kernelfit.model_selection.regularization`), never the test set.
#: The same run also solves reg = 0 from its Gram: the interpolant row.
RANDCONV_L2_REG = "auto"

#: Where a report row takes its figures from: the record itself (with ``reg="auto"``,
#: the held-out ridge), or its ``unregularized`` entry (the reg = 0 fit of the same Gram).
ROW_SOURCES = ("result", "unregularized")

_SIZES = {
    # sweep: training-set sizes of the error / norm against n curves, below the
    # headline MNIST rows' n_train (which end the curves; None: all), so no
    # configuration runs twice
    "smoke": dict(sweep=(100,), mnist=200, cifar=200, n_test=200, filters=8,
                  noise_n=200, nets=True),
    "quick": dict(sweep=(500, 1000, 2000), mnist=5000, cifar=2000, n_test=2000,
                  filters=256, noise_n=2000, nets=True),
    "full": dict(sweep=(1000, 2000, 5000, 10000), mnist=None, cifar=None, n_test=None,
                 filters=FULL_FILTERS, noise_n=10000, nets=True),
}


@dataclass(frozen=True)
class Step:
    """One unit of work whose result is stored (and reused) under its name.

    Attributes
    ----------
    name : str
        File stem of its record, e.g. ``"mnist-gaussian"``.
    title : str
        What it is, for the report and the progress line.
    group : str
        ``"headline"``, ``"sweep"``, ``"noise"`` or ``"nets"``.
    config : ExperimentConfig, optional
        A kernel experiment.
    argv : tuple of str
        Otherwise, the ``kernelfit`` arguments of the sub-command it runs.
    outputs : tuple of str
        Files (relative to the reproduction folder) that the sub-command writes;
        the runner adds ``--out DIR/nets``, so these all start with ``nets/``.
    needs_torch : bool
        It trains networks (the ``nets`` extra).
    report_rows : tuple of (str, str)
        The report rows this kernel step fills: ``(row, source)`` with ``row`` a key of
        :data:`~kernelfit.reproduce.paper.PAPER_KERNEL` (or a title of its own) and
        ``source`` one of :data:`ROW_SOURCES`. Empty: one row, the step's name, from
        the record.
    """

    name: str
    title: str
    group: str
    config: ExperimentConfig | None = None
    argv: tuple = ()
    outputs: tuple = ()
    needs_torch: bool = False
    notes: tuple = field(default=())
    report_rows: tuple = ()

    def rows(self) -> tuple:
        """``report_rows``, or the one row of a step that does not set them."""
        return self.report_rows or ((self.name, "result"),)


def _experiment(name, title, group, **kwargs) -> Step:
    notes = tuple(kwargs.pop("notes", ()))
    rows = tuple(kwargs.pop("report_rows", ()))
    return Step(name=name, title=title, group=group, config=ExperimentConfig(**kwargs),
                notes=notes, report_rows=rows)


def plan(mode: str, device: str = "auto", on_gpu: bool = False) -> list[Step]:
    """The steps of one reproduction.

    Parameters
    ----------
    mode : {"smoke", "quick", "full"}
    device : {"auto", "cpu", "cuda"}
        Passed to every step.
    on_gpu : bool, default False
        A GPU is at hand: the nets' conv-net rows run on all the data.

    Returns
    -------
    list of Step
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; found {mode!r}")
    s = _SIZES[mode]
    n_test = s["n_test"]
    big = mode == "full"
    headline = [
        # Exactly `kernelfit mnist --kernel gaussian` in the full run (its --json is reused).
        _experiment("mnist-gaussian", "MNIST, Gaussian kernel on pixels", "headline",
                    dataset="mnist", n_train=s["mnist"], n_test=n_test,
                    dtype="mixed" if big else "float64", device=device),
        _experiment("cifar10-pixels", "CIFAR-10, Gaussian kernel on pixels", "headline",
                    dataset="cifar10", n_train=s["cifar"], n_test=n_test,
                    dtype="float32" if big else "float64", device=device),
        # float64 even in the full run: at the validated (wide) bandwidth the
        # 60,000-point Gabor Gram is not positive definite in float32 (a float32
        # run's tiled Cholesky stopped at pivot 8,578).
        _experiment("mnist-gabor", "MNIST, Gabor wavelet transform first", "headline",
                    dataset="mnist", features="gabor", bandwidth="auto", n_train=s["mnist"],
                    n_test=n_test, dtype="float64", device=device),
        # One streamed Gram, two rows: the interpolant (reg 0) and the held-out ridge.
        _experiment("cifar10-randconv", "CIFAR-10, random-conv features, reg 0 and + l2",
                    "headline", dataset="cifar10", features="randconv", reg=RANDCONV_L2_REG,
                    feature_params={"n_filters": s["filters"]}, n_train=s["cifar"],
                    n_test=n_test, dtype=RANDCONV_DTYPE, device=device,
                    report_rows=(("cifar10-randconv", "unregularized"),
                                 ("cifar10-randconv-l2", "result"))),
        # Which kernel on the features: the linear one (needs a ridge, see
        # kernelfit.model_selection.regularization) against the Gaussian rows above. Its
        # Gram is the step above's (a checkpoint does not record the kernel): the runner
        # gives both one checkpoint, so this step only solves.
        _experiment("cifar10-randconv-linear", "CIFAR-10, random-conv features, linear kernel",
                    "headline", dataset="cifar10", features="randconv", kernel="linear",
                    reg="auto", feature_params={"n_filters": s["filters"]}, n_train=s["cifar"],
                    n_test=n_test, dtype=RANDCONV_DTYPE, device=device),
    ]
    sweep = []
    for n in s["sweep"]:
        sweep.append(_experiment(f"sweep-mnist-gaussian-{n}", f"MNIST pixels, n = {n}",
                                 "sweep", dataset="mnist", n_train=n, n_test=n_test,
                                 dtype="float64", device=device))
        sweep.append(_experiment(f"sweep-mnist-gabor-{n}", f"MNIST Gabor, n = {n}", "sweep",
                                 dataset="mnist", features="gabor", bandwidth="auto",
                                 n_train=n, n_test=n_test, dtype="float64", device=device))
    noise = _cli("kernel-noise", "Kernel interpolation of corrupted MNIST labels", "noise",
                 ["randomize", "noise", "--kernel", "--dataset", "mnist",
                  "--n-train", str(s["noise_n"]),
                  "--n-test", str(n_test) if n_test else "all", "--device", device],
                 ["nets/kernel-noise-mnist-gaussian.json"], needs_torch=False)
    nets = _nets_steps(mode, device, on_gpu) if s["nets"] else []
    # The cheap steps first and the longest last, so that an interrupted run has
    # the most rows; the headline MNIST row leads.
    return [headline[0], noise, *nets, *sweep, *headline[1:]]


def _cli(name, title, group, argv, outputs, needs_torch=True) -> Step:
    return Step(name=name, title=title, group=group, argv=tuple(argv), outputs=tuple(outputs),
                needs_torch=needs_torch)


def _nets_steps(mode: str, device: str, on_gpu: bool) -> list[Step]:
    """Table 1 and Figure 1 (CIFAR-10) with the networks the device can train."""
    tiny = mode == "smoke"
    small = ["--n-train", "100", "--n-test", "100", "--epochs", "2"] if tiny else (
        ["--n-train", "1000", "--epochs", "30"] if mode == "quick" else [])
    curves = ["--n-train", "100", "--n-test", "100", "--epochs", "2", "--seeds", "0"] if tiny \
        else (["--n-train", "300", "--epochs", "30"] if mode == "quick" else [])
    noise = ["--n-train", "100", "--n-test", "100", "--epochs", "2", "--seeds", "0",
             "--p", "0,1"] if tiny else (["--n-train", "300"] if mode == "quick" else [])
    dev = ["--device", device]
    steps = [
        _cli("nets-table1", "Table 1: MLPs on CIFAR-10", "nets", ["randomize", "table1", *small,
             *dev], ["nets/table1-cifar10-mlp1x512-mlp3x512.json"]),
        _cli("nets-figure1a", "Figure 1a: learning curves", "nets",
             ["randomize", "curves", *curves, *dev],
             ["nets/figure1a-cifar10-mlp1x512.json", "nets/figure1a-cifar10-mlp1x512.png"]),
        _cli("nets-figure1bc", "Figure 1b, 1c: label noise", "nets",
             ["randomize", "noise", *noise, *dev],
             ["nets/figure1bc-cifar10-mlp1x512.json", "nets/figure1b-cifar10-mlp1x512.png",
              "nets/figure1c-cifar10-mlp1x512.png"]),
    ]
    if on_gpu:  # hours per row on a 2-core CPU
        steps.append(_cli("nets-table1-alexnet", "Table 1: small AlexNet on CIFAR-10", "nets",
                          ["randomize", "table1", "--model", "alexnet", *dev],
                          ["nets/table1-cifar10-alexnet.json"]))
    return steps


def experiment_argv(config: ExperimentConfig) -> list[str]:
    """The ``kernelfit`` arguments (after ``kernelfit``) that run ``config`` on its own."""
    parts = [config.dataset, "--kernel", config.kernel]
    if config.bandwidth is not None:
        parts += ["--bandwidth", str(config.bandwidth)]
    if config.reg:
        parts += ["--reg", config.reg if isinstance(config.reg, str) else f"{config.reg:g}"]
    if config.features not in (None, "none"):
        parts += ["--features", config.features]
    if "n_filters" in config.feature_params:
        parts += ["--filters", str(config.feature_params["n_filters"])]
    for flag, value in (("--n-train", config.n_train), ("--n-test", config.n_test)):
        if value is not None:
            parts += [flag, str(value)]
    if config.seed:
        parts += ["--seed", str(config.seed)]
    if config.dtype != "auto":  # the CLI's default
        parts += ["--dtype", config.dtype]
    if config.device != "auto":
        parts += ["--device", config.device]
    if config.checkpoint_dir is not None:
        parts += ["--checkpoint-dir", str(config.checkpoint_dir)]
    return parts


def experiment_command(config: ExperimentConfig) -> str:
    """The ``kernelfit`` command line that runs ``config`` on its own (shell-quoted)."""
    import shlex

    return shlex.join(["kernelfit", *experiment_argv(config)])


def record_command(record: dict) -> str:
    """The command of a stored kernel record: its own ``command``, or (a ``kernelfit ...
    --json`` record placed in the folder) the one its configuration gives,
    ``--checkpoint-dir`` included."""
    from dataclasses import fields

    if record.get("command") or not isinstance(record.get("config"), dict):
        return str(record.get("command"))
    names = {f.name for f in fields(ExperimentConfig)}
    return experiment_command(ExperimentConfig(**{k: v for k, v in record["config"].items()
                                                  if k in names}))
