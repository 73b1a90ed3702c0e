"""Issue 19 check: the learning stage of a production template (structures, initial data and the
first level of the ladder) run to completion on this machine, against the planner's estimate.

    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/learning_check.py inputs/Li6PS5Cl.toml \
        --set 'active_learning.levels[0].exploration_ps=2' --workdir /tmp/learning-check

Runs the real task functions through the runtime (``execute``) on the sub-plan of those tasks and
prints, per task, the planner's time on this many ranks (``cost.schedule``) and the recorded wall
time, and both totals.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    from argyro_run._stack import MPI
    from argyro_run.archive import open_archive
    from argyro_run.config import load_config
    from argyro_run.plan import build_plan, cost
    from argyro_run.plan.build import Plan
    from argyro_run.runtime.execute import execute

    comm = MPI.COMM_WORLD
    cfg = load_config(args.input, overrides=args.set)
    plan = build_plan(cfg)
    first = f"learning/level{cfg.active_learning.levels[0].level}"
    keep = [t for t in plan.tasks if t.stage == "structures" or t.id in ("learning/initial_data", first)]
    sub = Plan(keep)
    est = cost.schedule(sub.tasks, comm.size)
    wd = Path(args.workdir)
    t0 = time.perf_counter()
    stats = execute(sub, archive_path=wd / "check.h5", workdir=wd / "work", comm=comm, on_error="stop",
                    input_dir=cfg.base_dir, provenance={"run_name": "learning-check", "overrides_json": json.dumps(args.set)})
    wall = time.perf_counter() - t0
    if comm.rank == 0:
        a = open_archive(wd / "check.h5")
        print(f"ranks {comm.size}, overrides {args.set}, ok {stats.ok}")
        for t in sub.tasks:
            info = a.tasks.get(t.id, {})
            print(f"  {t.id:28s} planned {est['task_wall_s'][t.id]:8.1f} s  recorded "
                  f"{float(info.get('wall_s', float('nan'))):8.1f} s"
                  f"  {info.get('status')}")
        print(f"  total: planned {est['wall_s']:.1f} s (wave schedule on {comm.size} ranks), run {wall:.1f} s wall, "
              f"ratio run / planned {wall / est['wall_s']:.2f}")
        lv = a.result(first)
        attrs = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in lv.get_attrs('').items()}
        print(f"  {first}: {json.dumps(attrs)[:600]}")


if __name__ == "__main__":
    main()
