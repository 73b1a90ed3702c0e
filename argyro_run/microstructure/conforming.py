"""Conforming periodic meshes of a tessellation, cut along the grain boundaries (GB interface model).

Every grain is a gmsh region and every GB a shared internal curve (2D) / surface (3D); the box
faces are periodic (``setPeriodic``, node positions on opposite faces match exactly). The mesh is
built once in units of the grain size d (scale-free): a grain-size sweep only changes the
interface coefficients (see docs/fe.md).

Route: the periodic Voronoi cell of every seed (halfspaces from scipy's Voronoi diagram of the
seeds and their 3^dim periodic images) and its translated copies are clipped to the box (convex
halfspace intersections); the pieces are glued by shared vertices / edges / faces and meshed with
gmsh's built-in kernel (no boolean operations). Pieces of one grain split by box faces carry the
same grain id. Laminate and cubic tessellations use boxes per grain through the same route,
shifted by half a grain so that no GB lies on a box face.

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
    gb_faces: np.ndarray  # (n_faces, 2) grain pairs (a <= b; a == b where a grain touches its image)
    box: float  # box edge in units of d
    node_image: np.ndarray  # (n_nodes, dim) periodic label: nodes with the same wrapped position, grain
    # and label are periodic images of each other

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


def _voronoi_halfspaces(seeds: np.ndarray, L: float):
    """Per seed: the halfspaces (A (m, dim), b (m,)) with A x + b <= 0 of its periodic Voronoi cell."""
    from scipy.spatial import Voronoi

    n, dim = seeds.shape
    imgs = _images(dim)
    order = np.argsort(np.abs(imgs).sum(1), kind="stable")  # the zero shift first
    pts = ((seeds[None] + imgs[order][:, None]) * L).reshape(-1, dim)
    vor = Voronoi(pts)
    rp = vor.ridge_points
    out = []
    for k in range(n):
        nb = np.concatenate([rp[rp[:, 0] == k, 1], rp[rp[:, 1] == k, 0]])
        A = pts[nb] - pts[k]
        b = -0.5 * ((pts[nb] ** 2).sum(1) - (pts[k] ** 2).sum())
        out.append((A, b))
    return out


def _box_halfspaces(lo, hi):
    dim = len(lo)
    A = np.vstack([-np.eye(dim), np.eye(dim)])
    return A, np.concatenate([np.asarray(lo, float), -np.asarray(hi, float)])


def _pieces(poly: Polycrystal):
    """(A, b, grain, shift) halfspaces of every grain cell translated by shift * L (shift in {-1, 0, 1}^dim;
    2 along an axis the grain is invariant along, e.g. a laminate's layers)."""
    dim, L, n = poly.dim, poly.box_nm, poly.n_grains
    shifts = [np.array(s) for s in itertools.product((-1.0, 0.0, 1.0), repeat=dim)]
    out = []
    if poly.kind == "voronoi":
        for g, (A, b) in enumerate(_voronoi_halfspaces(poly.seeds_nm / L, L)):
            for s in shifts:  # x in cell + s*L  <=>  A (x - s L) + b <= 0
                out.append((A, b - A @ (s * L), g, s))
        return out
    # laminate / cubic: grains shifted by half a grain so that no GB lies on a box face
    if poly.kind == "laminate":
        t = L / n
        for g in range(n):
            for s in (-1.0, 0.0, 1.0):
                z0 = (g - 0.5 + s * n) * t
                # a layer is invariant along the other axes: shift 2 marks "no image label" there
                out.append((*_box_halfspaces([-L] * (dim - 1) + [z0], [2 * L] * (dim - 1) + [z0 + t]), g,
                            np.r_[np.full(dim - 1, 2.0), s]))
        return out
    if poly.kind == "cubic":
        k = round(n ** (1.0 / dim))
        t = L / k
        for idx in itertools.product(range(k), repeat=dim):
            g = int(np.ravel_multi_index(idx, (k,) * dim))
            for s in shifts:
                lo = np.array([(i - 0.5 + si * k) * t for i, si in zip(idx, s)])
                out.append((*_box_halfspaces(lo, lo + t), g, s))
        return out
    raise ValueError(f"unknown kind {poly.kind!r}")


def _clip(A, b, L, tol):
    """Vertices and faces (ordered vertex lists) of {A x + b <= 0} inside the box, or None if empty."""
    from scipy.optimize import linprog
    from scipy.spatial import HalfspaceIntersection

    dim = A.shape[1]
    Ab, bb = _box_halfspaces(np.zeros(dim), np.full(dim, L))
    A = np.vstack([A, Ab])
    b = np.concatenate([b, bb])
    norm = np.linalg.norm(A, axis=1)
    A, b = A / norm[:, None], b / norm
    # Chebyshev centre: max r with A x + r <= -b
    lp = linprog(np.r_[np.zeros(dim), -1.0], A_ub=np.hstack([A, np.ones((len(A), 1))]), b_ub=-b,
                 bounds=[(None, None)] * dim + [(0, None)], method="highs")
    if lp.status != 0 or lp.x[-1] <= 10 * tol:
        return None
    hs = HalfspaceIntersection(np.hstack([A, b[:, None]]), lp.x[:dim])
    V = hs.intersections
    faces = []
    for i in range(len(A)):
        on = np.flatnonzero(np.abs(V @ A[i] + b[i]) < tol)
        if len(on) < dim:
            continue
        if dim == 2:
            faces.append((i, list(on)))
            continue
        P = V[on]
        c = P.mean(0)
        u = P[np.argmax(np.linalg.norm(P - c, axis=1))] - c
        u -= A[i] * (u @ A[i])
        u /= np.linalg.norm(u)
        w = np.cross(A[i], u)
        ang = np.arctan2((P - c) @ w, (P - c) @ u)
        faces.append((i, list(on[np.argsort(ang)])))
    return V, faces, len(A) - 2 * dim


def conforming_mesh(poly: Polycrystal, *, mesh_size: float):
    """(points (n, dim), P1 cells, grain id per cell, image shift per cell (n_cells, dim)) of a
    conforming periodic mesh of ``poly``: the cell lies in grain g's Voronoi cell translated by
    shift * L (pieces of one grain with different shifts are different pieces of the cut).

    Lengths are those of ``poly`` (build it with grain size 1 for a mesh in units of d); every
    cell lies in one grain, GBs are mesh facets. ``mesh_size`` is the target element size.
    The clipped convex pieces are glued by shared vertices / edges / faces (gmsh built-in kernel,
    no boolean operations)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    dim, L = poly.dim, poly.box_nm
    tol = 1e-9 * L
    pieces = []
    for A, b, g, sh in _pieces(poly):
        c = _clip(A, b, L, tol)
        if c is not None:
            pieces.append((c, g, np.asarray(sh, dtype=np.int64)))
    # global vertices: cluster the pieces' vertices (round-off between neighbours)
    allV = np.concatenate([c[0] for c, _, _ in pieces])
    offs = np.cumsum([0] + [len(c[0]) for c, _, _ in pieces])
    pairs = np.array(sorted(cKDTree(allV).query_pairs(1e3 * tol)), dtype=np.int64).reshape(-1, 2)
    G = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(allV), len(allV)))
    _, vid = connected_components(G, directed=False)
    first = np.full(vid.max() + 1, -1)
    first[vid[::-1]] = np.arange(len(vid))[::-1]
    X = allV[first]
    # faces keyed by their vertex sets; each is shared by at most two pieces
    face_of = {}
    piece_faces = []
    for p, ((V, faces, n_cell_planes), g, _) in enumerate(pieces):
        fl = []
        for plane, loop in faces:
            ids = []
            for v in vid[offs[p] + np.asarray(loop)]:
                if not ids or ids[-1] != v:
                    ids.append(int(v))
            if ids[0] == ids[-1] and len(ids) > 1:
                ids.pop()
            if len(ids) < dim:
                continue
            key = tuple(sorted(ids))
            face_of.setdefault(key, [ids, []])[1].append(p)
            fl.append(key)
        piece_faces.append(fl)
    for key, (ids, owners) in face_of.items():
        if len(owners) > 2:
            raise RuntimeError("non-manifold tessellation face")
    gmsh = gmsh_module()
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("conforming")
        geo = gmsh.model.geo
        used = sorted({v for ids, _ in face_of.values() for v in ids})
        ptag = {v: geo.addPoint(*(list(X[v]) + [0.0] * (3 - dim)), meshSize=float(mesh_size)) for v in used}
        etag = {}

        def line(a, b):
            k = (min(a, b), max(a, b))
            if k not in etag:
                etag[k] = geo.addLine(ptag[k[0]], ptag[k[1]])
            return etag[k] if a < b else -etag[k]

        ftag = {}
        for key, (ids, owners) in face_of.items():
            if dim == 2:
                ftag[key] = line(ids[0], ids[1])
            else:
                loop = geo.addCurveLoop([line(a, b) for a, b in zip(ids, ids[1:] + ids[:1])])
                ftag[key] = geo.addPlaneSurface([loop])
        grain = {}
        for p, fl in enumerate(piece_faces):
            if dim == 2:
                # order the piece's edges into a loop
                edges = {}
                for key in fl:
                    a, b = face_of[key][0]
                    edges.setdefault(a, []).append(b)
                    edges.setdefault(b, []).append(a)
                start = fl[0][0]
                loop, prev, cur = [start], None, start
                while True:
                    nxt = [v for v in edges[cur] if v != prev][0]
                    if nxt == start:
                        break
                    loop.append(nxt)
                    prev, cur = cur, nxt
                t = geo.addPlaneSurface([geo.addCurveLoop([line(a, b) for a, b in zip(loop, loop[1:] + loop[:1])])])
            else:
                t = geo.addVolume([geo.addSurfaceLoop([ftag[k] for k in fl])])
            grain[t] = p
        geo.synchronize()
        # periodic box faces: pair every face on x_a = L with its image on x_a = 0 (by centre)
        for a in range(dim):
            lo_f, hi_f = {}, {}
            for key, (ids, owners) in face_of.items():
                P = X[ids]
                if len(owners) == 1 and np.all(np.abs(P[:, a]) < 1e3 * tol):
                    lo_f[tuple(np.round(P.mean(0) / (1e4 * tol)).astype(np.int64))] = ftag[key]
                elif len(owners) == 1 and np.all(np.abs(P[:, a] - L) < 1e3 * tol):
                    c = P.mean(0)
                    c[a] -= L
                    hi_f[tuple(np.round(c / (1e4 * tol)).astype(np.int64))] = ftag[key]
            if set(lo_f) != set(hi_f):
                raise RuntimeError(f"periodic box faces do not match along axis {a}")
            T = np.eye(4)
            T[a, 3] = L
            keys = sorted(hi_f)
            gmsh.model.mesh.setPeriodic(dim - 1, [abs(hi_f[k]) for k in keys], [abs(lo_f[k]) for k in keys],
                                        T.ravel().tolist())
        gmsh.option.setNumber("Mesh.MeshSizeMax", float(mesh_size))
        gmsh.option.setNumber("Mesh.MeshSizeFromCurvature", 0)
        gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT: 2.3x less CPU than Delaunay at 100k cells
        gmsh.model.mesh.generate(dim)
        tags, coords, _ = gmsh.model.mesh.getNodes()
        etype = 2 if dim == 2 else 4
        cells, pid = [], []
        for t, p in grain.items():
            _, en = gmsh.model.mesh.getElementsByType(etype, t)
            c = np.asarray(en, dtype=np.int64).reshape(-1, dim + 1)
            cells.append(c)
            pid.append(np.full(len(c), p, dtype=np.int64))
    finally:
        gmsh.finalize()
    order = np.argsort(tags)
    pts = coords.reshape(-1, 3)[order, :dim]
    cells = np.searchsorted(tags[order], np.concatenate(cells))
    pid = np.concatenate(pid)
    gid = np.array([pieces[p][1] for p in range(len(pieces))], dtype=np.int64)[pid]
    shift = np.array([pieces[p][2] for p in range(len(pieces))], dtype=np.int64).reshape(-1, dim)[pid]
    used = np.unique(cells)
    remap = np.full(len(pts), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return pts[used], remap[cells], gid, shift


def cut_mesh(points: np.ndarray, cells: np.ndarray, grain_id: np.ndarray, box: float,
             cell_shift: np.ndarray | None = None) -> CutMesh:
    """Duplicate every node once per grain piece it touches and record the GB facets with both sides.

    A piece is a grain's cell translated by ``cell_shift`` * box (default: one piece per grain);
    two pieces of one grain meet inside the box only where the grain touches its own periodic
    image, which is a GB as well."""
    dim = points.shape[1]
    if cell_shift is None:
        cell_shift = np.zeros((len(cells), dim), dtype=np.int64)
    plabel = np.concatenate([grain_id[:, None], cell_shift], axis=1)
    pieces, piece = np.unique(plabel, axis=0, return_inverse=True)
    piece = piece.ravel()
    npc = len(pieces)
    key = cells * npc + piece[:, None]
    ukey, inv = np.unique(key.ravel(), return_inverse=True)
    new_cells = inv.reshape(cells.shape)
    origin = ukey // npc
    node_piece = ukey % npc
    # all cell facets (sorted original node ids); interior facets appear twice
    nf = dim + 1
    fac = np.stack([np.delete(cells, j, axis=1) for j in range(nf)], 1).reshape(-1, dim)
    fcell = np.repeat(np.arange(len(cells)), nf)
    fsorted = np.sort(fac, axis=1)
    o = np.lexsort(fsorted.T[::-1])
    fs = fsorted[o]
    same = np.all(fs[1:] == fs[:-1], axis=1)
    i0 = np.flatnonzero(same)
    ca, cb = fcell[o[i0]], fcell[o[i0 + 1]]
    gb = piece[ca] != piece[cb]
    ca, cb, i0 = ca[gb], cb[gb], i0[gb]
    swap = (grain_id[ca] > grain_id[cb]) | ((grain_id[ca] == grain_id[cb]) & (piece[ca] > piece[cb]))
    ca, cb = np.where(swap, cb, ca), np.where(swap, ca, cb)
    onodes = fs[i0]  # (n_facets, dim) original nodes, the same order for both sides

    def copy_of(nodes, pc):
        k = nodes * npc + pc[:, None]
        j = np.searchsorted(ukey, k)
        if not np.all(ukey[j] == k):
            raise RuntimeError("GB node copy missing")
        return j

    facet_nodes = np.stack([copy_of(onodes, piece[ca]), copy_of(onodes, piece[cb])], 1)
    pairs = np.stack([grain_id[ca], grain_id[cb]], 1)
    faces, face_idx = np.unique(pairs, axis=0, return_inverse=True)
    # periodic image label of every node copy: its piece's shift, minus one along an axis where the
    # node lies on the max box face (its periodic image on the min face belongs to the piece shifted back)
    P = points[origin]
    on_max = np.abs(P - box) < 1e-9 * box
    shifts = pieces[node_piece, 1:]
    invariant = shifts == 2  # grains invariant along an axis (laminate layers): no image label there
    node_image = np.where(invariant, 0, shifts - on_max.astype(np.int64))
    return CutMesh(P, new_cells, grain_id.copy(), origin, facet_nodes, np.stack([ca, cb], 1),
                   face_idx.ravel().astype(np.int64), faces.astype(np.int64), float(box), node_image)


def interface_mesh(micro: dict) -> tuple[Polycrystal, CutMesh]:
    """The cut conforming mesh of a ``[microstructure]`` dict in units of the grain size d."""
    from argyro_run.microstructure.geometry import make_polycrystal

    dim = int(micro.get("dimension", 3))
    poly = make_polycrystal(micro.get("kind", "voronoi"), dim=dim, n_grains=int(micro.get("n_grains", 8)),
                            grain_size_nm=1.0, gb_thickness_nm=0.0, seed=int(micro.get("seed", 0)),
                            lloyd_iterations=int(micro.get("lloyd_iterations", 0)))
    pts, cells, gid, shift = conforming_mesh(poly, mesh_size=float(micro.get("mesh_size_fraction", 0.2)))
    m = cut_mesh(pts, cells, gid, poly.box_nm, shift)
    log.info("interface mesh: %d cells, %d nodes (cut), %d GB facets on %d GB faces, S_v d = %.4f",
             len(m.cells), len(m.points), len(m.facet_face), len(m.gb_faces), m.gb_area_per_volume())
    return poly, m
