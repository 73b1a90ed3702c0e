"""Report and run summary of FE cases from a synthetic archive laid out as ``fe_sweep`` writes it:
D_eff/D_bulk vs grain size per case with the crossover marked, per-case source tables."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from argyro_run.archive import ArchiveWriter
from argyro_run.fe.cases import crossover_grain_size
from argyro_run.report import figures as F
from argyro_run.report import make_report
from argyro_run.report.collect import collect
from argyro_run.report.tasks import run_summary
from argyro_run.results import Result
from tests._support.report import check_pngs, num, tables

KB = 8.617333262e-5
T = np.array([300.0, 400.0, 500.0])
D = np.array([10.0, 100.0, 1000.0, 10000.0])


def _fe_result(name, a_nm, bulk_src, gb_src, models=("L/gb5", "L/gb3")):
    """D_eff/D_bulk = 1 + a(T)/d, a(T) = a_nm * 300/T (an analytic sweep with a known crossover)."""
    Db = 1e-7 * np.exp(-0.3 / (KB * T))
    a = a_nm * 300.0 / T
    ratio = 1.0 + a[:, None] / D[None, :]
    Dm = ratio * Db[:, None]
    r = Result()
    r.add("temperatures_K", T, "K")
    r.add("grain_sizes_nm", D, "nm")
    r.add("D_bulk_m2_per_s", Db, "m^2/s")
    r.add("D_eff_m2_per_s", Dm[:, :, None, None] * np.eye(2), "m^2/s")
    r.add("D_eff_mean_m2_per_s", Dm, "m^2/s")
    r.add("D_eff_over_D_bulk", ratio, "1")
    r.add("sigma_eff_mS_per_cm", Dm * 1e10, "mS/cm", carrier_density_per_nm3=24.0,
          carrier_density_source="Li atoms per volume of L/ordered (structures/L)")
    ea = np.empty_like(Dm)
    cv = np.empty_like(Dm)
    from argyro_run.fe.tasks import apparent_activation_energy
    for j in range(len(D)):
        ea[:, j], cv[:, j] = apparent_activation_energy(T, Dm[:, j])
    r.add("Ea_app_eV", ea, "eV")
    r.add("curvature_K2", cv, "K^2")
    r.add("crossover_grain_size_nm", np.array([crossover_grain_size(D, ratio[i]) for i in range(len(T))]), "nm",
          tolerance=0.05)
    for k, src in (("bulk", bulk_src), ("gb_parallel", gb_src), ("gb_perpendicular", gb_src)):
        n = 1 if k == "bulk" or src.startswith("input") else len(models)
        r.add(f"inputs/{k}/D_m2_per_s", np.tile(Db, (n, 1)), "m^2/s")
        r.add(f"inputs/{k}/D0_m2_per_s", np.full(n, 1e-7), "m^2/s")
        r.add(f"inputs/{k}/Ea_eV", np.full(n, 0.3), "eV")
        r.add(f"inputs/{k}/models", np.asarray(["L/ordered"] if k == "bulk" else
                                               (["input"] if n == 1 else list(models)), dtype=object), "")
        r.add(f"inputs/{k}/source", src, "")
    r.add("gb_faces/models", np.asarray(list(models), dtype=object), "")
    r.add("gb_faces/fractions", np.array([0.25, 0.75]), "1")
    r.set_attrs("", case=name, material="L", bulk=f"L/{name}", gb=",".join(models), bc="periodic",
                gb_model="interface", microstructure="microstructure/voronoi")
    return r


@pytest.fixture
def cases():
    return {"fe/ordered": _fe_result("ordered", 40.0, "md: arrhenius/L structures/ordered/tracer",
                                     "md: arrhenius/L structures/gb5/gb_parallel; arrhenius/L structures/gb3/gb_parallel"),
            "fe/disordered": _fe_result("disordered", 600.0, "md: arrhenius/L structures/disordered/tracer",
                                        "input: fe.gb_parallel")}


@pytest.fixture
def fe_cases_archive(tmp_path, cases):
    path = tmp_path / "fe.h5"
    w = ArchiveWriter(path)
    plan = {"tasks": [{"id": i, "kind": "fe_sweep"} for i in cases]}
    w.start(provenance={"run_name": "fe-cases", "versions_json": json.dumps({})}, plan_json=json.dumps(plan))
    for tid, r in cases.items():
        w.write_task(SimpleNamespace(id=tid, kind="fe_sweep", hash="0" * 16, archive_group="/" + tid), r,
                     status="done", wall_s=1.0, finished_at="t")
    w.finish(status="done")
    return path


def test_crossover_of_the_synthetic_sweep():
    # ordered: a = 40 nm at 300 K -> 4 % at 1 um; at 500 K a = 24 nm -> 2.4 % at 1 um, 24 % at 100 nm
    r = _fe_result("x", 40.0, "input: fe.bulk", "input: fe.gb_parallel")
    assert r.get("crossover_grain_size_nm").tolist() == [1000.0, 1000.0, 1000.0]
    r = _fe_result("x", 600.0, "input: fe.bulk", "input: fe.gb_parallel")
    c = r.get("crossover_grain_size_nm")
    assert np.isnan(c[0]) and c[1:].tolist() == [10000.0, 10000.0]  # 6 % at 10 um at 300 K; 4.5 % at 400 K


def test_ratio_figure_per_case_with_crossover_marked(fe_cases_archive, tmp_path):
    data = collect(fe_cases_archive)
    assert [c["case"] for c in data.fe] == ["disordered", "ordered"]
    c = data.fe[1]
    fig, (ax,) = F.new_figure()
    F.plot_deff_vs_grain_size(ax, c)
    lines = {ln.get_gid(): ln for ln in ax.get_lines() if ln.get_gid()}
    for i, t in enumerate(T):
        np.testing.assert_allclose(lines[f"ratio:T{t:g}"].get_xdata(), D)
        np.testing.assert_allclose(lines[f"ratio:T{t:g}"].get_ydata(), 1 + 40.0 * 300 / t / D, rtol=1e-12)
        star = lines[f"crossover:T{t:g}"]
        assert star.get_xdata()[0] == 1000.0
        assert star.get_ydata()[0] == pytest.approx(1 + 40.0 * 300 / t / 1000.0)
    assert ax.get_xscale() == "log"
    fig, (ax,) = F.new_figure()
    F.plot_deff_vs_grain_size(ax, data.fe[0])  # disordered: not reached at 300 K, no star there
    gids = {ln.get_gid() for ln in ax.get_lines()}
    assert "crossover:T300" not in gids and "crossover:T500" in gids
    rep = make_report(fe_cases_archive, tmp_path / "rep")
    check_pngs(rep, ["deff_vs_grain_size", "activation_energy", "arrhenius"])


def test_summary_md_tables_per_case(fe_cases_archive, tmp_path):
    rep = make_report(fe_cases_archive, tmp_path / "rep")
    t = tables(rep.summary.read_text())["Polycrystal FE"]
    src = {r["case"]: r for r in t[0]}
    assert src["disordered"]["GB parallel D"] == "input: fe.gb_parallel"
    assert src["ordered"]["bulk D"] == "md: arrhenius/L structures/ordered/tracer"
    assert src["ordered"]["GB models (face fraction)"] == "L/gb5 (0.25), L/gb3 (0.75)"
    laws = t[1]
    assert {(r["case"], r["kind"], r["model"]) for r in laws} >= {("ordered", "gb_parallel", "L/gb5"),
                                                                  ("disordered", "gb_parallel", "input")}
    data_ord, cross_ord = t[4], t[5]  # cases sorted by name: disordered, then ordered
    assert len(data_ord) == len(T) * len(D)
    for row in data_ord:
        tt, d = float(row["T [K]"]), float(row["grain size [nm]"])
        assert num(row["D_eff / D_bulk"]) == pytest.approx(1 + 40.0 * 300 / tt / d, rel=1e-3)
    assert [r["crossover grain size"] for r in cross_ord] == ["1000 nm"] * 3
    assert [r["crossover grain size"] for r in t[3]][0] == "not reached"


def test_run_summary_fe_section(cases):
    res = run_summary({"run": {"name": "x"}}, cases, None, None)
    text = str(np.asarray(res.get("text")).item())
    assert "Case ordered: D_eff / D_bulk" in text and "Case disordered" in text
    assert "input: fe.gb_parallel" in text and "md: arrhenius/L structures/ordered/tracer" in text
    line = [ln for ln in text.splitlines() if "ordered" in ln and "L/gb5 (0.25), L/gb3 (0.75)" in ln]
    assert line
    cross = [ln for ln in text.splitlines() if ln.strip().startswith("crossover")]
    assert len(cross) == 2 and "not reached" in cross[0] and cross[1].split()[-2:] == ["1000", "nm"]
    rows = list(zip(res.get("table/task"), res.get("table/quantity"), res.get("table/value")))
    got = {(t, q): v for t, q, v in rows if q.startswith("crossover")}
    assert got[("fe/ordered", "crossover_grain_size_nm/T300")] == 1000.0
    assert np.isnan(got[("fe/disordered", "crossover_grain_size_nm/T300")])
