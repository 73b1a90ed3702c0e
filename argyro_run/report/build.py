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
    per-temperature points, and the FE D_eff of each grain size (on the material the FE used, or
    a panel of its own with the input laws when the FE diffusivities were given explicitly)."""
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
    md_fe = [r for r in data.fe if r["source"].startswith("md")]
    in_fe = [r for r in data.fe if not r["source"].startswith("md")]
    if in_fe:
        series = []
        for kind, law in in_fe[0]["inputs"].items():
            series.append({"key": f"input_{kind}", "label": F.KIND_LABELS[kind] + " (input)",
                           "temperatures_K": [], "D_m2_per_s": [],
                           "line_temperatures_K": in_fe[0]["temperatures_K"],
                           "fit": {"D0_m2_per_s": law["D0_m2_per_s"], "Ea_eV": law["Ea_eV"]},
                           "color": F.KIND_COLORS[kind]})
        panels.append(["FE with input diffusivities", series])
    for rows, panel in ((md_fe, fe_panel), (in_fe, panels[-1] if in_fe else None)):
        if panel is None:
            continue
        for i, r in enumerate(rows):
            fit = F.arrhenius_fit_line(r["temperatures_K"], r["D_eff_mean_m2_per_s"])
            panel[1].append({"key": f"fe_{r['label']}", "label": f"polycrystal D_eff, d = {r['grain_size_nm']:g} nm",
                             "temperatures_K": r["temperatures_K"], "D_m2_per_s": r["D_eff_mean_m2_per_s"],
                             "D_err_m2_per_s": None, "color": f"C{(i + 3) % 10}", "marker": "s",
                             "fit": None if fit is None else {"D0_m2_per_s": fit[0], "Ea_eV": fit[1]}})
    return [(t, s) for t, s in panels if s]


def _unreliable_tag(f: dict) -> str:
    """Label suffix of an Arrhenius fit flagged unreliable (fewer than 3 diffusive temperatures)."""
    return " [UNRELIABLE fit]" if f.get("fit_quality") == "unreliable" else ""


def _fig_arrhenius(data, rep):
    panels = arrhenius_series(data)
    if not panels:
        return "no Arrhenius fits (arrhenius/<material>) and no FE results (fe/<label>) in the archive"
    fig, axes = F.new_figure(ncols=len(panels), width_in=6.5, height_in=5.0)
    n_bad = 0
    for ax, (title, series) in zip(axes, panels):
        F.plot_arrhenius(ax, series)
        n_bad += F.mark_non_diffusive(ax, series)
        ax.set_title(title)
    rep.captions["arrhenius"] = ("log10 D vs 1000/T: MD diffusivities with block-average error bars, weighted "
                                 "Arrhenius fits (solid), extrapolation to 300 K (dashed, open markers)"
                                 + (", polycrystal D_eff per grain size (squares, least-squares line)"
                                    if data.fe else "") + "."
                                 + (" Crosses: MD runs that were not diffusive (mobile-ion MSD below a few hops); "
                                    "fits marked UNRELIABLE rest on fewer than 3 diffusive temperatures."
                                    if n_bad or any(f.get("fit_quality") == "unreliable" for a in data.arrhenius
                                                    for f in a["fits"].values()) else ""))
    return fig


def _fig_activation(data, rep):
    if not data.fe:
        return "no FE results (fe/<label>)"
    if not any(np.isfinite(r["Ea_app_eV"]).any() for r in data.fe):
        return "the FE sweep has a single temperature; Ea_app needs >= 2 fe.temperatures_K"
    has_curv = any(np.isfinite(r["curvature_K2"]).any() for r in data.fe)
    fig, axes = F.new_figure(ncols=2 if has_curv else 1)
    rows = [{**r, "label": f"d = {r['grain_size_nm']:g} nm"} for r in data.fe]
    ea_in = {k: v["Ea_eV"] for k, v in data.fe[0]["inputs"].items()}
    F.plot_apparent_activation(axes[0], axes[1] if has_curv else None, rows, ea_in)
    rep.captions["activation_energy"] = (
        "Apparent activation energy -k_B d ln D_eff / d(1/T) of the polycrystal per grain size (finite differences "
        "on the FE temperatures); dashed: the activation energies of bulk and GBs the FE used."
        + (" Right: curvature of ln D_eff vs 1/T (0 for a single Arrhenius law)." if has_curv
           else " The curvature panel is left out: it needs >= 3 FE temperatures."))
    return fig


def _fig_deff(data, rep):
    if not data.fe:
        return "no FE results (fe/<label>)"
    rows = [{**r, "D_bulk_m2_per_s": r["inputs"].get("bulk", {}).get("D_m2_per_s")} for r in data.fe]
    fig, (a1, a2) = F.new_figure(ncols=2)
    F.plot_deff_vs_grain_size(a1, a2, rows)
    rep.captions["deff_vs_grain_size"] = ("Left: polycrystal D_eff (trace / dimension) vs grain size at each FE "
                                          "temperature, dotted: bulk D at that temperature. Right: D_eff / D_bulk "
                                          "(below 1: GBs block, above 1: GBs are fast paths).")
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
                rep.captions[name] = ("Total MSD (x + y + z) of the diffusing species vs lag time per temperature; "
                                      "shaded: the fit window; dashed: slope 6 D of the reported D (block mean).")
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
