"""Diffusion analysis on synthetic data with known answers (argyro_run.analysis.diffusion).

Asserted: the all-origins MSD of a ballistic trajectory is exactly (v tau)^2; random walks with a
known D give D back within their block-averaged error bars, and those error bars are calibrated
(coverage over independent repeats); walks restricted to a plane give the in-plane D and zero
normal D; the collective MSD of perfectly correlated walkers is N times the tracer MSD; GB
membership is exact for fixed positions (periodic images included); the Arrhenius fit recovers
Ea and D0 exactly from exact data and with calibrated errors from noisy data; Nernst-Einstein
conductivity against a hand calculation with CODATA constants from scipy.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import constants as sc

from argyro_run.analysis.diffusion import arrhenius_fit, collective_msd, conductivity_mS_per_cm, diffusivity, gb_membership, msd

K_B_EV = sc.k / sc.e


def random_walk(D_A2_per_ps, dt_ps, n_steps, n_atoms, rng, dims=(0, 1, 2)):
    """(T, N, 3) Brownian trajectory: Gaussian steps of variance 2 D dt per active component."""
    steps = np.zeros((n_steps, n_atoms, 3))
    for k in dims:
        steps[:, :, k] = rng.normal(0.0, np.sqrt(2 * D_A2_per_ps * dt_ps), (n_steps, n_atoms))
    x = np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(steps, axis=0)])
    return x + rng.uniform(0, 10, (1, n_atoms, 3))


def test_msd_ballistic_exact():
    dt, v = 0.1, np.array([0.3, -1.2, 2.0])
    t = np.arange(50) * dt
    x = t[:, None, None] * v[None, None, :] + np.arange(4)[None, :, None]   # 4 atoms, same velocity
    m = msd(x, max_lag=20)
    lag = np.arange(21) * dt
    np.testing.assert_allclose(m, (lag[:, None] * v[None, :]) ** 2, rtol=1e-12, atol=1e-14)


def test_random_walk_3d_recovers_D():
    rng = np.random.default_rng(7)
    D = 0.05                                               # A^2/ps = 5e-10 m^2/s
    x = random_walk(D, 0.1, 2000, 64, rng)
    r = diffusivity(x, 0.1, fit_start_ps=2.0, fit_end_ps=20.0, n_blocks=5)
    assert r["D_err_m2_per_s"] > 0
    assert abs(r["D_m2_per_s"] - D * 1e-8) < 4 * r["D_err_m2_per_s"]
    assert abs(r["D_m2_per_s"] / (D * 1e-8) - 1) < 0.1
    # the whole-run MSD is linear with slope 6 D per component sum
    lag, m = r["lag_ps"], r["msd_A2"].sum(axis=1)
    assert np.allclose(m[1:40], 6 * D * lag[1:40], rtol=0.1)


def test_random_walk_error_bars_are_calibrated():
    """Over independent repeats |D - D_true| < err in about 63 % of cases (Student t, 4 dof)."""
    rng = np.random.default_rng(11)
    D, hits, pulls = 0.02, 0, []
    n = 150
    for _ in range(n):
        x = random_walk(D, 0.1, 500, 16, rng)
        r = diffusivity(x, 0.1, fit_start_ps=1.0, fit_end_ps=5.0, n_blocks=5)
        pull = (r["D_m2_per_s"] - D * 1e-8) / r["D_err_m2_per_s"]
        pulls.append(pull)
        hits += abs(pull) < 1
    assert 0.5 < hits / n < 0.78, hits / n
    assert abs(np.median(pulls)) < 0.5          # unbiased


def test_planar_walk_components():
    rng = np.random.default_rng(3)
    D = 0.04
    x = random_walk(D, 0.1, 1500, 48, rng, dims=(0, 1))   # confined to the xy plane
    par = diffusivity(x, 0.1, fit_start_ps=2.0, fit_end_ps=10.0, n_blocks=5, components=(0, 1))
    perp = diffusivity(x, 0.1, fit_start_ps=2.0, fit_end_ps=10.0, n_blocks=5, components=(2,))
    tot = diffusivity(x, 0.1, fit_start_ps=2.0, fit_end_ps=10.0, n_blocks=5)
    assert abs(par["D_m2_per_s"] - D * 1e-8) < 4 * par["D_err_m2_per_s"]
    assert perp["D_m2_per_s"] == 0.0                        # exactly: no motion along z
    np.testing.assert_allclose(tot["D_m2_per_s"], 2.0 / 3.0 * par["D_m2_per_s"], rtol=1e-12)


def test_collective_msd_correlated_and_independent():
    rng = np.random.default_rng(5)
    one = random_walk(0.05, 0.1, 400, 1, rng)
    together = np.repeat(one, 10, axis=1) + rng.uniform(0, 5, (1, 10, 3))   # same displacement for all
    np.testing.assert_allclose(collective_msd(together, 30), 10 * msd(together, 30), rtol=1e-10)
    indep = random_walk(0.05, 0.1, 3000, 32, rng)
    r = diffusivity(indep, 0.1, fit_start_ps=1.0, fit_end_ps=5.0, n_blocks=5, collective=True)
    # uncorrelated carriers: D_sigma = D_tracer within the (much larger) collective error
    assert abs(r["collective_D_m2_per_s"] - r["D_m2_per_s"]) < 4 * np.hypot(r["collective_D_err_m2_per_s"],
                                                                            r["D_err_m2_per_s"])


def test_gb_membership_exact():
    period, planes = 20.0, [5.0, 15.0]
    z = np.array([5.0, 7.9, 8.1, 10.0, 15.0, 12.5, 19.9, -4.0])   # -4 is the image of 16
    x = np.zeros((3, len(z), 3))
    x[:, :, 2] = z
    x[1, 1, 2] = 10.0                                            # atom 1 leaves the slab in one of 3 samples
    frac = gb_membership(x, planes, period, width_A=6.0)
    np.testing.assert_allclose(frac, [1, 2 / 3, 0, 0, 1, 1, 0, 1])


def test_arrhenius_exact_and_prediction():
    Ea, D0 = 0.25, 3e-7
    T = np.array([500.0, 600.0, 700.0, 800.0])
    D = D0 * np.exp(-Ea / (K_B_EV * T))
    f = arrhenius_fit(T, D, 0.05 * D)
    assert f["Ea_eV"] == pytest.approx(Ea, rel=1e-9)
    assert f["D0_m2_per_s"] == pytest.approx(D0, rel=1e-8)
    assert f["chi2"] == pytest.approx(0.0, abs=1e-12)
    d300, e300 = f["predict"](300.0)
    assert d300 == pytest.approx(D0 * np.exp(-Ea / (K_B_EV * 300.0)), rel=1e-8)
    # error of the extrapolation grows away from the data: larger relative error at 300 K than at 650 K
    d650, e650 = f["predict"](650.0)
    assert e300 / d300 > 2 * e650 / d650


def test_arrhenius_error_bars_are_calibrated():
    rng = np.random.default_rng(2)
    Ea, D0 = 0.3, 1e-7
    T = np.array([450.0, 550.0, 650.0, 750.0, 850.0])
    Dtrue = D0 * np.exp(-Ea / (K_B_EV * T))
    rel = 0.1
    pulls = []
    for _ in range(300):
        D = Dtrue * np.exp(rng.normal(0, rel, len(T)))
        f = arrhenius_fit(T, D, rel * D)
        pulls.append((f["Ea_eV"] - Ea) / f["Ea_eV_err"])
    pulls = np.array(pulls)
    # errors that are right: scaling by the Birge ratio where chi2/dof > 1 (about half the fits) makes
    # the intervals a little conservative, never optimistic
    assert abs(pulls.mean()) < 0.2
    assert 0.75 < pulls.std() < 1.05
    assert np.mean(np.abs(pulls) <= 1.96) >= 0.95
    # without errors: residual-scaled covariance, same order of magnitude
    f = arrhenius_fit(T, Dtrue * np.exp(rng.normal(0, rel, len(T))))
    assert not f["weighted"] and 0 < f["Ea_eV_err"] < 0.2


def test_arrhenius_error_grows_with_a_scatter_the_errors_do_not_explain():
    """Points scattering 5x beyond their stated errors (the errors 5x too small): chi2/dof ~ 25, and
    Ea's error is the unscaled one times sqrt(chi2/dof) exactly, so the pulls are calibrated again.
    With chi2/dof <= 1 nothing is scaled (exact data: chi2 = 0)."""
    rng = np.random.default_rng(4)
    Ea, D0 = 0.3, 1e-7
    T = np.array([450.0, 550.0, 650.0, 750.0, 850.0])
    Dtrue = D0 * np.exp(-Ea / (K_B_EV * T))
    pulls = []
    for _ in range(300):
        D = Dtrue * np.exp(rng.normal(0, 0.1, len(T)))
        f = arrhenius_fit(T, D, 0.02 * D)
        A = np.column_stack([np.ones_like(T), -1.0 / (K_B_EV * T)])
        raw = np.linalg.inv(A.T @ A / 0.02 ** 2)                      # the unscaled covariance
        if f["chi2"] / f["dof"] > 1:
            assert f["error_scale"] == pytest.approx(np.sqrt(f["chi2"] / f["dof"]), rel=1e-12)
            assert f["Ea_eV_err"] == pytest.approx(np.sqrt(raw[1, 1]) * f["error_scale"], rel=1e-9)
        pulls.append((f["Ea_eV"] - Ea) / f["Ea_eV_err"])
    pulls = np.array(pulls)
    assert np.mean(np.abs(pulls) <= 1.96) >= 0.85                      # unscaled: ~0.3 (errors 5x small)
    exact = arrhenius_fit(T, Dtrue, 0.05 * Dtrue)
    assert exact["error_scale"] == 1.0


def test_arrhenius_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        arrhenius_fit([500.0], [1e-10])
    with pytest.raises(ValueError, match="positive"):
        arrhenius_fit([500.0, 600.0], [1e-10, -1e-11])


def test_conductivity_nernst_einstein_by_hand():
    # Li6PS5Cl: 24 Li in a 9.86 A cubic cell, D = 1e-11 m^2/s at 300 K
    n = 24 / (9.86e-10) ** 3
    sigma_S_per_m = n * sc.e ** 2 * 1e-11 / (sc.k * 300.0)
    got = conductivity_mS_per_cm(1e-11, 300.0, 24, 9.86 ** 3)
    assert got == pytest.approx(sigma_S_per_m * 10.0, rel=1e-8)      # 1 S/m = 10 mS/cm
    assert conductivity_mS_per_cm(1e-11, 300.0, 24, 9.86 ** 3, haven_ratio=0.5) == pytest.approx(2 * got)
    assert got == pytest.approx(15.5, rel=0.01)                       # 1.55 S/m
