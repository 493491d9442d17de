"""`kernelfit reproduce`'s random-conv steps: 32,000 filters in the full plan, their Gram
checkpointed (resumed after a stop, shared by the Gaussian and linear steps, adopted,
deleted after), the disk they need and the time they take."""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
from dataclasses import asdict, replace

import numpy as np
import pytest

import kernelfit.reproduce.gram_checkpoints as gram_checkpoints
import kernelfit.reproduce.runner as runner
from kernelfit.backend import resolve_device, resolve_precision
from kernelfit.cli import build_parser, main
from kernelfit.features import make_feature_map
from kernelfit.memory import format_bytes
from kernelfit.reproduce import experiment_command, plan, run_reproduction
from kernelfit.reproduce.estimate import (
    STREAMED_GRAM_SGEMM_FRACTION,
    estimate_seconds,
    randconv_gflop,
)
from kernelfit.reproduce.gram_checkpoints import (
    disk_needed,
    gram_checkpoint_name,
    state_bytes,
    with_gram_checkpoints,
)
from kernelfit.reproduce.plan import (
    FULL_FILTERS,
    RANDCONV_DTYPE,
    experiment_argv,
    record_command,
)
from kernelfit.streamed import solve_streamed
from kernelfit.streamed.gram_bytes import state_file_bytes

RATES = {"float32": 200.0, "float64": 90.0}
DATA = os.environ.get("KERNELFIT_DATA")
HAS_CIFAR = bool(DATA) and os.path.isfile(os.path.join(DATA, "cifar10-jpeg.tar"))
needs_cifar = pytest.mark.skipif(not HAS_CIFAR,
                                 reason="real CIFAR-10 not found (set KERNELFIT_DATA)")
GAUSSIAN, LINEAR = "cifar10-randconv", "cifar10-randconv-linear"


def randconv_steps(mode="smoke", device="cpu"):
    steps = {s.name: s for s in plan(mode, device)}
    return [steps[GAUSSIAN], steps[LINEAR]]


# -- the plan ---------------------------------------------------------------------------


def test_the_full_plan_runs_the_papers_32000_filters_as_the_cli_does(tmp_path):
    assert FULL_FILTERS == 32000
    gaussian, linear = with_gram_checkpoints(randconv_steps("full", "auto"), tmp_path)
    directory = tmp_path / "cifar10-randconv-32000"
    for step in (gaussian, linear):
        command = experiment_command(step.config)
        assert " --filters 32000 " in command and " --reg auto " in command
        assert command.endswith(f" --checkpoint-dir {directory}")
        args = build_parser().parse_args(experiment_argv(step.config))
        assert (args.filters, args.checkpoint_dir, args.dtype, args.pooling) == (
            32000, str(directory), RANDCONV_DTYPE, None)  # the CLI's own pooling default
    # the dtype the CLI's default gives the streamed features on a CPU
    assert resolve_precision("auto", resolve_device("cpu")) == RANDCONV_DTYPE
    assert (gaussian.config.kernel, linear.config.kernel) == ("gaussian", "linear")


def test_one_checkpoint_per_gram_whatever_the_kernel_ridge_or_solve_dtype():
    gaussian, linear = randconv_steps()
    name = gram_checkpoint_name(gaussian.config)
    assert gram_checkpoint_name(linear.config) == name
    config = gaussian.config
    for same in (dict(reg=0.0), dict(kernel="linear"), dict(dtype="float32"),
                 dict(bandwidth=3.0), dict(device="auto")):
        assert gram_checkpoint_name(replace(config, **same)) == name, same
    for other in (dict(n_train=100), dict(n_test=50), dict(seed=1), dict(dtype="float64"),
                  dict(tile_size=64), dict(feature_params={"n_filters": 16}),
                  dict(feature_params={"n_filters": 8, "pooling": "grid"})):
        assert gram_checkpoint_name(replace(config, **other)) != name, other
    pixels = next(s for s in plan("smoke") if s.name == "cifar10-pixels")
    assert gram_checkpoint_name(pixels.config) is None
    assert with_gram_checkpoints([pixels], "/x")[0].config.checkpoint_dir is None


# -- the claim the sharing rests on: the checkpoint does not record the kernel ----------


