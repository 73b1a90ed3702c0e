"""Initial training data: rattled and strained copies of each material's cells."""

from __future__ import annotations

import numpy as np


def rattled_and_strained(atoms, n: int, *, rattle_amplitude_A: float = 0.1, strain_amplitude: float = 0.02,
                         seed: int = 0, min_distance_A: float = 0.0, max_tries: int = 100) -> list:
    """``n`` copies of ``atoms`` with Gaussian displacements (std ``rattle_amplitude_A``) and a
    random symmetric strain (components uniform in +-``strain_amplitude``; positions follow the
    cell). Copies with an interatomic distance below ``min_distance_A`` are redrawn. Deterministic
    in ``seed``. Each copy carries ``info['origin']``.
    """
    from ase.geometry import get_distances

    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        for _ in range(max_tries):
            a = atoms.copy()
            a.calc = None
            e = rng.uniform(-strain_amplitude, strain_amplitude, size=(3, 3))
            e = 0.5 * (e + e.T)
            if a.pbc.any():
                a.set_cell(a.cell[:] @ (np.eye(3) + e), scale_atoms=True)
            a.positions += rng.normal(scale=rattle_amplitude_A, size=a.positions.shape)
            if min_distance_A > 0 and len(a) > 1:
                _, d = get_distances(a.positions, cell=a.cell, pbc=a.pbc)
                np.fill_diagonal(d, np.inf)
                if d.min() < min_distance_A:
                    continue
            a.info["origin"] = f"rattle{k}"
            out.append(a)
            break
        else:
            raise ValueError(f"could not draw a rattled copy with all distances >= {min_distance_A} A; "
                             "lower active_learning.rattle_amplitude_A")
    return out
