"""Supercells and structure files (any format ASE reads; extxyz/CIF/POSCAR written), and what a
structure file says about its material (:func:`structure_summary`: elements, counts, cell,
whether it is an Li6PS5X argyrodite)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from argyro_run.errors import UserError
from argyro_run.structures.argyrodite import HALIDES, ion_units
from argyro_run.structures.ions import FORMAL_CHARGE

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
            "ordered configuration; for an Li6PS5X argyrodite, leaving structure_file unset uses the "
            "built-in builder (it chooses one Li per 48h pair and applies site_disorder itself).")


def read_structure(path, *, index=None) -> Atoms:
    """Read one structure with ``ase.io.read`` (format from the file name), reject partial
    occupancies (CIF) with a :class:`UserError`, and attach ``unit_id`` (PS4 units)."""
    from ase.io import read

    p = Path(path)
    if not p.is_file():
        raise UserError(f"materials.structure_file: {p} does not exist")
    # parallel=False: ASE's default reads on its MPI rank 0 and broadcasts over COMM_WORLD, a
    # collective that desynchronises the ranks when one task on one rank reads a file
    kw = {"parallel": False, **({"index": index} if index is not None else {})}
    try:
        if p.suffix.lower() == ".cif":
            atoms = read(p, store_tags=True, **kw)
        else:
            atoms = read(p, **kw)
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
    if len(atoms) == 0:
        raise UserError(f"materials.structure_file: {p} contains no atoms")
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(FORMAL_CHARGE))
    if unknown:
        raise UserError(f"materials.structure_file: {p} contains {unknown}, which have no formal charge here; "
                        f"allowed elements: {', '.join(FORMAL_CHARGE)}")
    if not all(atoms.pbc) or atoms.cell.rank != 3:
        raise UserError(f"materials.structure_file: {p} is not periodic in 3D")
    _align_cubic(atoms)
    atoms.arrays["unit_id"] = ion_units(atoms)
    atoms.info["source_file"] = str(p)
    return atoms


def _align_cubic(atoms: Atoms, tol: float = 1e-4) -> None:
    """A cubic cell (a = b = c, right angles) that is rotated in space is turned to the axes
    x, y, z (fractional coordinates kept), as the grain-boundary builder needs."""
    par = atoms.cell.cellpar()
    a = float(par[0])
    if np.allclose(par[:3], a, rtol=tol) and np.allclose(par[3:], 90.0, atol=1e-3) \
            and not np.allclose(atoms.cell[:], np.eye(3) * a, atol=1e-6):
        atoms.set_cell(np.eye(3) * a, scale_atoms=True)


@dataclass(frozen=True)
class StructureSummary:
    """What a structure file says about its material (read once per file version)."""

    path: str
    elements: tuple[str, ...]        #: in order of first appearance in the file
    counts: dict                     #: element -> atoms in the cell
    n_atoms: int
    volume_A3: float
    cellpar: tuple[float, ...]       #: a, b, c (Angstrom), alpha, beta, gamma (degrees)
    formal_charge: int               #: sum of formal charges (0 if neutral)
    is_cubic: bool                   #: a = b = c and right angles (the CSL builder's lattices)
    is_argyrodite: bool              #: Li6PS5X composition with the F-43m anion framework
    halides: tuple[str, ...]         #: halides present

    def formula(self) -> str:
        return "".join(f"{e}{self.counts[e] if self.counts[e] > 1 else ''}" for e in self.elements)


def is_argyrodite(atoms: Atoms, *, symprec: float = 0.1) -> bool:
    """True for an Li6PS5X argyrodite (X = Cl, Br, I, possibly mixed, possibly with halide/S2-
    site exchange): composition Li : P : S : X = 6 : 1 : 5 : 1 and an anion framework (Li
    removed, halides counted as one species) of space group F-43m (216), spglib with
    ``symprec`` (Angstrom). For a site-exchanged cell the free S2- and the halides are counted
    as one species (the 4a/4c sites then form one orbit pair of the same F-43m framework)."""
    import spglib

    sym = np.array(atoms.get_chemical_symbols())
    counts = {e: int((sym == e).sum()) for e in set(sym)}
    n_x = sum(counts.get(h, 0) for h in HALIDES)
    if set(counts) - {"Li", "P", "S", *HALIDES} or n_x == 0:
        return False
    if not (counts.get("P", 0) == n_x and counts.get("Li", 0) == 6 * n_x and counts.get("S", 0) == 5 * n_x):
        return False
    frame = sym != "Li"
    numbers = atoms.numbers.copy()
    numbers[np.isin(sym, HALIDES)] = 17
    cell = np.asarray(atoms.cell[:])
    frac = atoms.get_scaled_positions()

    def sg(nums) -> int:
        ds = spglib.get_symmetry_dataset((cell, frac[frame], nums[frame]), symprec=symprec)
        return int(ds.number) if ds is not None else 0

    if sg(numbers) == 216:
        return True
    try:
        uid = ion_units(atoms)
    except UserError:  # S shared by two P: not the PS4 framework of an argyrodite
        return False
    free_s = (sym == "S") & (np.bincount(uid)[uid] == 1)
    numbers[free_s] = 17
    return sg(numbers) == 216


@functools.lru_cache(maxsize=64)
def _summary(path: str, _mtime_ns: int, _size: int) -> StructureSummary:
    atoms = read_structure(path)
    sym = atoms.get_chemical_symbols()
    elements = tuple(dict.fromkeys(sym))
    par = atoms.cell.cellpar()
    cubic = bool(np.allclose(par[:3], par[0], rtol=1e-4) and np.allclose(par[3:], 90.0, atol=1e-3))
    return StructureSummary(
        path=path, elements=elements, counts={e: sym.count(e) for e in elements}, n_atoms=len(atoms),
        volume_A3=float(atoms.get_volume()), cellpar=tuple(float(x) for x in par),
        formal_charge=int(sum(FORMAL_CHARGE[s] for s in sym)), is_cubic=cubic,
        is_argyrodite=is_argyrodite(atoms), halides=tuple(e for e in elements if e in HALIDES))


def structure_summary(path) -> StructureSummary:
    """:class:`StructureSummary` of a structure file (cached per path, modification time and
    size). Raises :class:`UserError` as :func:`read_structure` does."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"materials.structure_file: {p} does not exist")
    st = p.stat()
    return _summary(str(p.resolve()), st.st_mtime_ns, st.st_size)


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
    if fmt == "vasp":  # parallel=False: write from the calling rank (ASE's default: only its rank 0)
        write(p, out, format="vasp", direct=True, sort=False, parallel=False)
    else:
        write(p, out, format=fmt, parallel=False)
    return p
