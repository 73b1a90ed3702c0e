"""Test-only stand-ins for the MTP core functions the loop calls, used ONLY while
``argyro_run/potentials/{mtp,evaluate,grades,cfg}.py`` (the MTP core of issue 6) are not in the
tree, and only inside a subprocess (``install()`` puts them into ``sys.modules``).

They are thin, exact adaptors over real components: energies, forces, stresses and per-atom
basis rows come from the trainer's MTP engine (``potentials/_train_engine.py``, the MLIP
functional form), active sets and grades from ``potentials/maxvol.py``, the .mtp text is MLIP's
format (read by the LAMMPS plugin), and the dump reader parses the plugin's MLIP .cfg dumps. The
basis is a small hand-written one (6 scalar moments up to contraction depth 2), not MLIP's
level tables.
"""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import numpy as np


def _rows(mtp, atoms):
    from argyro_run.potentials._train_engine import Basis, Frame, atom_types

    b = Basis.of(mtp)
    t = atom_types(mtp, atoms)
    f = Frame(b, atoms, t)
    _, _dv, M, _J = f.moments(b, np.asarray(mtp.radial_coeffs, float))
    R = np.zeros((len(atoms), b.S + b.ns))
    R[np.arange(len(atoms)), t] = 1.0
    R[:, b.S:] = M[:, b.mapping]
    return R


def init_mtp(level, species, *, max_dist_A=5.0, min_dist_A=1.5, radial_basis_size=8, seed=0):
    rng = np.random.default_rng(seed)
    S = len(species)
    basic = [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]
    times = [[1, 1, 1, 8], [2, 2, 1, 8], [3, 3, 1, 8], [1, 5, 1, 9], [2, 6, 1, 9], [3, 7, 1, 9], [0, 8, 1, 10], [4, 9, 2, 11]]
    return SimpleNamespace(species=list(species), potential_name="standin", level=level, scaling=1.0,
                           min_dist_A=min_dist_A, max_dist_A=max_dist_A, radial_basis_size=radial_basis_size,
                           radial_funcs_count=2, radial_coeffs=rng.normal(scale=0.1, size=(S, S, 2, radial_basis_size)),
                           species_coeffs=np.zeros(S), moment_coeffs=np.zeros(6), alpha_index_basic=np.array(basic),
                           alpha_index_times=np.array(times), alpha_moment_mapping=np.array([0, 4, 8, 9, 10, 11]),
                           alpha_moments_count=12)


def extend_level(mtp, level):
    raise NotImplementedError("the stand-in MTP has one hand-written basis; no level ladder")


def _fmt(v):
    return "{" + ", ".join("%.17g" % x for x in np.ravel(v)) + "}"


def write_mtp(m, path):
    S = len(m.species)
    L = ["MTP", "version = 1.1.0", f"potential_name = {m.potential_name}", "scaling = %.17g" % m.scaling,
         f"species_count = {S}", "species = " + " ".join(m.species), "potential_tag = ",
         "radial_basis_type = RBChebyshev", "\tmin_dist = %.17g" % m.min_dist_A, "\tmax_dist = %.17g" % m.max_dist_A,
         f"\tradial_basis_size = {m.radial_basis_size}", f"\tradial_funcs_count = {m.radial_funcs_count}", "\tradial_coeffs"]
    for a in range(S):
        for b in range(S):
            L.append(f"\t\t{a}-{b}")
            L += ["\t\t\t" + _fmt(m.radial_coeffs[a, b, mu]) for mu in range(m.radial_funcs_count)]
    L += [f"alpha_moments_count = {m.alpha_moments_count}", f"alpha_index_basic_count = {len(m.alpha_index_basic)}",
          "alpha_index_basic = {" + ", ".join("{%s}" % ", ".join(map(str, r)) for r in m.alpha_index_basic) + "}",
          f"alpha_index_times_count = {len(m.alpha_index_times)}",
          "alpha_index_times = {" + ", ".join("{%s}" % ", ".join(map(str, r)) for r in m.alpha_index_times) + "}",
          f"alpha_scalar_moments = {len(m.alpha_moment_mapping)}",
          "alpha_moment_mapping = {" + ", ".join(map(str, m.alpha_moment_mapping)) + "}",
          "species_coeffs = " + _fmt(m.species_coeffs), "moment_coeffs = " + _fmt(m.moment_coeffs)]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def evaluate(mtp, atoms):
    from argyro_run.potentials.train import predict

    return {**predict(mtp, atoms), "energies_eV": None}


def select_active_set(mtp, images, mode="neighborhood"):
    from argyro_run.potentials.maxvol import ActiveSet

    rows = np.concatenate([_rows(mtp, a) for a in images])
    A = ActiveSet(rows.shape[1])
    A.update(rows)
    return A


def grade(mtp, active, atoms):
    g = active.grades(_rows(mtp, atoms))
    return float(g.max()), g


def save_active_set(path, active):
    inv = np.asarray(active.inverse)
    with open(path, "w") as f:
        f.write(f"MTP active set v1\nmode neighborhood\nn_rows {len(inv)}\ninverse\n")
        f.write("\n".join(" ".join("%.17g" % x for x in r) for r in inv) + "\n")


def read_cfg(path, species=None):
    """The plugin's dumps: MLIP .cfg blocks with id, type, cartes_*, optional nbh_grades."""
    from ase import Atoms

    out, lines, k = [], open(path).read().splitlines(), 0
    while k < len(lines):
        if lines[k].strip() != "BEGIN_CFG":
            k += 1
            continue
        n = int(lines[k + 2])
        cell = np.array([[float(x) for x in lines[k + 4 + r].split()] for r in range(3)])
        hdr = lines[k + 7].split()[1:]
        rows = np.array([[float(x) for x in lines[k + 8 + i].split()] for i in range(n)])
        a = Atoms([species[int(t)] for t in rows[:, hdr.index("type")]],
                  positions=rows[:, [hdr.index(c) for c in ("cartes_x", "cartes_y", "cartes_z")]], cell=cell, pbc=True)
        if "nbh_grades" in hdr:
            a.arrays["grade"] = rows[:, hdr.index("nbh_grades")]
        out.append(a)
        k += 8 + n
    return out


def install() -> bool:
    """Put the stand-ins into ``sys.modules`` when the MTP core is absent; True if installed."""
    import importlib.util

    names = ["argyro_run.potentials.mtp", "argyro_run.potentials.evaluate", "argyro_run.potentials.grades",
             "argyro_run.potentials.cfg"]
    if all(importlib.util.find_spec(n) is not None for n in names):
        return False
    mods = {n: types.ModuleType(n) for n in names}
    mods[names[0]].__dict__.update(init_mtp=init_mtp, write_mtp=write_mtp, extend_level=extend_level)
    mods[names[1]].__dict__.update(site_basis=_rows, evaluate=evaluate)
    mods[names[2]].__dict__.update(select_active_set=select_active_set, grade=grade, save_active_set=save_active_set)
    mods[names[3]].__dict__.update(read_cfg=read_cfg)
    sys.modules.update(mods)
    import argyro_run.learning.loop as loop

    loop.require_components = lambda settings: None   # the stand-ins have no import spec
    return True
