"""``summary.md``: run, versions, figures (and the ones skipped), tasks, per-stage tables."""

from __future__ import annotations

import numpy as np

from argyro_run.report.collect import ReportData

NA = "n/a"


def fmt(x, spec: str = ".4g") -> str:
    """Number for a table cell (``n/a`` for None/NaN); 4 significant digits by default."""
    if x is None:
        return NA
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not np.isfinite(v):
        return NA
    return format(v, spec)


def pm(x, e) -> str:
    return fmt(x) if e is None or not np.isfinite(float(e)) else f"{fmt(x)} ± {fmt(e, '.2g')}"


def _cell(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def _run_section(data: ReportData) -> list[str]:
    p = data.provenance
    name = p.get("run_name", "(unnamed)")
    lines = [f"# argyro-run report: {name}", ""]
    lines += table(["item", "value"], [
        ["archive", f"`{data.archive_path}`"], ["input", f"`{p.get('input_path', NA)}`"],
        ["started", p.get("start_time", NA)], ["finished", p.get("end_time", "(unfinished)")],
        ["run status", p.get("status", NA)], ["MPI ranks", p.get("mpi_size", NA)],
        ["host", p.get("host", NA)], ["platform", p.get("platform", NA)]])
    v = data.versions
    if v:
        lines += ["## Versions", ""] + table(["package", "version"], [[k, v[k]] for k in sorted(v)])
    return lines


def _figures_section(rep) -> list[str]:
    lines = ["## Figures", ""]
    if rep.figures:
        for name, path in rep.figures.items():
            cap = rep.captions.get(name, "")
            lines += [f"### {name}", "", f"![{name}]({path.name})", ""]
            if cap:
                lines += [cap, ""]
    else:
        lines += ["No figure: the archive holds none of the results they need.", ""]
    if rep.skipped:
        lines += ["Figures not drawn:", ""] + table(["figure", "why"], [[k, v] for k, v in rep.skipped.items()])
    lines += ["How to read each figure: `docs/report.md` of argyro-run.", ""]
    return lines


def _task_section(data: ReportData) -> list[str]:
    if not data.tasks:
        return ["## Tasks", "", "The archive holds no task.", ""]
    counts: dict[str, int] = {}
    for t in data.tasks:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    lines = ["## Tasks", "", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), ""]
    bad = [t for t in data.tasks if t["status"] != "done"]
    if bad:
        lines += ["### Failed, skipped or not run", ""]
        lines += table(["task", "kind", "status", "message"], [[t["id"], t["kind"], t["status"], t["message"] or ""]
                                                                for t in bad])
    lines += table(["task", "kind", "status", "wall [s]"],
                   [[t["id"], t["kind"], t["status"], fmt(t["wall_s"], ".3g")] for t in data.tasks])
    return lines


def _structures_section(data: ReportData) -> list[str]:
    if not data.structures:
        return []
    rows = [[s["material"], s["name"], s["n_atoms"], s["formula"],
             " × ".join(fmt(x, ".3f") for x in s["cell_lengths_A"]),
             (f"Σ{s['gb_sigma']} ({s['gb_plane']})" if s["is_gb"] else "")] for s in data.structures]
    return ["## Structures", ""] + table(["material", "structure", "atoms", "formula", "cell lengths [Å]", "GB"], rows)


