"""``make_report(archive, out_dir)``: every figure whose data is in the archive + ``summary.md``."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from argyro_run.report import figures as F
from argyro_run.report.collect import FIT_KINDS, ReportData, collect

log = logging.getLogger(__name__)


@dataclass
class Report:
    out_dir: Path
    summary: Path
    figures: dict[str, Path] = field(default_factory=dict)   # figure name -> PNG path
    skipped: dict[str, str] = field(default_factory=dict)    # figure name -> why it was not drawn
    captions: dict[str, str] = field(default_factory=dict)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "x"


def arrhenius_series(data: ReportData) -> list[tuple[str, list[dict]]]:
    """(panel title, series) for the Arrhenius figure: per material the bulk/GB fits with their
    per-temperature points, and each FE case's D_eff at its smallest and largest grain size (on its
    material's panel, or a panel of its own with the input laws when its diffusivities were given)."""
    panels = []
    fe_panel = None
    for k, arr in enumerate(data.arrhenius):
        series = []
        for kind in FIT_KINDS:
            f = arr["fits"].get(kind)
            if f is None:
                continue
            fit = None
            if f.get("Ea_eV") is not None:
                fit = {k2: f[k2] for k2 in ("D0_m2_per_s", "Ea_eV", "Ea_eV_err", "D_300K_m2_per_s",
                                            "D_300K_m2_per_s_err")}
            series.append({"key": kind, "label": F.KIND_LABELS[kind] + " (MD)" + _unreliable_tag(f),
                           "temperatures_K": f["temperatures_K"],
                           "D_m2_per_s": f["D_m2_per_s"], "D_err_m2_per_s": f["D_err_m2_per_s"], "fit": fit,
                           "color": F.KIND_COLORS[kind], "marker": "o", "diffusive": f.get("diffusive")})
        panels.append([f"{arr['material']}", series])
        if k == 0:
            fe_panel = panels[-1]
    by_material = {p[0]: p for p in panels}
    in_fe = [c for c in data.fe if not c["md"]]
    if in_fe:
        series = []
        for kind, law in in_fe[0]["inputs"].items():
            series.append({"key": f"input_{kind}", "label": F.KIND_LABELS[kind] + " (input)",
                           "temperatures_K": [], "D_m2_per_s": [],
                           "line_temperatures_K": in_fe[0]["temperatures_K"],
                           "fit": {"D0_m2_per_s": float(law["D0_m2_per_s"][0]), "Ea_eV": float(law["Ea_eV"][0])},
                           "color": F.KIND_COLORS[kind]})
        panels.append(["FE with input diffusivities", series])
    k = 0
    for c in data.fe:
        panel = by_material.get(c["material"]) if c["md"] else panels[-1]
        if panel is None:
            if not panels:
                panels.append(["polycrystal FE", []])
            panel = fe_panel or panels[-1]
        d = c["grain_sizes_nm"]
        for j in sorted({int(np.argmin(d)), int(np.argmax(d))}):  # the smallest and the largest grains
            D = c["D_eff_mean_m2_per_s"][:, j]
            fit = F.arrhenius_fit_line(c["temperatures_K"], D)
            panel[1].append({"key": f"fe_{c['label']}_d{d[j]:g}nm",
                             "label": f"D_eff {c['case']}, d = {d[j]:g} nm",
                             "temperatures_K": c["temperatures_K"], "D_m2_per_s": D,
                             "D_err_m2_per_s": None, "color": f"C{(k + 3) % 10}", "marker": "s",
                             "fit": None if fit is None else {"D0_m2_per_s": fit[0], "Ea_eV": fit[1]}})
            k += 1
    return [(t, s) for t, s in panels if s]


def _unreliable_tag(f: dict) -> str:
    """Label suffix of an Arrhenius fit flagged unreliable (fewer than 3 diffusive temperatures)."""
    return " [UNRELIABLE fit]" if f.get("fit_quality") == "unreliable" else ""


