"""The MTP level-basis generator against MLIP's level templates: sizes for every level, identical
basis functions where templates are available, invariance, well-formed tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms

from argyro_run.potentials._train_engine import Basis, Frame
from argyro_run.potentials.basis import level_basis
from argyro_run.potentials.mtp import read_mtp

# MLIP's published level templates: (alpha_moments_count, alpha_scalar_moments, radial_funcs_count)
MLIP = {2: (1, 1, 1), 4: (2, 2, 1), 6: (8, 5, 2), 8: (18, 9, 2), 10: (41, 16, 3), 12: (84, 29, 3),
        14: (174, 52, 4), 16: (350, 92, 4), 18: (718, 163, 5), 20: (1352, 288, 5), 22: (2621, 500, 6),
        24: (4991, 864, 6), 26: (9396, 1464, 6)}


@pytest.mark.parametrize("level", sorted(MLIP))
def test_sizes_match_mlip_templates(level):
    b = level_basis(level)
    n_alpha, n_scalar, R = MLIP[level]
    assert b.alpha_scalar_moments == n_scalar
    assert b.radial_funcs_count == R
    # the same functions with at most as many intermediate components (more sharing from level 14)
    if level <= 12:
        assert b.alpha_moments_count == n_alpha
    else:
        assert 0.9 * n_alpha < b.alpha_moments_count <= n_alpha
    assert len(b.descriptions) == n_scalar and len(set(b.descriptions)) == n_scalar


@pytest.mark.parametrize("level", [2, 8, 16, 22])
def test_tables_well_formed(level):
    b = level_basis(level)
    nb, n = len(b.alpha_index_basic), b.alpha_moments_count
    t = b.alpha_index_times
    assert np.all(t[:, 0] < t[:, 3]) and np.all(t[:, 1] < t[:, 3]) and np.all(t[:, 3] >= nb)
    assert np.all(t[:, 2] >= 1)
    # every derived moment is computed, every moment is used by a basis function
    assert set(t[:, 3]) == set(range(nb, n))
    used = set(b.alpha_moment_mapping)
    for k1, k2, _, k3 in t[::-1]:
        if k3 in used:
            used |= {k1, k2}
    assert used == set(range(n))
    # basic rows: [mu, a, b, c] distinct, mu within the radial functions
    assert len({tuple(r) for r in b.alpha_index_basic}) == nb
    assert b.alpha_index_basic[:, 0].max() == b.radial_funcs_count - 1
    assert len(set(b.alpha_moment_mapping)) == b.alpha_scalar_moments


def _scalars(tables, atoms, rc):
    m = SimpleNamespace(alpha_index_basic=tables.alpha_index_basic, alpha_index_times=tables.alpha_index_times,
                        alpha_moment_mapping=tables.alpha_moment_mapping,
                        alpha_moments_count=tables.alpha_moments_count, species_coeffs=np.zeros(1),
                        radial_funcs_count=rc.shape[2], radial_basis_size=rc.shape[3], min_dist_A=1.0,
                        max_dist_A=5.0, scaling=1.0, radial_coeffs=rc, species=None)
    B = Basis.of(m)
    frame = Frame(B, atoms, np.zeros(len(atoms), int))
    _, _, M, _ = frame.moments(B, rc)
    return M


def _clusters(rng, count, n=9):
    out = []
    for _ in range(count):
        pos = rng.normal(size=(n, 3))
        pos *= (1.2 + 3.0 * rng.random((n, 1))) / np.linalg.norm(pos, axis=1)[:, None]
        pos[0] = 0.0
        out.append(Atoms(f"X{n}", positions=pos))
    return out


@pytest.mark.parametrize("level", ["02", "04", "06", "08", "10"])
def test_same_functions_as_mlip_templates(mlip_fixtures, level):
    """Every basis function of MLIP's template is one of ours (same values on random
    neighbourhoods with shared random radial functions), one to one."""
    mlip = read_mtp(mlip_fixtures / "crystals/noncubic" / level / "initial.mtp")
    ours = level_basis(int(level))
    rng = np.random.default_rng(int(level))
    rc = rng.normal(size=(1, 1, ours.radial_funcs_count, 6))
    cl = _clusters(rng, 12)
    A = np.array([_scalars(ours, c, rc)[0, ours.alpha_moment_mapping] for c in cl])
    B = np.array([_scalars(mlip, c, rc)[0, mlip.alpha_moment_mapping] for c in cl])
    assert A.shape == B.shape
    match = []
    for j in range(B.shape[1]):
        err = [np.abs(A[:, i] - B[:, j]).max() / np.abs(B[:, j]).max() for i in range(A.shape[1])]
        i = int(np.argmin(err))
        assert err[i] < 1e-12, (level, j)
        match.append(i)
    assert sorted(match) == list(range(A.shape[1]))


def test_rotation_invariance_level16():
    b = level_basis(16)
    rng = np.random.default_rng(1)
    rc = rng.normal(size=(1, 1, b.radial_funcs_count, 6))
    (a,) = _clusters(rng, 1, n=12)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    r = a.copy()
    r.positions = a.positions @ Q.T
    M0, M1 = _scalars(b, a, rc)[0], _scalars(b, r, rc)[0]
    s = b.alpha_moment_mapping
    np.testing.assert_allclose(M1[s], M0[s], rtol=1e-10, atol=1e-12 * np.abs(M0[s]).max())
    # the non-scalar components (vectors, tensors) do change under the rotation
    others = np.setdiff1d(np.arange(b.alpha_moments_count), s)
    changed = np.abs(M1[others] - M0[others]) > 1e-8 * (1 + np.abs(M0[others]))
    assert changed.mean() > 0.5


def test_bad_level():
    with pytest.raises(ValueError, match="allowed: even numbers 2..28"):
        level_basis(7)
