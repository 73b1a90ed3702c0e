"""Conforming periodic meshes of a tessellation, cut along the grain boundaries (GB interface model).

Every grain is a gmsh region and every GB a shared internal curve (2D) / surface (3D); the box
faces are periodic (``setPeriodic``, node positions on opposite faces match exactly). The mesh is
built once in units of the grain size d (scale-free): a grain-size sweep only changes the
interface coefficients (see docs/fe.md).

Route (gmsh OpenCASCADE): the periodic Voronoi cell of every seed (scipy Voronoi of the seeds and
their 3^dim periodic images) is built as a convex polygon / polyhedron, translated copies that
overlap the box are added, and everything is ``fragment``-ed with the box; pieces outside the box
are removed. Pieces of one grain split by box faces carry the same grain id. Laminate and cubic
tessellations use rectangles / boxes per grain through the same route, shifted by half a grain
so that no GB lies on a box face.

The P1 mesh is then cut: every node gets one copy per grain it touches (duplicated GB nodes), and
every GB mesh facet is recorded with the node copies of both sides (same geometric order), the two
adjacent cells and its GB face id (a GB face = an unordered grain pair, row of ``gb_faces``).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from argyro_run._stack import gmsh_module
from argyro_run.microstructure.geometry import Polycrystal, _images

log = logging.getLogger(__name__)


@dataclass
class CutMesh:
    """A P1 simplex mesh in units of the grain size, cut along the GBs."""

    points: np.ndarray  # (n_nodes, dim) duplicated GB nodes, units of d
    cells: np.ndarray  # (n_cells, dim+1) into points
    grain_id: np.ndarray  # (n_cells,)
    node_origin: np.ndarray  # (n_nodes,) index of the conforming (uncut) node
    facet_nodes: np.ndarray  # (n_facets, 2, dim): node copies of side a (lower grain) and side b
    facet_cells: np.ndarray  # (n_facets, 2): the cells of side a and side b
    facet_face: np.ndarray  # (n_facets,) GB face index
    gb_faces: np.ndarray  # (n_faces, 2) grain pairs (a < b)
    box: float  # box edge in units of d

    @property
    def dim(self) -> int:
        return self.points.shape[1]

    def facet_measures(self) -> np.ndarray:
        return simplex_measures(self.points[self.facet_nodes[:, 0]])

    def gb_area_per_volume(self) -> float:
        """S_v in units of 1/d: GB area (length in 2D) per box volume (area)."""
        return float(self.facet_measures().sum() / self.box ** self.dim)

    def face_areas(self) -> np.ndarray:
        """Area (length in 2D) of every GB face, units of d^(dim-1)."""
        return np.bincount(self.facet_face, weights=self.facet_measures(), minlength=len(self.gb_faces))


def simplex_measures(verts: np.ndarray) -> np.ndarray:
    """Measures of k-simplices embedded in R^n: verts (m, k+1, n)."""
    e = verts[:, 1:] - verts[:, :1]
    g = np.einsum("mik,mjk->mij", e, e)
    k = e.shape[1]
    return np.sqrt(np.abs(np.linalg.det(g))) / float(np.prod(np.arange(1, k + 1)))


def _voronoi_cells(seeds: np.ndarray, L: float):
    """Per seed: (vertices (m, dim), faces as lists of vertex indices ordered around each face)."""
    from scipy.spatial import Voronoi

    n, dim = seeds.shape
    imgs = _images(dim)
    order = np.argsort(np.abs(imgs).sum(1), kind="stable")  # the zero shift first
    pts = ((seeds[None] + imgs[order][:, None]) * L).reshape(-1, dim)
    vor = Voronoi(pts)
    cells = []
    for k in range(n):
        region = vor.regions[vor.point_region[k]]
        if -1 in region or not region:
            raise ValueError("unbounded Voronoi cell (too few seeds)")
        if dim == 2:
            v = vor.vertices[region]
            c = v.mean(0)
            ang = np.arctan2(v[:, 1] - c[1], v[:, 0] - c[0])
            cells.append((v[np.argsort(ang)], None))
            continue
        vid = {g: i for i, g in enumerate(region)}
        verts = vor.vertices[region]
        faces = []
        for r, (p, q) in enumerate(vor.ridge_points):
            if k not in (p, q):
                continue
            j = q if p == k else p
            idx = [vid[g] for g in vor.ridge_vertices[r]]
            fv = verts[idx]
            c = fv.mean(0)
            nrm = pts[j] - pts[k]
            nrm /= np.linalg.norm(nrm)
            u = fv[0] - c
            u -= nrm * (u @ nrm)
            u /= np.linalg.norm(u)
            w = np.cross(nrm, u)
            ang = np.arctan2((fv - c) @ w, (fv - c) @ u)
            faces.append([idx[i] for i in np.argsort(ang)])
        cells.append((verts, faces))
    rp = vor.ridge_points
    if np.any(((rp[:, 0] < n) | (rp[:, 1] < n)) & (rp[:, 0] % n == rp[:, 1] % n)):
        raise ValueError("a grain touches its own periodic image; use more grains or another seed")
    return cells


def _occ_polytope(occ, verts, faces, dim):
    """OpenCASCADE entity for a convex polygon (2D) / polyhedron (3D)."""
    p = [occ.addPoint(*(list(x) + [0.0] * (3 - dim))) for x in verts]
    if dim == 2:
        lines = [occ.addLine(p[i], p[(i + 1) % len(p)]) for i in range(len(p))]
        return occ.addPlaneSurface([occ.addCurveLoop(lines)])
    edges = {}
    surfs = []
    for f in faces:
        ls = []
        for a, b in zip(f, f[1:] + f[:1]):
            key = (min(a, b), max(a, b))
            if key not in edges:
                edges[key] = occ.addLine(p[key[0]], p[key[1]])
            ls.append(edges[key])
        surfs.append(occ.addPlaneSurface([occ.addCurveLoop(ls)]))
    return occ.addVolume([occ.addSurfaceLoop(surfs)])


def _pieces(poly: Polycrystal, occ):
    """(OCC tag, grain id) of all pieces that may overlap the box [0, L]^dim."""
    dim, L, n = poly.dim, poly.box_nm, poly.n_grains
    out = []
    if poly.kind == "voronoi":
        cells = _voronoi_cells(poly.seeds_nm / L, L)
        tol = 1e-9 * L
        for g, (verts, faces) in enumerate(cells):
            lo, hi = verts.min(0), verts.max(0)
            for s in itertools.product((-1.0, 0.0, 1.0), repeat=dim):
                sh = np.array(s) * L
                if np.all(lo + sh < L - tol) and np.all(hi + sh > tol):
                    out.append((_occ_polytope(occ, verts + sh, faces, dim), g))
        return out
    # laminate / cubic: grains shifted by half a grain so that no GB lies on a box face
    if poly.kind == "laminate":
        t = L / n
        for g in range(n):
            for s in (-1.0, 0.0, 1.0):
                z0 = (g - 0.5 + s * n) * t
                if z0 < L and z0 + t > 0:
                    lo = [0.0] * (dim - 1) + [z0]
                    ext = [L] * (dim - 1) + [t]
                    out.append((occ.addRectangle(*lo, 0.0, *ext) if dim == 2 else occ.addBox(*lo, *ext), g))
        return out
    if poly.kind == "cubic":
        k = round(n ** (1.0 / dim))
        if k < 2:
            raise ValueError("a grain touches its own periodic image; the interface model needs n_grains >= 2^dimension")
        t = L / k
        for idx in itertools.product(range(k), repeat=dim):
            g = int(np.ravel_multi_index(idx, (k,) * dim))
            for s in itertools.product((-1.0, 0.0, 1.0), repeat=dim):
                lo = [(i - 0.5 + si * k) * t for i, si in zip(idx, s)]
                if all(x < L and x + t > 0 for x in lo):
                    out.append((occ.addRectangle(*lo, 0.0, t, t) if dim == 2 else occ.addBox(*lo, t, t, t), g))
        return out
    raise ValueError(f"unknown kind {poly.kind!r}")


def _set_periodic(gmsh, dim, L):
    """Pair every entity on a max box face with its image on the min face (matched by centre)."""
    eps = 1e-6 * L
    for a in range(dim):
        lo = [-eps] * 3
        hi = [L + eps] * 3
        if dim == 2:
            lo[2], hi[2] = -eps, eps
        mlo, mhi = list(hi), list(lo)
        mlo[a] = eps
        mhi[a] = L - eps
        masters = gmsh.model.getEntitiesInBoundingBox(*lo, *mlo, dim - 1)
        slaves = gmsh.model.getEntitiesInBoundingBox(*mhi, *hi, dim - 1)
        cm = {t: np.array(gmsh.model.occ.getCenterOfMass(dim - 1, t)) for _, t in masters}
        T = np.eye(4)
        T[a, 3] = L
        if len(masters) != len(slaves):
            raise RuntimeError(f"periodic faces do not match along axis {a}: {len(masters)} vs {len(slaves)} entities")
        for _, s in slaves:
            c = np.array(gmsh.model.occ.getCenterOfMass(dim - 1, s))
            c[a] -= L
            m = min(cm, key=lambda t: np.linalg.norm(cm[t] - c))
            if np.linalg.norm(cm[m] - c) > 1e-5 * L:
                raise RuntimeError(f"no periodic image for box-face entity {s} along axis {a}")
            gmsh.model.mesh.setPeriodic(dim - 1, [s], [m], T.ravel().tolist())


def conforming_mesh(poly: Polycrystal, *, mesh_size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points (n, dim), P1 cells, grain id per cell) of a conforming periodic mesh of ``poly``.

    Lengths are those of ``poly`` (build it with grain size 1 for a mesh in units of d); every
    cell lies in one grain, GBs are mesh facets. ``mesh_size`` is the target element size."""
    gmsh = gmsh_module()
    dim, L = poly.dim, poly.box_nm
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("conforming")
        occ = gmsh.model.occ
        pieces = _pieces(poly, occ)
        box = occ.addRectangle(0, 0, 0, L, L) if dim == 2 else occ.addBox(0, 0, 0, L, L, L)
        _, omap = occ.fragment([(dim, box)], [(dim, t) for t, _ in pieces])
        inside = {t for d_, t in omap[0] if d_ == dim}
        grain = {}
        for (_, g), children in zip(pieces, omap[1:]):
            for d_, t in children:
                if d_ == dim and t in inside:
                    grain[t] = g
        outside = [(dim, t) for d_, t in occ.getEntities(dim) if t not in inside]
        if outside:
            occ.remove(outside, recursive=True)
        occ.synchronize()
        if set(grain) != inside:
            raise RuntimeError("fragment left box regions without a grain")
        for _, s in gmsh.model.getEntities(dim - 1):
            up, _ = gmsh.model.getAdjacencies(dim - 1, s)
            if len(up) == 2 and grain[int(up[0])] == grain[int(up[1])]:
                raise ValueError("a grain touches its own periodic image; use more grains or another seed")
        _set_periodic(gmsh, dim, L)
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(mesh_size))
        gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.MeshSizeExtendFromBoundary", 1)
        gmsh.model.mesh.generate(dim)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        etype = 2 if dim == 2 else 4
        cells, gid = [], []
        for t, g in grain.items():
            _, en = gmsh.model.mesh.getElementsByType(etype, t)
            c = np.asarray(en, dtype=np.int64).reshape(-1, dim + 1)
            cells.append(c)
            gid.append(np.full(len(c), g, dtype=np.int64))
    finally:
        gmsh.finalize()
    order = np.argsort(tags)
    pts = coords.reshape(-1, 3)[order, :dim]
    cells = np.searchsorted(tags[order], np.concatenate(cells))
    gid = np.concatenate(gid)
    used = np.unique(cells)
    remap = np.full(len(pts), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return pts[used], remap[cells], gid


def cut_mesh(points: np.ndarray, cells: np.ndarray, grain_id: np.ndarray, box: float) -> CutMesh:
    """Duplicate every node once per grain it touches and record the GB facets with both sides."""
    dim = points.shape[1]
    ng = int(grain_id.max()) + 1
    key = cells * ng + grain_id[:, None]
    ukey, inv = np.unique(key.ravel(), return_inverse=True)
    new_cells = inv.reshape(cells.shape)
    origin = ukey // ng
    # all cell facets (sorted original node ids); interior facets appear twice
    nf = dim + 1
    fac = np.stack([np.delete(cells, j, axis=1) for j in range(nf)], 1).reshape(-1, dim)
    fcell = np.repeat(np.arange(len(cells)), nf)
    loc = np.tile(np.arange(nf), len(cells))
    fsorted = np.sort(fac, axis=1)
    o = np.lexsort(fsorted.T[::-1])
    fs = fsorted[o]
    same = np.all(fs[1:] == fs[:-1], axis=1)
    i0 = np.flatnonzero(same)
    ca, cb = fcell[o[i0]], fcell[o[i0 + 1]]
    gb = grain_id[ca] != grain_id[cb]
    ca, cb, i0 = ca[gb], cb[gb], i0[gb]
    swap = grain_id[ca] > grain_id[cb]
    ca, cb = np.where(swap, cb, ca), np.where(swap, ca, cb)
    onodes = fs[i0]  # (n_facets, dim) original nodes, the same order for both sides
    ga, gbb = grain_id[ca], grain_id[cb]

    def copy_of(nodes, g):
        k = nodes * ng + g[:, None]
        j = np.searchsorted(ukey, k)
        if not np.all(ukey[j] == k):
            raise RuntimeError("GB node copy missing")
        return j

    facet_nodes = np.stack([copy_of(onodes, ga), copy_of(onodes, gbb)], 1)
    pairs = np.stack([ga, gbb], 1)
    faces, face_idx = np.unique(pairs, axis=0, return_inverse=True)
    del loc
    return CutMesh(points[origin], new_cells, grain_id.copy(), origin, facet_nodes, np.stack([ca, cb], 1),
                   face_idx.ravel().astype(np.int64), faces.astype(np.int64), float(box))


def interface_mesh(micro: dict) -> tuple[Polycrystal, CutMesh]:
    """The cut conforming mesh of a ``[microstructure]`` dict in units of the grain size d."""
    from argyro_run.microstructure.geometry import make_polycrystal

    dim = int(micro.get("dimension", 3))
    poly = make_polycrystal(micro.get("kind", "voronoi"), dim=dim, n_grains=int(micro.get("n_grains", 8)),
                            grain_size_nm=1.0, gb_thickness_nm=0.0, seed=int(micro.get("seed", 0)),
                            lloyd_iterations=int(micro.get("lloyd_iterations", 0)))
    pts, cells, gid = conforming_mesh(poly, mesh_size=float(micro.get("mesh_size_fraction", 0.2)))
    m = cut_mesh(pts, cells, gid, poly.box_nm)
    log.info("interface mesh: %d cells, %d nodes (cut), %d GB facets on %d GB faces, S_v d = %.4f",
             len(m.cells), len(m.points), len(m.facet_face), len(m.gb_faces), m.gb_area_per_volume())
    return poly, m
