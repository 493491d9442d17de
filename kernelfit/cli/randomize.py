"""``kernelfit randomize``: the randomization tests of Zhang et al. (Table 1, Figure 1).

Experiments (the positional argument):

* ``single``  -- train one model on one corruption, for each seed;
* ``table1``  -- train/test accuracy with and without weight decay and random
  crops, plus a random-label row, per model (Table 1);
* ``curves``  -- training loss against steps for each corruption (Figure 1a);
* ``noise``   -- convergence time and test error against the label corruption
  level ``p`` (Figures 1b, 1c); with ``--kernel`` the same corruptions go through
  exact kernel interpolation instead and the RKHS norm is reported.

On the CPU the defaults use class-balanced subsets and MLPs, so each
experiment finishes in minutes on two cores; on a GPU they use the full data.
Results are written to ``--out`` as JSON, Markdown and PNG.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from pathlib import Path

from .argument_types import count, existing_dir, probability

__all__ = ["register", "run"]

EXPERIMENTS = ("single", "table1", "curves", "noise")
# Training-set size (and epochs) when --n-train (--epochs) is not given and the device is a CPU.
CPU_N_TRAIN = {"single": 2000, "table1": 2000, "curves": 500, "noise": 500, "kernel": 5000}
CONV_CPU_N_TRAIN = 256
CPU_N_TEST = 1000
DEFAULT_EPOCHS = {"single": 60, "table1": 60, "curves": 60, "noise": 100}


def _floats(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        message = f"expected numbers separated by commas; found {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def _seeds(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = [-1]
    if not values or min(values) < 0:
        message = f"expected whole numbers >= 0 separated by commas; found {text!r}"
        raise argparse.ArgumentTypeError(message)
    return values


def _size(text: str) -> int | str:
    if text in ("all", "epoch"):
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'all'; found "
                                         f"{text!r}")
    return value


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def plain_text(rest: str) -> str:
    """A reST docstring as terminal text: no ``literal`` markers or roles; bullets become
    indented items whose continuation lines line up after ``name  -- ``."""
    text = re.sub(r"``([^`]+)``", r"\1", rest)
    text = re.sub(r":\w+:`~?([^`]+)`", r"\1", text)
    text = re.sub(r"(?m)^  (?=\S)", " " * 13, text)  # a bullet's continuation lines
    return re.sub(r"(?m)^\* ", "  ", text)


def register(subparsers) -> None:
    """Add the ``randomize`` sub-command to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "randomize", help="randomization tests of Zhang et al. (Table 1, Figure 1)",
        description=plain_text(__doc__), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", nargs="?", choices=EXPERIMENTS, default="noise",
                   help="which experiment (default: noise)")
    p.add_argument("--dataset", choices=["cifar10", "mnist", "fashion-mnist"], default="cifar10",
                   help="data set the networks train on (default: cifar10)")
    p.add_argument("--model", type=_names, default=None, metavar="NAME[,NAME]",
                   help="mlp1x512, mlp3x512, alexnet, inception, inception_nobn "
                   "(default mlp1x512; table1: mlp1x512,mlp3x512)")
    p.add_argument("--corruption", type=_names, default=None, metavar="NAME[,NAME]",
                   help="true_labels, partial_labels, random_labels, shuffled_pixels, "
                   "random_pixels, gaussian (single: one, default random_labels; curves: "
                   "default all but partial_labels)")
    p.add_argument("--p", type=_floats, default=None, metavar="P[,P]",
                   help="label corruption levels in [0, 1] (default 0,0.2,0.4,0.6,0.8,1)")
    p.add_argument("--seeds", type=_seeds, default=None, metavar="S[,S]",
                   help="seeds (default 0,1,2 for curves and noise, 0 otherwise)")
    p.add_argument("--epochs", type=count, default=None,
                   help="epochs per run, a maximum where runs stop at the target accuracy "
                   "(default: single, table1 and curves 60, noise 100)")
    p.add_argument("--n-train", type=_size, default=None,
                   help="training subset size or 'all' (default: all on a GPU; on a CPU 2000 "
                   "for single and table1, 500 for curves and noise, 256 with a conv net, "
                   "5000 with --kernel)")
    p.add_argument("--n-test", type=_size, default=None,
                   help=f"test subset size or 'all' (default: all on a GPU, {CPU_N_TEST} on a CPU)")
    p.add_argument("--batch-size", type=count, default=128,
                   help="images per minibatch (default 128)")
    p.add_argument("--lr", type=float, default=None,
                   help="initial learning rate (default 0.1 Inception, 0.01 others)")
    p.add_argument("--weight-decay", type=float, default=None,
                   help="L2 coefficient (default 0; table1: 5e-4 in its weight-decay rows)")
    p.add_argument("--random-crop", action="store_true", help="random-crop augmentation")
    p.add_argument("--lr-decay-steps", type=_size, default=None,
                   help="decay the learning rate by 0.95 every this many steps, or 'epoch' "
                   "(default: every epoch of the full data set, i.e. per epoch on the full set "
                   "and every ceil(N_full / batch) steps on a subset)")
    p.add_argument("--dropout", type=probability, default=0.0,
                   help="dropout rate of the networks, in [0, 1) (default: 0)")
    p.add_argument("--no-batchnorm", action="store_true", help="Inception without BatchNorm")
    p.add_argument("--target-accuracy", type=float, default=1.0,
                   help="training accuracy that counts as fitted (default 1.0)")
    p.add_argument("--eval-every", type=count, default=5, metavar="EPOCHS",
                   help="measure train and test accuracy every this many epochs, and at the "
                   "end (default 5)")
    p.add_argument("--kernel", nargs="?", const="gaussian", default=None, metavar="KERNEL",
                   help="run the noise sweep through exact kernel interpolation "
                   "(gaussian if no name is given)")
    p.add_argument("--bandwidth", type=float, default=None,
                   help="kernel bandwidth on pixels in [0, 1] (default per data set)")
    p.add_argument("--reg", type=float, default=0.0, help="kernel ridge term (default 0)")
    p.add_argument("--memory-budget", default=None, help="for the kernel's n x n storage")
    p.add_argument("--out", default="runs/randomize", metavar="DIR",
                   help="folder for JSON, Markdown, PNG and checkpoints (default runs/randomize)")
    p.add_argument("--no-resume", action="store_true", help="ignore existing checkpoints")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--data-dir", type=existing_dir, default=None, metavar="DIR",
                   help="directory searched first for the data set files")
    p.add_argument("--no-download", action="store_true", help="never download data")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _sizes(args, on_gpu: bool, models) -> tuple[int | None, int | None]:
    key = "kernel" if args.kernel else args.experiment
    n_train, n_test = args.n_train, args.n_test
    if n_train is None and not on_gpu:
        conv = any(not m.startswith("mlp") for m in models)
        n_train = CONV_CPU_N_TRAIN if conv and not args.kernel else CPU_N_TRAIN[key]
        _note(f"CPU defaults: {n_train} training images (--n-train all for the full set)")
    if n_test is None and not on_gpu:
        n_test = CPU_N_TEST
    return (None if n_train == "all" else n_train), (None if n_test == "all" else n_test)


