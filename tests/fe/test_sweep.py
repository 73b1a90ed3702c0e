"""fe_sweep task on meshes from the mesh task: Arrhenius inputs, laminate exact, brick-layer Ea_app."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run._stack import MPI
from argyro_run.errors import UserError
from argyro_run.fe.tasks import K_B_eV_per_K, apparent_activation_energy, arrhenius_D, nernst_einstein_mS_per_cm, run_fe_sweep
from argyro_run.microstructure.tasks import run_mesh
from argyro_run.results import Result
from tests._support.env import REPO, run_mpi
from tests.fe._mpi_sweep import BULK, GB, MICRO, fe_params, voronoi_sweep

TEMPS = list(np.linspace(200.0, 800.0, 13))


def _mesh(tmp_path, **kw):
    return run_mesh({"microstructure": dict(MICRO, **kw), "grain_size_nm": 10.0}, {}, MPI.COMM_WORLD, tmp_path / "m")


def test_laminate_sweep_matches_exact_means_and_ea_app(tmp_path):
    mres = _mesh(tmp_path)
    fe = {"temperatures_K": TEMPS, "bulk": BULK, "gb_parallel": GB, "gb_perpendicular": GB,
          "solver_rtol": 1e-12}
    r = run_fe_sweep(fe_params(fe), {"microstructure/d10nm": mres}, MPI.COMM_WORLD, tmp_path)
    f = 1.0 / 10.0
    Db, Dg = arrhenius_D(**BULK, temperature_K=TEMPS), arrhenius_D(**GB, temperature_K=TEMPS)
    along = f * Dg + (1 - f) * Db
    across = 1 / (f / Dg + (1 - f) / Db)
    De = r.get("D_eff_m2_per_s")[:, 0]  # the one grain size
    np.testing.assert_allclose(De[:, 0, 0], along, rtol=1e-8)
    np.testing.assert_allclose(De[:, 1, 1], across, rtol=1e-8)
    ea, _ = apparent_activation_energy(TEMPS, (along + across) / 2)
    np.testing.assert_allclose(r.get("Ea_app_eV")[:, 0], ea, rtol=1e-6)
    assert str(np.asarray(r.get("inputs/gb_parallel/source")).item()) == "input: fe.gb_parallel"


def test_brick_layer_ea_app_crosses_over(tmp_path):
    """Cubic grains, fast low-Ea GB: Ea_app goes from ~Ea_gb (low T) towards Ea_bulk (high T)
    and follows the brick-layer (parallel-path) estimate D = f_par D_gb + (1 - f_par) D_b, f_par = (dim-1) delta/d."""
    mres = run_mesh({"microstructure": dict(MICRO, kind="cubic", n_grains=4, mesh_size_gb_fraction=0.5),
                     "grain_size_nm": 10.0}, {}, MPI.COMM_WORLD, tmp_path / "c")
    gb = {"D0_m2_per_s": 1e-6, "Ea_eV": 0.15}
    bulk = {"D0_m2_per_s": 1e-6, "Ea_eV": 0.45}
    temps = [150.0, 200.0, 300.0, 500.0, 800.0, 1500.0, 3000.0, 6000.0]
    fe = {"temperatures_K": temps, "bulk": bulk, "gb_parallel": gb, "gb_perpendicular": gb}
    r = run_fe_sweep(fe_params(fe), {"microstructure/d10nm": mres}, MPI.COMM_WORLD, tmp_path)
    ea = r.get("Ea_app_eV")[:, 0]
    assert ea[0] == pytest.approx(0.15, abs=0.03)
    assert ea[-1] > 0.37
    assert np.all(np.diff(ea) > 0)
    f_par = 1.0 / 10.0
    est = f_par * arrhenius_D(**gb, temperature_K=temps) + (1 - f_par) * arrhenius_D(**bulk, temperature_K=temps)
    ea_est, _ = apparent_activation_energy(temps, est)
    np.testing.assert_allclose(ea, ea_est, atol=0.03)
    assert np.all(np.isfinite(r.get("curvature_K2")))


def test_inputs_from_arrhenius_dependency(tmp_path):
    mres = _mesh(tmp_path)
    arr = Result()
    for kind in ("tracer", "gb_parallel", "gb_perpendicular"):  # GB = bulk -> homogeneous
        name = "ordered" if kind == "tracer" else "gb_sigma5_310"
        arr.add(f"structures/{name}/{kind}/D0_m2_per_s", 1e-7, "m^2/s")
        arr.add(f"structures/{name}/{kind}/Ea_eV", 0.3, "eV")
    fits = {k: {"source": "md", "md": [{"task": "arrhenius/LPSCl", "structure": f"LPSCl/{s}",
                                        "fit": f"structures/{s}/{k if s != 'ordered' else 'tracer'}"}]}
            for k, s in (("bulk", "ordered"), ("gb_parallel", "gb_sigma5_310"), ("gb_perpendicular", "gb_sigma5_310"))}
    fe = {"temperatures_K": [300.0, 400.0], "carrier_density_per_nm3": 25.0}
    params = fe_params(fe, fits)
    params["case"].update(gb=["LPSCl/gb_sigma5_310"], gb_fractions=[1.0])
    r = run_fe_sweep(params, {"microstructure/d10nm": mres, "arrhenius/LPSCl": arr}, MPI.COMM_WORLD, tmp_path)
    D = arrhenius_D(1e-7, 0.3, [300.0, 400.0])
    np.testing.assert_allclose(r.get("D_eff_mean_m2_per_s")[:, 0], D, rtol=1e-8)
    np.testing.assert_allclose(r.get("Ea_app_eV"), 0.3, rtol=1e-10)
    sig = nernst_einstein_mS_per_cm(D, temperature_K=[300.0, 400.0], carrier_density_per_nm3=25.0)
    np.testing.assert_allclose(r.get("sigma_eff_mS_per_cm")[:, 0], sig, rtol=1e-8)
    # hand check of Nernst-Einstein: n e^2 D / kT in S/m, x10 -> mS/cm
    assert sig[0] == pytest.approx(25e27 * (1.602176634e-19) ** 2 * D[0] / (1.380649e-23 * 300.0) * 10, rel=1e-12)
    with pytest.raises(UserError):  # the named Arrhenius result is missing
        run_fe_sweep(params, {"microstructure/d10nm": mres}, MPI.COMM_WORLD, tmp_path)


def test_electrode_bc_sweep_agrees_with_periodic_on_laminate(tmp_path):
    mres = _mesh(tmp_path)
    fe = {"temperatures_K": [300.0, 500.0], "bulk": BULK, "gb_parallel": GB, "gb_perpendicular": GB,
          "solver_rtol": 1e-12}
    rp = run_fe_sweep(fe_params(fe), {"microstructure/d10nm": mres}, MPI.COMM_WORLD, tmp_path)
    re = run_fe_sweep(fe_params(dict(fe, bc="electrode")), {"microstructure/d10nm": mres}, MPI.COMM_WORLD, tmp_path)
    np.testing.assert_allclose(np.diagonal(re.get("D_eff_m2_per_s"), axis1=2, axis2=3),
                               np.diagonal(rp.get("D_eff_m2_per_s"), axis1=2, axis2=3), rtol=1e-8)
    assert K_B_eV_per_K > 0


def test_voronoi_mesh_convergence(tmp_path):
    """D_eff of a 2D Voronoi polycrystal with blocking GBs converges as the GB elements shrink."""
    from argyro_run.fe.polycrystal import dolfinx_mesh, polycrystal_diffusivity

    vals = []
    for f in (1.0, 0.5, 0.25):
        mres = run_mesh({"microstructure": dict(MICRO, kind="voronoi", n_grains=4, lloyd_iterations=2, seed=1,
                                                mesh_size_gb_fraction=f), "grain_size_nm": 10.0},
                        {}, MPI.COMM_WORLD, tmp_path / f"v{f}")
        m = dolfinx_mesh(mres.get("mesh/points_nm"), mres.get("mesh/cells"), MPI.COMM_WORLD)
        De = polycrystal_diffusivity(m, mres.get("mesh/cell_kind"), mres.get("mesh/gb_normal"), D_bulk=1.0,
                                     D_gb_parallel=0.05, D_gb_perpendicular=0.05, rtol=1e-12)
        vals.append(np.trace(De) / 2)
    # staircase GB layer: about first order in the GB element size (observed ratio ~3.7)
    assert abs(vals[2] - vals[1]) < 0.5 * abs(vals[1] - vals[0])
    assert vals[0] > vals[1] > vals[2]


def test_mesh_and_sweep_tasks_on_two_ranks_agree_with_one(tmp_path):
    serial = voronoi_sweep(tmp_path / "serial").get("D_eff_m2_per_s").ravel()
    p = run_mpi(2, ["-m", "tests.fe._mpi_sweep", str(tmp_path / "2")], timeout=300, cwd=str(REPO))
    assert p.returncode == 0, p.stderr[-3000:]
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("DEFF")][0]
    np.testing.assert_allclose(np.array(line.split()[1:], float), serial, rtol=1e-8)
    De = serial.reshape(2, 2, 2)
    assert np.all(np.linalg.eigvalsh(0.5 * (De + np.swapaxes(De, 1, 2))) > 0)
