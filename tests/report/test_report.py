"""``make_report`` / ``argyro-run report`` on real archives of tiny runs and on a synthetic AL archive."""

import json
import math
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from argyro_run.archive import ArchiveWriter, open_archive
from argyro_run.report import figures as F
from argyro_run.report import make_report
from argyro_run.report.build import arrhenius_series
from argyro_run.report.collect import collect
from argyro_run.results import Result
from tests._support.env import CLI
from tests._support.report import check_pngs, num, tables

KB = 8.617333262e-5
@pytest.mark.slow  # ~20 s with the FE run of the fixture
def test_fe_run_report(fe_archive, tmp_path):
    rep = make_report(fe_archive, tmp_path / "rep")
    check_pngs(rep, ["arrhenius", "activation_energy", "deff_vs_grain_size", "mesh_d10nm", "mesh_d30nm"])
    assert set(rep.skipped) == {"msd", "active_learning"}
    md = rep.summary.read_text()
    for n in rep.figures:
        assert f"]({n}.png)" in md
    assert "no diffusion analysis results" in md and "no active-learning results" in md
    t = tables(md)
    a = open_archive(fe_archive)
    g = "/fe/LPSCl-ordered"  # the default case of the material (its bulk gives the carrier density)
    src, laws, rows, cross = t["Polycrystal FE"]
    assert [(r["case"], r["bulk"], r["bulk D"]) for r in src] == [("LPSCl-ordered", "LPSCl/ordered", "input: fe.bulk")]
    assert num(src[0]["carriers [1/nm³]"].split()[0]) == pytest.approx(24 / 0.986 ** 3, rel=1e-3)
    # FE table: every D_eff and sigma_eff as in the archive (4 significant digits)
    assert len(rows) == 6
    T, d = a[f"{g}/temperatures_K"], a[f"{g}/grain_sizes_nm"]
    for row in rows:
        i = int(np.flatnonzero(np.isclose(T, float(row["T [K]"])))[0])
        j = int(np.flatnonzero(np.isclose(d, float(row["grain size [nm]"])))[0])
        assert num(row["D_eff [m²/s]"]) == pytest.approx(a[f"{g}/D_eff_mean_m2_per_s"][i, j], rel=1e-3)
        assert num(row["σ_eff [mS/cm]"]) == pytest.approx(a[f"{g}/sigma_eff_mS_per_cm"][i, j], rel=1e-3)
        assert num(row["Ea_app [eV]"]) == pytest.approx(a[f"{g}/Ea_app_eV"][i, j], rel=1e-3)
        # physics: the polycrystal's apparent activation energy lies between those of its phases
        assert 0.25 - 1e-3 <= num(row["Ea_app [eV]"]) <= 0.45 + 1e-3
        assert num(row["D_eff / D_bulk"]) == pytest.approx(
            a[f"{g}/D_eff_mean_m2_per_s"][i, j] / a[f"{g}/D_bulk_m2_per_s"][i], rel=1e-3)
    assert len(cross) == 3
    assert {r["kind"]: (num(r["D0 [m²/s]"]), num(r["Ea [eV]"])) for r in laws} == {
        "bulk": (1e-7, 0.35), "gb_parallel": (1e-8, 0.25), "gb_perpendicular": (1e-9, 0.45)}
    st = t["Structures"][0]
    assert [(r["structure"], int(r["atoms"])) for r in st] == [("ordered", 52)]
    micro = {r["mesh"]: r for r in t["Microstructures"][0]}
    assert set(micro) == {"d10nm", "d30nm"} and micro["d10nm"]["kind"] == "voronoi"
    assert num(micro["d30nm"]["GB volume fraction"]) == pytest.approx(
        a.result("microstructure/d30nm").get_attrs("")["gb_volume_fraction"], rel=1e-3)
    tasks = t["Tasks"][-1]
    assert {r["status"] for r in tasks} == {"done"} and len(tasks) == len(a.tasks)
    assert "report-fe" in md.splitlines()[0] and "[fe]" in md  # run name, input TOML