def _fig_arrhenius(data, rep):
    panels = arrhenius_series(data)
    if not panels:
        return "no Arrhenius fits (arrhenius/<material>) and no FE results (fe/<case>) in the archive"
    fig, axes = F.new_figure(ncols=len(panels), width_in=6.5, height_in=5.0)
    n_bad = 0
    for ax, (title, series) in zip(axes, panels):
        F.plot_arrhenius(ax, series)
        n_bad += F.mark_non_diffusive(ax, series)
        ax.set_title(title)
    rep.captions["arrhenius"] = ("log10 D vs 1000/T: MD diffusivities with block-average error bars, weighted "
                                 "Arrhenius fits (solid), extrapolation to 300 K (dashed, open markers)"
                                 + (", polycrystal D_eff of each FE case at its smallest and largest grain size "
                                    "(squares, least-squares line)"
                                    if data.fe else "") + "."
                                 + (" Crosses: MD runs that were not diffusive (mobile-ion MSD below a few hops); "
                                    "fits marked UNRELIABLE rest on fewer than 3 diffusive temperatures."
                                    if n_bad or any(f.get("fit_quality") == "unreliable" for a in data.arrhenius
                                                    for f in a["fits"].values()) else ""))
    return fig


def _fig_activation(data, rep):
    if not data.fe:
        return "no FE results (fe/<case>)"
    if not any(np.isfinite(c["Ea_app_eV"]).any() for c in data.fe):
        return "the FE sweep has a single temperature; Ea_app needs >= 2 fe.temperatures_K"
    has_curv = any(np.isfinite(c["curvature_K2"]).any() for c in data.fe)
    n = len(data.fe)
    fig, axes = F.new_figure(ncols=n, nrows=2 if has_curv else 1, width_in=5.5, height_in=4.0)
    for i, c in enumerate(data.fe):
        rows = [{"label": f"d = {g:g} nm", "temperatures_K": c["temperatures_K"], "Ea_app_eV": c["Ea_app_eV"][:, j],
                 "curvature_K2": c["curvature_K2"][:, j]} for j, g in enumerate(c["grain_sizes_nm"])]
        ea_in = {k: float(v["Ea_eV"][0]) for k, v in c["inputs"].items() if len(v["Ea_eV"]) == 1}
        F.plot_apparent_activation(axes[i], axes[n + i] if has_curv else None, rows, ea_in)
        axes[i].set_title(f"case {c['case']}", fontsize=9)
    rep.captions["activation_energy"] = (
        "Apparent activation energy -k_B d ln D_eff / d(1/T) per FE case (columns) and grain size (finite "
        "differences on the FE temperatures); dashed: the activation energies the FE used (a single law per kind)."
        + (" Bottom: curvature of ln D_eff vs 1/T (0 for a single Arrhenius law)." if has_curv
           else " The curvature row is left out: it needs >= 3 FE temperatures."))
    return fig


def _fig_deff(data, rep):
    if not data.fe:
        return "no FE results (fe/<case>)"
    if all(len(c["grain_sizes_nm"]) < 2 for c in data.fe):
        return "a single grain size per FE case; D_eff / D_bulk vs d needs >= 2 microstructure.grain_sizes_nm"
    fig, axes = F.new_figure(ncols=len(data.fe), width_in=5.5, height_in=4.5)
    for ax, c in zip(axes, data.fe):
        F.plot_deff_vs_grain_size(ax, c)
    tol = data.fe[0]["crossover_tolerance"]
    rep.captions["deff_vs_grain_size"] = (
        "D_eff / D_bulk (trace of the effective tensor / dimension over the grains' D) vs grain size, one panel per "
        "FE case, one line per temperature (below 1: GBs block, above 1: GBs are fast paths). Shaded: within "
        f"{tol:.0%} of 1; star and dashed line: the crossover grain size, from which on every larger grain size of "
        "the sweep stays in that band (not drawn where the sweep does not reach it).")
    return fig


def _fig_msd(d):
    fig, (ax,) = F.new_figure()
    D = {float(t): v for t, v in zip(d["temperatures_K"], d["D_m2_per_s"])}
    F.plot_msd(ax, d["msd"], [D.get(c["temperature_K"], np.nan) for c in d["msd"]])
    ax.set_title(f"{d['material']} / {d['structure']}: {d['species']} MSD")
    return fig


