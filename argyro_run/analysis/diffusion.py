"""Diffusion from trajectories: MSD with all time origins, tracer and collective diffusivities with
Bayesian uncertainties (kinisi), GB-resolved components, Arrhenius fits, Nernst-Einstein conductivity.

Plain numpy functions. Units: positions in Angstrom, times in ps; diffusivities returned in m^2/s
(1 A^2/ps = 1e-8 m^2/s).

MSD: for every lag tau = k dt (k = 1 .. K) the mean over all time origins t0 and atoms of
(r(t0 + tau) - r(t0))^2, per Cartesian component (windowed "all origins" average, O(T^2 N), fine
for the few hundred samples a run keeps). d = number of components summed (3 total, 2 in-plane,
1 normal).

Reported D (``diffusivity_bayes``): kinisi 2.1 (McCluskey et al., J. Chem. Theory Comput. 2024,
doi:10.1021/acs.jctc.4c01249) gives the all-origins MSD of the whole run and its covariance between
the lags of the window [fit_start, fit_end] (random-walk model, n_i = N (T - 1) / k_i independent
samples at lag k_i, reconditioned and pseudo-inverted as kinisi does). Its likelihood for a straight
line (Gaussian, constant covariance) with a flat prior on slope >= 0 and intercept has an exact
posterior: the generalised-least-squares normal of (slope, intercept), truncated at slope 0. It is
sampled exactly (``posterior_samples``), not by kinisi's emcee ensemble: that starts every walker at
the ordinary least-squares slope and an intercept of 1e-20 with a spread of 1e-3 relative, and when
the MSD's intercept is many posterior widths from zero (a cage and vibration offset, over windows of
hundreds of lags) short chains have not converged (measured: ordered Li6PS5Br at 700 K, 100-590 ps
of 600 ps: emcee 1.62 +- 0.93e-10 m^2/s with the 600 steps argyro-run used until 2026-12-01,
0.80 +- 0.10e-10 with kinisi's default 1500 steps and with 5000; the exact draws 0.80 +- 0.10e-10).
D is the posterior mean of slope / (2 d), its error the posterior standard deviation and the 95 %
credible interval the 2.5-97.5 percentiles of the samples. The fitted line (posterior-mean slope and
intercept) is returned with the MSD so a figure draws exactly the fit that gives D.

Cross-check (``diffusivity``, the former estimator): the run is cut into ``n_blocks`` contiguous
segments; D is the mean of the blocks' ordinary least-squares D and its error the standard error of
that mean. With 4-5 blocks this error is itself uncertain by ~40 % and has no t-factor, so its
nominal 68 % intervals cover the truth far less often (see docs/md.md, "Diffusion statistics").
"""

from __future__ import annotations

import numpy as np

A2_PER_PS = 1e-8                 # m^2/s per A^2/ps
K_B_EV = 8.617333262e-5          # eV/K
K_B_J = 1.380649e-23             # J/K
E_C = 1.602176634e-19            # C

# Honest-MD thresholds: a run is diffusive when the mean squared displacement of the mobile species
# reaches a few hops (Li-Li jumps in argyrodites are 2-3 A long) at the end of the fit window; an
# Arrhenius fit needs this many diffusive temperatures to be called reliable.
MIN_DIFFUSIVE_MSD_A2 = 10.0
MIN_DIFFUSIVE_TEMPERATURES = 3

# Exact draws from the posterior of the MSD line (posterior_samples), per D. 3200, as kinisi's emcee run
# with 32 walkers gave before (its chains did not converge on long windows, see the module doc).
N_POSTERIOR_SAMPLES = 3200
CREDIBLE_PERCENTILES = (2.5, 97.5)   # the reported 95 % credible interval

# What the diffusion task computes D with. Part of its params (plan/build.py), so an archive analysed by
# an older estimator is re-analysed on resume (from its stored trajectories: no MD is repeated).
ESTIMATOR = ("kinisi 2.1 MSD, covariance and likelihood, its posterior sampled exactly (2026-12-01), windows "
             "outside kinisi's covariance model refused (2026-11-30); cross-check: block means; GB cells also the "
             "layered-medium GB D from all ions (2026-11-30)")


