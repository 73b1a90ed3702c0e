"""``benchmarks/validation_summary.py``: the numbers docs/validation.md quotes come from these
fits; exact cases."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests._support.env import REPO


def _module():
    spec = importlib.util.spec_from_file_location("validation_summary", REPO / "benchmarks" / "validation_summary.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_curvature_of_an_exact_quadratic_in_inverse_temperature():
    vs = _module()
    T = np.linspace(250.0, 500.0, 11)
    a, b, c = -18.0, -2300.0, -4.0e5
    c_fit, err, p = vs._lsq_curvature(T, np.exp(a + b / T + c / T ** 2))
    assert c_fit == pytest.approx(c, rel=1e-8) and err < 1e-3 * abs(c)
    np.testing.assert_allclose(p, [a, b, c], rtol=1e-7)
    c0, _, _ = vs._lsq_curvature(T, np.exp(a + b / T))            # Arrhenius: no curvature
    assert abs(c0) < 1e-6 * abs(c)


def test_ratio_error_is_the_relative_errors_in_quadrature():
    vs = _module()
    r, e = vs._ratio(6.0, 0.6, 2.0, 0.4)
    assert r == 3.0 and e == pytest.approx(3.0 * np.hypot(0.1, 0.2), rel=1e-12)
