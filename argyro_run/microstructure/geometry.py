"""Periodic polycrystal geometries (Voronoi, laminate, cubic) in a box, as distance fields.

A geometry is described analytically: for any point it gives the grain it belongs to, the
distance to the nearest grain face and that face's unit normal. Points within half the GB
thickness of a face lie in the GB layer of that face. :mod:`argyro_run.microstructure.mesh`
meshes the periodic box with gmsh (finer near faces) and tags every cell by its centroid.

Lengths are in nm. The tessellation is built in the unit box and scaled, so a grain-size sweep
with the same seed reuses the same tessellation and only delta/d changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SAMPLES = {2: 384, 3: 56}


def _images(dim: int) -> np.ndarray:
    g = np.array(np.meshgrid(*([(-1, 0, 1)] * dim), indexing="ij")).reshape(dim, -1).T
    return g.astype(float)


def _grid(dim: int) -> np.ndarray:
    n = _SAMPLES[dim]
    t = (np.arange(n) + 0.5) / n
    return np.array(np.meshgrid(*([t] * dim), indexing="ij")).reshape(dim, -1).T


def _nearest(points, seeds):
    """Index of the nearest seed (minimum image in the unit box) and the displacement to it."""
    from scipy.spatial import cKDTree

    imgs = _images(points.shape[1])
    allS = (seeds[None] + imgs[:, None]).reshape(-1, points.shape[1])
    _, j = cKDTree(allS).query(points)
    return j % len(seeds), points - allS[j]


def voronoi_seeds(n_grains: int, dim: int, *, seed: int, lloyd_iterations: int = 0) -> np.ndarray:
    """Seeded points in the unit box, optionally Lloyd-relaxed (centroids of periodic cells)."""
    rng = np.random.default_rng(seed)
    seeds = rng.random((n_grains, dim))
    if lloyd_iterations:
        X = _grid(dim)
        for _ in range(lloyd_iterations):
            idx, disp = _nearest(X, seeds)
            for k in range(n_grains):
                m = idx == k
                if m.any():
                    seeds[k] = (seeds[k] + disp[m].mean(0)) % 1.0
    return seeds


def unit_volumes(seeds: np.ndarray) -> np.ndarray:
    """Volume (area in 2D) fractions of the periodic Voronoi cells in the unit box (grid sampling)."""
    idx, _ = _nearest(_grid(seeds.shape[1]), seeds)
    return np.bincount(idx, minlength=len(seeds)) / idx.size


def equivalent_diameter(volumes, dim: int) -> np.ndarray:
    v = np.asarray(volumes, float)
    return np.sqrt(4 * v / np.pi) if dim == 2 else np.cbrt(6 * v / np.pi)


@dataclass
class Polycrystal:
    """An analytic periodic polycrystal in the box [0, box_nm]^dim."""

    kind: str
    dim: int
    box_nm: float
    n_grains: int
    gb_thickness_nm: float
    seeds_nm: np.ndarray | None = None  # voronoi only

    def classify(self, x_nm: np.ndarray):
        """(grain id, distance to the nearest face in nm, unit normal of that face, neighbour grain id)."""
        x = np.atleast_2d(np.asarray(x_nm, float))[:, : self.dim]
        L = self.box_nm
        if self.kind == "voronoi":
            S = self.seeds_nm
            imgs = _images(self.dim) * L
            allS = (S[None] + imgs[:, None]).reshape(-1, self.dim)
            gid = np.tile(np.arange(len(S)), len(imgs))
            n = len(x)
            grain = np.empty(n, np.int64)
            dist = np.empty(n)
            normal = np.empty((n, self.dim))
            other = np.empty(n, np.int64)
            for c0 in range(0, n, 20000):
                xc = x[c0:c0 + 20000]
                d2 = ((xc[:, None, :] - allS[None]) ** 2).sum(-1)
                i1 = d2.argmin(1)
                r = np.arange(len(xc))
                diff = allS[None] - allS[i1][:, None]
                nd = np.linalg.norm(diff, axis=-1)
                nd[r, i1] = 1.0
                h = (d2 - d2[r, i1][:, None]) / (2 * nd)
                h[r, i1] = np.inf
                j = h.argmin(1)
                grain[c0:c0 + len(xc)] = gid[i1]
                dist[c0:c0 + len(xc)] = h[r, j]
                normal[c0:c0 + len(xc)] = diff[r, j] / nd[r, j][:, None]
                other[c0:c0 + len(xc)] = gid[j]
            return grain, dist, normal, other
        if self.kind == "laminate":
            a = self.dim - 1
            t = L / self.n_grains
            z = np.mod(x[:, a], L)
            grain = np.minimum((z // t).astype(np.int64), self.n_grains - 1)
            f = z - grain * t
            dist = np.minimum(f, t - f)
            normal = np.zeros((len(x), self.dim))
            normal[:, a] = 1.0
            other = np.where(f < t - f, grain - 1, grain + 1) % self.n_grains
            return grain, dist, normal, other
        if self.kind == "cubic":
            k = round(self.n_grains ** (1.0 / self.dim))
            t = L / k
            y = np.mod(x, L)
            cell = np.minimum((y // t).astype(np.int64), k - 1)
            f = y - cell * t
            dd = np.minimum(f, t - f)
            a = dd.argmin(1)
            r = np.arange(len(x))
            dist = dd[r, a]
            normal = np.zeros((len(x), self.dim))
            normal[r, a] = 1.0
            grain = np.ravel_multi_index(tuple(cell.T), (k,) * self.dim)
            ncell = cell.copy()
            ncell[r, a] = (cell[r, a] + np.where(f[r, a] < t - f[r, a], -1, 1)) % k
            other = np.ravel_multi_index(tuple(ncell.T), (k,) * self.dim)
            return grain, dist, normal, other
        raise ValueError(f"unknown kind {self.kind!r}")


def make_polycrystal(kind: str, *, dim: int, n_grains: int, grain_size_nm: float, gb_thickness_nm: float,
                     seed: int = 0, lloyd_iterations: int = 0) -> Polycrystal:
    """Build the geometry; the mean equivalent-circle (2D) / -sphere (3D) diameter equals grain_size_nm.

    voronoi: seeded periodic Voronoi cells; laminate: n_grains layers stacked along the last axis
    (grain size = layer thickness); cubic: n_grains = k^dim cubes (grain size = cube edge).
    """
    if kind == "voronoi":
        seeds = voronoi_seeds(n_grains, dim, seed=seed, lloyd_iterations=lloyd_iterations)
        d_unit = equivalent_diameter(unit_volumes(seeds), dim).mean()
        L = grain_size_nm / d_unit
        return Polycrystal(kind, dim, L, n_grains, gb_thickness_nm, seeds * L)
    if kind == "laminate":
        return Polycrystal(kind, dim, grain_size_nm * n_grains, n_grains, gb_thickness_nm)
    if kind == "cubic":
        k = round(n_grains ** (1.0 / dim))
        if k ** dim != n_grains:
            raise ValueError(f"cubic microstructure needs n_grains = k^{dim}, got {n_grains}")
        return Polycrystal(kind, dim, grain_size_nm * k, n_grains, gb_thickness_nm)
    raise ValueError(f"unknown microstructure kind {kind!r}")
