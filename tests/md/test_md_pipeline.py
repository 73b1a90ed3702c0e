"""The MD -> diffusion -> Arrhenius task chain through the real runtime (``argyro-run run``) with the
trained test potential on the ordered 52-atom cell and the 148-atom Sigma5 bicrystal.

Asserted: every task finishes; every MD run carries the framework check (host displacement,
stable here) and the analysis passes it on; the archived diffusivities equal an independent recomputation from
the archived trajectories (Li selection, fit window, posterior seed and blocks passed through correctly); the
archived Arrhenius fits equal an independent weighted fit (scipy) of the archived D(T); sigma(300 K)
is Nernst-Einstein of D(300 K); GB-resolved diffusivities exist for the bicrystal only and feed
``fits/gb_parallel`` / ``fits/gb_perpendicular``; rerunning reuses everything; an extrapolation
break (gamma_break with the potential's active set) fails the MD tasks cleanly with the reason in
the archive, the bicrystal's analysis skipped and the fits made without it, without touching the
finished tasks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import curve_fit

from argyro_run.analysis.diffusion import conductivity_mS_per_cm, diffusivity, diffusivity_bayes, gb_membership
from argyro_run.analysis.jumps import jump_statistics
from argyro_run.analysis.tasks import posterior_seed
from argyro_run.archive import open_archive
from tests._support.inputs import LPSCL, SIGMA5_310, TEST_POTENTIAL, run_input

K_B_EV = 8.617333262e-5

INPUT = """
[run]
name = "md-pipeline"
archive = "out.h5"
seed = 3
on_error = "continue"
""" + LPSCL + SIGMA5_310 + TEST_POTENTIAL + """
[md]
temperatures_K = [650.0, 800.0]
timestep_fs = 2.0
equilibration_ps = 1.0
production_ps = 12.0
dump_interval_fs = 20.0
gamma_break = 0
max_host_displacement_A = 5.0   # the bulk-trained test MTP lets the thin-grain bicrystal rearrange (~3 A in 12 ps)

