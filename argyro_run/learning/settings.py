"""What one level of the active-learning loop needs: :class:`LoopSettings`.

The settings a user gives are the validated config models themselves: the level's
``[[active_learning.levels]]`` entry (``LevelStep``), ``[active_learning]``
(``ActiveLearningSection``) and ``[potential]`` (``PotentialSection``); their keys, checks and
defaults are owned there and read here by name (``settings.gamma_select`` is
``settings.step.gamma_select``). The loop's own knobs (training iterations, MD time step, grading
interval, ...) have no TOML key and are owned by this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from argyro_run.config.active_learning import ActiveLearningSection, LevelStep
from argyro_run.config.potential import PotentialSection
from argyro_run.errors import UserError
from argyro_run.learning.dataset import spec_from_params
from argyro_run.learning.reference import ReferenceSpec

# LoopSettings attribute -> the config model it holds
_SECTIONS = {"step": LevelStep, "learning": ActiveLearningSection, "potential": PotentialSection}


def _section(model, values: dict, level: int):
    """``model`` validated from those of ``values`` that are its keys (and ``level`` where it has one)."""
    mine = {k: v for k, v in values.items() if k in model.model_fields and k != "level"}
    if "level" in model.model_fields:
        mine["level"] = level
    return model.model_validate(mine)


@dataclass
class LoopSettings:
    """Everything one level of the loop needs: :meth:`from_params` (a task's params) or :meth:`of`
    (settings by name, the config defaults for the rest)."""

    level: int
    species: list[str]
    step: LevelStep
    learning: ActiveLearningSection
    potential: PotentialSection
    # the loop's own (no TOML key)
    local_buffer_A: float = 1.0        # cut-out radius >= cutoff + this (else the core is one atom)
    train_iterations: int = 100        # L-BFGS iterations of each (warm-started) refit
    timestep_fs: float = 1.0
    grade_every_steps: int = 5           # the plugin grades (and dumps) every this many steps
    thermostat_damping_fs: float = 100.0
    max_candidates_per_run: int = 20
    explorer: str = "lammps"           # "lammps" (plugin; the production path) or "ase" (pure Python, slow)
    snapshot_every_steps: int = 100      # explorations keep a snapshot this often (collapse precursors, drift)
    n_precursors: int = 2                # physical snapshots before a collapse labelled per exploration
    reference: ReferenceSpec = field(default_factory=ReferenceSpec)
    seed: int = 0
    # from other sections (plan/build.py passes them): the mobile ions, and md.max_host_displacement_A
    mobile_species: tuple = ()
    max_host_displacement_A: float | None = None

    @classmethod
    def of(cls, level: int, species, **values) -> "LoopSettings":
        """Settings of a level from ``values`` by name: keys of the config sections (validated by
        their models, whose defaults fill the rest) and the loop's own fields."""
        sections = {name: _section(model, values, int(level)) for name, model in _SECTIONS.items()}
        own = {k: v for k, v in values.items() if not any(k in m.model_fields for m in _SECTIONS.values())}
        return cls(level=int(level), species=list(species), **sections, **own)

    @classmethod
    def from_params(cls, params: dict) -> "LoopSettings":
        """From the ``active_learning`` task params built by ``plan/build.py`` (``step``: a level of
        the ladder, the ``[active_learning]`` keys, ``potential``, ``reference``, ``seed``)."""
        step = LevelStep.model_validate(params["step"])
        values = {**params, **(params.get("potential") or {})}
        learning = _section(ActiveLearningSection, values, step.level)
        potential = _section(PotentialSection, values, step.level)
        if not potential.species:
            raise UserError("potential.species: the active-learning loop needs the elements of the MTP types "
                            "(set potential.species, e.g. [\"Li\", \"P\", \"S\", \"Cl\"])")
        return cls(level=step.level, species=list(potential.species), step=step, learning=learning, potential=potential,
                   reference=spec_from_params(params.get("reference") or {}), seed=int(params.get("seed", 0)),
                   mobile_species=tuple(params.get("mobile_species") or ()),
                   max_host_displacement_A=params.get("max_host_displacement_A"))

    def __getattr__(self, name: str):
        """A key of the config sections (``settings.gamma_select``, ``settings.max_dist_A``)."""
        for attr, model in _SECTIONS.items():
            section = self.__dict__.get(attr)
            if section is not None and name in model.model_fields:
                return getattr(section, name)
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    @property
    def n_steps(self) -> int:
        return max(1, int(round(self.exploration_ps * 1000.0 / self.timestep_fs)))

    def local_radius(self) -> float:
        return max(self.local_radius_A, self.max_dist_A + self.local_buffer_A)

    def check_radius(self) -> float:
        """Cut-out radius of what the reference checks (exploration checks, drift snapshots): wider
        than :meth:`local_radius` where that leaves a core of one atom (``learning/check.check_radius_A``)."""
        from argyro_run.learning.check import check_radius_A

        return check_radius_A(self.local_radius(), self.max_dist_A)
