"""The validation study's numbers (docs/validation.md) from its archives: `docs/validation/summary.json`.

Usage (after the runs of docs/validation.md, archives under runs/validation-<X>/):
  .venv/bin/python benchmarks/validation_summary.py [--runs runs] [--out docs/validation/summary.json]
                                                   [--mc 12] [--seed 0]

Everything comes from the archives' result datasets through argyro_run's archive API (no number
is typed in here except the papers' values and Shannon's ionic radii, tables below, for comparison):
  a. D(300 K) of Li in ordered and 50 %-disordered Li6PS5Cl: the per-structure Arrhenius
     extrapolations of `arrhenius/LPSCl` (structures/<variant>/tracer), their ratio with its error.
  b. Ea of the disordered variant of Li6PS5Cl, Li6PS5Br, Li6PS5I against the halide's ionic radius:
     a weighted straight line, its slope, R^2 and whether Ea increases with the radius; the same for
     the ordered variant (`--ordered-runs`: the archives of the ordered study, default --runs; when
     given, claim a's ordered D(300 K) and claim d's FE come from there too, where they exist).
  c. GB effect per phase: D(300 K) of the Sigma 5 (310) bicrystal (whole cell, `tracer`; and its GB
     slab along / across the GB) over the bulk D(300 K) of the same phase (the ordered phase's from
     `--ordered-gb-runs`, default `--ordered-runs`, when that archive has its GB: GB and bulk from one
     archive).
  d. Li6PS5I polycrystal (`fe/<case>`): ln D_eff = a + b/T + c/T^2 per grain size, c in K^2 with its
     error: the least-squares error of c on the FE points combined (in quadrature) with the spread of
     c when the MD Arrhenius laws of the bulk and the GB are drawn from their fit covariances and the
     FE re-solved on the archive's own mesh (`--mc` draws; 0: fit error only).
Missing archives or fits leave their keys null with a `missing` note; the script never invents a value.
With `--carry earlier.json` a claim its archives cannot complete (a halide's runs, the FE) is taken whole
from an earlier summary of this script and listed under `carried_from`.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

import numpy as np

from argyro_run.archive import open_archive

REPO = pathlib.Path(__file__).resolve().parents[1]

# Shannon (1976) effective ionic radii of the halide anions, coordination number 6, in Angstrom.
SHANNON_RADIUS_A = {"Cl": 1.81, "Br": 1.96, "I": 2.20}
MATERIAL = {"Cl": "LPSCl", "Br": "LPSBr", "I": "LPSI"}
# The seed papers' numbers that claim a is compared with (D of Li at 300 K, cm^2/s, and sigma, mS/cm).
PAPER = {"D300_disordered_cm2_per_s": 2.2e-7, "D300_ordered_cm2_per_s": 1.2e-9,
         "sigma300_disordered_mS_per_cm": 29.8, "sigma300_ordered_mS_per_cm": 0.2}
CM2_PER_M2 = 1.0e4
GB_NAMES = {"ordered": "gb_sigma5_310", "disordered": "gb_sigma5_310_disordered"}


def _archive(runs: pathlib.Path, x: str):
    p = runs / f"validation-{MATERIAL[x]}" / f"validation-{MATERIAL[x]}.h5"
    return open_archive(p) if p.is_file() else None


def _fit(res, prefix: str) -> dict | None:
    """One Arrhenius fit of an arrhenius/<material> result, or None (with no fit there)."""
    if res is None or f"{prefix}/Ea_eV" not in res:
        return None
    g = lambda k: float(np.asarray(res.get(f"{prefix}/{k}")))  # noqa: E731
    a = res.get_attrs(prefix)
    return {"Ea_eV": g("Ea_eV"), "Ea_eV_err": g("Ea_eV_err"), "D0_m2_per_s": g("D0_m2_per_s"),
            "cov_lnD0_Ea": np.asarray(res.get(f"{prefix}/cov_lnD0_Ea"), float).tolist(),
            "D300_m2_per_s": g("D_300K_m2_per_s"), "D300_m2_per_s_err": g("D_300K_m2_per_s_err"),
            "sigma300_mS_per_cm": g("sigma_300K_mS_per_cm"),
            "temperatures_K": np.asarray(res.get(f"{prefix}/temperatures_K"), float).tolist(),
            "D_m2_per_s": np.asarray(res.get(f"{prefix}/D_m2_per_s"), float).tolist(),
            "D_err_m2_per_s": np.asarray(res.get(f"{prefix}/D_err_m2_per_s"), float).tolist(),
            "used_in_fit": np.asarray(res.get(f"{prefix}/used_in_fit"), bool).tolist(),
            "fit_quality": str(a.get("fit_quality", "")), "fit_quality_reason": str(a.get("fit_quality_reason", "")),
            "chi2_per_dof": (float(a["chi2"]) / int(a["dof"]) if a.get("dof") and a.get("weighted") else None)}


def _ln_d300_sd(fit: dict) -> float:
    """Standard deviation of ln D(300 K) of an Arrhenius fit, exact for its Gaussian (ln D0, Ea):
    ln D(300 K) = ln D0 - Ea / (k_B 300 K)."""
    from argyro_run.analysis.diffusion import K_B_EV

    g = np.array([1.0, -1.0 / (K_B_EV * 300.0)])
    return float(np.sqrt(g @ np.asarray(fit["cov_lnD0_Ea"], float) @ g))


def _ratio(a: float, ae: float, b: float, be: float) -> tuple[float, float]:
    """a / b with the first-order (log-normal) error."""
    r = a / b
    return r, abs(r) * math.hypot(ae / a, be / b)


def _run_facts(arch) -> dict:
    """Wall time per stage from the archive's task records, and the run's reference."""
    walls: dict[str, float] = {}
    for tid, t in arch.tasks.items():
        if t.get("status") == "done" and t.get("wall_s") is not None:
            stage = tid.split("/", 1)[0]
            walls[stage] = walls.get(stage, 0.0) + float(t["wall_s"])
    ref = None
    for t in arch.plan.get("tasks", []):
        if t["id"] == "learning/initial_data":
            ref = {k: t["params"]["reference"].get(k) for k in ("calculator", "model")}
    learning = {}
    for tid, t in arch.tasks.items():
        if tid.startswith("learning/level") and t.get("status") == "done":
            a = arch.result(tid).get_attrs("")
            learning[tid] = {k: a.get(k) for k in ("n_iterations", "converged", "reason")}
    failed = {tid: str(t.get("error_message", ""))[:200] for tid, t in arch.tasks.items() if t.get("status") == "failed"}
    md_break = next((t["params"]["md"].get("gamma_break") for t in arch.plan.get("tasks", []) if t["kind"] == "md_run"), None)
    return {"task_wall_s_by_stage": {k: round(v, 1) for k, v in sorted(walls.items())},
            "task_wall_s_total": round(sum(walls.values()), 1), "reference": ref, "learning": learning,
            "md_gamma_break_of_last_plan": md_break, "failed_tasks": failed}


def _arrhenius(arch, m: str):
    """The ``arrhenius/<m>`` result of the archive; while that task has not run (a structure's MD still
    running), the same task function applied to the analyses that are done (``source`` says which)."""
    if arch is None:
        return None, None
    tid = f"arrhenius/{m}"
    if arch.tasks.get(tid, {}).get("status") == "done":
        return arch.result(tid), tid
    from argyro_run.analysis.tasks import run_arrhenius

    done = {t: arch.result(t) for t, a in arch.tasks.items()
            if t.startswith(f"analysis/{m}/") and a.get("status") == "done"}
    if not done:
        return None, None
    return run_arrhenius({"material": m}, done, None, None), f"run_arrhenius on {', '.join(sorted(done))}"


def _anion_site_changes(arch, m: str, name: str, md) -> int | None:
    """Halide / free-S2- ions (sublattices 4a, 4c) whose nearest anion site differs between the first
    and the last tenth of the run (window means), or None when the run kept only the Li."""
    from ase.geometry import get_distances

    from argyro_run.md.framework import window_means
    from argyro_run.structures.argyrodite import SUBLATTICE

    atoms = arch.atoms(f"structures/{m}", name)
    sub = atoms.arrays.get("sublattice")
    idx = np.asarray(md.get("trajectory/atom_index"))
    if sub is None or len(idx) < len(atoms):
        return None
    anion = np.isin(sub, [SUBLATTICE["site_4a"], SUBLATTICE["site_4c"]])
    if not anion.any():
        return None
    sites = atoms.positions[anion]
    x = np.asarray(md.get("trajectory/positions_A"), float)[:, np.argsort(idx)][:, anion]
    cell = np.asarray(md.get("trajectory/cell_A"), float)
    m10 = window_means(x, 10)

    def nearest(p):
        _, dist = get_distances(p, sites, cell=cell, pbc=True)      # minimum image (ASE)
        return np.argmin(dist, axis=1)

    return int(np.sum(nearest(m10[0]) != nearest(m10[-1])))


def framework(runs) -> dict:
    """Per material, structure and temperature: the MD's framework check (``md/framework.py``:
    host displacement, stable or not) and, where every atom was kept, the anion site changes."""
    out: dict = {}
    for x in MATERIAL:
        arch = _archive(runs, x)
        if arch is None:
            continue
        m = MATERIAL[x]
        for tid, t in sorted(arch.tasks.items()):
            if not tid.startswith(f"md/{m}/") or t.get("status") != "done" or t.get("kind", "md_run") != "md_run":
                continue
            _, _, name, T = tid.split("/")
            md = arch.result(tid)
            fw = md.get_attrs("framework") if "framework/host_displacement_A" in md else {}
            row = {"host_displacement_A": fw.get("host_displacement_A"), "framework_stable": fw.get("framework_stable"),
                   "anion_site_changes": _anion_site_changes(arch, m, name, md)}
            out.setdefault(m, {}).setdefault(name, {})[T] = {k: (v.item() if hasattr(v, "item") else v)
                                                              for k, v in row.items()}
    return out


def claim_a(runs, ordered_runs=None) -> dict:
    """D(300 K) of both Li6PS5Cl phases from the archive under ``runs``; the ordered phase's from the
    ordered study's archive under ``ordered_runs`` instead when that has a fit of it (its longer
    runs and later window get past the cage motion that lifts the 100 ps runs' slope)."""
    arch = _archive(runs, "Cl")
    out: dict = {"paper": {k: v for k, v in PAPER.items()}}
    res, src = _arrhenius(arch, "LPSCl")
    if res is None:
        return out | {"missing": "runs/validation-LPSCl archive or a done analysis/LPSCl/* task"}
    out["source"] = src
    fits = {v: _fit(res, f"structures/{v}/tracer") for v in ("ordered", "disordered")}
    if ordered_runs is not None:
        res_o, src_o = _arrhenius(_archive(ordered_runs, "Cl"), "LPSCl")
        if res_o is not None and (f := _fit(res_o, "structures/ordered/tracer")) is not None:
            fits["ordered"] = f
            out["source_ordered"] = f"{ordered_runs}: {src_o}"
    out["fits"] = fits
    for v, f in fits.items():
        if f is None:
            continue
        out[f"D300_{v}_m2_per_s"], out[f"D300_{v}_m2_per_s_err"] = f["D300_m2_per_s"], f["D300_m2_per_s_err"]
        paper = PAPER[f"D300_{v}_cm2_per_s"] / CM2_PER_M2
        out[f"D300_{v}_log10_over_paper"] = math.log10(f["D300_m2_per_s"] / paper)
    if all(fits.values()):
        r, re = _ratio(fits["disordered"]["D300_m2_per_s"], fits["disordered"]["D300_m2_per_s_err"],
                       fits["ordered"]["D300_m2_per_s"], fits["ordered"]["D300_m2_per_s_err"])
        out["ratio_disordered_over_ordered"], out["ratio_err"] = r, re
        # the first-order error above is symmetric; the fits' errors are Gaussian in ln D, so the
        # ratio's significance is measured in ln: how many sd ln(ratio) lies above ln 10
        sd_ln = math.hypot(_ln_d300_sd(fits["disordered"]), _ln_d300_sd(fits["ordered"]))
        out["ratio_log10_err"] = sd_ln / math.log(10.0)
        out["ratio_sigma_above_10"] = (math.log(r) - math.log(10.0)) / sd_ln
        out["goal_ratio_at_least_10"] = bool(r >= 10.0)
        out["goal_each_within_one_order_of_paper"] = bool(
            all(abs(out[f"D300_{v}_log10_over_paper"]) <= 1.0 for v in fits))
    return out


