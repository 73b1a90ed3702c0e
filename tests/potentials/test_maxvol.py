"""MaxVol selection and grades: dominance, optimality on small problems, determinant growth."""

import itertools

import numpy as np
import pytest

from argyro_run.potentials.maxvol import ActiveSet, grades, maxvol


def test_maxvol_rows_are_dominant_and_near_optimal():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(12, 3))
    idx = maxvol(B)
    A = B[idx]
    C = B @ np.linalg.inv(A)
    assert np.abs(C).max() <= 1.0 + 1e-6
    np.testing.assert_allclose(C[idx], np.eye(3), atol=1e-12)
    best = max(abs(np.linalg.det(B[list(s)])) for s in itertools.combinations(range(12), 3))
    # a dominant submatrix has volume at least best / m^(m/2) (Goreinov-Tyrtyshnikov); usually equal
    assert abs(np.linalg.det(A)) >= best / 3 ** 1.5


def test_grades_inside_and_outside_hull():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))
    inv = np.linalg.inv(A)
    w = np.array([0.3, -0.2, 0.5, 0.1])
    assert grades(w @ A, inv)[0] == pytest.approx(0.5)
    assert grades(3.0 * A[2], inv)[0] == pytest.approx(3.0)
    np.testing.assert_allclose(grades(A, inv), 1.0)


def test_active_set_grows_determinant_and_keeps_inverse_exact():
    rng = np.random.default_rng(2)
    s = ActiveSet(5)
    dets = [s.log_abs_det()]
    for batch in range(4):
        X = rng.normal(size=(20, 5)) * (1 + batch)
        s.update(X)
        dets.append(s.log_abs_det())
        np.testing.assert_allclose(s.inverse @ s.rows, np.eye(5), atol=1e-8)
        # after an update every candidate is interpolated (grade <= threshold)
        assert s.grades(X).max() <= 1.0 + 1e-3 + 1e-9
    assert all(b >= a for a, b in zip(dets, dets[1:]))
    assert s.filled.all()


def test_unseen_direction_has_huge_grade_and_cap_is_respected():
    s = ActiveSet(3, eps=1e-6)
    X = np.array([[1.0, 0, 0], [0, 1.0, 0], [2.0, 0, 0], [0, 0, 5.0]])
    chosen = s.update(X[:3], max_select=1)
    assert len(chosen) == 1
    assert s.grades(np.array([[0, 0, 1.0]]))[0] > 1e5
    chosen = s.update(X)
    assert s.grades(X).max() <= 1.0 + 1e-3
