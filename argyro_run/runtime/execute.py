"""Scheduler: world rank 0 assigns ready tasks to disjoint groups of ranks, wave by wave.

Each wave: rank 0 picks ready tasks (all dependencies done) in plan order and gives each a group
of ``min(task.ranks, world size)`` ranks until the ranks run out; the assignment is scattered,
every rank calls ``comm.Split`` with its group colour (idle ranks pass ``MPI.UNDEFINED``), every
member calls ``fn(params, deps, subcomm, workdir)``; the group agrees on success (``allgather``
of the per-rank error), its rank 0 sends ``(status, Result, error)`` to world rank 0, the only
writer of the archive. Waves make the schedule deadlock-free and independent of timing; task
seeds come from the plan, so results do not depend on the world size.

``params`` passed to a task = the plan's params plus ``input_dir`` (directory of the input file,
for resolving relative paths). ``workdir`` = ``<run workdir>/<task id>``.
"""

from __future__ import annotations

import importlib
import json
import logging
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from argyro_run.plan.kinds import TASK_KINDS
from argyro_run.plan.task import group_size
from argyro_run.results import Result
from argyro_run.runtime import console

log = logging.getLogger(__name__)

_TAG_RESULT = 71


def resolve_function(kind: str, registry: dict[str, Callable] | None = None) -> Callable:
    """The task function of ``kind``: ``registry[kind]`` when a registry is given (tests inject
    their own kinds), else the ``"module:function"`` of ``TASK_KINDS[kind]``."""
    if registry is not None:
        if kind not in registry:
            raise ValueError(f"unknown task kind {kind!r}; known: {', '.join(sorted(registry))}")
        return registry[kind]
    if kind not in TASK_KINDS:
        raise ValueError(f"unknown task kind {kind!r}; known: {', '.join(TASK_KINDS)}")
    mod_name, fn_name = TASK_KINDS[kind].function.split(":")
    return getattr(importlib.import_module(mod_name), fn_name)


def _kind_flag(kind: str, flag: str) -> bool:
    """``TASK_KINDS[kind].<flag>``; False for a kind outside the table (an injected registry's)."""
    return kind in TASK_KINDS and getattr(TASK_KINDS[kind], flag)


def _blocking(t, tasks: dict, state: dict) -> tuple[list[str], set[str]]:
    """(the failed/skipped dependencies that stop ``t``, those it runs without). A task runs without
    failed dependencies of the kinds its kind names in ``runs_without`` (plan/kinds.py) as long as
    at least one dependency of those kinds finished."""
    without = TASK_KINDS[t.kind].runs_without if t.kind in TASK_KINDS else ()
    lost = [d for d in t.deps if state.get(d) in ("failed", "skipped")]
    missing = {d for d in lost if tasks[d].kind in without}
    bad = [d for d in lost if d not in missing]
    optional = [d for d in t.deps if tasks[d].kind in without]
    if missing and not bad and all(d in missing for d in optional):
        bad = sorted(missing)        # nothing of those kinds finished: nothing to run on
    return bad, missing


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _safe(task_id: str) -> str:
    return task_id.replace("/", "__")


def _plan_json(plan, done: set[str], registry) -> str:
    rows = []
    for t in plan.tasks:
        d = t.to_dict()
        if registry is None:
            d["function"] = TASK_KINDS[t.kind].function
        else:
            fn = registry.get(t.kind)
            d["function"] = getattr(fn, "__qualname__", str(fn))
        d["done"] = t.id in done
        rows.append(d)
    return json.dumps({"tasks": rows}, indent=1, sort_keys=True, default=str)


