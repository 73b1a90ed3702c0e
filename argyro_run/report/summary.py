"""The run summary: the key numbers of a run in a few tables (``summary_text``) and one row per
number (``summary_rows``), from the results of the tasks it depends on. The ``summary`` task
(``report/tasks.py``) keeps both in the archive (``/summary/text``, ``/summary/table/*``) and the
run prints the text at its end.

Sections, each when its stage ran: Arrhenius fits per material (Ea with error, D0, D(300 K) with
error, sigma(300 K), fit quality ok/UNRELIABLE with a line per unreliable fit naming its
non-diffusive temperatures), tracer D(T) per structure, per FE case the sources of its diffusivities and
D_eff/D_bulk per grain size and temperature with Ea_app and the crossover grain size, and the
active-learning record per MTP level (iterations, converged or not, reference calls and atoms,
training-set size, final training errors).
"""

from __future__ import annotations

import numpy as np

from argyro_run.results import Result, as_text

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
    ions = sorted({str(deps[d].get_attrs("").get("species", "")) for d in deps if d.startswith("analysis/")} - {""})
    return [f"{'/'.join(ions) or 'Mobile-ion'} diffusion, Arrhenius fits of MD (extrapolated to 300 K):",
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
    return ["Tracer D(T) of the diffusing species [m2/s] (kinisi: posterior mean +- sd of the all-origins MSD slope):",
            *_table(head, body)]


def _text(res: Result, path: str) -> str:
    return as_text(res.get(path)) if path in res else ""


def _fe_cases(deps: dict) -> list[tuple[str, Result]]:
    return [(d.split("/", 1)[1], deps[d]) for d in sorted(deps) if d.startswith("fe/")
            and "D_eff_over_D_bulk" in deps[d].datasets and np.ndim(deps[d].get("D_eff_over_D_bulk")) == 2]


def _fe_rows(deps: dict) -> list[tuple[str, str, str, float, str]]:
    """Crossover grain size per case and temperature for /summary/table."""
    rows = []
    for name, res in _fe_cases(deps):
        T = np.asarray(res.get("temperatures_K"), float)
        for t, x in zip(T, np.asarray(res.get("crossover_grain_size_nm"), float)):
            rows.append((f"fe/{name}", f"crossover_grain_size_nm/T{t:g}", "nm", float(x), ""))
    return rows


def _fe_lines(deps: dict) -> list[str]:
    cases = _fe_cases(deps)
    if not cases:
        return []
    src_rows = []
    for name, res in cases:
        a = res.attrs.get("", {})
        models = [str(m) for m in np.asarray(res.get("gb_faces/models")).tolist()] if "gb_faces/models" in res.datasets else []
        fr = np.asarray(res.get("gb_faces/fractions"), float) if "gb_faces/fractions" in res.datasets else []
        sig = res.get_attrs("sigma_eff_mS_per_cm")
        src_rows.append([name, a.get("bulk") or "-", ", ".join(f"{m} ({f:.2g})" for m, f in zip(models, fr)) or "-",
                         *(_text(res, f"inputs/{k}/source") for k in ("bulk", "gb_parallel", "gb_perpendicular")),
                         f"{float(sig.get('carrier_density_per_nm3', np.nan)):.3g}"])
    out = ["Polycrystal FE cases: where each diffusivity comes from (md: Arrhenius fit of MD; input: [fe] law):",
           *_table(["case", "bulk", "GB models (face fraction)", "bulk D", "GB parallel D", "GB perpendicular D",
                    "carriers [1/nm3]"], src_rows)]
    for name, res in cases:
        T = np.asarray(res.get("temperatures_K"), float)
        d = np.asarray(res.get("grain_sizes_nm"), float)
        ratio = np.asarray(res.get("D_eff_over_D_bulk"), float)
        ea = np.asarray(res.get("Ea_app_eV"), float)
        cross = np.asarray(res.get("crossover_grain_size_nm"), float)
        tol = float(res.get_attrs("crossover_grain_size_nm").get("tolerance", 0.05))
        body = [[f"{g:g} nm", *(f"{ratio[i, j]:.3g}" for i in range(len(T))), " ".join(f"{x:.3f}" for x in ea[:, j])]
                for j, g in enumerate(d)]
        body.append(["D_bulk [m2/s]", *(f"{x:.3g}" for x in np.asarray(res.get("D_bulk_m2_per_s"), float)), ""])
        body.append([f"crossover (<{tol:.0%})", *("not reached" if not np.isfinite(x) else f"{x:g} nm" for x in cross), ""])
        out += ["", f"Case {name}: D_eff / D_bulk (FE homogenisation, mean of the diagonal) per grain size:",
                *_table(["grain size", *(f"{t:g} K" for t in T), "Ea_app(T) [eV]"], body)]
    return out


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


def summary_rows(deps: dict[str, Result]) -> list[tuple[str, str, str, float, str]]:
    """(task id, dataset path or quantity, units, value, note) of every key number in ``deps``."""
    rows = []
    for dep_id in sorted(deps):
        rows.extend(_rows(dep_id, deps[dep_id]))
    rows.extend(_fe_rows(deps))
    return rows


def summary_text(deps: dict[str, Result], run_name: str = "") -> str:
    """Tables of the run's key numbers from ``deps`` (Arrhenius fits, D(T), FE D_eff, learning)."""
    sections = [s for s in (_arrhenius_lines(deps), _diffusion_lines(deps), _fe_lines(deps), _learning_lines(deps)) if s]
    if not sections:
        return "summary: no Arrhenius fits, diffusivities or effective diffusivities among the dependencies " + \
               f"({', '.join(sorted(deps)) or 'none'})"
    text = f"summary of key results ({run_name})" if run_name else "summary of key results"
    for s in sections:
        text += "\n\n" + "\n".join(s)
    return text
