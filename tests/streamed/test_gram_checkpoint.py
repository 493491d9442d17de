"""The streamed Gram checkpointed per filter chunk: resumes, refusals and kills."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import kernelfit.streamed.checkpoint as checkpoint_module
from kernelfit.features import RandomConvFeatures
from kernelfit.linalg.scratch import remove_stale_scratch_dirs
from kernelfit.streamed import CheckpointMismatchError, solve_streamed

N_FILTERS, CHUNK = 32, 8  # four chunks


def tiny_problem():
    rng = np.random.default_rng(11)
    X = rng.integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8)
    Xt = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    return X, rng.integers(0, 3, size=60), Xt


def features(**params):
    return RandomConvFeatures(**{**dict(n_filters=N_FILTERS, n_whitening_patches=3000,
                                        n_standardize_images=40, n_jobs=1, device="cpu",
                                        dtype="float64"), **params})


def solve(directory=None, fmap=None, data=None, **kwargs):
    X, y, Xt = tiny_problem() if data is None else data
    return solve_streamed(fmap or features(), X, y, Xt, dtype="float64", device="cpu",
                          tile_size=25, filter_chunk=CHUNK, checkpoint_dir=directory, **kwargs)


@pytest.fixture(scope="module")
def uninterrupted():
    return solve()


def assert_same(solution, reference):
    np.testing.assert_allclose(solution.dual_coef, reference.dual_coef, rtol=1e-9, atol=0)
    np.testing.assert_allclose(solution.test_scores, reference.test_scores, rtol=1e-9, atol=0)
    assert solution.bandwidth == pytest.approx(reference.bandwidth, rel=1e-12)


def test_a_finished_checkpoint_skips_the_accumulation(tmp_path, uninterrupted, encoded_images):
    first = solve(tmp_path / "ckpt")
    assert_same(first, uninterrupted)
    assert first.resumed_filters == 0 and encoded_images["images"] == 80 * N_FILTERS // CHUNK
    manifest = json.loads((tmp_path / "ckpt" / "manifest.json").read_text())
    assert manifest["filters_done"] == N_FILTERS
    assert manifest["config"]["n_filters"] == N_FILTERS  # the configuration, in plain JSON
    assert manifest["config"]["filter_chunk"] == CHUNK
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "fitted.npz", f"gram-{N_FILTERS:09d}.bin", "lock", "manifest.json"]
    fmap = features()
    again = solve(tmp_path / "ckpt", fmap=fmap)
    assert again.resumed_filters == N_FILTERS
    assert encoded_images["images"] == 80 * N_FILTERS // CHUNK  # nothing encoded the second time
    assert_same(again, uninterrupted)
    np.testing.assert_array_equal(fmap.filters_, features().fit(tiny_problem()[0]).filters_)


def test_a_failed_save_leaves_the_previous_chunk_and_resumes_from_it(
        tmp_path, monkeypatch, uninterrupted, encoded_images):
    # (the failed run's traceback is kept below: its checkpoint must release the lock)
    """An error in the middle of writing chunk 3's state: the manifest still points to
    chunk 2's complete state, and the rerun computes chunks 3 and 4 only."""
    write = checkpoint_module.write_gram_bytes
    calls = {"n": 0}

    def failing(handle, out, backend):
        calls["n"] += 1
        if calls["n"] == 5:  # two arrays per state: the second array of the third save
            raise OSError("disk full (simulated)")
        return write(handle, out, backend)

    monkeypatch.setattr(checkpoint_module, "write_gram_bytes", failing)
    with pytest.raises(OSError, match="simulated") as failed:
        solve(tmp_path)
    assert failed.traceback
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["filters_done"] == 2 * CHUNK
    monkeypatch.setattr(checkpoint_module, "write_gram_bytes", write)
    before = encoded_images["images"]
    resumed = solve(tmp_path)
    assert resumed.resumed_filters == 2 * CHUNK
    assert encoded_images["images"] - before == 80 * 2  # chunks 3 and 4 only
    assert_same(resumed, uninterrupted)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(("change", "field"), [
    ({"fmap": {"alpha": 0.5}}, r"alpha \(checkpoint 0\.25, now 0\.5\)"),
    ({"fmap": {"pooling": "overlap3"}}, r"pooling \(checkpoint 'grid', now 'overlap3'\)"),
    ({"fmap": {"random_state": 1}}, r"random_state \(checkpoint 0, now 1\)"),
    ({"fmap": {"n_filters": 40}}, r"n_filters \(checkpoint 32, now 40\)"),
    ({"fmap": {"whitening_epsilon": 0.01}}, r"whitening_epsilon \(checkpoint 0\.1, now 0\.01\)"),
    ({"fmap": {"standardize": False}}, r"standardize \(checkpoint True, now False\)"),
    ({"fmap": {"dtype": "float32"}}, r"dtype \(checkpoint 'float64', now 'float32'\)"),
    ({"data": "labels"}, r"data \(checkpoint '[0-9a-f]{64}', now '[0-9a-f]{64}'\)"),
    ({"filter_chunk": 4}, r"filter_chunk \(checkpoint 8, now 4\)"),
])
def test_another_configuration_is_refused_naming_the_field(tmp_path, change, field):
    solve(tmp_path)
    data = tiny_problem()
    if change.get("data") == "labels":
        data = (data[0], (data[1] + 1) % 3, data[2])
    fmap = features(**change.get("fmap", {}))
    kwargs = {"filter_chunk": change["filter_chunk"]} if "filter_chunk" in change else {}
    X, y, Xt = data
    with pytest.raises(CheckpointMismatchError, match=field) as info:
        solve_streamed(fmap, X, y, Xt, dtype="float64", device="cpu", tile_size=25,
                       checkpoint_dir=tmp_path, **{"filter_chunk": CHUNK, **kwargs})
    assert "\n" not in str(info.value)
    assert ("filter_chunk" in change) == hasattr(fmap, "filters_")  # else refused before fitting
    assert json.loads((tmp_path / "manifest.json").read_text())["filters_done"] == N_FILTERS


