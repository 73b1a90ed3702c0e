"""MTP MD cost per atom and step for the planner's cost model (``argyro_run/plan/cost.py``):
the LAMMPS plugin on Li6PS5Cl supercells of a chosen repeat and MTP level, CPU time (max over
ranks) and wall time per atom and step. Reuses ``benchmarks/mtp_speed.py`` (same random-coefficient
potential of the generated level basis, NVE from the ideal cell).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/md_cost.py --level 16 --repeat 2 2 2 --steps 200
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/md_cost.py --level 16 --repeat 2 2 2 --steps 200
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from mtp_speed import MPI, bench_lammps, write_level_mtp  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", type=int, default=16)
    ap.add_argument("--repeat", type=int, nargs=3, default=[2, 2, 2])
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    from argyro_run.structures import argyrodite, make_supercell

    comm = MPI.COMM_WORLD
    atoms = make_supercell(argyrodite("Cl", li_seed=0), tuple(args.repeat))
    n = len(atoms)
    with tempfile.TemporaryDirectory() as tmp:
        pot = pathlib.Path(tmp) / "pot.mtp"
        if comm.rank == 0:
            write_level_mtp(pot, args.level)
        pot = pathlib.Path(comm.bcast(str(pot)))
        comm.Barrier()
        _, dt, cpu = bench_lammps(pot, atoms, args.steps, comm)
    if comm.rank == 0:
        print(f"level {args.level}, {n} atoms, ranks {comm.size}: {cpu / args.steps / n * 1e6:.2f} us/atom/step CPU "
              f"(max over ranks), {dt / args.steps / n * 1e6:.2f} wall, {args.steps} steps")


if __name__ == "__main__":
    main()
