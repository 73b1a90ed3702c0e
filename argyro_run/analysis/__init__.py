"""Diffusion analysis: MSD, tracer/collective diffusivities, GB-resolved diffusion, Arrhenius fits,
conductivity (``[analysis]``)."""

from argyro_run.analysis.diffusion import arrhenius_fit, collective_msd, conductivity_mS_per_cm, diffusivity, gb_membership, msd

__all__ = ["arrhenius_fit", "collective_msd", "conductivity_mS_per_cm", "diffusivity", "gb_membership", "msd"]
