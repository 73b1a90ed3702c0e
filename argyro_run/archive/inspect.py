"""Text/JSON views of an archive for ``argyro-run inspect``."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from argyro_run.archive.io import _attr_read


def tree(path) -> list[dict]:
    """Every group/dataset: path, kind, shape, dtype, units (datasets), status (task groups)."""
    rows = []
    with h5py.File(Path(path), "r") as f:
        def visit(name, obj):
            row = {"path": "/" + name}
            if isinstance(obj, h5py.Dataset):
                row.update(kind="dataset", shape=list(obj.shape), dtype=str(obj.dtype),
                           units=_attr_read(obj.attrs.get("units", "")))
            else:
                row["kind"] = "group"
                if "task_hash" in obj.attrs:
                    row.update(task=_attr_read(obj.attrs["task_id"]), status=_attr_read(obj.attrs["status"]),
                               wall_s=_attr_read(obj.attrs.get("wall_s", 0.0)))
            rows.append(row)
        f.visititems(visit)
    return rows


def key_results(path) -> dict:
    """Arrhenius fits, D(T), FE D_eff, active-learning iterations, failures, when present."""
    from argyro_run.archive.io import open_archive

    a = open_archive(path)
    out = {"tasks": {tid: {k: v for k, v in info.items() if k in ("kind", "status", "wall_s", "error_message")}
                     for tid, info in a.tasks.items()}, "fits": [], "diffusion": [], "fe": [], "active_learning": []}
    with h5py.File(Path(path), "r") as f:
        for tid, info in a.tasks.items():
            if info.get("status") != "done":
                continue
            g = f[info["group"]]
            kind = info.get("kind")
            if kind == "arrhenius" and "fits" in g:
                for k in g["fits"]:
                    row = {"task": tid, "kind": k}
                    for name, ds in g["fits"][k].items():
                        if isinstance(ds, h5py.Dataset) and ds.dtype.kind in "fiu" and ds.size == 1:
                            row[name] = float(np.asarray(ds[()]).reshape(-1)[0])
                    out["fits"].append(row)
            items = []
            g.visititems(lambda n, o: items.append((n, o)) if isinstance(o, h5py.Dataset) else None)
            for name, ds in items:
                leaf = name.rsplit("/", 1)[-1]
                if ds.dtype.kind not in "fiu":
                    continue
                val = np.asarray(ds[()])
                units = _attr_read(ds.attrs.get("units", ""))
                if kind == "diffusion" and leaf.startswith("D") and val.size <= 16:
                    out["diffusion"].append({"task": tid, "path": name, "units": units, "value": val.tolist()})
                elif kind == "fe_sweep" and "D_eff" in leaf and val.size <= 64:
                    out["fe"].append({"task": tid, "path": name, "units": units, "value": val.tolist()})
                elif kind == "active_learning" and ("iteration" in name or "gamma" in leaf) and val.size <= 64:
                    out["active_learning"].append({"task": tid, "path": name, "units": units, "value": val.tolist()})
    return out


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.5g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt(x) for x in v[:8]) + (", ..." if len(v) > 8 else "") + "]"
    return str(v)


def render_text(path, *, show_tree: bool = True) -> str:
    from argyro_run.archive.io import open_archive

    a = open_archive(path)
    lines = [f"archive {path}"]
    prov = a.provenance
    if prov:
        lines.append(f"run {prov.get('run_name')!r} from {prov.get('input_path')}, MPI size {prov.get('mpi_size')}, "
                     f"{prov.get('start_time')} -> {prov.get('end_time', '(unfinished)')}, status {prov.get('status', '?')}")
    if show_tree:
        lines.append("")
        for row in tree(path):
            depth = row["path"].count("/") - 1
            name = row["path"].rsplit("/", 1)[-1]
            if row["kind"] == "dataset":
                lines.append(f"{'  ' * depth}{name}  {tuple(row['shape'])} {row['dtype']} [{row['units']}]")
            else:
                extra = f"  <task {row['status']}, {row['wall_s']:.2f} s>" if "task" in row else "/"
                lines.append(f"{'  ' * depth}{name}{extra}")
    kr = key_results(path)
    counts: dict[str, int] = {}
    for info in kr["tasks"].values():
        counts[info.get("status", "?")] = counts.get(info.get("status", "?"), 0) + 1
    lines += ["", "tasks: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    for tid, info in kr["tasks"].items():
        if info.get("status") == "failed":
            lines.append(f"  FAILED {tid}: {info.get('error_message')}")
    for title, key in [("Arrhenius fits", "fits"), ("D(T)", "diffusion"), ("FE effective diffusivity", "fe"),
                       ("active learning", "active_learning")]:
        if kr[key]:
            lines += ["", title]
            for row in kr[key]:
                lines.append("  " + "  ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
    return "\n".join(lines)


def render_json(path) -> str:
    from argyro_run.archive.io import open_archive

    a = open_archive(path)
    prov = {k: v for k, v in a.provenance.items() if not isinstance(v, np.ndarray)}
    return json.dumps({"path": str(path), "provenance": prov, "tree": tree(path), "results": key_results(path)},
                      indent=1, default=str)
