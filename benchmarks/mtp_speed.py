"""Speed of the LAMMPS ``pair_style mtp`` plugin vs motep's C engine (level-16-sized MTP).

Cell: Li6PS5Cl argyrodite 3x3x3 (1404 atoms, 4 species). Potential: a level-16-sized MTP
basis generated here (see ``level16_basis``: all rotation-invariant contractions below of
level <= 16 with lev(M_mu,nu) = 2 + 4 mu + nu), random coefficients (the cost does not depend
on their values; they are tiny (forces ~1e-6 eV/A) and the atoms start at rest, so the cell
stays on its sites during the timed NVE steps: a random polynomial potential with thermal
velocities collapses pairs below min_dist within ~100 fs).
Timed: LAMMPS NVE steps with the plugin (neighbour-list rebuilds included) on 1 rank, the
same with ``mpiexec -n 2``, and motep 0.2 ``cext`` engine energy+forces+stress calls on the
same structure and potential (energies compared as a check).

Run:  .venv/bin/python benchmarks/mtp_speed.py            (1 rank + motep)
      .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/mtp_speed.py --lammps-only
"""

from __future__ import annotations

import argparse
import itertools
import math
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from argyro_run._stack import MPI, lammps_module  # noqa: E402

SPECIES = ["Li", "P", "S", "Cl"]


def _comps(nu):
    return [c for c in itertools.product(range(nu + 1), repeat=3) if sum(c) == nu]


def _multinomial(c):
    return math.factorial(sum(c)) // (math.factorial(c[0]) * math.factorial(c[1]) * math.factorial(c[2]))


def level16_basis(max_level=16, n_mu=4):
    """(alpha_index_basic, alpha_index_times, alpha_moment_mapping, alpha_moments_count).

    Scalars: M_mu,0; full contractions M_a,nu : M_b,nu (nu 1..4); u.A.w (vector, matrix,
    vector); tr(A B C) of three matrices; products of two of the first two kinds."""
    lev = lambda mu, nu: 2 + 4 * mu + nu  # noqa: E731
    tensors = sorted({(mu, nu) for mu in range(n_mu) for nu in range(5) if lev(mu, nu) <= max_level})
    basic, bidx = [], {}
    for mu, nu in tensors:
        for c in _comps(nu):
            bidx[(mu, c)] = len(basic)
            basic.append([mu, *c])
    times, nmom = [], [len(basic)]
    scalars = []  # (index, level)

    def new():
        nmom[0] += 1
        return nmom[0] - 1

    e = np.eye(3, dtype=int)
    comp2 = lambda mu, p, q: bidx[(mu, tuple(e[p] + e[q]))]  # noqa: E731
    comp1 = lambda mu, p: bidx[(mu, tuple(e[p]))]  # noqa: E731
    for mu in range(n_mu):
        if lev(mu, 0) <= max_level:
            scalars.append((bidx[(mu, (0, 0, 0))], lev(mu, 0)))
    pair_scalars = list(scalars)
    for nu in range(1, 5):
        for a in range(n_mu):
            for b in range(a, n_mu):
                L = lev(a, nu) + lev(b, nu)
                if L > max_level:
                    continue
                k = new()
                for c in _comps(nu):
                    times.append([bidx[(a, c)], bidx[(b, c)], _multinomial(c), k])
                scalars.append((k, L))
                pair_scalars.append((k, L))
    for a, b, c in itertools.product(range(n_mu), repeat=3):
        if a > c or lev(a, 1) + lev(b, 2) + lev(c, 1) > max_level:
            continue
        v = [new() for _ in range(3)]
        for p in range(3):
            for q in range(3):
                times.append([comp2(b, p, q), comp1(c, q), 1, v[p]])
        k = new()
        for p in range(3):
            times.append([comp1(a, p), v[p], 1, k])
        scalars.append((k, lev(a, 1) + lev(b, 2) + lev(c, 1)))
    for a, b, c in itertools.combinations_with_replacement(range(n_mu), 3):
        if lev(a, 2) + lev(b, 2) + lev(c, 2) > max_level:
            continue
        D = [[new() for _ in range(3)] for _ in range(3)]
        for p, q, r in itertools.product(range(3), repeat=3):
            times.append([comp2(a, p, q), comp2(b, q, r), 1, D[p][r]])
        k = new()
        for p, r in itertools.product(range(3), repeat=2):
            times.append([D[p][r], comp2(c, r, p), 1, k])
        scalars.append((k, lev(a, 2) + lev(b, 2) + lev(c, 2)))
    for (i, li), (j, lj) in itertools.combinations_with_replacement(pair_scalars, 2):
        if li + lj <= max_level:
            k = new()
            times.append([i, j, 1, k])
            scalars.append((k, li + lj))
    # drop basic components no contraction uses; renumber (basic moments come first)
    mapping = [s for s, _ in scalars]
    used = sorted({i for i in range(len(basic)) if i in mapping or any(i in t[:2] for t in times)})
    renum = {old: new for new, old in enumerate(used)}
    shift = len(basic) - len(used)
    r = lambda i: renum[i] if i < len(basic) else i - shift  # noqa: E731
    times = [[r(t[0]), r(t[1]), t[2], r(t[3])] for t in times]
    return [basic[i] for i in used], times, [r(i) for i in mapping], nmom[0] - shift