def test_a_directory_of_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(CheckpointMismatchError, match=r"holds files but no manifest\.json"):
        solve(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_the_scratch_cleanup_never_removes_a_checkpoint(tmp_path):
    directory = tmp_path / "kernelfit-tiles-mine"  # even named like a scratch directory
    solve(directory)
    removed = remove_stale_scratch_dirs([tmp_path], states=("stale", "kept"))
    assert removed == [] and (directory / "manifest.json").exists()


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    import kernelfit.streamed.checkpoint as checkpoint_module
    from test_gram_checkpoint import solve
    mode = sys.argv[2]
    if mode == "slow-saves":  # time to kill it between two chunks
        save = checkpoint_module.GramCheckpoint.save
        def slow(self, *args):
            save(self, *args)
            time.sleep(30)
        checkpoint_module.GramCheckpoint.save = slow
    elif mode == "slow-write":  # hangs in the middle of writing the second chunk's state
        write = checkpoint_module.write_gram_bytes
        calls = []
        def slow(handle, out, backend):
            calls.append(1)
            write(handle, out, backend)
            if len(calls) == 3:
                handle.flush()
                time.sleep(30)
        checkpoint_module.write_gram_bytes = slow
    solution = solve(sys.argv[1])
    import numpy as np
    np.savez(sys.argv[1] + ".result.npz", alpha=solution.dual_coef,
             scores=solution.test_scores, resumed=solution.resumed_filters)
""")


def start_child(script, directory, mode):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, str(script), str(directory), mode], env=env)


def wait_for(condition, process, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, "the child ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting for the checkpoint"
        time.sleep(0.05)


def filters_done(directory):
    try:
        return json.loads((directory / "manifest.json").read_text()).get("filters_done", 0)
    except (OSError, ValueError):
        return 0


@pytest.mark.parametrize("mode", ["slow-saves", "slow-write"])
def test_a_killed_run_resumes_at_the_next_chunk(tmp_path, uninterrupted, mode):
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=os.path.dirname(__file__)))
    directory = tmp_path / "ckpt"
    child = start_child(script, directory, mode)
    try:
        if mode == "slow-saves":
            wait_for(lambda: filters_done(directory) >= CHUNK, child)
        else:  # killed while the temporary state of chunk 2 is half written
            wait_for(lambda: filters_done(directory) >= CHUNK and any(
                p.name.endswith(".tmp") for p in directory.iterdir()), child)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert filters_done(directory) == CHUNK
    rerun = start_child(script, directory, "plain")
    assert rerun.wait(timeout=300) == 0
    result = np.load(str(directory) + ".result.npz")
    assert int(result["resumed"]) == CHUNK  # the finished chunk was not recomputed
    np.testing.assert_allclose(result["alpha"], uninterrupted.dual_coef, rtol=1e-9, atol=0)
    np.testing.assert_allclose(result["scores"], uninterrupted.test_scores, rtol=1e-9, atol=0)
    assert filters_done(directory) == N_FILTERS
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_a_run_killed_before_its_first_chunk_starts_afresh(tmp_path, uninterrupted):
    from kernelfit.streamed import GramCheckpoint

    X, y, Xt = tiny_problem()
    config = checkpoint_module.gram_configuration(features(), X, y, Xt, 25, np.float64)
    first = GramCheckpoint(tmp_path, config)  # the manifest is written, no chunk yet
    (tmp_path / ".gram-000000008.bin.123.abcd.tmp").write_bytes(b"half")  # a killed write
    first.close()  # the run ended
    resumed = solve(tmp_path)
    assert resumed.resumed_filters == 0
    assert_same(resumed, uninterrupted)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_a_resume_without_a_chunk_size_uses_the_saved_one(tmp_path, uninterrupted):
    solve(tmp_path)
    X, y, Xt = tiny_problem()
    again = solve_streamed(features(), X, y, Xt, dtype="float64", device="cpu", tile_size=25,
                           checkpoint_dir=tmp_path)  # this budget would plan one chunk
    assert again.resumed_filters == N_FILTERS
    assert_same(again, uninterrupted)


def test_an_edited_manifest_is_refused(tmp_path):
    solve(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["config"]["alpha"] = 0.5
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointMismatchError, match=r"was edited: its configuration no "
                                                      r"longer matches its hash [0-9a-f]{64}"):
        solve(tmp_path, fmap=features(alpha=0.5))


def test_one_run_at_a_time(tmp_path):
    from kernelfit.streamed import GramCheckpoint

    X, y, Xt = tiny_problem()
    config = checkpoint_module.gram_configuration(features(), X, y, Xt, 25, np.float64)
    holder = GramCheckpoint(tmp_path, config)
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import json
        from kernelfit.streamed import GramCheckpoint
        config = json.loads({json.dumps(json.dumps(holder.config))})
        GramCheckpoint({str(tmp_path)!r}, config)
        """)], capture_output=True, text=True, timeout=120)
    assert child.returncode != 0
    assert (f"RuntimeError: checkpoint directory {tmp_path} is in use by another run; "
            "expected one run per checkpoint directory") in child.stderr
    holder.close()


