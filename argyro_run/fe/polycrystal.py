"""dolfinx meshes rebuilt from a microstructure Result's arrays, and the cellwise D tensors."""

from __future__ import annotations

import numpy as np

from argyro_run._stack import dolfinx_modules
from argyro_run.fe.homogenize import cell_values_from_original, effective_diffusivity, transversely_isotropic


def dolfinx_mesh(points: np.ndarray, cells: np.ndarray, comm):
    """Distributed P1 simplex mesh from (n_nodes, dim) points and (n_cells, dim+1) cells given on rank 0."""
    import basix.ufl
    import ufl

    dolfinx, _ = dolfinx_modules()
    dim = int(comm.bcast(points.shape[1] if comm.rank == 0 else None, root=0))
    shape = "triangle" if dim == 2 else "tetrahedron"
    element = ufl.Mesh(basix.ufl.element("Lagrange", shape, 1, shape=(dim,)))
    if comm.rank == 0:
        x = np.ascontiguousarray(points, dtype=np.float64)
        c = np.ascontiguousarray(cells, dtype=np.int64)
    else:
        x = np.zeros((0, dim), dtype=np.float64)
        c = np.zeros((0, dim + 1), dtype=np.int64)
    return dolfinx.mesh.create_mesh(comm, c, element, x)


def cell_tensors(mesh, cell_kind: np.ndarray, gb_normal: np.ndarray, *, D_bulk: float, D_gb_parallel: float,
                 D_gb_perpendicular: float) -> np.ndarray:
    """Per local cell D: D_bulk I in grains, D_par (I - n n) + D_perp n n in GB cells (inputs per input cell)."""
    kind = cell_values_from_original(mesh, np.asarray(cell_kind))
    n = cell_values_from_original(mesh, np.asarray(gb_normal, float))
    dim = mesh.geometry.dim
    D = np.broadcast_to(D_bulk * np.eye(dim), (len(kind), dim, dim)).copy()
    gb = kind == 1
    if gb.any():
        D[gb] = transversely_isotropic(D_gb_parallel, D_gb_perpendicular, n[gb])
    return D


def polycrystal_diffusivity(mesh, cell_kind, gb_normal, *, D_bulk, D_gb_parallel, D_gb_perpendicular,
                            degree=1, rtol=1e-10, return_info=False):
    """Effective tensor of a rebuilt polycrystal mesh (units of the D inputs)."""
    D = cell_tensors(mesh, cell_kind, gb_normal, D_bulk=D_bulk, D_gb_parallel=D_gb_parallel,
                     D_gb_perpendicular=D_gb_perpendicular)
    return effective_diffusivity(mesh, D, degree=degree, rtol=rtol, return_info=return_info)


def _face_array(name: str, value, n_faces: int) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = np.full(n_faces, float(a))
    if a.shape != (n_faces,):
        raise ValueError(f"{name}: a number or an array over the {n_faces} GB faces, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name}: diffusivities must be positive and finite")
    return a


