"""gmsh meshes of a periodic polycrystal box, refined in the GB layers, with per-cell tags.

The box is meshed with periodic node matching on opposite faces (gmsh ``setPeriodic``); the
element size is ``mesh_size_gb_nm`` within the GB layer (and a band of the same width around it)
and grows linearly to ``mesh_size_nm`` inside grains. Every cell is tagged by its centroid: GB
cell (``cell_kind`` 1) when within delta/2 of a grain face, with that face's unit normal;
grain cell (0) otherwise. The GB layer is therefore resolved to the GB element size (cells are
not conforming to the layer surfaces); refining ``mesh_size_gb_nm`` converges it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from argyro_run._stack import gmsh_module
from argyro_run.microstructure.geometry import Polycrystal

log = logging.getLogger(__name__)


@dataclass
class PolycrystalMesh:
    points_nm: np.ndarray  # (n_nodes, dim)
    cells: np.ndarray  # (n_cells, dim+1) P1 simplices
    cell_kind: np.ndarray  # 0 grain, 1 GB
    grain_id: np.ndarray  # grain of the cell centroid
    gb_id: np.ndarray  # -1 or an id of the (grain, neighbour) pair
    gb_normal: np.ndarray  # (n_cells, dim), zero for grain cells
    box_nm: float


def mesh_polycrystal(poly: Polycrystal, *, mesh_size_nm: float, mesh_size_gb_nm: float) -> PolycrystalMesh:
    gmsh = gmsh_module()
    dim, L = poly.dim, poly.box_nm
    half = 0.5 * poly.gb_thickness_nm
    hg, hb = float(mesh_size_nm), float(min(mesh_size_gb_nm, mesh_size_nm))
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("polycrystal")
        if dim == 2:
            gmsh.model.occ.addRectangle(0, 0, 0, L, L)
        else:
            gmsh.model.occ.addBox(0, 0, 0, L, L, L)
        gmsh.model.occ.synchronize()
        eps = 1e-7 * L
        for a in range(dim):
            lo = [-eps] * 3
            hi = [L + eps] * 3
            hi_lo = list(hi)
            hi_lo[a] = eps
            lo_hi = list(lo)
            lo_hi[a] = L - eps
            if dim == 2:
                lo[2], hi[2], hi_lo[2], lo_hi[2] = -eps, eps, eps, -eps
            masters = gmsh.model.getEntitiesInBoundingBox(*lo, *hi_lo, dim - 1)
            slaves = gmsh.model.getEntitiesInBoundingBox(*lo_hi, *hi, dim - 1)
            T = np.eye(4)
            T[a, 3] = L
            gmsh.model.mesh.setPeriodic(dim - 1, [s[1] for s in slaves], [m[1] for m in masters],
                                        T.ravel().tolist())

        def size(_dim, _tag, x, y, z, _lc):
            _, dist, _, _ = poly.classify(np.array([[x, y, z][:dim]]))
            excess = max(float(dist[0]) - half - max(hb, half), 0.0)
            return min(hg, hb + 0.5 * excess)

        gmsh.model.mesh.setSizeCallback(size)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromPoints", 0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.model.mesh.generate(dim)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        etype = 2 if dim == 2 else 4
        _, enodes = gmsh.model.mesh.getElementsByType(etype)
    finally:
        gmsh.finalize()
    order = np.argsort(tags)
    tags = tags[order]
    pts = coords.reshape(-1, 3)[order, :dim]
    cells = np.searchsorted(tags, enodes).reshape(-1, dim + 1).astype(np.int64)
    used = np.unique(cells)
    remap = np.full(len(pts), -1, np.int64)
    remap[used] = np.arange(len(used))
    pts, cells = pts[used], remap[cells]
    centroid = pts[cells].mean(axis=1)
    grain, dist, normal, other = poly.classify(centroid)
    is_gb = dist < half
    pair = np.sort(np.stack([grain, other], 1), axis=1)
    gb_id = np.where(is_gb, pair[:, 0] * poly.n_grains + pair[:, 1], -1)
    gb_normal = np.where(is_gb[:, None], normal, 0.0)
    log.info("mesh: %d nodes, %d cells, %d GB cells", len(pts), len(cells), int(is_gb.sum()))
    return PolycrystalMesh(pts, cells, is_gb.astype(np.int8), grain, gb_id, gb_normal, L)


def _kuhn_mesh(axes: list[np.ndarray]):
    """Conforming simplex mesh of the tensor grid ``axes`` (Kuhn split of every box)."""
    import itertools

    dim = len(axes)
    shape = tuple(len(a) for a in axes)
    pts = np.array(np.meshgrid(*axes, indexing="ij")).reshape(dim, -1).T
    corners = np.array(np.meshgrid(*[np.arange(n - 1) for n in shape], indexing="ij")).reshape(dim, -1).T
    cells = []
    for perm in itertools.permutations(range(dim)):
        v = corners.copy()
        verts = [np.ravel_multi_index(tuple(v.T), shape)]
        for ax in perm:
            v = v.copy()
            v[:, ax] += 1
            verts.append(np.ravel_multi_index(tuple(v.T), shape))
        cells.append(np.stack(verts, 1))
    return pts, np.concatenate(cells).astype(np.int64)


def laminate_mesh(poly: Polycrystal, *, mesh_size_nm: float, mesh_size_gb_nm: float) -> PolycrystalMesh:
    """Structured simplex mesh with node planes on every GB layer surface (exact layers).

    laminate: layers along the last axis; cubic: the same node planes along every axis."""
    if poly.kind not in ("laminate", "cubic"):
        raise ValueError("laminate_mesh needs a laminate or cubic geometry")
    dim, L = poly.dim, poly.box_nm
    n = poly.n_grains if poly.kind == "laminate" else round(poly.n_grains ** (1.0 / dim))
    t, half = L / n, 0.5 * poly.gb_thickness_nm
    if not half < 0.5 * t:
        raise ValueError("GB layer thicker than the layer")
    hb = min(mesh_size_gb_nm, mesh_size_nm)

    def seg(a, b, h):
        k = max(int(np.ceil((b - a) / h - 1e-9)), 1)
        return np.linspace(a, b, k + 1)[:-1]

    z = []
    for i in range(n):
        z0 = i * t
        z += [seg(z0, z0 + half, hb), seg(z0 + half, z0 + t - half, mesh_size_nm), seg(z0 + t - half, z0 + t, hb)]
    z = np.concatenate(z + [np.array([L])])
    x = np.linspace(0, L, max(int(np.ceil(L / mesh_size_nm)), 1) + 1) if poly.kind == "laminate" else z
    pts, cells = _kuhn_mesh([x] * (dim - 1) + [z])
    centroid = pts[cells].mean(axis=1)
    grain, dist, normal, other = poly.classify(centroid)
    is_gb = dist < half
    pair = np.sort(np.stack([grain, other], 1), axis=1)
    gb_id = np.where(is_gb, pair[:, 0] * poly.n_grains + pair[:, 1], -1)
    return PolycrystalMesh(pts, cells, is_gb.astype(np.int8), grain, gb_id,
                           np.where(is_gb[:, None], normal, 0.0), L)
