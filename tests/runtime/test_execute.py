"""Runtime on 1 and 2 real MPI ranks with test-only task kinds (injected registry)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from argyro_run.archive import done_tasks, open_archive
from tests._support.env import MPIEXEC, run_mpi

DRIVER = str(Path(__file__).with_name("_driver.py"))


def chain_spec(n=20, sleep_s=0.0):
    spec = [
        {"id": "a/one", "kind": "rand", "params": {"seed": 1, "n": n, "tag": "a1"}},
        {"id": "a/two", "kind": "rand", "params": {"seed": 2, "n": n, "tag": "a2"}, "ranks": 2},
        {"id": "b/three", "kind": "rand", "params": {"seed": 3, "n": n, "tag": "b3", "sleep_s": sleep_s},
         "deps": ["a/one"]},
        {"id": "b/four", "kind": "rand", "params": {"seed": 4, "n": n, "tag": "b4", "sleep_s": sleep_s},
         "deps": ["a/two", "b/three"], "ranks": 2},
        {"id": "c/five", "kind": "rand", "params": {"seed": 5, "n": n, "tag": "c5", "sleep_s": sleep_s},
         "deps": ["b/four"]},
        {"id": "c/six", "kind": "rand", "params": {"seed": 6, "n": n, "tag": "c6"}, "deps": []},
    ]
    return spec


def drive(tmp, nranks, spec, archive="res.h5", on_error="stop"):
    tmp = Path(tmp)
    (tmp / "spec.json").write_text(json.dumps(spec))
    p = run_mpi(nranks, [DRIVER, str(tmp / "spec.json"), str(tmp / archive), str(tmp / "work"), on_error],
                timeout=120, cwd=str(Path(__file__).parents[2]))
    stats = None
    for line in p.stdout.splitlines():
        if line.startswith("STATS "):
            stats = json.loads(line[6:])
    return p, stats


def calls(tmp):
    f = Path(tmp) / "calls.txt"
    return f.read_text().split() if f.exists() else []


def dump(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith(("provenance", "plan")):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def expected_x(seed, n=20):
    return 2.0 * np.random.default_rng(seed).normal(size=n)


@pytest.mark.parametrize("nranks", [1, 2])
def test_chain_values_and_archive(tmp_path, nranks):
    p, stats = drive(tmp_path, nranks, chain_spec())
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(stats["executed"]) == sorted(s["id"] for s in chain_spec())
    a = open_archive(tmp_path / "res.h5")
    # value of b/four = own + a/two + b/three (= own + a/one)
    x4 = expected_x(4) + expected_x(2) + expected_x(3) + expected_x(1)
    np.testing.assert_allclose(a["/b/four/x"], x4, rtol=0, atol=1e-14)
    np.testing.assert_allclose(a.result("c/five").get("x"), x4 + expected_x(5), atol=1e-14)
    assert a.units("/b/four/x") == "1"
    r = a.result("a/one")
    assert str(r.get("label")[()]) == "task a1"
    assert list(r.get("names")) == ["a", "bb"]
    assert r.get_attrs("")["meta"] == {"seed": 1} and r.get_attrs("x")["note"] == "test"
    info = a.tasks["b/four"]
    assert info["status"] == "done" and info["kind"] == "rand" and info["wall_s"] >= 0 and info["finished_at"]
    assert a.provenance["mpi_size"] == nranks and a.provenance["end_time"]
    assert set(a.provenance["task_wall_s"]) == set(a.tasks)
    assert [t["id"] for t in a.plan["tasks"]] == [s["id"] for s in chain_spec()]
    log = [json.loads(line) for line in (tmp_path / "work" / "argyro-run.log").read_text().splitlines()]
    assert log[0]["event"] == "run_start" and log[-1]["event"] == "run_end"
    assert sum(1 for e in log if e["event"] == "task_done") == 6


def test_one_and_two_ranks_identical(tmp_path):
    (tmp_path / "n1").mkdir(), (tmp_path / "n2").mkdir()
    p1, _ = drive(tmp_path / "n1", 1, chain_spec())
    p2, _ = drive(tmp_path / "n2", 2, chain_spec())
    assert p1.returncode == 0 and p2.returncode == 0, p1.stderr + p2.stderr
    d1, d2 = dump(tmp_path / "n1" / "res.h5"), dump(tmp_path / "n2" / "res.h5")
    assert d1.keys() == d2.keys() and len(d1) == 18
    for k in d1:
        assert np.array_equal(d1[k], d2[k]), k


def test_resume_unchanged_and_changed(tmp_path):
    p, _ = drive(tmp_path, 2, chain_spec())
    assert p.returncode == 0
    before = dump(tmp_path / "res.h5")
    n_calls = len(calls(tmp_path))
    p, stats = drive(tmp_path, 2, chain_spec())
    assert p.returncode == 0 and stats["executed"] == [] and len(stats["reused"]) == 6
    assert len(calls(tmp_path)) == n_calls
    spec = chain_spec()
    spec[2]["params"]["seed"] = 33          # b/three changes -> b/four, c/five rerun
    p, stats = drive(tmp_path, 2, spec)
    assert p.returncode == 0, p.stderr
    assert sorted(stats["executed"]) == ["b/four", "b/three", "c/five"]
    after = dump(tmp_path / "res.h5")
    np.testing.assert_array_equal(after["a/one/x"], before["a/one/x"])
    x3 = expected_x(33) + expected_x(1)
    np.testing.assert_allclose(after["b/three/x"], x3, atol=1e-14)
    np.testing.assert_allclose(after["b/four/x"], expected_x(4) + expected_x(2) + x3, atol=1e-14)


@pytest.mark.parametrize("nranks", [1, 2])
def test_stop_on_failure_on_nonzero_group_rank(tmp_path, nranks):
    spec = chain_spec()
    spec.insert(1, {"id": "bad", "kind": "fail", "params": {"fail_rank": 1, "tag": "bad"}, "ranks": 2})
    spec[4]["deps"] = ["bad"]  # b/four (after insert: index 4) depends on the failing task
    p, stats = drive(tmp_path, nranks, spec)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "deliberate failure" in stats["failed"]["bad"]
    assert "b/four" in stats["skipped"] and "c/five" in stats["skipped"]
    a = open_archive(tmp_path / "res.h5")
    assert a.tasks["bad"]["status"] == "failed"
    assert "ValueError" in a.tasks["bad"]["error_traceback"]
    assert "c/five" not in done_tasks(tmp_path / "res.h5")


def test_continue_on_failure_runs_independents(tmp_path):
    spec = chain_spec()
    spec.insert(0, {"id": "bad", "kind": "fail", "params": {"fail_rank": 1, "tag": "bad"}, "ranks": 2})
    spec[4]["deps"] = ["b/three", "bad"]   # b/four
    p, stats = drive(tmp_path, 2, spec, on_error="continue")
    assert p.returncode == 1
    assert sorted(stats["executed"]) == ["a/one", "a/two", "b/three", "c/six"]
    assert stats["skipped"]["b/four"] == "dependency bad failed"
    assert stats["skipped"]["c/five"] == "dependency b/four skipped"
    a = open_archive(tmp_path / "res.h5")
    assert a.tasks["c/five"]["status"] == "skipped"


def test_missing_stage_is_a_task_failure(tmp_path):
    spec = [{"id": "x", "kind": "summary_missing", "params": {}}]
    p, stats = drive(tmp_path, 1, spec)
    assert p.returncode == 1 and "unknown task kind" in stats["failed"]["x"]


def test_sigkill_then_resume(tmp_path):
    spec = chain_spec(sleep_s=1.5)
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    archive = tmp_path / "res.h5"
    proc = subprocess.Popen([str(MPIEXEC), "-n", "1", sys.executable, DRIVER, str(tmp_path / "spec.json"),
                             str(archive), str(tmp_path / "work")], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=str(Path(__file__).parents[2]))
    t0 = time.time()
    while time.time() - t0 < 60:
        if "b3" in calls(tmp_path):  # a/one, a/two done; b/three sleeping
            break
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = done_tasks(archive)
    assert {"a/one", "a/two"} <= set(done) and "c/five" not in done
    a = open_archive(archive)
    np.testing.assert_allclose(a["/a/one/x"], expected_x(1), atol=1e-14)
    n_before = len(calls(tmp_path))
    p, stats = drive(tmp_path, 2, spec)
    assert p.returncode == 0, p.stderr
    assert set(stats["reused"]) == set(done)
    assert sorted(stats["executed"] + stats["reused"]) == sorted(s["id"] for s in spec)
    assert len(calls(tmp_path)) == n_before + len(stats["executed"])


def _log_events(tmp, event):
    lines = (Path(tmp) / "work" / "argyro-run.log").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == event]


def test_idle_ranks_are_logged_with_the_reason(tmp_path):
    """On 2 ranks a serial task leaves rank 1 idle: the rank-0 log names the ranks, the running
    serial task and why nothing else can start (dependants wait; a ready task is too wide)."""
    spec = [
        {"id": "serial", "kind": "rand", "params": {"seed": 1, "n": 4, "tag": "s"}},
        {"id": "wide", "kind": "rand", "params": {"seed": 2, "n": 4, "tag": "w"}, "ranks": 2},
        {"id": "after", "kind": "rand", "params": {"seed": 3, "n": 4, "tag": "a"}, "deps": ["wide"]},
        {"id": "last", "kind": "rand", "params": {"seed": 4, "n": 4, "tag": "l"}, "deps": ["after"]},
    ]
    p, stats = drive(tmp_path, 2, spec)
    assert p.returncode == 0, p.stdout + p.stderr
    idle = _log_events(tmp_path, "idle")
    # wave 1: 'serial' on rank 0, 'wide' is ready but needs 2 ranks
    assert idle[0]["ranks"] == [1] and idle[0]["running"] == [{"task": "serial", "ranks": 1, "serial": True}]
    assert idle[0]["reason"] == "ready task wide needs 2 ranks, only 1 free"
    assert "world rank(s) 1 idle while serial on 1 rank(s) (serial task)" in idle[0]["message"]
    # wave 3: 'after' is serial and 'last' waits for it
    (w3,) = [e for e in idle if e["running"][0]["task"] == "after"]
    assert w3["reason"] == "the 1 remaining task(s) wait for the result of running task(s) after"
    # the last wave: nothing left
    assert idle[-1]["running"][0]["task"] == "last" and idle[-1]["reason"] == "no task left to start"
    # a 1-rank run never idles
    (tmp_path / "one").mkdir()
    p, _ = drive(tmp_path / "one", 1, spec)
    assert p.returncode == 0 and _log_events(tmp_path / "one", "idle") == []


@pytest.mark.slow
def test_sigkill_at_random_points_many_times(tmp_path):
    """SIGKILL of the whole run (1 or 2 ranks) at >= 20 random moments: after every kill the archive
    opens, every task finished before is still there with its exact values (nothing lost), and
    reruns complete the job with the results of an uninterrupted run."""
    spec = [{"id": f"t/{i}", "kind": "rand", "params": {"seed": 10 + i, "n": 50, "tag": f"t{i}", "sleep_s": 0.08},
             "deps": [f"t/{i - 1}"] if i % 3 else [], "ranks": 2 if i % 4 == 1 else 1} for i in range(10)]
    (tmp_path / "ref").mkdir()
    p, _ = drive(tmp_path / "ref", 1, spec)
    assert p.returncode == 0, p.stderr
    ref = dump(tmp_path / "ref" / "res.h5")
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    archive, rng = tmp_path / "res.h5", np.random.default_rng(2024)
    kills = restarts = partial = 0
    before: set[str] = set()
    while kills < 20:
        n = 1 + kills % 2
        proc = subprocess.Popen([str(MPIEXEC), "-n", str(n), sys.executable, DRIVER, str(tmp_path / "spec.json"),
                                 str(archive), str(tmp_path / "work")], start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=str(Path(__file__).parents[2]))
        time.sleep(float(rng.uniform(0.2, 1.6)))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        if not archive.exists():
            continue
        a = open_archive(archive)                 # opens after every kill
        done = set(done_tasks(archive))
        assert before <= done, f"lost {before - done}"
        for tid in done:                          # finished tasks are intact
            np.testing.assert_array_equal(a[f"/{tid}/x"], ref[f"{tid}/x"])
        before = done
        partial += 0 < len(done) < len(spec)
        if len(done) == len(spec):                # finished between kills: start over
            archive.unlink()
            before = set()
            restarts += 1
    assert partial >= 5, (kills, partial, restarts)  # most kills hit a run in the middle of its tasks
    p, stats = drive(tmp_path, 2, spec)
    assert p.returncode == 0, p.stderr
    assert sorted(stats["executed"] + stats["reused"]) == sorted(s["id"] for s in spec)
    after = dump(archive)
    assert after.keys() == ref.keys()
    for k in ref:
        np.testing.assert_array_equal(after[k], ref[k])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_finishes_running_tasks_then_stops(tmp_path, sig):
    """SIGTERM/SIGINT to mpiexec (2 ranks): the running task finishes and is archived, nothing new
    starts, the run ends with a message; a rerun completes with the values of an uninterrupted run."""
    spec = [{"id": f"t/{i}", "kind": "rand", "params": {"seed": 30 + i, "n": 10, "tag": f"t{i}", "sleep_s": 0.6},
             "deps": [f"t/{i - 1}"] if i else []} for i in range(6)]
    (tmp_path / "ref").mkdir()
    p, _ = drive(tmp_path / "ref", 1, spec)
    assert p.returncode == 0, p.stderr
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    proc = subprocess.Popen([str(MPIEXEC), "-n", "2", sys.executable, DRIVER, str(tmp_path / "spec.json"),
                             str(tmp_path / "res.h5"), str(tmp_path / "work")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(Path(__file__).parents[2]))
    t0 = time.time()
    while "t1" not in calls(tmp_path) and time.time() - t0 < 60:
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    stats = json.loads(next(line for line in out.splitlines() if line.startswith("STATS "))[6:])
    name = signal.Signals(sig).name
    assert stats["interrupted"] == name and f"{name} received" in err
    assert f"interrupted by {name}" in out
    assert stats["executed"] == ["t/0", "t/1"] and calls(tmp_path) == ["t0", "t1"]  # nothing new started
    assert set(stats["skipped"]) == {f"t/{i}" for i in range(2, 6)}
    a = open_archive(tmp_path / "res.h5")
    assert set(done_tasks(tmp_path / "res.h5")) == {"t/0", "t/1"} and a.provenance["status"] == "interrupted"
    assert [e["signal"] for e in _log_events(tmp_path, "interrupted")] == [name]
    p, stats = drive(tmp_path, 2, spec)
    assert p.returncode == 0 and sorted(stats["reused"]) == ["t/0", "t/1"] and len(stats["executed"]) == 4
    ref, got = dump(tmp_path / "ref" / "res.h5"), dump(tmp_path / "res.h5")
    assert ref.keys() == got.keys()
    for k in ref:
        np.testing.assert_array_equal(got[k], ref[k])


def test_result_attrs_reserved_for_the_runtime_fail_the_task(tmp_path):
    spec = [{"id": "s", "kind": "shadow", "params": {}}, {"id": "ok", "kind": "rand", "params": {"seed": 1, "n": 3,
                                                                                                  "tag": "o"}}]
    p, stats = drive(tmp_path, 1, spec, on_error="continue")
    assert p.returncode == 1 and "reserved for the runtime" in stats["failed"]["s"] and stats["executed"] == ["ok"]


def _partial_spec():
    md = [{"id": f"md/s/T{k}", "kind": "md_run", "params": {"seed": 10 + k, "n": 20, "tag": f"T{k}"}} for k in (1, 2, 3)]
    lone = {"id": "md/lone/T1", "kind": "md_run", "params": {"seed": 20, "n": 20, "tag": "lone"}}
    return md + [lone,
                 {"id": "analysis/s", "kind": "diffusion", "params": {"seed": 7, "n": 20, "tag": "an"},
                  "deps": [m["id"] for m in md]},
                 {"id": "analysis/lone", "kind": "diffusion", "params": {"seed": 8, "n": 20, "tag": "lone_an"},
                  "deps": ["md/lone/T1"]},
                 {"id": "fit", "kind": "rand", "params": {"seed": 9, "n": 20, "tag": "fit"}, "deps": ["analysis/s"]}]


def test_analysis_goes_on_without_a_failed_temperature_and_reruns_when_it_finishes(tmp_path):
    """A diffusion task (kinds.runs_without = md_run) runs on the MD runs that finished, says which
    are missing (missing_deps), and is never reused on a resume: once the failed run succeeds, it
    and everything downstream runs again on the complete input. With none of its MD runs finished,
    it is skipped."""
    (tmp_path / "fail_T2").touch()
    (tmp_path / "fail_lone").touch()
    p, stats = drive(tmp_path, 2, _partial_spec(), on_error="continue")
    assert p.returncode == 1
    assert set(stats["failed"]) == {"md/s/T2", "md/lone/T1"}
    assert stats["skipped"] == {"analysis/lone": "dependency md/lone/T1 failed"}
    assert {"analysis/s", "fit"} <= set(stats["executed"])
    assert "partial  analysis/s: ran without md/s/T2 failed" in p.stdout
    x = dump(tmp_path / "res.h5")
    partial = expected_x(7) + expected_x(11) + expected_x(13)              # T1 and T3, not T2
    np.testing.assert_allclose(x["analysis/s/x"], partial, atol=1e-13)
    np.testing.assert_allclose(x["fit/x"], expected_x(9) + partial, atol=1e-13)
    a = open_archive(tmp_path / "res.h5")
    assert a.tasks["analysis/s"]["status"] == "done"
    with h5py.File(tmp_path / "res.h5", "r") as f:
        assert f["analysis/s"].attrs["missing_deps"] == "md/s/T2 failed"
        assert "missing_deps" not in f["fit"].attrs
    assert "analysis/s" not in done_tasks(tmp_path / "res.h5")             # partial: never reused
    # the failure is gone: T2 runs, the analysis and the fit run again on all three temperatures
    (tmp_path / "fail_T2").unlink()
    (tmp_path / "fail_lone").unlink()
    p, stats = drive(tmp_path, 2, _partial_spec(), on_error="continue")
    assert p.returncode == 0, p.stderr
    assert sorted(stats["executed"]) == ["analysis/lone", "analysis/s", "fit", "md/lone/T1", "md/s/T2"]
    assert sorted(stats["reused"]) == ["md/s/T1", "md/s/T3"]
    x = dump(tmp_path / "res.h5")
    full = partial + expected_x(12)
    np.testing.assert_allclose(x["analysis/s/x"], full, atol=1e-13)
    np.testing.assert_allclose(x["fit/x"], expected_x(9) + full, atol=1e-13)
    with h5py.File(tmp_path / "res.h5", "r") as f:
        assert "missing_deps" not in f["analysis/s"].attrs
