"""``[md]``: molecular dynamics of every structure at every temperature with the trained MTP
(LAMMPS + the ``pair_style mtp`` plugin). Tasks: ``md/<material>/<structure>/T<T>``
(``argyro_run.md.tasks.run_md_run``), with ``anneal_ps`` first ``md/<material>/<structure>/anneal``
(``run_md_anneal``); results: ``/md/<material>/<structure>/T<T>/...``, ``/md/<material>/<structure>/anneal/...``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from argyro_run.config.base import Section


class MDSection(Section):
    temperatures_K: list[Annotated[float, Field(gt=0, le=1e5)]] = Field(
        default_factory=lambda: [500.0, 600.0, 700.0], min_length=1, description="MD temperatures.")
    timestep_fs: float = Field(1.0, gt=0, le=10, description="Time step.")
    equilibration_ps: float = Field(10.0, ge=0, le=1e6, description="Equilibration before production (not analysed).")
    production_ps: Annotated[float, Field(gt=0, le=1e7)] | Annotated[
        list[Annotated[float, Field(gt=0, le=1e7)]], Field(min_length=1)] = Field(
        100.0, description="Production length (analysed): one for every temperature, or a list with one per "
                           "temperature of temperatures_K, in the same order, e.g. [2000, 1000, 600] for "
                           "[600, 700, 800]: where the ion hops rarely (low temperature, an ordered phase) a run "
                           "needs to be longer to hold enough hops, the fast runs need not.")
    ensemble: Literal["nvt", "npt", "nve"] = Field(
        "nvt", description="nvt: fixed cell; npt: NPT equilibration at pressure_bar, then NVT production at the "
                           "mean volume of the second half of the equilibration; nve: NVT equilibration, then "
                           "microcanonical production (unperturbed dynamics).")
    thermostat: Literal["nose-hoover", "langevin", "csvr"] = Field(
        "nose-hoover", description="Thermostat of the NVT runs (LAMMPS fix nvt, fix langevin, fix temp/csvr).")
    thermostat_damping_fs: float = Field(100.0, gt=0, le=1e6, description="Thermostat damping time.")
    pressure_bar: float = Field(1.0, ge=-1e6, le=1e6, description="Pressure of the NPT equilibration.")
    barostat_damping_fs: float = Field(1000.0, gt=0, le=1e7, description="Barostat damping time (NPT).")
    dump_interval_fs: float = Field(100.0, gt=0, le=1e6,
                                    description="Sampling interval of positions and thermo in production.")
    trajectory_atoms: Literal["species", "all"] = Field(
        "species", description="Atoms whose unwrapped positions are kept (archive /md/.../trajectory): 'species' "
                               "= the diffusing species of [analysis] (what the MSD needs), 'all' = every atom "
                               "(e.g. to visualise). Stored in single precision (~1e-5 A at 100 A).")
    structures: list[str] | None = Field(
        None, description="Structures to run (names as in `argyro-run plan`); default all. The selection picks runs, "
                          "it is not an input of one: runs already in the archive are reused when it changes.")
    max_host_displacement_A: float = Field(
        1.0, gt=0, le=100, description="Largest RMS change of the host atoms' (all but the analysed species) mean "
                                       "positions between the first and the last tenth of the production, drift "
                                       "removed: above it the framework melted or transformed (a potential with a hole) "
                                       "and the run's D is left out of the Arrhenius fit. Window means of a crystal stay "
                                       "within 0.1-0.4 A; 1 A is far below a framework ion's site change (the anion "
                                       "sites of Li6PS5X are >= 4.3 A apart). argyro_run/md/framework.py")
    gamma_break: float = Field(10.0, ge=0, le=1e6,
                               description="Stop a run (task fails, 'extrapolation') when an MTP grade exceeds this "
                                           "(needs an active set with the potential); 0: never.")
    anneal_ps: float = Field(
        0.0, ge=0, le=1e6, description="Anneal each structure of anneal_structures this long (NVT MD at "
                                       "anneal_temperature_K) and quench it (positions minimised with the MTP, cell "
                                       "fixed, to relax_force_eV_per_A) before its MD runs, which all start from the "
                                       "quenched structure (task md/<material>/<structure>/anneal). An as-built grain "
                                       "boundary reconstructs during the first tens of ps; annealed, the production's "
                                       "framework check measures stability instead. 0: no annealing.")
    anneal_temperature_K: float | None = Field(None, gt=0, le=1e5,
                                               description="Annealing temperature; default the highest of temperatures_K.")
    anneal_structures: Literal["grain_boundaries", "all"] = Field(
        "grain_boundaries", description="Which structures anneal_ps anneals: the grain-boundary bicrystals, or all.")
    relax_force_eV_per_A: float = Field(0.01, gt=0, le=10, description="The quench after annealing stops when no "
                                                                       "force component is above this.")
    reference_check_frames: int = Field(
        0, ge=0, le=100, description="Label this many frames of every MD run (evenly spaced after its first tenth) "
                                     "with the reference and compare the MTP with them (task check/<material>/"
                                     "<structure>, learning/check.py): the force RMSE per frame against the training "
                                     "set's, a warning above 2x. Cells above active_learning.max_reference_atoms are "
                                     "checked on a cut-out around a random host atom. Needs trajectory_atoms = "
                                     "\"all\". 0: no check.")
    require_converged_learning: bool = Field(
        False, description="true: an MD run (and an anneal) whose potential is a learned MTP level that stopped "
                           "unconverged (active_learning.max_iterations reached) fails before it starts, naming the "
                           "learning's reason; the learning itself is kept, to learn on from it (argyro-run mtp "
                           "export). false: the MD runs anyway, with a warning (an unconverged potential may "
                           "extrapolate in runs longer than its explorations). A policy, not an input of the "
                           "run: it is left out of the tasks' content hashes.")
    temperature_tolerance_fraction: float = Field(0.25, gt=0, le=10,
                                           description="Fail when the mean production temperature is off by more than "
                                                       "this fraction of the target (0.25 = 25 %).")

    def production_ps_at(self, temperature_K: float) -> float:
        """Production length of the run at ``temperature_K`` (one of ``temperatures_K``)."""
        if not isinstance(self.production_ps, list):
            return float(self.production_ps)
        for T, ps in zip(self.temperatures_K, self.production_ps):
            if abs(T - float(temperature_K)) < 1e-9:
                return float(ps)
        raise ValueError(f"{temperature_K} K is not one of md.temperatures_K {self.temperatures_K}")

    def production_lengths_ps(self) -> list[float]:
        """Production length of every temperature, in the order of ``temperatures_K``."""
        return [self.production_ps_at(T) for T in self.temperatures_K]

    def annealing_temperature_K(self) -> float:
        """``anneal_temperature_K``, by default the hottest of ``temperatures_K``."""
        return float(self.anneal_temperature_K or max(self.temperatures_K))

    @field_validator("production_ps")
    @classmethod
    def _one_length_per_temperature(cls, v, info):
        temps = info.data.get("temperatures_K")
        if isinstance(v, list) and temps is not None and len(v) != len(temps):
            raise ValueError(f"{len(v)} lengths for {len(temps)} temperatures_K {temps}; allowed: one number for "
                             "all, or one length per temperature in the same order")
        return v

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.temperatures_K)) != len(self.temperatures_K):
            raise ValueError("temperatures_K contains duplicates")
        if 0 < self.gamma_break <= 1:
            raise ValueError(f"gamma_break ({self.gamma_break}) must be > 1 (grades <= 1 are interpolation) or 0 (never)")
        if self.reference_check_frames and self.trajectory_atoms != "all":
            raise ValueError("reference_check_frames needs trajectory_atoms = \"all\" (the frames must hold every "
                             f"atom); got trajectory_atoms = {self.trajectory_atoms!r}")
        ratio = self.dump_interval_fs / self.timestep_fs
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(f"dump_interval_fs ({self.dump_interval_fs}) must be a multiple of timestep_fs "
                             f"({self.timestep_fs})")
        short = min(self.production_lengths_ps())
        if short * 1000.0 < 10 * self.dump_interval_fs:
            raise ValueError(f"production_ps ({short}) must hold at least 10 samples of "
                             f"dump_interval_fs ({self.dump_interval_fs})")
        return self
