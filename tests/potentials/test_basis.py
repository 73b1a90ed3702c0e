"""The MTP level-basis generator against MLIP's level templates: sizes for every level, identical
basis functions where templates are available, invariance, well-formed tables."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms

from argyro_run.potentials.basis import LEVELS, describe, fingerprints, level_basis, level_of_scalar_count
from argyro_run.potentials.moments import Frame, MomentTables
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
    if level <= 16:  # MLIP's bookkeeping of intermediate components reproduced exactly
        assert b.alpha_moments_count == n_alpha
    else:  # the same functions with the cheapest elimination orders: fewer components than MLIP
        assert 0.9 * n_alpha < b.alpha_moments_count < n_alpha
    d = describe(b)
    assert len(d) == n_scalar and len(set(d)) == n_scalar and d == list(b.descriptions)


def test_level28_extrapolates_the_rule():
    b = level_basis(28)
    # 2455 contraction graphs of <= 4 moments with level <= 28, minus the 10 with mu = 6 or nu > 10
    assert (b.alpha_scalar_moments, b.radial_funcs_count) == (2445, 6)
    assert b.alpha_index_basic[:, 0].max() == 5 and (b.alpha_index_basic[:, 1:].sum(axis=1) <= 10).all()
    assert level_basis(28) is b  # cached


def test_level_of_scalar_count():
    for level, size in LEVELS.items():
        assert level_basis(level).alpha_scalar_moments == size.n_scalar and level_of_scalar_count(size.n_scalar) == level
    assert level_of_scalar_count(17) is None


def test_descriptions_of_the_mlip_level6_template():
    assert describe(level_basis(6)) == ["M(0,0)", "M(1,0)", "M(0,0)*M(0,0)", "M(0,1)·M(0,1)",
                                        "M(0,0)*M(0,0)*M(0,0)"]


@pytest.mark.parametrize("level", [2, 8, 16, 22, 28])
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
    B = MomentTables.of(m)
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


def _both(mlip_fixtures, level, count=12):
    mlip = read_mtp(mlip_fixtures / "crystals/noncubic" / level / "initial.mtp")
    ours = level_basis(int(level))
    rng = np.random.default_rng(int(level))
    rc = rng.normal(size=(1, 1, ours.radial_funcs_count, 6))  # shared random radial functions
    cl = _clusters(rng, count)
    A = np.array([_scalars(ours, c, rc)[0, ours.alpha_moment_mapping] for c in cl])
    B = np.array([_scalars(mlip, c, rc)[0, mlip.alpha_moment_mapping] for c in cl])
    return A, B


@pytest.mark.parametrize("level", ["02", "04", "06", "08", "10"])
def test_same_functions_as_mlip_templates(mlip_fixtures, level):
    """Every basis function of MLIP's template is one of ours (same values on random
    neighbourhoods with shared random radial functions), one to one."""
    A, B = _both(mlip_fixtures, level)
    assert A.shape == B.shape
    match = []
    for j in range(B.shape[1]):
        err = [np.abs(A[:, i] - B[:, j]).max() / np.abs(B[:, j]).max() for i in range(A.shape[1])]
        i = int(np.argmin(err))
        assert err[i] < 1e-12, (level, j)
        match.append(i)
    assert sorted(match) == list(range(A.shape[1]))


@pytest.mark.parametrize("level", ["06", "08", "10"])
def test_same_function_space_as_mlip_templates(mlip_fixtures, level):
    """Both sets of scalar values (neighbourhoods x basis functions) have the same rank and each
    spans the other (least-squares residual ~ 0)."""
    A, B = _both(mlip_fixtures, level, count=40)
    A, B = A / np.abs(A).max(axis=0), B / np.abs(B).max(axis=0)
    rank = np.linalg.matrix_rank
    assert rank(A, tol=1e-9) == rank(B, tol=1e-9) == rank(np.hstack([A, B]), tol=1e-9) == A.shape[1]
    for X, Y in ((A, B), (B, A)):
        coef = np.linalg.lstsq(X, Y, rcond=None)[0]
        assert np.abs(X @ coef - Y).max() < 1e-10


def _matches(fa, fb):
    """For each row of fa the row of fb equal to it (relative 1e-10), or -1."""
    out = []
    for row in fa:
        err = np.abs(fb - row).max(axis=1) / np.abs(row).max()
        j = int(np.argmin(err))
        out.append(j if err[j] < 1e-10 else -1)
    return np.array(out)


def test_fingerprints_identify_functions_across_levels_and_generators(mlip_fixtures):
    # every level-16 function is one of the level-18 functions, though plans may differ
    j = _matches(fingerprints(level_basis(16)), fingerprints(level_basis(18)))
    assert (j >= 0).all() and len(set(j)) == len(j)
    # MLIP's level-10 template: the same functions as ours, one to one
    mlip = read_mtp(mlip_fixtures / "crystals/noncubic/10/initial.mtp")
    j = _matches(fingerprints(mlip), fingerprints(level_basis(10)))
    assert sorted(j) == list(range(16))


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


@pytest.mark.parametrize("level", [7, 0, 30, 2.5, "8"])
def test_bad_level(level):
    with pytest.raises(ValueError, match=r"MTP level must be one of \[2, 4, .*, 28\]"):
        level_basis(level)