def _idle_record(plan, state: dict, assignment: list, free: list[int]) -> dict:
    """Which world ranks idle in this wave and why (for the rank-0 log)."""
    started = {tid for tid, _ in assignment}
    running = [{"task": tid, "ranks": len(grp), "serial": len(grp) == 1} for tid, grp in assignment]
    waiting = [t for t in plan.tasks if t.id not in state and t.id not in started]
    ready = [t for t in waiting if all(state.get(d) == "done" for d in t.deps)]
    if not waiting:
        reason = "no task left to start"
    elif ready:
        t = ready[0]
        reason = f"ready task {t.id} needs {min(t.ranks, len(free) + sum(r['ranks'] for r in running))} ranks, " \
                 f"only {len(free)} free"
    else:
        blockers = sorted({d for t in waiting for d in t.deps if d in started})
        reason = (f"the {len(waiting)} remaining task(s) wait for the result of running task(s) "
                  f"{', '.join(blockers) or '(earlier waves)'}")
    desc = ", ".join(f"{r['task']} on {r['ranks']} rank(s){' (serial task)' if r['serial'] else ''}" for r in running)
    return {"ranks": list(free), "reason": reason, "running": running, "waiting": len(waiting),
            "message": f"world rank(s) {', '.join(map(str, free))} idle while {desc}: {reason}"}


