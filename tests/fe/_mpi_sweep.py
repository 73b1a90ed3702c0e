"""The mesh + fe_sweep task chain of test_sweep.py on a 4-grain Voronoi layer mesh; run under
``mpiexec -n N python -m tests.fe._mpi_sweep WORKDIR`` (from the repository root) it prints the
effective diffusivities (``DEFF`` and the values) on rank 0, for the 1-rank / 2-rank comparison."""

from __future__ import annotations

import sys
from pathlib import Path

from argyro_run._stack import MPI
from argyro_run.fe.tasks import run_fe_sweep
from argyro_run.microstructure.tasks import run_mesh

MICRO = {"kind": "laminate", "gb_model": "layer", "n_grains": 2, "gb_thickness_nm": 1.0, "dimension": 2, "seed": 0,
         "lloyd_iterations": 0, "mesh_size_fraction": 0.25, "mesh_size_gb_fraction": 0.5}
BULK = {"D0_m2_per_s": 1e-7, "Ea_eV": 0.35}
GB = {"D0_m2_per_s": 1e-8, "Ea_eV": 0.20}


def fe_params(fe: dict, sources: dict | None = None, grain_size_nm: float = 10.0) -> dict:
    """fe_sweep parameters of one case on the mesh ``microstructure/d10nm``; kinds given in ``fe``
    are input laws, the others come from ``sources`` (see argyro_run/fe/cases.py)."""
    src = {k: {"source": f"input: fe.{k}", "input": fe[k]} for k in ("bulk", "gb_parallel", "gb_perpendicular")
           if k in fe}
    src.update(sources or {})
    case = {"name": "c", "bulk": None, "gb": [], "gb_fractions": [], "gb_seed": 0, "sources": src,
            "structures_task": None, "mobile_ion": "Li", "charge_e": 1}
    return {"fe": fe, "case": case, "grain_sizes_nm": [grain_size_nm], "gb_thickness_nm": MICRO["gb_thickness_nm"],
            "meshes": [[grain_size_nm, "microstructure/d10nm"]]}


def voronoi_sweep(work):
    comm = MPI.COMM_WORLD
    mres = run_mesh({"microstructure": dict(MICRO, kind="voronoi", n_grains=4, lloyd_iterations=1, seed=2),
                     "grain_size_nm": 10.0}, {}, comm, work / "m")
    fe = {"temperatures_K": [300.0, 600.0], "bulk": BULK, "gb_parallel": GB,
          "gb_perpendicular": {"D0_m2_per_s": 1e-9, "Ea_eV": 0.5}, "element_degree": 2, "solver_rtol": 1e-12}
    return run_fe_sweep(fe_params(fe), {"microstructure/d10nm": mres}, comm, work)


if __name__ == "__main__":
    r = voronoi_sweep(Path(sys.argv[1]))
    if MPI.COMM_WORLD.rank == 0:
        print("DEFF", *r.get("D_eff_m2_per_s").ravel())
