"""Local vs full-cell active learning on a GB model (issue 7 benchmark).

Both runs start from the same MTP fitted to rattled/strained bulk Li6PS5Cl (tblite labels) and
explore the same Sigma5(310)[001] bicrystal with the same settings; they differ only in
``max_reference_atoms``: below the GB cell's size (local: cut-outs around the selected atoms,
core forces only) or above it (full: the selected GB cells labelled whole). Reported: reference
atoms computed, reference wall time, and the force RMSE on held-out GB configurations (rattled
copies of the bicrystal, labelled whole with tblite), over all atoms and over the GB region
(atoms within 4 A of a GB plane).

    .venv/bin/python benchmarks/local_learning.py [--level 4] [--iterations 2] [--select 4] [--workdir DIR]
        [--reference tblite|mtp-teacher] [--gb-repeat N]

Prints a JSON summary (last line). Reference results are cached in the workdir, so a rerun only
repeats the (cheap) MTP parts.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np


def force_rmse(mtp, images, mask_key=None, max_dist=None):
    from argyro_run.potentials.evaluate import evaluate

    d = []
    for a in images:
        f = np.asarray(evaluate(mtp, a)["forces_eV_per_A"]) - a.calc.results["forces"]
        m = np.ones(len(a), bool) if mask_key is None else a.arrays[mask_key] <= max_dist
        d.append(f[m])
    return float(np.sqrt(np.mean(np.square(np.concatenate(d)))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--level", type=int, default=4)
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--select", type=int, default=4, help="max_selected_per_iteration")
    p.add_argument("--exploration-ps", type=float, default=0.5)
    p.add_argument("--temperature", type=float, default=800.0)
    p.add_argument("--local-radius", type=float, default=6.5)
    p.add_argument("--n-rattled", type=int, default=6)
    p.add_argument("--n-held-out", type=int, default=2)
    p.add_argument("--workdir", default="benchmark-local-learning")
    p.add_argument("--explorer", default="lammps", choices=["lammps", "ase"])
    p.add_argument("--reference", default="tblite", choices=["tblite", "mtp-teacher"],
                   help="reference calculator: tblite GFN1-xTB, or the trained level-8 test MTP "
                        "(tests/data/mtp/Li6PS5Cl-l08.mtp) as a cheap 'teacher' (5 A cutoff), which makes "
                        "full-cell labels of large GB cells affordable")
    p.add_argument("--gb-repeat", type=int, default=1,
                   help="repeat the Sigma5 bicrystal n x n in the GB plane (1: 148 atoms, 2: 592)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from argyro_run._stack import MPI
    from argyro_run.learning.dataset import label_images
    from argyro_run.learning.initial import rattled_and_strained
    from argyro_run.learning.loop import fit, run_level, starting_point
    from argyro_run.learning.reference import ReferenceSpec
    from argyro_run.learning.settings import LoopSettings
    from argyro_run.structures import argyrodite
    from argyro_run.structures.gb import csl_bicrystal

    wd = Path(args.workdir).resolve()
    wd.mkdir(parents=True, exist_ok=True)
    if args.reference == "tblite":
        spec = ReferenceSpec(timeout_s=3600, max_retries=1, fallback={"electronic_temperature_K": 1000.0})
    else:
        teacher = Path(__file__).resolve().parents[1] / "tests" / "data" / "mtp" / "Li6PS5Cl-l08.mtp"
        spec = ReferenceSpec(calculator="argyro_run.potentials.calculator:MTPCalculator",
                             kwargs={"mtp": str(teacher)}, timeout_s=3600, max_retries=0)
    cache = wd / "reference_cache"
    bulk = argyrodite("Cl")
    gb = csl_bicrystal(bulk, sigma=5, plane=[3, 1, 0], axis=[0, 0, 1])
    if args.gb_repeat > 1:
        gb = gb.repeat((args.gb_repeat, args.gb_repeat, 1))    # GB planes normal to z stay in place
    t0 = time.perf_counter()
    init, st_init = label_images(rattled_and_strained(bulk, args.n_rattled, rattle_amplitude_A=0.05,
                                                      strain_amplitude=0.02, seed=1, min_distance_A=1.2),
                                 spec, wd / "init", cache_dir=cache)
    held = rattled_and_strained(gb, args.n_held_out, rattle_amplitude_A=0.08, strain_amplitude=0.0, seed=2,
                                min_distance_A=1.2)
    for h in held:
        h.info["origin"] = "held-out"
    held_l, st_held = label_images(held, spec, wd / "held", cache_dir=cache)
    for h, src in zip(held_l, held):
        h.arrays["gb_distance_A"] = src.arrays["gb_distance_A"]
    t_setup = time.perf_counter() - t0

    common = dict(gamma_select=2.0, gamma_break=10.0,
                  exploration_ps=args.exploration_ps, temperatures_K=[args.temperature],
                  max_iterations=args.iterations, max_selected_per_iteration=args.select,
                  local_radius_A=args.local_radius, local_mode="periodic", vacuum_A=6.0, reference=spec,
                  seed=7, explorer=args.explorer)
    s0 = LoopSettings.of(args.level, ["Li", "P", "S", "Cl"], **common)
    mtp0 = fit(starting_point(None, s0, init), init, s0, iteration=-1)
    out = {"machine": platform.node(), "processor": platform.processor() or platform.machine(),
           "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "gb_atoms": len(gb),
           "level": args.level, "iterations": args.iterations, "select": args.select,
           "setup_reference_s": t_setup, "held_out_configs": len(held_l),
           "explorer": args.explorer, "reference": args.reference,
           "initial": {"rmse_force_all": force_rmse(mtp0, held_l),
                       "rmse_force_gb": force_rmse(mtp0, held_l, "gb_distance_A", 4.0)}}
    for mode, max_ref in (("local", 60), ("full", 100_000)):
        s = LoopSettings.of(args.level, ["Li", "P", "S", "Cl"], **common, max_reference_atoms=max_ref)
        t = time.perf_counter()
        res = run_level(mtp0, list(init), [("gb_sigma5_310", gb)], s, comm=MPI.COMM_SELF, workdir=wd / mode)
        its = res.iterations
        out[mode] = {
            "converged": res.converged, "reason": res.reason, "iterations": len(its),
            "reference_calls": sum(r.label.calls for r in its),
            "reference_atoms": sum(r.label.atoms for r in its),
            "full_cell_equivalent_atoms": sum(r.full_cell_atoms for r in its),
            "reference_cpu_s": sum(r.label.cpu_s for r in its),
            "wall_s": time.perf_counter() - t,
            "rmse_force_all": force_rmse(res.mtp, held_l),
            "rmse_force_gb": force_rmse(res.mtp, held_l, "gb_distance_A", 4.0),
        }
    out["reference_atoms_ratio_full_over_local"] = out["full"]["reference_atoms"] / max(out["local"]["reference_atoms"], 1)
    print(json.dumps(out, indent=1))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
