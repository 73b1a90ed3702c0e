"""Polycrystal geometry and gmsh meshes: scaling, periodicity, tags, normals, sweeps."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from argyro_run._stack import MPI
from argyro_run.errors import UserError
from argyro_run.microstructure.geometry import equivalent_diameter, make_polycrystal
from argyro_run.microstructure.tasks import _cell_measures, build_mesh, run_mesh

MICRO = {"kind": "voronoi", "gb_model": "layer", "n_grains": 4, "gb_thickness_nm": 1.0, "dimension": 2, "seed": 1,
         "lloyd_iterations": 2, "mesh_size_fraction": 0.2, "mesh_size_gb_fraction": 0.5}


def _periodic_pairs_match(points, L, axis, tol=1e-8):
    lo = points[np.abs(points[:, axis]) < tol * L]
    hi = points[np.abs(points[:, axis] - L) < tol * L].copy()
    hi[:, axis] -= L
    key = lambda p: set(map(tuple, np.round(p / (tol * L * 10)).astype(np.int64)))  # noqa: E731
    return len(lo) > 2 and key(lo) == key(hi)


@pytest.mark.parametrize("dim", [2, 3])
def test_voronoi_mesh_scaled_periodic_and_tagged(dim):
    micro = dict(MICRO, dimension=dim, mesh_size_fraction=0.4 if dim == 3 else 0.2,
                 mesh_size_gb_fraction=2.0 if dim == 3 else 0.5)
    poly, m = build_mesh(micro, 20.0)
    L = poly.box_nm
    vol = _cell_measures(m.points_nm, m.cells)
    assert vol.sum() == pytest.approx(L ** dim, rel=1e-9)
    for a in range(dim):
        assert _periodic_pairs_match(m.points_nm, L, a)
    # mean equivalent diameter of the meshed grains (GB cells given to their grain) = d
    grain_vol = np.bincount(m.grain_id, weights=vol, minlength=4)
    assert equivalent_diameter(grain_vol, dim).mean() == pytest.approx(20.0, rel=0.03)
    gb = m.cell_kind == 1
    assert 0 < gb.sum() < len(gb)
    np.testing.assert_allclose(np.linalg.norm(m.gb_normal[gb], axis=1), 1.0, rtol=1e-12)
    assert np.all(m.gb_normal[~gb] == 0) and np.all(m.gb_id[~gb] == -1)
    # a GB cell's normal is along the line joining the two nearest seeds of its centroid
    # (all periodic images, brute force): the face between them is their bisector
    S = poly.seeds_nm
    imgs = np.array(np.meshgrid(*([(-1, 0, 1)] * dim), indexing="ij")).reshape(dim, -1).T * L
    allS = (S[None] + imgs[:, None]).reshape(-1, dim)
    x = m.points_nm[m.cells[gb]].mean(axis=1)
    order = np.argsort(((x[:, None] - allS[None]) ** 2).sum(-1), axis=1)
    v = allS[order[:, 1]] - allS[order[:, 0]]
    cos = np.abs((m.gb_normal[gb] * v).sum(1)) / np.linalg.norm(v, axis=1)
    assert np.quantile(cos, 0.8) > 1 - 1e-9


def test_grain_size_sweep_scales_the_same_tessellation():
    p1 = make_polycrystal("voronoi", dim=2, n_grains=6, grain_size_nm=20, gb_thickness_nm=1, seed=4, lloyd_iterations=1)
    p2 = make_polycrystal("voronoi", dim=2, n_grains=6, grain_size_nm=80, gb_thickness_nm=1, seed=4, lloyd_iterations=1)
    assert p2.box_nm == pytest.approx(4 * p1.box_nm, rel=1e-12)
    np.testing.assert_allclose(p2.seeds_nm / p2.box_nm, p1.seeds_nm / p1.box_nm, rtol=1e-12)


def test_laminate_and_cubic_exact_layers():
    poly, m = build_mesh(dict(MICRO, kind="laminate"), 20.0)
    vol = _cell_measures(m.points_nm, m.cells)
    assert vol[m.cell_kind == 1].sum() / vol.sum() == pytest.approx(1.0 / 20.0, rel=1e-12)
    assert np.all(m.gb_normal[m.cell_kind == 1] == [0.0, 1.0])
    exact = 1 - (1 - 1.0 / 20.0) ** 2
    # cubic: structured node planes on every layer surface, the GB fraction is exact
    _, mc = build_mesh(dict(MICRO, kind="cubic", mesh_size_gb_fraction=1.0), 20.0)
    vc = _cell_measures(mc.points_nm, mc.cells)
    assert vc[mc.cell_kind == 1].sum() / vc.sum() == pytest.approx(exact, rel=1e-12)


def test_invalid_inputs_are_user_errors():
    with pytest.raises(UserError, match="n_grains"):
        build_mesh(dict(MICRO, kind="cubic", n_grains=5), 20.0)
    with pytest.raises(UserError, match="larger than gb_thickness"):
        build_mesh(MICRO, 0.5)


def test_run_mesh_result_and_xdmf(tmp_path: pathlib.Path):
    res = run_mesh({"microstructure": MICRO, "grain_size_nm": 20.0, "seed": 99}, {}, MPI.COMM_WORLD, tmp_path)
    for p in ("mesh/points_nm", "mesh/cells", "mesh/cell_kind", "mesh/grain_id", "mesh/gb_id", "mesh/gb_normal",
              "grains/seeds_nm"):
        assert p in res and "units" in res.get_attrs(p)
    assert res.get_attrs("mesh/points_nm")["units"] == "nm"
    a = res.get_attrs("")
    assert pathlib.Path(a["xdmf"]).is_file() and (tmp_path / "mesh.h5").is_file()
    assert 0.02 < a["gb_volume_fraction"] < 0.3
