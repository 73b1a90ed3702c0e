"""``run_summary``: a compact table of the key numbers its dependencies provide."""

from __future__ import annotations

import numpy as np

from argyro_run.results import Result

# (dataset path suffix, column label) picked up from any dependency's Result
_KEYS = [("D0_m2_per_s", "D0 [m2/s]"), ("Ea_eV", "Ea [eV]"), ("Ea_eV_err", "Ea err [eV]"),
         ("sigma_300K_mS_per_cm", "sigma(300 K) [mS/cm]"), ("D_300K_m2_per_s", "D(300 K) [m2/s]")]


def _rows(dep_id: str, res: Result) -> list[tuple[str, str, str, float, str]]:
    rows = []
    for path, arr in sorted(res.datasets.items()):
        name = path.rsplit("/", 1)[-1]
        wanted = any(name == k for k, _ in _KEYS) or "D_eff" in name
        if not wanted:
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


def run_summary(params: dict, deps: dict[str, Result], comm, workdir) -> Result:
    """Table of Arrhenius fits (D0, Ea, sigma(300 K)) and FE effective diffusivities of ``deps``."""
    rows = []
    for dep_id in sorted(deps):
        rows.extend(_rows(dep_id, deps[dep_id]))
    res = Result()
    if rows:
        w1 = max(len(r[0]) for r in rows)
        w2 = max(len(r[1]) for r in rows)
        lines = [f"{'task':<{w1}}  {'quantity':<{w2}}  {'value':>12}  units"]
        lines += [f"{r[0]:<{w1}}  {r[1]:<{w2}}  {r[3]:>12.5g}  {r[2]} {r[4]}".rstrip() for r in rows]
        text = "summary of key results\n" + "\n".join(lines)
    else:
        text = "summary: no Arrhenius fits or effective diffusivities among the dependencies " + \
               f"({', '.join(sorted(deps)) or 'none'})"
    res.add("text", text, "")
    res.add("table/task", np.asarray([r[0] for r in rows], dtype=object), "")
    res.add("table/quantity", np.asarray([r[1] for r in rows], dtype=object), "")
    res.add("table/units", np.asarray([r[2] for r in rows], dtype=object), "")
    res.add("table/value", np.asarray([r[3] for r in rows], dtype=float), "see table/units")
    return res
