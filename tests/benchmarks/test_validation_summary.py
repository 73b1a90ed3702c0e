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


def test_ln_d300_sd_propagates_the_arrhenius_covariance():
    """sd of ln D(300 K) = ln D0 - Ea/(k 300 K) from the fit's (ln D0, Ea) covariance: exact for
    uncorrelated parameters, and checked against sampling for correlated ones (the correlation of
    an Arrhenius fit is strong and positive, so it shrinks the extrapolation's error)."""
    vs = _module()
    from argyro_run.analysis.diffusion import K_B_EV

    x = 1.0 / (K_B_EV * 300.0)
    assert vs._ln_d300_sd({"cov_lnD0_Ea": [[0.04, 0.0], [0.0, 1e-4]]}) == pytest.approx(np.sqrt(0.04 + 1e-4 * x * x))
    cov = np.array([[2.0, 0.15], [0.15, 0.012]])
    draws = np.random.default_rng(0).multivariate_normal([0.0, 0.3], cov, 200_000)
    sampled = np.std(draws[:, 0] - draws[:, 1] * x)
    assert vs._ln_d300_sd({"cov_lnD0_Ea": cov.tolist()}) == pytest.approx(sampled, rel=0.01)
    assert vs._ln_d300_sd({"cov_lnD0_Ea": cov.tolist()}) < np.sqrt(cov[0, 0] + cov[1, 1] * x * x)


def test_claim_b_line_exact_and_weighted():
    vs = _module()
    r = np.array([1.81, 1.96, 2.20])
    fit = vs._weighted_line(r, 0.1 + 0.5 * r, np.array([0.01, 0.02, 0.01]))
    assert fit["slope_eV_per_A"] == pytest.approx(0.5, rel=1e-10) and fit["R2"] == pytest.approx(1.0, abs=1e-12)
    assert fit["intercept_eV"] == pytest.approx(0.1, rel=1e-9) and fit["weighted"]
    # one point off the line: the better-known points pull the line; slope error from the weights
    e = 0.1 + 0.5 * r + np.array([0.0, 0.03, 0.0])
    loose, tight = (vs._weighted_line(r, e, np.array([0.01, s, 0.01])) for s in (0.1, 0.001))
    assert abs(loose["slope_eV_per_A"] - 0.5) < abs(tight["slope_eV_per_A"] - 0.5) and loose["R2"] < 1.0
    w = 1.0 / np.array([0.01, 0.1, 0.01]) ** 2
    sxx = np.sum(w * (r - np.sum(w * r) / np.sum(w)) ** 2)
    assert loose["slope_err_eV_per_A"] == pytest.approx(1.0 / np.sqrt(sxx), rel=1e-10)
    assert not vs._weighted_line(r, e, np.array([0.0, 0.1, 0.1]))["weighted"]


def test_carry_takes_incomplete_claims_whole_from_the_earlier_summary():
    """--carry: a claim whose halides or FE are missing comes whole from the earlier summary (its
    Cl entry too: never a mix of two studies), with its top-level keys; a complete new claim stays;
    a material without an archive gets its run facts back; everything carried is listed."""
    vs = _module()
    old = {"claims": {"a": {"x": "old"}, "b": {"Ea_eV": {"Cl": 0.1, "Br": 0.2, "I": 0.3}},
                      "b_ordered": {"Ea_eV": {"Cl": 0.4, "Br": 0.5, "I": 0.6}}, "c": {"LPSI_ordered": {"r": 1}},
                      "d": {"curvature_K2": [1.0]}},
           "Ea_eV": {"Cl": 0.1, "Br": 0.2, "I": 0.3}, "Ea_eV_err": {"Cl": 0.01}, "Ea_linear_fit_R2": 0.5,
           "Ea_eV_ordered": {"Cl": 0.4}, "Ea_eV_ordered_err": {}, "Ea_linear_fit_R2_ordered": 0.9,
           "LPSI_curvature_K2": {"20nm": 1.0}, "LPSI_curvature_K2_err": {"20nm": 2.0},
           "runs": {"LPSCl": "old", "LPSBr": "oldBr"}, "framework": {"LPSI": "oldI"}}
    new = {"claims": {"a": {"x": "new"}, "b": {"Ea_eV": {"Cl": 0.9}},
                      "b_ordered": {"Ea_eV": {"Cl": 0.7, "Br": 0.8, "I": 0.85}}, "c": {"ordered": {}},
                      "d": {"missing": "no FE"}},
           "Ea_eV": {"Cl": 0.9}, "Ea_eV_err": {"Cl": 0.09}, "Ea_linear_fit_R2": None,
           "Ea_eV_ordered": {"Cl": 0.7}, "Ea_eV_ordered_err": {}, "Ea_linear_fit_R2_ordered": 0.1,
           "LPSI_curvature_K2": None, "LPSI_curvature_K2_err": None, "runs": {"LPSCl": "new"}, "framework": {}}
    s = vs.carry(new, old, "summary_old.json")
    assert s["claims"]["a"] == {"x": "new"} and s["claims"]["b_ordered"] == new["claims"]["b_ordered"]
    assert s["claims"]["b"] == old["claims"]["b"] and s["Ea_eV"] == old["Ea_eV"] and s["Ea_linear_fit_R2"] == 0.5
    assert s["Ea_linear_fit_R2_ordered"] == 0.1
    assert s["claims"]["d"] == old["claims"]["d"] and s["LPSI_curvature_K2_err"] == {"20nm": 2.0}
    assert s["claims"]["c"] == {"ordered": {}, "LPSI_ordered": {"r": 1}}
    assert s["runs"] == {"LPSCl": "new", "LPSBr": "oldBr"} and s["framework"] == {"LPSI": "oldI"}
    assert s["carried_from"] == {k: "summary_old.json" for k in ("claims.b", "claims.d", "claims.c.LPSI_ordered",
                                                                 "runs.LPSBr", "framework.LPSI")}
    assert new["Ea_eV"] == {"Cl": 0.9}                          # the input is not changed


