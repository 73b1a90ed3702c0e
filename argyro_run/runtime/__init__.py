"""Runtime: executes a ``Plan`` on MPI rank groups and writes the HDF5 archive (see ``execute``)."""

from argyro_run.runtime.execute import RunStats, execute, resolve_function  # noqa: F401

__all__ = ["execute", "resolve_function", "RunStats"]
