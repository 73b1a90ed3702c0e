"""``Task``: one node of the execution plan (a DAG).

The planner (``argyro_run.plan``) builds tasks from the validated configuration; the runtime
(``argyro_run.runtime``) executes them with ``TASK_KINDS[kind]`` on a sub-communicator of
``ranks`` ranks and writes the returned ``Result`` below ``archive_group``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any


def content_hash(obj: Any) -> str:
    """Stable hash of JSON-serialisable data (sorted keys), 16 hex digits."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def group_size(task_ranks: int, world_size: int) -> int:
    """Ranks a task of ``task_ranks`` gets in a world of ``world_size`` (the run refuses a
    ``[parallel]`` value above the world size at start; direct callers of ``execute`` get a clamp).
    The runtime's scheduler and the planner's replay of it (``plan.cost.waves``) both use it."""
    return min(max(1, task_ranks), world_size)


@dataclass
class Task:
    id: str                      # unique, human readable, e.g. "md/LPSCl/ordered/T600"
    kind: str                    # key into the runtime's task registry, e.g. "md_run"
    params: dict[str, Any]       # JSON-serialisable inputs of the task function
    deps: list[str] = field(default_factory=list)   # ids of tasks whose results it needs
    ranks: int = 1               # size of the sub-communicator it runs on
    cost_s: float = 1.0          # rough estimate, for scheduling and the plan display
    archive_group: str = ""      # where its Result goes in the archive, e.g. "/md/LPSCl/ordered/T600"
    stage: str = ""              # structures | learning | md | analysis | microstructure | fe
    dynamic: bool = False        # True when the task's work is decided at run time (active learning)
    description: str = ""
    n_atoms: int = 0             # atoms of the structure(s) it simulates (builder geometry); 0: none
    hash: str = ""               # content hash of (kind, params, deps' hashes); set by the planner

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}
