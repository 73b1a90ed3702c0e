"""``[active_learning]``: MaxVol active learning with a ladder of MTP levels."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section

# a reference check (md.reference_check_frames warns, active_learning.check_frames fails) above this many
# times the training set's force RMSE; learning/check.py reads it from here
CHECK_WARN_RATIO = 2.0
# one-sided confidence at which active_learning.check_frames' sample must show the MTP above that limit
# (learning/check.py significant_force_bar)
CHECK_CONFIDENCE = 0.95


class LevelStep(Section):
    level: int = Field(..., ge=2, le=28, description="MTP level of this rung of the ladder.")
    gamma_select: float = Field(2.0, gt=1, le=1e6, description="Extrapolation grade above which a configuration is selected.")
    gamma_break: float = Field(10.0, gt=1, le=1e6, description="Grade at which an exploration MD run is stopped.")
    exploration_ps: float = Field(10.0, gt=0, le=1e6, description="Length of each exploration MD run.")
    temperatures_K: list[Annotated[float, Field(gt=0, le=1e5)]] = Field(default_factory=lambda: [600.0], min_length=1,
                                                                        description="Exploration temperatures.")

    @model_validator(mode="after")
    def _check(self):
        if self.gamma_break <= self.gamma_select:
            raise ValueError(f"gamma_break ({self.gamma_break}) must be larger than gamma_select ({self.gamma_select})")
        return self


class ActiveLearningSection(Section):
    enabled: bool = Field(True, description="Run active learning (false: needs potential.file).")
    n_rattled: int = Field(20, ge=0, le=100000, description="Rattled/strained copies of each structure in the initial data.")
    rattle_amplitude_A: float = Field(0.05, ge=0, le=2, description="Standard deviation of random atomic displacements.")
    strain_amplitude: float = Field(0.02, ge=0, le=0.5, description="Largest random strain component (dimensionless).")
    initial_cell_repeat: list[int] = Field(default_factory=lambda: [1, 1, 1], min_length=3, max_length=3,
                                           description="Repeat of each material's unit cell (52 atoms for an "
                                                       "argyrodite) whose rattled copies and reference MD make the "
                                                       "initial data; the MD supercell is never labelled whole. "
                                                       "The repeated cell must not exceed max_reference_atoms.")
    initial_md_steps: int = Field(0, ge=0, le=1_000_000,
                                  description="Steps of a short reference MD (Langevin NVT with the reference "
                                              "calculator) of every bulk structure for the initial data; 0: none.")
    initial_md_temperature_K: float = Field(600.0, gt=0, le=1e5, description="Temperature of the initial reference MD.")
    initial_md_timestep_fs: float = Field(1.0, gt=0, le=10, description="Time step of the initial reference MD.")
    initial_md_interval: int = Field(5, ge=1, le=1_000_000,
                                     description="Keep every this-th frame of the initial reference MD (labelled).")
    levels: list[LevelStep] = Field(default_factory=lambda: [LevelStep(level=10)], min_length=1, description="Ladder of MTP "
                                                                                                             "levels, trained in "
                                                                                                             "order.")
    local_radius_A: float = Field(6.0, gt=0, le=50, description="Radius of the neighbourhood cut out "
                                                                "around an extrapolating atom.")
    max_reference_atoms: int = Field(200, ge=1, le=100000, description="Largest structure sent to the reference calculator.")
    local_mode: Literal["periodic", "cluster"] = Field("periodic", description="Cut-outs as small periodic cells "
                                                                               "or as clusters in vacuum.")
    vacuum_A: float = Field(8.0, ge=0, le=100, description="Vacuum around clusters (local_mode = 'cluster').")
    max_iterations: int = Field(20, ge=1, le=10000, description="Largest number of select-label-retrain iterations per level.")
    max_selected_per_iteration: int = Field(20, ge=1, le=100000, description="Largest number of configurations "
                                                                             "labelled per iteration.")
    converged_fraction: float = Field(0.0, ge=0, le=1, description="Converged when at most this fraction of "
                                                                   "exploration runs needs selection.")
    converged_rounds: int = Field(
        1, ge=1, le=100, description="Consecutive clean exploration rounds (every run below gamma_select and, with "
                                     "check_framework, its framework in place; new velocities each round) before a "
                                     "level counts as converged. The rounds after the first add no data and do not "
                                     "count against max_iterations. 1: the first clean round; 2-3 when the production "
                                     "MD is much longer than one exploration.")
    min_distance_A: float | None = Field(
        None, gt=0, le=10, description="Exploration configurations with two atoms closer than this (Angstrom; "
                                       "default: potential.min_dist_A, where the MTP's radial basis begins) are "
                                       "never selected: the MD had already collapsed there, and the MTP cannot "
                                       "represent such a pair.")
    check_framework: bool = Field(
        True, description="An exploration whose host framework moves more than md.max_host_displacement_A "
                          "(md/framework.py) has not converged, and the snapshot where it drifted is labelled. "
                          "false: extrapolation grades alone decide (faster, blind to a potential that melts "
                          "the crystal without extrapolating).")
    confirmed_drift_ratio: float = Field(
        1.0, ge=0, le=100, description="With check_framework: an exploration that ran its full length below "
                                       "gamma_select but whose framework drifted counts as clean when the current "
                                       "MTP's force RMSE against the reference label of its drift snapshot, on the "
                                       "atoms within local_radius_A of the host unit that moved most, is at most this "
                                       "times the training set's force RMSE: the framework moved on the reference's "
                                       "own energy surface (a grain boundary reconstructing), not through a hole in "
                                       "the potential. Such a label is not added unless the level refits anyway. 0: "
                                       "every drift is learned, and a level never converges while a framework moves.")
    check_frames: int = Field(
        0, ge=0, le=50, description="Reference-check every exploration the extrapolation grades call clean (it ran "
                                    "its full length below gamma_select, its framework in place): this many of its "
                                    "snapshots, evenly spaced, are labelled (whole up to max_reference_atoms, else a "
                                    "cut-out around a random host atom reaching 3 A beyond the cutoff) and the "
                                    "exploration fails when the MTP's force RMSE on them exceeds check_force_ratio "
                                    "times the training set's; its labels are then learned. This catches what the "
                                    "linear grades cannot see (a potential wrong where it does not extrapolate). 0: "
                                    "the grades alone decide.")
    check_force_ratio: float = Field(
        CHECK_WARN_RATIO, gt=0, le=100, description="With check_frames: an exploration fails its reference check when "
                                                    "the MTP's force RMSE on its labelled snapshots is above this times "
                                                    "the training set's force RMSE (the default is the threshold at "
                                                    "which md.reference_check_frames warns), by more than its "
                                                    "sampling noise allows (check_confidence).")
    check_confidence: float = Field(
        CHECK_CONFIDENCE, ge=0.5, lt=1.0, description="With check_frames: an exploration fails its reference check "
                                                      "only when its force RMSE shows, at this one-sided confidence, "
                                                      "that the MTP's error there is above the limit (chi-square "
                                                      "test on the compared force components: the bar is 1.18x the "
                                                      "limit for 42 components, two cut-outs of 7 core atoms, and "
                                                      "1.07x for 300). 0.5: the limit itself, whatever the number "
                                                      "of frames.")
    max_force_eV_per_A: float = Field(
        30.0, ge=0, le=1e6, description="Labelled configurations with a reference force above this (eV/Angstrom; "
                                        "0: no limit) are kept out of the training set: collapsed geometries whose "
                                        "forces of hundreds of eV/Angstrom would dominate the fit.")

    @field_validator("initial_cell_repeat")
    @classmethod
    def _repeat(cls, v: list[int]) -> list[int]:
        if any(r < 1 or r > 100 for r in v):
            raise ValueError(f"repeats must be integers from 1 to 100, got {v}")
        return v

    @model_validator(mode="after")
    def _check(self):
        lv = [s.level for s in self.levels]
        if lv != sorted(lv) or len(set(lv)) != len(lv):
            raise ValueError(f"levels must be strictly increasing, got {lv}")
        return self
