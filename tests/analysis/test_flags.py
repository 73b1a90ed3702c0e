"""Honest-MD flags: a run is diffusive when the mobile-ion MSD at the end of the fit window reaches
a few hops (``MIN_DIFFUSIVE_MSD_A2``); an Arrhenius fit needs ``MIN_DIFFUSIVE_TEMPERATURES`` of
them to be 'ok', uses only those when there are enough, and is flagged 'unreliable' otherwise, in
the archive, the run summary and the report. Trajectories: random walks of known D (diffusive)
and atoms rattling in their cages (Gaussian jitter around fixed sites: the MSD saturates at
6 sigma^2, the slope is noise)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from argyro_run.analysis.diffusion import (
    MIN_DIFFUSIVE_MSD_A2,
    MIN_DIFFUSIVE_TEMPERATURES,
    diffusivity,
    fit_quality,
    is_diffusive,
    msd_at_lag_A2,
)
from argyro_run.analysis.tasks import run_arrhenius, run_diffusion
from argyro_run.results import Result
from tests._support.archive import write_results

KB = 8.617333262e-5
D0, EA = 1e-6, 0.30                     # m^2/s, eV: 600 K -> MSD(10 ps) ~ 18 A^2, 800 K ~ 78 A^2
ANALYSIS = {"species": "Li", "n_blocks": 4, "fit_start_ps": 2.0, "fit_end_ps": 10.0, "collective": False,
            "haven_ratio": 1.0, "gb_width_A": 6.0}
DT, FRAMES, ATOMS = 0.25, 401, 80


def _md(T, pos):
    r = Result()
    r.add("time_ps", np.arange(len(pos)) * DT, "ps")
    r.add("trajectory/positions_A", pos, "Angstrom")
    r.add("trajectory/numbers", np.full(pos.shape[1], 3, dtype=np.int32), "")
    r.add("trajectory/cell_A", np.eye(3) * 20.0, "Angstrom")
    r.set_attrs("", temperature_K=float(T), structure="s")
    return r


def walk(T, seed):
    D_A2_ps = D0 * math.exp(-EA / (KB * T)) * 1e8
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=math.sqrt(2 * D_A2_ps * DT), size=(FRAMES - 1, ATOMS, 3))
    return _md(T, np.concatenate([np.zeros((1, ATOMS, 3)), np.cumsum(steps, axis=0)]))


def rattle(T, seed, sigma_A=0.5):
    rng = np.random.default_rng(seed)
    sites = rng.uniform(0, 20, (1, ATOMS, 3))
    return _md(T, sites + rng.normal(scale=sigma_A, size=(FRAMES, ATOMS, 3)))


def analyse(runs):
    md = {f"md/M/s/T{T:g}": r for T, r in runs}
    ana = run_diffusion({"analysis": ANALYSIS, "structure": "s", "material": "M"}, md, None, None)
    return ana, run_arrhenius({"material": "M"}, {"analysis/M/s": ana}, None, None)


def test_msd_at_fit_end_of_a_walk_and_a_cage():
    rng = np.random.default_rng(3)
    D = 0.5                                                        # A^2/ps
    steps = rng.normal(scale=math.sqrt(2 * D * DT), size=(FRAMES - 1, 200, 3))
    x = np.concatenate([np.zeros((1, 200, 3)), np.cumsum(steps, axis=0)])
    r = diffusivity(x, DT, fit_start_ps=2.0, fit_end_ps=10.0, n_blocks=4)
    assert msd_at_lag_A2(r["lag_ps"], r["msd_A2"], 10.0) == pytest.approx(6 * D * 10.0, rel=0.1)
    cage = rng.normal(scale=0.5, size=(FRAMES, 200, 3))
    r = diffusivity(cage, DT, fit_start_ps=2.0, fit_end_ps=10.0, n_blocks=4)
    assert msd_at_lag_A2(r["lag_ps"], r["msd_A2"], 10.0) == pytest.approx(6 * 0.25, rel=0.1)   # 2 sigma^2 x 3


def test_threshold_and_quality_rules():
    m = MIN_DIFFUSIVE_MSD_A2
    assert is_diffusive([m * 0.999, m, 3 * m, np.nan]).tolist() == [False, True, True, False]
    n = MIN_DIFFUSIVE_TEMPERATURES
    assert fit_quality([True] * n)[0] and not fit_quality([True] * (n - 1) + [False] * 3)[0]
    ok, why = fit_quality([True] * n, usable=[True] * (n - 1) + [False])    # a non-positive D does not count
    assert not ok and f"only {n - 1} of {n}" in why


def test_rattling_runs_are_flagged_and_their_fit_unreliable():
    ana, arr = analyse([(T, rattle(T, i)) for i, T in enumerate((500.0, 600.0, 700.0))])
    assert ana.get("diffusive").tolist() == [False, False, False]
    assert np.all(ana.get("msd_fit_end_A2") < MIN_DIFFUSIVE_MSD_A2) and ana.get_attrs("")["n_diffusive"] == 0
    at = arr.get_attrs("fits/bulk")
    assert at["fit_quality"] == "unreliable" and "only 0 of 3" in at["fit_quality_reason"]
    assert "fits/bulk" in arr.get_attrs("")["notes"]       # flagged, or no fit at all (noise slopes <= 0)


def test_fit_uses_only_the_diffusive_temperatures_when_there_are_enough():
    temps = (400.0, 450.0, 600.0, 700.0, 800.0)
    runs = [(T, rattle(T, 10 + i) if T < 500 else walk(T, i)) for i, T in enumerate(temps)]
    ana, arr = analyse(runs)
    assert ana.get("diffusive").tolist() == [False, False, True, True, True]
    assert arr.get_attrs("fits/bulk")["fit_quality"] == "ok"
    used = arr.get("fits/bulk/used_in_fit")
    assert used.tolist() == [False, False, True, True, True]
    Ea, err = float(arr.get("fits/bulk/Ea_eV")), float(arr.get("fits/bulk/Ea_eV_err"))
    assert Ea == pytest.approx(EA, abs=3 * err + 0.02)
    assert arr.get_attrs("fits/bulk")["n_temperatures"] == 3


def _with_framework(r, displacement_A, limit_A=1.0):
    r.add("framework/host_displacement_A", np.array([0.0, displacement_A]), "Angstrom")
    r.set_attrs("framework", host_displacement_A=displacement_A, max_host_displacement_A=limit_A,
                framework_stable=bool(displacement_A <= limit_A))
    return r


def test_a_melted_framework_is_left_out_or_the_fit_flagged():
    """A temperature whose host framework moved (md/framework.py) is left out, even though it diffuses:
    the fit equals the fit without it, and the reason names it; with too few stable temperatures the
    fit uses every point and is 'unreliable', naming the unstable ones."""
    temps = (600.0, 700.0, 800.0, 900.0)
    runs = [(T, _with_framework(walk(T, 20 + i), 2.5 if T == 900.0 else 0.2)) for i, T in enumerate(temps)]
    ana, arr = analyse(runs)
    assert ana.get("diffusive").tolist() == [True] * 4
    assert ana.get("framework_stable").tolist() == [True, True, True, False]
    assert np.allclose(ana.get("host_displacement_A"), [0.2, 0.2, 0.2, 2.5])
    assert arr.get("fits/bulk/used_in_fit").tolist() == [True, True, True, False]
    at = arr.get_attrs("fits/bulk")
    assert at["fit_quality"] == "ok" and "900 K" in at["fit_quality_reason"] and "melted" in at["fit_quality_reason"]
    _, ref = analyse(runs[:3])
    assert float(arr.get("fits/bulk/Ea_eV")) == pytest.approx(float(ref.get("fits/bulk/Ea_eV")), rel=1e-12)
    # two stable temperatures left: every point fitted, flagged unreliable with the unstable ones named
    runs2 = [(T, _with_framework(walk(T, 30 + i), 0.2 if T < 800.0 else 3.0)) for i, T in enumerate(temps)]
    _, arr2 = analyse(runs2)
    at2 = arr2.get_attrs("fits/bulk")
    assert at2["fit_quality"] == "unreliable" and "at 800 K, 900 K" in at2["fit_quality_reason"]
    assert arr2.get("fits/bulk/used_in_fit").tolist() == [True] * 4
    assert arr2.get("fits/bulk/framework_stable").tolist() == [True, True, False, False]


def test_summary_and_report_mark_unreliable_fits(tmp_path):
    from argyro_run.report import figures as F
    from argyro_run.report import make_report
    from argyro_run.report.build import arrhenius_series
    from argyro_run.report.collect import collect
    from argyro_run.report.tasks import run_summary

    # a slow walk at 500 K: positive D, but MSD(10 ps) ~ 6 A^2, below a few hops
    ana, arr = analyse([(500.0, walk(500.0, 1)), (600.0, walk(600.0, 2)), (700.0, walk(700.0, 3))])
    assert "fits/bulk unreliable: only 2 of 3" in arr.get_attrs("")["notes"]
    text = str(run_summary({"run": {"name": "t"}}, {"analysis/M/s": ana, "arrhenius/M": arr}, None, None).get("text"))
    line = [x for x in text.splitlines() if x.strip().startswith("M ") and "bulk" in x][0]
    assert line.rstrip().endswith("UNRELIABLE")
    assert "UNRELIABLE M bulk: only 2 of 3 temperatures diffusive" in text and "not diffusive at T = 500 K" in text
    path = tmp_path / "a.h5"
    write_results(path, "flags", [("analysis/M/s", "diffusion", ana), ("arrhenius/M", "arrhenius", arr)])
    rep = make_report(path, tmp_path / "rep")
    md = rep.summary.read_text()
    assert "| M | bulk | **UNRELIABLE** | 500 K |" in md
    (_, series), = arrhenius_series(collect(path))
    assert series[0]["label"].endswith("[UNRELIABLE fit]")
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, series)
    assert F.mark_non_diffusive(ax, series) == 1
    (x,) = [ln for ln in ax.get_lines() if ln.get_gid() == "nondiffusive:bulk"]
    assert x.get_xdata()[0] == pytest.approx(2.0)                 # 1000 / 500 K


def test_an_improper_or_runaway_bayesian_fit_is_refused():
    """``fit_problem``: kinisi's sampler is only meaningful with a positive-definite covariance of the
    fitted MSD points, and its line must go through the MSD it was fitted to (ordered Li6PS5I at
    700 K: posterior slope 8e4 A^2/ps for an MSD of 4-9 A^2). A covariance singular to round-off is fine."""
    from argyro_run.analysis.diffusion import fit_problem

    lag = np.linspace(10.0, 40.0, 31)
    y = 2.0 + 0.15 * lag
    good = np.diag(0.01 * lag)
    assert fit_problem(good, lag, y, 0.15, 2.0) == ""
    assert fit_problem(good, lag, y, 0.16, 1.8) == ""                         # a little off: fine
    bad = good.copy()
    bad[0, 1] = bad[1, 0] = 1.0                                               # |c01| > sqrt(c00 c11): indefinite
    assert "not positive semi-definite" in fit_problem(bad, lag, y, 0.15, 2.0)
    singular = np.outer(np.ones(31), np.ones(31)) + np.diag(np.r_[1e-17, np.zeros(30)])     # rank 1 + round-off
    assert fit_problem(singular, lag, y, 0.15, 2.0) == ""
    assert "misses the MSD" in fit_problem(good, lag, y, 8.4e4, -2.2e6)       # the runaway posterior
    assert "misses the MSD" in fit_problem(good, lag, y, float("nan"), 2.0)


def test_runs_of_different_lengths_each_get_their_own_default_window():
    """md.production_ps per temperature: the analysis cuts each run into its own blocks, so with the
    default window (a fifth to a half of a block) the long cold run is fitted over longer lags than
    the short hot one, and both recover the walk's D."""
    an = {k: v for k, v in ANALYSIS.items() if k not in ("fit_start_ps", "fit_end_ps")}
    rng = np.random.default_rng(11)
    md = {}
    for T, frames in ((600.0, 2 * FRAMES - 1), (800.0, FRAMES)):
        D_A2_ps = D0 * math.exp(-EA / (KB * T)) * 1e8
        steps = rng.normal(scale=math.sqrt(2 * D_A2_ps * DT), size=(frames - 1, ATOMS, 3))
        md[f"md/M/s/T{T:g}"] = _md(T, np.concatenate([np.zeros((1, ATOMS, 3)), np.cumsum(steps, axis=0)]))
    ana = run_diffusion({"analysis": an, "structure": "s", "material": "M"}, md, None, None)
    windows = {T: ana.get_attrs(f"msd/T{T:g}") for T in (600.0, 800.0)}
    # 801 samples / 4 blocks: blocks of 199 lags of 0.25 ps; 401 samples: 99 lags (the window snaps to samples)
    for T, lags in ((600.0, 199), (800.0, 99)):
        for key, frac in (("fit_end_ps", 0.5), ("fit_start_ps", 0.2)):
            assert abs(windows[T][key] - frac * lags * DT) < DT, (T, key, windows[T])
    D = np.asarray(ana.get("D_m2_per_s"))
    De = np.asarray(ana.get("D_err_m2_per_s"))
    truth = D0 * np.exp(-EA / (KB * np.array([600.0, 800.0])))
    assert np.all(np.abs(D - truth) < 4 * De), (D, De, truth)