def msd(positions_A: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """(K+1, 3) mean squared displacement per Cartesian component for lags 0..K samples, averaged
    over all time origins and atoms of ``positions_A`` (T, N, 3)."""
    x = np.asarray(positions_A, dtype=float)
    T = x.shape[0]
    K = T - 1 if max_lag is None else min(int(max_lag), T - 1)
    out = np.zeros((K + 1, 3))
    for k in range(1, K + 1):
        d = x[k:] - x[:-k]
        out[k] = np.mean(d * d, axis=(0, 1))
    return out


def collective_msd(positions_A: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """(K+1, 3) MSD of the summed displacement of all atoms divided by their number: its slope
    gives the collective (charge) diffusivity D_sigma; equals the tracer MSD without
    cross-correlations."""
    x = np.asarray(positions_A, dtype=float)
    s = x.sum(axis=1, keepdims=True)
    return msd(s, max_lag) / x.shape[1]


def fit_slope(lag_ps: np.ndarray, y: np.ndarray, start_ps: float, end_ps: float) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line through y(lag) for start <= lag <= end."""
    m = (lag_ps >= start_ps - 1e-12) & (lag_ps <= end_ps + 1e-12)
    if m.sum() < 2:
        raise ValueError(f"fit window [{start_ps}, {end_ps}] ps holds {int(m.sum())} MSD points; need >= 2")
    slope, intercept = np.polyfit(lag_ps[m], y[m], 1)
    return float(slope), float(intercept)


def diffusivity(positions_A: np.ndarray, dt_ps: float, *, fit_start_ps: float, fit_end_ps: float,
                n_blocks: int = 1, components=(0, 1, 2), collective: bool = False) -> dict:
    """Tracer diffusivity (m^2/s) of the atoms of ``positions_A`` (T, N, 3) along ``components``
    (indices of Cartesian axes in an orthonormal frame), block-averaged. Returns ``D_m2_per_s``,
    ``D_err_m2_per_s`` (NaN with one block), ``D_blocks_m2_per_s``, the MSD of the whole run
    (``lag_ps``, ``msd_A2`` (K+1, 3)) and with ``collective`` the same for the collective D."""
    x = np.asarray(positions_A, dtype=float)
    T = x.shape[0]
    comps = list(components)
    dim = len(comps)
    block = T // max(1, n_blocks)
    if block < 2:
        raise ValueError(f"{T} samples cannot make {n_blocks} blocks")
    if fit_end_ps > (block - 1) * dt_ps + 1e-9:
        raise ValueError(f"fit_end_ps ({fit_end_ps}) is beyond the block length ({(block - 1) * dt_ps:g} ps)")
    max_lag = int(np.floor(fit_end_ps / dt_ps + 1e-9))
    out: dict = {}
    for name, fn, on in (("", msd, True), ("collective_", collective_msd, collective)):
        if not on:
            continue
        Ds = []
        for b in range(max(1, n_blocks)):
            seg = x[b * block:(b + 1) * block]
            curve = fn(seg, max_lag)
            lag = np.arange(len(curve)) * dt_ps
            slope, _ = fit_slope(lag, curve[:, comps].sum(axis=1), fit_start_ps, fit_end_ps)
            Ds.append(slope / (2 * dim) * A2_PER_PS)
        Ds = np.array(Ds)
        full = fn(x, min(T - 1, max(max_lag, (T - 1) // 2)))
        out[f"{name}D_m2_per_s"] = float(Ds.mean())
        out[f"{name}D_err_m2_per_s"] = float(Ds.std(ddof=1) / np.sqrt(len(Ds))) if len(Ds) > 1 else float("nan")
        out[f"{name}D_blocks_m2_per_s"] = Ds
        out[f"{name}msd_A2"] = full
        out[f"{name}lag_ps"] = np.arange(len(full)) * dt_ps
    return out


_AXES = "xyz"


def fit_lags(dt_ps: float, fit_start_ps: float, fit_end_ps: float) -> tuple[int, int]:
    """(first, last) lag index of the fit window: the first lag >= fit_start_ps (at least 1: the MSD
    at lag 0 is 0 without variance) and the last lag <= fit_end_ps."""
    k0 = max(1, int(np.ceil(float(fit_start_ps) / dt_ps - 1e-9)))
    k1 = int(np.floor(float(fit_end_ps) / dt_ps + 1e-9))
    return k0, k1


def diffusivity_bayes(positions_A: np.ndarray, dt_ps: float, *, fit_start_ps: float, fit_end_ps: float,
                      components=(0, 1, 2), seed: int = 0, refuse_improper: bool = True) -> dict:
    """Tracer diffusivity (m^2/s) of the atoms of ``positions_A`` (T, N, 3; unwrapped, Angstrom,
    sampled every ``dt_ps``) along ``components`` with kinisi's Bayesian regression of the
    all-origins MSD of the whole run over the lags [fit_start_ps, fit_end_ps] (see the module doc).

    Returns ``D_m2_per_s`` (posterior mean), ``D_err_m2_per_s`` (posterior standard deviation),
    ``D_ci95_m2_per_s`` (2,), ``D_samples_m2_per_s``, the MSD that was fitted (``lag_ps`` (K+1,)
    from lag 0 to the fit end, ``msd_A2`` (K+1, 3) per Cartesian component, ``msd_var_A4`` (K+1,)
    kinisi's variance of the summed-component MSD, NaN at lag 0), the fit (``slope_A2_per_ps`` and
    ``intercept_A2``: posterior means, slope / (2 d) = D; ``fit_cov_A4``: the covariance matrix of the
    fitted MSD points that the likelihood uses) and the window actually used
    (``fit_start_ps``, ``fit_end_ps``: the lags of the first and last fitted point). ``seed`` makes the
    posterior draws reproducible; numpy's global random state is not used.

    ``covariance_problem`` says when kinisi's covariance model does not describe the window (a
    cage-dominated, sub-diffusive MSD: ``covariance_model_problem``). With ``refuse_improper`` (the
    default) that is a ``fit_problem`` too and D is NaN; without it (coordinates confined by how the
    atoms were chosen, e.g. across a GB slab) D is kept and the problem only reported.

    kinisi is given the archive's arrays, not a file: its time step is the sampling interval in fs
    (so every lag index k = lag / dt is exact), step_skip 1, no drift correction (the selected atoms
    only), and a cubic box wider than the positions' span, so its minimum-image unwrapping leaves the
    already unwrapped positions unchanged. Its lag list is 1..K plus the last lag of the run, so its
    count of independent samples, n_k = N (T - 1) / k, refers to the whole run; that extra lag is
    dropped before the fit."""
    import scipp as sc
    from kinisi.diffusion import Diffusion

    x = np.asarray(positions_A, dtype=float)
    T = x.shape[0]
    comps = tuple(int(c) for c in components)
    dim = len(comps)
    k0, K = fit_lags(dt_ps, fit_start_ps, fit_end_ps)
    if K - k0 + 1 < 2:
        raise ValueError(f"fit window [{fit_start_ps}, {fit_end_ps}] ps holds {max(0, K - k0 + 1)} MSD lags of "
                         f"{dt_ps:g} ps; need >= 2")
    if K >= T - 1:
        raise ValueError(f"fit_end_ps ({fit_end_ps}) must be below the run length ({(T - 1) * dt_ps:g} ps)")
    dg = kinisi_msd(x, dt_ps, K, comps)
    da = dg["da"]["time interval", :K]
    full = msd(x, K)
    if not np.allclose(da.values, full[1:, list(comps)].sum(axis=1), rtol=1e-9, atol=1e-12):
        raise ValueError("kinisi's MSD differs from the all-origins MSD of the same positions")
    if not np.any(np.asarray(da.variances)[k0 - 1:] > 0):
        raise ValueError(f"the atoms do not move along {''.join(_AXES[c] for c in comps)} in the fit window: "
                         "the MSD has no variance to fit")
    model_problem = covariance_model_problem(np.asarray(da.variances, float)[k0 - 1:],
                                             np.asarray(da.coords["n_samples"].values, float)[k0 - 1:],
                                             np.arange(k0, K + 1) * dt_ps)
    diff = Diffusion(dg=sc.DataGroup({"da": da, "dimensionality": dg["dimensionality"]}))
    cov = _kinisi_covariance(diff, k0 - 1)
    lag = np.arange(K + 1) * dt_ps
    y = np.asarray(da.values, float)[k0 - 1:]
    try:
        draws, improper = posterior_samples(lag[k0:], y, cov, N_POSTERIOR_SAMPLES, seed), ""
    except (ValueError, np.linalg.LinAlgError) as exc:
        draws, improper = np.full((N_POSTERIOR_SAMPLES, 2), np.nan), f"the posterior of the MSD line is improper: {exc}"
    slope = draws[:, 0]                                                   # A^2/ps samples
    Ds = slope / (2 * dim) * A2_PER_PS
    var = np.r_[np.nan, np.asarray(da.variances, float)]
    intercept = float(draws[:, 1].mean())
    problem = (model_problem if refuse_improper else "") or improper or fit_problem(
        cov, lag[k0:], full[k0:, list(comps)].sum(axis=1), float(slope.mean()), intercept)
    D, De, ci = (float(Ds.mean()), float(Ds.std(ddof=1)), np.percentile(Ds, CREDIBLE_PERCENTILES))
    if problem:
        D, De, ci = np.nan, np.nan, np.full(2, np.nan)
    return {"D_m2_per_s": D, "D_err_m2_per_s": De, "D_ci95_m2_per_s": ci, "D_samples_m2_per_s": Ds,
            "lag_ps": lag, "msd_A2": full, "msd_var_A4": var,
            "slope_A2_per_ps": float(slope.mean()), "intercept_A2": intercept, "fit_cov_A4": cov,
            "fit_problem": problem, "covariance_problem": model_problem,
            "fit_start_ps": k0 * dt_ps, "fit_end_ps": K * dt_ps, "components": comps}


def kinisi_msd(positions_A: np.ndarray, dt_ps: float, max_lag: int, components=(0, 1, 2)):
    """kinisi's MSD with per-lag variances and sample counts (its ``calculate_msd`` DataGroup) of the
    unwrapped ``positions_A`` (T, N, 3) sampled every ``dt_ps``, for lags 1..``max_lag`` plus the run's
    last lag (so its counts of independent samples refer to the whole run), fed as
    ``diffusivity_bayes`` describes: exact lag indices (time step = the sampling interval in fs), a box
    wider than the positions' span. Raises ValueError when kinisi's lag indices are not those."""
    import scipp as sc
    from kinisi.displacement import calculate_msd
    from kinisi.parser import Parser

    x = np.asarray(positions_A, dtype=float)
    T, N = x.shape[0], x.shape[1]
    K = int(max_lag)
    dt_fs = round(float(dt_ps) * 1000.0, 9)
    box = 2.0 * float(np.ptp(x)) + 1.0
    lags = np.r_[np.arange(1, K + 1), T - 1]
    parser = Parser(coords=sc.array(dims=["time", "particle", "dimension"], values=x / box),
                    latt=sc.array(dims=["time", "row", "column"], values=np.broadcast_to(np.eye(3) * box, (T, 3, 3)),
                                  unit="angstrom"),
                    time_step=sc.scalar(dt_fs, unit="fs"), step_skip=sc.scalar(1, unit=sc.units.dimensionless),
                    dt=sc.array(dims=["time interval"], values=lags * dt_fs, unit="fs"),
                    specie_indices=sc.arange("particle", N), dimension="".join(_AXES[int(c)] for c in components))
    if not np.array_equal(parser.dt_index.values, lags):
        raise ValueError(f"kinisi's lag indices {parser.dt_index.values[:5]}... differ from 1..{K}, {T - 1}")
    return calculate_msd(parser, progress=False)


def _kinisi_covariance(diff, first: int) -> np.ndarray:
    """kinisi's covariance matrix of the MSD lags from index ``first`` of its lag list on, built by its own
    ``Diffusion.compute_covariance_matrix`` with the settings its ``bayesian_regression`` uses by
    default (condition number 1e16, minimum-eigenvalue reconditioning, no Marchenko-Pastur clipping),
    without its sampler. tests/analysis/test_kinisi.py checks it equals the matrix of a full
    ``bayesian_regression`` (kinisi is pinned to 2.1.x)."""
    diff._start_dt = diff.dg["da"].coords["time interval"][int(first)]
    diff._cond_max = 1e16
    diff._recondition = False
    diff.diff_regime = int(first)
    diff._covariance_matrix = diff.compute_covariance_matrix()
    return np.asarray(diff._covariance_matrix.values, float)


def posterior_samples(lag_ps: np.ndarray, msd_A2: np.ndarray, cov_A4: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(n, 2) exact draws of (slope in A^2/ps, intercept in A^2) from kinisi's posterior of the line
    msd = slope lag + intercept: Gaussian likelihood with the covariance ``cov_A4`` of the MSD points,
    pseudo-inverted as kinisi does (``scipy.linalg.pinvh``: the directions of a covariance singular to
    round-off carry no information), flat prior on intercept and on slope >= 0. The posterior is the
    generalised-least-squares normal N(beta, (X^T C^+ X)^-1) truncated at slope 0: the slope is drawn
    from its truncated marginal, the intercept from its normal conditional on the slope. Raises
    ValueError (or numpy's LinAlgError) when the data define no proper posterior."""
    from scipy.linalg import pinvh
    from scipy.stats import truncnorm

    lag = np.asarray(lag_ps, dtype=float)
    y = np.asarray(msd_A2, dtype=float)
    C = np.asarray(cov_A4, dtype=float)
    if not (np.all(np.isfinite(C)) and np.all(np.isfinite(y))):
        raise ValueError("the MSD or its covariance is not finite")
    X = np.column_stack([lag, np.ones_like(lag)])
    P = pinvh(C)
    Sigma = np.linalg.inv(X.T @ P @ X)
    beta = Sigma @ (X.T @ P @ y)
    if not (np.all(np.isfinite(Sigma)) and np.all(np.isfinite(beta)) and Sigma[0, 0] > 0
            and Sigma[1, 1] * Sigma[0, 0] > Sigma[0, 1] ** 2 * (1 - 1e-12)):
        raise ValueError("the data fix no slope and intercept (singular normal equations)")
    s_slope = float(np.sqrt(Sigma[0, 0]))
    rng = np.random.default_rng(int(seed) % 2 ** 63)
    slope = truncnorm.rvs(-beta[0] / s_slope, np.inf, loc=beta[0], scale=s_slope, size=int(n), random_state=rng)
    gain = Sigma[0, 1] / Sigma[0, 0]
    s_cond = float(np.sqrt(max(Sigma[1, 1] - gain * Sigma[0, 1], 0.0)))
    intercept = beta[1] + gain * (slope - beta[0]) + s_cond * rng.standard_normal(int(n))
    return np.column_stack([slope, intercept])


# How far var_k n_k^2 (see covariance_model_problem) may fall below its running maximum before the
# window counts as not diffusive: SPREAD_FALL_SIGMAS standard errors of the variance estimate at that
# lag, sqrt(2 / n_k) relative, and never less than SPREAD_FALL_TOLERANCE. Measured (docs/md.md): random
# walks fall by up to 1.5 % with 8 atoms and by up to 77 % with 3 (within their sampling noise), the
# validation runs' diffusive windows (138-192 Li) by at most 15 %, within their noise; the
# cage-dominated ones (ordered Li6PS5Cl/I at 400-800 K) by 15-63 %, beyond it.
SPREAD_FALL_TOLERANCE = 0.05
SPREAD_FALL_SIGMAS = 3.0


def covariance_model_problem(var_A4: np.ndarray, n_samples: np.ndarray, lag_ps: np.ndarray) -> str:
    """Why kinisi's covariance model of the MSD does not describe these lags ("" when it does).

    kinisi takes cov(MSD_i, MSD_j) = var_i n_i / n_j for lags i <= j (var_k the variance of the MSD at
    lag k, n_k its number of independent samples). A matrix u_min(i,j) v_max(i,j) with u = var n and
    v = 1 / n is the covariance of a time-changed Brownian motion, and positive semi-definite, only
    where u / v = var_k n_k^2 does not decrease with the lag, i.e. where the spread of the squared
    displacements grows at least linearly with the lag, as a random walk's does. In a cage-dominated
    (sub-diffusive) window it saturates and var_k n_k^2 falls: the matrix is indefinite, kinisi
    projects it onto the nearest semi-definite one, which is singular along a direction of (slope,
    intercept), and its sampler walks off (ordered Li6PS5Cl/I at 500-700 K) or returns a slope the
    data do not fix. Refused when var_k n_k^2 falls below its running maximum by more than its
    sampling noise allows (SPREAD_FALL_SIGMAS x sqrt(2 / n_k), at least SPREAD_FALL_TOLERANCE): a few
    atoms' variances scatter enough to make the matrix a little indefinite, which kinisi's projection
    absorbs (its intervals still cover the truth on such walks)."""
    var = np.asarray(var_A4, dtype=float)
    n = np.asarray(n_samples, dtype=float)
    lag = np.asarray(lag_ps, dtype=float)
    if var.size < 2:
        return ""
    growth = var * n ** 2
    peak = np.maximum.accumulate(growth)
    if not np.all(np.isfinite(growth)):
        return ""
    ratio = np.where(peak > 0, growth / np.where(peak > 0, peak, 1.0), 1.0)
    allowed = np.maximum(SPREAD_FALL_TOLERANCE, SPREAD_FALL_SIGMAS * np.sqrt(2.0 / np.maximum(n, 1e-300)))
    excess = (1.0 - ratio) / allowed
    k = int(np.argmax(excess))
    if excess[k] <= 1.0:
        return ""
    idx = np.arange(var.size)
    lo, hi = np.minimum.outer(idx, idx), np.maximum.outer(idx, idx)
    ev = np.linalg.eigvalsh(var[lo] * n[lo] / n[hi])
    return (f"the window is not diffusive: kinisi's random-walk covariance needs var_k n_k^2 (the spread of the "
            f"squared displacements) to grow with the lag, but it falls to {ratio[k]:.2f} of its "
            f"maximum by {lag[k]:g} ps (sampling noise allows {1 - allowed[k]:.2f}), so its covariance is "
            f"indefinite (smallest/largest eigenvalue {ev.min() / ev.max():.2g}) and the fit is improper; cage "
            f"motion dominates [{lag[0]:g}, {lag[-1]:g}] ps (move analysis.fit_start_ps later or run longer)")


def fit_problem(cov_A4: np.ndarray, lag_ps: np.ndarray, msd_A2: np.ndarray, slope_A2_per_ps: float,
                intercept_A2: float) -> str:
    """Why a Bayesian MSD fit cannot be used ("" when it can): the posterior-mean line misses the MSD
    it was fitted to by more than the MSD's range plus its mean level at either end of the window (the sampler ran away:
    seen on ordered Li6PS5I at 700 and 800 K, where a smooth MSD of 4-9 A^2 gave posterior slopes of
    8e4 A^2/ps and more; kinisi's covariance of the ~300 fitted points is singular to round-off there,
    as it is in fits that work), or that covariance has a clearly negative eigenvalue (an improper
    likelihood)."""
    c = np.asarray(cov_A4, dtype=float)
    ev = np.linalg.eigvalsh(0.5 * (c + c.T))
    if not np.all(np.isfinite(ev)) or ev.min() < -1e-8 * max(ev.max(), 0.0):   # round-off (~1e-16 relative) is fine
        return (f"kinisi's MSD covariance is not positive semi-definite (eigenvalues {ev.min():.3g} .. {ev.max():.3g} "
                "A^4): the Bayesian fit is improper")
    y = np.asarray(msd_A2, dtype=float)
    line = intercept_A2 + slope_A2_per_ps * np.asarray(lag_ps, dtype=float)
    scale = float(np.ptp(y) + np.abs(y).mean())       # a flat (vibrating) MSD: its level, not its noise
    miss = max(abs(line[0] - y[0]), abs(line[-1] - y[-1]))
    if not np.isfinite(miss) or miss > scale:
        return (f"the fitted line misses the MSD by {miss:.3g} A^2 at the window's end (MSD range + mean level "
                f"{scale:.3g} A^2)")
    return ""


def msd_at_lag_A2(lag_ps: np.ndarray, msd_A2: np.ndarray, at_ps: float) -> float:
    """Total MSD (sum over the components of ``msd_A2`` (K+1, 3)) at the lag nearest to ``at_ps``."""
    lag = np.asarray(lag_ps, dtype=float)
    k = int(np.argmin(np.abs(lag - float(at_ps))))
    return float(np.asarray(msd_A2, dtype=float)[k].sum())


def is_diffusive(msd_fit_end_A2, min_msd_A2: float = MIN_DIFFUSIVE_MSD_A2) -> np.ndarray:
    """True where the MSD at the end of the fit window reaches ``min_msd_A2`` (a few hops); below
    it the fitted slope is vibration and noise, not diffusion."""
    m = np.asarray(msd_fit_end_A2, dtype=float)
    return np.isfinite(m) & (m >= float(min_msd_A2))


def fit_quality(diffusive, usable=None, min_temperatures: int = MIN_DIFFUSIVE_TEMPERATURES) -> tuple[bool, str]:
    """(reliable, reason) of an Arrhenius fit over temperatures flagged ``diffusive`` (and
    ``usable``: a positive D): reliable with at least ``min_temperatures`` diffusive points."""
    d = np.asarray(diffusive, dtype=bool)
    if usable is not None:
        d = d & np.asarray(usable, dtype=bool)
    n = int(d.sum())
    if n >= min_temperatures:
        return True, f"{n} diffusive temperatures"
    return False, (f"only {n} of {d.size} temperatures diffusive (MSD at the fit end >= {MIN_DIFFUSIVE_MSD_A2:g} A^2); "
                   f"a reliable fit needs {min_temperatures}: run longer or hotter")


def gb_membership(positions_A: np.ndarray, plane_z_A, period_A: float, width_A: float,
                  normal_axis: int = 2) -> np.ndarray:
    """Fraction of the samples each atom spends within ``width_A``/2 of a GB plane (planes
    perpendicular to ``normal_axis`` at ``plane_z_A``, periodic with ``period_A``)."""
    z = np.asarray(positions_A, dtype=float)[..., normal_axis]
    d = np.full(z.shape, np.inf)
    for zp in np.atleast_1d(plane_z_A):
        d = np.minimum(d, np.abs(np.mod(z - zp + 0.5 * period_A, period_A) - 0.5 * period_A))
    return np.mean(d <= 0.5 * width_A, axis=0)


# How the Arrhenius task fits. Part of its params (plan/build.py), so an archive fitted the older way
# is re-fitted on resume.
ARRHENIUS_METHOD = "weighted ln D, covariance scaled by chi2/dof where that exceeds 1 (2026-12-01)"


def arrhenius_fit(temperature_K, D_m2_per_s, D_err_m2_per_s=None) -> dict:
    """Weighted least squares of ln D = ln D0 - Ea / (k_B T). Weights 1/sigma(ln D)^2 with
    sigma(ln D) = D_err / D (unweighted when errors are missing). Returns Ea_eV, Ea_eV_err,
    D0_m2_per_s, D0_m2_per_s_err (from the error of ln D0), cov (of ln D0, Ea_eV), ``chi2`` and
    ``dof``, ``error_scale`` and a function ``predict(T) -> (D, D_err)`` with the propagated error.

    When the points scatter about the line more than their errors allow (chi2 / dof > 1) the
    covariance is multiplied by chi2 / dof (the Birge ratio squared; ``error_scale`` is its square
    root, 1 otherwise): the D errors then miss part of the scatter (kinisi's errors on real MD were
    measured 1.8x smaller than the scatter of independent segments, docs/md.md) or ln D is not
    straight in 1/T, and Ea's error says so. Without errors the covariance comes from the residuals."""
    T = np.asarray(temperature_K, dtype=float)
    D = np.asarray(D_m2_per_s, dtype=float)
    if len(T) < 2:
        raise ValueError("an Arrhenius fit needs at least 2 temperatures")
    if np.any(D <= 0) or not np.all(np.isfinite(D)):
        raise ValueError(f"diffusivities must be finite and positive for an Arrhenius fit, got {D.tolist()}")
    y = np.log(D)
    if D_err_m2_per_s is not None and np.all(np.isfinite(D_err_m2_per_s)) and np.all(np.asarray(D_err_m2_per_s) > 0):
        sig = np.asarray(D_err_m2_per_s, dtype=float) / D
        weighted = True
    else:
        sig = np.ones_like(D)
        weighted = False
    A = np.column_stack([np.ones_like(T), -1.0 / (K_B_EV * T)])
    W = 1.0 / sig ** 2
    cov = np.linalg.inv(A.T @ (A * W[:, None]))
    p = cov @ (A.T @ (W * y))
    resid = y - A @ p
    dof = len(T) - 2
    chi2 = float(np.sum(W * resid ** 2)) if weighted else float("nan")
    scale = 1.0
    if not weighted:   # errors unknown: estimate the scatter from the residuals
        cov = cov * (float(resid @ resid) / dof if dof > 0 else np.nan)
    elif dof > 0 and chi2 / dof > 1.0:
        scale = float(np.sqrt(chi2 / dof))
        cov = cov * scale ** 2
    lnD0, Ea = p
    out = {"Ea_eV": float(Ea), "Ea_eV_err": float(np.sqrt(cov[1, 1])), "D0_m2_per_s": float(np.exp(lnD0)),
           "D0_m2_per_s_err": float(np.exp(lnD0) * np.sqrt(cov[0, 0])), "cov": cov, "weighted": weighted,
           "chi2": chi2, "dof": dof, "error_scale": scale}

    def predict(temperature):
        t = np.asarray(temperature, dtype=float)
        a = np.stack([np.ones_like(t), -1.0 / (K_B_EV * t)], axis=-1)
        lnd = a @ p
        var = np.einsum("...i,ij,...j->...", a, cov, a)
        return np.exp(lnd), np.exp(lnd) * np.sqrt(var)

    out["predict"] = predict
    return out


def conductivity_mS_per_cm(D_m2_per_s, temperature_K, n_carriers: int, volume_A3: float,
                           haven_ratio: float = 1.0, charge: float = 1.0):
    """Nernst-Einstein sigma = n (z e)^2 D / (k_B T H) in mS/cm (1 S/m = 10 mS/cm)."""
    n = n_carriers / (volume_A3 * 1e-30)
    sigma = n * (charge * E_C) ** 2 * np.asarray(D_m2_per_s) / (K_B_J * np.asarray(temperature_K) * haven_ratio)
    return sigma * 10.0
