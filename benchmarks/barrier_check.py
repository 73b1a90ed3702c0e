"""Whose barrier is it? The ordered Li6PS5Cl intercage Li jump with a learned MTP and with its
reference, GFN1-xTB, on the same path (issue 16, claim a: the ordered phase diffused ~100x too fast).

Usage::

    python benchmarks/barrier_check.py ARCHIVE WORK [--level 10] [--images 5] [--kind intercage]

ARCHIVE is a validation archive holding ``learning/level<L>`` (e.g. runs/validation-LPSCl-v3/
validation-LPSCl.h5); WORK a scratch folder (``WORK/barrier_<kind>.json`` collects the results,
every finished step is kept and reused).

The jump: a vacancy-mediated Li jump in the 52-atom ordered cell (one Li removed; the 51-atom cell
has charge -1 for GFN1-xTB, i.e. a Li+ vacancy with a compensating background; the MTP has no
charge). ``intercage``: a Li jumps into the vacated 48h site of the nearest Li of another cage,
the jump that limits long-range diffusion in the ordered phase; ``doublet``: the same within the
cage (the fast local motion), as a control.

Steps, all at the fixed cubic cell of the ordered structure:

1. MTP: endpoints relaxed (FIRE, 0.02 eV/A), climbing-image NEB (improved tangent, 0.03 eV/A).
2. GFN1-xTB single points on the MTP's converged images: the reference's energy along the MTP path.
3. GFN1-xTB's own climbing-image NEB, started from the MTP's band: endpoints relaxed to
   0.05 eV/A, band to 0.1 eV/A (at most ``--max-steps`` FIRE steps; ``converged`` says whether it
   got there), then the MTP on GFN1-xTB's images.

Barriers are ``max(E) - E(initial)`` of each band; a forward/backward pair for the asymmetric
doublet/intercage jumps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _mtp_calc(archive: Path, level: int):
    import h5py

    from argyro_run.potentials.calculator import MTPCalculator
    from argyro_run.potentials.mtp import parse_mtp

    with h5py.File(archive, "r") as f:
        text = f[f"learning/level{level}/mtp/text"][()]
    return MTPCalculator(parse_mtp(text.decode() if isinstance(text, bytes) else str(text)))


def _xtb_calc(work: Path):
    from argyro_run.learning.reference import ReferenceSpec, make_calculator

    return make_calculator(ReferenceSpec(calculator="tblite", kwargs={"charge": -1}), work, threads=1)


def _relax(atoms, calc, fmax: float, steps: int) -> bool:
    from ase.optimize import FIRE

    atoms.calc = calc
    return bool(FIRE(atoms, logfile=None).run(fmax=fmax, steps=steps))


def _band(ends, interior, calc, fmax: float, steps: int):
    from ase.mep import NEB
    from ase.optimize import FIRE

    band = [ends[0]] + interior + [ends[1]]
    for im in band:
        im.calc = calc
    neb = NEB(band, climb=True, method="improvedtangent", allow_shared_calculator=True)
    if interior and all(np.allclose(im.positions, ends[0].positions) for im in interior):
        neb.interpolate(mic=True)
    ok = bool(FIRE(neb, logfile=None).run(fmax=fmax, steps=steps))
    return band, ok


def _energies(images, calc) -> np.ndarray:
    out = []
    for im in images:
        c = im.copy()
        c.calc = calc
        out.append(c.get_potential_energy())
    return np.array(out)


def _profile(e: np.ndarray) -> dict:
    e = np.asarray(e, float) - float(e[0])
    return {"barrier_eV": round(float(e.max()), 4), "reverse_barrier_eV": round(float(e.max() - e[-1]), 4),
            "profile_eV": e.round(4).tolist()}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archive", type=Path)
    ap.add_argument("work", type=Path)
    ap.add_argument("--level", type=int, default=10)
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--kind", choices=("intercage", "doublet"), default="intercage")
    ap.add_argument("--max-steps", type=int, default=200,
                    help="FIRE steps of the GFN1-xTB band (0: steps 1 and 2 only)")
    args = ap.parse_args(argv)
    from ase.io import read, write

    import argyro_run.archive  # noqa: F401  (the project's import order: mpi4py, h5py first)

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    out_path = work / f"barrier_{args.kind}.json"
    rec = json.loads(out_path.read_text()) if out_path.exists() else {}
    rec.update(archive=str(args.archive), level=args.level, images=args.images, kind=args.kind)

    def save():
        out_path.write_text(json.dumps(rec, indent=1))

    mtp = _mtp_calc(args.archive, args.level)
    mtp_band_file = work / f"mtp_band_{args.kind}.extxyz"
    if not mtp_band_file.exists():
        t0 = time.perf_counter()
        from reference_accuracy import vacancy_hop_endpoints

        ini, fin, (_, dist) = vacancy_hop_endpoints(args.kind)
        ok_ends = [_relax(a, mtp, 0.02, 1000) for a in (ini, fin)]
        band, ok = _band([ini, fin], [ini.copy() for _ in range(args.images)], mtp, 0.03, 1500)
        rec["jump_distance_A"] = round(dist, 3)
        rec["mtp"] = {**_profile(_energies(band, mtp)), "endpoints_relaxed": ok_ends, "converged": ok,
                      "wall_s": round(time.perf_counter() - t0, 1)}
        write(mtp_band_file, band)
        save()
        print("MTP", json.dumps(rec["mtp"]), flush=True)
    band = read(mtp_band_file, ":")
    xtb = _xtb_calc(work)
    if "xtb_on_mtp_path" not in rec:
        t0 = time.perf_counter()
        rec["xtb_on_mtp_path"] = {**_profile(_energies(band, xtb)), "wall_s": round(time.perf_counter() - t0, 1)}
        save()
        print("GFN1-xTB on the MTP path", json.dumps(rec["xtb_on_mtp_path"]), flush=True)
    if "xtb_neb" not in rec and args.max_steps > 0:
        t0 = time.perf_counter()
        ends = [band[0].copy(), band[-1].copy()]
        ok_ends = [_relax(a, xtb, 0.05, 300) for a in ends]
        xband, ok = _band(ends, [im.copy() for im in band[1:-1]], xtb, 0.1, args.max_steps)
        e_x = _energies(xband, xtb)
        write(work / f"xtb_band_{args.kind}.extxyz", xband)
        rec["xtb_neb"] = {**_profile(e_x), "endpoints_relaxed": ok_ends, "converged": ok,
                          "wall_s": round(time.perf_counter() - t0, 1)}
        rec["mtp_on_xtb_path"] = _profile(_energies(xband, mtp))
        save()
        print("GFN1-xTB NEB", json.dumps(rec["xtb_neb"]), flush=True)
        print("MTP on the GFN1-xTB path", json.dumps(rec["mtp_on_xtb_path"]), flush=True)
    return rec


if __name__ == "__main__":
    main()
