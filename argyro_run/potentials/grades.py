"""Extrapolation grades of an MTP: MaxVol active sets (MLIP's D-optimality criterion) in
neighbourhood or configuration mode, grades of configurations and atoms, active-set files.

Rows (see :func:`argyro_run.potentials.evaluate.site_basis`): per atom ``[one-hot(type),
B_alpha(i)]``; in configuration mode one row per configuration, the sum over its atoms. The grade
of a row x is gamma = max_j |(x A^-1)_j| with A the active set (gamma <= 1: interpolation).

Active-set file (read by the LAMMPS plugin ``pair_style mtp ... active_set FILE``)::

    MTP active set v1
    mode neighborhood|configuration
    n_rows N
    inverse
    <N*N numbers, row-major A^-1>
    rows
    <N*N numbers, row-major A>        (argyro-run only; lets learning continue from the file)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from argyro_run.potentials.evaluate import site_basis
from argyro_run.potentials.maxvol import ActiveSet

MODES = ("neighborhood", "configuration")


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"active-set mode must be one of {MODES}, got {mode!r}")
    return mode


def rows_of(mtp, atoms, mode: str = "neighborhood") -> np.ndarray:
    """The MaxVol rows of one configuration: (n, S+ns) per atom or (1, S+ns) summed."""
    R = site_basis(mtp, atoms)
    return R if _check_mode(mode) == "neighborhood" else R.sum(axis=0, keepdims=True)


def select_active_set(mtp, images, mode: str = "neighborhood", *, threshold: float = 1.0 + 1e-3) -> ActiveSet:
    """MaxVol active set of all rows of ``images`` (greedy swaps from ``eps*I`` until no row has a
    coefficient above ``threshold``; with enough distinct rows every basis direction is filled).
    The set remembers its ``mode`` and, in ``labels``, (image index, atom index or -1)."""
    _check_mode(mode)
    rows, labels = [], []
    for k, a in enumerate(images):
        R = rows_of(mtp, a, mode)
        rows.append(R)
        labels += [(k, i) for i in range(len(R))] if mode == "neighborhood" else [(k, -1)]
    S = len(np.asarray(mtp.species_coeffs))
    n_basis = S + len(np.asarray(mtp.alpha_moment_mapping))
    active = ActiveSet(n_basis)
    if rows:
        active.update(np.concatenate(rows), threshold=threshold, labels=labels)
    active.mode = mode
    return active


def grade(mtp, active, atoms) -> tuple[float, np.ndarray]:
    """(gamma of the configuration, per-atom gammas). Neighbourhood mode: the configuration's
    grade is the largest atom's; configuration mode: one grade from the summed row, per-atom
    grades are 0 (as the LAMMPS plugin reports them)."""
    mode = getattr(active, "mode", "neighborhood")
    if mode == "configuration":
        g = float(active.grades(rows_of(mtp, atoms, mode)).max())
        return g, np.zeros(len(atoms))
    per_atom = active.grades(rows_of(mtp, atoms))
    return float(per_atom.max(initial=0.0)), per_atom


def format_active_set(active, mode: str | None = None) -> str:
    mode = _check_mode(mode or getattr(active, "mode", "neighborhood"))
    inv = np.asarray(active.inverse, dtype=float)
    rows = np.asarray(active.rows, dtype=float)
    n = len(inv)
    out = ["MTP active set v1", f"mode {mode}", f"n_rows {n}", "inverse"]
    out += [" ".join("%.17g" % x for x in r) for r in inv]
    out.append("rows")
    out += [" ".join("%.17g" % x for x in r) for r in rows]
    return "\n".join(out) + "\n"


def save_active_set(path, active, mode: str | None = None) -> None:
    """Write ``active`` (its inverse for the plugin, and its rows) to ``path`` atomically."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(format_active_set(active, mode), encoding="utf-8")
    tmp.replace(p)


def parse_active_set(text: str, *, source: str = "<text>") -> ActiveSet:
    tokens = text.split()
    if text.splitlines()[:1] != ["MTP active set v1"] or len(tokens) < 10:
        raise ValueError(f"{source}: not an 'MTP active set v1' file")
    words = tokens[4:]
    if words[0] != "mode" or words[2] != "n_rows" or words[4] != "inverse":
        raise ValueError(f"{source}: bad header (expected 'mode M', 'n_rows N', 'inverse')")
    mode = _check_mode(words[1])
    n = int(words[3])
    vals = words[5:]
    if len(vals) < n * n:
        raise ValueError(f"{source}: truncated inverse ({len(vals)} of {n * n} numbers)")
    inv = np.array([float(x) for x in vals[:n * n]]).reshape(n, n)
    rest = vals[n * n:]
    active = ActiveSet(n)
    active.inverse = inv
    if rest and rest[0] == "rows" and len(rest) >= 1 + n * n:
        active.rows = np.array([float(x) for x in rest[1:1 + n * n]]).reshape(n, n)
    else:
        active.rows = np.linalg.inv(inv)
    active.filled[:] = True
    active.mode = mode
    return active


def load_active_set(path) -> ActiveSet:
    p = Path(path)
    return parse_active_set(p.read_text(encoding="utf-8"), source=str(p))
