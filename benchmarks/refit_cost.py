"""Cost of one active-learning refit per atom and L-BFGS iteration, by MTP level, for the planner
(``argyro_run/plan/cost.py``, ``AL_REFIT_US_PER_ATOM_ITERATION``).

The training set is what the learning loop refits on: rattled and strained 52-atom Li6PS5Cl cells
and, with ``--gb N``, N rattled copies of the 300-atom Sigma5 (310) bicrystal of two-cell grains,
labelled by the repository's trained level-8 test MTP as a cheap "teacher" (energies, forces,
stresses). Per level, the training starts from the same fresh potential (``init_mtp``) as the
loop's first fit and runs ``potentials.train.train`` with 0 and with ``--iterations`` L-BFGS
iterations; the difference over the iterations and the atoms is the per-iteration cost (the
set-up: moment tables, the linear solve, is left out). Wall and CPU (max over ranks).

With ``--export DIR`` (the files of ``argyro-run mtp export run.h5 -o DIR``) the training set is a
real loop's own (cells, bicrystals, cut-outs with their force weights) and every fit warm-starts from
its exported potential, as the loop's refits do; ``--levels`` is then that potential's level.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/refit_cost.py --levels 6 10 16 --cells 40 --gb 4
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/refit_cost.py --levels 10 --cells 40 --gb 4
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/refit_cost.py --export /tmp/v9exp --iterations 10

Run through ``python`` (not the ``argyro-run`` command) the BLAS thread variables are the caller's:
leave them unset to see what an unpinned rank costs (docs/costs.md, "Threads per rank").
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np

from argyro_run._stack import MPI

REPO = pathlib.Path(__file__).resolve().parents[1]
TEACHER = REPO / "tests" / "data" / "mtp" / "Li6PS5Cl-l08.mtp"


def training_images(n_cells: int, n_gb: int, seed: int = 0) -> list:
    """Rattled (0.1 A) and strained (+-2 %) cells, labelled by the teacher MTP."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from argyro_run.potentials.evaluate import evaluate
    from argyro_run.potentials.mtp import parse_mtp
    from argyro_run.structures.argyrodite import argyrodite
    from argyro_run.structures.gb import csl_bicrystal

    teacher = parse_mtp(TEACHER.read_text())
    rng = np.random.default_rng(seed)
    bases = [argyrodite("Cl", li_seed=k) for k in range(n_cells)]
    if n_gb:
        gb = csl_bicrystal(argyrodite("Cl", li_seed=0), sigma=5, plane=(3, 1, 0), axis=(0, 0, 1),
                           grain_thickness_cells=2.0)
        bases += [gb.copy() for _ in range(n_gb)]
    images = []
    for a in bases:
        a = a.copy()
        a.set_cell(a.cell[:] @ (np.eye(3) + rng.uniform(-0.02, 0.02, (3, 3))), scale_atoms=True)
        a.positions += rng.normal(0, 0.1, a.positions.shape)
        r = evaluate(teacher, a)
        a.calc = SinglePointCalculator(a, energy=r["energy_eV"], forces=r["forces_eV_per_A"],
                                       stress=r["stress_eV_per_A3"])
        images.append(a)
    return images


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, nargs="+", default=[6, 10, 16])
    ap.add_argument("--cells", type=int, default=40, help="rattled 52-atom cells")
    ap.add_argument("--gb", type=int, default=4, help="rattled 300-atom Sigma5 bicrystals")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--export", type=pathlib.Path, default=None,
                    help="folder of 'argyro-run mtp export': its .cfg training set and its .mtp as the warm start")
    args = ap.parse_args()
    from argyro_run.config.potential import PotentialSection
    from argyro_run.potentials.mtp import init_mtp
    from argyro_run.potentials.train import train

    comm = MPI.COMM_WORLD
    warm = None
    if args.export is not None:
        from argyro_run.potentials.cfg import read_training_set
        from argyro_run.potentials.mtp import parse_mtp

        warm = parse_mtp(next(args.export.glob("*.mtp")).read_text())
        images = read_training_set(next(args.export.glob("*.cfg")), list(warm.species))
        levels = [warm.level]
    else:
        images = training_images(args.cells, args.gb) if comm.rank == 0 else None
        images = comm.bcast(images)
        levels = args.levels
    n_atoms = sum(len(a) for a in images)
    s = PotentialSection()                      # the fit weights of [potential] (their defaults)
    for level in levels:
        times = {}
        for its in (0, args.iterations):
            mtp = warm if warm is not None else init_mtp(level, ["Li", "P", "S", "Cl"], max_dist_A=5.0,
                                                          min_dist_A=1.6, radial_basis_size=8, seed=1)
            comm.Barrier()
            t0, c0 = time.perf_counter(), time.process_time()
            _, report = train(mtp, images, energy_weight=s.energy_weight, force_weight=s.force_weight,
                              stress_weight=s.stress_weight, max_iterations=its, seed=1, comm=comm)
            comm.Barrier()
            wall, cpu = time.perf_counter() - t0, comm.allreduce(time.process_time() - c0, op=MPI.MAX)
            times[its] = (wall, cpu, report.iterations, report.evaluations)
        done = max(times[args.iterations][2], 1)
        per = done * n_atoms * 1e-6
        w, c = ((times[args.iterations][i] - times[0][i]) / per for i in (0, 1))
        if comm.rank == 0:
            print(f"level {level}: {len(images)} images, {n_atoms} atoms, ranks {comm.size}, "
                  f"{'warm start from ' + str(args.export) if warm is not None else 'fresh potential'}: {w:.0f} us "
                  f"per atom and L-BFGS iteration wall, {c:.0f} CPU (max over ranks); set-up {times[0][0]:.1f} s "
                  f"wall; {done} iterations {times[args.iterations][0]:.1f} s with "
                  f"{(times[args.iterations][3] - times[0][3]) / done:.2f} evaluations each", flush=True)


if __name__ == "__main__":
    main()
