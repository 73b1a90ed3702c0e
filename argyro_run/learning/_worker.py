"""Reference worker: ``python -m argyro_run.learning._worker JOBDIR``.

Reads ``job.json`` (spec, indices, threads) and ``in.extxyz``; for structure number ``p`` writes
``out_p.npz`` (energy, forces, stress) then ``out_p.json`` (status, last, atomically), so the
parent can tell finished, failed and in-progress calculations apart and enforce timeouts.
Does not import MPI. A pretrained (torch) reference is loaded once and reused for every
structure of the job, on ``threads`` CPU threads.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

import numpy as np


def _write_json(path: Path, rec: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rec))
    os.replace(tmp, path)


def main(jobdir: str) -> int:
    from ase.io import read

    from argyro_run.learning.reference import FOUNDATION_MODELS, ReferenceSpec, failure_detail, make_calculator

    job = Path(jobdir)
    meta = json.loads((job / "job.json").read_text())
    spec = ReferenceSpec(**meta["spec"])
    threads = int(meta.get("threads", 1))
    reusable = spec.calculator in FOUNDATION_MODELS  # stateless per structure; loading costs seconds
    shared = None
    frames = read(job / "in.extxyz", index=":", format="extxyz")
    for p, atoms in enumerate(frames):
        atoms.calc = None
        for k in ("energy", "forces", "stress", "free_energy"):
            atoms.info.pop(k, None)
        calc_dir = job / f"calc_{p}"
        calc_dir.mkdir(exist_ok=True)
        t0 = time.perf_counter()
        try:
            if reusable:
                shared = shared or make_calculator(spec, calc_dir, threads=threads)
                atoms.calc = shared
            else:
                atoms.calc = make_calculator(spec, calc_dir, threads=threads)
            energy = float(atoms.get_potential_energy())
            forces = np.asarray(atoms.get_forces(), dtype=float)
            stress = None
            if atoms.pbc.all():
                stress = np.asarray(atoms.get_stress(voigt=True), dtype=float)
            if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
                raise RuntimeError("reference returned non-finite energy or forces")
            np.savez(job / f"out_{p}.npz", energy=energy, forces=forces,
                     stress=np.zeros(6) if stress is None else stress, has_stress=stress is not None)
            rec = {"ok": True, "wall_s": time.perf_counter() - t0}
            if reusable:  # the threads torch really used (bound from the task's ranks)
                rec["torch_threads"] = int(sys.modules["torch"].get_num_threads())
            _write_json(job / f"out_{p}.json", rec)
        except Exception as exc:  # recorded; the parent decides about retries
            detail = failure_detail(spec, calc_dir)
            _write_json(job / f"out_{p}.json", {"ok": False, "wall_s": time.perf_counter() - t0,
                                                "error": f"{type(exc).__name__}: {exc}" + (f" ({detail})" if detail else ""),
                                                "traceback": traceback.format_exc()[-2000:]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
