"""``fe_sweep`` task (``fe/<case>``): D_eff(T, d) of one polycrystal case over the temperatures and
grain sizes of the sweep, sigma_eff, apparent activation energy, crossover grain size, and where
each diffusivity came from (see docs/fe.md, "Cases", and docs/archive.md)."""

from __future__ import annotations

import logging
import pathlib

import numpy as np

from argyro_run.analysis.diffusion import K_B_EV, conductivity_mS_per_cm
from argyro_run.errors import UserError
from argyro_run.fe.cases import (
    DEFAULT_CARRIER_DENSITY_PER_NM3,
    DEFAULT_CARRIER_SOURCE,
    GB_KINDS,
    assign_gb_models,
    crossover_grain_size,
    mobile_ion_density_per_nm3,
)
from argyro_run.results import Result, get_atoms
from argyro_run.structures.ions import DEFAULT_MOBILE_ION

log = logging.getLogger(__name__)

K_B_eV_per_K = K_B_EV  # the analysis owns the physical constants
KINDS = ("bulk", "gb_parallel", "gb_perpendicular")


def arrhenius_D(D0_m2_per_s: float, Ea_eV: float, temperature_K) -> np.ndarray:
    return D0_m2_per_s * np.exp(-Ea_eV / (K_B_eV_per_K * np.asarray(temperature_K, float)))


def nernst_einstein_mS_per_cm(D_m2_per_s, *, temperature_K, carrier_density_per_nm3: float,
                              charge: int = 1) -> np.ndarray:
    """sigma = n (z e)^2 D / (k_B T) in mS/cm, Haven ratio 1: the analysis' Nernst-Einstein
    (``conductivity_mS_per_cm``) with the density per nm^3 (= 1000 A^3)."""
    return conductivity_mS_per_cm(D_m2_per_s, np.asarray(temperature_K, float), carrier_density_per_nm3, 1000.0,
                                  charge=charge)


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


def case_laws(case: dict, deps: dict) -> dict[str, dict]:
    """Per kind the Arrhenius law(s) a case uses: ``{"D0_m2_per_s": (n,), "Ea_eV": (n,),
    "models": [n names], "source": text}`` with n = 1 for an input law or the bulk, n = number of
    GB models for an MD-derived GB kind (one law per model, in ``case["gb"]`` order), and
    ``cov_lnD0_Ea`` (n, 2, 2): each MD law's fit covariance of (ln D0, Ea) (NaN for an input law,
    which carries no uncertainty)."""
    out = {}
    for kind in KINDS:
        src = case["sources"][kind]
        if "input" in src:
            law = src["input"]
            out[kind] = {"D0_m2_per_s": np.array([law["D0_m2_per_s"]]), "Ea_eV": np.array([law["Ea_eV"]]),
                         "models": ["input"], "source": src["source"], "cov_lnD0_Ea": np.full((1, 2, 2), np.nan)}
            continue
        d0, ea, names, cov = [], [], [], []
        for f in src["md"]:
            r = deps.get(f["task"])
            p = f["fit"]
            if r is None or f"{p}/D0_m2_per_s" not in r or f"{p}/Ea_eV" not in r:
                why = "" if r is None else r.get_attrs(p).get("no_fit", "")
                raise UserError(f"fe case {case['name']}: no Arrhenius fit {p} in {f['task']} for the {kind} diffusivity "
                                f"of {f['structure']}" + (f" ({why})" if why else "")
                                + f"; give fe.{kind} explicitly or fix the MD (more temperatures, longer runs)")
            d0.append(float(np.asarray(r.get(f"{p}/D0_m2_per_s"))))
            ea.append(float(np.asarray(r.get(f"{p}/Ea_eV"))))
            names.append(f["structure"])
            cov.append(np.asarray(r.get(f"{p}/cov_lnD0_Ea"), float) if f"{p}/cov_lnD0_Ea" in r
                       else np.full((2, 2), np.nan))
        out[kind] = {"D0_m2_per_s": np.array(d0), "Ea_eV": np.array(ea), "models": names, "source": src["source"],
                     "cov_lnD0_Ea": np.array(cov)}
    return out


def law_sigma_lnD(cov_lnD0_Ea, temperature_K) -> np.ndarray:
    """(n_models, n_T) standard deviation of ln D(T) = ln D0 - Ea / (k_B T) from each law's fit
    covariance of (ln D0, Ea) (first order; NaN where the covariance is unknown)."""
    a = np.stack([np.ones(len(np.atleast_1d(temperature_K))),
                  -1.0 / (K_B_eV_per_K * np.atleast_1d(np.asarray(temperature_K, float)))], axis=-1)   # (n_T, 2)
    var = np.einsum("ti,mij,tj->mt", a, np.asarray(cov_lnD0_Ea, float), a)
    return np.sqrt(var)


