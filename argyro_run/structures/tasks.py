"""Task ``build_structures``: every structure of one ``[[materials]]`` entry.

``params`` (``argyro_run/plan/build.py``): ``material`` (the Material's model_dump),
``structures`` (its ``structure_names()``), ``seed`` (task seed from ``run.seed``),
``structure_file_sha256``. A relative ``structure_file`` is resolved against ``input_dir`` (the
directory of the input file, which the runtime adds to every task's params) or, when called
directly, ``base_dir``; only without either against the current directory.

The Result holds, per name, ``add_atoms(result, name, atoms)``. Grain boundaries with several
rigid-body ``translations`` are all built: translation k is stored as ``<name>/t<k>`` and
translation 0 is also ``<name>`` itself (the structure MD uses). Picking the lowest-energy
translation needs a potential, which does not exist at this stage of the plan; a later
stage may relax and rank the ``t<k>`` cells.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from ase import Atoms

from argyro_run.errors import UserError
from argyro_run.results import Result, add_atoms

log = logging.getLogger(__name__)


def _material(material) -> "object":
    from argyro_run.config.materials import Material

    return material if isinstance(material, Material) else Material.model_validate(material)


def unit_cell(material, *, base_dir: Path | None = None) -> Atoms:
    """The ordered unit cell of a material: the builder's 52-atom cell or its structure file
    (``info["mobile_ion"]`` names the diffusing ion)."""
    from argyro_run.structures.argyrodite import argyrodite
    from argyro_run.structures.files import read_structure

    m = _material(material)
    if m.structure_file:
        from argyro_run.structures.files import is_argyrodite

        p = m.structure_path(base_dir)
        atoms = read_structure(p)
        halides = sorted({s for s in atoms.get_chemical_symbols() if s in ("Cl", "Br", "I")})
        if m.halide is not None:
            allowed = {m.halide} | ({m.mixed_halide} if m.mixed_halide else set())
            if not halides or not set(halides) <= allowed:
                raise UserError(f"materials.{m.name}.halide: the material says {m.halide!r} but {p.name} contains "
                                f"{halides or 'no halide'}; set halide (and mixed_halide) to match the file, or leave "
                                "halide unset")
        if is_argyrodite(atoms):
            atoms.info.setdefault("halide", m.halide or halides[0])
        elif m.argyrodite_keys_set(explicit=False):
            raise UserError(f"materials.{m.name}: {', '.join(m.argyrodite_keys_set(explicit=False))} describe an argyrodite "
                            f"Li6PS5X, but {p.name} is not one; remove them")
        atoms.info["mobile_ion"] = m.mobile_species(base_dir)
        return atoms
    a = m.lattice_constant_A
    if a is None and m.mixed_halide is not None and m.mixed_halide_fraction > 0:
        from argyro_run.structures.argyrodite import LATTICE_CONSTANTS_A

        f = m.mixed_halide_fraction  # Vegard's law between the two end members
        a = (1 - f) * LATTICE_CONSTANTS_A[m.builder_halide()] + f * LATTICE_CONSTANTS_A[m.mixed_halide]
    atoms = argyrodite(m.builder_halide(), lattice_constant_A=a, li_seed=m.li_seed)
    atoms.info["mobile_ion"] = "Li"
    return atoms


def gb_structures(bulk: Atoms, gb, *, seed: int = 0) -> list[Atoms]:
    """One bicrystal per rigid-body translation of a GrainBoundary config (site exchange
    ``gb.site_disorder`` applied with ``seed`` when set)."""
    from argyro_run.structures.disorder import site_exchange
    from argyro_run.structures.files import make_supercell
    from argyro_run.structures.gb import csl_bicrystal

    out = []
    for k, t in enumerate(gb.translations):
        atoms = csl_bicrystal(bulk, sigma=gb.sigma, plane=gb.plane, axis=gb.axis, translation=tuple(t),
                              min_distance_A=gb.min_distance_A, min_anion_distance_A=gb.min_anion_distance_A,
                              grain_thickness_cells=gb.grain_thickness_cells, gap_A=gb.gap_A,
                              mobile_ion=bulk.info.get("mobile_ion", "Li"))
        if tuple(gb.repeats_in_plane) != (1, 1):
            atoms = make_supercell(atoms, [gb.repeats_in_plane[0], gb.repeats_in_plane[1], 1])
        if gb.site_disorder:
            atoms = site_exchange(atoms, gb.site_disorder, seed=seed)
        atoms.info["gb_translation_index"] = k
        out.append(atoms)
    return out


def structure_sizes(material, *, base_dir: Path | None = None) -> dict[str, int]:
    """Atom count of every structure name of a material, as :func:`build_material` builds it,
    without building the whole set: the unit cell (builder or file) times the supercell for bulk
    variants, and translation 0 of each grain boundary built by the real bicrystal builder
    (overlap removal included) times ``repeats_in_plane``. Site exchange and mixed halides do not
    change counts. Costs about 0.03 s per grain boundary (used by the planner)."""
    import math

    from argyro_run.structures.gb import csl_bicrystal

    m = _material(material)
    cell = unit_cell(m, base_dir=base_dir)
    n_bulk = len(cell) * math.prod(m.supercell)
    out = {name: n_bulk for name in m.structure_names()}
    for gb in m.grain_boundaries:
        atoms = csl_bicrystal(cell, sigma=gb.sigma, plane=gb.plane, axis=gb.axis, translation=tuple(gb.translations[0]),
                              min_distance_A=gb.min_distance_A, min_anion_distance_A=gb.min_anion_distance_A,
                              grain_thickness_cells=gb.grain_thickness_cells, gap_A=gb.gap_A,
                              mobile_ion=cell.info.get("mobile_ion", "Li"))
        out[gb.name()] = len(atoms) * math.prod(gb.repeats_in_plane)
    return out


def build_material(material, names: list[str] | None = None, *, seed: int = 0,
                   base_dir: Path | None = None) -> dict[str, Atoms]:
    """Every structure of a material as ``{name: Atoms}``; GB translations k > 0 appear as
    ``<name>/t<k>`` (and ``<name>/t0`` is ``<name>``)."""
    from argyro_run.structures.disorder import site_exchange
    from argyro_run.structures.files import make_supercell

    m = _material(material)
    wanted = list(m.structure_names()) if names is None else list(names)
    unknown = sorted(set(wanted) - set(m.structure_names()))
    if unknown:
        raise UserError(f"materials.{m.name}: unknown structure name(s) {unknown}; allowed: {m.structure_names()}")
    cell = unit_cell(m, base_dir=base_dir)
    out: dict[str, Atoms] = {}
    bulk = make_supercell(cell, m.supercell) if any(r != 1 for r in m.supercell) else cell.copy()
    disorder_base = m.disorder_seed if m.disorder_seed is not None else int(seed)
    for k, name in enumerate(m.disordered_names()):
        if name in wanted:
            atoms = site_exchange(bulk, m.site_disorder, seed=disorder_base + k)
            atoms.info["variant"] = "disordered"
            out[name] = atoms
    if "ordered" in wanted:
        atoms = bulk.copy()
        atoms.info["variant"] = "ordered"
        out["ordered"] = atoms
    for gb in m.grain_boundaries:
        name = gb.name()
        if name not in wanted:
            continue
        cells = gb_structures(cell, gb, seed=disorder_base + 500 + m.grain_boundaries.index(gb))
        out[name] = cells[0]
        if len(cells) > 1:
            for k, atoms in enumerate(cells):
                out[f"{name}/t{k}"] = atoms
    if m.mixed_halide is not None and m.mixed_halide_fraction > 0:
        from argyro_run.structures.disorder import mix_halides

        all_names = m.structure_names()  # seed index independent of which names were asked for
        mixed: dict[str, Atoms] = {}
        for name in [n for n in out if "/" not in n]:
            mixed[name] = mix_halides(out[name], m.mixed_halide, m.mixed_halide_fraction,
                                      seed=disorder_base + 1000 + all_names.index(name))
        for name in [n for n in out if "/" in n]:  # GB translations: same seed as their GB
            base = name.split("/")[0]
            mixed[name] = mixed[base] if out[name] is out[base] else mix_halides(
                out[name], m.mixed_halide, m.mixed_halide_fraction, seed=disorder_base + 1000 + all_names.index(base))
        out = mixed
    for name, atoms in out.items():
        atoms.info["material"] = m.name
        atoms.info["structure"] = name
    return {n: out[n] for n in sorted(out, key=lambda n: (wanted.index(n.split("/")[0]), n))}


def run_build_structures(params: dict, deps: dict, comm, workdir: Path) -> Result:
    """Runtime task: build (on every rank, cheap and deterministic) and return the Result."""
    material = params["material"]
    names = list(params.get("structures") or [])
    base = params.get("input_dir") or params.get("base_dir")  # the runtime passes input_dir
    base_dir = Path(base) if base else None
    structures = build_material(material, names, seed=int(params.get("seed", 0)), base_dir=base_dir)
    result = Result()
    for name, atoms in structures.items():
        attrs = {"n_atoms": len(atoms)}
        add_atoms(result, name, atoms, **attrs)
    m = _material(material)
    first = next(iter(structures.values())) if structures else None
    result.set_attrs("", material=m.name, halide=str(first.info.get("halide", "")) if first is not None else "",
                     mobile_ion=str(first.info.get("mobile_ion", "")) if first is not None else "",
                     structures=",".join(names),
                     lattice_constant_A=float(next(iter(structures.values())).info.get("lattice_constant_A", np.nan))
                     if structures else np.nan,
                     site_disorder=float(m.site_disorder))
    log.info("built %d structure(s) of %s: %s", len(structures), m.name,
             ", ".join(f"{n} ({len(a)} atoms)" for n, a in structures.items()))
    return result
