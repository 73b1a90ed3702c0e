"""``Result``: what every task returns, and what the runtime writes into the HDF5 archive.

A task function (``argyro_run/<stage>/tasks.py``) returns a :class:`Result`: a flat mapping of
relative dataset paths to numpy arrays, each with attributes (``units`` is mandatory, use
``"1"`` for dimensionless and ``""`` only for text/index data), plus group attributes. The
runtime pickles it to the writer rank and writes it below the task's archive group, so task
code never touches h5py or MPI collectives for I/O. Dependants receive their dependencies'
``Result`` objects (read back from the archive when resuming).

ASE ``Atoms`` travel as plain arrays through :func:`add_atoms` / :func:`get_atoms`, with every
per-atom array (e.g. ``gb_distance_A``, ``grain_id``, ``gb_normal``) kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Result:
    datasets: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, path: str, data, units: str, **attrs) -> np.ndarray:
        """Store ``data`` at relative ``path`` with its ``units`` (and other attributes)."""
        path = path.strip("/")
        if not path:
            raise ValueError("dataset path must not be empty")
        if isinstance(data, str):
            arr = np.asarray(data, dtype=object)
        else:
            arr = np.asarray(data)
        self.datasets[path] = arr
        self.attrs.setdefault(path, {}).update({"units": units, **attrs})
        return arr

    def set_attrs(self, path: str = "", **attrs) -> None:
        """Attributes of a group (``path=''`` is the task's own group) or dataset."""
        self.attrs.setdefault(path.strip("/"), {}).update(attrs)

    def get(self, path: str) -> np.ndarray:
        return self.datasets[path.strip("/")]

    def get_attrs(self, path: str = "") -> dict[str, Any]:
        return self.attrs.get(path.strip("/"), {})

    def __contains__(self, path: str) -> bool:
        return path.strip("/") in self.datasets

    def merge(self, other: "Result", prefix: str = "") -> None:
        """Copy ``other`` into this result below ``prefix``."""
        pre = prefix.strip("/")
        join = (lambda p: f"{pre}/{p}" if p else pre) if pre else (lambda p: p)
        for p, d in other.datasets.items():
            self.datasets[join(p)] = d
        for p, a in other.attrs.items():
            self.attrs.setdefault(join(p), {}).update(a)


def as_text(x) -> str:
    """A stored text value as ``str``: a ``str``/``bytes`` scalar or 0-d array (as written by
    :meth:`Result.add` or read back from the archive) is decoded; anything else goes through ``str``."""
    if isinstance(x, np.ndarray):
        x = x.item() if x.shape == () else x.tolist()
    return x.decode() if isinstance(x, bytes) else str(x)


_ATOMS_CORE = {"numbers", "positions", "cell", "pbc"}


def add_atoms(result: Result, prefix: str, atoms, **attrs) -> None:
    """Store an ASE ``Atoms`` (with all its per-atom arrays and ``info`` scalars) below ``prefix``."""
    pre = prefix.strip("/")
    result.add(f"{pre}/numbers", atoms.numbers.astype(np.int32), "")
    result.add(f"{pre}/positions", atoms.positions, "Angstrom")
    result.add(f"{pre}/cell", np.asarray(atoms.cell[:]), "Angstrom")
    result.add(f"{pre}/pbc", np.asarray(atoms.pbc, dtype=bool), "")
    for name, arr in atoms.arrays.items():
        if name in _ATOMS_CORE:
            continue
        units = "Angstrom" if name.endswith("_A") else ("1" if np.issubdtype(np.asarray(arr).dtype, np.floating) else "")
        result.add(f"{pre}/arrays/{name}", arr, units)
    info = {k: v for k, v in atoms.info.items() if isinstance(v, (int, float, str, bool, np.integer, np.floating))}
    result.set_attrs(pre, kind="atoms", chemical_formula=atoms.get_chemical_formula(), **info, **attrs)


def get_atoms(result: Result, prefix: str):
    """Rebuild the ASE ``Atoms`` stored by :func:`add_atoms`."""
    from ase import Atoms

    pre = prefix.strip("/")
    atoms = Atoms(
        numbers=result.get(f"{pre}/numbers"),
        positions=result.get(f"{pre}/positions"),
        cell=result.get(f"{pre}/cell"),
        pbc=result.get(f"{pre}/pbc"),
    )
    arr_pre = f"{pre}/arrays/"
    for path, data in result.datasets.items():
        if path.startswith(arr_pre) and "/" not in path[len(arr_pre):]:
            atoms.new_array(path[len(arr_pre):], np.asarray(data))
    for k, v in result.get_attrs(pre).items():
        if k not in ("kind", "chemical_formula"):
            atoms.info[k] = v
    return atoms