def claim_b(runs, variant: str = "disordered") -> dict:
    """Ea of ``variant`` of every halide (arrhenius/<material>, structures/<variant>/tracer) and the
    weighted line through them against Shannon's radius."""
    out: dict = {"shannon_radius_A": SHANNON_RADIUS_A, "variant": variant, "Ea_eV": {}, "Ea_eV_err": {}}
    for x, m in MATERIAL.items():
        arch = _archive(runs, x)
        res, src = _arrhenius(arch, m)
        if res is None:
            out.setdefault("missing", []).append(f"runs/validation-{m}: archive or a done analysis/{m}/* task")
            continue
        out.setdefault("source", {})[x] = src
        f = _fit(res, f"structures/{variant}/tracer")
        if f is None:
            out.setdefault("missing", []).append(f"arrhenius/{m}: no fit of the {variant} variant")
            continue
        out["Ea_eV"][x], out["Ea_eV_err"][x] = f["Ea_eV"], f["Ea_eV_err"]
        out.setdefault("fits", {})[x] = f
        jp = f"structures/{variant}/jumps/intercage"      # archives analysed since 2026-12-01
        if f"{jp}/Ea_eV" in res:
            out.setdefault("Ea_intercage_eV", {})[x] = float(np.asarray(res.get(f"{jp}/Ea_eV")))
            out.setdefault("Ea_intercage_eV_err", {})[x] = float(np.asarray(res.get(f"{jp}/Ea_eV_err")))
    xs = [x for x in MATERIAL if x in out["Ea_eV"]]
    out["fit_reliable"] = {x: out["fits"][x]["fit_quality"] == "ok" for x in xs}
    if len(xs) < 3:   # a line through two points has R^2 = 1 whatever they are
        out.setdefault("missing", []).append(f"linear fit: Ea of {len(xs)} halide(s), it needs all 3")
    else:
        r = np.array([SHANNON_RADIUS_A[x] for x in xs])
        e = np.array([out["Ea_eV"][x] for x in xs])
        out["linear_fit"] = _weighted_line(r, e, np.array([out["Ea_eV_err"][x] for x in xs])) | {"halides": xs}
        order = np.argsort(r)
        out["Ea_increases_with_radius"] = bool(np.all(np.diff(e[order]) > 0))
    inter = out.get("Ea_intercage_eV", {})
    if all(x in inter for x in MATERIAL):   # the barrier of the jumps that carry D, per halide
        r = np.array([SHANNON_RADIUS_A[x] for x in MATERIAL])
        out["linear_fit_intercage"] = _weighted_line(r, np.array([inter[x] for x in MATERIAL]),
                                                     np.array([out["Ea_intercage_eV_err"][x] for x in MATERIAL]))
    return out


