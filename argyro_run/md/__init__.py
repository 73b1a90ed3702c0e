"""Molecular dynamics with LAMMPS and the MTP plugin (``[md]``)."""

from argyro_run.md.lammps_md import MDRun, run_md

__all__ = ["MDRun", "run_md"]