def _learning_section(data: ReportData) -> list[str]:
    if not data.learning:
        return []
    lines = ["## Active learning", ""]
    rows = []
    for lv in data.learning:
        its = lv["iterations"]
        last = its[-1] if its else {}
        size = lv["n_training_final"] if lv["n_training_final"] is not None else last.get(
            "training_set_size", lv.get("initial_n_images"))
        rows.append([lv["level"], len(its), "yes" if lv["converged"] else "no", lv["reason"],
                     fmt(size), fmt(lv["reference_calls"], ".0f"),
                     fmt(lv["initial_train_force"]), fmt(lv["final_train_force"]), fmt(lv["final_train_energy"]),
                     fmt(lv["wall_s"], ".3g")])
    lines += table(["level", "iterations", "converged", "reason", "training set", "reference calls",
                    "initial force RMSE [eV/Å]", "final force RMSE [eV/Å]", "final energy RMSE [meV/atom]",
                    "wall [s]"],
                   rows)
    rows = []
    for lv in data.learning:
        for it in lv["iterations"]:
            g = np.asarray(it["max_grades"], float)
            g = g[np.isfinite(g) & (g > 0)]    # 0: the run dumped no configuration
            rows.append([lv["level"], it["index"], fmt(it["n_explorations"], ".0f"), fmt(it["n_broken"], ".0f"),
                         fmt(np.max(g)) if g.size else "none dumped", fmt(it["n_selected"], ".0f"),
                         fmt(it["n_added"], ".0f"),
                         fmt(it["reference_calls"], ".0f"), fmt(it["val_force"]), fmt(it["train_force"]),
                         fmt(it["training_set_size"], ".0f")])
    if rows:
        lines += ["Per iteration:", ""]
        lines += table(["level", "iteration", "explorations", "broken", "max grade", "selected", "added",
                        "reference calls", "validation force RMSE [eV/Å]", "train force RMSE [eV/Å]", "training set"],
                       rows)
    return lines


def _md_section(data: ReportData) -> list[str]:
    if not data.md:
        return []
    rows = [[m["task"], m["n_atoms"], fmt(m["temperature_K"], "g"), fmt(m["mean_temperature_K"], ".1f"), m["steps"],
             fmt(m["production_ps"], "g"), fmt(m["wall_s"], ".3g")] for m in data.md]
    return ["## MD runs", ""] + table(["task", "atoms", "T target [K]", "T mean [K]", "steps", "production [ps]",
                                       "wall [s]"], rows)


def _diffusion_section(data: ReportData) -> list[str]:
    if not data.diffusion:
        return []
    lines = ["## Diffusivity per temperature", ""]
    rows = []
    any_gb = any(d["gb"] for d in data.diffusion)
    for d in data.diffusion:
        for i, T in enumerate(d["temperatures_K"]):
            sig = d["sigma_mS_per_cm"][i] if d["sigma_mS_per_cm"] is not None else None
            ci, bm, bs = d.get("D_ci95_m2_per_s"), d.get("D_block_mean_m2_per_s"), d.get("D_block_sem_m2_per_s")
            row = [d["material"], d["structure"], fmt(T, "g"), fmt(d["D_m2_per_s"][i]), fmt(d["D_err_m2_per_s"][i]),
                   f"{fmt(ci[i][0])} - {fmt(ci[i][1])}" if ci is not None else "",
                   pm(bm[i], bs[i]) if bm is not None and bs is not None else "", fmt(sig)]
            if any_gb:
                for k in ("D_parallel", "D_perpendicular", "D_bulk_region"):
                    v = d["gb"].get(k)
                    row.append(pm(v[0][i], v[1][i]) if v is not None else "")
            rows.append(row)
    head = ["material", "structure", "T [K]", "D [m²/s]", "D err [m²/s]", "D 95 % interval [m²/s]",
            "block cross-check [m²/s]", "σ [mS/cm]"]
    if any_gb:
        head += ["GB parallel D [m²/s]", "GB perpendicular D [m²/s]", "bulk-region D [m²/s]"]
    return lines + table(head, rows) + [
        "D: tracer diffusivity of the species, the posterior mean of kinisi's Bayesian regression of the "
        "all-origins MSD over the fit window (the MSD's covariance between lags included); D err: posterior "
        "standard deviation; 95 % interval: 2.5-97.5 % posterior percentiles. Block cross-check: mean +- "
        "standard error of the analysis blocks' least-squares D (the former estimator, not used further); "
        "σ: Nernst-Einstein conductivity.", ""]