def _weighted_line(r: np.ndarray, e: np.ndarray, s: np.ndarray) -> dict:
    """e = intercept + slope r, weighted by 1/s^2 (unweighted unless every s > 0), with the slope's
    error from the weights and the weighted R^2."""
    weighted = bool(np.all(s > 0))
    w = 1.0 / s ** 2 if weighted else np.ones_like(e)
    A = np.column_stack([np.ones_like(r), r])
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    p = cov @ (A.T @ (w * e))
    ss_res = float(np.sum(w * (e - A @ p) ** 2))
    mean = float(np.sum(w * e) / np.sum(w))
    ss_tot = float(np.sum(w * (e - mean) ** 2))
    return {"intercept_eV": float(p[0]), "slope_eV_per_A": float(p[1]), "slope_err_eV_per_A": float(np.sqrt(cov[1, 1])),
            "R2": (1.0 - ss_res / ss_tot) if ss_tot > 0 else None, "weighted": weighted}


def _gb_row(res, phase: str, gb: str) -> dict:
    """GB model ``gb`` of one phase against that phase's bulk (fits of an arrhenius/<m> result)."""
    bulk = _fit(res, f"structures/{phase}/tracer")
    row: dict = {"gb_model": gb, "bulk": bulk}
    for kind in ("tracer", "gb_parallel", "gb_perpendicular", "bulk_region", "gb_perpendicular_layered",
                 "gb_parallel_layered"):
        row[kind] = _fit(res, f"structures/{gb}/{kind}")
        if bulk is not None and row[kind] is not None:
            row[f"{kind}_over_bulk_300K"], row[f"{kind}_over_bulk_300K_err"] = _ratio(
                row[kind]["D300_m2_per_s"], row[kind]["D300_m2_per_s_err"],
                bulk["D300_m2_per_s"], bulk["D300_m2_per_s_err"])
    fits = [f for f in (bulk, row["tracer"]) if f is not None]
    row["reliable"] = bool(len(fits) == 2 and all(f["fit_quality"] == "ok" for f in fits))
    row["unreliable_because"] = "; ".join(f"{name}: {f['fit_quality_reason']}" for name, f in
                                          (("bulk", bulk), ("GB cell", row["tracer"]))
                                          if f is not None and f["fit_quality"] != "ok")
    return row