def write_level16_mtp(path, species=SPECIES, *, seed=0, min_dist_A=1.5, max_dist_A=5.0,
                      radial_basis_size=8, n_mu=4):
    basic, times, mapping, count = level16_basis(16, n_mu)
    rng = np.random.default_rng(seed)
    S = len(species)
    f = lambda v: "{" + ", ".join(f"{x:.15e}" for x in v) + "}"  # noqa: E731
    g = lambda rows: "{" + ", ".join("{" + ", ".join(str(int(x)) for x in r) + "}" for r in rows) + "}"  # noqa: E731
    out = ["MTP", "version = 1.1.0", "potential_name = MTP1m", "scaling = 1.0e+00",
           f"species_count = {S}", "potential_tag = ", "radial_basis_type = RBChebyshev",
           f"\tmin_dist = {min_dist_A}", f"\tmax_dist = {max_dist_A}",
           f"\tradial_basis_size = {radial_basis_size}", f"\tradial_funcs_count = {n_mu}",
           "\tradial_coeffs"]
    for a in range(S):
        for b in range(S):
            out.append(f"\t\t{a}-{b}")
            for _ in range(n_mu):
                out.append("\t\t\t" + f(rng.normal(0, 0.05, radial_basis_size)))
    out += [f"alpha_moments_count = {count}", f"alpha_index_basic_count = {len(basic)}",
            f"alpha_index_basic = {g(basic)}", f"alpha_index_times_count = {len(times)}",
            f"alpha_index_times = {g(times)}", f"alpha_scalar_moments = {len(mapping)}",
            f"alpha_moment_mapping = {g([mapping])[1:-1]}",
            f"species_coeffs = {f(rng.normal(0, 1, S))}",
            f"moment_coeffs = {f(rng.normal(0, 1e-8, len(mapping)))}"]
    pathlib.Path(path).write_text("\n".join(out) + "\n")
    return {"alpha_index_basic_count": len(basic), "alpha_index_times_count": len(times),
            "alpha_scalar_moments": len(mapping), "alpha_moments_count": count}


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


def bench_lammps(pot, atoms, steps, comm):
    from argyro_run.potentials.plugin import lammps_commands, plugin_path

    if comm.rank == 0:
        plugin_path()
    comm.Barrier()
    lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"], comm=comm)
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
    for cmd in lammps_commands(pot, list(range(len(SPECIES)))):  # MTP type order = SPECIES
        lmp.command(cmd)
    for cmd in ("neighbor 1.0 bin", "neigh_modify every 10 delay 0 check yes",
                "timestep 0.001", "fix 1 all nve",
                "thermo 0"):
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
    ap.add_argument("--template", help="use the basis of this MLIP .mtp file instead of the "
                    "generated level-16-sized one (e.g. the fixture crystals/noncubic/10/initial.mtp)")
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    atoms = cell()
    n = len(atoms)
    with tempfile.TemporaryDirectory() as tmp:
        pot = pathlib.Path(tmp) / "level16.mtp"
        if comm.rank == 0:
            counts = write_from_template(args.template, pot) if args.template else write_level16_mtp(pot)
            print(f"atoms {n}, species {SPECIES}, basis {counts}")
        pot = pathlib.Path(comm.bcast(str(pot)))
        comm.Barrier()
        e_l, dt, cpu = bench_lammps(pot, atoms, args.steps, comm)
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
