"""Ions of ionic conductors: formal charges, covalent bonds that make molecular anions, mobile ions.

One owner for these tables: the structure builders, the grain-boundary overlap rule, the
Nernst-Einstein conductivity (charge of the mobile ion) and local active learning import them
from here.
"""

from __future__ import annotations

#: Formal (oxidation-state) charges in units of e. Cations first, then the centres of molecular
#: anions (P in PS4^3-, Ge in GeS4^4-, ...), then anions.
FORMAL_CHARGE = {"H": 1, "Li": 1, "Na": 1, "K": 1, "Rb": 1, "Cs": 1, "Ag": 1, "Cu": 1,
                 "Mg": 2, "Ca": 2, "Zn": 2, "Ga": 3, "Al": 3, "B": 3, "In": 3,
                 "P": 5, "As": 5, "Sb": 5, "Si": 4, "Ge": 4, "Sn": 4,
                 "O": -2, "S": -2, "Se": -2, "Te": -2, "F": -1, "Cl": -1, "Br": -1, "I": -1}

#: Covalent bonds (centre, ligand) -> longest bond length (Angstrom) that joins a ligand to the
#: centre of a molecular anion (PS4^3-, GeS4^4-, SiO4^4-, ...), kept whole in cut-outs and
#: grain boundaries.
UNIT_BONDS_A = {("P", "S"): 2.5, ("P", "O"): 2.0, ("P", "Se"): 2.6, ("Si", "S"): 2.5, ("Ge", "S"): 2.6,
                ("Sn", "S"): 2.7, ("As", "S"): 2.5, ("Sb", "S"): 2.7, ("Si", "O"): 1.9}

#: Singly charged ions that are the usual mobile species of solid electrolytes (the default
#: ``mobile_ion`` of a material is Li when it contains Li; any cation of FORMAL_CHARGE is allowed).
DEFAULT_MOBILE_ION = "Li"


def ion_charge(symbol: str) -> int:
    """Formal charge of ``symbol`` (KeyError names the allowed elements)."""
    try:
        return FORMAL_CHARGE[symbol]
    except KeyError:
        raise KeyError(f"{symbol!r} has no formal charge; allowed: {', '.join(FORMAL_CHARGE)}") from None


def cations() -> list[str]:
    """Elements with a positive formal charge that can be a mobile ion (not a molecular-anion centre)."""
    centres = {c for c, _ in UNIT_BONDS_A}
    return [s for s, q in FORMAL_CHARGE.items() if q > 0 and s not in centres]
