"""Cost model: the mesh sizes it assumes match real meshes within a factor 2 (the seconds per cell /
DOF are benchmark constants, see docs/benchmarks.md)."""

from __future__ import annotations

import pytest

from argyro_run.fe.cost import estimate_cells, estimate_dofs, estimate_mesh_seconds, estimate_solve_seconds
from argyro_run.microstructure.conforming import interface_mesh
from argyro_run.microstructure.tasks import build_mesh


@pytest.mark.parametrize("micro", [
    {"kind": "voronoi", "n_grains": 5, "dimension": 2, "seed": 3, "lloyd_iterations": 2, "mesh_size_fraction": 0.1},
    {"kind": "voronoi", "n_grains": 16, "dimension": 3, "seed": 0, "lloyd_iterations": 2, "mesh_size_fraction": 0.3},
])
def test_interface_mesh_size_estimate(micro):
    _, m = interface_mesh(micro)
    assert 0.5 < estimate_cells(micro) / len(m.cells) < 2.0
    assert 0.5 < estimate_dofs(micro) / len(m.points) < 2.0


@pytest.mark.parametrize("dim,d", [(2, 30.0), (3, 8.0)])
def test_layer_mesh_size_estimate(dim, d):
    micro = {"kind": "voronoi", "gb_model": "layer", "n_grains": 4 if dim == 2 else 8, "dimension": dim, "seed": 0,
             "lloyd_iterations": 2, "gb_thickness_nm": 1.0, "mesh_size_fraction": 0.2,
             "mesh_size_gb_fraction": 0.5 if dim == 2 else 1.0}
    _, m = build_mesh(micro, d)
    assert 0.5 < estimate_cells(micro, d) / len(m.cells) < 2.0
    with pytest.raises(ValueError, match="grain size"):
        estimate_mesh_seconds(micro)


def test_cost_scaling():
    micro = {"kind": "voronoi", "n_grains": 16, "dimension": 3, "mesh_size_fraction": 0.2}
    assert estimate_mesh_seconds(micro) == estimate_mesh_seconds(micro, 1000.0)   # one mesh for every d
    one = estimate_solve_seconds(micro, 10, 1)
    assert estimate_solve_seconds(micro, 20, 1) > one > estimate_solve_seconds(micro, 10, 2)
    layer = dict(micro, gb_model="layer", mesh_size_gb_fraction=0.5)
    assert estimate_mesh_seconds(layer, 1000.0) > 100 * estimate_mesh_seconds(layer, 20.0)
