"""``[slurm]``: settings of the batch script ``argyro-run plan input.toml --sbatch job.sh`` writes.

Nothing here changes what a run computes; a run ignores this section.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from argyro_run.config.base import Section

# Slurm's --time formats: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
_TIME = re.compile(r"^(\d+-\d{1,2}(:\d{1,2}(:\d{1,2})?)?|\d+(:\d{1,2}(:\d{1,2})?)?)$")
_OPTION = re.compile(r"^--[A-Za-z][\w-]*(=\S.*)?$")


class SlurmSection(Section):
    partition: str | None = Field(None, min_length=1, description="Partition (sbatch --partition); required by `plan --sbatch`.")
    account: str | None = Field(None, min_length=1, description="Account charged (sbatch --account); omit "
                                                                "where the site needs none.")
    ranks: int | None = Field(None, ge=1, le=100000, description="MPI ranks of argyro-run (sbatch --ntasks); default: "
                                                                 "the most ranks the plan can keep busy at once.")
    cpus_per_rank: int = Field(1, ge=1, le=1024, description="CPU cores per rank (sbatch --cpus-per-task, OMP_NUM_THREADS).")
    reference_tasks: int = Field(0, ge=0, le=100000, description="Extra tasks in the allocation for a parallel code the "
                                                                 "reference worker starts itself (reference.command = 'srun "
                                                                 "--exact -n K ...'); argyro-run's own srun then uses --exact.")
    time_limit: str | None = Field(None, description="Wall-clock limit (sbatch --time, e.g. '12:00:00' or '1-00:00:00'); "
                                                     "default: time_factor x the plan's estimate.")
    time_factor: float = Field(3.0, ge=1.0, le=100.0, description="Default time limit = time_factor x the plan's estimated wall "
                                                                  "time on `ranks` ranks, at least min_time_minutes.")
    min_time_minutes: int = Field(30, ge=1, le=100000, description="Lower bound of the default time limit, minutes.")
    setup: list[str] = Field(default_factory=list, description="Shell lines run before argyro-run (e.g. 'module load ...').")
    sbatch_options: list[str] = Field(default_factory=list, description="Further sbatch options written as #SBATCH lines, "
                                                                        "e.g. '--qos=normal', '--mem-per-cpu=4G'.")

    @field_validator("time_limit")
    @classmethod
    def _time(cls, v: str | None) -> str | None:
        if v is None or _TIME.match(v.strip()):
            return v if v is None else v.strip()
        raise ValueError(f"{v!r} is not a Slurm time; allowed: MM, HH:MM:SS, D-HH, D-HH:MM:SS")

    @field_validator("sbatch_options")
    @classmethod
    def _options(cls, v: list[str]) -> list[str]:
        bad = [o for o in v if not _OPTION.match(o)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a long sbatch option; allowed: '--name' or '--name=value'")
        return v
