"""``Config``: the whole input file, one field per TOML section, plus cross-field checks.

Section models come from the section modules (``materials.py``, ``md.py``, ``analysis.py``,
``microstructure.py``, ``fe.py``) when they exist, else from the ``*_draft.py`` stand-ins.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from pydantic import Field, PrivateAttr

from argyro_run.config.active_learning import ActiveLearningSection
from argyro_run.config.base import Section
from argyro_run.config.parallel import ParallelSection
from argyro_run.config.potential import PotentialSection
from argyro_run.config.reference import ReferenceSection
from argyro_run.config.run import RunSection
from argyro_run.config.slurm import SlurmSection


def _section_class(module: str, names: tuple[str, ...]) -> type[Section]:
    """The section model of ``config/<module>.py`` (first of ``names`` found), else the draft."""
    for mod_name in (f"argyro_run.config.{module}", f"argyro_run.config.{module}_draft"):
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name != mod_name:
                raise
            continue
        for n in names:
            cls = getattr(mod, n, None)
            if inspect.isclass(cls) and issubclass(cls, Section):
                return cls
    raise ImportError(f"no section model {names} in argyro_run.config.{module}[_draft]")


MaterialModel = _section_class("materials", ("Material", "MaterialSection", "MaterialsSection"))
MDModel = _section_class("md", ("MDSection", "MdSection", "MD"))
AnalysisModel = _section_class("analysis", ("AnalysisSection", "Analysis"))
MicrostructureModel = _section_class("microstructure", ("MicrostructureSection", "Microstructure"))
FEModel = _section_class("fe", ("FESection", "FeSection", "FE"))


def _material_elements(m) -> set[str]:
    if hasattr(m, "elements"):
        try:
            return set(m.elements())
        except Exception:  # structure files are not read during validation
            return set()
    halide = getattr(m, "halide", None)
    return {"Li", "P", "S", halide} if halide else set()


class Config(Section):
    """A validated argyro-run input file."""

    run: RunSection = Field(default_factory=RunSection, description="Run name, archive, seed, error policy.")
    materials: list[MaterialModel] = Field(default_factory=list, description="Materials and their structures (bulk variants, grain boundaries).")  # type: ignore[valid-type]
    reference: ReferenceSection = Field(default_factory=ReferenceSection, description="Reference calculator labelling training data.")
    potential: PotentialSection = Field(default_factory=PotentialSection, description="Moment tensor potential.")
    active_learning: ActiveLearningSection = Field(default_factory=ActiveLearningSection, description="Active learning of the MTP.")
    md: MDModel | None = Field(None, description="Molecular dynamics (omit to skip MD).")  # type: ignore[valid-type]
    analysis: AnalysisModel = Field(default_factory=AnalysisModel, description="Diffusion analysis of the MD runs.")  # type: ignore[valid-type]
    microstructure: MicrostructureModel | None = Field(None, description="Polycrystal model (omit to skip FE).")  # type: ignore[valid-type]
    fe: FEModel | None = Field(None, description="Finite-element transport (needs [microstructure]).")  # type: ignore[valid-type]
    parallel: ParallelSection = Field(default_factory=ParallelSection, description="MPI ranks per task type.")
    slurm: SlurmSection | None = Field(None, description="Batch script of `argyro-run plan --sbatch` (a run ignores it).")

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        """Directory relative paths in the input are resolved against (the input's folder)."""
        return self._base_dir

    def resolve(self, path: str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else self._base_dir / p



def cross_field_problems(cfg: Config) -> list[str]:
    """Problems that involve several sections (each names the keys involved)."""
    out: list[str] = []
    names = [getattr(m, "name", None) for m in cfg.materials]
    dup = sorted({n for n in names if n is not None and names.count(n) > 1})
    if dup:
        out.append(f"materials: names must be unique, repeated: {dup}")
    needs_potential = cfg.md is not None and cfg.materials
    if needs_potential and not cfg.active_learning.enabled and cfg.potential.file is None:
        out.append("active_learning.enabled = false needs potential.file (an existing .mtp) for [md]")
    elements: set[str] = set()
    for m in cfg.materials:
        elements |= _material_elements(m)
    missing = sorted(elements - set(cfg.potential.species))
    if missing and (cfg.md is not None or cfg.active_learning.enabled):
        out.append(f"potential.species {cfg.potential.species} lacks {missing} (elements of [[materials]])")
    if cfg.active_learning.enabled and cfg.materials and cfg.potential.file is None:
        top = cfg.active_learning.levels[-1].level
        if top != cfg.potential.level:
            out.append(f"active_learning.levels[-1].level ({top}) must equal potential.level ({cfg.potential.level})")
    if cfg.md is not None:
        prod = getattr(cfg.md, "production_ps", None)
        start = getattr(cfg.analysis, "fit_start_ps", None)
        end = getattr(cfg.analysis, "fit_end_ps", None)
        if prod is not None and start is not None and start >= prod:
            out.append(f"analysis.fit_start_ps ({start}) must be inside md.production_ps ({prod})")
        if prod is not None and end is not None and end > prod:
            out.append(f"analysis.fit_end_ps ({end}) must not exceed md.production_ps ({prod})")
        blocks = getattr(cfg.analysis, "n_blocks", 1)
        if prod is not None and start is not None and start >= prod / blocks:
            out.append(f"analysis.fit_start_ps ({start}) must be below the block length md.production_ps / "
                       f"analysis.n_blocks ({prod / blocks:g} ps); allowed: a shorter fit window, fewer blocks "
                       "or a longer production")
        elif prod is not None and start is not None and end is None and start >= 0.5 * prod / blocks:
            out.append(f"analysis.fit_start_ps ({start}) must be below the default end of the fit window, half a "
                       f"block ({0.5 * prod / blocks:g} ps = md.production_ps / analysis.n_blocks / 2); allowed: "
                       "set analysis.fit_end_ps, a smaller fit_start_ps or fewer blocks")
        if prod is not None and end is not None and end > prod / blocks:
            out.append(f"analysis.fit_end_ps ({end}) must not exceed the block length md.production_ps / "
                       f"analysis.n_blocks ({prod / blocks:g} ps)")
        wanted = getattr(cfg.md, "structures", None)
        if wanted:
            from argyro_run.plan.build import _structure_names

            known = sorted({s for m in cfg.materials for s in _structure_names(m)})
            unknown = [s for s in wanted if s not in known]
            if unknown:
                out.append(f"md.structures: {unknown} are not structures of [[materials]]; allowed: {known}")
    if cfg.microstructure is not None:
        sizes = getattr(cfg.microstructure, "grain_sizes_nm", None) or []
        gb = getattr(cfg.microstructure, "gb_thickness_nm", None)
        small = [g for g in sizes if gb is not None and not g > gb]
        if small:
            out.append(f"microstructure.grain_sizes_nm {small} must be larger than gb_thickness_nm ({gb})")
    if cfg.fe is not None:
        if cfg.microstructure is None:
            out.append("[fe] needs a [microstructure] section")
        explicit = getattr(cfg.fe, "bulk", None) is not None
        if not explicit and (cfg.md is None or not cfg.materials):
            out.append("[fe] without fe.bulk (D0_m2_per_s, Ea_eV) needs [md] and [[materials]] to compute diffusivities")
    return out
