"""``[[materials]]``: a material (an argyrodite Li6PS5X from the built-in builder, or any ionic
conductor from a structure file), its bulk variants and its grain-boundary models.

Built by :mod:`argyro_run.structures` (``docs/structures.md``). Every structure a material
defines has a name (:meth:`Material.structure_names`) that becomes part of task ids:
``ordered``, ``disordered`` (``disordered_1``, ... for further disorder copies) and one name
per grain boundary (``gb_sigma5_310`` or its ``label``).

With ``structure_file`` the material is what the file says: elements, counts and cell come from
the file (read at validation, relative to the input's folder: :meth:`Material.summary`); the
argyrodite-only keys (``halide``, ``formula``, ``site_disorder``, ``mixed_halide``, the
``disordered`` variant) need a file recognised as an argyrodite
(:func:`argyro_run.structures.files.is_argyrodite`). Those checks need the file and so run in
:func:`argyro_run.config.root.material_file_problems`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section

HALIDES = ("Cl", "Br", "I")

#: Keys that describe an argyrodite Li6PS5X; a structure file that is no argyrodite rejects them.
ARGYRODITE_KEYS = ("halide", "formula", "site_disorder", "mixed_halide", "mixed_halide_fraction",
                   "disorder_copies", "disorder_seed")


class GrainBoundary(Section):
    sigma: int = Field(..., ge=3, le=999, description="CSL Sigma value (odd).")
    plane: list[int] = Field(default_factory=lambda: [1, 1, 0], min_length=3, max_length=3,
                             description="GB plane Miller indices in grain 1's crystal frame (e.g. [3, 1, 0]).")
    axis: list[int] = Field(default_factory=lambda: [0, 0, 1], min_length=3, max_length=3,
                            description="Misorientation (rotation) axis [uvw]; tilt GB if it lies in the plane, "
                                        "twist if it is the plane normal.")
    label: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$",
                              description="Structure name (default gb_sigma<S>_<hkl>, e.g. gb_sigma5_310).")
    translations: list[list[float]] = Field(
        default_factory=lambda: [[0.0, 0.0]], min_length=1, max_length=100,
        description="Rigid-body shifts of grain 2 in the GB plane, fractions of the planar CSL cell vectors; "
                    "every one is built (<name>/t<k>), the first is the structure <name> used downstream.")
    grain_thickness_cells: float = Field(1.0, gt=0, le=20,
                                         description="Minimum thickness of each grain in lattice constants (rounded up "
                                                     "to whole lattice planes).")
    site_disorder: float | None = Field(None, ge=0, le=1,
                                        description="Halide/S2- site exchange applied to the bicrystal "
                                                    "(default: none, ordered grains).")
    gap_A: float = Field(0.0, ge=0, le=20,
                         description="Extra spacing along the normal added at each GB (the cell grows by 2 gap_A).")
    repeats_in_plane: list[int] = Field(default_factory=lambda: [1, 1], min_length=2, max_length=2,
                                        description="Repetitions of the planar CSL cell along a1, a2.")
    min_distance_A: float = Field(
        1.8, gt=0, le=5, description="Atoms of different grains closer than this are resolved by removing whole ions/units.")
    min_anion_distance_A: float = Field(
        2.8, gt=0, le=6,
        description="Anion units (PS4, S2-, X-) of different grains closer than this are resolved the same way.")

    @field_validator("sigma")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("sigma must be odd (3, 5, 7, ...)")
        return v

    @field_validator("plane", "axis")
    @classmethod
    def _nonzero(cls, v: list[int]) -> list[int]:
        if not any(v):
            raise ValueError("must not be [0, 0, 0]")
        return v

    @field_validator("repeats_in_plane")
    @classmethod
    def _reps(cls, v: list[int]) -> list[int]:
        if any(r < 1 or r > 20 for r in v):
            raise ValueError("repetitions must be between 1 and 20")
        return v

    @field_validator("translations")
    @classmethod
    def _translations(cls, v: list[list[float]]) -> list[list[float]]:
        for t in v:
            if len(t) != 2:
                raise ValueError(f"each translation is 2 numbers (fractions of a1, a2), found {t}")
            if any(not (-1.0 <= x <= 1.0) for x in t):
                raise ValueError(f"translation fractions must be in [-1, 1], found {t}")
        return v

    @model_validator(mode="after")
    def _csl_exists(self):
        from argyro_run.errors import UserError
        from argyro_run.structures.gb import csl_rotation

        try:
            csl_rotation(self.axis, self.sigma)
        except UserError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        return self

    def name(self) -> str:
        return self.label or f"gb_sigma{self.sigma}_{''.join(map(str, self.plane))}"


class Material(Section):
    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="Short name used in task ids.")
    formula: str | None = Field(None, description="Argyrodite formula Li6PS5X (optional; must agree with "
                                                  "halide; argyrodites only).")
    halide: Literal["Cl", "Br", "I"] | None = Field(
        None, description="Halide X of the argyrodite Li6PS5X (default Cl for the built-in builder; with an argyrodite "
                          "structure_file: read from the file, must agree if given; rejected for other structures).")
    structure_file: str | None = Field(
        None, description="Start from this structure file (any ASE format, fully ordered, relative to the input file) "
                          "instead of the argyrodite builder: elements, counts and cell come from the file.")
    mobile_ion: str | None = Field(
        None, min_length=1, max_length=2, pattern=r"^[A-Z][a-z]?$",
        description="Diffusing ion (element symbol, e.g. Li, Na, Ag, Cu): MD analysis, GB-resolved diffusion, "
                    "Nernst-Einstein with its formal charge. Default Li when the structure contains Li, else required.")
    lattice_constant_A: float | None = Field(None, gt=1, le=100,
                                             description="Cubic lattice constant (default: literature value, "
                                                         "Cl 9.86, Br 9.99, I 10.14).")
    mixed_halide: Literal["Cl", "Br", "I"] | None = Field(None, description="Second halide on the halide sites (mixed-halide "
                                                                            "argyrodite, e.g. Br in Li6PS5Cl).")
    mixed_halide_fraction: float = Field(0.0, ge=0, le=1,
                                         description="Fraction of the halide ions replaced by mixed_halide (exact count, "
                                                     "seeded, per structure).")
    li_seed: int | None = Field(None, ge=0, description="Seed for choosing one Li per 48h pair at random (default: "
                                                        "deterministic ordering).")
    supercell: list[int] = Field(default_factory=lambda: [1, 1, 1], min_length=3, max_length=3,
                                 description="Supercell repetitions of bulk variants.")
    variants: list[Literal["ordered", "disordered"]] = Field(default_factory=lambda: ["ordered"], min_length=1,
                                                             description="Bulk variants: ordered and/or anion-disordered.")
    site_disorder: float = Field(0.5, ge=0, le=1, description="Fraction of 4a halides exchanged with free S2- (0.5 = fully "
                                                              "mixed) in the disordered variant (argyrodites only).")
    disorder_copies: int = Field(1, ge=1, le=50, description="Number of independently seeded disordered copies "
                                                             "(disordered, disordered_1, ...).")
    disorder_seed: int | None = Field(None, ge=0, description="Seed of the first disordered copy (copy k uses seed + k); "
                                                              "default: derived from run.seed.")
    grain_boundaries: list[GrainBoundary] = Field(default_factory=list, description="Bicrystal GB models (built from "
                                                                                    "the ordered unit cell).")

    @field_validator("supercell")
    @classmethod
    def _supercell(cls, v: list[int]) -> list[int]:
        if any(r < 1 or r > 20 for r in v):
            raise ValueError("repetitions must be between 1 and 20")
        return v

    @field_validator("variants")
    @classmethod
    def _unique_variants(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"variants {v} contains duplicates")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.mixed_halide is not None and self.mixed_halide == self.builder_halide() and not self.structure_file:
            raise ValueError(f"mixed_halide must differ from halide ({self.builder_halide()!r})")
        if self.mixed_halide is not None and self.halide is not None and self.mixed_halide == self.halide:
            raise ValueError(f"mixed_halide must differ from halide ({self.halide!r})")
        if self.mixed_halide is None and self.mixed_halide_fraction > 0:
            raise ValueError("mixed_halide_fraction > 0 needs mixed_halide (the second halide)")
        if self.structure_file and (self.lattice_constant_A is not None or self.li_seed is not None):
            raise ValueError("lattice_constant_A and li_seed apply to the built-in builder only; "
                             "a structure_file brings its own cell and Li positions")
        if self.formula is not None and self.formula not in [f"Li6PS5{x}" for x in HALIDES]:
            raise ValueError(f"formula {self.formula!r} is not an argyrodite Li6PS5X (X = Cl, Br, I); for another "
                             "material give a structure_file and leave formula unset")
        if self.formula is not None and (self.halide is not None or not self.structure_file) \
                and self.formula != f"Li6PS5{self.builder_halide()}":
            raise ValueError(f"formula {self.formula!r} does not match halide {self.builder_halide()!r} "
                             f"(expected 'Li6PS5{self.builder_halide()}')")
        if self.mobile_ion is not None:
            from argyro_run.structures.ions import cations

            if self.mobile_ion not in cations():
                raise ValueError(f"mobile_ion {self.mobile_ion!r} is not a cation with a known charge; "
                                 f"allowed: {', '.join(cations())}")
            if not self.structure_file and self.mobile_ion != "Li":
                raise ValueError(f"mobile_ion {self.mobile_ion!r}: the built-in builder makes Li6PS5X (mobile ion Li); "
                                 "for another mobile ion give a structure_file")
        names = self.structure_names()
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"structure names must be unique, repeated: {dup}; give grain_boundaries a distinct label")
        return self

    def builder_halide(self) -> str:
        """Halide of the built-in argyrodite builder (``halide``, default Cl)."""
        return self.halide or "Cl"

    def argyrodite_keys_set(self, explicit: bool = True) -> list[str]:
        """Argyrodite-only keys the user gave (incl. the ``disordered`` variant and GB site_disorder);
        ``explicit=False``: those whose value differs from the default (for a re-validated dump,
        where every key counts as given)."""
        if explicit:
            out = [k for k in ARGYRODITE_KEYS if k in self.model_fields_set]
        else:
            fields = type(self).model_fields
            out = [k for k in ARGYRODITE_KEYS if getattr(self, k) != fields[k].get_default(call_default_factory=True)]
        if "disordered" in self.variants:
            out.append("variants = 'disordered'")
        out += [f"grain_boundaries[{i}].site_disorder" for i, g in enumerate(self.grain_boundaries)
                if g.site_disorder is not None]
        return out

    def summary(self, base_dir: Path | None = None):
        """The :class:`~argyro_run.structures.files.StructureSummary` of ``structure_file``
        (relative to ``base_dir``, default the current directory); None for the builder.
        Raises :class:`~argyro_run.errors.UserError` if the file is missing or unreadable."""
        if not self.structure_file:
            return None
        from argyro_run.structures.files import structure_summary

        return structure_summary(self.structure_path(base_dir))

    def structure_path(self, base_dir: Path | None = None) -> Path | None:
        if not self.structure_file:
            return None
        p = Path(self.structure_file).expanduser()
        return p if p.is_absolute() else Path(base_dir or Path.cwd()) / p

    def composition(self, base_dir: Path | None = None) -> dict[str, int]:
        """Element -> atoms in the unit cell, in the order of the structure (builder: Li24 P4 S20 X4;
        with mixed halides their rounded share of the 4 halide sites)."""
        info = self.summary(base_dir)
        if info is not None:
            return dict(info.counts)
        out = {"Li": 24, "P": 4, "S": 20, self.builder_halide(): 4}
        if self.mixed_halide is not None and self.mixed_halide_fraction > 0:
            n = int(round(4 * self.mixed_halide_fraction))
            out[self.builder_halide()] = 4 - n
            out[self.mixed_halide] = n  # the replaced halide stays listed (count 0 when fully replaced)
        return out

    def elements(self, base_dir: Path | None = None) -> list[str]:
        """Elements of the material in a stable order (the file's order of first appearance;
        builder: Li, P, S, halide, mixed halide)."""
        return list(self.composition(base_dir))

    def mobile_species(self, base_dir: Path | None = None) -> str:
        """The diffusing ion: ``mobile_ion``, else Li when the structure contains Li."""
        if self.mobile_ion is not None:
            return self.mobile_ion
        from argyro_run.structures.ions import DEFAULT_MOBILE_ION

        els = self.elements(base_dir)
        if DEFAULT_MOBILE_ION in els:
            return DEFAULT_MOBILE_ION
        from argyro_run.errors import UserError

        raise UserError(f"materials.{self.name}.mobile_ion: required, the structure has no Li; allowed: one of its "
                        f"cations {[e for e in els if _is_cation(e)]}")

    def mobile_charge(self, base_dir: Path | None = None) -> int:
        """Formal charge (units of e) of the mobile ion (Nernst-Einstein)."""
        from argyro_run.structures.ions import ion_charge

        return ion_charge(self.mobile_species(base_dir))

    def carrier_density_per_nm3(self, base_dir: Path | None = None) -> float:
        """Mobile ions per nm^3 of the unit cell (the FE stage's Nernst-Einstein carrier density)."""
        n = self.composition(base_dir).get(self.mobile_species(base_dir), 0)
        info = self.summary(base_dir)
        if info is not None:
            vol_A3 = info.volume_A3
        else:
            from argyro_run.structures.tasks import unit_cell

            vol_A3 = float(unit_cell(self).get_volume())
        return n / (vol_A3 * 1e-3)

    def disordered_names(self) -> list[str]:
        if "disordered" not in self.variants:
            return []
        return ["disordered"] + [f"disordered_{k}" for k in range(1, self.disorder_copies)]

    def structure_names(self) -> list[str]:
        names: list[str] = []
        for v in self.variants:
            names += ["ordered"] if v == "ordered" else self.disordered_names()
        names += [g.name() for g in self.grain_boundaries]
        return names


def _is_cation(symbol: str) -> bool:
    from argyro_run.structures.ions import cations

    return symbol in cations()
