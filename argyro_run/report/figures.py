"""Figure functions: plain numpy data in, a matplotlib ``Axes`` (or ``Figure``) out.

No pyplot (no global state, no display): figures are ``matplotlib.figure.Figure`` objects saved
with the Agg canvas. The axes-level functions return the ``Axes`` they drew on so tests can read
the plotted data back (each fitted line carries a ``gid`` such as ``"fit:bulk"``).
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from argyro_run.analysis.diffusion import K_B_EV as K_B_eV_per_K  # the analysis owns the constants

M2_PER_S_TO_A2_PER_PS = 1e8       # 1 m^2/s = 1e20 A^2 / 1e12 ps
KIND_COLORS = {"bulk": "C0", "gb_parallel": "C1", "gb_perpendicular": "C2", "tracer": "C0", "bulk_region": "C4"}
KIND_LABELS = {"bulk": "bulk", "gb_parallel": "GB parallel", "gb_perpendicular": "GB perpendicular"}


def new_figure(ncols: int = 1, nrows: int = 1, *, width_in: float = 6.0, height_in: float = 4.5) -> tuple[Figure, list]:
    fig = Figure(figsize=(width_in * ncols, height_in * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save(fig: Figure, path, dpi: int = 120) -> None:
    fig.savefig(path, dpi=dpi)


def log10_errorbars(D, D_err):
    """Error bars of log10(D): the propagated standard error D_err / (D ln 10) (symmetric in
    log10 D, as the Arrhenius fit works in ln D); zero where no error is known."""
    D = np.asarray(D, float)
    e = np.asarray(D_err, float) if D_err is not None else np.zeros_like(D)
    e = np.where(np.isfinite(e) & (e > 0), e, 0.0)
    return e / (D * math.log(10.0))


def arrhenius_fit_line(T, D):
    """Unweighted least squares ln D = ln D0 - Ea / (k_B T): (D0_m2_per_s, Ea_eV) or None (< 2 points)."""
    T, D = np.asarray(T, float), np.asarray(D, float)
    ok = np.isfinite(D) & (D > 0) & np.isfinite(T) & (T > 0)
    if ok.sum() < 2 or len(np.unique(T[ok])) < 2:
        return None
    slope, icpt = np.polyfit(1.0 / T[ok], np.log(D[ok]), 1)
    return float(np.exp(icpt)), float(-slope * K_B_eV_per_K)


def plot_arrhenius(ax, series: list[dict], *, extrapolate_to_K: float = 300.0):
    """log10 D vs 1000/T.

    Each series: ``label``, ``temperatures_K``, ``D_m2_per_s`` (points; may be empty),
    ``D_err_m2_per_s`` (or None), optional ``fit`` = {``D0_m2_per_s``, ``Ea_eV``, optional
    ``Ea_eV_err``, ``D_300K_m2_per_s``, ``D_300K_m2_per_s_err``}, ``color``, ``marker``, ``key``
    (gid suffix). The fitted line is solid over the data's temperature range (gid ``fit:<key>``)
    and dashed from there to ``extrapolate_to_K`` (gid ``extrap:<key>``), where the extrapolated
    value is marked (open marker with its error bar when known).
    """
    x300 = 1000.0 / extrapolate_to_K
    any_extrap = False
    for s in series:
        key = s.get("key", s["label"])
        color = s.get("color")
        T = np.asarray(s.get("temperatures_K", []), float)
        D = np.asarray(s.get("D_m2_per_s", []), float)
        ok = np.isfinite(D) & (D > 0) & (T > 0)
        label = s["label"]
        fit = s.get("fit")
        pts = None
        if ok.any():
            err = s.get("D_err_m2_per_s")
            yerr = log10_errorbars(D[ok], None if err is None else np.asarray(err, float)[ok])
            pts = ax.errorbar(1000.0 / T[ok], np.log10(D[ok]), yerr=yerr, fmt=s.get("marker", "o"), color=color,
                              capsize=3, ms=6, mfc=s.get("mfc", color), label=label if not fit else None,
                              linestyle="none", zorder=3)
            color = pts[0].get_color()
        if not fit:
            continue
        D0, Ea = float(fit["D0_m2_per_s"]), float(fit["Ea_eV"])
        Tdata = T[ok] if ok.any() else np.asarray(s.get("line_temperatures_K", [extrapolate_to_K]), float)
        x_lo, x_hi = 1000.0 / Tdata.max(), 1000.0 / Tdata.min()
        if x_hi == x_lo:
            x_lo, x_hi = x_lo - 0.05, x_hi + 0.05
        xs = np.linspace(x_lo, x_hi, 50)
        ys = np.log10(D0) - Ea * xs / (1000.0 * K_B_eV_per_K * math.log(10.0))
        err_txt = f" ± {fit['Ea_eV_err']:.3f}" if fit.get("Ea_eV_err") is not None and np.isfinite(
            fit.get("Ea_eV_err")) else ""
        (line,) = ax.plot(xs, ys, "-", color=color, lw=1.5, label=f"{label}: Ea = {Ea:.3f}{err_txt} eV", zorder=2)
        line.set_gid(f"fit:{key}")
        color = line.get_color()
        if x300 > x_hi + 1e-12:
            any_extrap = True
            xe = np.linspace(x_hi, x300, 30)
            ye = np.log10(D0) - Ea * xe / (1000.0 * K_B_eV_per_K * math.log(10.0))
            (el,) = ax.plot(xe, ye, "--", color=color, lw=1.2, zorder=2)
            el.set_gid(f"extrap:{key}")
            d300 = fit.get("D_300K_m2_per_s")
            d300 = float(d300) if d300 is not None else float(D0 * math.exp(-Ea / (K_B_eV_per_K * extrapolate_to_K)))
            e300 = fit.get("D_300K_m2_per_s_err")
            yerr = log10_errorbars([d300], [e300] if e300 is not None else None)
            mk = ax.errorbar([x300], [math.log10(d300)], yerr=yerr, fmt=s.get("marker", "o"), mfc="white",
                             color=color, capsize=3, ms=7, zorder=4)
            mk[0].set_gid(f"d300:{key}")
    if any_extrap:
        ax.axvline(x300, color="0.5", lw=0.8, ls=":", zorder=1)
        ax.annotate(f"{extrapolate_to_K:g} K\n(extrapolated)", xy=(x300, 0.02), xycoords=("data", "axes fraction"),
                    ha="right", va="bottom", fontsize=8, color="0.35")
    ax.set_xlabel("1000 / T  [1/K]")
    ax.set_ylabel("log10 D  [m²/s]")
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="best")
    sec = ax.secondary_xaxis("top", functions=(lambda x: 1000.0 / np.where(x == 0, np.nan, x),
                                               lambda t: 1000.0 / np.where(t == 0, np.nan, t)))
    sec.set_xlabel("T  [K]")
    x0, x1 = sorted(ax.get_xlim())
    ticks, last = [], None
    for T in (3000, 2000, 1500, 1200, 1000, 900, 800, 700, 600, 500, 400, 350, 300, 250, 200, 150, 100):
        x = 1000.0 / T
        if x0 <= x <= x1 and (last is None or x - last >= 0.09 * (x1 - x0)):
            ticks.append(T)
            last = x
    if ticks:
        sec.set_xticks(ticks, [f"{t:g}" for t in ticks])
    return ax


def mark_non_diffusive(ax, series: list[dict]):
    """Cross out the MD points of ``series`` whose run was not diffusive (``diffusive`` False: the
    MSD stayed below a few hops), gid ``nondiffusive:<key>``; returns how many were marked."""
    n = 0
    for s in series:
        flags = s.get("diffusive")
        if flags is None:
            continue
        T = np.asarray(s.get("temperatures_K", []), float)
        D = np.asarray(s.get("D_m2_per_s", []), float)
        bad = ~np.asarray(flags, bool) & np.isfinite(D) & (D > 0) & (T > 0)
        if bad.any():
            (m,) = ax.plot(1000.0 / T[bad], np.log10(D[bad]), "x", color="k", ms=10, mew=1.5, zorder=5,
                           label="not diffusive (MSD < a few hops)" if n == 0 else None)
            m.set_gid(f"nondiffusive:{s.get('key', s['label'])}")
            n += int(bad.sum())
    if n:
        ax.legend(fontsize=7, loc="best")
    return n


def plot_apparent_activation(ax_ea, ax_curv, fe_rows: list[dict], input_Ea: dict[str, float] | None = None):
    """Ea_app(T) per grain size (``fe_rows``: ``label``, ``temperatures_K``, ``Ea_app_eV``,
    ``curvature_K2``) with the input activation energies as horizontal reference lines."""
    for i, r in enumerate(fe_rows):
        T = np.asarray(r["temperatures_K"], float)
        o = np.argsort(T)
        c = f"C{(i + 3) % 10}"
        ax_ea.plot(T[o], np.asarray(r["Ea_app_eV"], float)[o], "o-", color=c, label=r["label"])
        if ax_curv is not None:
            ax_curv.plot(T[o], np.asarray(r["curvature_K2"], float)[o], "s-", color=c, label=r["label"])
    for k, ea in (input_Ea or {}).items():
        if ea is not None and np.isfinite(ea):
            ax_ea.axhline(ea, color=KIND_COLORS.get(k, "0.5"), ls="--", lw=1, label=f"{KIND_LABELS.get(k, k)} Ea")
    ax_ea.set_xlabel("T  [K]")
    ax_ea.set_ylabel("apparent Ea = -k_B d ln D_eff / d(1/T)  [eV]")
    ax_ea.grid(True, alpha=0.3)
    ax_ea.legend(fontsize=7)
    if ax_curv is not None:
        ax_curv.axhline(0.0, color="0.5", lw=0.8)
        ax_curv.set_xlabel("T  [K]")
        ax_curv.set_ylabel("d² ln D_eff / d(1/T)²  [K²]  (0: Arrhenius)")
        ax_curv.grid(True, alpha=0.3)
        ax_curv.legend(fontsize=7)
    return ax_ea


def plot_deff_vs_grain_size(ax, case: dict):
    """D_eff / D_bulk vs grain size (log x) of one FE case, one line per temperature, the band
    |D_eff/D_bulk - 1| < tolerance shaded and the crossover grain size of each temperature marked
    (dashed vertical line and star; none where the sweep does not reach it). ``case``:
    ``grain_sizes_nm`` (n_d), ``temperatures_K`` (n_T), ``D_eff_over_D_bulk`` (n_T, n_d),
    ``crossover_grain_size_nm`` (n_T), ``crossover_tolerance``, ``case``."""
    d = np.asarray(case["grain_sizes_nm"], float)
    T = np.asarray(case["temperatures_K"], float)
    ratio = np.asarray(case["D_eff_over_D_bulk"], float).reshape(len(T), len(d))
    cross = np.asarray(case.get("crossover_grain_size_nm", np.full(len(T), np.nan)), float)
    tol = float(case.get("crossover_tolerance", 0.05))
    o = np.argsort(d)
    for i, t in enumerate(T):
        c = f"C{i % 10}"
        (ln,) = ax.plot(d[o], ratio[i, o], "o-", color=c, label=f"{t:g} K")
        ln.set_gid(f"ratio:T{t:g}")
        if np.isfinite(cross[i]):
            y = ratio[i, np.flatnonzero(np.isclose(d, cross[i]))[0]]
            ax.axvline(cross[i], color=c, ls="--", lw=0.8)
            (mk,) = ax.plot([cross[i]], [y], "*", color=c, ms=12, mec="k")
            mk.set_gid(f"crossover:T{t:g}")
    ax.axhspan(1.0 - tol, 1.0 + tol, color="0.85", zorder=0, label=f"|D_eff/D_bulk - 1| < {tol:.0%}")
    ax.axhline(1.0, color="0.5", lw=0.8)
    if len(d) > 1 and d.max() / d.min() > 3:
        ax.set_xscale("log")
    r = ratio[np.isfinite(ratio) & (ratio > 0)]
    if r.size and r.max() / r.min() > 10:
        ax.set_yscale("log")
    ax.set_xlabel("grain size d  [nm]")
    ax.set_ylabel("D_eff / D_bulk  (1: no grain-boundary effect)")
    ax.grid(True, alpha=0.3, which="both")
    ax.set_title(f"{case.get('case', '')}" + (f" (bulk {case['bulk']})" if case.get("bulk") else ""), fontsize=9)
    ax.legend(fontsize=7, title="T (star: crossover)")
    return ax


def plot_msd(ax, curves: list[dict], D_m2_per_s=None, *, dim: int = 3):
    """Total MSD (sum over x, y, z) vs lag time, one curve per temperature, the fit window shaded
    and the fitted line that gives the reported D (gid ``msdfit:T<T>``). ``curves``:
    ``temperature_K``, ``lag_ps``, ``msd_A2`` (n x 3), ``fit_start_ps``, ``fit_end_ps`` and, from the
    analysis (kinisi's posterior means), ``slope_A2_per_ps`` and ``intercept_A2``: the line
    intercept + slope * lag over the window, slope = 2 dim D. Without a stored fit (archives before
    kinisi) the line of slope 2 dim D (``D_m2_per_s``, aligned with ``curves``) goes through the
    MSD's mean inside the window."""
    windows = set()
    for i, c in enumerate(curves):
        lag = np.asarray(c["lag_ps"], float)
        msd = np.asarray(c["msd_A2"], float)
        tot = msd.sum(axis=1) if msd.ndim == 2 else msd
        col = f"C{i % 10}"
        ax.plot(lag, tot, "-", color=col, lw=1.2, label=f"{c['temperature_K']:g} K")
        a, b = float(c["fit_start_ps"]), float(c["fit_end_ps"])
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        windows.add((a, b))
        xs = np.array([a, b])
        if np.isfinite(c.get("slope_A2_per_ps", np.nan)) and np.isfinite(c.get("intercept_A2", np.nan)):
            ys = float(c["intercept_A2"]) + float(c["slope_A2_per_ps"]) * xs
        elif D_m2_per_s is not None and np.isfinite(D_m2_per_s[i]):
            slope = 2 * dim * float(D_m2_per_s[i]) * M2_PER_S_TO_A2_PER_PS
            inw = (lag >= a) & (lag <= b)
            ys = (float(np.mean(tot[inw] - slope * lag[inw])) if inw.any() else 0.0) + slope * xs
        else:
            continue
        (ln,) = ax.plot(xs, ys, "--", color="k", lw=1.0)
        ln.set_gid(f"msdfit:T{c['temperature_K']:g}")
    for k, (a, b) in enumerate(sorted(windows)):
        ax.axvspan(a, b, color="0.85", alpha=0.5, zorder=0, label="fit window" if k == 0 else None)
    ax.set_xlabel("lag time  [ps]")
    ax.set_ylabel("MSD  [Å²]  (x + y + z)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return ax


def plot_active_learning(axes, levels: list[dict]):
    """Four panels over all iterations of all levels (in order): RMSE of forces (validation =
    old potential on the newly labelled data; train = after retraining), max extrapolation
    grade per exploration run (with gamma_select / gamma_break), training set size, reference
    calculations per iteration."""
    ax_err, ax_grade, ax_size, ax_ref = axes
    x0 = 0
    ticks, labels = [], []
    dumped_none_labelled = False
    for lv in levels:
        its = lv["iterations"]
        n = len(its)
        x = np.arange(x0 + 1, x0 + n + 1)
        L = lv["level"]
        if n:
            ax_err.plot(x, [i["val_force"] for i in its], "o-", color="C3", label="validation (before retraining)"
                        if x0 == 0 else None)
            ax_err.plot(x, [i["train_force"] for i in its], "s-", color="C0", label="train (after retraining)"
                        if x0 == 0 else None)
            for xi, it in zip(x, its):
                g = np.asarray(it["max_grades"], float)
                none = int(np.sum(g <= 0))
                g = g[np.isfinite(g) & (g > 0)]
                if g.size:
                    ax_grade.plot(np.full(g.size, xi), g, "o", color="C1", ms=4, alpha=0.7)
                if none and np.isfinite(lv.get("gamma_select", np.nan)):
                    ax_grade.plot([xi], [lv["gamma_select"]], "v", color="0.4", ms=7,
                                  label=None if dumped_none_labelled else "run(s) that dumped no configuration")
                    ax_grade.annotate(f"{none}", (xi, lv["gamma_select"]), xytext=(6, -10),
                                      textcoords="offset points", fontsize=7, color="0.4")
                    dumped_none_labelled = True
            (ls,) = ax_size.plot(x, [i.get("training_set_size", i["train_n_images"]) for i in its], "o-", color="C2")
            ls.set_gid(f"al:size:L{L}")
            ax_ref.bar(x, [i["reference_calls"] for i in its], color="C4", width=0.6)
        if np.isfinite(lv.get("gamma_select", np.nan)):
            ax_grade.hlines([lv["gamma_select"]], x0 + 0.5, x0 + max(n, 1) + 0.5, colors="C2", linestyles="--",
                            label="gamma_select" if x0 == 0 else None)
        if np.isfinite(lv.get("gamma_break", np.nan)):
            ax_grade.hlines([lv["gamma_break"]], x0 + 0.5, x0 + max(n, 1) + 0.5, colors="C3", linestyles=":",
                            label="gamma_break" if x0 == 0 else None)
        for a in axes:
            if x0 > 0:
                a.axvline(x0 + 0.5, color="0.6", lw=0.8)
        ticks += list(x)
        labels += [f"L{L}.{i['index']}" for i in its]
        x0 += max(n, 1)
    ax_err.set_ylabel("force RMSE  [eV/Å]")
    errs = np.array([v for lv in levels for i in lv["iterations"] for v in (i["val_force"], i["train_force"])], float)
    errs = errs[np.isfinite(errs) & (errs > 0)]
    if errs.size and errs.max() > 30 * errs.min():
        ax_err.set_yscale("log")
    ax_grade.set_ylabel("max grade per exploration run")
    ax_grade.set_yscale("log")
    ax_size.set_ylabel("training set size  [configurations]")
    ax_size.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_ref.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_ref.set_ylabel("reference calculations")
    for a in axes:
        a.set_xticks(ticks, labels, fontsize=7, rotation=45 if len(ticks) > 12 else 0)
        a.set_xlabel("level.iteration")
        a.grid(True, alpha=0.3)
    for a in (ax_err, ax_grade):
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7)
    return axes


def slice_tetrahedra(points, cells, z0: float):
    """Polygons (list of (k, 2) arrays, k = 3 or 4) where the plane z = z0 cuts tetrahedra,
    and the index of the tetrahedron of each polygon."""
    P = np.asarray(points, float)
    C = np.asarray(cells, np.int64)
    z = P[C, 2] - z0                                         # (n, 4)
    cross = (z.min(axis=1) < 0) & (z.max(axis=1) > 0)
    idx = np.flatnonzero(cross)
    if not idx.size:
        return [], idx
    Cc, zc = C[idx], z[idx]
    edges = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    pts = np.full((len(idx), 6, 2), np.nan)
    for e, (i, j) in enumerate(edges):
        zi, zj = zc[:, i], zc[:, j]
        m = (zi * zj) < 0
        t = np.where(m, zi / np.where(m, zi - zj, 1.0), np.nan)
        pi, pj = P[Cc[:, i], :2], P[Cc[:, j], :2]
        pts[:, e] = pi + t[:, None] * (pj - pi)
    cen = np.nanmean(pts, axis=1)
    ang = np.arctan2(pts[..., 1] - cen[:, None, 1], pts[..., 0] - cen[:, None, 0])
    order = np.argsort(np.where(np.isnan(ang), np.inf, ang), axis=1)
    pts = np.take_along_axis(pts, order[..., None], axis=1)
    count = np.isfinite(pts[..., 0]).sum(axis=1)
    polys = [pts[k, :count[k]] for k in range(len(idx))]
    return polys, idx


def plot_mesh(ax, points_nm, cells, cell_kind, grain_id, *, z_nm: float | None = None):
    """Cells coloured by grain (light colours), GB cells dark red; a 3-D mesh is cut at
    ``z = z_nm`` (default: the middle of the box). Returns the Axes; the PolyCollection has
    gid ``mesh`` and one face per drawn cell."""
    P = np.asarray(points_nm, float)
    C = np.asarray(cells, np.int64)
    kind = np.asarray(cell_kind).astype(int)
    gid = np.asarray(grain_id).astype(int)
    if P.shape[1] == 2:
        polys = list(P[C])
        sel = np.arange(len(C))
    else:
        if z_nm is None:
            z_nm = 0.5 * (P[:, 2].min() + P[:, 2].max())
        polys, sel = slice_tetrahedra(P, C, z_nm)
    cmap = _grain_colors(int(gid.max()) + 1 if gid.size else 1)
    colors = np.array([cmap[g % len(cmap)] if k == 0 else (0.55, 0.0, 0.0, 1.0)
                       for g, k in zip(gid[sel], kind[sel])]) if len(sel) else np.zeros((0, 4))
    pc = PolyCollection(polys, facecolors=colors, edgecolors=colors, linewidths=0.3)
    pc.set_gid("mesh")
    ax.add_collection(pc)
    ax.set_xlim(P[:, 0].min(), P[:, 0].max())
    ax.set_ylim(P[:, 1].min(), P[:, 1].max())
    ax.set_aspect("equal")
    ax.set_xlabel("x  [nm]")
    ax.set_ylabel("y  [nm]")
    return ax


def _grain_colors(n: int):
    from matplotlib import colormaps

    base = colormaps["Pastel1"].colors + colormaps["Pastel2"].colors + colormaps["Set3"].colors
    return [(*c[:3], 1.0) for c in base][:max(n, 1)] if n <= len(base) else [(*c[:3], 1.0) for c in base]
