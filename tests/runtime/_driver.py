"""Test driver: ``python _driver.py spec.json archive.h5 workdir [on_error]`` under mpiexec.

spec.json: list of {"id", "kind", "params", "deps", "ranks"}; kinds are the test-only functions
below (injected with ``execute(..., registry=...)``). Prints the RunStats as JSON on rank 0.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from argyro_run._stack import MPI
from argyro_run.plan.build import Plan
from argyro_run.plan.task import Task, content_hash
from argyro_run.results import Result
from argyro_run.runtime import execute


def _log_call(params, comm):
    if comm.rank == 0:
        with open(Path(params["input_dir"]) / "calls.txt", "a") as fh:
            fh.write(params["tag"] + "\n")


def run_rand(params, deps, comm, workdir):
    """Random vector from the task seed, split over the group's ranks and gathered (group-size independent)."""
    _log_call(params, comm)
    n = params["n"]
    full = np.random.default_rng(params["seed"]).normal(size=n)
    parts = np.array_split(np.arange(n), comm.size)
    mine = full[parts[comm.rank]] * 2.0
    x = np.concatenate(comm.allgather(mine))
    for d in sorted(deps):
        x = x + deps[d].get("x")
    time.sleep(params.get("sleep_s", 0.0))
    r = Result()
    r.add("x", x, "1", note="test")
    r.add("label", f"task {params['tag']}", "")
    r.add("names", np.asarray(["a", "bb"], dtype=object), "")
    r.set_attrs("", group_size_independent=True, meta={"seed": params["seed"]})
    return r


def run_fail(params, deps, comm, workdir):
    _log_call(params, comm)
    if comm.rank == params["fail_rank"] % comm.size:
        raise ValueError(f"deliberate failure on group rank {comm.rank}")
    r = Result()
    r.add("y", np.ones(3), "1")
    return r


def run_shadow(params, deps, comm, workdir):
    """A Result whose group attribute would be overwritten by the runtime's ``kind``."""
    r = Result()
    r.add("y", np.ones(2), "1")
    r.set_attrs("", kind="mine")
    return r


def run_flagged(params, deps, comm, workdir):
    """``run_rand``, failing while a file ``fail_<tag>`` lies in the input directory."""
    if (Path(params["input_dir"]) / f"fail_{params['tag']}").exists():
        _log_call(params, comm)
        raise ValueError(f"flagged failure of {params['tag']}")
    return run_rand(params, deps, comm, workdir)


# test kinds; "md_run" and "diffusion" borrow the real kinds' names, so that what the runtime reads
# from plan/kinds.py about them (runs_without) applies
REGISTRY = {"rand": run_rand, "fail": run_fail, "shadow": run_shadow, "md_run": run_flagged, "diffusion": run_rand}


def make_plan(spec):
    tasks, hashes = [], {}
    for s in spec:
        deps = sorted(s.get("deps", []))
        h = content_hash({"kind": s["kind"], "params": s["params"], "deps": {d: hashes[d] for d in deps}})
        hashes[s["id"]] = h
        tasks.append(Task(id=s["id"], kind=s["kind"], params=s["params"], deps=deps, ranks=s.get("ranks", 1),
                          archive_group="/" + s["id"], stage="test", hash=h))
    return Plan(tasks)


if __name__ == "__main__":
    spec_path, archive, workdir = sys.argv[1:4]
    on_error = sys.argv[4] if len(sys.argv) > 4 else "stop"
    spec = json.loads(Path(spec_path).read_text())
    stats = execute(make_plan(spec), archive_path=archive, workdir=workdir, registry=REGISTRY,
                    on_error=on_error, input_dir=Path(spec_path).parent,
                    provenance={"run_name": "test", "input_path": spec_path})
    if MPI.COMM_WORLD.rank == 0:
        print("STATS " + json.dumps({"executed": stats.executed, "reused": stats.reused, "failed": stats.failed,
                                     "skipped": stats.skipped, "interrupted": stats.interrupted}), flush=True)
    sys.exit(0 if (MPI.COMM_WORLD.rank != 0 or stats.ok) else 1)
