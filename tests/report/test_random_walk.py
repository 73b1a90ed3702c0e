"""Report of the analysis stage on random walks of known D(T): analysis task functions on synthetic MD
results, written through the archive writer, then the report: the Arrhenius numbers and line are
the walks' (independent check), and a single temperature gives points without a fit, said why."""

import math

import numpy as np
import pytest

from argyro_run.analysis.tasks import run_arrhenius, run_diffusion
from argyro_run.archive import open_archive
from argyro_run.report import figures as F
from argyro_run.report import make_report
from argyro_run.report.build import arrhenius_series
from argyro_run.report.collect import collect
from argyro_run.results import Result
from tests._support.archive import write_results
from tests._support.report import num, tables

KB = 8.617333262e-5
D0, EA = 1e-7, 0.30                                     # m^2/s, eV
ANALYSIS = {"species": "Li", "n_blocks": 4, "fit_start_ps": 2.0, "fit_end_ps": 10.0, "collective": False,
            "haven_ratio": 1.0, "gb_width_A": 6.0}


def walk(T, seed, n_atoms=120, n_frames=401, dt_ps=0.25):
    D_A2_ps = D0 * math.exp(-EA / (KB * T)) * 1e8
    rng = np.random.default_rng(seed)
    steps = rng.normal(scale=math.sqrt(2 * D_A2_ps * dt_ps), size=(n_frames - 1, n_atoms, 3))
    pos = np.concatenate([np.zeros((1, n_atoms, 3)), np.cumsum(steps, axis=0)])
    r = Result()
    r.add("time_ps", np.arange(n_frames) * dt_ps, "ps")
    r.add("trajectory/positions_A", pos, "Angstrom")
    r.add("trajectory/numbers", np.full(n_atoms, 3, dtype=np.int32), "")
    r.add("trajectory/cell_A", np.eye(3) * 20.0, "Angstrom")
    r.set_attrs("", temperature_K=float(T), structure="walk")
    return r


def build(tmp_path, temps):
    md = {f"md/M/walk/T{T:g}": walk(T, seed=i) for i, T in enumerate(temps)}
    ana = run_diffusion({"analysis": ANALYSIS, "structure": "walk", "material": "M"}, md, None, tmp_path)
    arr = run_arrhenius({"material": "M"}, {"analysis/M/walk": ana}, None, tmp_path)
    path = tmp_path / "walk.h5"
    return write_results(path, "walks", [("analysis/M/walk", "diffusion", ana), ("arrhenius/M", "arrhenius", arr)])


def test_three_temperatures_give_the_walks_activation_energy(tmp_path):
    path = build(tmp_path, [500.0, 650.0, 800.0])
    rep = make_report(path, tmp_path / "rep")
    assert {"arrhenius", "msd_M_walk"} <= set(rep.figures)
    t = tables(rep.summary.read_text())
    (fit,) = t["Arrhenius fits"][0]
    a = open_archive(path)
    assert num(fit["Ea [eV]"]) == pytest.approx(float(a["/arrhenius/M/fits/bulk/Ea_eV"]), rel=1e-3)
    assert num(fit["Ea [eV]"]) == pytest.approx(EA, abs=3 * num(fit["Ea err [eV]"]) + 0.01)   # the walks' Ea
    D300 = D0 * math.exp(-EA / (KB * 300.0))
    assert math.log10(num(fit["D(300 K) [m²/s]"])) == pytest.approx(math.log10(D300), abs=0.3)
    (title, series), = arrhenius_series(collect(path))
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, series)
    ln = [x for x in ax.get_lines() if x.get_gid() == "fit:bulk"][0]
    slope = np.polyfit(ln.get_xdata(), ln.get_ydata(), 1)[0]
    assert -slope * 1000 * math.log(10) * KB == pytest.approx(num(fit["Ea [eV]"]), rel=1e-3)


def test_single_temperature_points_without_fit(tmp_path):
    path = build(tmp_path, [700.0])
    rep = make_report(path, tmp_path / "rep")
    assert "arrhenius" in rep.figures
    (title, series), = arrhenius_series(collect(path))
    assert series[0]["fit"] is None and len(series[0]["D_m2_per_s"]) == 1
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, series)
    assert not [x for x in ax.get_lines() if (x.get_gid() or "").startswith(("fit:", "extrap:"))]
    (fit,) = tables(rep.summary.read_text())["Arrhenius fits"][0]
    assert fit["Ea [eV]"] == "n/a" and "needs 2" in fit["source / note"]
