"""Grain-boundary diffusivities of a periodic bicrystal from all its mobile ions, without choosing
ions by where they stay.

A periodic bicrystal is a layered medium: bulk slabs and GB slabs (``analysis.gb_width_A`` wide,
one per GB plane) alternate along the GB normal with period ``L``. The long-time tracer diffusion of
an ion in a periodic medium with equilibrium density rho(z) and local diffusivity D(z) along z is
(Lifson and Jackson, J. Chem. Phys. 36, 2410 (1962))::

    1 / D_normal = <rho> <1 / (rho D)>          (averages over one period)

and in the plane it is the ion-weighted mean of the local in-plane diffusivities. For two phases,
bulk b and GB g, with volume fractions phi (phi_g = n_planes w / L) and ion fractions a (the share
of the ions' time spent in the GB slabs)::

    1 / D_normal = phi_b^2 / (a_b D_b) + phi_g^2 / (a_g D_gb_perpendicular)
    D_inplane    = a_b D_b + a_g D_gb_parallel

which this module inverts for the GB's own diffusivities, given the bicrystal's whole-cell D along
and across the planes and the bulk D. With a uniform density (a = phi) the normal law is the series
(harmonic) mean, the in-plane one the parallel (arithmetic) mean: the same laws the FE stage's thin
interfaces obey. The ions are all fitted together, so their MSD is that of an unbiased tracer and
kinisi's covariance model holds (the slab subsets, chosen by staying in a slab, are bounded across it).

The laws hold at lags over which an ion crosses several periods: at shorter lags the normal MSD
grows with the ion-weighted *arithmetic* mean of the local normal diffusivities, and the inversion
is biased towards it. ``crossing_ratio`` (normal MSD at the fit window's start over L^2) tells
which regime a window is in; below ~1 the perpendicular value is not the long-time one.
"""

from __future__ import annotations

import numpy as np

# the normal MSD at the fit window's start must reach this many squared periods for the layered
# (Lifson-Jackson) law to describe the window
MIN_CROSSING_RATIO = 1.0
_MC_DRAWS = 4000


def gb_volume_fraction(plane_z_A, period_A: float, width_A: float) -> float:
    """Volume fraction of the GB slabs: one slab of ``width_A`` per plane in a period ``period_A``."""
    n = len(np.atleast_1d(plane_z_A))
    return float(min(1.0, n * float(width_A) / float(period_A)))


def layered_gb_diffusivities(D_normal, D_inplane, D_bulk, volume_fraction: float, ion_fraction: float):
    """GB diffusivities (perpendicular, parallel) of the two-phase layered medium whose whole-cell
    tracer diffusivities are ``D_normal`` (across the planes) and ``D_inplane`` (along them), with bulk
    diffusivity ``D_bulk``, GB volume fraction ``volume_fraction`` and GB ion fraction
    ``ion_fraction``. Arrays broadcast; NaN where the data admit no positive GB diffusivity (e.g. a
    cell across the planes faster than the bulk could be with any positive GB perpendicular D)."""
    phi_g, a_g = float(volume_fraction), float(ion_fraction)
    if not (0.0 < phi_g < 1.0 and 0.0 < a_g < 1.0):
        raise ValueError(f"GB volume fraction ({phi_g}) and ion fraction ({a_g}) must lie strictly between 0 and 1")
    phi_b, a_b = 1.0 - phi_g, 1.0 - a_g
    Dn, Di, Db = (np.asarray(x, dtype=float) for x in (D_normal, D_inplane, D_bulk))
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = 1.0 / Dn - phi_b ** 2 / (a_b * Db)
        perp = np.where(rest > 0, phi_g ** 2 / (a_g * rest), np.nan)
        par = (Di - a_b * Db) / a_g
        par = np.where(par > 0, par, np.nan)
    perp = np.where((Dn > 0) & (Db > 0), perp, np.nan)
    return perp, par


def layered_gb_with_errors(D_normal: float, D_normal_err: float, D_inplane: float, D_inplane_err: float,
                           D_bulk: float, D_bulk_err: float, volume_fraction: float, ion_fraction: float,
                           seed: int = 0) -> dict:
    """:func:`layered_gb_diffusivities` with uncertainties: normal draws of the three diffusivities
    (their posterior means and standard deviations), the GB values' mean and standard deviation over
    the draws that admit a positive value, and the share of those draws (``valid_fraction``; below
    one half the value is NaN: the data do not determine it)."""
    out = {}
    best = layered_gb_diffusivities(D_normal, D_inplane, D_bulk, volume_fraction, ion_fraction)
    rng = np.random.default_rng(seed)

    def draw(mu, sd):
        sd = float(sd) if np.isfinite(sd) and sd > 0 else 0.0
        return float(mu) + sd * rng.standard_normal(_MC_DRAWS)

    draws = layered_gb_diffusivities(draw(D_normal, D_normal_err), draw(D_inplane, D_inplane_err),
                                     draw(D_bulk, D_bulk_err), volume_fraction, ion_fraction)
    for name, value, sample in zip(("perpendicular", "parallel"), best, draws):
        ok = np.isfinite(sample)
        frac = float(ok.mean())
        determined = np.isfinite(value) and frac >= 0.5
        out[name] = float(value) if determined else float("nan")
        out[f"{name}_err"] = float(np.std(sample[ok], ddof=1)) if determined and ok.sum() > 1 else float("nan")
        out[f"{name}_valid_fraction"] = frac
    return out


def crossing_ratio(msd_normal_A2: float, period_A: float) -> float:
    """Normal MSD (one Cartesian component, A^2) over the squared period: how many periods an ion
    has crossed, squared. The layered laws need it well above ``MIN_CROSSING_RATIO``."""
    return float(msd_normal_A2) / float(period_A) ** 2
