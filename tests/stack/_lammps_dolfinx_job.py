"""Run under mpiexec -n 2: a LAMMPS LJ run and a dolfinx Poisson solve in one process."""

import json
import sys

import numpy as np

from argyro_run._stack import MPI, dolfinx_modules, lammps_module

comm = MPI.COMM_WORLD
out = {"size": comm.size}

# --- LAMMPS: LJ fcc crystal, NVE, total energy conserved and identical on all ranks
lammps = lammps_module()
L = lammps.lammps(comm=comm, cmdargs=["-log", "none", "-screen", "none", "-nocite"])
L.commands_string("""
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 4 0 4 0 4
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 1.0 87287 loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
pair_modify shift yes
fix 1 all nve
thermo_style custom step etotal
run 0
""")
e0 = L.get_thermo("etotal")
L.command("run 200")
e1 = L.get_thermo("etotal")
out["lammps_natoms"] = int(L.get_natoms())
out["lammps_e0"], out["lammps_e1"] = e0, e1
L.close()

# --- dolfinx: -Laplace u = 2 on the unit interval-like box with u = x(1-x) exact for P2
dolfinx, PETSc = dolfinx_modules()
import ufl  # noqa: E402 - after dolfinx_modules(), which sets the import order
from dolfinx import fem, mesh  # noqa: E402
from dolfinx.fem.petsc import LinearProblem  # noqa: E402

msh = mesh.create_unit_cube(comm, 4, 4, 4, cell_type=mesh.CellType.tetrahedron)
V = fem.functionspace(msh, ("Lagrange", 2))
u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
x = ufl.SpatialCoordinate(msh)
facets = mesh.locate_entities_boundary(msh, 2, lambda X: np.isclose(X[0], 0) | np.isclose(X[0], 1))
dofs = fem.locate_dofs_topological(V, 2, facets)
bc = fem.dirichletbc(PETSc.ScalarType(0), dofs, V)
a = ufl.inner(ufl.grad(u), ufl.grad(v)) * ufl.dx
Lf = 2.0 * v * ufl.dx
problem = LinearProblem(a, Lf, bcs=[bc], petsc_options_prefix="stack_",
                        petsc_options={"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-12})
uh = problem.solve()
if isinstance(uh, tuple):
    uh = uh[0]
err_local = fem.assemble_scalar(fem.form((uh - x[0] * (1 - x[0])) ** 2 * ufl.dx))
out["dolfinx_l2_error"] = float(np.sqrt(comm.allreduce(err_local, op=MPI.SUM)))
out["dolfinx_ndofs"] = V.dofmap.index_map.size_global

all_out = comm.gather(out, root=0)
if comm.rank == 0:
    json.dump(all_out, sys.stdout)
