"""``run_diffusion`` (task ``analysis/<material>/<structure>``: MSD and diffusivities of every MD
temperature of a structure) and ``run_arrhenius`` (task ``arrhenius/<material>``: Arrhenius fits,
D(300 K), conductivity; read by the FE stage and the summary).

``analysis/...`` result: ``temperatures_K``, ``D_m2_per_s`` and ``D_err_m2_per_s`` (kinisi's
posterior mean and standard deviation, ``diffusivity_bayes``), ``D_ci95_m2_per_s`` (95 % credible
interval), ``D_block_mean_m2_per_s`` / ``D_block_sem_m2_per_s`` (cross-check: the block estimate
``diffusivity``), ``sigma_mS_per_cm`` (Nernst-Einstein at each T), ``msd/T<T>/{lag_ps, msd_A2,
msd_var_A4}`` (the fitted all-origins MSD of the whole run per Cartesian component, lags 0 .. fit end;
attrs: the fit window, ``slope_A2_per_ps``, ``intercept_A2``, ``posterior_seed``), ``D_blocks/T<T>``,
``msd_fit_end_A2`` and ``diffusive`` (honest-MD flag per T, ``MIN_DIFFUSIVE_MSD_A2``); with a GB cell
also ``gb/D_parallel_m2_per_s``, ``gb/D_perpendicular_m2_per_s``, ``gb/D_bulk_region_m2_per_s``
(each + ``_err``, ``_ci95``, ``_block_mean``, ``_block_sem``), ``gb/n_gb_atoms``, the whole cell's
``gb/D_cell_normal`` / ``gb/D_cell_inplane`` and from them the layered-medium GB D
``gb/D_{perpendicular,parallel}_layered_m2_per_s`` (analysis/layered.py) with ``gb/volume_fraction``,
``gb/ion_fraction``, ``gb/crossing_ratio``; with
``collective`` the same set for ``D_collective`` and ``haven_ratio``. Seeds of the posterior draws: ``posterior_seed``.

``arrhenius/<material>`` result: ``fits/<kind>/{D0_m2_per_s, D0_m2_per_s_err, Ea_eV, Ea_eV_err,
D_300K_m2_per_s, D_300K_m2_per_s_err, sigma_300K_mS_per_cm, temperatures_K, D_m2_per_s,
D_err_m2_per_s, diffusive, used_in_fit}`` for kind in bulk, gb_parallel, gb_perpendicular, with attrs
``fit_quality`` ('ok': fitted on >= ``MIN_DIFFUSIVE_TEMPERATURES`` diffusive temperatures only;
'unreliable': fewer, fitted on every positive D) and ``fit_quality_reason``. ``bulk`` comes from the first
bulk structure (no GB) of the material, else from the bulk region of the first GB cell;
``gb_*`` from the first GB cell. Every structure's own fits are under ``structures/<name>/<kind>``.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np

from argyro_run.analysis.diffusion import (
    ESTIMATOR,
    MIN_DIFFUSIVE_MSD_A2,
    arrhenius_fit,
    conductivity_mS_per_cm,
    diffusivity,
    diffusivity_bayes,
    fit_quality,
    gb_membership,
    is_diffusive,
    msd_at_lag_A2,
)
from argyro_run.analysis.jumps import CORE_RADIUS_A as JUMP_CORE_RADIUS_A
from argyro_run.analysis.jumps import KINDS as JUMP_KINDS
from argyro_run.analysis.jumps import jump_statistics
from argyro_run.analysis.layered import (
    MIN_CROSSING_RATIO,
    crossing_ratio,
    gb_volume_fraction,
    layered_gb_with_errors,
)
from argyro_run.config.analysis import block_length_ps
from argyro_run.errors import UserError
from argyro_run.results import Result

log = logging.getLogger(__name__)


def _species_mask(numbers: np.ndarray, species: str) -> np.ndarray:
    from ase.data import atomic_numbers

    if not species:
        raise ValueError("diffusion analysis without a species (the plan sets the material's mobile ion)")
    if species not in atomic_numbers:
        raise UserError(f"analysis.species: {species!r} is not an element symbol")
    mask = np.asarray(numbers) == atomic_numbers[species]
    if not mask.any():
        raise UserError(f"analysis.species: no {species} atoms in the structure")
    return mask


def posterior_seed(seed: int, temperature_K: float, subset: str) -> int:
    """Seed of the posterior draws of D for one temperature and atom subset ('tracer', 'collective',
    'gb_parallel', 'gb_perpendicular', 'bulk_region') of an analysis task with task seed ``seed``."""
    return (int(seed) + zlib.crc32(f"T{temperature_K:g}/{subset}".encode())) % 2 ** 32


# (subset, result prefix, components): the GB-resolved diffusivities of a GB cell
_GB_SETS = (("gb_parallel", "gb/D_parallel", (0, 1)), ("gb_perpendicular", "gb/D_perpendicular", (2,)),
            ("bulk_region", "gb/D_bulk_region", (0, 1, 2)))
_GB_SLAB_KEYS = ("gb_parallel", "gb_perpendicular")


def run_diffusion(params: dict, deps: dict, comm, workdir: Path) -> Result:
    an = params["analysis"]
    runs = sorted(((float(r.get_attrs("").get("temperature_K")), tid, r) for tid, r in deps.items()
                   if tid.startswith("md/")), key=lambda x: x[0])
    if not runs:
        raise ValueError("diffusion analysis without MD runs")
    out = Result()
    seed = int(params.get("seed", 0))
    charge = float(an.get("charge_e", 1))  # formal charge of the diffusing ion (Nernst-Einstein)
    n_blocks = int(an["n_blocks"])
    rows: dict[str, list] = {}

    def put(key, value):
        rows.setdefault(key, []).append(value)

    def estimate(key, xs, dt, start, end, T, comps=(0, 1, 2), collective=False):
        """kinisi D of ``xs`` (the reported value) and the block estimate (cross-check) into rows[key...]."""
        if xs.shape[1] == 0:
            for suffix in ("", "_err", "_ci95", "_block_mean", "_block_sem"):
                put(key + suffix, np.full(2, np.nan) if suffix == "_ci95" else np.nan)
            return None
        xk = xs.sum(axis=1, keepdims=True) / np.sqrt(xs.shape[1]) if collective else xs
        # the GB slab's atoms are chosen by staying in it: their MSD across it is bounded by construction
        # (and often along it, for the few atoms of a thin slab), so kinisi's covariance model never fits it.
        # Their D is kept as before and the problem reported; whole-cell and bulk D are refused instead.
        confined = key in _GB_SLAB_KEYS
        res = diffusivity_bayes(xk, dt, fit_start_ps=start, fit_end_ps=end, components=comps,
                                seed=posterior_seed(seed, T, key), refuse_improper=not confined)
        if confined and res["covariance_problem"]:
            put(key + "_covariance_problem", f"{T:g} K: {res['covariance_problem']}")
        if res["fit_problem"]:
            log.warning("diffusion %s at %g K (%s): no D: %s; this temperature is left out of the fits",
                        params["structure"], T, key, res["fit_problem"])
            put(key + "_fit_problem", f"{T:g} K: {res['fit_problem']}")
        blk = diffusivity(xk, dt, fit_start_ps=start, fit_end_ps=end, n_blocks=n_blocks, components=comps)
        put(key, res["D_m2_per_s"])
        put(key + "_err", res["D_err_m2_per_s"])
        put(key + "_ci95", res["D_ci95_m2_per_s"])
        put(key + "_block_mean", blk["D_m2_per_s"])
        put(key + "_block_sem", blk["D_err_m2_per_s"])
        return res, blk

    is_gb = False
    for T, tid, r in runs:
        t = np.asarray(r.get("time_ps"), float)
        dt = float(t[1] - t[0])
        if not np.allclose(np.diff(t), dt, rtol=1e-6, atol=1e-9):
            raise ValueError(f"{tid}: time_ps is not uniformly sampled")
        x = np.asarray(r.get("trajectory/positions_A"), float)
        mask = _species_mask(r.get("trajectory/numbers"), an["species"])
        block_ps = block_length_ps(len(t), dt, n_blocks)
        fit_end = an.get("fit_end_ps") or 0.5 * block_ps
        start = an.get("fit_start_ps")
        start = 0.2 * block_ps if start is None else float(start)
        if not start < fit_end <= block_ps + 1e-9:
            raise UserError(f"analysis.fit_start_ps/fit_end_ps: the window [{start:g}, {fit_end:g}] ps must lie inside "
                            f"a block of {block_ps:g} ps (md.production_ps / analysis.n_blocks)")
        xs = x[:, mask]
        res, blk = estimate("tracer", xs, dt, start, fit_end, T)
        vol = float(abs(np.linalg.det(np.asarray(r.get("trajectory/cell_A"), float))))
        H = float(an.get("haven_ratio", 1.0))
        put("sigma", conductivity_mS_per_cm(res["D_m2_per_s"], T, int(mask.sum()), vol, haven_ratio=H, charge=charge))
        p = f"msd/T{T:g}"
        out.add(f"{p}/lag_ps", res["lag_ps"], "ps", note="lags 0 .. fit_end_ps")
        out.add(f"{p}/msd_A2", res["msd_A2"], "Angstrom^2", columns="x y z",
                note="all time origins of the whole run, mean over the atoms, per Cartesian component")
        out.add(f"{p}/msd_var_A4", res["msd_var_A4"], "Angstrom^4",
                note="kinisi's variance of the x+y+z MSD (NaN at lag 0); its covariance model weights the fit")
        out.set_attrs(p, fit_start_ps=res["fit_start_ps"], fit_end_ps=res["fit_end_ps"], temperature_K=T,
                      slope_A2_per_ps=res["slope_A2_per_ps"], intercept_A2=res["intercept_A2"], dimensionality=3,
                      D_m2_per_s=res["D_m2_per_s"], posterior_seed=posterior_seed(seed, T, "tracer"),
                      note="fit: MSD = intercept_A2 + slope_A2_per_ps * lag over [fit_start_ps, fit_end_ps]; "
                           "D = slope / (2 dimensionality) (posterior means, kinisi)")
        out.add(f"D_blocks/T{T:g}", blk["D_blocks_m2_per_s"], "m^2/s",
                note="cross-check only: ordinary least-squares D of each of analysis.n_blocks blocks")
        put("msd", msd_at_lag_A2(res["lag_ps"], res["msd_A2"], fit_end))
        put("T", T)
        fw = r.get_attrs("framework") if "framework/host_displacement_A" in r else {}
        put("stable", bool(fw.get("framework_stable", True)))
        put("host_disp", float(fw.get("host_displacement_A", np.nan)))
        if an.get("collective"):
            estimate("collective", xs, dt, start, fit_end, T, collective=True)
        if params.get("li_sites") and "jumps_problem" not in rows:
            _jumps(put, rows, xs, np.asarray(r.get("trajectory/cell_A"), float), dt, params["li_sites"], T,
                   params["structure"])
        if "gb/plane_z_A" in r:
            is_gb = True
            frac = gb_membership(xs, np.asarray(r.get("gb/plane_z_A"), float), float(np.asarray(r.get("gb/period_A"))),
                                 float(an["gb_width_A"]))
            in_gb = frac >= 0.5
            put("ngb", int(in_gb.sum()))
            for key, _, comps in _GB_SETS:
                sel = ~in_gb if key == "bulk_region" else in_gb
                estimate(key, xs[:, sel], dt, start, fit_end, T, comps)
            _layered_gb(put, rows, estimate, xs, dt, start, fit_end, T, res, frac, r, float(an["gb_width_A"]),
                        posterior_seed(seed, T, "layered"))

    def add_set(prefix, key, note):
        out.add(f"{prefix}_m2_per_s", np.array(rows[key]), "m^2/s",
                note=f"{note}; kinisi: posterior mean of the Bayesian MSD regression")
        out.add(f"{prefix}_err_m2_per_s", np.array(rows[key + "_err"]), "m^2/s", note="posterior standard deviation")
        out.add(f"{prefix}_ci95_m2_per_s", np.array(rows[key + "_ci95"]), "m^2/s", columns="2.5% 97.5%",
                note="95 % credible interval (posterior percentiles)")
        out.add(f"{prefix}_block_mean_m2_per_s", np.array(rows[key + "_block_mean"]), "m^2/s",
                note="cross-check only: mean of the analysis.n_blocks blocks' least-squares D")
        out.add(f"{prefix}_block_sem_m2_per_s", np.array(rows[key + "_block_sem"]), "m^2/s",
                note="cross-check only: standard error of that mean (no t-factor; under-covers)")

    out.add("temperatures_K", np.array(rows["T"]), "K")
    problems = [p for k, v in rows.items() if k.endswith("_fit_problem") for p in v]
    if problems:
        out.set_attrs("", fit_problems="; ".join(problems)[:2000])
    confined = [f"{k.removesuffix('_covariance_problem')} {p}" for k, v in rows.items()
                if k.endswith("_covariance_problem") for p in v]
    if confined:
        out.set_attrs("", gb_slab_covariance_problems="; ".join(confined)[:2000])
    add_set("D", "tracer", f"tracer diffusivity of {an['species']}")
    out.add("sigma_mS_per_cm", np.array(rows["sigma"]), "mS/cm",
            note=f"Nernst-Einstein for {an['species']} (charge {charge:+g} e) with Haven ratio {an.get('haven_ratio', 1.0)}")
    diffusive = is_diffusive(rows["msd"])
    out.add("msd_fit_end_A2", np.array(rows["msd"]), "Angstrom^2",
            note=f"{an['species']} MSD (whole run, x+y+z) at the end of the fit window")
    out.add("diffusive", diffusive, "1", note=f"MSD at the fit end >= {MIN_DIFFUSIVE_MSD_A2:g} A^2 (a few hops)")
    out.set_attrs("diffusive", min_msd_A2=MIN_DIFFUSIVE_MSD_A2, species=an["species"])
    out.add("framework_stable", np.array(rows["stable"], bool), "1",
            note="the host framework stayed in place (md.max_host_displacement_A); unstable temperatures are never fitted")
    out.add("host_displacement_A", np.array(rows["host_disp"]), "Angstrom",
            note="largest host framework displacement of each run (md/framework.py; NaN: not recorded)")
    for T, m, d in zip(rows["T"], rows["msd"], diffusive):
        if not d:
            log.warning("diffusion %s at %g K: %s MSD at the fit end %.3g A^2 < %g A^2: not diffusive (the slope is "
                        "vibration and noise; run longer or hotter)", params["structure"], T, an["species"], m,
                        MIN_DIFFUSIVE_MSD_A2)
    if "jump_counts" in rows:
        _add_jumps(out, rows)
    elif "jumps_problem" in rows:
        out.set_attrs("", jumps_problem=rows["jumps_problem"][0])
    if an.get("collective"):
        add_set("D_collective", "collective", f"collective (charge) diffusivity of {an['species']}")
        out.add("haven_ratio", np.array(rows["tracer"]) / np.array(rows["collective"]), "1",
                note="D_tracer / D_collective")
    if is_gb:
        add_set("gb/D_parallel", "gb_parallel", "in-plane MSD of GB-slab atoms (d=2)")
        add_set("gb/D_perpendicular", "gb_perpendicular", "normal MSD of GB-slab atoms (d=1)")
        add_set("gb/D_bulk_region", "bulk_region", "atoms mostly outside the GB slabs")
        out.add("gb/n_gb_atoms", np.array(rows["ngb"]), "1",
                note=f"{an['species']} atoms at least half of the samples within gb_width_A/2 of a GB plane")
        add_set("gb/D_cell_normal", "cell_normal", "normal MSD of all the cell's ions (d=1), across the GB planes")
        add_set("gb/D_cell_inplane", "cell_inplane", "in-plane D of all the cell's ions, along the GB planes, "
                "(3 D - D_cell_normal) / 2 from the 3-d and the normal fit (error and interval: as if independent, "
                "an upper bound)")
        for kind, what in (("perpendicular", "across"), ("parallel", "along")):
            out.add(f"gb/D_{kind}_layered_m2_per_s", np.array(rows[f"lay_{kind}"]), "m^2/s",
                    note=f"the GB's own D {what} its plane from the whole cell's D and the bulk region's "
                         "(analysis/layered.py: Lifson-Jackson / ion-weighted mean of a layered medium); NaN: the data "
                         "admit no positive value")
            out.add(f"gb/D_{kind}_layered_err_m2_per_s", np.array(rows[f"lay_{kind}_err"]), "m^2/s",
                    note="standard deviation over normal draws of the three input diffusivities")
        out.add("gb/volume_fraction", np.array(rows["lay_phi"]), "1",
                note="GB slabs' share of the cell (n_planes gb_width_A / period)")
        out.add("gb/ion_fraction", np.array(rows["lay_a"]), "1",
                note=f"share of the {an['species']} ions' time within the GB slabs")
        out.add("gb/crossing_ratio", np.array(rows["lay_cross"]), "1",
                note=f"normal MSD at the fit start over the period squared: the layered law holds above "
                     f"{MIN_CROSSING_RATIO:g} (ions cross periods); below it the perpendicular value is biased "
                     "towards the arithmetic mean")
    vol = float(abs(np.linalg.det(np.asarray(runs[0][2].get("trajectory/cell_A"), float))))
    n_car = int(_species_mask(runs[0][2].get("trajectory/numbers"), an["species"]).sum())
    out.set_attrs("", structure=params["structure"], material=params.get("material", ""), is_gb=is_gb,
                  n_diffusive=int(diffusive.sum()),
                  species=an["species"], charge_e=charge, n_carriers=n_car, volume_A3=vol,
                  haven_ratio=float(an.get("haven_ratio", 1.0)), seed=seed,
                  estimator=params.get("estimator", ESTIMATOR))
    log.info("diffusion %s: D = %s m^2/s at T = %s K", params["structure"],
             ", ".join(f"{d:.3g}" for d in rows["tracer"]), ", ".join(f"{t:g}" for t in rows["T"]))
    return out


def _jumps(put, rows, xs, cell_A, dt, sites: dict, T: float, structure: str) -> None:
    """Li jumps of one run on the 48h lattice (analysis/jumps.py) into ``rows``; where the ions are not
    on that lattice the reason goes to ``rows['jumps_problem']`` and no run of the task gets jumps."""
    try:
        st = jump_statistics(xs, cell_A, dt, sites["supercell"], sites.get("halide", "Cl"))
    except ValueError as exc:
        log.warning("diffusion %s at %g K: no jump analysis: %s", structure, T, exc)
        rows["jumps_problem"] = [f"{T:g} K: {exc}"]
        for key in [k for k in rows if k.startswith("jump_")]:
            del rows[key]
        return
    put("jump_counts", st["counts"])
    put("jump_rate", st["rate_per_ps"])
    put("jump_rate_err", st["rate_err_per_ps"])
    put("jump_D_cage", st["D_cage_m2_per_s"])
    put("jump_D_cage_err", st["D_cage_err_m2_per_s"])
    put("jump_on_site", st["fraction_on_site"])
    rows["jump_cage_distance"] = [st["cage_distance_A"]]
    log.info("diffusion %s at %g K: Li jumps per ion and ps: %s; D of the cage walk %.3g m^2/s", structure, T,
             ", ".join(f"{k} {v:.3g}" for k, v in zip(JUMP_KINDS, st["rate_per_ps"])), st["D_cage_m2_per_s"])


def _add_jumps(out: Result, rows: dict) -> None:
    kinds = " ".join(JUMP_KINDS)
    out.add("jumps/counts", np.array(rows["jump_counts"], dtype=np.int64), "1", columns=kinds,
            note="Li site changes on the 48h lattice per temperature and kind (analysis/jumps.py)")
    out.add("jumps/rate_per_ps", np.array(rows["jump_rate"]), "1/ps", columns=kinds,
            note="jumps per Li ion and ps of production")
    out.add("jumps/rate_err_per_ps", np.array(rows["jump_rate_err"]), "1/ps", columns=kinds,
            note="Poisson: sqrt(count) / (ions x time)")
    out.add("jumps/D_cage_m2_per_s", np.array(rows["jump_D_cage"]), "m^2/s",
            note="random walk of the cage changes: intercage rate x cage_distance_A^2 / 6 (uncorrelated jumps)")
    out.add("jumps/D_cage_err_m2_per_s", np.array(rows["jump_D_cage_err"]), "m^2/s", note="from the Poisson error")
    d_cage = np.array(rows["jump_D_cage"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d_cage > 0, np.array(rows["tracer"]) / d_cage, np.nan)
    out.add("jumps/D_over_D_cage", ratio, "1",
            note="tracer D (kinisi) / D_cage: 1 where uncorrelated intercage jumps carry the diffusion, below 1 with "
                 "back jumps; NaN: no intercage jump")
    out.add("jumps/fraction_on_site", np.array(rows["jump_on_site"]), "1",
            note=f"share of Li ion-frames within {JUMP_CORE_RADIUS_A:g} A of a 48h site")
    out.set_attrs("jumps", kinds=kinds, core_radius_A=JUMP_CORE_RADIUS_A,
                  cage_distance_A=float(rows["jump_cage_distance"][0]))


def _layered_gb(put, rows, estimate, xs, dt, start, fit_end, T, tracer, frac, run, width_A: float, seed: int):
    """The GB's own diffusivities of one run of a GB cell from all its ions (analysis/layered.py): the
    cell's normal and in-plane D (kinisi, every ion: no selection by residence), the bulk region's D,
    the GB volume and ion fractions into ``rows``."""
    planes = np.asarray(run.get("gb/plane_z_A"), float)
    period = float(np.asarray(run.get("gb/period_A")))
    estimate("cell_normal", xs, dt, start, fit_end, T, (2,))
    # in-plane from the 3-d tracer fit of the same ions, D = (2 D_inplane + D_normal) / 3: one kinisi fit
    # less; the two are positively correlated, so the error taken as if independent is an upper bound
    for suffix in ("", "_block_mean"):
        put(f"cell_inplane{suffix}", 0.5 * (3.0 * rows[f"tracer{suffix}"][-1] - rows[f"cell_normal{suffix}"][-1]))
    for suffix in ("_err", "_block_sem"):
        put(f"cell_inplane{suffix}", 0.5 * float(np.hypot(3.0 * rows[f"tracer{suffix}"][-1],
                                                           rows[f"cell_normal{suffix}"][-1])))
    lo_hi = 3.0 * np.asarray(rows["tracer_ci95"][-1]) - np.asarray(rows["cell_normal_ci95"][-1])[::-1]
    put("cell_inplane_ci95", 0.5 * lo_hi)
    phi, a_g = gb_volume_fraction(planes, period, width_A), float(np.mean(frac))
    if 0.0 < phi < 1.0 and 0.0 < a_g < 1.0:
        lay = layered_gb_with_errors(rows["cell_normal"][-1], rows["cell_normal_err"][-1], rows["cell_inplane"][-1],
                                     rows["cell_inplane_err"][-1], rows["bulk_region"][-1],
                                     rows["bulk_region_err"][-1], phi, a_g, seed=seed)
    else:
        lay = {k: np.nan for k in ("perpendicular", "perpendicular_err", "parallel", "parallel_err")}
    for kind in ("perpendicular", "parallel"):
        put(f"lay_{kind}", lay[kind])
        put(f"lay_{kind}_err", lay[f"{kind}_err"])
    put("lay_phi", phi)
    put("lay_a", a_g)
    msd_z = np.asarray(tracer["msd_A2"], float)[:, 2]
    put("lay_cross", crossing_ratio(float(np.interp(start, tracer["lag_ps"], msd_z)), period))


def _fit_into(out: Result, prefix: str, T, D, De, *, n_carriers: int, volume_A3: float, haven_ratio: float,
              charge_e: float = 1.0, diffusive=None, framework_stable=None) -> str:
    """Arrhenius fit of (T, D, De) stored below ``prefix``; returns '' or why there is no fit.

    ``diffusive`` (bool per T, from the diffusion analysis): with at least
    ``MIN_DIFFUSIVE_TEMPERATURES`` diffusive points the fit uses only those (attr ``fit_quality``
    'ok'); with fewer it uses every positive D and is flagged ``fit_quality`` 'unreliable' with
    ``fit_quality_reason``. ``diffusive`` (dataset) and ``used_in_fit`` record the points.
    ``framework_stable`` (bool per T, from the MD runs) counts like ``diffusive``: a temperature whose
    host framework melted or transformed is left out of an 'ok' fit; with fewer than
    ``MIN_DIFFUSIVE_TEMPERATURES`` usable points every positive D is fitted and the fit is
    'unreliable', its reason naming the unstable temperatures."""
    T, D, De = (np.asarray(v, float) for v in (T, D, De))
    ok = np.isfinite(D) & (D > 0)
    diff = np.ones(len(T), bool) if diffusive is None else np.asarray(diffusive, bool)
    stable = np.ones(len(T), bool) if framework_stable is None else np.asarray(framework_stable, bool)
    reliable, reason = fit_quality(diff & stable, ok)
    if reliable:
        ok = ok & diff & stable
    if not stable.all():
        reason += (f"; the host framework melted or transformed (md.max_host_displacement_A) at "
                   f"{', '.join(f'{t:g} K' for t in T[~stable])}" + (", left out" if reliable else ""))
    out.add(f"{prefix}/temperatures_K", T, "K")
    out.add(f"{prefix}/D_m2_per_s", D, "m^2/s")
    out.add(f"{prefix}/D_err_m2_per_s", De, "m^2/s")
    out.add(f"{prefix}/diffusive", diff, "1", note="MSD at the fit end above the diffusive threshold")
    out.add(f"{prefix}/framework_stable", stable, "1", note="host framework in place (md.max_host_displacement_A)")
    out.add(f"{prefix}/used_in_fit", ok, "1")
    out.set_attrs(prefix, fit_quality="ok" if reliable else "unreliable", fit_quality_reason=reason,
                  n_diffusive=int((diff & np.isfinite(D) & (D > 0)).sum()))
    if ok.sum() < 2:
        why = f"{int(ok.sum())} temperature(s) with a positive diffusivity; an Arrhenius fit needs 2"
        out.set_attrs(prefix, no_fit=why)
        return why
    errs = De[ok] if np.all(np.isfinite(De[ok]) & (De[ok] > 0)) else None
    f = arrhenius_fit(T[ok], D[ok], errs)
    d300, d300e = f["predict"](300.0)
    out.add(f"{prefix}/Ea_eV", f["Ea_eV"], "eV")
    out.add(f"{prefix}/Ea_eV_err", f["Ea_eV_err"], "eV")
    out.add(f"{prefix}/D0_m2_per_s", f["D0_m2_per_s"], "m^2/s")
    out.add(f"{prefix}/D0_m2_per_s_err", f["D0_m2_per_s_err"], "m^2/s")
    out.add(f"{prefix}/cov_lnD0_Ea", f["cov"], "1, eV", note="covariance of (ln D0, Ea)")
    out.add(f"{prefix}/D_300K_m2_per_s", float(d300), "m^2/s", note="Arrhenius extrapolation")
    out.add(f"{prefix}/D_300K_m2_per_s_err", float(d300e), "m^2/s")
    out.add(f"{prefix}/sigma_300K_mS_per_cm",
            float(conductivity_mS_per_cm(d300, 300.0, n_carriers, volume_A3, haven_ratio, charge=charge_e)), "mS/cm")
    out.set_attrs(prefix, weighted=bool(f["weighted"]), chi2=f["chi2"], dof=f["dof"], error_scale=f["error_scale"],
                  n_temperatures=int(ok.sum()))
    return ""


def _jump_rate_fits(out: Result, prefix: str, r: Result, framework_stable) -> None:
    """Arrhenius fits of the jump rates of one analysis (``jumps/rate_per_ps``, per kind) below
    ``prefix``/<kind>: ``Ea_eV`` (+ ``_err``), ``rate0_per_ps``, the points and ``used_in_fit`` (a
    temperature with no jump of the kind, or whose framework was not stable, is left out)."""
    T = np.asarray(r.get("temperatures_K"), float)
    rate, err = np.asarray(r.get("jumps/rate_per_ps"), float), np.asarray(r.get("jumps/rate_err_per_ps"), float)
    stable = np.ones(len(T), bool) if framework_stable is None else np.asarray(framework_stable, bool)
    for k, kind in enumerate(JUMP_KINDS):
        p = f"{prefix}/{kind}"
        ok = stable & (rate[:, k] > 0)
        out.add(f"{p}/temperatures_K", T, "K")
        out.add(f"{p}/rate_per_ps", rate[:, k], "1/ps", note="jumps per Li ion and ps (analysis jumps/rate_per_ps)")
        out.add(f"{p}/rate_err_per_ps", err[:, k], "1/ps")
        out.add(f"{p}/used_in_fit", ok, "1", note="a jump counted and the framework stable")
        if ok.sum() < 2:
            out.set_attrs(p, no_fit=f"{int(ok.sum())} temperature(s) with a {kind} jump; an Arrhenius fit needs 2")
            continue
        f = arrhenius_fit(T[ok], rate[ok, k], err[ok, k])
        out.add(f"{p}/Ea_eV", f["Ea_eV"], "eV", note=f"Arrhenius energy of the {kind} jump rate")
        out.add(f"{p}/Ea_eV_err", f["Ea_eV_err"], "eV")
        out.add(f"{p}/rate0_per_ps", f["D0_m2_per_s"], "1/ps", note="prefactor of the rate")
        out.set_attrs(p, chi2=f["chi2"], dof=f["dof"], error_scale=f["error_scale"], n_temperatures=int(ok.sum()))


def run_arrhenius(params: dict, deps: dict, comm, workdir: Path) -> Result:
    out = Result()
    analyses = sorted((tid, r) for tid, r in deps.items() if tid.startswith("analysis/"))
    chosen: dict[str, tuple] = {}
    notes = []
    for tid, r in analyses:
        a = r.get_attrs("")
        name = a.get("structure", tid.rsplit("/", 1)[-1])
        kw = {"n_carriers": int(a.get("n_carriers", 1)), "volume_A3": float(a.get("volume_A3", 1.0)),
              "haven_ratio": float(a.get("haven_ratio", 1.0)), "charge_e": float(a.get("charge_e", 1.0))}
        T = r.get("temperatures_K")
        kw["diffusive"] = r.get("diffusive") if "diffusive" in r.datasets else None
        kw["framework_stable"] = r.get("framework_stable") if "framework_stable" in r.datasets else None
        sets = {"tracer": (r.get("D_m2_per_s"), r.get("D_err_m2_per_s"))}
        if bool(a.get("is_gb")):
            sets["gb_parallel"] = (r.get("gb/D_parallel_m2_per_s"), r.get("gb/D_parallel_err_m2_per_s"))
            sets["gb_perpendicular"] = (r.get("gb/D_perpendicular_m2_per_s"), r.get("gb/D_perpendicular_err_m2_per_s"))
            sets["bulk_region"] = (r.get("gb/D_bulk_region_m2_per_s"), r.get("gb/D_bulk_region_err_m2_per_s"))
            for k in ("perpendicular", "parallel"):
                if f"gb/D_{k}_layered_m2_per_s" in r.datasets:  # archives analysed before have none
                    sets[f"gb_{k}_layered"] = (r.get(f"gb/D_{k}_layered_m2_per_s"),
                                               r.get(f"gb/D_{k}_layered_err_m2_per_s"))
        for k, (D, De) in sets.items():
            why = _fit_into(out, f"structures/{name}/{k}", T, D, De, **kw)
            if why:
                notes.append(f"{name} {k}: {why}")
        if "jumps/rate_per_ps" in r.datasets:
            _jump_rate_fits(out, f"structures/{name}/jumps", r, kw["framework_stable"])
        if bool(a.get("is_gb")):
            for k in ("gb_parallel", "gb_perpendicular"):
                chosen.setdefault(k, (name, k, T, *sets[k], kw))
            chosen.setdefault("_bulk_from_gb", (name, "bulk_region", T, *sets["bulk_region"], kw))
        else:
            chosen.setdefault("bulk", (name, "tracer", T, *sets["tracer"], kw))
    if "bulk" not in chosen and "_bulk_from_gb" in chosen:
        chosen["bulk"] = chosen["_bulk_from_gb"]
    chosen.pop("_bulk_from_gb", None)
    for kind, (name, src, T, D, De, kw) in chosen.items():
        why = _fit_into(out, f"fits/{kind}", T, D, De, **kw)
        out.set_attrs(f"fits/{kind}", source=f"analysis of {name} ({src})")
        if why:
            notes.append(f"fits/{kind}: {why}")
        elif out.get_attrs(f"fits/{kind}").get("fit_quality") != "ok":
            notes.append(f"fits/{kind} unreliable: {out.get_attrs(f'fits/{kind}')['fit_quality_reason']}")
    out.set_attrs("", material=params.get("material", ""), notes="; ".join(notes))
    for n in notes:
        log.warning("arrhenius %s: %s", params.get("material", ""), n)
    return out
