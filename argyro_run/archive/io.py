"""Reading and writing ``Result`` objects and whole archives (h5py; writer rank only)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from argyro_run.results import Result, get_atoms

# attributes the runtime puts on every task group (not part of the task's own Result)
RUNTIME_ATTRS = ("task_id", "task_hash", "kind", "status", "wall_s", "finished_at",
                 "error_message", "error_traceback", "skipped_because", "missing_deps")
_JSON_PREFIX = "json:"


def _attr_value(v: Any):
    if isinstance(v, (dict, list, tuple)) and not (isinstance(v, (list, tuple)) and v and
                                                   all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)):
        return _JSON_PREFIX + json.dumps(v, default=str)
    if v is None:
        return _JSON_PREFIX + "null"
    return v


def _attr_read(v: Any):
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str) and v.startswith(_JSON_PREFIX):
        return json.loads(v[len(_JSON_PREFIX):])
    if isinstance(v, np.generic):
        return v.item()
    return v


def _is_text(arr: np.ndarray) -> bool:
    return arr.dtype.kind in "OUS"


def write_result(group: h5py.Group, result: Result) -> None:
    """Write ``result`` below ``group`` (datasets with their attrs, group attrs)."""
    for path, arr in result.datasets.items():
        arr = np.asarray(arr)
        if _is_text(arr):
            data = np.asarray(arr, dtype=object)
            ds = group.create_dataset(path, data=data.astype(str).astype(object) if data.ndim else str(data[()]),
                                      dtype=h5py.string_dtype())
        else:
            ds = group.create_dataset(path, data=arr)
        for k, v in result.attrs.get(path, {}).items():
            ds.attrs[k] = _attr_value(v)
    for path, attrs in result.attrs.items():
        if path in result.datasets:
            continue
        g = group.require_group(path) if path else group
        for k, v in attrs.items():
            g.attrs[k] = _attr_value(v)


def read_result(group: h5py.Group) -> Result:
    """Read a task group (or any group) back into a ``Result`` (runtime attrs left out)."""
    res = Result()
    own = {k: _attr_read(v) for k, v in group.attrs.items() if k not in RUNTIME_ATTRS}
    if own:
        res.attrs[""] = own

    def visit(name, obj):
        attrs = {k: _attr_read(v) for k, v in obj.attrs.items()}
        if isinstance(obj, h5py.Dataset):
            if h5py.check_string_dtype(obj.dtype) is not None:
                val = obj.asstr()[()]
                data = np.asarray(val, dtype=object)
            else:
                data = obj[()]
                data = np.asarray(data)
            res.datasets[name] = data
            res.attrs[name] = attrs
        elif attrs and "task_hash" not in obj.attrs:
            res.attrs[name] = attrs

    group.visititems(visit)
    return res


def _task_groups(f: h5py.File) -> dict[str, h5py.Group]:
    out: dict[str, h5py.Group] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and "task_hash" in obj.attrs:
            out[_attr_read(obj.attrs.get("task_id", name))] = obj

    f.visititems(visit)
    return out


def done_tasks(path) -> dict[str, str]:
    """``{task_id: task_hash}`` of the tasks the archive holds with status ``done`` and complete: a
    task that ran without some of its dependencies (attr ``missing_deps``) is left out."""
    p = Path(path)
    if not p.is_file():
        return {}
    with h5py.File(p, "r") as f:
        return {tid: _attr_read(g.attrs["task_hash"]) for tid, g in _task_groups(f).items()
                if _attr_read(g.attrs.get("status", "")) == "done" and not _attr_read(g.attrs.get("missing_deps", ""))}


class Archive:
    """Read API: ``.tasks`` (id -> dict of runtime attrs), ``.result(id)``, ``.atoms(id, name)``,
    ``.provenance`` (dict), ``.plan`` (dict), ``[path]`` -> numpy array, ``.units(path)``."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no archive at {self.path}")
        with h5py.File(self.path, "r") as f:
            self.tasks = {tid: {k: _attr_read(v) for k, v in g.attrs.items() if k in RUNTIME_ATTRS}
                          | {"group": g.name} for tid, g in _task_groups(f).items()}
            self.provenance = {}
            if "provenance" in f:
                pg = f["provenance"]
                self.provenance = {k: _attr_read(v) for k, v in pg.attrs.items()}
                for k, ds in pg.items():
                    if isinstance(ds, h5py.Dataset):
                        self.provenance[k] = (ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) is not None
                                              else ds[()])
            self.plan = json.loads(f["plan"].asstr()[()]) if "plan" in f else {}

    def result(self, task_id: str) -> Result:
        with h5py.File(self.path, "r") as f:
            return read_result(f[self.tasks[task_id]["group"]])

    def atoms(self, task_id: str, name: str):
        return get_atoms(self.result(task_id), name)

    def __getitem__(self, path: str) -> np.ndarray:
        with h5py.File(self.path, "r") as f:
            ds = f[path]
            if h5py.check_string_dtype(ds.dtype) is not None:
                return np.asarray(ds.asstr()[()], dtype=object)
            return np.asarray(ds[()])

    def units(self, path: str) -> str:
        with h5py.File(self.path, "r") as f:
            return _attr_read(f[path].attrs.get("units", ""))


def open_archive(path) -> Archive:
    return Archive(path)


def _write_text(group: h5py.Group, name: str, text: str) -> None:
    if name in group:
        del group[name]
    ds = group.create_dataset(name, data=text, dtype=h5py.string_dtype())
    ds.attrs["units"] = ""


class ArchiveWriter:
    """Atomic-update writer: each ``update`` copies the archive, edits the copy, renames it back."""

    def __init__(self, path):
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".tmp")

    def _update(self, edit) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_file():
            shutil.copyfile(self.path, self.tmp)
        elif self.tmp.exists():
            self.tmp.unlink()
        with h5py.File(self.tmp, "a") as f:
            edit(f)
            f.flush()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)

    def start(self, *, provenance: dict[str, Any], plan_json: str) -> None:
        def edit(f):
            pg = f.require_group("provenance")
            for k, v in provenance.items():
                if isinstance(v, str) and (k.endswith("_toml") or k.endswith("_json")):
                    _write_text(pg, k, v)
                else:
                    pg.attrs[k] = _attr_value(v)
            for k in ("end_time", "task_wall_s_json"):
                if k in pg.attrs:
                    del pg.attrs[k]
            _write_text(f, "plan", plan_json)
        self._update(edit)

    def write_task(self, task, result: Result | None, *, status: str, wall_s: float, finished_at: str,
                   extra_attrs: dict[str, Any] | None = None) -> None:
        group_path = task.archive_group or "/" + task.id

        def edit(f):
            if group_path in f:
                del f[group_path]
            g = f.require_group(group_path)
            if result is not None:
                write_result(g, result)
            attrs = {"task_id": task.id, "task_hash": task.hash, "kind": task.kind, "status": status,
                     "wall_s": float(wall_s), "finished_at": finished_at, **(extra_attrs or {})}
            for k, v in attrs.items():
                g.attrs[k] = _attr_value(v)
        self._update(edit)

    def finish(self, **attrs) -> None:
        def edit(f):
            pg = f.require_group("provenance")
            for k, v in attrs.items():
                pg.attrs[k] = _attr_value(v)
        self._update(edit)