def test_a_resume_reports_the_restored_work_apart_from_the_new(tmp_path, monkeypatch,
                                                              uninterrupted):
    """Progress of a resumed accumulation: the chunks read back are restored work, so the
    time left is priced from the chunks computed in this run only."""
    save = checkpoint_module.GramCheckpoint.save

    def save_then_stop(self, filters_done, *args):
        save(self, filters_done, *args)
        if filters_done == CHUNK:
            raise KeyboardInterrupt  # stopped after the first chunk was saved

    monkeypatch.setattr(checkpoint_module.GramCheckpoint, "save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        solve(tmp_path)
    monkeypatch.setattr(checkpoint_module.GramCheckpoint, "save", save)
    events = []
    resumed = solve(tmp_path, progress=events.append)
    gram = [e for e in events if e.phase == "randconv gram"]
    assert resumed.resumed_filters == CHUNK
    assert_same(resumed, uninterrupted)
    assert gram[0].done == 0 and gram[0].restored == 0
    restored = gram[1].restored
    assert restored == gram[1].done and 0 < restored < gram[1].total
    assert restored == pytest.approx(gram[1].total * CHUNK / N_FILTERS, rel=0.05)
    assert all(e.restored == restored for e in gram[1:])
    assert gram[-1].finished and gram[-1].done == pytest.approx(gram[-1].total)