[analysis]
fit_start_ps = 0.4
fit_end_ps = 1.5
n_blocks = 4
gb_width_A = 6.0
"""


def run(tmp: Path, text: str):
    return run_input(tmp, text, check=False)


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mdpipe")
    return tmp, run_input(tmp, INPUT)


def test_all_tasks_done_and_d_recomputed(done):
    tmp, _ = done
    a = open_archive(tmp / "out.h5")
    assert {t["status"] for t in a.tasks.values()} == {"done"}
    for name in ("ordered", "gb_sigma5_310"):
        res = a.result(f"analysis/LPSCl/{name}")
        np.testing.assert_array_equal(res.get("temperatures_K"), [650.0, 800.0])
        for k, T in enumerate((650, 800)):
            md = a.result(f"md/LPSCl/{name}/T{T}")
            x = md.get("trajectory/positions_A")
            li = md.get("trajectory/numbers") == 3
            # md.trajectory_atoms = "species" (default): only the analysed Li are kept, in float32
            structure = a.atoms("structures/LPSCl", name)
            assert li.all() and x.dtype == np.float32 and md.attrs[""]["n_atoms"] == len(structure)
            np.testing.assert_array_equal(md.get("trajectory/atom_index"),
                                          np.flatnonzero(structure.numbers == 3))
            t = md.get("time_ps")
            assert len(t) == 601 and np.isclose(t[1] - t[0], 0.02)
            mean_T = md.attrs[""]["mean_temperature_K"]
            assert abs(mean_T / T - 1) < 0.1
            # the framework check ran on every atom (not only the kept Li): the bulk stays a crystal
            fw = md.attrs["framework"]
            disp = md.get("framework/host_displacement_A")
            assert len(disp) == 10 and disp[0] == 0.0 and fw["host_displacement_A"] == disp.max() > 0.0
            assert fw["max_host_displacement_A"] == 5.0 and fw["framework_stable"] == (disp[-1] <= 5.0)
            if name == "ordered":
                assert disp.max() < 1.0, disp          # below the default limit
            assert res.get("host_displacement_A")[k] == disp.max()
            assert res.get("framework_stable")[k] == fw["framework_stable"]
            # reported D: kinisi with the task's seed; the block estimate is kept as a cross-check
            ref = diffusivity_bayes(x[:, li], 0.02, fit_start_ps=0.4, fit_end_ps=1.5,
                                    seed=posterior_seed(res.attrs[""]["seed"], T, "tracer"))
            assert res.get("D_m2_per_s")[k] == pytest.approx(ref["D_m2_per_s"], rel=1e-12)
            assert res.get("D_err_m2_per_s")[k] == pytest.approx(ref["D_err_m2_per_s"], rel=1e-12)
            blk = diffusivity(x[:, li], 0.02, fit_start_ps=0.4, fit_end_ps=1.5, n_blocks=4)
            assert res.get("D_block_mean_m2_per_s")[k] == pytest.approx(blk["D_m2_per_s"], rel=1e-12)
            assert res.get("D_m2_per_s")[k] > 2 * res.get("D_err_m2_per_s")[k] > 0
            vol = abs(np.linalg.det(md.get("trajectory/cell_A")))
            sig = conductivity_mS_per_cm(ref["D_m2_per_s"], T, int(li.sum()), vol)
            assert res.get("sigma_mS_per_cm")[k] == pytest.approx(sig, rel=1e-12)
            if name == "gb_sigma5_310":
                planes, period = md.get("gb/plane_z_A"), float(md.get("gb/period_A"))
                frac = gb_membership(x[:, li], planes, period, 6.0)
                assert res.get("gb/n_gb_atoms")[k] == int(np.sum(frac >= 0.5)) > 0
                gb = li.copy()
                gb[li] = frac >= 0.5
                par = diffusivity_bayes(x[:, gb], 0.02, fit_start_ps=0.4, fit_end_ps=1.5, components=(0, 1),
                                        seed=posterior_seed(res.attrs[""]["seed"], T, "gb_parallel"))
                assert res.get("gb/D_parallel_m2_per_s")[k] == pytest.approx(par["D_m2_per_s"], rel=1e-12)
            if name == "ordered":   # a built argyrodite cell: Li jumps on the 48h lattice, recomputed
                st = jump_statistics(x[:, li], md.get("trajectory/cell_A"), 0.02, [1, 1, 1], "Cl")
                np.testing.assert_array_equal(res.get("jumps/counts")[k], st["counts"])
                assert res.get("jumps/D_cage_m2_per_s")[k] == pytest.approx(st["D_cage_m2_per_s"], rel=1e-12)
                assert res.get("jumps/fraction_on_site")[k] == st["fraction_on_site"] > 0.3
        if name == "ordered":
            assert "gb/D_parallel_m2_per_s" not in res
            assert res.get("jumps/counts").shape == (2, 3) and res.attrs["jumps"]["kinds"] == "doublet intracage intercage"
        else:                       # a bicrystal has no 48h lattice
            assert "jumps/counts" not in res and "jumps_problem" not in res.attrs[""]


def _fit(T, D, err):
    f = lambda invT, lnD0, Ea: lnD0 - Ea * invT / K_B_EV  # noqa: E731
    p, cov = curve_fit(f, 1.0 / np.asarray(T), np.log(D), sigma=np.asarray(err) / np.asarray(D),
                       absolute_sigma=True)
    return np.exp(p[0]), p[1], np.sqrt(cov[1, 1])


def test_arrhenius_fits_match_independent_fit(done):
    tmp, _ = done
    a = open_archive(tmp / "out.h5")
    arr = a.result("arrhenius/LPSCl")
    sources = {"bulk": ("ordered", "D"), "gb_parallel": ("gb_sigma5_310", "gb/D_parallel"),
               "gb_perpendicular": ("gb_sigma5_310", "gb/D_perpendicular")}
    for kind, (name, key) in sources.items():
        res = a.result(f"analysis/LPSCl/{name}")
        D0, Ea, Ea_err = _fit([650.0, 800.0], res.get(f"{key}_m2_per_s"), res.get(f"{key}_err_m2_per_s"))
        assert float(arr.get(f"fits/{kind}/Ea_eV")) == pytest.approx(Ea, rel=1e-6, abs=1e-9)
        assert float(arr.get(f"fits/{kind}/Ea_eV_err")) == pytest.approx(Ea_err, rel=1e-5)
        assert float(arr.get(f"fits/{kind}/D0_m2_per_s")) == pytest.approx(D0, rel=1e-6)
        d300 = D0 * np.exp(-Ea / (K_B_EV * 300.0))
        assert float(arr.get(f"fits/{kind}/D_300K_m2_per_s")) == pytest.approx(d300, rel=1e-6)
    # sigma(300 K) of the bulk: Nernst-Einstein with the ordered cell's Li density
    md = a.result("md/LPSCl/ordered/T650")
    vol = abs(np.linalg.det(md.get("trajectory/cell_A")))
    sig = conductivity_mS_per_cm(float(arr.get("fits/bulk/D_300K_m2_per_s")), 300.0, 24, vol)
    assert float(arr.get("fits/bulk/sigma_300K_mS_per_cm")) == pytest.approx(sig, rel=1e-6)
    assert a.units("/arrhenius/LPSCl/fits/bulk/Ea_eV") == "eV"
    # the jump rates' Arrhenius energies: through both temperatures' rates (two points)
    rates = a.result("analysis/LPSCl/ordered").get("jumps/rate_per_ps")
    for k, kind in enumerate(("doublet", "intracage", "intercage")):
        r650, r800 = rates[:, k]
        assert r650 > 0 and r800 > 0
        Ea = K_B_EV * np.log(r800 / r650) / (1 / 650.0 - 1 / 800.0)
        assert float(arr.get(f"structures/ordered/jumps/{kind}/Ea_eV")) == pytest.approx(Ea, rel=1e-9)
    assert "structures/gb_sigma5_310/jumps/intercage/Ea_eV" not in arr


def test_rerun_reuses_and_extrapolation_break_fails_cleanly(done):
    tmp, _ = done
    p = run(tmp, INPUT)
    assert p.returncode == 0 and " done in " not in p.stdout, p.stdout[-2000:]
    before = open_archive(tmp / "out.h5")["/md/LPSCl/ordered/T650/trajectory/positions_A"]
    # a strict break threshold with the potential's active set (Li6PS5Cl-l08.als next to the .mtp):
    # the bicrystal leaves the training domain, its MD tasks fail with the reason recorded
    strict = INPUT.replace("gamma_break = 0", "gamma_break = 1.5")
    p = run(tmp, strict)
    assert p.returncode != 0 and "Traceback" not in p.stderr
    a = open_archive(tmp / "out.h5")
    failed = {t for t, v in a.tasks.items() if v["status"] == "failed"}
    assert failed and all(t.startswith("md/LPSCl/gb_sigma5_310/") for t in failed), failed
    for t in failed:
        assert "extrapolation" in a.tasks[t]["error_message"]
    assert a.tasks["analysis/LPSCl/gb_sigma5_310"]["status"] == "skipped"       # none of its MD runs finished
    # the fits go on with the structure that was analysed, and say what they ran without
    assert a.tasks["arrhenius/LPSCl"]["status"] == "done"
    assert a.tasks["arrhenius/LPSCl"]["missing_deps"] == "analysis/LPSCl/gb_sigma5_310 skipped"
    arr = a.result("arrhenius/LPSCl")
    assert "fits/bulk/Ea_eV" in arr and "fits/gb_parallel/Ea_eV" not in arr
    np.testing.assert_array_equal(a["/md/LPSCl/ordered/T650/trajectory/positions_A"], before)