def claim_c(runs, ordered_runs=None) -> dict:
    """Li6PS5Cl per phase (the claim): the ordered phase's GB and bulk from the ordered study's
    archive under ``ordered_runs`` when that has the GB's fit (its longer runs), else from ``runs``;
    also Li6PS5I's GB between ordered grains when its run has one (``LPSI_ordered``: the GB of claim
    d's polycrystal)."""
    out: dict = {}
    res, src = _arrhenius(_archive(runs, "Cl"), "LPSCl")
    res_o, src_o = _arrhenius(_archive(ordered_runs, "Cl"), "LPSCl") if ordered_runs is not None else (None, None)
    if res is None and res_o is None:
        out["missing"] = "runs/validation-LPSCl archive or a done analysis/LPSCl/* task"
    else:
        out["source"] = src
        for phase, gb in GB_NAMES.items():
            key = f"structures/{gb}/tracer/Ea_eV"
            if phase == "ordered" and res_o is not None and key in res_o:
                out[phase] = _gb_row(res_o, phase, gb) | {"source": f"{ordered_runs}: {src_o}"}
            elif res is not None and key in res:
                out[phase] = _gb_row(res, phase, gb)
            else:
                out.setdefault("not_run", []).append(f"LPSCl/{gb}")
    res_i, src_i = _arrhenius(_archive(runs, "I"), "LPSI")
    if res_i is not None and f"structures/{GB_NAMES['ordered']}/tracer/Ea_eV" in res_i:
        out["LPSI_ordered"] = _gb_row(res_i, "ordered", GB_NAMES["ordered"]) | {"source": src_i}
    return out


def _lsq_curvature(T: np.ndarray, D: np.ndarray) -> tuple[float, float, np.ndarray]:
    """ln D = a + b/T + c/T^2 by least squares: (c [K^2], its error from the residuals, params)."""
    x = 1.0 / T
    A = np.column_stack([np.ones_like(x), x, x ** 2])
    y = np.log(D)
    p, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ p
    dof = len(T) - 3
    s2 = float(resid @ resid) / dof if dof > 0 else float("nan")
    cov = s2 * np.linalg.inv(A.T @ A)
    return float(p[2]), float(np.sqrt(cov[2, 2])), p


