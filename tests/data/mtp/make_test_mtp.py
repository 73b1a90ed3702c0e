"""Regenerate ``Li6PS5Cl-l08.mtp`` / ``.als`` / ``.cfg``: a small level-8 MTP for Li, P, S, Cl
trained on GFN1-xTB (tblite) data of the 52-atom Li6PS5Cl cell, for MD and analysis tests.

Not a production potential: a few rounds of "MTP MD at high temperature -> label frames with
tblite -> retrain" (a hand-rolled, tiny active learning), so that short MD runs of the cell up to
~900 K stay stable. Run from the repository root::

    .venv/bin/python tests/data/mtp/make_test_mtp.py          (about 10 minutes on 2 cores)

Deterministic for a given stack (seeds fixed). The files it writes are test inputs, not results.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPECIES = ["Li", "P", "S", "Cl"]


def label(images, workdir):
    from ase.calculators.singlepoint import SinglePointCalculator

    from argyro_run.learning.reference import ReferenceSpec, label_structures

    spec = ReferenceSpec(calculator="tblite", method="GFN1-xTB", electronic_temperature_K=300.0)
    out = []
    for a, r in zip(images, label_structures(images, spec, workdir)):
        if not r.ok:
            print("reference failed:", r.error[:200])
            continue
        b = a.copy()
        b.calc = SinglePointCalculator(b, energy=r.energy_eV, forces=r.forces_eV_per_A, stress=r.stress_eV_per_A3)
        out.append(b)
    return out


def hot_frames(mtp, atoms, temperature_K, n_frames, seed, steps_between=40):
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from argyro_run.potentials.calculator import MTPCalculator

    a = atoms.copy()
    a.calc = MTPCalculator(mtp)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(a, temperature_K=temperature_K, rng=rng)
    dyn = Langevin(a, 1.0 * units.fs, temperature_K=temperature_K, friction=0.02, rng=rng)
    frames = []
    for _ in range(n_frames):
        try:
            dyn.run(steps_between)
        except Exception as e:  # noqa: BLE001 - an unstable potential: keep what we have
            print("MD stopped:", e)
            break
        d = a.get_all_distances(mic=True)[np.triu_indices(len(a), 1)]
        if d.min() < 1.2:
            print(f"MD left the physical region (min distance {d.min():.2f} A)")
            break
        b = a.copy()
        b.calc = None
        frames.append(b)
    return frames


def main(out_dir: Path = HERE) -> None:
    from argyro_run.learning.initial import rattled_and_strained
    from argyro_run.potentials.cfg import write_cfg
    from argyro_run.potentials.grades import save_active_set, select_active_set
    from argyro_run.potentials.mtp import init_mtp, write_mtp
    from argyro_run.potentials.train import errors, train
    from argyro_run.structures.argyrodite import argyrodite

    t0 = time.perf_counter()
    work = out_dir / "_work"
    cell = argyrodite("Cl", li_seed=1)
    data = label(rattled_and_strained(cell, 24, rattle_amplitude_A=0.1, strain_amplitude=0.03, seed=1,
                                      min_distance_A=1.5), work)
    mtp = init_mtp(8, SPECIES, max_dist_A=5.0, min_dist_A=1.6, radial_basis_size=8, seed=1)
    mtp, rep = train(mtp, data, max_iterations=150, seed=1)
    print(f"round 0: {len(data)} configurations, train RMSE {rep.train_errors}")
    for rnd, T in enumerate([600.0, 800.0, 1000.0, 1000.0], start=1):
        frames = hot_frames(mtp, cell, T, 10, seed=rnd)
        data += label(frames, work)
        mtp, rep = train(mtp, data, max_iterations=100, seed=rnd)
        print(f"round {rnd} ({T:g} K): {len(frames)} frames, {len(data)} configurations, "
              f"train RMSE {rep.train_errors['rmse_energy_meV_per_atom']:.2f} meV/atom, "
              f"{rep.train_errors['rmse_force_eV_per_A']:.3f} eV/A", flush=True)
    mtp.potential_name = "argyro-run-test-Li6PS5Cl-L08"
    write_mtp(mtp, out_dir / "Li6PS5Cl-l08.mtp")
    save_active_set(out_dir / "Li6PS5Cl-l08.als", select_active_set(mtp, data))
    write_cfg(out_dir / "Li6PS5Cl-l08.cfg", data, species=SPECIES)
    print("final errors:", errors(mtp, data), f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
