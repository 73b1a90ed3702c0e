"""Base class of every TOML section model.

Conventions (every section follows them):
* unknown keys are errors (``extra="forbid"``); the loader adds "did you mean" suggestions;
* every physical quantity carries its unit in the key name (``timestep_fs``,
  ``temperatures_K``, ``gb_thickness_nm``, ``lattice_constant_A``, ``D0_m2_per_s``, ``Ea_eV``);
* each field has a ``description`` (it becomes the JSON Schema text editors show) and a
  default wherever a sensible one exists.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=False)