def _law_sources(arch, case_task: str) -> dict:
    """kind -> (task, fit prefix) of the MD law an fe case used (from the archive's plan)."""
    for t in arch.plan.get("tasks", []):
        if t["id"] == case_task:
            src = t["params"]["case"]["sources"]
            return {k: [(f["task"], f["fit"]) for f in src[k].get("md", [])] for k in ("bulk", "gb_parallel",
                                                                                     "gb_perpendicular")}
    return {}


def claim_d(runs, n_mc: int, seed: int, case: str = "ordered", ordered_runs=None) -> dict:
    """The Li6PS5I polycrystal's curvature from the ``fe/<case>`` task of the archive under
    ``ordered_runs`` when that task is done there (the ordered study's longer runs feed its bulk and
    GB laws), else under ``runs``."""
    task = f"fe/{case}"
    for where in ([ordered_runs] if ordered_runs is not None else []) + [runs]:
        arch = _archive(where, "I")
        if arch is not None and task in arch.tasks and arch.tasks[task].get("status") == "done":
            break
    else:
        return {"missing": f"runs/validation-LPSI archive or its {task} task"}
    res = arch.result(task)
    T = np.asarray(res.get("temperatures_K"), float)
    sizes = np.asarray(res.get("grain_sizes_nm"), float)
    Dm = np.asarray(res.get("D_eff_mean_m2_per_s"), float)          # (n_T, n_d)
    Db = np.asarray(res.get("D_bulk_m2_per_s"), float)
    out: dict = {"case": case, "source": f"{where}: {task}", "temperatures_K": T.tolist(), "grain_sizes_nm": sizes.tolist(),
                 "D_eff_mean_m2_per_s": Dm.tolist(), "D_bulk_m2_per_s": Db.tolist(),
                 "laws": {k: {"D0_m2_per_s": np.asarray(res.get(f"inputs/{k}/D0_m2_per_s"), float).tolist(),
                              "Ea_eV": np.asarray(res.get(f"inputs/{k}/Ea_eV"), float).tolist()}
                          for k in ("bulk", "gb_parallel", "gb_perpendicular")}}
    fit = [_lsq_curvature(T, Dm[:, j]) for j in range(len(sizes))]
    c = np.array([f[0] for f in fit])
    c_fit_err = np.array([f[1] for f in fit])
    out["bulk_curvature_K2"] = _lsq_curvature(T, Db)[0]
    mc_sd = np.zeros(len(sizes))
    if n_mc > 0:
        samples = _mc_curvature(arch, task, T, sizes, n_mc, seed)
        if samples is not None:
            mc_sd = np.std(samples, axis=0, ddof=1)
            out["mc_draws"] = int(samples.shape[0])
            out["curvature_mc_sd_K2"] = mc_sd.tolist()
    err = np.hypot(c_fit_err, mc_sd)
    out["curvature_K2"] = c.tolist()
    out["curvature_fit_err_K2"] = c_fit_err.tolist()
    out["curvature_err_K2"] = err.tolist()
    out["curvature_beyond_2sigma"] = [bool(abs(ci) > 2 * ei) for ci, ei in zip(c, err)]
    return out


def _mc_curvature(arch, task: str, T, sizes, n_mc: int, seed: int):
    """Curvature c per grain size for ``n_mc`` draws of the MD laws (ln D0, Ea ~ their fit
    covariance), FE re-solved on the archive's mesh (one GB model per case: every face alike)."""
    from argyro_run._stack import MPI
    from argyro_run.fe.polycrystal import PolycrystalSolver
    from argyro_run.fe.tasks import arrhenius_D

    srcs = _law_sources(arch, task)
    if not srcs or any(len(v) != 1 for v in srcs.values()):
        return None
    laws = {}
    for k, [(tid, prefix)] in srcs.items():
        r = arch.result(tid)
        laws[k] = (np.array([math.log(float(np.asarray(r.get(f"{prefix}/D0_m2_per_s")))),
                             float(np.asarray(r.get(f"{prefix}/Ea_eV")))]),
                   np.asarray(r.get(f"{prefix}/cov_lnD0_Ea"), float))
    plan_task = next(t for t in arch.plan["tasks"] if t["id"] == task)
    params = plan_task["params"]
    mesh_id = params["meshes"][0][1]
    fe = params["fe"]
    solver = PolycrystalSolver(arch.result(mesh_id), MPI.COMM_SELF, degree=int(fe.get("element_degree", 1)),
                               rtol=float(fe.get("solver_rtol", 1e-10)))
    delta = float(params["gb_thickness_nm"])
    rng = np.random.default_rng(seed)
    out = np.empty((n_mc, len(sizes)))
    for s in range(n_mc):
        D = {}
        for k, (mean, cov) in laws.items():
            lnD0, Ea = rng.multivariate_normal(mean, cov)
            D[k] = arrhenius_D(math.exp(lnD0), Ea, T)
        Dm = np.empty((len(T), len(sizes)))
        for j, d in enumerate(sizes):
            for i in range(len(T)):
                De = solver.D_eff(grain_size_nm=float(d), gb_thickness_nm=delta, D_bulk=1.0,
                                  D_gb_parallel=D["gb_parallel"][i] / D["bulk"][i],
                                  D_gb_perpendicular=D["gb_perpendicular"][i] / D["bulk"][i])
                Dm[i, j] = D["bulk"][i] * np.trace(De) / solver.dim
        out[s] = [_lsq_curvature(T, Dm[:, j])[0] for j in range(len(sizes))]
    return out


