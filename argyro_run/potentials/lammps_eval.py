"""Single-point MTP evaluations through LAMMPS and the ``pair_style mtp`` plugin
(``argyro-run mtp eval --engine lammps``): the same numbers as :mod:`evaluate`, computed by the
C++ code MD runs with."""

from __future__ import annotations

import numpy as np

NKTV2P = 1.6021765e6      # LAMMPS metal units: pressure (bar) * volume (A^3) -> eV


def _lammps_frame(cell: np.ndarray):
    """(cell in LAMMPS orientation: a || x, b in the xy plane; rotation R with cell @ R = new)."""
    from ase.geometry import cell_to_cellpar, cellpar_to_cell

    new = cellpar_to_cell(cell_to_cellpar(cell))
    R = np.linalg.solve(cell, new)
    return new, R


def lammps_evaluate(mtp_path, species: list[str], atoms, *, active_set=None, comm=None) -> dict:
    """Energy, forces, stress (ASE sign, Voigt), per-atom energies and (with ``active_set``, a
    file) per-atom grades of ``atoms`` from LAMMPS with the MTP plugin."""
    from argyro_run._stack import lammps_module
    from argyro_run.potentials.plugin import lammps_commands

    kw = {"comm": comm} if comm is not None else {}
    lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"], **kw)
    try:
        n = len(atoms)
        periodic = bool(np.all(atoms.pbc))
        pos = np.asarray(atoms.positions, dtype=float)
        lmp.command("units metal")
        lmp.command("atom_style atomic")
        lmp.command("atom_modify map array")
        if periodic:
            c, R = _lammps_frame(np.asarray(atoms.cell.array, dtype=float))
            pos = pos @ R
            lmp.command("boundary p p p")
            lmp.command(f"region b prism 0 {c[0, 0]:.17g} 0 {c[1, 1]:.17g} 0 {c[2, 2]:.17g} "
                        f"{c[1, 0]:.17g} {c[2, 0]:.17g} {c[2, 1]:.17g} units box")
        else:
            R = np.eye(3)
            lo, hi = pos.min(axis=0) - 50.0, pos.max(axis=0) + 50.0
            lmp.command("boundary f f f")
            lmp.command(f"region b block {lo[0]} {hi[0]} {lo[1]} {hi[1]} {lo[2]} {hi[2]} units box")
        lmp.command(f"create_box {len(species)} b")
        for t in range(len(species)):
            lmp.command(f"mass {t + 1} 1.0")
        index = {s: k for k, s in enumerate(species)}
        for p, s in zip(pos, atoms.get_chemical_symbols()):
            lmp.command(f"create_atoms {index[s] + 1} single {p[0]:.17g} {p[1]:.17g} {p[2]:.17g} units box remap yes")
        for c in lammps_commands(mtp_path, list(species), active_set=active_set):
            lmp.command(c)
        lmp.command("compute peat all pe/atom")
        lmp.command("compute vir all pressure NULL virial")
        lmp.command("thermo_style custom step pe vol c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6]")
        lmp.command("thermo_modify norm no")
        lmp.command("run 0")

        def by_id(values):
            ids = lmp.numpy.extract_atom("id")[:n]
            return np.asarray(values[:n])[np.argsort(ids)]

        e = float(lmp.get_thermo("pe"))
        f = by_id(np.array(lmp.numpy.extract_atom("f")[:n])) @ R.T
        ea = by_id(np.array(lmp.numpy.extract_compute("peat", 1, 1)[:n]))
        out = {"energy_eV": e, "forces_eV_per_A": f, "energies_eV": ea, "stress_eV_per_A3": None}
        if periodic:
            vec = lmp.numpy.extract_compute("vir", 0, 1)       # xx yy zz xy xz yz (bar)
            vol = float(lmp.get_thermo("vol"))
            v = np.array(vec, dtype=float) * vol / NKTV2P
            W = np.array([[v[0], v[3], v[4]], [v[3], v[1], v[5]], [v[4], v[5], v[2]]])
            W = R @ W @ R.T
            s = -W / vol
            out["stress_eV_per_A3"] = s[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        if active_set is not None:
            out["grades"] = by_id(np.array(lmp.numpy.extract_atom("d_mtp_grade")[:n]))
        return out
    finally:
        lmp.close()
