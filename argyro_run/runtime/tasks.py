"""``run_summary`` (task ``summary``): the key numbers of a run in a few tables, printed at the end of
``argyro-run run`` and kept in the archive (``/summary/text`` and ``/summary/table/*``).

Sections, each when its stage ran: Arrhenius fits per material (Ea with error, D0, D(300 K) with
error, sigma(300 K), fit quality ok/UNRELIABLE with a line per unreliable fit naming its
non-diffusive temperatures), tracer D(T) per structure, polycrystal D_eff(T) per grain size with the
apparent activation energy, and the active-learning record per MTP level (iterations, converged or
not, reference calls and atoms, training-set size, final training errors).
"""

from __future__ import annotations

import numpy as np

from argyro_run.results import Result

# (dataset path suffix, column label) picked up from any dependency's Result for /summary/table
_KEYS = [("D0_m2_per_s", "D0 [m2/s]"), ("Ea_eV", "Ea [eV]"), ("Ea_eV_err", "Ea err [eV]"),
         ("sigma_300K_mS_per_cm", "sigma(300 K) [mS/cm]"), ("D_300K_m2_per_s", "D(300 K) [m2/s]")]


def _rows(dep_id: str, res: Result) -> list[tuple[str, str, str, float, str]]:
    rows = []
    for path, arr in sorted(res.datasets.items()):
        name = path.rsplit("/", 1)[-1]
        wanted = any(name == k for k, _ in _KEYS) or "D_eff" in name
        if not wanted or path.startswith("structures/"):
            continue
        a = np.asarray(arr)
        if a.dtype.kind not in "fiu" or a.ndim > 1:
            continue
        units = str(res.get_attrs(path).get("units", ""))
        if a.size == 1:
            rows.append((dep_id, path, units, float(a.reshape(-1)[0]), ""))
        else:
            rows.append((dep_id, path, units, float(np.mean(a)), f"mean of {a.size}"))
    return rows


def _f(res: Result, path: str, default=float("nan")):
    if path not in res.datasets:
        return default
    a = np.asarray(res.get(path))
    return float(a.reshape(-1)[0]) if a.size else default


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    w = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    fmt = lambda r: indent + "  ".join(str(c).rjust(w[k]) if k else str(c).ljust(w[k])  # noqa: E731
                                       for k, c in enumerate(r)).rstrip()
    return [fmt(header), *(fmt(r) for r in rows)]


def _arrhenius_lines(deps: dict) -> list[str]:
    rows = []
    for dep_id in sorted(d for d in deps if d.startswith("arrhenius/")):
        res = deps[dep_id]
        kinds = sorted({p.split("/")[1] for p in res.datasets if p.startswith("fits/")},
                       key=lambda k: ("bulk", "gb_parallel", "gb_perpendicular").index(k)
                       if k in ("bulk", "gb_parallel", "gb_perpendicular") else 9)
        for k in kinds:
            p = f"fits/{k}/"
            T = np.asarray(res.get(p + "temperatures_K")) if p + "temperatures_K" in res.datasets else np.array([])
            rows.append([dep_id.split("/", 1)[1], k, f"{_f(res, p + 'Ea_eV'):.3f} +- {_f(res, p + 'Ea_eV_err'):.3f}",
                         f"{_f(res, p + 'D0_m2_per_s'):.3g}",
                         f"{_f(res, p + 'D_300K_m2_per_s'):.3g} +- {_f(res, p + 'D_300K_m2_per_s_err'):.2g}",
                         f"{_f(res, p + 'sigma_300K_mS_per_cm'):.3g}",
                         f"{T.min():g}-{T.max():g}" if T.size else "", _fit_flag(res, f"fits/{k}")])
    if not rows:
        return []
    return ["Li diffusion, Arrhenius fits of MD (extrapolated to 300 K):",
            *_table(["material", "diffusion", "Ea [eV]", "D0 [m2/s]", "D(300 K) [m2/s]", "sigma(300 K) [mS/cm]",
                     "T range [K]", "fit"], rows), *_fit_flag_notes(deps)]


def _fit_flag(res: Result, prefix: str) -> str:
    """'ok', 'UNRELIABLE' (fewer than 3 diffusive temperatures) or '' (no flag recorded)."""
    q = str(res.get_attrs(prefix).get("fit_quality", ""))
    return {"ok": "ok", "unreliable": "UNRELIABLE"}.get(q, q)


def _fit_flag_notes(deps: dict) -> list[str]:
    """One line per unreliable fit with its reason and the temperatures that were not diffusive."""
    out = []
    for dep_id in sorted(d for d in deps if d.startswith("arrhenius/")):
        res = deps[dep_id]
        for k in sorted({p.split("/")[1] for p in res.datasets if p.startswith("fits/")}):
            at = res.get_attrs(f"fits/{k}")
            if at.get("fit_quality") != "unreliable":
                continue
            T = np.asarray(res.get(f"fits/{k}/temperatures_K"), float)
            diff = np.asarray(res.get(f"fits/{k}/diffusive"), bool) if f"fits/{k}/diffusive" in res.datasets \
                else np.ones(len(T), bool)
            bad = ", ".join(f"{t:g}" for t, d in zip(T, diff) if not d) or "none"
            out.append(f"  UNRELIABLE {dep_id.split('/', 1)[1]} {k}: {at.get('fit_quality_reason', '')}; "
                       f"not diffusive at T = {bad} K")
    return out


