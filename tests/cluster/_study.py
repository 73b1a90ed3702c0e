"""A small study for the cluster tests (MD of the 52-atom ordered cell at 3 temperatures with the
trained test potential, diffusion analysis, Arrhenius, laminate microstructures, FE), a few
seconds on 2 ranks; and an exact comparison of two archives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from argyro_run._stack import h5py
from tests._support.inputs import FE_LAWS, LAMINATE, LPSCL, TEST_POTENTIAL

STUDY = """
[run]
name = "cluster-study"
archive = "study.h5"
seed = 11
""" + LPSCL + TEST_POTENTIAL + """
[md]
temperatures_K = [650.0, 750.0, 850.0]
timestep_fs = 2.0
equilibration_ps = 0.5
production_ps = 8.0
dump_interval_fs = 20.0

[analysis]
fit_start_ps = 0.4
fit_end_ps = 1.5
n_blocks = 4
"""

FE = LAMINATE + """grain_sizes_nm = [10.0, 20.0]

[fe]
temperatures_K = [300.0, 400.0]
""" + FE_LAWS

# attributes that record when/how long, not what was computed
_TIMING_ATTRS = {"finished_at", "started_at"}
# attributes naming a file next to the archive: compared by file name (the runs are in two folders)
_PATH_ATTRS = {"xdmf"}


def archive_contents(path: Path) -> dict[str, object]:
    """Every dataset (value) and attribute outside ``/provenance``, keyed by path, timings left out."""
    out: dict[str, object] = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if name == "provenance" or name.startswith("provenance/"):
                return
            for k, v in obj.attrs.items():
                if k in _PATH_ATTRS:
                    out[f"{name}@{k}"] = Path(str(v)).name
                elif k not in _TIMING_ATTRS and not k.endswith("wall_s"):
                    out[f"{name}@{k}"] = v
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def assert_same_archive(a: Path, b: Path) -> None:
    ca, cb = archive_contents(a), archive_contents(b)
    assert sorted(ca) == sorted(cb)
    differ = []
    for k in ca:
        x, y = ca[k], cb[k]
        if isinstance(x, np.ndarray) and x.dtype.kind in "fc":
            same = x.shape == y.shape and np.array_equal(x, y, equal_nan=True)
        else:
            same = np.array_equal(np.asarray(x), np.asarray(y))
        if not same:
            differ.append(k)
    assert differ == [], f"{len(differ)} entries differ, e.g. {differ[:5]}"
