"""Run the steps of a reproduction, reusing stored results, then write the report.

Each step goes through its individual command. A kernel step runs
``kernelfit mnist ... --json`` (its :func:`~kernelfit.reproduce.plan.experiment_command`)
in a child process, so that its peak memory is its own (``ru_maxrss`` never
goes down within a process) and a crash in native code ends that step, not the
reproduction. The others run their own command (``kernelfit randomize ...``) in a
child process too (the reproduction never imports the CLI). A step that fails is
recorded and the run goes on to the next; the report lists it, and the exit
status says so.

A random-conv step gets a Gram checkpoint directory
(:mod:`kernelfit.reproduce.gram_checkpoints`): a stopped run resumes its Gram after
the last filter chunk saved, the steps of one Gram share it, and it is deleted once
they all have their results.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..memory import format_bytes
from .estimate import estimate_seconds, measure_rates
from .gram_checkpoints import (
    CHECKPOINTS,
    discard_finished,
    disk_shortfalls,
    filters_ready,
    with_gram_checkpoints,
)
from .plan import experiment_argv, experiment_command, plan
from .store import ResultStore

__all__ = ["Reproduction", "format_duration", "run_child", "run_reproduction"]

#: Seconds a stopped step's child process gets to clean up before it is killed.
CHILD_GRACE_SECONDS = 120


@dataclass
class Reproduction:
    """What one ``kernelfit reproduce`` run did.

    Attributes
    ----------
    out : Path
        The reproduction folder.
    ran, reused, skipped : list of str
        Step names run now, taken from earlier records, and not run (with why,
        in ``skipped_reasons``).
    failed : dict of str to str
        Step name -> error message.
    report : Path
        ``out / "REPORT.md"``.
    """

    out: Path
    ran: list = field(default_factory=list)
    reused: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    skipped_reasons: dict = field(default_factory=dict)
    failed: dict = field(default_factory=dict)
    report: Path | None = None


def format_duration(seconds: float) -> str:
    """``"42 s"``, ``"12 min"`` or ``"1.5 h"``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _on_gpu(device: str) -> bool:
    if device == "cpu":
        return False
    from ..backend import cuda_available

    return cuda_available()


def run_reproduction(mode: str, out, *, device: str = "auto", data_dir=None,
                     download: bool = True, quiet: bool = False, echo=print,
                     dry_run: bool = False, report_only: bool = False,
                     checkpoint_dir=None) -> Reproduction:
    """Run (or reuse) every step of ``mode`` into ``out`` and write ``out/REPORT.md``.

    Parameters
    ----------
    mode : {"smoke", "quick", "full"}
        See :mod:`kernelfit.reproduce.plan`.
    out : str or Path
        Reproduction folder; results already there are reused when they match.
    device : {"auto", "cpu", "cuda"}
    data_dir : str, optional
        Where the data sets are (else ``KERNELFIT_DATA``, the cache, a download).
    download : bool, default True
    quiet : bool, default False
        No progress bars from the steps.
    echo : callable, default print
        Where the plan and the step lines go.
    dry_run : bool, default False
        Print the plan with its expected durations and stop.
    report_only : bool, default False
        Run nothing: write the report from the stored results (steps without
        one are listed as not run).
    checkpoint_dir : str or Path, optional
        Where the random-conv steps keep their Gram checkpoints (default
        ``out/checkpoints``); a checkpoint already there for a step's Gram is resumed.

    Returns
    -------
    Reproduction
    """
    from .report import write_report

    store = ResultStore(out)
    steps = with_gram_checkpoints(
        plan(mode, device, on_gpu=_on_gpu(device)),
        store.root / CHECKPOINTS if checkpoint_dir is None else Path(checkpoint_dir))
    has_torch = importlib.util.find_spec("torch") is not None
    result = Reproduction(out=store.root)
    todo, lines, stale, said = [], [], {}, set()
    for step in steps:
        record, why = store.match(step)
        if why is not None:
            stale[step.name] = why
        if record is not None:
            result.reused.append(step.name)
            lines.append((step.name, "stored result", "-"))
        elif step.needs_torch and not has_torch:
            reason = "needs PyTorch: pip install 'kernelfit[nets]' (torch==2.13.0 first)"
            result.skipped.append(step.name)
            result.skipped_reasons[step.name] = reason
            lines.append((step.name, "skipped", reason))
        else:
            todo.append(step)
    for name, why in stale.items():
        echo(f"{name}: the stored result is not reused: {why}")
    if report_only:  # no estimates (and no GEMM timing) for steps that will not run
        result.skipped_reasons.update({
            s.name: "not run yet (--report-only)" if s.name not in stale else
            f"not run yet (--report-only); the stored result is not reused: {stale[s.name]}"
            for s in todo})
        result.skipped += [s.name for s in todo]
        todo = []
    else:
        refused = disk_shortfalls(todo, echo)
        for step in [s for s in todo if s.name in refused]:
            result.skipped.append(step.name)
            result.skipped_reasons[step.name] = refused[step.name]
            lines.append((step.name, "skipped", "not enough disk for its Gram checkpoint"))
        todo = [s for s in todo if s.name not in refused]
        _echo_plan(echo, mode, store, todo, lines)
        if dry_run:
            return result
    for index, step in enumerate(todo, 1):
        echo(f"[{index}/{len(todo)}] {step.name}: {step.title}")
        started = time.perf_counter()
        try:
            if step.config is not None:
                record = _run_experiment(step, store, data_dir, download, quiet)
            else:
                record = _run_command(step, store, data_dir, download, quiet)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failed step must not lose the others
            result.failed[step.name] = f"{type(exc).__name__}: {exc}"
            echo(f"  failed: {result.failed[step.name]}")
            traceback.print_exc(file=sys.stderr)
            continue
        record["step"] = step.name
        record["wall_seconds"] = round(time.perf_counter() - started, 1)
        path = store.save(step, record)
        result.ran.append(step.name)
        echo(f"  done in {format_duration(record['wall_seconds'])}{_step_summary(record)}; "
             f"wrote {path}")
        _discard_checkpoints(steps, store, echo, said)
    if not report_only:  # also those whose steps all had stored results
        _discard_checkpoints(steps, store, echo, said)
    result.report = write_report(store, steps, mode, result)
    echo(f"wrote {result.report}")
    return result