class PolycrystalSolver:
    """Built once per mesh-task result; reused for every grain size and temperature.

    ``gb_model = "interface"``: the cut conforming mesh in units of d (see
    :mod:`argyro_run.fe.interface`); any grain size and GB thickness. ``"layer"``: the resolved GB
    layer mesh of one grain size (cellwise tensors, :func:`polycrystal_diffusivity`)."""

    def __init__(self, mesh_result, comm, *, degree: int = 1, rtol: float = 1e-10, bc: str = "periodic"):
        attrs = mesh_result.get_attrs("")
        self.comm, self.degree, self.rtol, self.bc = comm, int(degree), float(rtol), bc
        self.gb_model = str(attrs.get("gb_model", "layer"))
        self.dim = int(attrs["dimension"])
        faces = np.asarray(mesh_result.get("gb_faces/grains"))
        self.n_gb_faces = int(len(faces))
        root = comm.rank == 0
        if self.gb_model == "interface":
            from argyro_run.fe.interface import InterfaceHomogenizer

            if bc != "periodic":
                raise ValueError(f"bc {bc!r}: the interface model supports periodic only")
            if self.degree != 1:
                raise ValueError("the interface model uses P1 elements (element_degree = 1)")
            get = (lambda p: np.asarray(mesh_result.get(p))) if root else (lambda p: None)
            self._h = InterfaceHomogenizer(get("mesh/points_d"), get("mesh/cells"), get("mesh/grain_id"),
                                           get("mesh/node_origin"), get("gb_facets/nodes"), get("gb_facets/cells"),
                                           get("gb_facets/face"),
                                           self.n_gb_faces, float(attrs["box_d"]), comm, rtol=self.rtol,
                                           node_image=get("mesh/node_image") if "mesh/node_image" in mesh_result
                                           else None)
            self.n_dofs = self._h.n_dofs
            return
        if self.gb_model != "layer":
            raise ValueError(f"unknown gb_model {self.gb_model!r}")
        self.grain_size_nm = float(attrs["grain_size_nm"])
        self.gb_thickness_nm = float(attrs["gb_thickness_nm"])
        self.mesh = dolfinx_mesh(mesh_result.get("mesh/points_nm") if root else None,
                                 mesh_result.get("mesh/cells") if root else None, comm)
        self.cell_kind = np.asarray(mesh_result.get("mesh/cell_kind"))
        self.gb_normal = np.asarray(mesh_result.get("mesh/gb_normal"), float)
        self.cell_face = np.asarray(mesh_result.get("mesh/gb_face"))
        dolfinx, _ = dolfinx_modules()
        V = dolfinx.fem.functionspace(self.mesh, ("Lagrange", self.degree))
        self.n_dofs = int(V.dofmap.index_map.size_global)

    def D_eff(self, *, grain_size_nm: float, gb_thickness_nm: float, D_bulk: float, D_gb_parallel,
              D_gb_perpendicular) -> np.ndarray:
        """(dim, dim) effective tensor, units of the inputs. Collective on comm. D_gb_* are floats or
        arrays over the GB faces (rows of gb_faces/grains)."""
        D_bulk = float(D_bulk)
        if not (D_bulk > 0 and np.isfinite(D_bulk)):
            raise ValueError("D_bulk must be positive and finite")
        par = _face_array("D_gb_parallel", D_gb_parallel, self.n_gb_faces) / D_bulk
        perp = _face_array("D_gb_perpendicular", D_gb_perpendicular, self.n_gb_faces) / D_bulk
        if self.gb_model == "interface":
            if not (grain_size_nm > gb_thickness_nm > 0):
                raise ValueError(f"grain size {grain_size_nm} nm must exceed gb_thickness_nm {gb_thickness_nm} > 0")
            r = gb_thickness_nm / grain_size_nm
            D, info = self._h.solve(r * (par - 1.0), r * (1.0 / perp - 1.0), return_info=True)
            self.last_info = info
            return D_bulk * D
        for name, have, want in (("grain size", self.grain_size_nm, grain_size_nm),
                                 ("gb_thickness_nm", self.gb_thickness_nm, gb_thickness_nm)):
            if not np.isclose(have, want, rtol=1e-9, atol=0.0):
                raise ValueError(f"layer model: {name} {want} differs from the mesh's ({have})")
        from argyro_run.fe.homogenize import electrode_diffusivity

        kind = cell_values_from_original(self.mesh, self.cell_kind)
        face = cell_values_from_original(self.mesh, self.cell_face)
        n = cell_values_from_original(self.mesh, self.gb_normal)
        D = np.broadcast_to(np.eye(self.dim), (len(kind), self.dim, self.dim)).copy()
        gb = kind == 1
        if gb.any():
            D[gb] = transversely_isotropic(par[face[gb]], perp[face[gb]], n[gb])
        if self.bc == "periodic":
            De, info = effective_diffusivity(self.mesh, D, degree=self.degree, rtol=self.rtol, return_info=True)
            self.n_dofs, self.last_info = info.n_dofs, info
            return D_bulk * De
        if self.bc == "electrode":
            De = np.zeros((self.dim, self.dim))
            for a in range(self.dim):
                De[a, a] = electrode_diffusivity(self.mesh, D, axis=a, degree=self.degree, rtol=self.rtol)
            return D_bulk * De
        raise ValueError(f"bc {self.bc!r}; allowed: periodic, electrode")
