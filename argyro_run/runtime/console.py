"""What a run prints on stderr: the tasks' log messages (loggers under ``argyro_run``), once each.

The runtime prints its own progress lines on stdout (``[3/29] learning ... done``) and writes every
event to the JSON journal; this module owns the *tasks'* messages: the progress of long tasks at INFO
(learning iterations, explorations, MD runs, meshes, FE solves) and their warnings. A task running on
several ranks executes the same code on each, so only the task's rank 0 (its *lead*) prints; outside
tasks, world rank 0. Errors print from every rank. Each line carries the time and the task's id::

    01:20:31 learning/level10: level 10 iteration 3: 5 need selection, 12 added (12 local), ...
"""

from __future__ import annotations

import logging
import sys
import threading
from contextlib import contextmanager

# loggers whose INFO the console does not need: the runtime prints its own progress lines (and
# journals every event), the trainer logs every refit's optimiser steps
QUIET_LOGGERS = ("argyro_run.runtime", "argyro_run.potentials.train")

_state = threading.local()        # the running task: its id and whether this rank leads it
_world_lead = True                # outside tasks: world rank 0


class _LeadOnly(logging.Filter):
    """Passes the lead rank's records (every rank's errors) and tags them with the task's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = getattr(_state, "task", "")
        record.task_prefix = f"{task}: " if task else ""
        lead = getattr(_state, "lead", None)
        return record.levelno >= logging.ERROR or (_world_lead if lead is None else lead)


def setup_logging(world_rank: int) -> None:
    """Install the console handler on the ``argyro_run`` logger (once per process): INFO and up,
    printed by the lead rank of the running task (world rank ``0`` outside tasks). Records still
    propagate to the root logger's handlers (none in the CLI, pytest's in the tests)."""
    global _world_lead
    _world_lead = int(world_rank) == 0
    top = logging.getLogger("argyro_run")
    if any(isinstance(f, _LeadOnly) for h in top.handlers for f in h.filters):
        return
    h = logging.StreamHandler(sys.stderr)
    h.addFilter(_LeadOnly())
    h.setFormatter(logging.Formatter("%(asctime)s %(task_prefix)s%(message)s", "%H:%M:%S"))
    top.addHandler(h)
    top.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def task(task_id: str, rank_in_task: int):
    """Messages logged inside: from ``task_id``, printed by its rank 0 only."""
    old = (getattr(_state, "task", ""), getattr(_state, "lead", None))
    _state.task, _state.lead = task_id, int(rank_in_task) == 0
    try:
        yield
    finally:
        _state.task, _state.lead = old