def test_fe_input_laws_drawn_with_their_activation_energy(fe_archive):
    data = collect(fe_archive)
    (title, series), = arrhenius_series(data)
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, series)
    for kind, Ea in (("bulk", 0.35), ("gb_parallel", 0.25), ("gb_perpendicular", 0.45)):
        ln = [x for x in ax.get_lines() if x.get_gid() == f"fit:input_{kind}"][0]
        slope = np.polyfit(ln.get_xdata(), ln.get_ydata(), 1)[0]
        assert slope * 1000 * math.log(10) == pytest.approx(-Ea / KB, rel=1e-9)
    # D_eff points of the smallest and largest grain size are the archive's values
    a = open_archive(fe_archive)
    for r in data.fe:
        for j, d in enumerate(r["grain_sizes_nm"]):
            s = [x for x in series if x["key"] == f"fe_{r['label']}_d{d:g}nm"][0]
            np.testing.assert_allclose(s["D_m2_per_s"], a[f"/fe/{r['label']}/D_eff_mean_m2_per_s"][:, j])


@pytest.mark.slow  # ~20 s with the MD runs of the fixture
def test_md_run_report(md_archive, tmp_path):
    rep = make_report(md_archive, tmp_path / "rep")
    check_pngs(rep, ["arrhenius", "activation_energy", "deff_vs_grain_size", "msd_LPSCl_ordered",
                     "msd_LPSCl_gb_sigma5_310", "mesh_d10nm", "mesh_d20nm"])
    assert set(rep.skipped) == {"active_learning"}
    a = open_archive(md_archive)
    t = tables(rep.summary.read_text())
    fits = {r["kind"]: r for r in t["Arrhenius fits"][0]}
    assert set(fits) == {"bulk", "gb_parallel", "gb_perpendicular"}
    for kind, fit in fits.items():
        for col, ds in (("Ea [eV]", "Ea_eV"), ("Ea err [eV]", "Ea_eV_err"), ("D0 [m²/s]", "D0_m2_per_s"),
                        ("D(300 K) [m²/s]", "D_300K_m2_per_s"), ("σ(300 K) [mS/cm]", "sigma_300K_mS_per_cm")):
            assert num(fit[col]) == pytest.approx(float(a[f"/arrhenius/LPSCl/fits/{kind}/{ds}"]), rel=1e-3), col
    assert "ordered" in fits["bulk"]["source / note"] and "gb_sigma5_310" in fits["gb_parallel"]["source / note"]
    drows = t["Diffusivity per temperature"][0]
    for s in ("ordered", "gb_sigma5_310"):
        rows = [r for r in drows if r["structure"] == s]
        assert [float(r["T [K]"]) for r in rows] == [700.0, 800.0]
        g = f"/analysis/LPSCl/{s}"
        np.testing.assert_allclose([num(r["D [m²/s]"]) for r in rows], a[f"{g}/D_m2_per_s"], rtol=1e-3)
        np.testing.assert_allclose([num(r["D err [m²/s]"]) for r in rows], a[f"{g}/D_err_m2_per_s"], rtol=1e-3)
        np.testing.assert_allclose([num(r["σ [mS/cm]"]) for r in rows], a[f"{g}/sigma_mS_per_cm"], rtol=1e-3)
    rows = [r for r in drows if r["structure"] == "gb_sigma5_310"]
    for col, ds in (("GB parallel D [m²/s]", "D_parallel"), ("GB perpendicular D [m²/s]", "D_perpendicular"),
                    ("bulk-region D [m²/s]", "D_bulk_region")):
        np.testing.assert_allclose([num(r[col]) for r in rows], a[f"/analysis/LPSCl/gb_sigma5_310/gb/{ds}_m2_per_s"],
                                   rtol=1e-3)
    jrows = t["Li jumps between 48h sites"][0]          # the bulk cell only: a bicrystal has no 48h lattice
    assert [(r["structure"], float(r["T [K]"])) for r in jrows] == [("ordered", 700.0), ("ordered", 800.0)]
    np.testing.assert_allclose([num(r["D cage walk [m²/s]"]) for r in jrows],
                               a["/analysis/LPSCl/ordered/jumps/D_cage_m2_per_s"], rtol=1e-3)
    rates = a["/analysis/LPSCl/ordered/jumps/rate_per_ps"]
    np.testing.assert_allclose([num(r["intercage [1/ps]"].split("±")[0]) for r in jrows], rates[:, 2], rtol=1e-3)
    mdrows = t["MD runs"][0]
    assert sorted((int(r["atoms"]), float(r["T target [K]"])) for r in mdrows) == [
        (52, 700.0), (52, 800.0), (148, 700.0), (148, 800.0)]
    assert all(float(r["production [ps]"]) == pytest.approx(10.0, abs=0.2) for r in mdrows)
    fe_laws = {r["kind"]: r for r in t["Polycrystal FE"][1]}
    for kind in ("bulk", "gb_parallel", "gb_perpendicular"):   # the FE used the MD fits of the case's structures
        st = {"bulk": "ordered"}.get(kind, "gb_sigma5_310")
        set_ = {"bulk": "tracer"}.get(kind, kind)
        assert num(fe_laws[kind]["Ea [eV]"]) == pytest.approx(
            float(a[f"/arrhenius/LPSCl/structures/{st}/{set_}/Ea_eV"]), rel=1e-3)
        assert fe_laws[kind]["model"] == f"LPSCl/{st}"
    src = t["Polycrystal FE"][0][0]
    assert src["GB parallel D"] == "md: arrhenius/LPSCl structures/gb_sigma5_310/gb_parallel"
    # the Arrhenius figure's bulk line has slope -Ea/k_B of the archived fit, and FE D_eff is on the same panel
    data = collect(md_archive)
    (title, series), = arrhenius_series(data)
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, series)
    ln = [x for x in ax.get_lines() if x.get_gid() == "fit:bulk"][0]
    slope = np.polyfit(ln.get_xdata(), ln.get_ydata(), 1)[0]
    assert slope * 1000 * math.log(10) == pytest.approx(-float(a["/arrhenius/LPSCl/fits/bulk/Ea_eV"]) / KB, rel=1e-9)
    assert any(x.get_gid() == "d300:bulk" for x in ax.get_lines())
    assert "fe_LPSCl-ordered_d10nm" in {s["key"] for s in series}
    # MSD figure: fit window and lines as in the analysis result
    d = data.diffusion[0]
    assert [c["temperature_K"] for c in d["msd"]] == [700.0, 800.0]
    assert d["msd"][0]["fit_start_ps"] < d["msd"][0]["fit_end_ps"]


