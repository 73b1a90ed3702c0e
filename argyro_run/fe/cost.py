"""Cost estimates of the ``mesh`` task and of ``PolycrystalSolver.D_eff`` calls (for the planner).

All constants are CPU seconds measured on the development machine (2 cores shared with other
jobs, 2026-11-29; see docs/benchmarks.md "FE with GB interfaces") and live only here. The mesh
size is counted in cells: for ``interface`` the box volume in units of d^dim over the element size
``mesh_size_fraction``^dim, for ``layer`` the GB layer at its element size plus the grains.
"""

from __future__ import annotations

import math

# cells of a conforming interface mesh = a volume / h^dim + c n_grains (small tessellation features);
# fitted to 3D 100 grains h = 0.15 / 0.052 (133k / 2.0M cells; 16 grains h = 0.2: 13.4k, model
# 13.8k; h = 0.3: 6.8k, model 10k), 2D 4 grains h = 0.2 (288)
_CELLS_PER_H_VOLUME = {2: 3.7, 3: 5.23}
_CELLS_PER_GRAIN = {2: 0.0, 3: 522.0}
# DOFs (nodes of the cut mesh) = a cells + b n_grains (3D fitted to 100 grains at 133k / 2.0M cells:
# 42.7k / 442k DOFs; 16 grains 13.4k cells: 5.0k, model 5.1k; 2D 4 grains 288 cells: 215)
_DOFS_PER_CELL = {2: 0.5, 3: 0.214}
_DOFS_PER_GRAIN = {2: 18.0, 3: 142.0}
# interface mesh: tessellation + gmsh (HXT) per grain and per cell (3D: 1.3-2.2 s at 13k cells /
# 16 grains, 6.1 s at 139k cells / 100 grains; with gmsh's Delaunay 105 s at 2.0M cells)
_MESH_S_BASE, _MESH_S_PER_GRAIN, _MESH_S_PER_CELL = 0.5, 0.02, 3.5e-5
# layer mesh (gmsh with a Python size callback): per cell, plus the Voronoi sampling
_LAYER_S_BASE = {2: 1.6, 3: 0.1}
_LAYER_S_PER_CELL = {2: 1.3e-4, 3: 8.6e-5}
# layer meshes: measured cells / the geometric count below (2D 3.9-5.1, 3D 0.76-1.67)
_LAYER_CELL_FACTOR = {2: 4.5, 3: 1.3}
# interface solver: one-time set-up per DOF; per D_eff call a fixed part plus per DOF and load case
# (CG + GAMG, iterations 20..240 with the GB contrast; a mid value)
_SETUP_S_PER_DOF = 4e-5
_SOLVE_S_BASE, _SOLVE_S_PER_DOF_CASE = 0.05, 1.0e-5
# parallel speed-up ranks^0.5 (2 ranks, 442k / 890k DOFs: estimates 1.3x / 1.2x below rank 0's CPU
# time; small meshes gain nothing from a second rank: 5k DOFs ran 2.2x slower on 2 ranks)
_RANK_EXPONENT = 0.5
# fewest DOFs per rank for a further rank to pay: the template's 5.0k-DOF mesh took 2.2x longer on 2
# ranks than on 1 (MPI waits), 442k DOFs gained on 2 (PETSc's rule of thumb is 10k-50k per rank;
# nothing measured in between)
DOFS_PER_RANK_MIN = 20000


def _box_volume_per_d(micro: dict) -> float:
    """Box volume in units of d^dim (voronoi: n_grains equivalent circles/spheres of diameter 1)."""
    dim, n = int(micro.get("dimension", 3)), int(micro.get("n_grains", 8))
    if micro.get("kind", "voronoi") == "voronoi":
        return n * (math.pi / 4 if dim == 2 else math.pi / 6)
    return float(n)


def estimate_cells(microstructure: dict, grain_size_nm: float | None = None) -> float:
    """Expected cells of the mesh task's mesh (``layer``: for one grain size)."""
    micro = microstructure
    dim = int(micro.get("dimension", 3))
    h = float(micro.get("mesh_size_fraction", 0.2))
    vol = _box_volume_per_d(micro)
    if micro.get("gb_model", "interface") == "interface":
        return _CELLS_PER_H_VOLUME[dim] * vol / h ** dim + _CELLS_PER_GRAIN[dim] * int(micro.get("n_grains", 8))
    if grain_size_nm is None:
        raise ValueError("the layer model's mesh cost needs the grain size")
    d = float(grain_size_nm)
    delta = float(micro.get("gb_thickness_nm", 1.0))
    hb = min(float(micro.get("mesh_size_gb_fraction", 0.5)) * delta, h * d) / d
    per = {2: 2.0, 3: 6.0}[dim]
    # GB volume fraction ~ dim delta / d (around 2 layers of GB elements each side), grains at h
    return _LAYER_CELL_FACTOR[dim] * ((min(1.0, dim * delta / d) * vol) / (hb ** dim / per) + vol / (h ** dim / per))


def estimate_mesh_seconds(microstructure: dict, grain_size_nm: float | None = None) -> float:
    """CPU seconds of the ``mesh`` task for a ``[microstructure]`` dict (``layer``: one grain size)."""
    micro = microstructure
    cells = estimate_cells(micro, grain_size_nm)
    if micro.get("gb_model", "interface") == "interface":
        return _MESH_S_BASE + _MESH_S_PER_GRAIN * int(micro.get("n_grains", 8)) + _MESH_S_PER_CELL * cells
    dim = int(micro.get("dimension", 3))
    return _LAYER_S_BASE[dim] + _LAYER_S_PER_CELL[dim] * cells


def estimate_dofs(microstructure: dict, grain_size_nm: float | None = None) -> float:
    dim = int(microstructure.get("dimension", 3))
    cells = estimate_cells(microstructure, grain_size_nm)
    if microstructure.get("gb_model", "interface") != "interface":
        return _DOFS_PER_CELL[dim] * cells
    return _DOFS_PER_CELL[dim] * cells + _DOFS_PER_GRAIN[dim] * int(microstructure.get("n_grains", 8))


def estimate_solve_seconds(microstructure: dict, n_solves: int, ranks: int,
                           grain_size_nm: float | None = None) -> float:
    """Wall seconds of building a PolycrystalSolver and ``n_solves`` D_eff calls (dim load cases each)
    on ``ranks`` ranks (``layer``: the mesh of one grain size)."""
    dim = int(microstructure.get("dimension", 3))
    dofs = estimate_dofs(microstructure, grain_size_nm)
    serial = _SETUP_S_PER_DOF * dofs + n_solves * (_SOLVE_S_BASE + _SOLVE_S_PER_DOF_CASE * dim * dofs)
    return serial / max(int(ranks), 1) ** _RANK_EXPONENT


def fe_ranks(microstructure: dict, ranks: int, grain_sizes_nm=()) -> int:
    """Ranks an ``fe_sweep`` task is planned on: ``ranks`` (``parallel.ranks_per_fe``), fewer where
    the mesh has under :data:`DOFS_PER_RANK_MIN` DOFs per rank (a small mesh runs fastest on 1 rank;
    ``layer``: the largest mesh of ``grain_sizes_nm``)."""
    if microstructure.get("gb_model", "interface") == "interface":
        dofs = estimate_dofs(microstructure)
    else:
        dofs = max(estimate_dofs(microstructure, g) for g in grain_sizes_nm)
    return max(1, min(int(ranks), int(dofs // DOFS_PER_RANK_MIN)))