def case_carrier_density(case: dict, fe: dict, deps: dict, symbol: str = DEFAULT_MOBILE_ION) -> tuple[float, str]:
    """(mobile-ion density per nm^3, where it came from): ``fe.carrier_density_per_nm3`` if given,
    else counted in the case's bulk structure (``structures/<material>`` result), else the default."""
    if fe.get("carrier_density_per_nm3") is not None:
        return float(fe["carrier_density_per_nm3"]), "input: fe.carrier_density_per_nm3"
    sid = case.get("structures_task")
    if sid and sid in deps and case.get("bulk"):
        name = case["bulk"].split("/", 1)[1]
        atoms = get_atoms(deps[sid], name)
        return mobile_ion_density_per_nm3(atoms, symbol), f"{symbol} atoms per volume of {case['bulk']} ({sid})"
    return DEFAULT_CARRIER_DENSITY_PER_NM3, DEFAULT_CARRIER_SOURCE


def _label(mesh_id: str) -> str:
    return mesh_id.split("/", 1)[1]


def run_fe_sweep(params: dict, deps: dict, comm, workdir: pathlib.Path) -> Result:
    from argyro_run.fe.polycrystal import PolycrystalSolver

    fe, case = params["fe"], params["case"]
    T = np.asarray(fe.get("temperatures_K", [300.0]), float)
    sizes = np.asarray(params["grain_sizes_nm"], float)
    delta = float(params["gb_thickness_nm"])
    mesh_of = {float(g): mid for g, mid in params["meshes"]}
    missing = sorted({m for m in mesh_of.values() if m not in deps})
    if missing:
        raise ValueError(f"fe_sweep {case['name']}: mesh results {missing} are not among the dependencies")
    degree = int(fe.get("element_degree", 1))
    rtol = float(fe.get("solver_rtol", 1e-10))
    bc = fe.get("bc", "periodic")
    tol = float(fe.get("crossover_tolerance", 0.05))
    laws = case_laws(case, deps)
    D = {k: laws[k]["D0_m2_per_s"][:, None] * np.exp(-laws[k]["Ea_eV"][:, None] / (K_B_eV_per_K * T[None, :]))
         for k in KINDS}  # (n_models, n_T)
    Db = D["bulk"][0]
    per_face = any(len(laws[k]["models"]) > 1 or laws[k]["models"] != ["input"] for k in GB_KINDS)
    fractions = case.get("gb_fractions") or []
    res = Result()
    solvers: dict[str, object] = {}
    assignment: dict[str, np.ndarray] = {}
    dim = None
    Deff = None
    for j, d in enumerate(sizes):
        mid = mesh_of[float(d)]
        if mid not in solvers:
            try:
                solvers[mid] = PolycrystalSolver(deps[mid], comm, degree=degree, rtol=rtol, bc=bc)
            except ValueError as exc:
                raise UserError(f"fe: {exc}") from None
            if per_face:
                assignment[mid] = assign_gb_models(solvers[mid].n_gb_faces, fractions, int(case.get("gb_seed", 0)))
        solver = solvers[mid]
        if Deff is None:
            dim = int(solver.dim)
            Deff = np.zeros((len(T), len(sizes), dim, dim))
        for i in range(len(T)):
            s = Db[i]  # solved in units of D_bulk(T)
            gb = {}
            for k in GB_KINDS:
                v = D[k][:, i] / s
                gb["D_" + k] = float(v[0]) if laws[k]["models"] == ["input"] else v[assignment[mid]]
            try:
                Deff[i, j] = s * np.asarray(solver.D_eff(grain_size_nm=float(d), gb_thickness_nm=delta, D_bulk=1.0, **gb))
            except ValueError as exc:
                raise UserError(f"fe {case['name']} (grain size {d:g} nm, {T[i]:g} K): {exc}") from None
        log.info("fe %s d=%g nm: D_eff/D_bulk (mean) %s", case["name"], d,
                 np.trace(Deff[:, j], axis1=1, axis2=2) / dim / Db)
    Dmean = np.trace(Deff, axis1=2, axis2=3) / dim
    ratio = Dmean / Db[:, None]
    ea = np.full((len(T), len(sizes)), np.nan)
    curv = np.full((len(T), len(sizes)), np.nan)
    for j in range(len(sizes)):
        ea[:, j], curv[:, j] = apparent_activation_energy(T, Dmean[:, j])
    symbol, charge = case["mobile_ion"], int(case["charge_e"])
    n, n_src = case_carrier_density(case, fe, deps, symbol)
    res.add("temperatures_K", T, "K")
    res.add("grain_sizes_nm", sizes, "nm")
    for k in KINDS:
        res.add(f"inputs/{k}/D_m2_per_s", D[k], "m^2/s", description="per model (row) and temperature")
        res.add(f"inputs/{k}/D0_m2_per_s", laws[k]["D0_m2_per_s"], "m^2/s")
        res.add(f"inputs/{k}/Ea_eV", laws[k]["Ea_eV"], "eV")
        sig = law_sigma_lnD(laws[k]["cov_lnD0_Ea"], T)
        res.add(f"inputs/{k}/sigma_lnD", sig, "1", description="per model and temperature: standard deviation of "
                "ln D from the Arrhenius fit's covariance (kinisi's D errors propagated; NaN for an input law)")
        res.add(f"inputs/{k}/D_err_m2_per_s", D[k] * sig, "m^2/s", description="D * sigma_lnD (first order)")
        res.add(f"inputs/{k}/cov_lnD0_Ea", laws[k]["cov_lnD0_Ea"], "1, eV",
                description="per model: covariance of (ln D0, Ea) of its Arrhenius fit")
        res.add(f"inputs/{k}/models", np.asarray(laws[k]["models"], dtype=object), "")
        res.add(f"inputs/{k}/source", laws[k]["source"], "")
    res.add("D_bulk_m2_per_s", Db, "m^2/s", description="bulk (grain) diffusivity per temperature")
    res.add("D_eff_m2_per_s", Deff, "m^2/s", description="effective tensor per temperature and grain size")
    res.add("D_eff_mean_m2_per_s", Dmean, "m^2/s", description="trace / dimension, per temperature and grain size")
    res.add("D_eff_over_D_bulk", ratio, "1", description="D_eff_mean / D_bulk per temperature and grain size")
    res.add("sigma_eff_mS_per_cm", nernst_einstein_mS_per_cm(Dmean, temperature_K=T[:, None], carrier_density_per_nm3=n,
                                                             charge=charge),
            "mS/cm", carrier_density_per_nm3=n, carrier_density_source=n_src, mobile_ion=symbol, charge_e=charge,
            description="Nernst-Einstein from D_eff_mean, Haven ratio 1")
    res.add("Ea_app_eV", ea, "eV", description="-k_B d ln D_eff_mean / d(1/T) per grain size, finite differences")
    res.add("curvature_K2", curv, "K^2", description="d^2 ln D_eff_mean / d(1/T)^2 per grain size (0 for Arrhenius)")
    res.add("crossover_grain_size_nm", np.array([crossover_grain_size(sizes, ratio[i], tol) for i in range(len(T))]),
            "nm", tolerance=tol, description="per temperature: smallest grain size of the sweep from which on "
            "|D_eff/D_bulk - 1| < tolerance for every larger one (NaN: not reached)")
    if per_face:
        res.add("gb_faces/models", np.asarray(case["gb"], dtype=object), "")
        res.add("gb_faces/fractions", np.asarray(fractions, float), "1", description="requested fraction per model")
        first_idx = next(iter(assignment.values()))
        same = all(np.array_equal(first_idx, idx) for idx in assignment.values())  # layer meshes of one tessellation
        for mid, idx in assignment.items():
            p = "gb_faces" if same else f"gb_faces/{_label(mid)}"
            res.add(f"{p}/model_index", idx, "", description="index into gb_faces/models per GB face",
                    meshes=",".join(sorted(assignment)) if same else mid, seed=int(case.get("gb_seed", 0)))
            res.add(f"{p}/model_counts", np.bincount(idx, minlength=len(case["gb"])), "")
            if same:
                break
    first = next(iter(solvers.values()))
    res.set_attrs("", case=case["name"], material=case.get("material") or "", bulk=case.get("bulk") or "",
                  gb=",".join(case.get("gb") or []), bc=bc, element_degree=degree, solver_rtol=rtol, dimension=dim,
                  gb_thickness_nm=delta, gb_model=str(getattr(first, "gb_model", "")),
                  microstructure=",".join(sorted(solvers)),
                  diffusivity_source="; ".join(f"{k}: {laws[k]['source']}" for k in KINDS))
    return res
