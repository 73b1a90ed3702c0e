"""FE with GBs as thin interfaces: (a) the Li6PS5Cl template's FE part, (b) a 100-grain 3-D polycrystal.

Usage:
  .venv/bin/mpiexec -n R .venv/bin/python benchmarks/fe_interface.py template
  .venv/bin/mpiexec -n R .venv/bin/python benchmarks/fe_interface.py large [mesh_size_fraction]

(a) `template`: 3-D periodic Voronoi, 16 grains (seed 0, 2 Lloyd steps, mesh_size_fraction 0.2),
    ONE interface mesh (meshing included), then D_eff tensors for 7 grain sizes 10 nm .. 10 um x
    3 temperatures (250, 300, 350 K) x 2 cases (GB fast along / slow across; GB slow both ways),
    delta = 1 nm. Target <= 120 s on 2 cores.
(b) `large`: 3-D periodic Voronoi, 100 grains, the mesh size giving ~1M DOF (default 0.062);
    one D_eff tensor (3 load cases) at d = 100 nm. Target <= 60 s per load case.
Prints wall and CPU seconds (rank 0) of meshing, solver set-up and the solves, DOFs, CG iterations.
"""

from __future__ import annotations

import pathlib
import resource
import sys
import tempfile
import time

import numpy as np

from argyro_run._stack import MPI
from argyro_run.fe.polycrystal import PolycrystalSolver
from argyro_run.fe.tasks import arrhenius_D
from argyro_run.microstructure.tasks import run_mesh

COMM = MPI.COMM_WORLD


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _say(*a):
    if COMM.rank == 0:
        print(*a, flush=True)


def _timed(fn):
    COMM.Barrier()
    t, c = time.perf_counter(), _cpu()
    out = fn()
    COMM.Barrier()
    return out, time.perf_counter() - t, _cpu() - c


CASES = {  # (D0 m2/s, Ea eV) for bulk, GB parallel, GB perpendicular
    "gb_fast_along": ((4.3e-6, 0.47), (2.6e-7, 0.28), (1.1e-9, 0.40)),
    "gb_slow": ((4.3e-6, 0.35), (1.0e-7, 0.45), (1.0e-8, 0.50)),
}


def template():
    micro = {"kind": "voronoi", "n_grains": 16, "dimension": 3, "seed": 0, "lloyd_iterations": 2,
             "mesh_size_fraction": 0.2, "gb_thickness_nm": 1.0}
    work = pathlib.Path(COMM.bcast(tempfile.mkdtemp(prefix="fe_interface_") if COMM.rank == 0 else None))
    t_all = time.perf_counter()
    res, tm, cm = _timed(lambda: run_mesh({"microstructure": micro}, {}, COMM, work))
    S, ts, cs = _timed(lambda: PolycrystalSolver(res, COMM))
    _say(f"ranks={COMM.size} mesh: {res.get_attrs('')['n_cells']} cells, wall {tm:.2f} s cpu {cm:.2f} s; "
         f"solver set-up: dofs {S.n_dofs}, wall {ts:.2f} s cpu {cs:.2f} s")
    T = np.array([250.0, 300.0, 350.0])
    sizes = [10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]
    tsolve = csolve = 0.0
    its = []
    for name, (b, p, n) in CASES.items():
        Db, Dp, Dn = (arrhenius_D(*x, T) for x in (b, p, n))
        for d in sizes:
            for i in range(len(T)):
                D, t, c = _timed(lambda: S.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=Db[i],
                                                 D_gb_parallel=Dp[i], D_gb_perpendicular=Dn[i]))
                tsolve += t
                csolve += c
                its.append(S.last_info.iterations)
            _say(f"  {name} d={d:g} nm: D_eff/D_b(350 K) diag {np.round(np.diag(D) / Db[-1], 5).tolist()}")
    total = time.perf_counter() - t_all
    _say(f"template FE part: {len(CASES) * len(sizes) * len(T)} D_eff tensors, solves wall {tsolve:.2f} s "
         f"cpu {csolve:.2f} s; CG iterations per load case {min(map(min, its))}..{max(map(max, its))}; "
         f"TOTAL wall {total:.2f} s (target <= 120 s)")


def large(h: float):
    micro = {"kind": "voronoi", "n_grains": 100, "dimension": 3, "seed": 0, "lloyd_iterations": 2,
             "mesh_size_fraction": h, "gb_thickness_nm": 1.0}
    work = pathlib.Path(COMM.bcast(tempfile.mkdtemp(prefix="fe_interface_large_") if COMM.rank == 0 else None))
    res, tm, cm = _timed(lambda: run_mesh({"microstructure": micro}, {}, COMM, work))
    S, ts, cs = _timed(lambda: PolycrystalSolver(res, COMM))
    _say(f"ranks={COMM.size} 100 grains h={h}: {res.get_attrs('')['n_cells']} cells, dofs {S.n_dofs}; mesh wall "
         f"{tm:.1f} s cpu {cm:.1f} s; solver set-up wall {ts:.1f} s cpu {cs:.1f} s")
    for par, perp in ((10.0, 0.1), (0.5, 3.0)):
        D, t, c = _timed(lambda: S.D_eff(grain_size_nm=100.0, gb_thickness_nm=1.0, D_bulk=1.0,
                                         D_gb_parallel=par, D_gb_perpendicular=perp))
        info = S.last_info
        _say(f"  D_par={par} D_perp={perp}: D_eff diag {np.round(np.diag(D), 5).tolist()}; wall {t:.1f} s "
             f"(operator+GAMG {info.setup_s:.1f} s, 3 solves {info.solve_s:.1f} s) cpu {c:.1f} s; per load case "
             f"{t / 3:.1f} s wall (target <= 60 s); CG its {info.iterations}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "template"
    if what == "template":
        template()
    else:
        large(float(sys.argv[2]) if len(sys.argv) > 2 else 0.062)
