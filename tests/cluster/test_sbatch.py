"""``argyro-run plan --sbatch``: ranks and time limit from the plan, settings from ``[slurm]``.

Asserted: the wave replay of a hand-made plan gives the widest wave and the wall time worked out
by hand for 2, 3 and unlimited ranks; Slurm time strings; the written script carries partition,
account, tasks (plus reference tasks, with ``srun --exact``), cores, the time limit
(``time_factor`` x estimate or the minimum, or the user's ``time_limit`` as given), setup lines
and extra options; no ``[slurm]`` or a ``slurm.ranks`` below ``[parallel]``: exit 2 naming the
key and no script; bad ``time_limit`` / ``sbatch_options``: validation error naming the key.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from argyro_run.cli import main
from argyro_run.config import load_config
from argyro_run.errors import UserError
from argyro_run.plan import build_plan
from argyro_run.plan.build import Plan
from argyro_run.plan.task import Task
from argyro_run.runtime.slurm import batch_script, busy_ranks, estimated_wall_s, simulate_waves, slurm_time
from tests.cluster._study import FE, STUDY


def hand_plan() -> Plan:
    # A -> {B (2 ranks), C, D} -> E
    return Plan(tasks=[Task("A", "x", {}, [], ranks=1, cost_s=10.0),
                       Task("B", "x", {}, ["A"], ranks=2, cost_s=5.0),
                       Task("C", "x", {}, ["A"], ranks=1, cost_s=7.0),
                       Task("D", "x", {}, ["A"], ranks=1, cost_s=3.0),
                       Task("E", "x", {}, ["B", "C", "D"], ranks=1, cost_s=1.0)])


def test_wave_replay_by_hand():
    plan = hand_plan()
    assert busy_ranks(plan) == 4
    assert [[t for t, _, _ in w] for w in simulate_waves(plan, 2)] == [["A"], ["B"], ["C", "D"], ["E"]]
    assert estimated_wall_s(plan, 2) == 10 + 5 + 7 + 1
    assert estimated_wall_s(plan, 3) == 10 + 7 + 3 + 1      # B+C, then D
    assert estimated_wall_s(plan, 4) == 10 + 7 + 1
    assert [n for _, n, _ in simulate_waves(plan, 1)[1]] == [1]   # B clamped to a 1-rank world


def test_slurm_time():
    assert slurm_time(1) == "0-00:01:00"
    assert slurm_time(3601) == "0-01:01:00"
    assert slurm_time(2 * 86400 + 90) == "2-00:02:00"


def cfg_of(extra: str, tmp: Path):
    (tmp / "in.toml").write_text(STUDY + FE + extra)
    return load_config(tmp / "in.toml")


def test_script_from_plan_and_settings(tmp_path):
    cfg = cfg_of('[slurm]\npartition = "short"\naccount = "proj7"\ncpus_per_rank = 2\nreference_tasks = 16\n'
                 'setup = ["module load foo/1.2"]\nsbatch_options = ["--qos=normal", "--mem-per-cpu=2G"]\n'
                 'min_time_minutes = 1\ntime_factor = 2.0\n', tmp_path)
    plan = build_plan(cfg)
    ranks = busy_ranks(plan)
    assert ranks >= 3                                   # the three MD temperatures run at once
    text = batch_script(cfg, plan, tmp_path / "in.toml", "/opt/venv/bin/argyro-run")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for want in ("#SBATCH --partition=short", "#SBATCH --account=proj7", f"#SBATCH --ntasks={ranks + 16}",
                 "#SBATCH --cpus-per-task=2", "#SBATCH --qos=normal", "#SBATCH --mem-per-cpu=2G",
                 "export OMP_NUM_THREADS=2", "module load foo/1.2", f"#SBATCH --chdir={tmp_path}",
                 f"srun --mpi=pmi2 --exact -n {ranks} -c 2 /opt/venv/bin/argyro-run {tmp_path / 'in.toml'}"):
        assert want in lines, want
    limit = [ln.split("=", 1)[1] for ln in lines if ln.startswith("#SBATCH --time=")]
    assert limit == [slurm_time(max(2.0 * estimated_wall_s(plan, ranks), 60.0))]
    assert lines.index("module load foo/1.2") < len(lines) - 1     # setup before srun

    cfg = cfg_of('[slurm]\npartition = "p"\ntime_limit = "1-12:00:00"\nranks = 5\n', tmp_path)
    text = batch_script(cfg, build_plan(cfg), tmp_path / "in.toml", "argyro-run")
    assert "#SBATCH --time=1-12:00:00\n" in text and "#SBATCH --ntasks=5\n" in text
    assert "--account" not in text and "srun --mpi=pmi2 -n 5 -c 1 argyro-run" in text


def test_sbatch_errors_name_the_key(tmp_path, capsys):
    (tmp_path / "a.toml").write_text(STUDY)
    assert main(["plan", str(tmp_path / "a.toml"), "--sbatch", str(tmp_path / "job.sh")]) == 2
    assert "slurm.partition: missing" in capsys.readouterr().err
    assert not (tmp_path / "job.sh").exists()
    cfg = cfg_of('[parallel]\nranks_per_fe = 4\n[slurm]\npartition = "p"\nranks = 2\n', tmp_path)
    with pytest.raises(UserError) as e:
        batch_script(cfg, build_plan(cfg), tmp_path / "in.toml", "argyro-run")
    assert "slurm.ranks = 2 is below parallel.ranks_per_fe = 4" in e.value.problems[0]
    for bad, key in (('time_limit = "12h"', "slurm.time_limit"), ('sbatch_options = ["-N 2"]', "slurm.sbatch_options")):
        (tmp_path / "b.toml").write_text(STUDY + f'[slurm]\npartition = "p"\n{bad}\n')
        assert main(["validate", str(tmp_path / "b.toml")]) == 2
        assert key in capsys.readouterr().err
    (tmp_path / "c.toml").write_text(STUDY + '[slurm]\npartition = "p"\n')
    assert main(["plan", str(tmp_path / "c.toml"), "--sbatch", str(tmp_path / "job.sh")]) == 0
    first = (tmp_path / "job.sh").read_text()
    (tmp_path / "job.sh").write_text("mine")
    assert main(["plan", str(tmp_path / "c.toml"), "--sbatch", str(tmp_path / "job.sh")]) == 2
    assert (tmp_path / "job.sh").read_text() == "mine"
    assert main(["plan", str(tmp_path / "c.toml"), "--sbatch", str(tmp_path / "job.sh"), "--force"]) == 0
    assert (tmp_path / "job.sh").read_text() == first
