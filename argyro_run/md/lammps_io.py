"""The one bridge between ASE ``Atoms`` and LAMMPS (metal units, ``atom_style atomic``, one
LAMMPS type per MTP species in ``species`` order).

LAMMPS keeps a cell with a along x and b in the xy plane: :func:`lammps_frame` gives that cell
and the rotation ``R`` (lab positions @ R = LAMMPS positions). A structure enters a LAMMPS instance
through :func:`create_structure` (box, masses, atoms through the library interface; used by MD
and single-point evaluations) or, for the explorations of the active-learning loop, through the
data file of :func:`write_data_file` read with ``read_data`` (kept as its own route: its masses
and positions pass through ASE's unit conversion and text, so switching would change those
trajectories at round-off, which chaotic MD amplifies). :func:`box_vectors`,
:func:`unwrapped_positions` and :func:`current_atoms` read the state back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def lammps_frame(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cell in LAMMPS orientation: a || x, b in the xy plane; rotation R with cell @ R = new)."""
    from ase.geometry import cell_to_cellpar, cellpar_to_cell

    new = cellpar_to_cell(cell_to_cellpar(cell))
    R = np.linalg.solve(cell, new)
    return new, R


def type_indices(atoms, species: list[str]) -> list[int]:
    """LAMMPS type (1-based) of every atom; ValueError naming the elements not in ``species``."""
    index = {s: k for k, s in enumerate(species)}
    missing = sorted(set(atoms.get_chemical_symbols()) - set(index))
    if missing:
        raise ValueError(f"elements {missing} are not species of the potential {species}")
    return [index[s] + 1 for s in atoms.get_chemical_symbols()]


def create_structure(lmp, atoms, species: list[str], *, periodic: bool | None = None, vacuum_A: float = 50.0
                     ) -> np.ndarray:
    """Box, masses (ASE's, per species) and atoms of ``atoms`` in ``lmp`` (after ``units metal``,
    ``atom_style atomic``, ``atom_modify map array``; atom ids 1..n in the order of ``atoms``).
    ``periodic`` (default: ``atoms.pbc`` in all directions): the cell in the LAMMPS frame; else a
    fixed box ``vacuum_A`` beyond the atoms. Returns the rotation R (lab @ R = LAMMPS frame)."""
    from ase.data import atomic_masses, atomic_numbers

    types = type_indices(atoms, species)
    pos = np.asarray(atoms.positions, dtype=float)
    if bool(np.all(atoms.pbc)) if periodic is None else periodic:
        cell, R = lammps_frame(np.asarray(atoms.cell.array, dtype=float))
        pos = pos @ R
        lmp.command("boundary p p p")
        lmp.command(f"region box prism 0 {cell[0, 0]:.17g} 0 {cell[1, 1]:.17g} 0 {cell[2, 2]:.17g} "
                    f"{cell[1, 0]:.17g} {cell[2, 0]:.17g} {cell[2, 1]:.17g} units box")
    else:
        R = np.eye(3)
        lo, hi = pos.min(axis=0) - vacuum_A, pos.max(axis=0) + vacuum_A
        lmp.command("boundary f f f")
        lmp.command(f"region box block {lo[0]} {hi[0]} {lo[1]} {hi[1]} {lo[2]} {hi[2]} units box")
    lmp.command(f"create_box {len(species)} box")
    for t, s in enumerate(species):
        lmp.command(f"mass {t + 1} {atomic_masses[atomic_numbers[s]]:.8g}")
    n = len(atoms)
    lmp.create_atoms(n, list(range(1, n + 1)), types, pos.reshape(-1).tolist())
    return R


def write_data_file(path: Path, atoms, species: list[str]) -> None:
    """``atoms`` as a LAMMPS data file (ASE's writer: types in ``species`` order, masses) for ``read_data``."""
    from ase.io import write

    a = atoms.copy()
    a.calc = None
    write(path, a, format="lammps-data", specorder=species, masses=True, atom_style="atomic", parallel=False)


def box_vectors(lmp) -> np.ndarray:
    """The cell of ``lmp`` now (rows a, b, c; LAMMPS frame)."""
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    lx, ly, lz = (boxhi[k] - boxlo[k] for k in range(3))
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def unwrapped_positions(lmp, n: int, box: np.ndarray) -> np.ndarray:
    """Unwrapped positions (LAMMPS frame) ordered by atom id, on every rank."""
    x = np.array(lmp.gather_atoms("x", 1, 3), dtype=float).reshape(n, 3)
    img = np.array(lmp.gather_atoms("image", 0, 3), dtype=float).reshape(n, 3)
    return x + img @ box


def current_atoms(lmp, species: list[str], unwrapped: bool = False):
    """The configuration in ``lmp`` now (atom id order, LAMMPS frame, origin at the box corner);
    ``unwrapped``: also the array ``unwrapped`` (:func:`unwrapped_positions`, from the same gather)."""
    from ase import Atoms

    n = lmp.get_natoms()
    x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
    t = np.ctypeslib.as_array(lmp.gather_atoms("type", 0, 1), shape=(n,)).copy()
    boxlo = np.array(lmp.extract_box()[0])
    box = box_vectors(lmp)
    a = Atoms(symbols=[species[i - 1] for i in t], positions=x - boxlo, cell=box, pbc=True)
    if unwrapped:
        img = np.array(lmp.gather_atoms("image", 0, 3), dtype=float).reshape(n, 3)
        a.arrays["unwrapped"] = x + img @ box
    return a
