"""Initial training data: rattled and strained copies of each material's cells."""

from __future__ import annotations

import numpy as np


def rattled_and_strained(atoms, n: int, *, rattle_amplitude_A: float = 0.1, strain_amplitude: float = 0.02,
                         seed: int = 0, min_distance_A: float = 0.0, max_tries: int = 100) -> list:
    """``n`` copies of ``atoms`` with Gaussian displacements (std ``rattle_amplitude_A``) and a
    random symmetric strain (components uniform in +-``strain_amplitude``; positions follow the
    cell). Copies with an interatomic distance below ``min_distance_A`` are redrawn. Deterministic
    in ``seed``. Each copy carries ``info['origin']``.
    """
    from ase.geometry import get_distances

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        for _ in range(max_tries):
            a = atoms.copy()
            a.calc = None
            e = rng.uniform(-strain_amplitude, strain_amplitude, size=(3, 3))
            e = 0.5 * (e + e.T)
            if a.pbc.any():
                a.set_cell(a.cell[:] @ (np.eye(3) + e), scale_atoms=True)
            a.positions += rng.normal(scale=rattle_amplitude_A, size=a.positions.shape)
            if min_distance_A > 0 and len(a) > 1:
                _, d = get_distances(a.positions, cell=a.cell, pbc=a.pbc)
                np.fill_diagonal(d, np.inf)
                if d.min() < min_distance_A:
                    continue
            a.info["origin"] = f"rattle{k}"
            out.append(a)
            break
        else:
            raise ValueError(f"could not draw a rattled copy with all distances >= {min_distance_A} A; "
                             "lower active_learning.rattle_amplitude_A")
    return out


def reference_md(atoms, spec, workdir, *, steps: int, temperature_K: float, timestep_fs: float = 1.0,
                 interval: int = 5, seed: int = 0, friction_per_fs: float = 0.01) -> tuple[list, dict]:
    """Short Langevin MD of ``atoms`` with the reference calculator itself (a worker subprocess,
    like every reference calculation: its own directory, a timeout of ``spec.timeout_s`` per
    step, no MPI). Returns the frames at steps ``interval, 2 interval, ...`` labelled with the
    reference energy, forces and stress, and ``{"ok", "frames", "steps", "wall_s", "error"}``.
    A failure (SCF, crash, timeout) keeps the frames finished before it and is reported, never
    raised."""
    import json
    import subprocess
    import sys
    import time
    from dataclasses import asdict
    from pathlib import Path

    from ase.io import read, write

    from argyro_run.learning.reference import _clean_env

    job = Path(workdir)
    job.mkdir(parents=True, exist_ok=True)
    for f in ("frames.extxyz", "status.json"):
        (job / f).unlink(missing_ok=True)
    a = atoms.copy()
    a.calc = None
    for key in list(a.arrays):
        if key not in ("numbers", "positions"):
            del a.arrays[key]
    a.info = {}
    write(job / "in.extxyz", a, format="extxyz", parallel=False)
    (job / "job.json").write_text(json.dumps({"spec": asdict(spec), "md": {
        "steps": int(steps), "temperature_K": float(temperature_K), "timestep_fs": float(timestep_fs),
        "interval": int(interval), "seed": int(seed), "friction_per_fs": float(friction_per_fs)}}))
    t0 = time.perf_counter()
    limit = float(spec.timeout_s) * (int(steps) + 2)
    with open(job / "worker.log", "a") as log_f:
        proc = subprocess.Popen([sys.executable, "-m", "argyro_run.learning._md_worker", str(job)], stdout=log_f,
                                stderr=subprocess.STDOUT, env=_clean_env(), cwd=job, start_new_session=True)
        timed_out = False
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            timed_out = True
    if (job / "status.json").exists():
        status = json.loads((job / "status.json").read_text())
    elif timed_out:
        status = {"ok": False, "error": f"timeout after {limit:g} s"}
    else:
        tail = (job / "worker.log").read_text()[-800:].strip()
        status = {"ok": False, "error": f"worker exited with code {proc.returncode}: {tail}"}
    frames = read(job / "frames.extxyz", index=":", format="extxyz") if (job / "frames.extxyz").exists() else []
    status.setdefault("frames", len(frames))
    status["wall_s"] = time.perf_counter() - t0
    return frames, status
