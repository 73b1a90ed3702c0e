"""Slurm batch scripts sized from the plan (``argyro-run plan input.toml --sbatch job.sh``).

The plan knows each task's ranks and estimated cost; the runtime executes it in waves (see
``execute``: every ready task gets ``group_size(task.ranks, world)`` ranks while ranks are free,
the next wave starts when the whole wave is done). ``plan.cost.waves`` replays that schedule
with the estimated costs, which gives

* the ranks worth asking for: the most ranks any wave of an unlimited world keeps busy
  (more would idle), and
* the estimated wall time on a given number of ranks (sum over waves of the longest task),
  from which the time limit is derived (``[slurm] time_factor``, ``min_time_minutes``).

The script starts argyro-run with ``srun --mpi=pmi2`` (the PMI the MPICH-ABI library speaks).
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path

from argyro_run.errors import UserError
from argyro_run.plan.cost import schedule, waves


def simulate_waves(plan, n_ranks: int | None) -> list[list[tuple[str, int, float]]]:
    """Waves ``[(task id, ranks, cost_s), ...]`` the scheduler forms on ``n_ranks`` ranks
    (``None``: as many as the widest wave needs); the replay is ``plan.cost.waves``."""
    size = n_ranks or sum(max(1, t.ranks) for t in plan.tasks)
    return [[(t.id, n, float(t.cost_s)) for t, n in w] for w in waves(plan.tasks, size)]


def busy_ranks(plan) -> int:
    """The most ranks the plan can keep busy at once (its widest wave with unlimited ranks)."""
    return max((sum(n for _, n, _ in w) for w in simulate_waves(plan, None)), default=1)


def estimated_wall_s(plan, n_ranks: int) -> float:
    """Estimated wall time of the plan on ``n_ranks`` ranks (``plan.cost.schedule``: the sum of each
    wave's longest task)."""
    return schedule(plan.tasks, n_ranks)["wall_s"]


def slurm_time(seconds: float) -> str:
    """``D-HH:MM:SS`` of ``seconds`` rounded up to whole minutes."""
    minutes = max(1, math.ceil(seconds / 60.0))
    d, rem = divmod(minutes, 24 * 60)
    h, m = divmod(rem, 60)
    return f"{d}-{h:02d}:{m:02d}:00"


def batch_script(cfg, plan, input_path: Path, argyro_exe: str) -> str:
    """Text of the batch script for ``input_path``; ``UserError`` (exit 2) without ``[slurm]
    partition``, or with ``slurm.ranks`` below a ``[parallel]`` value."""
    s = cfg.slurm
    if s is None or s.partition is None:
        raise UserError("--sbatch needs the Slurm settings of the batch script", [
            "slurm.partition: missing; add a [slurm] section with partition = \"<name>\" (sinfo lists the "
            "partitions; account, ranks, time_limit, setup, sbatch_options are optional, see docs/cluster.md)"])
    needed = max(v for v in cfg.parallel.model_dump().values() if isinstance(v, int))
    widest = busy_ranks(plan)
    ranks = s.ranks if s.ranks is not None else max(widest, needed)
    if ranks < needed:
        key = max((k for k, v in cfg.parallel.model_dump().items() if v == needed))
        raise UserError("[slurm] and [parallel] disagree", [
            f"slurm.ranks = {ranks} is below parallel.{key} = {needed}; allowed: slurm.ranks >= {needed} "
            "(or a smaller [parallel] value)"])
    est_s = estimated_wall_s(plan, ranks)
    time_limit = s.time_limit or slurm_time(max(s.time_factor * est_s, 60.0 * s.min_time_minutes))
    ntasks = ranks + s.reference_tasks
    job = "".join(c if c.isalnum() or c in "-_." else "_" for c in cfg.run.name) or "argyro-run"
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={job}",
             f"#SBATCH --partition={s.partition}"]
    if s.account:
        lines.append(f"#SBATCH --account={s.account}")
    lines += [f"#SBATCH --ntasks={ntasks}",
              f"#SBATCH --cpus-per-task={s.cpus_per_rank}",
              f"#SBATCH --time={time_limit}",
              f"#SBATCH --chdir={input_path.parent}",      # the job's output next to the input
              f"#SBATCH --output={job}-%j.out"]
    lines += [f"#SBATCH {o}" for o in s.sbatch_options]
    lines += ["",
              f"# written by 'argyro-run plan --sbatch' for {input_path}",
              f"# plan: {len(plan.tasks)} tasks, about {plan.total_cost_s():.0f} s of work; at most {widest} rank(s) "
              f"busy at once; estimated wall time on {ranks} rank(s): {est_s:.0f} s",
              "set -euo pipefail",
              f"cd {shlex.quote(str(input_path.parent))}",
              f"export OMP_NUM_THREADS={s.cpus_per_rank}"]
    lines += s.setup
    exact = " --exact" if s.reference_tasks else ""
    lines.append(f"srun --mpi=pmi2{exact} -n {ranks} -c {s.cpus_per_rank} {shlex.quote(argyro_exe)} "
                 f"{shlex.quote(str(input_path))}")
    return "\n".join(lines) + "\n"
