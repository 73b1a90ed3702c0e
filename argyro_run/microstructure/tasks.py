"""``mesh`` task: polycrystal geometry -> gmsh mesh -> arrays (+ XDMF for ParaView)."""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from argyro_run.errors import UserError
from argyro_run.microstructure.geometry import make_polycrystal
from argyro_run.microstructure.mesh import laminate_mesh, mesh_polycrystal
from argyro_run.results import Result

log = logging.getLogger(__name__)


def build_mesh(micro: dict, grain_size_nm: float):
    """(Polycrystal, PolycrystalMesh) for a ``[microstructure]`` dict and one grain size (serial)."""
    dim = int(micro.get("dimension", 3))
    gb = float(micro.get("gb_thickness_nm", 1.0))
    if not grain_size_nm > gb:
        raise UserError(f"microstructure.grain_sizes_nm: {grain_size_nm} must be larger than gb_thickness_nm ({gb})")
    try:
        poly = make_polycrystal(micro.get("kind", "voronoi"), dim=dim, n_grains=int(micro.get("n_grains", 8)),
                                grain_size_nm=float(grain_size_nm), gb_thickness_nm=gb,
                                seed=int(micro.get("seed", 0)), lloyd_iterations=int(micro.get("lloyd_iterations", 0)))
    except ValueError as exc:
        raise UserError(f"microstructure: {exc}") from None
    h = float(micro.get("mesh_size_fraction", 0.2)) * grain_size_nm
    hgb = float(micro.get("mesh_size_gb_fraction", 0.5)) * gb
    # rough size estimate: GB volume fraction ~ dim * delta / d at the GB element size
    per = {2: 2.0, 3: 6.0}[dim]
    hb = min(hgb, h)
    est = (min(1.0, dim * gb / grain_size_nm) * poly.box_nm ** dim) / (hb ** dim / per) + poly.box_nm ** dim / (h ** dim / per)
    if est > 2e6:
        log.warning("microstructure d=%s nm: about %.1e cells expected (GB element %.3g nm); meshing may take "
                    "long - raise mesh_size_gb_fraction or lower the grain size", grain_size_nm, est, hb)
    if poly.kind == "laminate":
        return poly, laminate_mesh(poly, mesh_size_nm=h, mesh_size_gb_nm=hgb)
    return poly, mesh_polycrystal(poly, mesh_size_nm=h, mesh_size_gb_nm=hgb)


def _cell_measures(points, cells):
    dim = points.shape[1]
    e = points[cells[:, 1:]] - points[cells[:, :1]]
    return np.abs(np.linalg.det(e)) / (2.0 if dim == 2 else 6.0)


def run_mesh(params: dict, deps: dict, comm, workdir: pathlib.Path) -> Result:
    micro = dict(params["microstructure"])
    g = params.get("grain_size_nm")
    if g is None:
        raise UserError("microstructure.grain_sizes_nm: at least one grain size is needed")
    out = None
    if comm.rank == 0:
        out = build_mesh(micro, float(g))
    poly, m = comm.bcast(out, root=0)
    res = Result()
    res.add("mesh/points_nm", m.points_nm, "nm")
    res.add("mesh/cells", m.cells.astype(np.int64), "", description="P1 simplices (node indices)")
    res.add("mesh/cell_kind", m.cell_kind, "", description="0 grain, 1 grain boundary")
    res.add("mesh/grain_id", m.grain_id, "")
    res.add("mesh/gb_id", m.gb_id, "", description="-1 in grains, else grain_a * n_grains + grain_b")
    res.add("mesh/gb_normal", m.gb_normal, "1", description="unit normal of the GB face (zero in grains)")
    if poly.seeds_nm is not None:
        res.add("grains/seeds_nm", poly.seeds_nm, "nm")
    vol = _cell_measures(m.points_nm, m.cells)
    gb_fraction = float(vol[m.cell_kind == 1].sum() / vol.sum())
    xdmf = pathlib.Path(workdir) / "mesh.xdmf"
    write_xdmf(m, comm, xdmf)
    res.set_attrs("", microstructure_kind=poly.kind, dimension=poly.dim, box_nm=float(poly.box_nm), grain_size_nm=float(g),
                  gb_thickness_nm=float(poly.gb_thickness_nm), n_grains=int(poly.n_grains),
                  gb_volume_fraction=gb_fraction, n_cells=int(len(m.cells)), n_nodes=int(len(m.points_nm)),
                  xdmf=str(xdmf), seed=int(micro.get("seed", 0)))
    log.info("mesh d=%s nm: %d cells, GB fraction %.4f", g, len(m.cells), gb_fraction)
    return res


def write_xdmf(m, comm, path: pathlib.Path) -> None:
    """Mesh + cell tags (cell_kind, grain_id) as XDMF/HDF5 for ParaView (collective on ``comm``)."""
    from argyro_run._stack import dolfinx_modules
    from argyro_run.fe.homogenize import cell_values_from_original
    from argyro_run.fe.polycrystal import dolfinx_mesh

    dolfinx, _ = dolfinx_modules()
    import dolfinx.io

    mesh = dolfinx_mesh(m.points_nm, m.cells, comm)
    tdim = mesh.topology.dim
    n_own = mesh.topology.index_map(tdim).size_local
    idx = np.arange(n_own, dtype=np.int32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with dolfinx.io.XDMFFile(comm, str(path), "w") as f:
        f.write_mesh(mesh)
        for name, arr in (("cell_kind", m.cell_kind), ("grain_id", m.grain_id)):
            vals = cell_values_from_original(mesh, np.asarray(arr))[:n_own].astype(np.int32)
            tags = dolfinx.mesh.meshtags(mesh, tdim, idx, vals)
            tags.name = name
            f.write_meshtags(tags, mesh.geometry)