def summarise(runs: pathlib.Path, n_mc: int, seed: int, ordered_runs: pathlib.Path | None = None,
              ordered_gb_runs: pathlib.Path | None = None) -> dict:
    """Every claim from the archives under ``runs`` (``ordered_runs``: the ordered study's, for claims
    a, b (ordered) and d; ``ordered_gb_runs``: the archive of the ordered GB and its bulk for claim c,
    default ``ordered_runs``)."""
    a, b, c = claim_a(runs, ordered_runs), claim_b(runs), claim_c(runs, ordered_gb_runs or ordered_runs)
    b_ordered = claim_b(ordered_runs or runs, "ordered")
    d = claim_d(runs, n_mc, seed, ordered_runs=ordered_runs)
    archives = {x: arch for x in MATERIAL if (arch := _archive(runs, x)) is not None}
    runs_facts = {MATERIAL[x]: _run_facts(arch) for x, arch in archives.items()}
    refs = [f["reference"] for f in runs_facts.values() if f["reference"]]
    ref = refs[0] if refs and all(r == refs[0] for r in refs) else (refs or None)
    summary = {
        "reference": ref,
        "D300_ordered_m2_per_s": a.get("D300_ordered_m2_per_s"),
        "D300_ordered_m2_per_s_err": a.get("D300_ordered_m2_per_s_err"),
        "D300_disordered_m2_per_s": a.get("D300_disordered_m2_per_s"),
        "D300_disordered_m2_per_s_err": a.get("D300_disordered_m2_per_s_err"),
        "Ea_eV": b["Ea_eV"], "Ea_eV_err": b["Ea_eV_err"],
        "Ea_linear_fit_R2": b.get("linear_fit", {}).get("R2"),
        "Ea_eV_ordered": b_ordered["Ea_eV"], "Ea_eV_ordered_err": b_ordered["Ea_eV_err"],
        "Ea_linear_fit_R2_ordered": b_ordered.get("linear_fit", {}).get("R2"),
        "gb_effect_ordered": c.get("ordered", {}).get("tracer_over_bulk_300K"),
        "gb_effect_ordered_err": c.get("ordered", {}).get("tracer_over_bulk_300K_err"),
        "gb_effect_disordered": c.get("disordered", {}).get("tracer_over_bulk_300K"),
        "gb_effect_disordered_err": c.get("disordered", {}).get("tracer_over_bulk_300K_err"),
        "gb_effect_reliable": {p: c.get(p, {}).get("reliable") for p in GB_NAMES},
        "LPSI_curvature_K2": (dict(zip(map(lambda g: f"{g:g}nm", d["grain_sizes_nm"]), d["curvature_K2"]))
                              if "curvature_K2" in d else None),
        "LPSI_curvature_K2_err": (dict(zip(map(lambda g: f"{g:g}nm", d["grain_sizes_nm"]), d["curvature_err_K2"]))
                                  if "curvature_err_K2" in d else None),
        "runs": runs_facts,
        "framework": framework(runs),
        "claims": {"a": a, "b": b, "b_ordered": b_ordered, "c": c, "d": d},
        "definitions": {
            "D300": "Arrhenius extrapolation to 300 K of the tracer D of Li (kinisi) of the bulk variant",
            "Ea_eV": "claim b in the 50 %-disordered variant; Ea_eV_ordered: the same in the ordered variant "
                     "(claims.b_ordered, from --ordered-runs when given); claims.b*.Ea_intercage_eV: the Arrhenius "
                     "energy of the intercage jump rate (analysis/jumps.py) where the archive has it",
            "framework": "per MD run: RMS change of the host units' window-mean positions against the first tenth "
                         "of the run (md/framework.py; the largest window since 2026-11-30, the last one before), "
                         "and the 4a/4c anions whose nearest anion site changed (all-atom runs)",
            "gb_effect": "D(300 K) of the whole Sigma 5 (310) bicrystal cell / bulk D(300 K) of the same phase; the "
                         "GB slab's parallel/perpendicular ratios are under claims.c",
            "LPSI_curvature_K2": "c of ln D_eff = a + b/T + c/T^2 over the FE temperatures, per grain size "
                                 "(fe/ordered: ordered Li6PS5I grains, the Sigma 5 GB)",
        },
    }
    return summary


