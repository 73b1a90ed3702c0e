"""Does the MTP's MD stay where its reference's MD stays? Li in the 52-atom ordered argyrodite cell,
run from the same start with the same Langevin thermostat and seeds, once with a learned MTP and
once with its reference (issue 16, fourteenth study: a potential whose explorations graded below
gamma_select and whose 100-ps runs held gave an ordered Li6PS5Cl 1.4 decades faster than the paper;
in its MD the Li left the shells of their cages, in SevenNet-l3i5's they did not).

Usage::

    python benchmarks/md_vs_reference.py MTP WORK [--als ALS] [--halide Cl] [--reference sevenn]
        [--model 7net-l3i5] [--temperature-K 600] [--steps 1500] [--timestep-fs 1] [--seeds 1 2]
        [--every 10] [--only mtp|reference]

MTP is a learned potential in MLIP's format (``argyro-run mtp export ARCHIVE -o DIR`` writes it and
its active set ``.als``; with ``--als`` the MTP's frames carry its largest extrapolation grade).
WORK is a scratch folder: every trajectory is kept (``WORK/<mtp|reference>_seed<k>.npz``) and reused,
and ``WORK/md_vs_reference.json`` collects the numbers.

Per trajectory, over its second half (the first half is the cell leaving its ideal sites):

* ``cage_shell_offset_A``: the median distance of the Li from the shell of their cage (the sphere
  through the cage's 48h sites around its 4c centre; ``analysis/jumps.cage_shell_offset_A``, the
  jump analysis's lattice check), mean over the frames;
* ``fraction_on_site``: the share of Li-frames within ``analysis/jumps.CORE_RADIUS_A`` of a 48h site;
* ``max_grade`` (MTP with ``--als``): the largest extrapolation grade of any frame.

Both calculators see the same start (the ideal cell of ``structures.argyrodite``), the same
Maxwell-Boltzmann velocities and the same random forces (a seeded ``numpy`` generator per seed), so
the two runs differ only by their forces. The cell is fixed (NVT); ASE's Langevin integrator, friction
``--friction-per-fs``, the centre of mass fixed (``FixCom``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_FRICTION_PER_FS = 0.01      # 1/(100 fs): the MD's thermostat damping time (md.thermostat_damping_fs)


def langevin_li(atoms, calc, *, temperature_K: float, steps: int, timestep_fs: float, seed: int, every: int,
                friction_per_fs: float = DEFAULT_FRICTION_PER_FS, log=None) -> dict:
    """Langevin MD of a copy of ``atoms`` with ``calc``: the Li positions (frames x Li x 3, not wrapped)
    every ``every`` steps from step 0, the cell, and per frame the calculator's ``max_grade`` where it
    gives one (NaN otherwise)."""
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    a = atoms.copy()
    a.set_constraint(FixCom())
    a.calc = calc
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(a, temperature_K=temperature_K, rng=rng, force_temp=True)
    dyn = Langevin(a, timestep_fs * units.fs, temperature_K=temperature_K, friction=friction_per_fs / units.fs,
                   fixcm=False, rng=rng)
    li = np.flatnonzero(np.array(a.get_chemical_symbols()) == "Li")
    frames, grades = [], []

    def record():
        frames.append(a.positions[li].copy())
        grades.append(float(calc.results.get("max_grade", np.nan)) if calc.results else np.nan)

    a.get_forces()
    record()
    t0 = time.perf_counter()
    for done in range(every, steps + 1, every):
        dyn.run(every)
        record()
        if log is not None and done % max(every, steps // 10) == 0:
            log(f"  step {done}/{steps} ({time.perf_counter() - t0:.0f} s)")
    return {"li_positions_A": np.asarray(frames), "cell_A": np.asarray(a.cell[:], dtype=float),
            "max_grade": np.asarray(grades), "timestep_fs": float(timestep_fs), "every": int(every)}


def lattice_metrics(li_positions_A: np.ndarray, cell_A: np.ndarray, halide: str) -> dict:
    """Per frame of ``li_positions_A`` (frames x Li x 3) in the conventional cell ``cell_A``: the cage
    shell offset (A) and the share of Li on a 48h site."""
    from argyro_run.analysis.jumps import argyrodite_sites, cage_shell_offset_A, fraction_on_site

    lat = argyrodite_sites(cell_A, (1, 1, 1), halide)
    x = np.asarray(li_positions_A, dtype=float)
    return {"cage_shell_offset_A": np.array([cage_shell_offset_A(f, cell_A, lat) for f in x]),
            "fraction_on_site": np.array([fraction_on_site(f, cell_A, lat["positions_A"]) for f in x])}


def summarise(run: dict, halide: str) -> dict:
    """Second-half means of :func:`lattice_metrics` of one :func:`langevin_li` run, and its largest grade."""
    m = lattice_metrics(run["li_positions_A"], run["cell_A"], halide)
    half = len(run["li_positions_A"]) // 2
    g = np.asarray(run["max_grade"], dtype=float)
    return {"cage_shell_offset_A": float(np.mean(m["cage_shell_offset_A"][half:])),
            "cage_shell_offset_first_frame_A": float(m["cage_shell_offset_A"][0]),
            "fraction_on_site": float(np.mean(m["fraction_on_site"][half:])),
            "max_grade": float(np.nanmax(g)) if np.isfinite(g).any() else None,
            "frames": int(len(run["li_positions_A"])),
            "time_ps": float((len(run["li_positions_A"]) - 1) * run["every"] * run["timestep_fs"] / 1000.0)}


def _calculator(kind: str, args, work: Path):
    if kind == "mtp":
        from argyro_run.potentials.calculator import MTPCalculator

        return MTPCalculator(str(args.mtp), active_set=str(args.als) if args.als else None)
    from argyro_run.learning.reference import ReferenceSpec, make_calculator

    spec = ReferenceSpec(calculator=args.reference, model=args.model)
    d = work / "reference_calc"
    d.mkdir(parents=True, exist_ok=True)
    return make_calculator(spec, d, threads=args.threads)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("mtp", type=Path, help="learned MTP (MLIP .mtp file)")
    p.add_argument("work", type=Path, help="scratch folder (trajectories kept and reused, results json)")
    p.add_argument("--als", type=Path, default=None, help="the MTP's active set, for extrapolation grades")
    p.add_argument("--halide", default="Cl", choices=["Cl", "Br", "I"])
    p.add_argument("--lattice-constant-A", type=float, default=None,
                   help="default: structures.argyrodite's for the halide")
    p.add_argument("--reference", default="sevenn", help="[reference] calculator (default sevenn)")
    p.add_argument("--model", default=None, help="its model, where it has one (the validation's: 7net-l3i5; "
                                                 "default: the calculator's own default)")
    p.add_argument("--threads", type=int, default=1, help="threads of the reference (torch)")
    p.add_argument("--temperature-K", type=float, default=600.0)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--timestep-fs", type=float, default=1.0)
    p.add_argument("--friction-per-fs", type=float, default=DEFAULT_FRICTION_PER_FS)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--every", type=int, default=10, help="record the Li every this many steps")
    p.add_argument("--only", choices=["mtp", "reference"], default=None, help="run one side only")
    args = p.parse_args(argv)

    from argyro_run.structures import argyrodite

    args.work.mkdir(parents=True, exist_ok=True)
    cell = argyrodite(args.halide, lattice_constant_A=args.lattice_constant_A)
    out_path = args.work / "md_vs_reference.json"
    results = json.loads(out_path.read_text()) if out_path.exists() else {}
    settings = {"halide": args.halide, "atoms": len(cell), "temperature_K": args.temperature_K, "steps": args.steps,
                "timestep_fs": args.timestep_fs, "friction_per_fs": args.friction_per_fs, "every": args.every,
                "mtp": str(args.mtp), "reference": {"calculator": args.reference, "model": args.model}}
    if results.get("settings", settings) != settings:
        print(f"error: {out_path} holds runs with other settings; use another WORK folder", file=sys.stderr)
        return 2
    results["settings"] = settings
    for kind in ([args.only] if args.only else ["mtp", "reference"]):
        calc = None
        for seed in args.seeds:
            traj = args.work / f"{kind}_seed{seed}.npz"
            if traj.exists():
                run = dict(np.load(traj))
                run["every"], run["timestep_fs"] = int(run["every"]), float(run["timestep_fs"])
            else:
                calc = calc or _calculator(kind, args, args.work)
                print(f"{kind}, seed {seed}: {args.steps} steps at {args.temperature_K:g} K", flush=True)
                t0 = time.perf_counter()
                run = langevin_li(cell, calc, temperature_K=args.temperature_K, steps=args.steps,
                                  timestep_fs=args.timestep_fs, seed=seed, every=args.every,
                                  friction_per_fs=args.friction_per_fs, log=lambda s: print(s, flush=True))
                run["wall_s"] = time.perf_counter() - t0
                np.savez(traj, **run)
            summary = summarise(run, args.halide)
            summary["wall_s"] = float(run.get("wall_s", np.nan))
            results.setdefault(kind, {})[str(seed)] = summary
            print(f"{kind}, seed {seed}: cage-shell offset {summary['cage_shell_offset_A']:.3f} A, on a 48h site "
                  f"{100 * summary['fraction_on_site']:.0f} %, max grade {summary['max_grade']}", flush=True)
            out_path.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