def run(args) -> int:
    """Run the experiment described by the parsed ``args``; return the exit code."""
    from ..progress import TqdmProgress

    progress = TqdmProgress(disable=args.quiet)
    if args.kernel and args.experiment != "noise":
        raise ValueError(f"--kernel runs the noise sweep; found experiment {args.experiment!r}")
    models = args.model or (["mlp1x512", "mlp3x512"] if args.experiment == "table1"
                            else ["mlp1x512"])
    on_gpu = False
    if not args.kernel:
        from ..nets.device import resolve_torch_device
        from ..nets.models import canonical_model_name

        models = [canonical_model_name(m) for m in models]
        on_gpu = resolve_torch_device(args.device).type == "cuda"
    from ..nets.corruptions import check_probability
    from ..nets.experiment_data import load_experiment_data
    from ..nets.training_records import TrainConfig

    for p in args.p or ():
        check_probability(p)
    decay_steps = args.lr_decay_steps
    config = TrainConfig(model=models[0], epochs=args.epochs or DEFAULT_EPOCHS[args.experiment],
                         batch_size=args.batch_size, learning_rate=args.lr,
                         weight_decay=args.weight_decay or 0.0,
                         lr_decay_steps=decay_steps if isinstance(decay_steps, int) else None,
                         random_crop=args.random_crop, dropout=args.dropout,
                         batchnorm=not args.no_batchnorm, device=args.device,
                         target_accuracy=args.target_accuracy, stop_at_target=True,
                         eval_every=args.eval_every)
    config.validate()  # before the (slow) data loading
    n_train, n_test = _sizes(args, on_gpu, models)
    from ..datasets import DatasetNotFoundError
    from ..datasets.not_found import command_line_wording
    from .experiment_cmd import source_text

    try:
        data = load_experiment_data(args.dataset, data_dir=args.data_dir, n_train=n_train,
                                    n_test=n_test, download=not args.no_download,
                                    progress=progress)
    except DatasetNotFoundError as exc:
        raise DatasetNotFoundError(command_line_wording(str(exc))) from None
    _note(f"{data.display_name} from {source_text(data.source)}")
    for option, asked, labels, split in (("--n-train", args.n_train, data.y_train, "training"),
                                         ("--n-test", args.n_test, data.y_test, "test")):
        if isinstance(asked, int) and asked > len(labels):  # the subset kept the whole split
            raise ValueError(f"{option} must be at most the size of the {data.display_name} "
                             f"{split} set, {len(labels):,} images (or 'all'); found {asked:,}")
    out = Path(args.out)
    if args.kernel:
        return _kernel(args, data, out, progress)
    if decay_steps is None and len(data.y_train) < data.full_n_train:
        config.lr_decay_steps = math.ceil(data.full_n_train / args.batch_size)
        _note(f"learning rate decays every {config.lr_decay_steps} steps "
              "(one epoch of the full set)")
    stem = f"{args.dataset}-{'-'.join(models)}"
    # One folder per experiment, so that its checkpoints go once its results are written.
    checkpoints = None if args.no_resume else out / "checkpoints" / f"{args.experiment}-{stem}"
    common = {"dataset": data.describe(), "checkpoint_dir": checkpoints, "progress": progress}
    status = _networks(args, config, models, data, common, out, stem)
    if checkpoints is not None:
        discard_checkpoints(checkpoints)
    return status