# the summary's top-level keys each claim owns (carried with it)
_CLAIM_KEYS = {"b": ("Ea_eV", "Ea_eV_err", "Ea_linear_fit_R2"),
               "b_ordered": ("Ea_eV_ordered", "Ea_eV_ordered_err", "Ea_linear_fit_R2_ordered"),
               "d": ("LPSI_curvature_K2", "LPSI_curvature_K2_err")}


def _complete(claim: str, c: dict) -> bool:
    if claim in ("b", "b_ordered"):
        return all(c.get("Ea_eV", {}).get(x) is not None for x in MATERIAL)
    return "curvature_K2" in c


def carry(s: dict, old: dict, source: str) -> dict:
    """``s`` with what its archives lack taken whole from an earlier summary ``old`` (the file
    ``source``): a claim b / b_ordered / d that misses a halide or its FE, with its top-level keys;
    claim c's ``LPSI_ordered``; the run facts and framework checks of a material without an archive.
    Every carried item is listed under ``carried_from`` (never mixed: a claim comes whole from one
    summary)."""
    s = json.loads(json.dumps(s))
    carried = {}
    for k, keys in _CLAIM_KEYS.items():
        if not _complete(k, s["claims"][k]) and k in old.get("claims", {}) and _complete(k, old["claims"][k]):
            s["claims"][k] = old["claims"][k]
            for key in keys:
                s[key] = old.get(key)
            carried[f"claims.{k}"] = source
    if "LPSI_ordered" not in s["claims"]["c"] and "LPSI_ordered" in old.get("claims", {}).get("c", {}):
        s["claims"]["c"]["LPSI_ordered"] = old["claims"]["c"]["LPSI_ordered"]
        carried["claims.c.LPSI_ordered"] = source
    for part in ("runs", "framework"):
        for m, v in (old.get(part) or {}).items():
            if m not in (s.get(part) or {}):
                s.setdefault(part, {})[m] = v
                carried[f"{part}.{m}"] = source
    if carried:
        s["carried_from"] = carried
    return s


def _e(v, err=None, fmt="{:.3g}") -> str:
    if v is None:
        return "n/a"
    return fmt.format(v) + ("" if err is None else " ± " + fmt.format(err))


