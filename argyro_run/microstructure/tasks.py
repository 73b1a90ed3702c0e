"""``mesh`` task: polycrystal geometry -> gmsh mesh -> arrays (+ XDMF for ParaView)."""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from argyro_run.errors import UserError
from argyro_run.fe.cost import estimate_cells
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
    hb = min(hgb, h)
    est = estimate_cells(dict(micro, gb_model="layer"), grain_size_nm)
    if est > 2e6:
        log.warning("microstructure d=%s nm: about %.1e cells expected (GB element %.3g nm); meshing may take "
                    "long - use gb_model = 'interface', raise mesh_size_gb_fraction or lower the grain size",
                    grain_size_nm, est, hb)
    if poly.kind in ("laminate", "cubic"):
        return poly, laminate_mesh(poly, mesh_size_nm=h, mesh_size_gb_nm=hgb)
    return poly, mesh_polycrystal(poly, mesh_size_nm=h, mesh_size_gb_nm=hgb)


def _cell_measures(points, cells):
    dim = points.shape[1]
    e = points[cells[:, 1:]] - points[cells[:, :1]]
    return np.abs(np.linalg.det(e)) / (2.0 if dim == 2 else 6.0)


def run_mesh(params: dict, deps: dict, comm, workdir: pathlib.Path) -> Result:
    micro = dict(params["microstructure"])
    if micro.get("gb_model", "interface") == "interface":
        return _run_interface_mesh(micro, comm, workdir)
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
    gb = m.gb_id >= 0
    ids, inv = np.unique(m.gb_id[gb], return_inverse=True)
    face = np.full(len(m.gb_id), -1, dtype=np.int64)
    face[gb] = inv.ravel()
    n = int(poly.n_grains)
    res.add("mesh/gb_face", face, "", description="-1 in grains, else the row of gb_faces/grains")
    res.add("gb_faces/grains", np.stack([ids // n, ids % n], 1).astype(np.int64), "",
            description="grain pair (a < b) of every GB face")
    res.add("mesh/gb_normal", m.gb_normal, "1", description="unit normal of the GB face (zero in grains)")
    if poly.seeds_nm is not None:
        res.add("grains/seeds_nm", poly.seeds_nm, "nm")
    vol = _cell_measures(m.points_nm, m.cells)
    gb_fraction = float(vol[m.cell_kind == 1].sum() / vol.sum())
    xdmf = pathlib.Path(workdir) / "mesh.xdmf"
    write_xdmf(m.points_nm, m.cells, {"cell_kind": m.cell_kind, "grain_id": m.grain_id}, comm, xdmf)
    res.set_attrs("", microstructure_kind=poly.kind, dimension=poly.dim, box_nm=float(poly.box_nm),
                  grain_size_nm=float(g),
                  gb_thickness_nm=float(poly.gb_thickness_nm), n_grains=int(poly.n_grains),
                  gb_volume_fraction=gb_fraction, n_cells=int(len(m.cells)), n_nodes=int(len(m.points_nm)),
                  xdmf=str(xdmf), seed=int(micro.get("seed", 0)), gb_model="layer", n_gb_faces=int(len(ids)))
    log.info("mesh d=%s nm: %d cells, GB fraction %.4f", g, len(m.cells), gb_fraction)
    return res


def _run_interface_mesh(micro: dict, comm, workdir: pathlib.Path) -> Result:
    """One conforming mesh cut along the GBs, in units of the grain size (serves every grain size)."""
    from argyro_run.microstructure.conforming import interface_mesh

    out = None
    if comm.rank == 0:
        try:
            out = interface_mesh(micro)
        except ValueError as exc:
            out = UserError(f"microstructure: {exc}")
    out = comm.bcast(out, root=0)
    if isinstance(out, UserError):
        raise out
    poly, m = out
    res = Result()
    res.add("mesh/points_d", m.points, "1", description="node coordinates in units of the grain size d; GB nodes "
            "duplicated per grain (the mesh is cut along the GBs)")
    res.add("mesh/cells", m.cells.astype(np.int64), "", description="P1 simplices (node indices)")
    res.add("mesh/grain_id", m.grain_id, "")
    res.add("mesh/node_origin", m.node_origin, "", description="node of the conforming (uncut) mesh")
    res.add("mesh/node_image", m.node_image, "", description="periodic label: node copies with the same wrapped "
            "position, grain and label are periodic images of each other")
    res.add("gb_facets/nodes", m.facet_nodes, "", description="(n_facets, 2, dim): node copies of side a (lower "
            "grain) and side b, in the same geometric order")
    res.add("gb_facets/cells", m.facet_cells, "", description="the cells of side a and side b")
    res.add("gb_facets/face", m.facet_face, "", description="row of gb_faces/grains")
    res.add("gb_faces/grains", m.gb_faces, "", description="grain pair (a <= b; a == b where a grain touches its "
            "own periodic image) of every GB face")
    res.add("gb_faces/area_d2", m.face_areas(), "1", description="area (length in 2D) of every GB face in units "
            "of d^(dim-1)")
    if poly.seeds_nm is not None:
        res.add("grains/seeds_d", poly.seeds_nm, "1", description="Voronoi seeds in units of d")
    xdmf = pathlib.Path(workdir) / "mesh.xdmf"
    write_xdmf(m.points, m.cells, {"grain_id": m.grain_id}, comm, xdmf)
    sv = m.gb_area_per_volume()
    res.set_attrs("", microstructure_kind=poly.kind, dimension=poly.dim, box_d=float(poly.box_nm), length_unit="d",
                  gb_model="interface", n_grains=int(poly.n_grains), n_gb_faces=int(len(m.gb_faces)),
                  gb_area_per_volume_per_d=sv, n_cells=int(len(m.cells)), n_nodes=int(len(m.points)),
                  n_gb_facets=int(len(m.facet_face)), xdmf=str(xdmf), seed=int(micro.get("seed", 0)),
                  gb_thickness_nm=float(micro.get("gb_thickness_nm", 1.0)))
    log.info("interface mesh: %d cells, %d GB faces, S_v d = %.4f", len(m.cells), len(m.gb_faces), sv)
    return res


def write_xdmf(points, cells, tags: dict, comm, path: pathlib.Path) -> None:
    """Mesh + integer cell tags (name -> per-cell array) as XDMF/HDF5 for ParaView (collective on ``comm``)."""
    from argyro_run._stack import dolfinx_modules
    from argyro_run.fe.homogenize import cell_values_from_original
    from argyro_run.fe.polycrystal import dolfinx_mesh

    dolfinx_modules()   # dolfinx after mpi4py and h5py
    import dolfinx.io

    mesh = dolfinx_mesh(points if comm.rank == 0 else None, cells if comm.rank == 0 else None, comm)
    tdim = mesh.topology.dim
    n_own = mesh.topology.index_map(tdim).size_local
    idx = np.arange(n_own, dtype=np.int32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with dolfinx.io.XDMFFile(comm, str(path), "w") as f:
        f.write_mesh(mesh)
        for name, arr in tags.items():
            vals = cell_values_from_original(mesh, np.asarray(arr))[:n_own].astype(np.int32)
            tags = dolfinx.mesh.meshtags(mesh, tdim, idx, vals)
            tags.name = name
            f.write_meshtags(tags, mesh.geometry)