def discard_checkpoints(folder: Path) -> None:
    """Delete an experiment's checkpoint folder (its results are final: nothing to resume),
    and the ``checkpoints`` folder above it when that is left empty."""
    import contextlib
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # other experiments' checkpoints are still there
        folder.parent.rmdir()


def _networks(args, config, models, data, common, out: Path, stem: str) -> int:
    """Train the networks of ``args.experiment``; write and print its results."""
    arrays = (data.X_train, data.y_train, data.X_test, data.y_test)
    if args.experiment == "table1":
        from ..nets.table1 import DEFAULT_WEIGHT_DECAY, run_table1

        result = run_table1(*arrays, models=models, config=config,
                            weight_decay=args.weight_decay or DEFAULT_WEIGHT_DECAY, **common)
        return _report(result, out / f"table1-{stem}", table=(result.headers, result.table_rows()))
    if len(models) != 1:
        raise ValueError(f"{args.experiment} takes one --model; found {models}")
    if args.experiment == "curves":
        from ..nets.figure1 import FIGURE1A_CORRUPTIONS, run_learning_curves
        from ..nets.randomization_plots import plot_learning_curves

        config.stop_at_target = False
        result = run_learning_curves(*arrays, corruptions=args.corruption or FIGURE1A_CORRUPTIONS,
                                     p=args.p[0] if args.p else None,
                                     seeds=args.seeds or (0, 1, 2), config=config, **common)
        _note(f"wrote {plot_learning_curves(result, out / f'figure1a-{stem}.png')}")
        rows = [[r.corruption, r.seed, f"{r.step_loss[-1]:.3f}" if r.step_loss else "-",
                 f"{100 * r.train_accuracy:.2f}", f"{100 * r.test_accuracy:.2f}"]
                for r in result.runs]
        headers = ("corruption", "seed", "final loss", "train acc (%)", "test acc (%)")
        return _report(result, out / f"figure1a-{stem}", table=(headers, rows))
    if args.experiment == "noise":
        from ..nets.figure1 import DEFAULT_PS, run_label_noise
        from ..nets.randomization_plots import plot_convergence_time, plot_test_error

        result = run_label_noise(*arrays, ps=args.p or DEFAULT_PS, seeds=args.seeds or (0, 1, 2),
                                 config=config, **common)
        _note(f"wrote {plot_convergence_time(result, out / f'figure1b-{stem}.png')}")
        _note(f"wrote {plot_test_error(result, out / f'figure1c-{stem}.png')}")
        return _report(result, out / f"figure1bc-{stem}", markdown=result.to_markdown())
    return _single(args, config, arrays, common, out / f"single-{stem}")


