"""The one place that knows the import order this binary stack needs.

* ``mpi4py.MPI`` must be imported before ``lammps`` or ``dolfinx`` (petsc4py): the MPICH
  wheel's ``libmpi.so.12`` is only found once mpi4py has loaded it.
* ``h5py`` must be imported before ``dolfinx``: both bundle an HDF5 library and the other
  order breaks h5py.
* Before ``mpi4py`` initialises MPI, the launcher is checked (``argyro_run.launcher``): under
  one this MPICH-ABI library cannot join (Open MPI's ``mpirun``, ``srun --mpi=pmix``, ``srun``
  without PMI) importing this module raises ``UserError`` (exit 2) naming the fix, instead of
  an abort inside ``MPI_Init``.

Every module of argyro-run that needs one of these imports it from here::

    from argyro_run._stack import MPI, h5py          # cheap
    lmp_mod = lammps_module()                         # lazy: lammps python package
    dolfinx, PETSc = dolfinx_modules()                # lazy: dolfinx + petsc4py.PETSc
"""

from __future__ import annotations

from argyro_run.launcher import check_launcher

check_launcher()  # before MPI_Init: a launcher this MPI cannot join is a UserError, not an abort

from mpi4py import MPI  # noqa: F401,E402  (must come first)

# isort: split
import h5py  # noqa: F401,E402  (must come before dolfinx)

__all__ = ["MPI", "h5py", "lammps_module", "dolfinx_modules", "gmsh_module"]


def lammps_module():
    """Return the ``lammps`` Python package (imported after mpi4py)."""
    import lammps

    return lammps


def dolfinx_modules():
    """Return ``(dolfinx, PETSc)`` imported after mpi4py and h5py."""
    import dolfinx
    import dolfinx.fem.petsc  # noqa: F401
    from petsc4py import PETSc

    return dolfinx, PETSc


def gmsh_module():
    """Return the ``gmsh`` Python API module."""
    import gmsh

    return gmsh
