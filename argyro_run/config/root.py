"""``Config``: the whole input file, one field per TOML section, plus cross-field checks."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, PrivateAttr

from argyro_run.config.active_learning import ActiveLearningSection
from argyro_run.config.analysis import AnalysisSection, block_length_ps, production_samples
from argyro_run.config.base import Section
from argyro_run.config.fe import FESection
from argyro_run.config.materials import Material
from argyro_run.config.md import MDSection
from argyro_run.config.microstructure import MicrostructureSection
from argyro_run.config.parallel import ParallelSection
from argyro_run.config.potential import PotentialSection
from argyro_run.config.reference import ReferenceSection
from argyro_run.config.run import RunSection
from argyro_run.config.slurm import SlurmSection
from argyro_run.errors import UserError


def _material_elements(m: Material, base_dir: Path | None = None) -> list[str]:
    """Elements of a material in a stable order ([] if its structure file cannot be read: that
    problem is reported by :func:`material_file_problems` or the loader's file check)."""
    try:
        return m.elements(base_dir)
    except UserError:
        return []


def default_species(cfg: "Config") -> list[str]:
    """``potential.species`` when not given: the elements of all materials, material by material
    in the order each structure lists them (builder: Li, P, S, X), each once."""
    out: list[str] = []
    for m in cfg.materials:
        out += [e for e in _material_elements(m, cfg.base_dir) if e not in out]
    return out or ["Li", "P", "S", "Cl"]


def material_file_problems(cfg: "Config") -> list[str]:
    """Checks of ``[[materials]]`` that need the structure files (read relative to the input's
    folder): readable, ordered, the mobile ion present, argyrodite-only keys only for
    argyrodites, grain boundaries only for cubic cells. Missing files are left to the loader's
    file check (which names the line)."""
    from argyro_run.structures.ions import cations

    out: list[str] = []
    for i, m in enumerate(cfg.materials):
        key = f"materials[{i}]"
        if not m.structure_file:
            continue
        path = m.structure_path(cfg.base_dir)
        if not path.is_file():
            continue
        try:
            info = m.summary(cfg.base_dir)
        except UserError as exc:
            out.append(f"{key}.structure_file: {str(exc).split(': ', 1)[-1]}")
            continue
        name = Path(m.structure_file).name
        if not info.is_argyrodite:
            given = m.argyrodite_keys_set()
            if given:
                out.append(f"{key}: {', '.join(given)} describe an argyrodite Li6PS5X, but {name} ({info.formula()}) "
                           "is not one (recognised by composition Li:P:S:X = 6:1:5:1 and the F-43m anion framework); "
                           "remove them (the structure file alone defines this material)")
        else:
            if m.halide is not None and m.halide not in info.halides:
                out.append(f"{key}.halide: {m.halide!r} but {name} contains {list(info.halides)}; allowed: "
                           f"{' or '.join(repr(h) for h in info.halides)} or leave halide unset (read from the file)")
            if m.formula is not None and m.halide is None and m.formula[-2:].lstrip("5") not in info.halides:
                out.append(f"{key}.formula: {m.formula!r} but {name} contains {list(info.halides)}")
            if len(info.halides) > 1 and m.mixed_halide is not None:
                out.append(f"{key}.mixed_halide: {name} already mixes {list(info.halides)}; mixed_halide replaces "
                           "halides of a single-halide structure, leave it unset")
        mobile = m.mobile_ion
        present = [e for e in info.elements if e in cations()]
        if mobile is None and "Li" not in info.elements:
            out.append(f"{key}.mobile_ion: required, {name} ({info.formula()}) contains no Li; allowed: one of its "
                       f"cations {present}")
        elif mobile is not None and mobile not in info.elements:
            out.append(f"{key}.mobile_ion: {mobile!r} is not in {name} ({info.formula()}); allowed: one of its "
                       f"cations {present}")
        if m.grain_boundaries and not info.is_cubic:
            a, b, c, al, be, ga = info.cellpar
            out.append(f"{key}.grain_boundaries: the CSL grain-boundary builder handles cubic cells only (a = b = c, "
                       f"right angles; conventional cell); {name} has a, b, c = {a:.4g}, {b:.4g}, {c:.4g} A and "
                       f"angles {al:.4g}, {be:.4g}, {ga:.4g} deg; remove grain_boundaries or give a cubic cell")
        if info.formal_charge != 0:
            out.append(f"{key}.structure_file: {name} ({info.formula()}) has a net formal charge of "
                       f"{info.formal_charge:+d} e; allowed: a neutral cell")
    return out


class Config(Section):
    """A validated argyro-run input file."""

    run: RunSection = Field(default_factory=RunSection, description="Run name, archive, seed, error policy.")
    materials: list[Material] = Field(default_factory=list, description="Materials and their structures (bulk "
                                                                        "variants, grain boundaries).")
    reference: ReferenceSection = Field(default_factory=ReferenceSection, description="Reference calculator "
                                                                                      "labelling training data.")
    potential: PotentialSection = Field(default_factory=PotentialSection, description="Moment tensor potential.")
    active_learning: ActiveLearningSection = Field(default_factory=ActiveLearningSection, description="Active learning of the "
                                                                                                      "MTP.")
    md: MDSection | None = Field(None, description="Molecular dynamics (omit to skip MD).")
    analysis: AnalysisSection = Field(default_factory=AnalysisSection, description="Diffusion analysis of the MD runs.")
    microstructure: MicrostructureSection | None = Field(None, description="Polycrystal model (omit to skip FE).")
    fe: FESection | None = Field(None, description="Finite-element transport (needs [microstructure]).")
    parallel: ParallelSection = Field(default_factory=ParallelSection, description="MPI ranks per task type.")
    slurm: SlurmSection | None = Field(None, description="Batch script of `argyro-run plan --sbatch` (a run ignores it).")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _output_dir: Path | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the input are resolved against (the input's folder)."""
        return self._base_dir

    @property
    def output_dir(self) -> Path:
        """Directory relative ``run.archive`` and ``run.workdir`` are resolved against: the folder
        given on the command line (``--outdir``), else the input's folder."""
        return self._output_dir if self._output_dir is not None else self._base_dir

    def resolve(self, path: str) -> Path:
        """An input file named in the input (relative: to the input's folder)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._base_dir / p

    def resolve_output(self, path: str) -> Path:
        """An output path of the input (``run.archive``, ``run.workdir``; relative: to ``output_dir``)."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else self.output_dir / p


NO_WORK = ("the input asks for no work: it needs at least one [[materials]] table (minimal: "
           "[[materials]] with name = \"LPSCl\", which builds a Li6PS5Cl cell and learns an MTP; add [md] for "
           "diffusivities) or a [microstructure] table (polycrystal meshes; with [fe] and fe.bulk for D_eff); "
           "'argyro-run init quickstart' writes a complete example")


def apply_defaults(cfg: Config) -> Config:
    """Fill the defaults that depend on the structure files (after the checks passed):
    ``potential.species`` (unless an existing ``potential.file`` brings its own)."""
    if cfg.potential.species is None and cfg.potential.file is None:
        cfg.potential.species = default_species(cfg)
    return cfg


def cross_field_problems(cfg: Config) -> list[str]:
    """Problems that involve several sections (each names the keys involved)."""
    out: list[str] = []
    if not cfg.materials and cfg.microstructure is None:
        out.append(NO_WORK)
    names = [m.name for m in cfg.materials]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        out.append(f"materials: names must be unique, repeated: {dup}")
    needs_potential = cfg.md is not None and cfg.materials
    if needs_potential and not cfg.active_learning.enabled and cfg.potential.file is None:
        out.append("active_learning.enabled = false needs potential.file (an existing .mtp) for [md]")
    out += material_file_problems(cfg)
    elements: list[str] = []
    for m in cfg.materials:
        elements += [e for e in _material_elements(m, cfg.base_dir) if e not in elements]
    species = cfg.potential.species
    missing = [e for e in elements if species is not None and e not in species]
    if missing and (cfg.md is not None or cfg.active_learning.enabled):
        out.append(f"potential.species {species} lacks {missing} (elements of [[materials]]); allowed: every "
                   f"element of the materials, e.g. {elements}, or leave potential.species out (that list is the default)")
    wanted = cfg.analysis.species
    if wanted is not None and cfg.md is not None:
        for i, m in enumerate(cfg.materials):
            els = _material_elements(m, cfg.base_dir)
            if els and wanted not in els:
                out.append(f"analysis.species {wanted!r} is not in materials[{i}] ({m.name}: {els}); allowed: leave it "
                           "out (each material's mobile_ion is analysed) or an element of every material")
    if cfg.active_learning.enabled and cfg.materials and cfg.potential.file is None:
        top = cfg.active_learning.levels[-1].level
        if top != cfg.potential.level:
            out.append(f"active_learning.levels[-1].level ({top}) must equal potential.level ({cfg.potential.level})")
    if cfg.md is not None:
        # the fit window is the same for every run: it must fit in the shortest
        prod, start, end = min(cfg.md.production_lengths_ps()), cfg.analysis.fit_start_ps, cfg.analysis.fit_end_ps
        blocks = cfg.analysis.n_blocks
        dt_ps = cfg.md.dump_interval_fs / 1000.0
        block = block_length_ps(production_samples(prod, cfg.md.dump_interval_fs), dt_ps, blocks)
        shortest = " (the shortest)" if isinstance(cfg.md.production_ps, list) else ""
        what = (f"the block length ({block:g} ps: md.production_ps{shortest} / analysis.n_blocks in samples of "
                f"md.dump_interval_fs, less one)")
        if start is not None and start >= prod:
            out.append(f"analysis.fit_start_ps ({start}) must be inside md.production_ps{shortest} ({prod})")
        if end is not None and end > prod:
            out.append(f"analysis.fit_end_ps ({end}) must not exceed md.production_ps{shortest} ({prod})")
        if start is not None and start >= block:
            out.append(f"analysis.fit_start_ps ({start}) must be below {what}; allowed: a shorter fit window, "
                       "fewer blocks or a longer production")
        elif start is not None and end is None and start >= 0.5 * block:
            out.append(f"analysis.fit_start_ps ({start}) must be below the default end of the fit window, half a "
                       f"block ({0.5 * block:g} ps); allowed: set analysis.fit_end_ps, a smaller fit_start_ps or "
                       "fewer blocks")
        if end is not None and end > block + 1e-9:
            out.append(f"analysis.fit_end_ps ({end}) must not exceed {what}; allowed: <= {block:g}, fewer blocks "
                       "or a longer production")
        if cfg.md.structures:
            known = sorted({s for m in cfg.materials for s in m.structure_names()})
            unknown = [s for s in cfg.md.structures if s not in known]
            if unknown:
                out.append(f"md.structures: {unknown} are not structures of [[materials]]; allowed: {known}")
    if cfg.fe is not None:
        if cfg.microstructure is None:
            out.append("[fe] needs a [microstructure] section")
        from argyro_run.fe.cases import resolve_cases

        out.extend(resolve_cases(cfg)[1])
    return out
