"""Supercells and structure files (any format ASE reads; extxyz/CIF/POSCAR written)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from ase import Atoms

from argyro_run.errors import UserError
from argyro_run.structures.argyrodite import FORMAL_CHARGE, HALIDES, ion_units

log = logging.getLogger(__name__)

#: output format name (ase.io) per file suffix
WRITE_FORMATS = {".extxyz": "extxyz", ".xyz": "extxyz", ".cif": "cif", ".vasp": "vasp", ".poscar": "vasp"}


def make_supercell(atoms: Atoms, reps) -> Atoms:
    """``atoms`` repeated ``reps`` = (n1, n2, n3) times (or a 3x3 integer matrix), keeping every
    per-atom array; ``unit_id`` is renumbered so each copy of a unit stays a separate unit."""
    reps_arr = np.asarray(reps, dtype=int)
    if reps_arr.shape == (3,):
        if np.any(reps_arr < 1):
            raise UserError(f"supercell: repetitions must be >= 1, found {list(reps_arr)}")
        out = atoms.repeat(tuple(int(r) for r in reps_arr))
    elif reps_arr.shape == (3, 3):
        det = round(abs(np.linalg.det(reps_arr)))
        if det < 1:
            raise UserError(f"supercell: matrix {reps_arr.tolist()} is singular")
        from ase.build import make_supercell as _ase_supercell

        out = _ase_supercell(atoms, reps_arr, wrap=True)
    else:
        raise UserError(f"supercell: expected 3 integers or a 3x3 matrix, found {reps!r}")
    if "unit_id" in atoms.arrays:
        # geometric, not per copy: an S wrapped across the cell belongs to a P of another copy
        out.arrays["unit_id"] = ion_units(out)
    out.info = dict(atoms.info)
    out.info["supercell"] = " ".join(str(x) for x in reps_arr.ravel())
    return out


def _check_occupancies(atoms: Atoms, path: Path) -> None:
    occ = atoms.info.get("occupancy")
    if not occ:
        return
    labels = atoms.info.get("_atom_site_label")
    bad = []
    for kind, species in occ.items():
        total = sum(species.values())
        if len(species) > 1 or abs(total - 1.0) > 1e-3:
            try:
                name = labels[int(kind)] if labels is not None else f"site {kind}"
            except (IndexError, ValueError):
                name = f"site {kind}"
            bad.append(f"{name} ({', '.join(f'{s} {o:g}' for s, o in species.items())})")
    if bad:
        raise UserError(
            f"materials.structure_file: {path} has partially occupied sites: {'; '.join(bad)}. "
            "Resolve the disorder first (one species per site, occupancy 1), e.g. export one "
            "ordered configuration, or leave structure_file unset to use the built-in builder "
            "(it chooses one Li per 48h pair and applies site_disorder itself).")


def read_structure(path, *, index=None) -> Atoms:
    """Read one structure with ``ase.io.read`` (format from the file name), reject partial
    occupancies (CIF) with a :class:`UserError`, and attach ``unit_id`` (PS4 units)."""
    from ase.io import read

    p = Path(path)
    if not p.is_file():
        raise UserError(f"materials.structure_file: {p} does not exist")
    try:
        if p.suffix.lower() == ".cif":
            atoms = read(p, store_tags=True) if index is None else read(p, index=index, store_tags=True)
        else:
            atoms = read(p) if index is None else read(p, index=index)
    except Exception as exc:  # ase raises many types for unreadable files
        raise UserError(f"materials.structure_file: cannot read {p}: {exc}") from None
    if isinstance(atoms, list):
        atoms = atoms[-1]
    _check_occupancies(atoms, p)
    for k in [k for k in atoms.info if k.startswith("_")]:
        del atoms.info[k]
    atoms.info.pop("occupancy", None)
    atoms.info.pop("spacegroup", None)
    if "spacegroup_kinds" in atoms.arrays:
        del atoms.arrays["spacegroup_kinds"]
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(FORMAL_CHARGE))
    if unknown:
        raise UserError(f"materials.structure_file: {p} contains {unknown}; allowed elements: "
                        f"Li, P, S, {', '.join(HALIDES)}")
    if not all(atoms.pbc):
        raise UserError(f"materials.structure_file: {p} is not periodic in 3D")
    atoms.arrays["unit_id"] = ion_units(atoms)
    atoms.info["source_file"] = str(p)
    return atoms


def write_structure(path, atoms: Atoms) -> Path:
    """Write ``atoms`` in the format of the suffix (.extxyz/.xyz keep every per-atom array;
    .cif; .vasp/.poscar or a file named POSCAR/CONTCAR)."""
    from ase.io import write

    p = Path(path)
    fmt = WRITE_FORMATS.get(p.suffix.lower())
    if fmt is None and p.name.upper() in ("POSCAR", "CONTCAR"):
        fmt = "vasp"
    if fmt is None:
        raise UserError(f"output: unknown structure format {p.suffix!r}; allowed: "
                        f"{', '.join(sorted(WRITE_FORMATS))} or a file named POSCAR")
    p.parent.mkdir(parents=True, exist_ok=True)
    out = atoms.copy()
    out.info = {k: v for k, v in atoms.info.items() if isinstance(v, (int, float, str, bool, np.integer, np.floating))}
    if fmt == "vasp":
        write(p, out, format="vasp", direct=True, sort=False)
    else:
        write(p, out, format=fmt)
    return p
