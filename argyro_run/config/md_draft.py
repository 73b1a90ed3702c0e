"""DRAFT ``[md]`` model, used only while ``config/md.py`` (MD developer) does not exist."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from argyro_run.config.base import Section


class MDSection(Section):
    temperatures_K: list[Annotated[float, Field(gt=0, le=1e5)]] = Field(default_factory=lambda: [500.0, 600.0, 700.0], min_length=1, description="MD temperatures.")
    timestep_fs: float = Field(1.0, gt=0, le=10, description="Time step.")
    equilibration_ps: float = Field(10.0, ge=0, le=1e6, description="Equilibration before production.")
    production_ps: float = Field(100.0, gt=0, le=1e7, description="Production length.")
    ensemble: Literal["nvt", "npt"] = Field("nvt", description="Ensemble.")
    thermostat_damping_fs: float = Field(100.0, gt=0, le=1e6, description="Thermostat damping time.")
    dump_interval_fs: float = Field(100.0, gt=0, le=1e6, description="Trajectory output interval.")

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.temperatures_K)) != len(self.temperatures_K):
            raise ValueError("temperatures_K contains duplicates")
        return self
