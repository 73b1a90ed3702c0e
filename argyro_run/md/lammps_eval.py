"""Single-point MTP evaluations through LAMMPS and the ``pair_style mtp`` plugin
(``argyro-run mtp eval --engine lammps``): the same numbers as :mod:`evaluate`, computed by the
C++ code MD runs with."""

from __future__ import annotations

import numpy as np

NKTV2P = 1.6021765e6      # LAMMPS metal units: pressure (bar) * volume (A^3) -> eV


def lammps_evaluate(mtp_path, species: list[str], atoms, *, active_set=None, comm=None) -> dict:
    """Energy, forces, stress (ASE sign, Voigt), per-atom energies and (with ``active_set``, a
    file) per-atom grades of ``atoms`` from LAMMPS with the MTP plugin."""
    from argyro_run._stack import lammps_module
    from argyro_run.md.lammps_io import create_structure
    from argyro_run.potentials.plugin import lammps_commands

    kw = {"comm": comm} if comm is not None else {}
    lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"], **kw)
    try:
        n = len(atoms)
        periodic = bool(np.all(atoms.pbc))
        lmp.command("units metal")
        lmp.command("atom_style atomic")
        lmp.command("atom_modify map array")
        R = create_structure(lmp, atoms, species)
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
