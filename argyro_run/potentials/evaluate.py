"""MTP energies, forces, stresses and site-basis rows in Python (vectorised numpy); the ASE
calculator over them is :class:`argyro_run.potentials.calculator.MTPCalculator`.

Forward pass per atom: basic moments m_i[a] = sum_j f_mu_a(d_ij) u^a (a monomial of the unit
vector), then ``alpha_index_times`` products. Backward (reverse mode) pass: the adjoint of every
moment given the moment coefficients, so dE/dr_ij = adj_i[a] * d(m_i[a] term)/dr_ij costs one
pass over the pairs, whatever the level. Forces F_k = -dE/dx_k; the virial W = -sum_p r_p (x) dE/dr_p
and the ASE stress = -W / V (Voigt xx yy zz yz xz xy).

The coefficient-independent per-pair quantities (radial basis, monomials and their derivatives)
come from the training engine's :class:`~argyro_run.potentials.moments.Frame`; the
contraction and its adjoint are done here, independently of the trainer's design rows (the
tests compare both with each other and with MLIP's reference numbers).
"""

from __future__ import annotations

import numpy as np

from argyro_run.potentials.moments import Frame, MomentTables, atom_types


def _forward(basis: MomentTables, frame: Frame, c: np.ndarray):
    """Basic-moment pair contributions' radial factors and all moments (n, n_alpha)."""
    C = c.reshape(basis.S * basis.S, basis.R, basis.B)[frame.pt]            # (P, R, B)
    f = np.matmul(C, frame.Q[:, :, None])[..., 0]                            # (P, R)
    df = np.matmul(C, frame.dQ[:, :, None])[..., 0]
    fa, dfa = f[:, frame.mu], df[:, frame.mu]                                # (P, nb)
    M = np.zeros((frame.n, basis.n_alpha))
    M[:, :basis.nb] = frame.sum_i @ (fa * frame.mono)
    for lv in basis.levels:
        M[:, lv.out] += (lv.mult * M[:, lv.k1] * M[:, lv.k2]) @ lv.sel
    return fa, dfa, M


def _adjoint(basis: MomentTables, M: np.ndarray, moment_coeffs: np.ndarray) -> np.ndarray:
    """dE_i / dM_i[k] for every moment k (reverse pass over ``alpha_index_times``)."""
    adj = np.zeros_like(M)
    np.add.at(adj, (slice(None), basis.mapping), np.broadcast_to(moment_coeffs, (M.shape[0], basis.ns)))
    for lv in basis.levels[::-1]:
        a3 = lv.mult * adj[:, lv.k3]
        adj += np.concatenate([a3 * M[:, lv.k2], a3 * M[:, lv.k1]], axis=1) @ lv.sel12
    return adj


def evaluate(mtp, atoms) -> dict:
    """Energy (eV), forces (eV/A, (n, 3)), stress (eV/A^3, Voigt xx yy zz yz xz xy, ASE sign;
    None unless periodic in all directions), per-atom energies (eV) and the virial (eV, 3x3) of
    ``atoms`` with ``mtp``."""
    basis = MomentTables.of(mtp)
    types = atom_types(mtp, atoms)
    frame = Frame(basis, atoms, types)
    c = np.asarray(mtp.radial_coeffs, dtype=float)
    fa, dfa, M = _forward(basis, frame, c)
    mc = np.asarray(mtp.moment_coeffs, dtype=float)
    e_atoms = np.asarray(mtp.species_coeffs, dtype=float)[types] + M[:, basis.mapping] @ mc
    g = _adjoint(basis, M, mc)[:, :basis.nb]                                 # dE_i/dm_i
    gi = g[frame.i]                                                          # (P, nb)
    # dE/dr_p = sum_a gi[a] (dfa[a] mono[a] u + fa[a] dmono[a])
    radial = np.sum(gi * dfa * frame.mono, axis=1)                           # (P,)
    dEdr = radial[:, None] * frame.u + np.einsum("pa,pax->px", gi * fa, frame.dmono)
    forces = -(frame.incidence @ dEdr)
    virial = -(frame.r.T @ dEdr) if frame.P else np.zeros((3, 3))
    virial = 0.5 * (virial + virial.T)
    stress = None
    if frame.pbc:
        s = -virial / frame.volume
        stress = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    return {"energy_eV": float(e_atoms.sum()), "forces_eV_per_A": np.asarray(forces),
            "stress_eV_per_A3": stress, "energies_eV": e_atoms, "virial_eV": virial}


def site_basis(mtp, atoms) -> np.ndarray:
    """Per-atom rows ``[one-hot(type) (S), B_alpha(i) (ns)]``: the derivative of each site energy
    with respect to the linear coefficients (species_coeffs, moment_coeffs). These are the rows
    MaxVol active sets and extrapolation grades use (neighbourhood mode; their sum over atoms in
    configuration mode), the same as the LAMMPS plugin's."""
    basis = MomentTables.of(mtp)
    types = atom_types(mtp, atoms)
    frame = Frame(basis, atoms, types)
    _, _, M = _forward(basis, frame, np.asarray(mtp.radial_coeffs, dtype=float))
    rows = np.zeros((len(atoms), basis.S + basis.ns))
    rows[np.arange(len(atoms)), types] = 1.0
    rows[:, basis.S:] = M[:, basis.mapping]
    return rows
