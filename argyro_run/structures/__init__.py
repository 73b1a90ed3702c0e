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
    space_groups,
)
from argyro_run.structures.disorder import mix_halides, site_exchange
from argyro_run.structures.files import make_supercell, read_structure, write_structure
from argyro_run.structures.gb import csl_bicrystal, csl_rotation

__all__ = ["FORMAL_CHARGE", "HALIDES", "LATTICE_CONSTANTS_A", "SUBLATTICE", "argyrodite", "csl_bicrystal",
           "csl_rotation", "formal_charge", "ion_units", "make_supercell", "mix_halides", "read_structure",
           "site_exchange", "space_groups", "write_structure"]