def _discard_checkpoints(steps, store: ResultStore, echo, said: set) -> None:
    """Delete the Gram checkpoints no step needs any more; each line said once."""
    for line in discard_finished(steps, store):
        if line not in said:
            said.add(line)
            echo(line)


def _echo_plan(echo, mode: str, store: ResultStore, todo: list, lines: list) -> None:
    """Print every step's status and the expected time of those to run."""
    from ..tables import format_table

    rates = measure_rates()
    ready = filters_ready(todo)
    seconds = {step.name: estimate_seconds(step, rates, ready.get(step.name, 0))
               for step in todo}
    lines = lines + [(name, "to run", format_duration(t)) for name, t in seconds.items()]
    echo(format_table(lines, headers=("step", "status", "expected time")))
    echo(f"kernelfit reproduce --{mode}: {len(todo)} steps to run, expected about "
         f"{format_duration(sum(seconds.values()))} on this machine (GEMM "
         f"{rates['float64']:.0f} / {rates['float32']:.0f} GFLOP/s float64 / float32); "
         f"results go to {store.root}")


def _step_summary(record: dict) -> str:
    """`` (test error 1.23%, peak 1.2 GB)`` for a kernel experiment, else ``""``."""
    if "test_error" not in record:
        return ""
    return (f" (test error {100 * record['test_error']:.2f}%, peak "
            f"{format_bytes(record['peak_rss_bytes'])})")


def run_child(argv) -> int:
    """Run a step's child process and return its exit status.

    When this process is stopped (Ctrl-C, or SIGTERM/SIGHUP turned into
    ``KeyboardInterrupt`` by the CLI), the child gets SIGTERM and up to
    :data:`CHILD_GRACE_SECONDS` to clean up its scratch files, as it would on
    its own Ctrl-C, instead of being killed outright.

    Parameters
    ----------
    argv : list of str
        The command line.

    Returns
    -------
    int
        The child's exit status (negative: the signal that ended it).
    """
    child = subprocess.Popen(argv)
    try:
        return child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=CHILD_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise


def _data_flags(data_dir, download: bool, quiet: bool) -> list:
    flags = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return flags + (["--no-download"] if not download else []) + (["--quiet"] if quiet else [])


def _run_experiment(step, store: ResultStore, data_dir, download: bool, quiet: bool) -> dict:
    """``kernelfit DATASET ... --result-file`` in a child process; returns its record."""
    command = experiment_command(step.config)
    partial = store.root / "results" / f".{step.name}.partial.json"
    argv = [sys.executable, "-m", "kernelfit.cli", *experiment_argv(step.config), "--result-file",
            str(partial), *_data_flags(data_dir, download, quiet)]
    try:
        status = run_child(argv)
        if status != 0:
            how = (f"was killed by signal {-status}" if status < 0
                   else f"exited with status {status}")
            raise RuntimeError(f"{command} {how} (its output is above)")
        record = json.loads(partial.read_text())
    finally:
        partial.unlink(missing_ok=True)
    record["command"] = command
    record["own_process"] = True  # peak_rss_bytes is this step's alone
    return record


def _run_command(step, store: ResultStore, data_dir, download: bool, quiet: bool) -> dict:
    """``kernelfit ARGV --out DIR/nets`` in a child process; returns its record."""
    argv = [sys.executable, "-m", "kernelfit.cli", *step.argv, "--out",
            str(store.root / "nets"), *_data_flags(data_dir, download, quiet)]
    status = run_child(argv)
    if status != 0:
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        raise RuntimeError(f"kernelfit {' '.join(step.argv)} {how} (its output is above)")
    missing = [p for p in step.outputs if not (store.root / p).exists()]
    if missing:
        raise RuntimeError(f"kernelfit {' '.join(step.argv)} did not write {missing}")
    return {"argv": list(step.argv), "outputs": list(step.outputs),
            "command": "kernelfit " + " ".join(step.argv) + " --out DIR/nets",
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
