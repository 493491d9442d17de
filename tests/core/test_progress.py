"""Rendering progress: bars in a terminal, plain periodic lines in a log, labelled reruns."""

import io
import warnings

import pytest

from kernelfit.progress import ProgressEvent, TqdmProgress, end_progress_lines, phase


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run_phase(renderer, name, steps, unit="tiles"):
    with phase(renderer, name, total=steps, unit=unit) as bar:
        for _ in range(steps):
            bar.advance()


def test_a_log_gets_plain_lines_not_carriage_return_frames():
    log = io.StringIO()  # not a terminal
    renderer = TqdmProgress(file=log, interval=0.0)  # a line on every event
    run_phase(renderer, "cholesky", 3)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "cholesky: started, 3 tiles to do"
    assert lines[1].startswith("cholesky: 1/3 tiles (33%) after ")
    assert "left" in lines[1]
    assert lines[-1].startswith("cholesky: done, 3 tiles in ")


def test_a_log_line_per_interval_not_per_event():
    log = io.StringIO()
    renderer = TqdmProgress(file=log, interval=3600.0)
    run_phase(renderer, "gram", 500, unit="blocks")
    lines = log.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == ["gram: started", "gram: done"]


def test_repeated_phases_are_numbered_in_a_terminal_and_in_a_log():
    for stream in (Terminal(), io.StringIO()):
        renderer = TqdmProgress(file=stream, interval=3600.0)
        for _ in range(2):
            run_phase(renderer, "solve", 2)
        for _ in range(3):
            run_phase(renderer, "refine", 1)
        text = stream.getvalue()
        for label in ("solve", "solve 2", "refine", "refine 2", "refine 3"):
            assert f"{label}:" in text, (label, text)
        assert "solve 3" not in text and "refine 4" not in text


def test_a_phase_closed_twice_draws_nothing_more():
    log = io.StringIO()
    renderer = TqdmProgress(file=log, interval=3600.0)
    with phase(renderer, "predict", total=1) as bar:
        bar.advance()
    bar.close()
    assert log.getvalue().count("predict") == 2  # started, done; no "predict 2"


def test_an_interrupted_bar_is_finished_before_the_next_line():
    term = Terminal()
    renderer = TqdmProgress(file=term)
    renderer(ProgressEvent("cholesky", 1, 4, "tiles", 0.1))
    assert not term.getvalue().endswith("\n")  # a bar is being drawn
    end_progress_lines()
    assert term.getvalue().endswith("\n")
    print("interrupted", file=term)
    assert term.getvalue().splitlines()[-1] == "interrupted"


def test_cli_interrupt_message_starts_its_own_line(monkeypatch, capsys):
    from kernelfit import cli
    from kernelfit.cli import experiment_cmd

    def interrupted_run(args):
        renderer = TqdmProgress(file=Terminal())
        renderer(ProgressEvent("gram", 1, 9, "blocks", 0.1))
        monkeypatch.setattr(TqdmProgress, "last", renderer, raising=False)
        raise KeyboardInterrupt

    monkeypatch.setattr(experiment_cmd, "run", interrupted_run)
    assert cli.main(["mnist", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"
    assert TqdmProgress.last.file.getvalue().endswith("\n")  # the bar was finished


def test_cli_shows_a_warning_as_one_line(monkeypatch, capsys):
    from kernelfit import cli
    from kernelfit.cli import experiment_cmd
    from kernelfit.solvers.exact import SolverFallbackWarning

    def warning_run(args):
        warnings.warn("the kernel matrix is not numerically positive definite;\n solving by "
                      "LU", SolverFallbackWarning, stacklevel=1)
        return 0

    monkeypatch.setattr(experiment_cmd, "run", warning_run)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert cli.main(["mnist", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err == ("kernelfit mnist: warning: the kernel matrix is not numerically positive "
                   "definite; solving by LU (SolverFallbackWarning)\n")


@pytest.mark.parametrize("seconds, text", [(5.04, "5.0 s"), (125, "2 min 05 s"),
                                           (7380, "2 h 03 min")])
def test_durations_read_as_clock_times(seconds, text):
    from kernelfit.progress import _clock

    assert _clock(seconds) == text


def test_a_terminal_of_width_zero_gets_lines_not_empty_bars():
    """A pseudo-terminal nobody sized (``script``, some CI runners) reports 0 columns:
    tqdm would draw empty bars there."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        assert os.get_terminal_size(slave).columns == 0
        with open(slave, "w", closefd=False) as stream:
            run_phase(TqdmProgress(file=stream, interval=3600.0), "gram", 2, unit="blocks")
        written = os.read(master, 4096).decode()
    finally:
        os.close(master)
        os.close(slave)
    assert written.replace("\r\n", "\n").splitlines()[0] == "gram: started, 2 blocks to do"


def test_work_restored_from_a_checkpoint_is_not_counted_in_the_time_left():
    """A resumed phase: 60 of 100 units restored in no time, then 10 done in 10 s. The
    rest (30) takes about 30 s at the run's own rate, not 30 * 10 / 70 s."""
    log = io.StringIO()
    renderer = TqdmProgress(file=log, interval=0.0)
    renderer(ProgressEvent("randconv gram", 0, 100, "GFLOP", 0.0))
    renderer(ProgressEvent("randconv gram", 60, 100, "GFLOP", 0.01, restored=60))
    renderer(ProgressEvent("randconv gram", 70, 100, "GFLOP", 10.0, restored=60))
    renderer(ProgressEvent("randconv gram", 100, 100, "GFLOP", 40.0, True, restored=60))
    lines = log.getvalue().splitlines()
    assert lines[1] == "randconv gram: 60 GFLOP restored, not recomputed (60%)"
    assert lines[2] == "randconv gram: 70/100 GFLOP (70%) after 10.0 s, about 30.0 s left"
    assert lines[3] == "randconv gram: done, 100 GFLOP in 40.0 s (60 GFLOP of it restored)"


def test_phase_restore_counts_in_done_and_in_restored():
    events = []
    with phase(events.append, "gram", total=10, unit="tiles") as bar:
        bar.restore(4)
        bar.advance(2)
    assert [(e.done, e.restored) for e in events] == [(0, 0), (4, 4), (6, 4), (6, 4)]


def test_a_terminal_bar_rates_only_the_work_of_this_run():
    term = Terminal()
    renderer = TqdmProgress(file=term)
    renderer(ProgressEvent("gram", 0, 100, "GFLOP", 0.0))
    renderer(ProgressEvent("gram", 90, 100, "GFLOP", 0.0, restored=90))
    assert renderer._bars["gram"].initial == 90
    assert renderer._bars["gram"].format_dict["initial"] == 90
    end_progress_lines()


@pytest.mark.parametrize("amount", [-1.0, float("nan"), float("inf")])
def test_restored_work_must_be_finite_and_not_negative(amount):
    with phase(None, "gram", total=10) as bar, pytest.raises(
            ValueError, match=r"finite amount >= 0; found"):
        bar.restore(amount)