def markdown(s: dict) -> str:
    """The result tables of docs/validation.md, from a summary (printed by --markdown)."""
    a, b, c, d = (s["claims"][k] for k in "abcd")
    lines = ["| phase | D(300 K) paper [cm²/s] | D(300 K) ours [cm²/s] | log10(ours/paper) | Ea [eV] | "
             "σ(300 K) paper / ours [mS/cm] | fit |", "|---|---|---|---|---|---|---|"]
    for v in ("ordered", "disordered"):
        f = (a.get("fits") or {}).get(v)
        if f is None:
            lines.append(f"| {v} | {PAPER[f'D300_{v}_cm2_per_s']:.2g} | n/a | | | | |")
            continue
        lines.append(f"| {v} | {PAPER[f'D300_{v}_cm2_per_s']:.2g} | "
                     f"{_e(f['D300_m2_per_s'] * CM2_PER_M2, f['D300_m2_per_s_err'] * CM2_PER_M2)} | "
                     f"{a[f'D300_{v}_log10_over_paper']:+.2f} | {_e(f['Ea_eV'], f['Ea_eV_err'], '{:.3f}')} | "
                     f"{PAPER[f'sigma300_{v}_mS_per_cm']:g} / {f['sigma300_mS_per_cm']:.3g} | "
                     f"{f['fit_quality']}, T used {[int(t) for t, u in zip(f['temperatures_K'], f['used_in_fit']) if u]} |")
    if "ratio_disordered_over_ordered" in a:
        lines.append(f"\nRatio disordered/ordered at 300 K: {_e(a['ratio_disordered_over_ordered'], a['ratio_err'])} "
                     f"(goal >= 10: {a['goal_ratio_at_least_10']}; each within one order of magnitude of the paper: "
                     f"{a['goal_each_within_one_order_of_paper']}).")
    for bv in (b, s["claims"].get("b_ordered") or {}):
        if not bv:
            continue
        lines += ["", f"| halide | Shannon radius [Å] | Ea ({bv['variant']}) [eV] | D(300 K) [cm²/s] | fit |",
                  "|---|---|---|---|---|"]
        for x in MATERIAL:
            f = (bv.get("fits") or {}).get(x)
            lines.append(f"| {x} | {SHANNON_RADIUS_A[x]} | " + (
                "n/a | n/a | |" if f is None else
                f"{_e(f['Ea_eV'], f['Ea_eV_err'], '{:.3f}')} | {_e(f['D300_m2_per_s'] * CM2_PER_M2)} | "
                f"{f['fit_quality']}, T used {[int(t) for t, u in zip(f['temperatures_K'], f['used_in_fit']) if u]} |"))
        if "linear_fit" in bv:
            lf = bv["linear_fit"]
            slope = _e(lf['slope_eV_per_A'], lf['slope_err_eV_per_A'], '{:.3f}')
            lines.append(f"\nLinear fit ({bv['variant']}) Ea = {lf['intercept_eV']:.3f} eV + ({slope}) eV/Å × r: "
                         f"R² = {_e(lf['R2'], fmt='{:.3f}')}; Ea increases with the radius: "
                         f"{bv['Ea_increases_with_radius']}.")
        else:
            lines.append(f"\nNo linear fit ({bv['variant']}): {'; '.join(bv.get('missing', []))}.")
        if bv.get("Ea_intercage_eV"):
            inter = ", ".join(f"{x} {_e(v, bv['Ea_intercage_eV_err'][x], '{:.3f}')}" for x, v in bv["Ea_intercage_eV"].items())
            lines.append(f"\nArrhenius energy of the intercage jump rate ({bv['variant']}, eV): {inter}" + (
                f"; linear in r with R² = {_e(bv['linear_fit_intercage']['R2'], fmt='{:.3f}')}."
                if "linear_fit_intercage" in bv else "."))
    lines += ["", "| phase | GB model | D(300 K) bulk [cm²/s] | whole GB cell / bulk | GB slab ∥ / bulk | GB slab ⊥ / bulk |",
              "|---|---|---|---|---|---|"]
    for phase in [*GB_NAMES, "LPSI_ordered"]:
        row = c.get(phase) or {}
        if phase == "LPSI_ordered" and not row:
            continue
        bulk = row.get("bulk")
        cells = [_e(row.get(f"{k}_over_bulk_300K"), row.get(f"{k}_over_bulk_300K_err"))
                 for k in ("tracer", "gb_parallel", "gb_perpendicular")]
        flag = "" if row.get("reliable", True) else " (UNRELIABLE)"
        lines.append(f"| {phase} | {row.get('gb_model', GB_NAMES.get(phase))}{flag} | "
                     f"{_e(bulk['D300_m2_per_s'] * CM2_PER_M2) if bulk else 'n/a'} | " + " | ".join(cells) + " |")
    if "curvature_K2" in d:
        lines += ["", "| grain size [nm] | c [K²] | error [K²] (fit; MC of the MD laws) | |c| > 2 error |",
                  "|---|---|---|---|"]
        mc = d.get("curvature_mc_sd_K2", [0.0] * len(d["grain_sizes_nm"]))
        for g, ci, e, fe, m, ok in zip(d["grain_sizes_nm"], d["curvature_K2"], d["curvature_err_K2"],
                                       d["curvature_fit_err_K2"], mc, d["curvature_beyond_2sigma"]):
            lines.append(f"| {g:g} | {ci:.4g} | {e:.3g} ({fe:.2g}; {m:.2g}) | {ok} |")
        lines.append(f"\nBulk alone (Arrhenius by construction): c = {d['bulk_curvature_K2']:.3g} K².")
    fw = s.get("framework") or {}
    if fw:
        lines += ["", "| material | structure | T [K] | host displacement [Å] | framework stable | anion site changes |",
                  "|---|---|---|---|---|---|"]
        for m, structs in fw.items():
            for name, temps in structs.items():
                for T, r in sorted(temps.items(), key=lambda kv: float(kv[0][1:])):
                    hd = r["host_displacement_A"]
                    lines.append(f"| {m} | {name} | {T[1:]} | {'n/a' if hd is None else f'{hd:.2f}'} | "
                                 f"{r['framework_stable']} | "
                                 f"{'n/a' if r['anion_site_changes'] is None else r['anion_site_changes']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default=str(REPO / "runs"))
    ap.add_argument("--out", default=str(REPO / "docs" / "validation" / "summary.json"))
    ap.add_argument("--ordered-runs", default=None,
                    help="folder of the ordered-variant study's archives (validation-<X>/) for claim b in the ordered "
                         "variant; default --runs")
    ap.add_argument("--ordered-gb-runs", default=None,
                    help="folder whose validation-LPSCl archive gives claim c's ordered GB and its bulk (when the "
                         "ordered study's longest runs were made without the GB cell); default --ordered-runs")
    ap.add_argument("--mc", type=int, default=12, help="draws of the MD laws for the curvature error (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", action="store_true", help="also print the result tables of docs/validation.md")
    ap.add_argument("--carry", default=None,
                    help="an earlier summary.json: claims whose archives are absent here (a halide's runs, the FE) "
                         "are taken whole from it and listed under carried_from")
    args = ap.parse_args(argv)
    s = summarise(pathlib.Path(args.runs), args.mc, args.seed,
                  pathlib.Path(args.ordered_runs) if args.ordered_runs else None,
                  pathlib.Path(args.ordered_gb_runs) if args.ordered_gb_runs else None)
    if args.carry:
        src = pathlib.Path(args.carry)
        s = carry(s, json.loads(src.read_text()), src.name)
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(s, indent=1, allow_nan=True) + "\n")
    print(json.dumps({k: v for k, v in s.items() if k not in ("claims", "definitions", "runs")}, indent=1))
    if args.markdown:
        print(markdown(s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
