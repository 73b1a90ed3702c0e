"""Atomic structures: Li6PS5X argyrodites, anion site exchange, supercells, structure files
and coincidence-site-lattice grain-boundary bicrystals (``docs/structures.md``)."""

from argyro_run.structures.argyrodite import (
    FORMAL_CHARGE,
    HALIDES,
    LATTICE_CONSTANTS_A,
    SUBLATTICE,
    argyrodite,
    formal_charge,
    ion_units,
)

__all__ = ["FORMAL_CHARGE", "HALIDES", "LATTICE_CONSTANTS_A", "SUBLATTICE", "argyrodite",
           "formal_charge", "ion_units"]
