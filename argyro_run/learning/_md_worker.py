"""Reference-MD worker: ``python -m argyro_run.learning._md_worker JOBDIR``.

Reads ``job.json`` (spec, md settings) and ``in.extxyz`` (one structure); runs Langevin NVT MD
with the reference calculator and writes every ``interval``-th frame (after the start) with its
reference energy, forces and stress to ``frames.extxyz``, rewritten atomically after each kept
frame, and ``status.json`` at the end (ok, error). Does not import MPI.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(jobdir: str) -> int:
    from ase import units
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import read, write
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

    from argyro_run.learning.reference import ReferenceSpec, make_calculator

    job = Path(jobdir)
    meta = json.loads((job / "job.json").read_text())
    spec = ReferenceSpec(**meta["spec"])
    md = meta["md"]
    atoms = read(job / "in.extxyz", format="extxyz")
    atoms.calc = None
    frames: list = []
    t0 = time.perf_counter()
    try:
        calc_dir = job / "calc"
        calc_dir.mkdir(exist_ok=True)
        atoms.calc = make_calculator(spec, calc_dir)
        rng = np.random.default_rng(int(md["seed"]))
        T = float(md["temperature_K"])
        MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=rng)
        Stationary(atoms)
        dyn = Langevin(atoms, float(md["timestep_fs"]) * units.fs, temperature_K=T,
                       friction=float(md.get("friction_per_fs", 0.01)) / units.fs, rng=rng)
        interval = int(md["interval"])

        def keep():
            if dyn.nsteps == 0:
                return
            e = float(atoms.get_potential_energy())
            f = np.asarray(atoms.get_forces(), dtype=float)
            if not (np.isfinite(e) and np.all(np.isfinite(f))):
                raise RuntimeError(f"reference returned non-finite energy or forces at step {dyn.nsteps}")
            kw = {"energy": e, "forces": f}
            if atoms.pbc.all():
                kw["stress"] = np.asarray(atoms.get_stress(voigt=True), dtype=float)
            b = atoms.copy()
            b.calc = SinglePointCalculator(b, **kw)
            b.info["md_step"] = int(dyn.nsteps)
            frames.append(b)
            write(job / "frames.tmp.extxyz", frames, format="extxyz")
            os.replace(job / "frames.tmp.extxyz", job / "frames.extxyz")

        dyn.attach(keep, interval=interval)
        dyn.run(int(md["steps"]))
        status = {"ok": True, "frames": len(frames), "steps": int(dyn.nsteps), "wall_s": time.perf_counter() - t0}
    except Exception as exc:  # recorded; the frames written so far are kept by the parent
        status = {"ok": False, "frames": len(frames), "wall_s": time.perf_counter() - t0,
                  "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    _write_atomic(job / "status.json", json.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
