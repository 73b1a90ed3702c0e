"""What one level of the active-learning loop needs: :class:`LoopSettings`.

The settings a user gives come from the validated config models (``[[active_learning.levels]]``:
``LevelStep``, ``[active_learning]``: ``ActiveLearningSection``, ``[potential]``:
``PotentialSection``); their defaults are the models' defaults, never restated here. The
loop's own knobs (training iterations, MD time step, grading interval, ...) have no TOML key and
are owned by this class.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from argyro_run.config.active_learning import ActiveLearningSection, LevelStep
from argyro_run.config.potential import PotentialSection
from argyro_run.errors import UserError
from argyro_run.learning.dataset import spec_from_params
from argyro_run.learning.reference import ReferenceSpec


def _default(model, name: str):
    return model.model_fields[name].get_default(call_default_factory=True)


def _from(model, name: str):
    """A dataclass field whose default is the config model's."""
    return field(default_factory=lambda: _default(model, name))


def _validated(model, values: dict):
    """``model`` validated from those of ``values`` that are its fields (task params carry more)."""
    return model.model_validate({k: v for k, v in values.items() if k in model.model_fields})


@dataclass
class LoopSettings:
    """Everything one level of the loop needs (from the task params, or built directly)."""

    level: int
    species: list[str]
    # [[active_learning.levels]]
    gamma_select: float = _default(LevelStep, "gamma_select")
    gamma_break: float = _default(LevelStep, "gamma_break")
    exploration_ps: float = _default(LevelStep, "exploration_ps")
    temperatures_K: list[float] = _from(LevelStep, "temperatures_K")
    # [active_learning]
    max_iterations: int = _default(ActiveLearningSection, "max_iterations")
    max_selected_per_iteration: int = _default(ActiveLearningSection, "max_selected_per_iteration")
    converged_fraction: float = _default(ActiveLearningSection, "converged_fraction")
    max_reference_atoms: int = _default(ActiveLearningSection, "max_reference_atoms")
    local_radius_A: float = _default(ActiveLearningSection, "local_radius_A")
    local_mode: str = _default(ActiveLearningSection, "local_mode")
    vacuum_A: float = _default(ActiveLearningSection, "vacuum_A")
    # [potential]
    max_dist_A: float = _default(PotentialSection, "max_dist_A")
    min_dist_A: float = _default(PotentialSection, "min_dist_A")
    radial_basis_size: int = _default(PotentialSection, "radial_basis_size")
    energy_weight: float = _default(PotentialSection, "energy_weight")
    force_weight: float = _default(PotentialSection, "force_weight")
    stress_weight: float = _default(PotentialSection, "stress_weight")
    # the loop's own (no TOML key)
    local_buffer_A: float = 1.0        # cut-out radius >= cutoff + this (else the core is one atom)
    train_iterations: int = 100        # L-BFGS iterations of each (warm-started) refit
    timestep_fs: float = 1.0
    grade_every_steps: int = 5           # the plugin grades (and dumps) every this many steps
    thermostat_damping_fs: float = 100.0
    max_candidates_per_run: int = 20
    explorer: str = "lammps"           # "lammps" (plugin; the production path) or "ase" (pure Python, slow)
    reference: ReferenceSpec = field(default_factory=ReferenceSpec)
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict) -> "LoopSettings":
        """From the ``active_learning`` task params built by ``plan/build.py`` (``step``: a level of
        the ladder, the ``[active_learning]`` keys, ``potential``, ``reference``, ``seed``)."""
        step = LevelStep.model_validate(params["step"])
        al = _validated(ActiveLearningSection, params)
        pot = _validated(PotentialSection, {**(params.get("potential") or {}), "level": step.level})
        if not pot.species:
            raise UserError("potential.species: the active-learning loop needs the elements of the MTP types "
                            "(set potential.species, e.g. [\"Li\", \"P\", \"S\", \"Cl\"])")
        ours = {f.name for f in fields(cls)}
        kw = {k: getattr(model, k) for model in (pot, al, step) for k in type(model).model_fields if k in ours}
        return cls(**kw, reference=spec_from_params(params.get("reference") or {}), seed=int(params.get("seed", 0)))

    @property
    def n_steps(self) -> int:
        return max(1, int(round(self.exploration_ps * 1000.0 / self.timestep_fs)))

    def local_radius(self) -> float:
        return max(self.local_radius_A, self.max_dist_A + self.local_buffer_A)
