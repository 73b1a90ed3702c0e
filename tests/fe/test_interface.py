"""GBs as thin interfaces (gb_model = "interface"): exact laminates, convergence to the resolved layer,
the first-order (large grain) limit, parallel consistency and bounds."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from argyro_run._stack import MPI
from argyro_run.fe.polycrystal import PolycrystalSolver
from argyro_run.microstructure.tasks import run_mesh
from tests._support.env import REPO, run_mpi

COMM = MPI.COMM_WORLD


def _solver(tmp_path, **micro):
    base = {"kind": "voronoi", "n_grains": 4, "dimension": 2, "seed": 1, "lloyd_iterations": 2,
            "gb_thickness_nm": 1.0, "mesh_size_fraction": 0.2}
    res = run_mesh({"microstructure": dict(base, **micro)}, {}, COMM, tmp_path / "mesh")
    return res, PolycrystalSolver(res, COMM, rtol=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_series_parallel_exact(tmp_path, dim):
    """Layers of thickness d with GB interfaces of thickness delta: along = arithmetic, across =
    harmonic mean of bulk and GB layer (interface conduction and resistance), to 1e-8."""
    res, S = _solver(tmp_path, kind="laminate", n_grains=2, dimension=dim, mesh_size_fraction=0.5)
    assert S.gb_model == "interface" and S.n_gb_faces == 1
    d, delta, Db = 10.0, 1.0, 2.5e-12
    f = delta / d
    for par, perp in ((3.0, 0.25), (0.5, 0.4), (7.0, 2.0)):
        D = S.D_eff(grain_size_nm=d, gb_thickness_nm=delta, D_bulk=Db, D_gb_parallel=par * Db,
                    D_gb_perpendicular=perp * Db)
        along = (1 - f) * Db + f * par * Db
        across = 1.0 / ((1 - f) / Db + f / (perp * Db))
        np.testing.assert_allclose(np.diag(D)[:-1], along, rtol=1e-8)
        if perp < 1:   # positive excess resistance: a concentration jump, exact for the laminate
            assert D[-1, -1] == pytest.approx(across, rel=1e-8)
        else:          # negative excess resistance: first-order normal conduction term
            assert D[-1, -1] == pytest.approx(across, rel=2 * (f * (1 - 1 / perp)) ** 2)
        assert np.allclose(D - np.diag(np.diag(D)), 0.0, atol=1e-10 * Db)


def test_laminate_per_face_arrays(tmp_path):
    """Four layers, four GB faces with their own D_perp / D_par: series of the face resistances."""
    res, S = _solver(tmp_path, kind="laminate", n_grains=4, mesh_size_fraction=0.5)
    faces = res.get("gb_faces/grains")
    assert S.n_gb_faces == 4 and sorted(map(tuple, faces)) == [(0, 1), (0, 3), (1, 2), (2, 3)]
    d, delta = 20.0, 1.0
    perp = np.array([0.1, 0.2, 0.5, 0.8])
    par = np.array([2.0, 3.0, 4.0, 0.5])
    D = S.D_eff(grain_size_nm=d, gb_thickness_nm=delta, D_bulk=1.0, D_gb_parallel=par, D_gb_perpendicular=perp)
    across = 4 * d / (4 * (d - delta) + delta * np.sum(1 / perp))
    along = ((d - delta) * 4 + delta * par.sum()) / (4 * d)
    assert D[1, 1] == pytest.approx(across, rel=1e-8)
    assert D[0, 0] == pytest.approx(along, rel=1e-8)
    with pytest.raises(ValueError, match="D_gb_parallel"):
        S.D_eff(grain_size_nm=d, gb_thickness_nm=delta, D_bulk=1.0, D_gb_parallel=par[:3], D_gb_perpendicular=perp)
    with pytest.raises(ValueError, match="positive"):
        S.D_eff(grain_size_nm=d, gb_thickness_nm=delta, D_bulk=1.0, D_gb_parallel=-par, D_gb_perpendicular=perp)


def test_interface_converges_to_resolved_layer_like_delta_over_d_squared(tmp_path):
    """Brick-layer tessellation (2D, 4 grains), resolved layer (structured mesh, exact layer surfaces)
    vs interface model at d/delta = 10, 20, 40, 80: the difference falls by ~4 per halving of delta/d."""
    _, S = _solver(tmp_path, kind="cubic", mesh_size_fraction=0.1)
    par, perp = 3.0, 0.5
    diffs = []
    for d in (10.0, 20.0, 40.0, 80.0):
        Di = S.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=par, D_gb_perpendicular=perp)
        ml = run_mesh({"microstructure": {"kind": "cubic", "gb_model": "layer", "n_grains": 4, "dimension": 2,
                                          "gb_thickness_nm": 1.0, "mesh_size_fraction": 0.1,
                                          "mesh_size_gb_fraction": 0.5}, "grain_size_nm": d},
                      {}, COMM, tmp_path / f"layer{d:g}")
        L = PolycrystalSolver(ml, COMM, rtol=1e-12)
        assert L.gb_model == "layer" and L.n_dofs > 0 and L.n_gb_faces == 4
        Dl = L.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=par, D_gb_perpendicular=perp)
        diffs.append(abs(np.trace(Di - Dl)) / 2)
        with pytest.raises(ValueError, match="grain size"):
            L.D_eff(grain_size_nm=2 * d, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=par,
                    D_gb_perpendicular=perp)
    ratios = np.array(diffs[:-1]) / np.array(diffs[1:])
    assert np.all((ratios > 3.5) & (ratios < 5.5)), (diffs, ratios)


def _first_order_tensor(res, S, par, perp):
    """delta/d-coefficient of D_eff - D_b for a uniform bulk field, from the archived GB facets."""
    pts, nodes, face = res.get("mesh/points_d"), res.get("gb_facets/nodes"), res.get("gb_facets/face")
    v = pts[nodes[:, 0]]
    e = v[:, 1:] - v[:, :1]
    dim = pts.shape[1]
    if dim == 2:
        n = np.stack([-e[:, 0, 1], e[:, 0, 0]], 1)
        area = np.linalg.norm(n, axis=1)
    else:
        n = np.cross(e[:, 0], e[:, 1])
        area = 0.5 * np.linalg.norm(n, axis=1)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    par, perp = np.broadcast_to(par, S.n_gb_faces)[face], np.broadcast_to(perp, S.n_gb_faces)[face]
    nn = n[:, :, None] * n[:, None, :]
    T = ((par - 1)[:, None, None] * (np.eye(dim) - nn) + (1 - 1 / perp)[:, None, None] * nn) * area[:, None, None]
    return T.sum(0) / res.get_attrs("")["box_d"] ** dim


@pytest.mark.parametrize("dim,par,perp", [(2, 5.0, 0.25), (2, 0.5, 3.0), (3, 4.0, 0.25), (3, 0.3, 2.0)])
def test_large_grains_first_order_formula(tmp_path, dim, par, perp):
    """d >> delta: D_eff - D_b is proportional to 1/d and its trace/dim equals the isotropic formula
    delta S_v [((dim-1)/dim) (D_par - D_b) + (1/dim) (D_b - D_b^2/D_perp)] with S_v measured on the mesh."""
    res, S = _solver(tmp_path, dimension=dim, n_grains=4 if dim == 2 else 8,
                     mesh_size_fraction=0.2 if dim == 2 else 0.4)
    sv = res.get_attrs("")["gb_area_per_volume_per_d"]
    iso = sv * ((dim - 1) / dim * (par - 1) + (1 - 1 / perp) / dim)
    T1 = _first_order_tensor(res, S, par, perp)
    assert np.trace(T1) / dim == pytest.approx(iso, rel=1e-12)
    Db = 3e-13
    errs = []
    for d in (1e3, 1e4, 1e5):
        D = S.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=Db, D_gb_parallel=par * Db,
                    D_gb_perpendicular=perp * Db) / Db
        slope = (D - np.eye(dim)) * d
        errs.append(np.abs(slope - T1).max() / np.abs(T1).max())
    # the slope converges to the first-order tensor like delta/d
    assert errs[2] < 1e-3 and errs[2] < 0.2 * errs[1] and errs[1] < 0.5 * errs[0]


def test_spd_within_wiener_bounds_3d(tmp_path):
    """Random per-face GB diffusivities on a 3-D Voronoi polycrystal: D_eff symmetric positive definite,
    eigenvalues between the harmonic and arithmetic means of the local diffusivities (GB volume
    fraction delta S_v)."""
    res, S = _solver(tmp_path, dimension=3, n_grains=8, mesh_size_fraction=0.4)
    rng = np.random.default_rng(3)
    sv = res.get_attrs("")["gb_area_per_volume_per_d"]
    for d in (8.0, 30.0):
        par = 10 ** rng.uniform(-1, 2, S.n_gb_faces)
        perp = 10 ** rng.uniform(-2, 0.5, S.n_gb_faces)
        D = S.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=par, D_gb_perpendicular=perp)
        assert np.allclose(D, D.T, rtol=1e-9, atol=1e-12)
        ev = np.linalg.eigvalsh(D)
        f = sv / d
        lo = 1.0 / ((1 - f) + f / min(par.min(), perp.min()))
        hi = (1 - f) + f * max(par.max(), perp.max())
        assert ev.min() > 0 and lo <= ev.min() and ev.max() <= hi


@pytest.mark.parametrize("dim,h", [(2, 0.15), (3, 0.4)])
def test_one_and_two_ranks_identical(tmp_path, dim, h):
    vals = []
    for n in (1, 2):
        p = run_mpi(n, ["-m", "tests.fe._mpi_interface", str(dim), str(h), str(tmp_path / str(n))],
                    timeout=300, cwd=str(REPO))
        assert p.returncode == 0, p.stderr[-3000:]
        line = [ln for ln in p.stdout.splitlines() if ln.startswith("DEFF")][0]
        vals.append(np.array(line.split()[1:], float))
    assert vals[0][0] == vals[1][0]
    np.testing.assert_allclose(vals[1][1:], vals[0][1:], rtol=1e-9)


def test_mesh_result_layout(tmp_path: pathlib.Path):
    res, S = _solver(tmp_path)
    a = res.get_attrs("")
    assert a["gb_model"] == "interface" and a["length_unit"] == "d" and a["n_gb_faces"] == S.n_gb_faces
    assert res.get("gb_faces/grains").shape == (S.n_gb_faces, 2)
    assert np.all(res.get("gb_faces/grains")[:, 0] < res.get("gb_faces/grains")[:, 1])
    assert res.get("gb_faces/area_d2").sum() / a["box_d"] ** 2 == pytest.approx(a["gb_area_per_volume_per_d"])
    for p in res.datasets:
        assert "units" in res.get_attrs(p)
    assert pathlib.Path(a["xdmf"]).is_file()
    with pytest.raises(ValueError, match="grain size"):
        S.D_eff(grain_size_nm=1.0, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=1.0, D_gb_perpendicular=1.0)


def test_negative_tangential_excess_out_of_range_is_an_error(tmp_path):
    """D_par << D_b with delta close to d: the grains would lose their tangential conductivity."""
    _, S = _solver(tmp_path, kind="laminate", n_grains=2, mesh_size_fraction=0.5)
    D = S.D_eff(grain_size_nm=1.5, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=0.01, D_gb_perpendicular=0.5)
    assert D[0, 0] == pytest.approx(1 - (1 - 0.01) / 1.5, rel=1e-8)      # exact laminate value
    with pytest.raises(ValueError, match="gb_model = 'layer'"):
        S.D_eff(grain_size_nm=1.02, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=0.01, D_gb_perpendicular=0.5)


def test_layer_model_per_face_arrays_laminate(tmp_path):
    """Resolved layers (gb_model = "layer"), four GB faces with their own D_perp / D_par: exact series
    and parallel results; the faces are rows of gb_faces/grains as for the interface model."""
    res = run_mesh({"microstructure": {"kind": "laminate", "gb_model": "layer", "n_grains": 4, "dimension": 2,
                                       "gb_thickness_nm": 1.0, "mesh_size_fraction": 0.5,
                                       "mesh_size_gb_fraction": 1.0}, "grain_size_nm": 10.0},
                   {}, COMM, tmp_path / "layer")
    L = PolycrystalSolver(res, COMM, rtol=1e-12)
    faces = [tuple(f) for f in res.get("gb_faces/grains")]
    assert faces == [(0, 1), (0, 3), (1, 2), (2, 3)] and L.n_gb_faces == 4
    perp = np.array([0.1, 0.2, 0.5, 0.8])
    par = np.array([2.0, 3.0, 4.0, 0.5])
    D = L.D_eff(grain_size_nm=10.0, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=par, D_gb_perpendicular=perp)
    # each face is a layer of thickness delta = 1 nm; the box is 40 nm
    assert D[1, 1] == pytest.approx(40.0 / (36.0 + np.sum(1 / perp)), rel=1e-8)
    assert D[0, 0] == pytest.approx((36.0 + par.sum()) / 40.0, rel=1e-8)


@pytest.mark.parametrize("dim", [2, 3])
def test_single_cube_grain_touching_its_images(tmp_path, dim):
    """One cubic grain (its own neighbour on every side): the GB grid with a normal resistance only
    gives 1/(1 + R) along every axis exactly; with few 3-D Voronoi grains (self-touching) the
    first-order slope is that of the archived facets."""
    res, S = _solver(tmp_path / "c", kind="cubic", n_grains=1, dimension=dim, mesh_size_fraction=0.25)
    d, perp = 10.0, 0.25
    D = S.D_eff(grain_size_nm=d, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=1.0, D_gb_perpendicular=perp)
    R = (1.0 / d) * (1 / perp - 1)
    np.testing.assert_allclose(D, np.eye(dim) / (1 + R), rtol=1e-8, atol=1e-10)
    if dim == 3:
        res, S = _solver(tmp_path / "v", kind="voronoi", n_grains=4, dimension=3, seed=0, mesh_size_fraction=0.4)
        assert np.any(res.get("gb_faces/grains")[:, 0] == res.get("gb_faces/grains")[:, 1])
        T1 = _first_order_tensor(res, S, 3.0, 0.5)
        D = S.D_eff(grain_size_nm=1e5, gb_thickness_nm=1.0, D_bulk=1.0, D_gb_parallel=3.0, D_gb_perpendicular=0.5)
        np.testing.assert_allclose((D - np.eye(3)) * 1e5, T1, atol=2e-3 * np.abs(T1).max())
