"""Read a results archive into plain Python/numpy data for the figures and the summary.

Everything here goes through :func:`argyro_run.archive.open_archive`; large MD trajectories are
never loaded (only the few MD thermo/attribute values the summary shows).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from argyro_run.archive import open_archive
from argyro_run.results import as_text

log = logging.getLogger(__name__)

FIT_KINDS = ("bulk", "gb_parallel", "gb_perpendicular")
FIT_FIELDS = ("D0_m2_per_s", "D0_m2_per_s_err", "Ea_eV", "Ea_eV_err", "D_300K_m2_per_s", "D_300K_m2_per_s_err",
              "sigma_300K_mS_per_cm")


def _f(x) -> float:
    return float(np.asarray(x, float).reshape(-1)[0])


@dataclass
class ReportData:
    """What the report shows; every list is empty when the archive holds no such results."""

    archive_path: str
    provenance: dict[str, Any] = field(default_factory=dict)
    tasks: list[dict] = field(default_factory=list)          # id, kind, status, wall_s, message
    structures: list[dict] = field(default_factory=list)     # material, name, n_atoms, formula, ...
    learning: list[dict] = field(default_factory=list)       # one per learning/level<L> task
    md: list[dict] = field(default_factory=list)             # one per md/... task (attrs + mean T)
    diffusion: list[dict] = field(default_factory=list)      # one per analysis/<mat>/<structure>
    arrhenius: list[dict] = field(default_factory=list)      # one per arrhenius/<mat>
    fe: list[dict] = field(default_factory=list)             # one per fe/<case>
    microstructure: list[dict] = field(default_factory=list)  # one per microstructure/<label>

    @property
    def versions(self) -> dict:
        v = self.provenance.get("versions_json")
        if isinstance(v, (bytes, str)) and v:
            try:
                return json.loads(v)
            except json.JSONDecodeError:
                return {}
        return v if isinstance(v, dict) else {}


def _done(a, prefix: str) -> list[str]:
    return sorted(t for t, info in a.tasks.items() if t.startswith(prefix) and info.get("status") == "done")


def _structures(a) -> list[dict]:
    rows = []
    for tid in _done(a, "structures/"):
        r = a.result(tid)
        mat = tid.split("/", 1)[1]
        for name, attrs in r.attrs.items():
            if attrs.get("kind") != "atoms" or f"{name}/numbers" not in r:
                continue
            cell = np.asarray(r.get(f"{name}/cell"), float)
            rows.append({"material": mat, "name": name, "n_atoms": int(len(r.get(f"{name}/numbers"))),
                         "formula": str(attrs.get("chemical_formula", "")),
                         "cell_lengths_A": np.linalg.norm(cell, axis=1).tolist(),
                         "is_gb": "gb_plane_1_z_A" in attrs,
                         "gb_sigma": attrs.get("gb_sigma"), "gb_plane": attrs.get("gb_plane")})
    return rows


def _iter_keys(r) -> list[int]:
    ks = set()
    for p in r.datasets:
        if p.startswith("iterations/"):
            try:
                ks.add(int(p.split("/")[1]))
            except ValueError:
                pass
    return sorted(ks)


def _learning(a) -> list[dict]:
    out = []
    tids = _done(a, "learning/level")
    tids.sort(key=lambda t: int("".join(c for c in t.rsplit("level", 1)[-1] if c.isdigit()) or 0))
    for tid in tids:
        r = a.result(tid)
        at = r.get_attrs("")

        def val(p, default=np.nan):
            return _f(r.get(p)) if p in r else default

        its = []
        for k in _iter_keys(r):
            p = f"iterations/{k}"
            its.append({
                "index": k,
                "max_grades": np.asarray(r.get(f"{p}/max_grades"), float).reshape(-1) if f"{p}/max_grades" in r
                else np.zeros(0),
                "reference_calls": val(f"{p}/reference_calls", 0.0),
                "reference_atoms": val(f"{p}/reference_atoms", 0.0),
                "n_added": val(f"{p}/n_added", 0.0),
                "n_selected": val(f"{p}/n_selected", 0.0),
                "n_broken": val(f"{p}/n_broken", 0.0),
                "n_explorations": val(f"{p}/n_explorations", 0.0),
                "val_force": val(f"{p}/validation/rmse_force_eV_per_A"),
                "val_energy": val(f"{p}/validation/rmse_energy_meV_per_atom"),
                "train_force": val(f"{p}/train/rmse_force_eV_per_A"),
                "train_energy": val(f"{p}/train/rmse_energy_meV_per_atom"),
                "train_n_images": val(f"{p}/train/n_images"),
                "wall_s": val(f"{p}/wall_s"),
            })
        n_final = int(np.asarray(r.get("training_set/n_atoms")).size) if "training_set/n_atoms" in r else None
        # training set size after each iteration: the stored one when the potential was retrained, else the
        # previous size plus the configurations added (an iteration that adds nothing does not retrain)
        size = val("initial_train/n_images")
        for it in its:
            size = it["train_n_images"] if np.isfinite(it["train_n_images"]) else size + it["n_added"]
            it["training_set_size"] = size
        trained = [it for it in its if np.isfinite(it["train_force"])]
        out.append({
            "task": tid, "level": int(at.get("level", 0) or 0), "converged": bool(at.get("converged", False)),
            "reason": str(at.get("reason", "")), "gamma_select": float(at.get("gamma_select", np.nan)),
            "gamma_break": float(at.get("gamma_break", np.nan)),
            "wall_s": float(a.tasks[tid].get("wall_s") or np.nan),   # the task's attr is shadowed by the runtime's
            "iterations": its, "n_training_final": n_final,
            "final_train_force": trained[-1]["train_force"] if trained else val("initial_train/rmse_force_eV_per_A"),
            "final_train_energy": trained[-1]["train_energy"] if trained
            else val("initial_train/rmse_energy_meV_per_atom"),
            "initial_train_force": val("initial_train/rmse_force_eV_per_A"),
            "initial_train_energy": val("initial_train/rmse_energy_meV_per_atom"),
            "initial_n_images": val("initial_train/n_images"),
            "reference_calls": val("reference_calls", 0.0), "reference_atoms": val("reference_atoms", 0.0),
        })
    return out


def _md(a) -> list[dict]:
    from argyro_run._stack import h5py

    rows = []
    tids = [t for t in _done(a, "md/") if a.tasks[t].get("kind", "md_run") == "md_run"]   # not the anneals
    if not tids:
        return rows
    with h5py.File(a.path, "r") as f:
        for tid in tids:
            g = f[a.tasks[tid]["group"]]
            at = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
            n_samples = int(g["time_ps"].shape[0]) if "time_ps" in g else 0
            t_end = float(g["time_ps"][-1]) if n_samples else 0.0
            n_atoms = int(at.get("n_atoms", 0)) or (int(g["trajectory/numbers"].shape[0])
                                                    if "trajectory/numbers" in g else 0)
            rows.append({"task": tid, "structure": str(at.get("structure", "")),
                         "temperature_K": float(at.get("temperature_K", np.nan)),
                         "mean_temperature_K": float(at.get("mean_temperature_K", np.nan)),
                         "steps": int(at.get("steps", 0)), "wall_s": float(at.get("wall_s", np.nan)),
                         "production_ps": t_end, "n_samples": n_samples, "n_atoms": n_atoms})
    return rows


def _diffusion(a) -> list[dict]:
    out = []
    for tid in _done(a, "analysis/"):
        r = a.result(tid)
        at = r.get_attrs("")
        T = np.asarray(r.get("temperatures_K"), float)
        d = {"task": tid, "material": str(at.get("material", "")), "structure": str(at.get("structure", "")),
             "species": str(at.get("species", "Li")), "is_gb": bool(at.get("is_gb", False)),
             "temperatures_K": T, "D_m2_per_s": np.asarray(r.get("D_m2_per_s"), float),
             "D_err_m2_per_s": np.asarray(r.get("D_err_m2_per_s"), float),
             "sigma_mS_per_cm": np.asarray(r.get("sigma_mS_per_cm"), float) if "sigma_mS_per_cm" in r else None,
             "gb": {}, "msd": []}
        for k in ("D_ci95_m2_per_s", "D_block_mean_m2_per_s", "D_block_sem_m2_per_s"):   # kinisi analyses
            d[k] = np.asarray(r.get(k), float) if k in r else None
        d["jumps"] = ({k: np.asarray(r.get(f"jumps/{k}"), float) for k in
                       ("rate_per_ps", "rate_err_per_ps", "D_cage_m2_per_s", "D_over_D_cage")}
                      if "jumps/rate_per_ps" in r else None)
        for k in ("D_parallel", "D_perpendicular", "D_bulk_region"):
            if f"gb/{k}_m2_per_s" in r:
                d["gb"][k] = (np.asarray(r.get(f"gb/{k}_m2_per_s"), float),
                              np.asarray(r.get(f"gb/{k}_err_m2_per_s"), float))
        for t in T:
            p = f"msd/T{t:g}"
            if f"{p}/lag_ps" not in r:
                continue
            w = r.get_attrs(p)
            d["msd"].append({"temperature_K": float(t), "lag_ps": np.asarray(r.get(f"{p}/lag_ps"), float),
                             "msd_A2": np.asarray(r.get(f"{p}/msd_A2"), float),
                             "fit_start_ps": float(w.get("fit_start_ps", np.nan)),
                             "fit_end_ps": float(w.get("fit_end_ps", np.nan)),
                             "slope_A2_per_ps": float(w.get("slope_A2_per_ps", np.nan)),
                             "intercept_A2": float(w.get("intercept_A2", np.nan))})
        out.append(d)
    return out


def _fit_block(r, pre: str) -> dict:
    d = {"temperatures_K": np.asarray(r.get(f"{pre}/temperatures_K"), float) if f"{pre}/temperatures_K" in r
         else np.zeros(0),
         "D_m2_per_s": np.asarray(r.get(f"{pre}/D_m2_per_s"), float) if f"{pre}/D_m2_per_s" in r else np.zeros(0),
         "D_err_m2_per_s": np.asarray(r.get(f"{pre}/D_err_m2_per_s"), float) if f"{pre}/D_err_m2_per_s" in r
         else np.zeros(0)}
    for k in FIT_FIELDS:
        d[k] = _f(r.get(f"{pre}/{k}")) if f"{pre}/{k}" in r else None
    at = r.get_attrs(pre)
    d["no_fit"] = str(at.get("no_fit", "")) if at.get("no_fit") else ""
    d["source"] = str(at.get("source", ""))
    d["n_temperatures"] = at.get("n_temperatures")
    d.update(_fit_quality(r, pre))
    return d


def _fit_quality(r, pre: str) -> dict:
    """Honest-MD flags of a fit (``argyro_run.analysis.tasks._fit_into``): ``fit_quality`` ('ok',
    'unreliable' or '' for archives without flags), its reason and the per-temperature ``diffusive``."""
    at = r.get_attrs(pre)
    n = len(r.get(f"{pre}/temperatures_K")) if f"{pre}/temperatures_K" in r else 0
    return {"fit_quality": str(at.get("fit_quality", "")), "fit_quality_reason": str(at.get("fit_quality_reason", "")),
            "diffusive": np.asarray(r.get(f"{pre}/diffusive"), bool) if f"{pre}/diffusive" in r else np.ones(n, bool)}


def _arrhenius(a) -> list[dict]:
    out = []
    for tid in _done(a, "arrhenius/"):
        r = a.result(tid)
        fits = {k: _fit_block(r, f"fits/{k}") for k in FIT_KINDS if f"fits/{k}/temperatures_K" in r}
        per = {}
        for p in r.datasets:
            parts = p.split("/")
            if parts[0] == "structures" and len(parts) == 4 and parts[3] == "temperatures_K":
                per[(parts[1], parts[2])] = _fit_block(r, "/".join(parts[:3]))
        out.append({"task": tid, "material": tid.split("/", 1)[1], "fits": fits, "structures": per,
                    "notes": str(r.get_attrs("").get("notes", ""))})
    return out


def _fe(a) -> list[dict]:
    """One dict per ``fe/<case>`` (arrays indexed [temperature, grain size])."""
    out = []
    for tid in _done(a, "fe/"):
        r = a.result(tid)
        at = r.get_attrs("")
        T = np.asarray(r.get("temperatures_K"), float)
        d = np.asarray(r.get("grain_sizes_nm"), float)
        arr = lambda p: np.asarray(r.get(p), float).reshape(len(T), len(d))  # noqa: E731
        inputs = {}
        for k in FIT_KINDS:
            p = f"inputs/{k}"
            if f"{p}/D_m2_per_s" in r:
                inputs[k] = {"D0_m2_per_s": np.asarray(r.get(f"{p}/D0_m2_per_s"), float).reshape(-1),
                             "Ea_eV": np.asarray(r.get(f"{p}/Ea_eV"), float).reshape(-1),
                             "D_m2_per_s": np.asarray(r.get(f"{p}/D_m2_per_s"), float).reshape(-1, len(T)),
                             "models": [str(x) for x in np.asarray(r.get(f"{p}/models")).reshape(-1).tolist()],
                             "source": as_text(r.get(f"{p}/source"))}
        sig_at = r.get_attrs("sigma_eff_mS_per_cm")
        out.append({"task": tid, "label": tid.split("/", 1)[1], "case": str(at.get("case", tid.split("/", 1)[1])),
                    "material": str(at.get("material", "")), "bulk": str(at.get("bulk", "")),
                    "temperatures_K": T, "grain_sizes_nm": d,
                    "D_eff_m2_per_s": np.asarray(r.get("D_eff_m2_per_s"), float),
                    "D_eff_mean_m2_per_s": arr("D_eff_mean_m2_per_s"), "D_eff_over_D_bulk": arr("D_eff_over_D_bulk"),
                    "D_bulk_m2_per_s": np.asarray(r.get("D_bulk_m2_per_s"), float),
                    "sigma_eff_mS_per_cm": arr("sigma_eff_mS_per_cm"), "Ea_app_eV": arr("Ea_app_eV"),
                    "curvature_K2": arr("curvature_K2"),
                    "crossover_grain_size_nm": np.asarray(r.get("crossover_grain_size_nm"), float),
                    "crossover_tolerance": float(r.get_attrs("crossover_grain_size_nm").get("tolerance", np.nan)),
                    "carrier_density_per_nm3": float(sig_at.get("carrier_density_per_nm3", np.nan)),
                    "carrier_density_source": str(sig_at.get("carrier_density_source", "")),
                    "gb_models": [str(x) for x in np.asarray(r.get("gb_faces/models")).tolist()]
                    if "gb_faces/models" in r else [],
                    "gb_fractions": np.asarray(r.get("gb_faces/fractions"), float) if "gb_faces/fractions" in r
                    else np.zeros(0),
                    "inputs": inputs, "md": any("md" == v["source"][:2] for v in inputs.values()),
                    "bc": str(at.get("bc", "")), "gb_model": str(at.get("gb_model", "")),
                    "microstructure": str(at.get("microstructure", ""))})
    out.sort(key=lambda c: c["label"])
    return out


def _config(a) -> dict:
    txt = a.provenance.get("config_json")
    try:
        return json.loads(as_text(txt)) if txt is not None else {}
    except (json.JSONDecodeError, TypeError):
        return {}


def _microstructure(a) -> list[dict]:
    out = []
    # the task's own ``kind`` attribute (voronoi, ...) is shadowed by the runtime's task kind: take it from the input
    micro_kind = (_config(a).get("microstructure") or {}).get("kind")
    for tid in _done(a, "microstructure/"):
        r = a.result(tid)
        at = r.get_attrs("")
        d = {"task": tid, "label": tid.split("/", 1)[1], **{k: at.get(k) for k in (
            "microstructure_kind", "dimension", "box_nm", "grain_size_nm", "gb_thickness_nm", "n_grains", "gb_volume_fraction",
            "n_cells", "n_nodes", "xdmf")}}
        for k in ("points_nm", "cells", "cell_kind", "grain_id"):
            d[k] = np.asarray(r.get(f"mesh/{k}")) if f"mesh/{k}" in r else None
        d["kind"] = d.pop("microstructure_kind", None) or micro_kind
        d["seeds_nm"] = np.asarray(r.get("grains/seeds_nm"), float) if "grains/seeds_nm" in r else None
        out.append(d)
    out.sort(key=lambda d: (float(d.get("grain_size_nm") or 0.0), d["label"]))
    return out


def _tasks(a) -> list[dict]:
    rows = {}
    for t in (a.plan or {}).get("tasks", []):
        rows[t["id"]] = {"id": t["id"], "kind": t.get("kind", ""), "status": "not run", "wall_s": None, "message": ""}
    for tid, info in a.tasks.items():
        msg = info.get("error_message") or info.get("skipped_because") or ""
        rows[tid] = {"id": tid, "kind": info.get("kind", ""), "status": info.get("status", "?"),
                     "wall_s": info.get("wall_s"), "message": str(msg) if msg else ""}
    order = [t["id"] for t in (a.plan or {}).get("tasks", [])]
    return [rows[t] for t in order if t in rows] + [rows[t] for t in sorted(rows) if t not in order]


def collect(path) -> ReportData:
    """Everything the report shows, read from the archive at ``path``."""
    a = open_archive(path)
    prov = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in a.provenance.items()
            if not (isinstance(v, np.ndarray) and v.dtype.kind != "O")}
    prov = {k: (as_text(v) if isinstance(v, np.ndarray) else v) for k, v in prov.items()}
    data = ReportData(archive_path=str(path), provenance=prov, tasks=_tasks(a))
    for name, fn in (("structures", _structures), ("learning", _learning), ("md", _md), ("diffusion", _diffusion),
                     ("arrhenius", _arrhenius), ("fe", _fe), ("microstructure", _microstructure)):
        try:
            setattr(data, name, fn(a))
        except (KeyError, ValueError, TypeError) as exc:  # an archive from another version: report what we can
            log.warning("report: could not read the %s results: %s", name, exc)
    return data