def _single(args, config, arrays, common, stem: Path) -> int:
    from ..nets.randomization_runs import train_on_corruption

    corruptions = args.corruption or ["random_labels"]
    if len(corruptions) != 1:
        raise ValueError(f"single takes one --corruption; found {corruptions}")
    p = None
    if corruptions[0] == "partial_labels":
        if not args.p or len(args.p) != 1:
            raise ValueError(f"partial_labels needs one --p value; found {args.p}")
        p = args.p[0]
    runs = [train_on_corruption(*arrays, config, corruption=corruptions[0], p=p, seed=seed,
                                checkpoint_dir=common["checkpoint_dir"],
                                progress=common["progress"])
            for seed in args.seeds or (0,)]
    rows = [[r.model, r.corruption, f"{r.p:g}", r.seed, f"{100 * r.train_accuracy:.2f}",
             f"{100 * r.test_accuracy:.2f}", r.epochs_run,
             "-" if r.convergence_step is None else r.convergence_step, f"{r.seconds:.0f}"]
            for r in runs]
    headers = ("model", "corruption", "p", "seed", "train acc (%)", "test acc (%)", "epochs",
               "steps to fit", "seconds")
    record = {"experiment": "single", "dataset": common["dataset"],
              "config": dataclasses.asdict(config),
              "runs": [dataclasses.asdict(r) for r in runs]}
    return _report(record, stem, table=(headers, rows))


def _kernel(args, data, out: Path, progress) -> int:
    from ..nets.kernel_label_noise import run_kernel_label_noise
    from ..nets.randomization_plots import plot_kernel_label_noise

    bandwidth = args.bandwidth
    if bandwidth is None and args.kernel in ("gaussian", "laplacian"):
        from ..experiment_records import DEFAULT_BANDWIDTH

        bandwidth = DEFAULT_BANDWIDTH.get(args.dataset)
    result = run_kernel_label_noise(
        data.X_train, data.y_train, data.X_test, data.y_test,
        ps=args.p or (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), seeds=args.seeds or (0,),
        kernel=args.kernel, bandwidth=bandwidth, reg=args.reg, device=args.device,
        memory_budget=args.memory_budget, dataset=data.describe(), progress=progress)
    stem = out / f"kernel-noise-{args.dataset}-{args.kernel}"
    _note(f"wrote {plot_kernel_label_noise(result, stem.with_suffix('.png'))}")
    return _report(result, stem, markdown=result.to_markdown())


def _report(result, stem: Path, *, table=None, markdown: str | None = None) -> int:
    """Print the table, write ``stem.json`` and ``stem.md``; return 0."""
    from ..results_io import write_json, write_text
    from ..tables import format_table, markdown_table

    record = result if isinstance(result, dict) else result.to_dict()
    if markdown is None:
        headers, rows = table
        markdown = (result.to_markdown() if hasattr(result, "to_markdown")
                    else markdown_table(headers, rows))
        print(format_table(rows, headers))
    else:
        print(markdown)
    _note(f"wrote {write_json(record, stem.with_suffix('.json'))}")
    _note(f"wrote {write_text(markdown, stem.with_suffix('.md'))}")
    return 0
