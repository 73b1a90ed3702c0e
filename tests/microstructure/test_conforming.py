"""Conforming periodic meshes cut along the GBs (gb_model = "interface")."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.config.microstructure import MicrostructureSection
from argyro_run.microstructure.conforming import interface_mesh, simplex_measures
from argyro_run.microstructure.geometry import make_polycrystal


def _check_cut_mesh(m, dim):
    L = m.box
    vol = simplex_measures(m.points[m.cells])
    assert vol.min() > 0 and vol.sum() == pytest.approx(L ** dim, rel=1e-9)
    # every node belongs to the cells of exactly one grain (the mesh is cut along the GBs)
    g_of_node = np.full(len(m.points), -1)
    g_of_node[m.cells.ravel()] = np.repeat(m.grain_id, dim + 1)
    assert np.all(g_of_node[m.cells] == m.grain_id[:, None])
    # GB facets: both sides at the same positions, different grains, face ids = grain pairs
    a, b = m.facet_nodes[:, 0], m.facet_nodes[:, 1]
    np.testing.assert_array_equal(m.points[a], m.points[b])
    np.testing.assert_array_equal(m.node_origin[a], m.node_origin[b])
    ga, gb = g_of_node[a[:, 0]], g_of_node[b[:, 0]]
    assert np.all(ga <= gb)
    # the two sides are different node copies (different grains, or pieces of a grain touching its image)
    assert np.all(a != b)
    np.testing.assert_array_equal(m.gb_faces[m.facet_face], np.stack([ga, gb], 1))
    # facet nodes are nodes of the recorded cells
    for side in (0, 1):
        c = m.cells[m.facet_cells[:, side]]
        assert np.all((c[:, :, None] == m.facet_nodes[:, side][:, None, :]).any(axis=1))
    # periodic: the nodes of every grain on a min face match those on the max face exactly
    tol = 1e-9 * L
    for axis in range(dim):
        for g in np.unique(m.grain_id):
            own = g_of_node == g
            lo = m.points[own & (np.abs(m.points[:, axis]) < tol)]
            hi = m.points[own & (np.abs(m.points[:, axis] - L) < tol)].copy()
            hi[:, axis] -= L
            key = lambda p: sorted(map(tuple, np.round(p / tol).astype(np.int64)))  # noqa: E731
            assert key(lo) == key(hi)
    return vol, g_of_node


@pytest.mark.parametrize("dim,n", [(2, 5), (3, 8)])
def test_voronoi_conforming_mesh_cut_and_periodic(dim, n):
    micro = {"kind": "voronoi", "n_grains": n, "dimension": dim, "seed": 0, "lloyd_iterations": 2,
             "mesh_size_fraction": 0.2 if dim == 2 else 0.4}
    poly, m = interface_mesh(micro)
    vol, _ = _check_cut_mesh(m, dim)
    # in units of d: the box is that of grain size 1, every cell lies in the Voronoi cell of its grain
    ref = make_polycrystal("voronoi", dim=dim, n_grains=n, grain_size_nm=1.0, gb_thickness_nm=0.1, seed=0,
                           lloyd_iterations=2)
    assert m.box == pytest.approx(ref.box_nm, rel=1e-12)
    grain, dist, _, _ = ref.classify(m.points[m.cells].mean(axis=1))
    np.testing.assert_array_equal(grain, m.grain_id)
    # the GB facets lie on Voronoi faces (distance 0 to the nearest face, up to round-off)
    _, fd, _, _ = ref.classify(m.points[m.facet_nodes[:, 0]].mean(axis=1))
    assert np.abs(fd).max() < 1e-8
    assert set(np.unique(m.grain_id)) == set(range(n))
    # S_v * d is positive and of the order of the equivalent-sphere value 2 * dim / d / 2
    assert 0.5 * dim < m.gb_area_per_volume() < 2.5 * dim


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_and_cubic_exact_gb_area(dim):
    _, m = interface_mesh({"kind": "laminate", "n_grains": 3, "dimension": dim, "mesh_size_fraction": 0.5})
    _check_cut_mesh(m, dim)
    assert m.gb_area_per_volume() == pytest.approx(1.0, rel=1e-12)   # one GB plane per layer thickness d
    assert len(m.gb_faces) == 3
    k = 2
    _, m = interface_mesh({"kind": "cubic", "n_grains": k ** dim, "dimension": dim, "mesh_size_fraction": 0.5})
    _check_cut_mesh(m, dim)
    assert m.gb_area_per_volume() == pytest.approx(dim, rel=1e-12)   # dim planes per cube edge d
    np.testing.assert_allclose(m.face_areas().sum(), dim * m.box ** dim)


def test_grain_touching_its_own_periodic_image_is_cut():
    """3-D, 4 grains: some grains are their own Voronoi neighbours through the periodic boundary;
    those faces are GBs too (grain pair (g, g)), the pieces on both sides are separate copies."""
    _, m = interface_mesh({"kind": "voronoi", "n_grains": 4, "dimension": 3, "seed": 0, "lloyd_iterations": 2,
                           "mesh_size_fraction": 0.4})
    _check_cut_mesh(m, 3)
    assert np.any(m.gb_faces[:, 0] == m.gb_faces[:, 1])
    # a single square grain: its own image on all sides (the GB grid of a brick layer)
    _, m = interface_mesh({"kind": "cubic", "n_grains": 1, "dimension": 2, "mesh_size_fraction": 0.25})
    _check_cut_mesh(m, 2)
    assert m.gb_faces.tolist() == [[0, 0]] and m.gb_area_per_volume() == pytest.approx(2.0, rel=1e-12)


def test_config_gb_model_rules():
    assert MicrostructureSection().gb_model == "interface"
    with pytest.raises(ValueError, match="mesh_size_gb_fraction is only used with gb_model = 'layer'"):
        MicrostructureSection(mesh_size_gb_fraction=0.3)
    assert MicrostructureSection(gb_model="layer", mesh_size_gb_fraction=0.3).mesh_size_gb_fraction == 0.3
    with pytest.raises(ValueError, match="larger than gb_thickness_nm"):
        MicrostructureSection(grain_sizes_nm=[0.5])