def test_claim_c_takes_the_ordered_gb_and_its_bulk_from_one_archive(monkeypatch, tmp_path):
    """claim_c's ordered row comes from the folder it is given for the ordered GB (GB and bulk of that
    one archive, its source named), the disordered row from --runs; without a GB there the ordered
    GB is listed as not run."""
    mod = _module()
    gb_key = f"structures/{mod.GB_NAMES['ordered']}/tracer/Ea_eV"
    dis_key = f"structures/{mod.GB_NAMES['disordered']}/tracer/Ea_eV"
    keys = {"runs": {dis_key}, "with_gb": {gb_key}, "without_gb": set()}
    monkeypatch.setattr(mod, "_archive", lambda folder, x: (folder.name, x))
    monkeypatch.setattr(mod, "_arrhenius", lambda arch, m: (keys[arch[0]], f"arrhenius/{m}@{arch[0]}"))
    monkeypatch.setattr(mod, "_gb_row", lambda res, phase, gb: {"row_of": sorted(res), "phase": phase})
    c = mod.claim_c(tmp_path / "runs", tmp_path / "with_gb")
    assert c["ordered"]["row_of"] == [gb_key] and c["ordered"]["source"].endswith("with_gb: arrhenius/LPSCl@with_gb")
    assert c["disordered"]["row_of"] == [dis_key]
    c = mod.claim_c(tmp_path / "runs", tmp_path / "without_gb")
    assert "ordered" not in c and c["not_run"] == [f"LPSCl/{mod.GB_NAMES['ordered']}"]


def test_claim_b_takes_the_intercage_barrier_of_each_halide(monkeypatch, tmp_path):
    """Where the arrhenius results carry the jump-rate fits (analysis/tasks.py), claim b lists each
    halide's intercage Ea and the line through them: exact on rates built with Ea = 0.1 + 0.5 r."""
    from argyro_run.analysis.diffusion import K_B_EV
    from argyro_run.analysis.tasks import _fit_into, _jump_rate_fits
    from argyro_run.results import Result

    mod = _module()
    T = np.array([600.0, 700.0, 800.0, 900.0])
    results = {}
    for x, r in mod.SHANNON_RADIUS_A.items():
        ea = 0.1 + 0.5 * r
        res, analysis = Result(), Result()
        D = 1e-7 * np.exp(-0.3 / (K_B_EV * T))
        _fit_into(res, "structures/ordered/tracer", T, D, 0.05 * D, n_carriers=24, volume_A3=958.6, haven_ratio=1.0)
        rate = 50.0 * np.exp(-ea / (K_B_EV * T))
        analysis.add("temperatures_K", T, "K")
        analysis.add("jumps/rate_per_ps", np.column_stack([rate, rate, rate]), "1/ps")
        analysis.add("jumps/rate_err_per_ps", np.column_stack([0.1 * rate] * 3), "1/ps")
        _jump_rate_fits(res, "structures/ordered/jumps", analysis, None)
        results[mod.MATERIAL[x]] = res
    monkeypatch.setattr(mod, "_archive", lambda folder, x: x)
    monkeypatch.setattr(mod, "_arrhenius", lambda arch, m: (results[m], f"arrhenius/{m}"))
    b = mod.claim_b(tmp_path, "ordered")
    for x, r in mod.SHANNON_RADIUS_A.items():
        assert b["Ea_intercage_eV"][x] == pytest.approx(0.1 + 0.5 * r, rel=1e-9)
        assert b["Ea_eV"][x] == pytest.approx(0.3, rel=1e-9)
    assert b["linear_fit_intercage"]["slope_eV_per_A"] == pytest.approx(0.5, rel=1e-8)
    assert b["linear_fit_intercage"]["R2"] == pytest.approx(1.0, abs=1e-10)