def _diffusion_lines(deps: dict) -> list[str]:
    rows, temps = [], None
    for dep_id in sorted(d for d in deps if d.startswith("analysis/")):
        res = deps[dep_id]
        if "D_m2_per_s" not in res.datasets:
            continue
        T = np.asarray(res.get("temperatures_K"), float)
        D, E = np.asarray(res.get("D_m2_per_s"), float), np.asarray(res.get("D_err_m2_per_s"), float)
        temps = T if temps is None or len(T) > len(temps) else temps
        rows.append((dep_id.split("/", 1)[1], dict(zip(T.tolist(), zip(D.tolist(), E.tolist())))))
    if not rows:
        return []
    head = ["structure", *(f"{t:g} K" for t in temps)]
    body = [[name, *(f"{v[t][0]:.3g} +- {v[t][1]:.1g}" if t in v else "-" for t in temps.tolist())]
            for name, v in rows]
    return ["Tracer D(T) of the diffusing species [m2/s] (block-averaged MSD slope):", *_table(head, body)]


def _fe_lines(deps: dict) -> list[str]:
    rows, temps = [], None
    for dep_id in sorted((d for d in deps if d.startswith("fe/")),
                         key=lambda d: deps[d].attrs.get("", {}).get("grain_size_nm", 0.0)):
        res = deps[dep_id]
        if "D_eff_mean_m2_per_s" not in res.datasets:
            continue
        T = np.asarray(res.get("temperatures_K"), float)
        temps = T
        d = res.attrs.get("", {}).get("grain_size_nm")
        ea = np.asarray(res.get("Ea_app_eV"), float) if "Ea_app_eV" in res.datasets else np.full(len(T), np.nan)
        rows.append([f"{d:g} nm" if d is not None else dep_id,
                     *(f"{x:.3g}" for x in np.asarray(res.get("D_eff_mean_m2_per_s"), float)),
                     " ".join(f"{x:.3f}" for x in ea)])
    if not rows:
        return []
    return ["Polycrystal effective diffusivity D_eff [m2/s] (FE homogenisation, mean of the diagonal):",
            *_table(["grain size", *(f"{t:g} K" for t in temps), "Ea_app(T) [eV]"], rows)]


def _learning_lines(deps: dict) -> list[str]:
    rows = []
    for dep_id in sorted(d for d in deps if d.startswith("learning/level")):
        res = deps[dep_id]
        its = sorted({int(p.split("/")[1]) for p in res.datasets if p.startswith("iterations/")})
        attrs = res.attrs.get("", {})
        conv = attrs.get("converged")
        last = f"iterations/{its[-1]}/train/" if its else "initial_train/"
        k = len(its) - 1
        while k >= 0 and f"iterations/{its[k]}/train/rmse_force_eV_per_A" not in res.datasets:
            k -= 1
        last = f"iterations/{its[k]}/train/" if k >= 0 else "initial_train/"
        n_train = int(_f(res, last + "n_images", 0))
        rows.append([dep_id.split("/", 1)[1], str(len(its)),
                     "yes" if conv else ("no" if conv is not None else "?"),
                     f"{int(_f(res, 'reference_calls', 0))} ({int(_f(res, 'reference_atoms', 0))} atoms, "
                     f"{_f(res, 'reference_wall_s', 0.0):.0f} s)",
                     str(n_train), f"{_f(res, last + 'rmse_energy_meV_per_atom'):.2f}",
                     f"{_f(res, last + 'rmse_force_eV_per_A'):.3f}"])
    if not rows:
        return []
    return ["Active learning (MTP, reference calculator labels):",
            *_table(["level", "iterations", "converged", "reference calls", "training configs",
                     "RMSE E [meV/atom]", "RMSE F [eV/A]"], rows)]


def run_summary(params: dict, deps: dict[str, Result], comm, workdir) -> Result:
    """Tables of the run's key numbers from ``deps`` (Arrhenius fits, D(T), FE D_eff, learning)."""
    rows = []
    for dep_id in sorted(deps):
        rows.extend(_rows(dep_id, deps[dep_id]))
    name = (params.get("run") or {}).get("name", "")
    sections = [s for s in (_arrhenius_lines(deps), _diffusion_lines(deps), _fe_lines(deps), _learning_lines(deps)) if s]
    if sections:
        text = f"summary of key results ({name})" if name else "summary of key results"
        for s in sections:
            text += "\n\n" + "\n".join(s)
    else:
        text = "summary: no Arrhenius fits, diffusivities or effective diffusivities among the dependencies " + \
               f"({', '.join(sorted(deps)) or 'none'})"
    res = Result()
    res.add("text", text, "")
    res.add("table/task", np.asarray([r[0] for r in rows], dtype=object), "")
    res.add("table/quantity", np.asarray([r[1] for r in rows], dtype=object), "")
    res.add("table/units", np.asarray([r[2] for r in rows], dtype=object), "")
    res.add("table/value", np.asarray([r[3] for r in rows], dtype=float), "see table/units")
    return res
