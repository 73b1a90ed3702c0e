"""Speed of the LAMMPS ``pair_style mtp`` plugin vs motep's C engine (level-16 MTP).

Cell: Li6PS5Cl argyrodite 3x3x3 (1404 atoms, 4 species). Potential: MLIP's level-16 basis
(``argyro_run.potentials.basis``, 92 basis functions; ``--level`` for others), random
coefficients (the cost does not depend on their values; they are tiny (forces ~1e-6 eV/A)
and the atoms start at rest, so the cell stays on its sites during the timed NVE steps: a random polynomial potential with thermal
velocities collapses pairs below min_dist within ~100 fs).
Timed: LAMMPS NVE steps with the plugin (neighbour-list rebuilds included) on 1 rank, the
same with ``mpiexec -n 2``, and motep 0.2 ``cext`` engine energy+forces+stress calls on the
same structure and potential (energies compared as a check).

Run:  .venv/bin/python benchmarks/mtp_speed.py            (1 rank + motep)
      .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/mtp_speed.py --lammps-only
      ... --level 10|16|20|24                                (MLIP's level bases)
      ... --lammps-only --plugin-lib OTHER/libmtpplugin.so  (another build, e.g. an older commit's:
                                                             one plugin per process, so compare
                                                             in alternating runs)
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from argyro_run._stack import MPI, lammps_module  # noqa: E402

SPECIES = ["Li", "P", "S", "Cl"]


def write_level_mtp(path, level=16, species=SPECIES, *, seed=0, min_dist_A=1.5, max_dist_A=5.0,
                    radial_basis_size=8):
    """MLIP's level-``level`` basis (``potentials.basis``) for ``species`` with random coefficients
    (tiny moment coefficients: the cost does not depend on their values)."""
    from argyro_run.potentials.mtp import init_mtp, write_mtp

    m = init_mtp(level, species, max_dist_A=max_dist_A, min_dist_A=min_dist_A,
                 radial_basis_size=radial_basis_size, seed=seed, scaling=1.0)
    rng = np.random.default_rng(seed)
    m.radial_coeffs = rng.normal(0, 0.05, m.radial_coeffs.shape)
    m.species_coeffs = rng.normal(0, 1, m.species_count)
    m.moment_coeffs = rng.normal(0, 1e-8, m.n_scalar)
    write_mtp(m, path)
    return {"level": level, "alpha_index_basic_count": len(m.alpha_index_basic),
            "alpha_index_times_count": len(m.alpha_index_times), "alpha_scalar_moments": m.n_scalar,
            "alpha_moments_count": m.alpha_moments_count, "radial_funcs_count": m.radial_funcs_count}


def write_from_template(template, path, species=SPECIES, *, seed=0, moment_scale=1e-8):
    """The basis (alpha indices, radial basis) of an MLIP .mtp file, for ``species`` with random
    coefficients (e.g. the real MLIP level-10 basis of the crystal fixture)."""
    import re

    text = pathlib.Path(template).read_text()
    get = lambda k: re.search(rf"^\s*{k}\s*=\s*(.*)$", text, re.M).group(1)  # noqa: E731
    R, B, nmom = int(get("radial_funcs_count")), int(get("radial_basis_size")), int(get("alpha_scalar_moments"))
    rng = np.random.default_rng(seed)
    S = len(species)
    f = lambda v: "{" + ", ".join(f"{x:.15e}" for x in v) + "}"  # noqa: E731
    cut = text.index("radial_coeffs") if "radial_coeffs" in text else text.index("alpha_moments_count")
    head = text[:cut].rstrip(" \t")
    head = re.sub(r"species_count = \d+", f"species_count = {S}", head)
    head = re.sub(r"scaling = .*\n", "", head).replace("potential_name = MTP1m\n", "potential_name = MTP1m\nscaling = 1.0e+00\n")
    out = [head.rstrip("\n"), "\tradial_coeffs"]
    for a in range(S):
        for b in range(S):
            out.append(f"\t\t{a}-{b}")
            out += ["\t\t\t" + f(rng.normal(0, 0.05, B)) for _ in range(R)]
    tail = text[text.index("alpha_moments_count"):]
    tail = re.sub(r"(species|moment)_coeffs = .*\n?", "", tail).rstrip("\n")
    tail += f"\nspecies_coeffs = {f(rng.normal(0, 1, S))}\nmoment_coeffs = {f(rng.normal(0, moment_scale, nmom))}\n"
    out.append(tail)
    pathlib.Path(path).write_text("\n".join(out))
    return {k: int(get(k)) for k in ("alpha_index_basic_count", "alpha_index_times_count",
                                     "alpha_scalar_moments", "alpha_moments_count", "radial_funcs_count")}


def cell():
    from argyro_run.structures import argyrodite, make_supercell

    return make_supercell(argyrodite("Cl", li_seed=0), (3, 3, 3))


def bench_lammps(pot, atoms, steps, comm, plugin_lib=None, style_extra="", log="none"):
    from argyro_run.potentials.plugin import lammps_commands, plugin_path

    if comm.rank == 0 and plugin_lib is None:
        plugin_path()
    comm.Barrier()
    lmp = lammps_module().lammps(cmdargs=["-log", str(log), "-screen", "none"], comm=comm)
    c = atoms.cell.array
    assert abs(c[0, 1]) + abs(c[0, 2]) + abs(c[1, 2]) < 1e-12
    for cmd in ("units metal", "atom_style atomic", "boundary p p p",
                f"region b prism 0 {c[0,0]} 0 {c[1,1]} 0 {c[2,2]} {c[1,0]} {c[2,0]} {c[2,1]} units box",
                f"create_box {len(SPECIES)} b"):
        lmp.command(cmd)
    from ase.data import atomic_masses, atomic_numbers

    for t, s in enumerate(SPECIES):
        lmp.command(f"mass {t + 1} {atomic_masses[atomic_numbers[s]]}")
    tmap = {s: t + 1 for t, s in enumerate(SPECIES)}
    lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)),
                     [tmap[s] for s in atoms.get_chemical_symbols()],
                     atoms.positions.reshape(-1).tolist())
    cmds = lammps_commands(pot, list(range(len(SPECIES))))  # MTP type order = SPECIES
    if plugin_lib is not None:  # another build of the plugin (e.g. an older commit's)
        cmds[0] = f"plugin load {plugin_lib}"
    cmds[1] += style_extra
    for cmd in cmds:
        lmp.command(cmd)
    for cmd in ("neighbor 1.0 bin", "neigh_modify every 10 delay 0 check yes",
                "timestep 0.001", "fix 1 all nve",
                "thermo 0", "timer full"):
        lmp.command(cmd)
    lmp.command("run 0")
    e0 = lmp.get_thermo("pe")
    lmp.command("run 2")  # warm-up
    comm.Barrier()
    t, c0 = time.perf_counter(), time.process_time()
    lmp.command(f"run {steps}")
    cpu = comm.allreduce(time.process_time() - c0, op=MPI.MAX)
    comm.Barrier()
    dt = time.perf_counter() - t
    lmp.close()
    return e0, dt, cpu


def bench_motep(pot, atoms, calls):
    from ase.data import atomic_numbers
    from motep.calculator import make_calculator
    from motep.io.mlip.mtp import read_mtp

    data = read_mtp(str(pot))
    data.species = [atomic_numbers[s] for s in SPECIES]
    a = atoms.copy()
    a.calc = make_calculator(data, engine="cext")
    e0 = a.get_potential_energy()
    a.get_forces()
    t, c0 = time.perf_counter(), time.process_time()
    for k in range(calls):
        a.positions[0, 0] += 1e-6  # invalidate the cache: a real new evaluation
        a.get_potential_energy()
        a.get_forces()
        a.get_stress()
    return e0, time.perf_counter() - t, time.process_time() - c0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--motep-calls", type=int, default=5)
    ap.add_argument("--lammps-only", action="store_true")
    ap.add_argument("--level", type=int, default=16, help="MTP level of the generated basis (default 16)")
    ap.add_argument("--plugin-lib", help="time this plugin library instead of the current build")
    ap.add_argument("--log", default="none", help="LAMMPS log file; its timing breakdown ('timer full') "
                    "has the Pair section's wall time min/avg/max over ranks and its %%CPU")
    ap.add_argument("--template", help="use the basis of this MLIP .mtp file instead of the generated "
                    "level basis (e.g. the fixture crystals/noncubic/10/initial.mtp)")
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    atoms = cell()
    n = len(atoms)
    with tempfile.TemporaryDirectory() as tmp:
        pot = pathlib.Path(tmp) / "bench.mtp"
        if comm.rank == 0:
            counts = write_from_template(args.template, pot) if args.template else write_level_mtp(pot, args.level)
            print(f"atoms {n}, species {SPECIES}, basis {counts}")
        pot = pathlib.Path(comm.bcast(str(pot)))
        comm.Barrier()
        e_l, dt, cpu = bench_lammps(pot, atoms, args.steps, comm, args.plugin_lib, log=args.log)
        if comm.rank == 0:
            print(f"plugin  ranks={comm.size}: {dt / args.steps / n * 1e6:8.2f} us/atom/step wall, "
                  f"{cpu / args.steps / n * 1e6:8.2f} us/atom/step CPU (max over ranks) "
                  f"({args.steps} NVE steps), E0 = {e_l:.10f} eV")
        if not args.lammps_only and comm.size == 1:
            e_m, dtm, cpum = bench_motep(pot, atoms, args.motep_calls)
            print(f"motep cext ranks=1: {dtm / args.motep_calls / n * 1e6:8.2f} us/atom/call wall, "
                  f"{cpum / args.motep_calls / n * 1e6:8.2f} us/atom/call CPU "
                  f"(energy+forces+stress), E0 = {e_m:.10f} eV, |E_plugin - E_motep| = {abs(e_l - e_m):.2e}")


if __name__ == "__main__":
    main()