def _al_result(level, n_iter, start_images):
    r = Result()
    n = start_images
    for k in range(n_iter):
        p = f"iterations/{k}"
        r.add(f"{p}/max_grades", np.array([1.5 + k, 9.0 / (k + 1), 0.0]), "1")
        r.add(f"{p}/reference_calls", 4 - k, "1")
        r.add(f"{p}/n_added", 4 - k, "1")
        r.add(f"{p}/n_selected", 4 - k, "1")
        r.add(f"{p}/n_explorations", 3, "1")
        r.add(f"{p}/n_broken", 1 if k == 0 else 0, "1")
        n += 4 - k
        for grp, f in (("validation", 0.3 / (k + 1)), ("train", 0.1 / (k + 1))):
            r.add(f"{p}/{grp}/rmse_force_eV_per_A", f, "eV/Angstrom")
            r.add(f"{p}/{grp}/rmse_energy_meV_per_atom", 10 * f, "meV/atom")
            r.add(f"{p}/{grp}/n_images", n, "1")
    r.add("initial_train/rmse_force_eV_per_A", 0.5, "eV/Angstrom")
    r.add("initial_train/n_images", start_images, "1")
    r.add("reference_calls", sum(4 - k for k in range(n_iter)), "1")
    r.add("training_set/n_atoms", np.full(n, 52), "")
    r.set_attrs("", converged=True, n_iterations=n_iter, reason="all grades below gamma_select", level=level,
                gamma_select=2.0, gamma_break=8.0, wall_s=12.5)
    return r