def _jumps_section(data: ReportData) -> list[str]:
    rows = []
    for d in data.diffusion:
        j = d.get("jumps")
        if j is None:
            continue
        for i, T in enumerate(d["temperatures_K"]):
            rows.append([d["material"], d["structure"], fmt(T, "g"),
                         *(pm(j["rate_per_ps"][i, k], j["rate_err_per_ps"][i, k]) for k in range(3)),
                         fmt(j["D_cage_m2_per_s"][i]), fmt(j["D_over_D_cage"][i], ".3g")])
    if not rows:
        return []
    head = ["material", "structure", "T [K]", "doublet [1/ps]", "intracage [1/ps]", "intercage [1/ps]",
            "D cage walk [m²/s]", "D / D cage"]
    return ["## Li jumps between 48h sites", ""] + table(head, rows) + [
        "Jumps per Li ion and ps (Poisson error) within a 48h pair, between pairs of one cage and between "
        "cages (analysis/jumps.py); D cage walk: intercage rate x (4c-4c distance)² / 6. D / D cage near 1: "
        "uncorrelated intercage jumps carry the diffusion; below 1: back jumps.", ""]


def _fit_rows(label_cols: list, f: dict) -> list:
    return [*label_cols, fmt(f["Ea_eV"]), fmt(f["Ea_eV_err"]), fmt(f["D0_m2_per_s"]), fmt(f["D0_m2_per_s_err"]),
            fmt(f["D_300K_m2_per_s"]), fmt(f["D_300K_m2_per_s_err"]), fmt(f["sigma_300K_mS_per_cm"]),
            len(f["temperatures_K"]), f["no_fit"] or f["source"]]


FIT_HEAD = ["Ea [eV]", "Ea err [eV]", "D0 [m²/s]", "D0 err [m²/s]", "D(300 K) [m²/s]", "D(300 K) err [m²/s]",
            "σ(300 K) [mS/cm]", "temperatures", "source / note"]


def _arrhenius_section(data: ReportData) -> list[str]:
    if not data.arrhenius:
        return []
    lines = ["## Arrhenius fits", ""]
    rows = [_fit_rows([a["material"], k], f) for a in data.arrhenius for k, f in a["fits"].items()]
    lines += table(["material", "kind", *FIT_HEAD], rows)
    rows = [_fit_rows([a["material"], s, k], f)
            for a in data.arrhenius for (s, k), f in sorted(a["structures"].items())]
    if rows:
        lines += ["Per structure:", ""] + table(["material", "structure", "set", *FIT_HEAD], rows)
    notes = [f"{a['material']}: {a['notes']}" for a in data.arrhenius if a["notes"]]
    if notes:
        lines += ["Notes: " + "; ".join(notes), ""]
    return lines + _fit_quality_lines(data)


def _fit_quality_lines(data: ReportData) -> list[str]:
    """Honest-MD flags: every fit's quality and the temperatures whose MD was not diffusive."""
    rows = []
    for a in data.arrhenius:
        for k, f in a["fits"].items():
            if not f.get("fit_quality"):
                continue
            T = np.asarray(f["temperatures_K"], float)
            bad = [f"{t:g} K" for t, d in zip(T, f["diffusive"]) if not d]
            rows.append([a["material"], k, "**UNRELIABLE**" if f["fit_quality"] == "unreliable" else "ok",
                         ", ".join(bad) or "none", f["fit_quality_reason"]])
    if not rows:
        return []
    return ["Fit quality (a run is diffusive when the mobile-ion MSD at the end of the fit window reaches a few "
            "hops; a reliable fit needs 3 diffusive temperatures):", ""] + \
        table(["material", "kind", "fit", "not diffusive", "reason"], rows)


