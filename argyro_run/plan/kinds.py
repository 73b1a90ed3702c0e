"""Task kind -> ``"module:function"`` of the function the runtime calls (see docs/architecture.md)."""

from __future__ import annotations

TASK_KINDS: dict[str, str] = {
    "build_structures": "argyro_run.structures.tasks:run_build_structures",
    "load_potential": "argyro_run.potentials.tasks:run_load_potential",
    "initial_data": "argyro_run.learning.tasks:run_initial_data",
    "active_learning": "argyro_run.learning.tasks:run_active_learning",
    "md_run": "argyro_run.md.tasks:run_md_run",
    "diffusion": "argyro_run.analysis.tasks:run_diffusion",
    "arrhenius": "argyro_run.analysis.tasks:run_arrhenius",
    "mesh": "argyro_run.microstructure.tasks:run_mesh",
    "fe_sweep": "argyro_run.fe.tasks:run_fe_sweep",
    "summary": "argyro_run.runtime.tasks:run_summary",
}

STAGE_OF_KIND: dict[str, str] = {
    "build_structures": "structures", "load_potential": "learning", "initial_data": "learning",
    "active_learning": "learning", "md_run": "md", "diffusion": "analysis", "arrhenius": "analysis",
    "mesh": "microstructure", "fe_sweep": "fe", "summary": "runtime",
}