def _fig_al(data, rep):
    if not data.learning:
        return "no active-learning results (learning/level<L>)"
    if not any(lv["iterations"] for lv in data.learning):
        return "the active-learning levels ran no iterations"
    fig, axes = F.new_figure(ncols=2, nrows=2, width_in=6.0, height_in=4.0)
    F.plot_active_learning(axes, data.learning)
    rep.captions["active_learning"] = (
        "Per iteration (level.iteration): force RMSE of the potential on the newly labelled data before retraining "
        "(validation) and on all data after it (train); the largest extrapolation grade of each exploration run "
        "with gamma_select/gamma_break; training set size; reference calculations.")
    return fig


def _fig_mesh(m):
    fig, (ax,) = F.new_figure(width_in=6.0, height_in=6.0)
    F.plot_mesh(ax, m["points_nm"], m["cells"], m["cell_kind"], m["grain_id"])
    dim = int(m.get("dimension") or m["points_nm"].shape[1])
    where = "" if dim == 2 else ", slice z = box/2"
    kind = f"{m['kind']} " if m.get("kind") else ""
    box = float(m.get("box_nm") or 0)
    ax.set_title(f"{m['label']}: {kind}polycrystal, {m.get('n_grains')} grains, box {box:.3g} nm"
                 f"{where}\n"
                 f"GB cells dark red (thickness {m.get('gb_thickness_nm')} nm, GB volume fraction "
                 f"{float(m.get('gb_volume_fraction') or np.nan):.3f})", fontsize=9)
    return fig


def make_report(archive, out_dir, *, dpi: int = 120) -> Report:
    """Write the PNG figures the archive has data for and ``summary.md`` into ``out_dir``."""
    from argyro_run.report.markdown import write_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = collect(archive)
    rep = Report(out_dir=out_dir, summary=out_dir / "summary.md")

    def attempt(name: str, fn, *args):
        path = out_dir / f"{name}.png"
        try:
            got = fn(*args)
            if not isinstance(got, str):
                F.save(got, path, dpi=dpi)
        except Exception as exc:  # one broken figure must not cost the others or the summary
            log.exception("figure %s failed", name)
            got = f"drawing failed: {type(exc).__name__}: {exc}"
        if isinstance(got, str):
            rep.skipped[name] = got
        else:
            rep.figures[name] = path

    attempt("arrhenius", _fig_arrhenius, data, rep)
    attempt("activation_energy", _fig_activation, data, rep)
    attempt("deff_vs_grain_size", _fig_deff, data, rep)
    if data.diffusion:
        for d in data.diffusion:
            if d["msd"]:
                name = f"msd_{_safe(d['material'])}_{_safe(d['structure'])}"
                attempt(name, _fig_msd, d)
                rep.captions[name] = ("Total MSD (x + y + z, all time origins of the whole run) of the diffusing "
                                      "species vs lag time per temperature, up to the end of the fit window; shaded: "
                                      "the fit window; dashed: the fitted line (kinisi's posterior mean, slope 6 D) "
                                      "that gives the reported D.")
            else:
                name = f"msd_{_safe(d['material'])}_{_safe(d['structure'])}"
                rep.skipped[name] = "no MSD curves in the analysis result"
    else:
        rep.skipped["msd"] = "no diffusion analysis results (analysis/<material>/<structure>)"
    attempt("active_learning", _fig_al, data, rep)
    if data.microstructure:
        for m in data.microstructure:
            name = f"mesh_{_safe(m['label'])}"
            if m["points_nm"] is None or m["cells"] is None:
                rep.skipped[name] = "the microstructure result holds no mesh/points_nm, mesh/cells"
                continue
            attempt(name, _fig_mesh, m)
            rep.captions[name] = ("Mesh cells coloured by grain, grain-boundary cells dark red"
                                  + (" (3-D mesh: cut at z = box/2)." if int(m.get("dimension") or 2) == 3 else "."))
    else:
        rep.skipped["mesh"] = "no microstructure results (microstructure/<label>)"
    write_summary(data, rep)
    return rep
