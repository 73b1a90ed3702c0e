"""``fe_sweep`` task: D_eff(T) of one polycrystal mesh, sigma_eff, apparent activation energy."""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from argyro_run.errors import UserError
from argyro_run.fe.polycrystal import PolycrystalSolver
from argyro_run.results import Result

log = logging.getLogger(__name__)

K_B_eV_per_K = 8.617333262e-5
E_C = 1.602176634e-19
K_B_J_per_K = 1.380649e-23
KINDS = ("bulk", "gb_parallel", "gb_perpendicular")


def arrhenius_D(D0_m2_per_s: float, Ea_eV: float, temperature_K) -> np.ndarray:
    return D0_m2_per_s * np.exp(-Ea_eV / (K_B_eV_per_K * np.asarray(temperature_K, float)))


def nernst_einstein_mS_per_cm(D_m2_per_s, *, temperature_K, carrier_density_per_nm3: float) -> np.ndarray:
    """sigma = n e^2 D / (k_B T) for unit charge carriers, in mS/cm (1 S/m = 10 mS/cm)."""
    n = carrier_density_per_nm3 * 1e27
    return n * E_C ** 2 * np.asarray(D_m2_per_s) / (K_B_J_per_K * np.asarray(temperature_K, float)) * 10.0


def apparent_activation_energy(temperature_K, D_m2_per_s):
    """Ea_app(T) = -k_B d ln D / d(1/T) (second-order finite differences on the grid, sorted by T)
    and the curvature d^2 ln D / d(1/T)^2 in K^2 (0 for Arrhenius; NaN with < 3 temperatures)."""
    T = np.asarray(temperature_K, float)
    lnD = np.log(np.asarray(D_m2_per_s, float))
    if len(T) < 2:
        return np.full(len(T), np.nan), np.full(len(T), np.nan)
    x = 1.0 / T
    o = np.argsort(x)
    slope = np.empty(len(T))
    slope[o] = np.gradient(lnD[o], x[o])
    curv = np.full(len(T), np.nan)
    if len(T) >= 3:
        curv[o] = np.gradient(slope[o], x[o])
    return -K_B_eV_per_K * slope, curv


def _diffusivity_inputs(fe: dict, deps: dict) -> tuple[dict, str]:
    if fe.get("bulk"):
        src = {k: fe[k] for k in KINDS if fe.get(k)}
        origin = "input"
    else:
        arr = [r for tid, r in sorted(deps.items()) if tid.startswith("arrhenius/")]
        if not arr:
            raise UserError("fe.bulk: no explicit diffusivities and no Arrhenius results to take them from")
        r = arr[0]
        src = {}
        for k in KINDS:
            if f"fits/{k}/D0_m2_per_s" in r and f"fits/{k}/Ea_eV" in r:
                src[k] = {"D0_m2_per_s": float(np.asarray(r.get(f"fits/{k}/D0_m2_per_s"))),
                          "Ea_eV": float(np.asarray(r.get(f"fits/{k}/Ea_eV")))}
        if "bulk" not in src:
            raise UserError("fe: the Arrhenius result has no fits/bulk; give fe.bulk explicitly")
        origin = "md"
    missing = [k for k in KINDS if k not in src]
    for k in missing:
        src[k] = dict(src["bulk"])
    return src, origin + (f" (bulk values used for {', '.join(missing)})" if missing else "")


def run_fe_sweep(params: dict, deps: dict, comm, workdir: pathlib.Path) -> Result:
    fe = params["fe"]
    micro_ids = [t for t in deps if t.startswith("microstructure/")]
    if not micro_ids:
        raise UserError("fe: needs a [microstructure] mesh")
    mres = deps[micro_ids[0]]
    src, origin = _diffusivity_inputs(fe, deps)
    T = np.asarray(fe.get("temperatures_K", [300.0]), float)
    degree = int(fe.get("element_degree", 1))
    rtol = float(fe.get("solver_rtol", 1e-10))
    bc = fe.get("bc", "periodic")
    if bc not in ("periodic", "electrode"):
        raise UserError(f"fe.bc: {bc!r}; allowed: periodic, electrode")
    mattrs = mres.get_attrs("")
    try:
        solver = PolycrystalSolver(mres, comm, degree=degree, rtol=rtol, bc=bc)
    except ValueError as exc:
        raise UserError(f"fe: {exc}") from None
    dim = solver.dim
    g = float(params.get("grain_size_nm") or mattrs.get("grain_size_nm"))
    delta = float(params.get("gb_thickness_nm") or mattrs.get("gb_thickness_nm"))
    D = {k: arrhenius_D(src[k]["D0_m2_per_s"], src[k]["Ea_eV"], T) for k in KINDS}
    Deff = np.zeros((len(T), dim, dim))
    for i in range(len(T)):
        s = D["bulk"][i]  # solve in units of D_bulk(T)
        try:
            Deff[i] = s * solver.D_eff(grain_size_nm=g, gb_thickness_nm=delta, D_bulk=1.0,
                                       D_gb_parallel=D["gb_parallel"][i] / s,
                                       D_gb_perpendicular=D["gb_perpendicular"][i] / s)
        except ValueError as exc:
            raise UserError(f"fe (grain size {g} nm, {T[i]} K): {exc}") from None
        log.info("T=%g K: D_eff diag %s m2/s", T[i], np.diag(Deff[i]))
    Dmean = np.trace(Deff, axis1=1, axis2=2) / dim
    n = float(fe.get("carrier_density_per_nm3", 25.0))
    ea, curv = apparent_activation_energy(T, Dmean)
    res = Result()
    res.add("temperatures_K", T, "K")
    for k in KINDS:
        res.add(f"inputs/{k}/D_m2_per_s", D[k], "m^2/s", D0_m2_per_s=src[k]["D0_m2_per_s"], Ea_eV=src[k]["Ea_eV"])
    res.add("D_eff_m2_per_s", Deff, "m^2/s", description="effective tensor per temperature")
    res.add("D_eff_mean_m2_per_s", Dmean, "m^2/s", description="trace / dimension")
    res.add("sigma_eff_mS_per_cm", nernst_einstein_mS_per_cm(Dmean, temperature_K=T, carrier_density_per_nm3=n),
            "mS/cm", carrier_density_per_nm3=n, description="Nernst-Einstein, Haven ratio 1")
    res.add("Ea_app_eV", ea, "eV", description="-k_B d ln D_eff_mean / d(1/T), finite differences")
    res.add("curvature_K2", curv, "K^2", description="d^2 ln D_eff_mean / d(1/T)^2 (0 for Arrhenius)")
    res.set_attrs("", diffusivity_source=origin, bc=bc, element_degree=degree, solver_rtol=rtol,
                  grain_size_nm=g, gb_model=solver.gb_model,
                  microstructure=micro_ids[0])
    return res
