"""The task kinds: one table, kind -> what the planner and the runtime need to know about it
(see docs/architecture.md). Nothing else names stages or kind properties."""

from __future__ import annotations

from typing import NamedTuple


class TaskKind(NamedTuple):
    function: str                    # "module:function" the runtime calls (run_<kind> in <stage>/tasks.py)
    stage: str                       # package the kind belongs to (``Task.stage``, the plan display, progress)
    collective_import: bool = False  # importing its module initialises PETSc on COMM_WORLD: every rank
                                     # imports it before the first wave (inside a sub-communicator it would hang)
    prints_text: bool = False        # its Result's ``text`` is printed at the end of a run
    runs_without: tuple[str, ...] = ()  # kinds of dependencies it can do without: with on_error = "continue" it
                                     # runs once its other dependencies are done and at least one of these
                                     # finished; the failed/skipped ones are named in its ``missing_deps`` attr
                                     # (runtime/execute.py), and such a result is never reused on a resume


TASK_KINDS: dict[str, TaskKind] = {
    "build_structures": TaskKind("argyro_run.structures.tasks:run_build_structures", "structures"),
    "load_potential": TaskKind("argyro_run.potentials.tasks:run_load_potential", "learning"),
    "initial_data": TaskKind("argyro_run.learning.tasks:run_initial_data", "learning"),
    "active_learning": TaskKind("argyro_run.learning.tasks:run_active_learning", "learning"),
    "md_anneal": TaskKind("argyro_run.md.tasks:run_md_anneal", "md"),
    "md_run": TaskKind("argyro_run.md.tasks:run_md_run", "md"),
    "reference_check": TaskKind("argyro_run.learning.tasks:run_reference_check", "md", runs_without=("md_run",)),
    # an analysis goes on with the temperatures whose MD finished, the fits with the structures analysed
    "diffusion": TaskKind("argyro_run.analysis.tasks:run_diffusion", "analysis", runs_without=("md_run",)),
    "arrhenius": TaskKind("argyro_run.analysis.tasks:run_arrhenius", "analysis", runs_without=("diffusion",)),
    "mesh": TaskKind("argyro_run.microstructure.tasks:run_mesh", "microstructure", collective_import=True),
    "fe_sweep": TaskKind("argyro_run.fe.tasks:run_fe_sweep", "fe", collective_import=True),
    "summary": TaskKind("argyro_run.report.tasks:run_summary", "report", prints_text=True,
                        runs_without=("active_learning", "diffusion", "arrhenius", "fe_sweep")),
}
