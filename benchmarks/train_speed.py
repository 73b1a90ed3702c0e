"""Training speed: argyro-run's MTP trainer vs motep on the same data (issue 6).

Data: rattled (0.1 A) and strained (+-2 %) Li6PS5Cl 52-atom cells labelled with tblite
GFN1-xTB (``argyro_run.learning.reference.label_structures``, cached), 24 for training and
8 for testing, written once to ``--data-dir`` as extxyz.  Both trainers start from the same
untrained level-10 potential (``init_mtp``, seed 0) and are scored with the same error function
(``argyro_run.potentials.train.errors``) on the 8 test cells.

  .venv/bin/python benchmarks/train_speed.py [--data-dir DIR] [--iterations N] [--skip-motep]
      [--argyro-iterations N1 N2 ...]
  .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/train_speed.py --argyro-iterations 150   (argyro-run only)
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_DIR = Path(os.environ.get("ARGYRO_BENCH_DIR", "/tmp/argyro-run-bench/train_speed"))
N_TRAIN, N_TEST = 24, 8


def make_data(data_dir: Path) -> tuple[list, list]:
    """Labelled training and test cells (built and labelled on first use, then read back)."""
    import ase.io

    train_file, test_file = data_dir / "train.extxyz", data_dir / "test.extxyz"
    if train_file.exists() and test_file.exists():
        return ase.io.read(train_file, ":"), ase.io.read(test_file, ":")
    from argyro_run.learning.dataset import labelled
    from argyro_run.learning.initial import rattled_and_strained
    from argyro_run.learning.reference import ReferenceSpec, label_structures
    from argyro_run.structures import argyrodite

    data_dir.mkdir(parents=True, exist_ok=True)
    cells = rattled_and_strained(argyrodite("Cl", li_seed=0), N_TRAIN + N_TEST, rattle_amplitude_A=0.1,
                                 strain_amplitude=0.02, seed=7, min_distance_A=1.6)
    t0 = time.perf_counter()
    outcomes = label_structures(cells, ReferenceSpec(), data_dir / "work", cache_dir=data_dir / "cache")
    print(f"labelled {len(cells)} cells with GFN1-xTB in {time.perf_counter() - t0:.0f} s")
    bad = [i for i, o in enumerate(outcomes) if not o.ok]
    if bad:
        raise RuntimeError(f"reference failed for cells {bad}")
    images = [labelled(a, o) for a, o in zip(cells, outcomes)]
    ase.io.write(train_file, images[:N_TRAIN])
    ase.io.write(test_file, images[N_TRAIN:])
    return images[:N_TRAIN], images[N_TRAIN:]


FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "mlip"   # MLIP reference files (tests/data/mlip/README.md)
TEMPLATE = FIXTURES / "crystals" / "noncubic" / "10" / "initial.mtp"     # MLIP's level-10 template
SPECIES = ["Li", "P", "S", "Cl"]


def initial_motep(seed: int):
    """motep's MTPData of the level-10 template for Li, P, S, Cl with motep's own random start."""
    from ase.data import atomic_numbers
    from motep.io.mlip.mtp import read_mtp

    data = read_mtp(str(TEMPLATE))
    data.species = [atomic_numbers[s] for s in SPECIES]
    data.initialize(np.random.default_rng(seed))
    return data


def as_argyro(data):
    """The same potential as argyro-run's MTP (read back from motep's .mtp file), or, while
    ``argyro_run.potentials.mtp`` is absent, a view of motep's arrays with the attribute names
    the trainer reads."""
    import tempfile
    from types import SimpleNamespace

    try:
        from argyro_run.potentials.mtp import read_mtp
    except ImportError:
        rb = data.radial_basis
        return SimpleNamespace(species=list(SPECIES), species_coeffs=np.array(data.species_coeffs, float),
                               moment_coeffs=np.array(data.moment_coeffs, float),
                               radial_coeffs=np.array(data.radial_coeffs, float),
                               radial_funcs_count=data.radial_funcs_count, radial_basis_size=rb.size,
                               min_dist_A=rb.min, max_dist_A=rb.max, scaling=data.scaling,
                               alpha_index_basic=data.alpha_index_basic, alpha_index_times=data.alpha_index_times,
                               alpha_moment_mapping=data.alpha_moment_mapping,
                               alpha_moments_count=data.alpha_moments_count)
    from motep.io.mlip.mtp import write_mtp

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.mtp"
        write_mtp(str(path), data)
        mtp = read_mtp(path)
    mtp.species = list(SPECIES)
    return mtp


def run_motep(data, train_set, iterations: int) -> tuple[object, float]:
    import copy

    from motep.train.setting import _convert_steps
    from motep.train.trainer import Trainer

    data = copy.deepcopy(data)
    steps = _convert_steps(["LLS", {"method": "L-BFGS-B", "kwargs": {"options": {"maxiter": iterations}}}, "LLS"])
    images = [a.copy() for a in train_set]
    for a, b in zip(images, train_set):
        a.calc = copy.deepcopy(b.calc)
    import tempfile

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:   # motep writes intermediate_<k>.mtp into the cwd
        os.chdir(tmp)
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            Trainer(data, seed=1, engine="cext", steps=steps).train(images)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            os.chdir(cwd)
    return data, wall, cpu


def run_argyro(mtp, train_set, iterations: int, comm=None):
    from argyro_run.potentials.train import train

    t0, c0 = time.perf_counter(), time.process_time()
    new, report = train(mtp, train_set, max_iterations=iterations, comm=comm)
    return new, report, time.perf_counter() - t0, time.process_time() - c0


def _row(name, wall, cpu, errs_train, errs_test, iters):
    return (f"| {name} | {iters} | {wall:.1f} | {cpu:.1f} | {errs_train['rmse_energy_meV_per_atom']:.2f} / "
            f"{errs_train['rmse_force_eV_per_A']:.3f} | {errs_test['rmse_energy_meV_per_atom']:.2f} / "
            f"{errs_test['rmse_force_eV_per_A']:.3f} / {errs_test['rmse_stress_GPa']:.3f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--data-only", action="store_true")
    ap.add_argument("--iterations", type=int, default=150, help="L-BFGS iterations of each trainer")
    ap.add_argument("--argyro-iterations", type=int, nargs="*", default=None,
                    help="iteration counts for argyro-run (default: same as --iterations)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-motep", action="store_true")
    args = ap.parse_args()
    from argyro_run._stack import MPI

    comm = MPI.COMM_WORLD
    if comm.Get_size() > 1 and not (args.data_dir / "test.extxyz").exists():
        raise SystemExit("make the data set with a single process first (--data-only)")
    train_set, test_set = make_data(args.data_dir)
    if args.data_only:
        raise SystemExit(0)
    from argyro_run.potentials.train import errors

    if comm.Get_size() > 1:   # argyro-run only, over all ranks
        mtp0 = as_argyro(initial_motep(args.seed))
        for it in args.argyro_iterations or [args.iterations]:
            comm.Barrier()
            new, report, wall, cpu = run_argyro(mtp0, train_set, it, comm=comm)
            e_train, e_test = errors(new, train_set, comm=comm), errors(new, test_set, comm=comm)
            if comm.Get_rank() == 0:
                print(_row(f"argyro-run, {comm.Get_size()} ranks", wall, cpu, e_train, e_test, report.iterations),
                      flush=True)
        raise SystemExit(0)

    start = initial_motep(args.seed)
    mtp0 = as_argyro(start)
    rows = ["| trainer | L-BFGS iterations | wall s | CPU s (rank 0) | train RMSE meV/atom / eV/A | "
            "test RMSE meV/atom / eV/A / GPa |", "|---|---|---|---|---|---|"]
    for it in args.argyro_iterations or [args.iterations]:
        new, report, wall, cpu = run_argyro(mtp0, train_set, it)
        rows.append(_row("argyro-run", wall, cpu, errors(new, train_set), errors(new, test_set), report.iterations))
        print(rows[-1], flush=True)
    if not args.skip_motep:
        trained, wall_m, cpu_m = run_motep(start, train_set, args.iterations)
        m = as_argyro(trained)
        rows.append(_row("motep (cext)", wall_m, cpu_m, errors(m, train_set), errors(m, test_set), args.iterations))
        print(rows[-1], flush=True)
    print("\n".join(rows))