@pytest.fixture
def al_archive(tmp_path):
    """Archive written through the runtime's writer with results laid out as run_active_learning's."""
    path = tmp_path / "al.h5"
    w = ArchiveWriter(path)
    plan = {"tasks": [{"id": i, "kind": k} for i, k in (("learning/level4", "active_learning"),
                                                         ("learning/level6", "active_learning"),
                                                         ("md/X/ordered/T600", "md_run"),
                                                         ("analysis/X/ordered", "diffusion"), ("summary", "summary"))]}
    w.start(provenance={"run_name": "al-test", "versions_json": json.dumps({"numpy": np.__version__})},
            plan_json=json.dumps(plan))

    def task(tid, kind):
        return SimpleNamespace(id=tid, kind=kind, hash="0" * 16, archive_group="/" + tid)

    w.write_task(task("learning/level4", "active_learning"), _al_result(4, 3, 10), status="done", wall_s=1.0,
                 finished_at="t")
    w.write_task(task("learning/level6", "active_learning"), _al_result(6, 2, 19), status="done", wall_s=1.0,
                 finished_at="t")
    w.write_task(task("md/X/ordered/T600", "md_run"), None, status="failed", wall_s=1.0, finished_at="t",
                 extra_attrs={"error_message": "RuntimeError: MD of ordered at 600 K failed: lost_atoms"})
    w.write_task(task("analysis/X/ordered", "diffusion"), None, status="skipped", wall_s=0.0, finished_at="t",
                 extra_attrs={"skipped_because": "dependency md/X/ordered/T600 failed"})
    w.finish(status="failed")
    return path


def test_active_learning_figure_and_tables(al_archive, tmp_path):
    rep = make_report(al_archive, tmp_path / "rep")
    check_pngs(rep, ["active_learning"])
    assert "arrhenius" in rep.skipped and "mesh" in rep.skipped
    md = rep.summary.read_text()
    t = tables(md)
    levels = t["Active learning"][0]
    assert [(int(r["level"]), int(r["iterations"]), int(r["training set"]), int(r["reference calls"]))
            for r in levels] == [(4, 3, 19, 9), (6, 2, 26, 7)]
    its = t["Active learning"][1]
    assert [(r["level"], r["iteration"]) for r in its] == [("4", "0"), ("4", "1"), ("4", "2"), ("6", "0"), ("6", "1")]
    assert [num(r["max grade"]) for r in its][:3] == [9.0, 4.5, 3.5]
    assert [num(r["train force RMSE [eV/Å]"]) for r in its][:2] == pytest.approx([0.1, 0.05])
    bad = {r["task"]: r for r in t["Tasks"][0]}
    assert bad["md/X/ordered/T600"]["status"] == "failed" and "lost_atoms" in bad["md/X/ordered/T600"]["message"]
    assert bad["analysis/X/ordered"]["status"] == "skipped" and "failed" in bad["analysis/X/ordered"]["message"]
    assert bad["summary"]["status"] == "not run"
    # the figure data: iterations of both levels in order, training set sizes as stored
    data = collect(al_archive)
    fig, axes = F.new_figure(ncols=2, nrows=2)
    F.plot_active_learning(axes, data.learning)
    size = [ln for ln in axes[2].get_lines() if (ln.get_gid() or "").startswith("al:size")]
    ys = np.concatenate([ln.get_ydata() for ln in size])
    np.testing.assert_array_equal(ys, [14, 17, 19, 23, 26])
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["L4.0", "L4.1", "L4.2", "L6.0", "L6.1"]


def test_cli_exit_codes(fe_archive, tmp_path):
    out = tmp_path / "cli"
    p = subprocess.run([CLI, "report", str(fe_archive), "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert (out / "summary.md").is_file() and (out / "arrhenius.png").is_file()
    assert "skipped msd" in p.stdout
    p = subprocess.run([CLI, "report", str(tmp_path / "none.h5"), "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and "does not exist" in p.stderr and "Traceback" not in p.stderr
    (tmp_path / "x.h5").write_text("not hdf5")
    p = subprocess.run([CLI, "report", str(tmp_path / "x.h5"), "-o", str(out)], capture_output=True, text=True)
    assert p.returncode == 2 and "not an HDF5 file" in p.stderr
    (tmp_path / "file").write_text("")
    p = subprocess.run([CLI, "report", str(fe_archive), "-o", str(tmp_path / "file")], capture_output=True, text=True)
    assert p.returncode == 2 and "-o/--output" in p.stderr
    p = subprocess.run([CLI, "report", str(fe_archive)], capture_output=True, text=True)
    assert p.returncode == 2  # -o is required