def _fe_section(data: ReportData) -> list[str]:
    if not data.fe:
        return []
    lines = ["## Polycrystal FE", "", "Cases and where each diffusivity comes from (md: Arrhenius fit of the MD of that "
             "structure; input: the [fe] law):", ""]
    rows = [[c["case"], c["bulk"] or NA,
             ", ".join(f"{m} ({f:.3g})" for m, f in zip(c["gb_models"], c["gb_fractions"])) or NA,
             *(c["inputs"].get(k, {}).get("source", NA) for k in ("bulk", "gb_parallel", "gb_perpendicular")),
             f"{fmt(c['carrier_density_per_nm3'])} ({c['carrier_density_source']})"] for c in data.fe]
    lines += table(["case", "bulk", "GB models (face fraction)", "bulk D", "GB parallel D", "GB perpendicular D",
                    "carriers [1/nm³]"], rows)
    rows = [[c["case"], k, m, fmt(float(v["D0_m2_per_s"][i])), fmt(float(v["Ea_eV"][i]))]
            for c in data.fe for k, v in c["inputs"].items() for i, m in enumerate(v["models"])]
    lines += ["Arrhenius laws the FE used:", ""] + table(["case", "kind", "model", "D0 [m²/s]", "Ea [eV]"], rows)
    for c in data.fe:
        T, d = c["temperatures_K"], c["grain_sizes_nm"]
        rows = []
        for i, t in enumerate(T):
            for j, g in enumerate(d):
                rows.append([fmt(t, "g"), fmt(g, "g"), fmt(c["D_eff_mean_m2_per_s"][i, j]),
                             fmt(c["D_eff_over_D_bulk"][i, j]), fmt(c["sigma_eff_mS_per_cm"][i, j]),
                             fmt(c["Ea_app_eV"][i, j]), fmt(c["curvature_K2"][i, j])])
        lines += [f"### Case {c['case']}", "", f"Boundary conditions {c['bc']}, GB model {c['gb_model'] or NA}, "
                  f"meshes {c['microstructure']}.", ""]
        lines += table(["T [K]", "grain size [nm]", "D_eff [m²/s]", "D_eff / D_bulk", "σ_eff [mS/cm]",
                        "Ea_app [eV]", "curvature [K²]"], rows)
        cross = ["not reached" if not np.isfinite(x) else f"{x:g} nm" for x in c["crossover_grain_size_nm"]]
        lines += table(["T [K]", "D_bulk [m²/s]", "crossover grain size"],
                       [[fmt(t, "g"), fmt(c["D_bulk_m2_per_s"][i]), cross[i]] for i, t in enumerate(T)])
    tol = data.fe[0]["crossover_tolerance"]
    lines += [f"D_eff: trace of the effective tensor / dimension; σ_eff: Nernst-Einstein (Haven ratio 1); crossover "
              f"grain size: the smallest d of the sweep from which on |D_eff/D_bulk - 1| < {tol:.0%} for every "
              "larger d.", ""]
    return lines


def _micro_section(data: ReportData) -> list[str]:
    if not data.microstructure:
        return []
    rows = [[m["label"], m.get("kind"), m.get("dimension"), m.get("n_grains"), fmt(m.get("grain_size_nm"), "g"),
             fmt(m.get("box_nm"), ".4g"), fmt(m.get("gb_thickness_nm"), "g"), fmt(m.get("gb_volume_fraction")),
             m.get("n_cells"), f"`{m.get('xdmf')}`" if m.get("xdmf") else ""] for m in data.microstructure]
    return ["## Microstructures", ""] + table(["mesh", "kind", "dim", "grains", "grain size [nm]", "box [nm]",
                                               "GB thickness [nm]", "GB volume fraction", "cells", "XDMF (ParaView)"],
                                              rows)


def render_summary(data: ReportData, rep) -> str:
    lines = _run_section(data)
    lines += _figures_section(rep)
    for sec in (_task_section, _structures_section, _learning_section, _md_section, _diffusion_section, _jumps_section,
                _arrhenius_section, _fe_section, _micro_section):
        lines += sec(data)
    toml = data.provenance.get("input_toml")
    if toml:
        lines += ["## Input", "", "```toml", str(toml).rstrip(), "```", ""]
    return "\n".join(lines)


def write_summary(data: ReportData, rep) -> None:
    rep.summary.write_text(render_summary(data, rep), encoding="utf-8")