class _Interrupt:
    """SIGINT/SIGTERM: the first one lets the running tasks finish (their results are written),
    starts nothing new and ends the run with a message; a second one aborts at once (the archive
    stays consistent: it is only ever replaced atomically)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, rank: int):
        self.rank, self.signum, self.old = rank, 0, {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.SIGNALS:
            try:
                self.old[sig] = signal.signal(sig, self._handler)
            except (ValueError, OSError):  # not allowed here (embedded interpreter)
                pass

    def restore(self) -> None:
        for sig, old in self.old.items():
            signal.signal(sig, old)
        self.old = {}

    def _handler(self, signum, frame):
        name = signal.Signals(signum).name
        if self.signum:
            self.restore()
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise SystemExit(128 + signum)
        self.signum = signum
        if self.rank == 0:
            print(f"argyro-run: {name} received: finishing the running task(s), then stopping "
                  f"(send it again to abort now)", file=sys.stderr, flush=True)


@dataclass
class RunStats:
    executed: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)
    summary_text: str = ""
    interrupted: str = ""        # name of the signal that stopped the run early, if any

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped and not self.interrupted


class _JsonLog:
    def __init__(self, path: Path | None):
        self.fh = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = open(path, "a", encoding="utf-8")

    def __call__(self, event: str, **kw):
        rec = {"time": _now(), "event": event, **kw}
        log.info("%s %s", event, json.dumps(kw, default=str))
        if self.fh:
            self.fh.write(json.dumps(rec, default=str) + "\n")
            self.fh.flush()

    def close(self):
        if self.fh:
            self.fh.close()


def _run_member(task_dict, deps, subcomm, workdir: Path, registry, input_dir):
    """Run on every rank of the group; returns (status, result|None, error dict|None)."""
    err = None
    result = None
    t0 = time.perf_counter()
    try:
        fn = resolve_function(task_dict["kind"], registry)
        workdir.mkdir(parents=True, exist_ok=True)
        params = dict(task_dict["params"])
        params["input_dir"] = str(input_dir)
        with console.task(task_dict["id"], subcomm.rank):
            result = fn(params, deps, subcomm, workdir)
        if subcomm.rank == 0 and not isinstance(result, Result):
            raise TypeError(f"task function for {task_dict['kind']!r} returned {type(result).__name__}, not Result")
        if subcomm.rank == 0:
            from argyro_run.archive import RUNTIME_ATTRS

            clash = sorted(set(result.get_attrs("")) & set(RUNTIME_ATTRS))
            if clash:  # they would be overwritten by the task journal's attributes in the archive
                raise ValueError(f"task function for {task_dict['kind']!r} sets group attribute(s) {clash} "
                                 f"reserved for the runtime ({', '.join(RUNTIME_ATTRS)}); rename them")
    except Exception as exc:  # noqa: BLE001 - every failure is reported, never crashes the run
        err = {"rank": subcomm.rank, "message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    errors = subcomm.allgather(err)
    errors = [e for e in errors if e]
    wall = time.perf_counter() - t0
    if errors:
        e = errors[0]
        if len(errors) > 1:
            e = dict(e, message=e["message"] + f" (and {len(errors) - 1} more rank(s) failed)")
        return "failed", None, e, wall
    return "done", result, None, wall


def execute(plan, *, archive_path, workdir, comm=None, registry: dict[str, Callable] | None = None,
            on_error: str = "stop", input_dir=".", provenance: dict[str, Any] | None = None,
            progress: Callable[[str], None] | None = print) -> RunStats:
    """Execute ``plan`` on ``comm`` (default COMM_WORLD); world rank 0 writes ``archive_path``.

    Tasks whose hash is already stored as done in the archive are not run; their results are
    read back when a dependant needs them. Returns ``RunStats`` on every rank (complete on rank 0).
    """
    from argyro_run._stack import MPI

    comm = MPI.COMM_WORLD if comm is None else comm
    rank, size = comm.rank, comm.size
    archive_path, workdir = Path(archive_path), Path(workdir)
    stats = RunStats()
    writer = archive = None
    jlog = _JsonLog(workdir / "argyro-run.log" if rank == 0 else None)
    say = (progress or (lambda s: None)) if rank == 0 else (lambda s: None)
    tasks = {t.id: t for t in plan.tasks}
    results: dict[str, Result] = {}
    state: dict[str, str] = {}
    t_start = time.perf_counter()
    intr = _Interrupt(rank)
    intr.install()
    if size > 1 and any(_kind_flag(t.kind, "collective_import") for t in plan.tasks):
        # importing petsc4py/dolfinx initialises PETSc, which is collective over COMM_WORLD: do it
        # on every rank now, not inside a task that runs on a sub-communicator (that would hang)
        from argyro_run._stack import dolfinx_modules

        dolfinx_modules()
    if rank == 0:
        from argyro_run.archive import ArchiveWriter, done_tasks, open_archive
        from argyro_run.plan.done import reusable

        reuse = reusable(plan, done_tasks(archive_path))
        for t in plan.tasks:
            if t.id in reuse:
                state[t.id] = "done"
                stats.reused.append(t.id)
        writer = ArchiveWriter(archive_path)
        prov = dict(provenance or {})
        prov.update(mpi_size=size, start_time=_now())
        writer.start(provenance=prov, plan_json=_plan_json(plan, set(stats.reused), registry))
        archive = open_archive(archive_path)
        jlog("run_start", tasks=len(plan.tasks), reused=len(stats.reused), mpi_size=size, archive=str(archive_path))
        if stats.reused:
            say(f"{len(stats.reused)}/{len(plan.tasks)} task(s) already in {archive_path}, reused")

    def dep_result(tid):
        if tid not in results:
            results[tid] = archive.result(tid)
        return results[tid]

    stop = False
    while True:
        payload = None
        if rank == 0:
            free = list(range(size))
            assignment = []  # (task_id, ranks)
            pending = [t for t in plan.tasks if t.id not in state]
            if not stop:
                for t in pending:
                    if not free:
                        break
                    bad, missing = _blocking(t, tasks, state)
                    if bad:
                        state[t.id] = "skipped"
                        why = f"dependency {bad[0]} {state[bad[0]]}"
                        stats.skipped[t.id] = why
                        writer.write_task(t, None, status="skipped", wall_s=0.0, finished_at=_now(),
                                          extra_attrs={"skipped_because": why})
                        jlog("task_skipped", task=t.id, reason=why)
                        say(f"skipped  {t.id}: {why}")
                        continue
                    if all(state.get(d) == "done" or d in missing for d in t.deps):
                        n = group_size(t.ranks, size)
                        if n > len(free):
                            if not assignment:
                                raise AssertionError("unreachable: all ranks free but too few")
                            continue
                        if t.ranks > size:
                            jlog("ranks_clamped", task=t.id, wanted=t.ranks, world=size)
                        grp, free = free[:n], free[n:]
                        assignment.append((t.id, grp))
            if free and assignment:
                jlog("idle", **_idle_record(plan, state, assignment, free))
            payload = [None] * size
            for color, (tid, grp) in enumerate(assignment):
                t = tasks[tid]
                deps = {d: dep_result(d) for d in t.deps if state.get(d) == "done"}
                for r in grp:
                    payload[r] = (color, grp[0], t.to_dict(), deps)
            if not assignment:
                payload = ["END"] * size
        mine = comm.scatter(payload, root=0)
        if mine == "END":
            break
        color = MPI.UNDEFINED if mine is None else mine[0]
        sub = comm.Split(color, rank)
        outcome = None
        if mine is not None:
            _, root, tdict, deps = mine
            outcome = _run_member(tdict, deps, sub, workdir / _safe(tdict["id"]), registry, input_dir)
            if sub.rank == 0 and rank != 0:
                comm.send((tdict["id"], outcome), dest=0, tag=_TAG_RESULT)
            sub.Free()
        if rank == 0:
            outs = {}
            if mine is not None:
                outs[mine[2]["id"]] = outcome
            for tid, grp in assignment:
                if grp[0] != 0:
                    got_id, got = comm.recv(source=grp[0], tag=_TAG_RESULT)
                    outs[got_id] = got
            for tid, _ in assignment:
                status, res, err, wall = outs[tid]
                t = tasks[tid]
                state[tid] = status
                stats.wall_s[tid] = wall
                if status == "done":
                    results[tid] = res
                    stats.executed.append(tid)
                    missing = [f"{d} {state[d]}" for d in t.deps if state.get(d) != "done"]
                    writer.write_task(t, res, status="done", wall_s=wall, finished_at=_now(),
                                      extra_attrs={"missing_deps": "; ".join(missing)} if missing else None)
                    jlog("task_done", task=tid, kind=t.kind, wall_s=round(wall, 3), missing_deps=missing)
                    if missing:
                        say(f"partial  {tid}: ran without {'; '.join(missing)}")
                else:
                    stats.failed[tid] = err["message"]
                    writer.write_task(t, None, status="failed", wall_s=wall, finished_at=_now(),
                                      extra_attrs={"error_message": err["message"],
                                                   "error_traceback": err["traceback"]})
                    jlog("task_failed", task=tid, kind=t.kind, rank_in_group=err["rank"],
                         error=err["message"], traceback=err["traceback"])
                    say(f"FAILED   {tid}: {err['message']}")
                    if on_error == "stop":
                        stop = True
                n_fin = sum(1 for s in state.values() if s in ("done", "failed", "skipped"))
                if status == "done":
                    say(f"[{n_fin}/{len(plan.tasks)}] {t.stage} {tid} "
                        f"done in {wall:.2f} s (elapsed {time.perf_counter() - t_start:.1f} s)")
        signum = comm.allreduce(intr.signum, op=MPI.MAX)   # also the end-of-wave barrier
        if signum and rank == 0 and not stats.interrupted:
            stats.interrupted = signal.Signals(signum).name
            stop = True
            jlog("interrupted", signal=stats.interrupted, finished=len(stats.executed))

    if rank == 0:
        not_run = [t.id for t in plan.tasks if t.id not in state]
        for tid in not_run:
            stats.skipped[tid] = (f"run interrupted by {stats.interrupted}" if stats.interrupted
                                  else "run stopped after a failure (on_error='stop')")
        for tid in stats.executed:
            if _kind_flag(tasks[tid].kind, "prints_text") and "text" in results[tid]:
                stats.summary_text = str(results[tid].get("text")[()])
        for tid in stats.reused:   # a resumed run prints the stored summary again
            if _kind_flag(tasks[tid].kind, "prints_text") and not stats.summary_text:
                try:
                    stats.summary_text = str(open_archive(archive_path).result(tid).get("text")[()])
                except (KeyError, OSError):
                    pass
        writer.finish(end_time=_now(), task_wall_s=stats.wall_s,
                      status="ok" if stats.ok else ("interrupted" if stats.interrupted else "failed"))
        jlog("run_end", executed=len(stats.executed), reused=len(stats.reused), failed=list(stats.failed),
             skipped=list(stats.skipped), elapsed_s=round(time.perf_counter() - t_start, 3))
        if stats.summary_text:
            say(stats.summary_text)
        say(f"run finished: {len(stats.executed)} executed, {len(stats.reused)} reused, "
            f"{len(stats.failed)} failed, {len(stats.skipped)} skipped; archive {archive_path}")
        if stats.interrupted:
            say(f"interrupted by {stats.interrupted}: every finished task is in {archive_path}; "
                "run the same command again to continue")
    intr.restore()
    jlog.close()
    return stats