def tiny_images():
    rng = np.random.default_rng(5)
    return (rng.integers(0, 256, size=(48, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 3, size=48), rng.integers(0, 256, size=(16, 32, 32, 3),
                                                      dtype=np.uint8))


def tiny_features():
    return make_feature_map("randconv", "cifar10", n_filters=6, n_whitening_patches=2000,
                            n_standardize_images=30, n_jobs=1, device="cpu")


def test_a_linear_solve_reuses_the_finished_gram_of_a_gaussian_one(tmp_path, encoded_images):
    X, y, Xt = tiny_images()
    options = dict(dtype="mixed", device="cpu", tile_size=20, filter_chunk=2)
    first = solve_streamed(tiny_features(), X, y, Xt, checkpoint_dir=tmp_path, **options)
    assert first.resumed_filters == 0 and encoded_images["images"] > 0
    encoded_images["images"] = 0
    linear = solve_streamed(tiny_features(), X, y, Xt, kernel="linear", reg=1.0,
                            checkpoint_dir=tmp_path, **options)
    assert linear.resumed_filters == 6 and encoded_images["images"] == 0  # nothing recomputed
    fresh = solve_streamed(tiny_features(), X, y, Xt, kernel="linear", reg=1.0, **options)
    np.testing.assert_allclose(linear.dual_coef, fresh.dual_coef, rtol=1e-9, atol=0)
    np.testing.assert_allclose(linear.test_scores, fresh.test_scores, rtol=1e-9, atol=0)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    # the size the disk check plans for is the state file the checkpoint wrote
    assert manifest["state_bytes"] == state_file_bytes(48, 16, 20, 4)


# -- disk and time ----------------------------------------------------------------------


def test_the_disk_needed_counts_two_states_and_nothing_for_a_finished_gram(tmp_path):
    step = with_gram_checkpoints(randconv_steps("full")[:1], tmp_path)[0]
    state, fitted = state_bytes(step.config)
    # 50,000 training images in tiles of 2,048: the lower tiles hold (n^2 + sum e^2) / 2
    edges = [2048] * 24 + [50000 - 24 * 2048]
    lower = (50000**2 + sum(e * e for e in edges)) // 2
    assert state == (lower + 10000 * 50000) * 4 + 60000 * 8
    assert disk_needed(step.config) == 2 * state + fitted
    directory = tmp_path / "cifar10-randconv-32000"
    directory.mkdir()
    (directory / "gram-000001000.bin").write_bytes(b"\0" * 1000)
    (directory / "manifest.json").write_text(json.dumps(
        {"config": {"n_filters": 32000}, "filters_done": 1000}))
    assert 0 < 2 * state + fitted - disk_needed(step.config) < 2000  # what is there counts
    (directory / "manifest.json").write_text(json.dumps(
        {"config": {"n_filters": 32000}, "filters_done": 32000}))
    assert disk_needed(step.config) == 0


def test_a_checkpoint_without_room_skips_its_steps_and_says_both_numbers(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setattr(runner, "plan", lambda mode, device, on_gpu: randconv_steps())
    monkeypatch.setattr(gram_checkpoints, "_free_bytes", lambda directory: 1000)
    lines = []
    result = run_reproduction("smoke", tmp_path, device="cpu", dry_run=True, echo=lines.append)
    assert result.skipped == [GAUSSIAN, LINEAR]
    why = result.skipped_reasons[GAUSSIAN]
    config = with_gram_checkpoints(randconv_steps(), tmp_path / "checkpoints")[0].config
    need = format_bytes(sum(state_bytes(config)) + state_bytes(config)[0])
    assert f"needs {need} of disk, {format_bytes(1000)} free" in why
    assert result.skipped_reasons[LINEAR] == why and "--checkpoint-dir" in why
    assert any("Gram checkpoint" in line and "free" in line for line in lines)


def test_the_estimate_counts_the_32000_filter_flops_and_what_a_checkpoint_holds():
    gaussian, linear = randconv_steps("full")
    per_filter = make_feature_map("randconv", "cifar10", n_filters=4, n_whitening_patches=500,
                                  n_standardize_images=10).fit(tiny_images()[0])
    features = 32000 * per_filter.n_features_out_ // 4  # 18 a filter with overlap3 pooling
    n, m, edges = 50000, 10000, [2048] * 24 + [848]
    encode = 2 * (n + m) * 27 * 27 * 6 * 6 * 3 * 32000
    gram = 2 * features * ((n * n + sum(e * e for e in edges)) / 2 + m * n)
    assert randconv_gflop(gaussian.config, n, m) == pytest.approx((encode + gram) / 1e9,
                                                                  rel=1e-12)
    whole = estimate_seconds(gaussian, RATES)
    ready = estimate_seconds(gaussian, RATES, filters_ready=32000)
    assert whole - ready == pytest.approx(
        (encode + gram) / (STREAMED_GRAM_SGEMM_FRACTION * RATES["float32"] * 1e9), rel=1e-9)
    half = estimate_seconds(gaussian, RATES, filters_ready=16000)
    assert half == pytest.approx((whole + ready) / 2, rel=1e-9)
    assert estimate_seconds(linear, RATES, filters_ready=32000) == pytest.approx(ready)


# -- whole steps, on real CIFAR-10 --------------------------------------------------------


def in_process(counts, encoded_images):
    """``run_child`` for kernel steps, in this process (so the patches below apply): a
    ``kernelfit`` stopped by Ctrl-C stops the reproduction, as a real Ctrl-C does."""
    def run_child(argv):
        assert argv[1:3] == ["-m", "kernelfit.cli"]
        encoded_images["images"] = 0
        status = main(argv[3:])
        counts["linear" if "linear" in argv else "gaussian"] = encoded_images["images"]
        if status == 130:
            raise KeyboardInterrupt
        return status
    return run_child


@pytest.fixture
def in_chunks(monkeypatch):
    """Accumulate in chunks of 2 filters (4 chunks for the smoke scale's 8)."""
    import kernelfit.streamed

    monkeypatch.setattr(kernelfit.streamed, "solve_streamed_regs", functools.partial(
        kernelfit.streamed.solve_streamed_regs, filter_chunk=2))


def stop_after(monkeypatch, filters: int) -> None:
    """Raise KeyboardInterrupt once a checkpoint of ``filters`` filters is saved."""
    from kernelfit.streamed.checkpoint import GramCheckpoint

    save = GramCheckpoint.save

    def save_then_stop(self, filters_done, *args):
        save(self, filters_done, *args)
        if filters_done >= filters:
            raise KeyboardInterrupt

    monkeypatch.setattr(GramCheckpoint, "save", save_then_stop)


def records(out) -> dict:
    return {name: json.loads((out / "results" / f"{name}.json").read_text())
            for name in (GAUSSIAN, LINEAR)}


@needs_cifar
def test_a_stopped_step_resumes_mid_gram_and_the_linear_step_reuses_it(
        tmp_path, monkeypatch, in_chunks, encoded_images):
    monkeypatch.setattr(runner, "plan", lambda mode, device, on_gpu: randconv_steps())
    counts = {}
    monkeypatch.setattr(runner, "run_child", in_process(counts, encoded_images))
    quiet = dict(device="cpu", quiet=True, echo=lambda line: None)
    run_reproduction("smoke", tmp_path / "reference", **quiet)
    full_gram = counts["gaussian"]
    reference = records(tmp_path / "reference")

    out = tmp_path / "out"
    directory = out / "checkpoints" / gram_checkpoint_name(randconv_steps()[0].config)
    with monkeypatch.context() as patch:
        stop_after(patch, 4)
        with pytest.raises(KeyboardInterrupt):
            run_reproduction("smoke", out, **quiet)
    assert json.loads((directory / "manifest.json").read_text())["filters_done"] == 4
    assert not list((out / "results").glob("*.json"))
    lines = []
    result = run_reproduction("smoke", out, device="cpu", quiet=True, echo=lines.append)
    assert result.ran == [GAUSSIAN, LINEAR] and not result.failed
    got = records(out)
    assert got[GAUSSIAN]["resumed_filters"] == 4
    assert counts["gaussian"] == full_gram // 2  # the last two chunks only
    assert got[LINEAR]["resumed_filters"] == 8 and counts["linear"] == 0
    for name in (GAUSSIAN, LINEAR):
        assert reference[name]["resumed_filters"] == (0 if name == GAUSSIAN else 8)
        for key in ("test_error", "train_error", "rkhs_norm", "relative_residual"):
            assert got[name][key] == pytest.approx(reference[name][key], rel=1e-9), key
        assert got[name]["unregularized"]["rkhs_norm"] == pytest.approx(
            reference[name]["unregularized"]["rkhs_norm"], rel=1e-9)
        assert f"--checkpoint-dir {directory}" in got[name]["command"]
    assert not (out / "checkpoints").exists()  # both results written: deleted
    assert any(f"removed the Gram checkpoint {directory}" in line for line in lines)
    report = (out / "REPORT.md").read_text()
    assert f"`{LINEAR}`: `kernelfit cifar10 --kernel linear" in report
    assert "Gram of 8 filters from a checkpoint" in report


@needs_cifar
def test_child_processes_share_the_gram_in_a_checkpoint_dir_given(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "plan", lambda mode, device, on_gpu: randconv_steps())
    root = tmp_path / "elsewhere"
    result = run_reproduction("smoke", tmp_path / "out", device="cpu", quiet=True,
                              echo=lambda line: None, checkpoint_dir=root)
    assert result.ran == [GAUSSIAN, LINEAR] and not result.failed
    got = records(tmp_path / "out")
    assert (got[GAUSSIAN]["resumed_filters"], got[LINEAR]["resumed_filters"]) == (0, 8)
    directory = root / gram_checkpoint_name(randconv_steps()[0].config)
    assert got[LINEAR]["config"]["checkpoint_dir"] == str(directory)
    assert root.is_dir() and not list(root.iterdir())  # the checkpoint went, the root stays
    assert not (tmp_path / "out" / "checkpoints").exists()


@needs_cifar
@pytest.mark.parametrize("how", ["moved", "linked"])
def test_a_finished_checkpoint_placed_in_the_folder_is_adopted(tmp_path, monkeypatch,
                                                               encoded_images, how):
    gaussian = randconv_steps()[0]
    cli_dir = tmp_path / "cli-run"
    argv = experiment_argv(replace(gaussian.config, checkpoint_dir=str(cli_dir)))
    assert main([*argv, "--quiet"]) == 0
    out = tmp_path / "out"
    directory = out / "checkpoints" / gram_checkpoint_name(gaussian.config)
    directory.parent.mkdir(parents=True)
    if how == "moved":
        shutil.move(cli_dir, directory)
    else:
        directory.symlink_to(cli_dir, target_is_directory=True)
    monkeypatch.setattr(runner, "plan", lambda mode, device, on_gpu: [gaussian])
    counts = {}
    monkeypatch.setattr(runner, "run_child", in_process(counts, encoded_images))
    lines = []
    result = run_reproduction("smoke", out, device="cpu", quiet=True, echo=lines.append)
    assert result.ran == [GAUSSIAN] and counts["gaussian"] == 0
    assert any("holds the finished Gram" in line for line in lines)
    assert json.loads((out / "results" / f"{GAUSSIAN}.json").read_text())[
        "resumed_filters"] == 8
    assert not directory.exists() and not directory.is_symlink()
    assert (cli_dir / "manifest.json").exists() == (how == "linked")  # a link's target stays


def test_the_reproduce_command_passes_its_checkpoint_dir(monkeypatch, tmp_path):
    import kernelfit.reproduce

    seen = {}

    def fake(mode, out, **kwargs):
        seen.update(kwargs, mode=mode)
        return runner.Reproduction(out=tmp_path)

    monkeypatch.setattr(kernelfit.reproduce, "run_reproduction", fake)
    assert main(["reproduce", "--full", "--checkpoint-dir", str(tmp_path / "c"),
                 "--dry-run", "--out", str(tmp_path)]) == 0
    assert seen["mode"] == "full" and seen["checkpoint_dir"] == str(tmp_path / "c")


def test_a_cli_record_placed_in_the_folder_lists_the_command_that_made_it(tmp_path):
    gaussian = with_gram_checkpoints(randconv_steps("full", "auto"), tmp_path / "a b")[0]
    config = asdict(gaussian.config)
    command = record_command({"config": {**config, "reg_chosen": 0.01}})  # no "command"
    assert command == experiment_command(gaussian.config)
    assert shlex.split(command)[1:] == experiment_argv(gaussian.config)  # a path with a space
    assert shlex.split(command)[-1] == str(tmp_path / "a b" / "cifar10-randconv-32000")
    assert record_command({"command": "kernelfit x", "config": config}) == "kernelfit x"
