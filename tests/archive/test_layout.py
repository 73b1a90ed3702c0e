"""The documented archive layout (docs/archive.md) against small real jobs through the runtime:
(1) structures (with a grain boundary and two rigid-body translations), a given MTP file, MD at two
temperatures on the 52-atom cell, diffusion analysis and Arrhenius fits, a laminate mesh and FE with
explicit Arrhenius inputs; (2) active learning: initial data labelled with tblite and one level-2
MTP rung (one iteration). Asserted for both: every dataset has a ``units`` attribute; every group and dataset
path matches a row of the doc's layout tables (parent groups implied) and, where the doc gives one
unit, the dataset carries exactly that unit; every documented stage present in the job shows up."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import h5py
import pytest

from argyro_run.archive import open_archive
from tests._support.env import REPO
from tests._support.inputs import FE_LAWS, LAMINATE, LPSCL, SIGMA5_310, TEST_POTENTIAL, run_input

DOC = REPO / "docs" / "archive.md"

INPUT = """
[run]
name = "layout"
archive = "out.h5"
seed = 3
""" + LPSCL + SIGMA5_310 + """translations = [[0.0, 0.0], [0.5, 0.0]]
""" + TEST_POTENTIAL + """
[md]
structures = ["ordered"]
temperatures_K = [800.0, 900.0]
timestep_fs = 2.0
equilibration_ps = 1.0
production_ps = 6.0
anneal_ps = 0.4
anneal_structures = "all"
trajectory_atoms = "all"
reference_check_frames = 1

[analysis]
n_blocks = 3

""" + LAMINATE + """grain_sizes_nm = [10.0]
gb_thickness_nm = 1.0
gb_model = "layer"
mesh_size_gb_fraction = 0.5

[fe]
temperatures_K = [300.0, 400.0]
""" + FE_LAWS

LEARNING_INPUT = """
[run]
name = "layout-al"
archive = "out.h5"
seed = 3
""" + LPSCL + """
[potential]
level = 2
species = ["Li", "P", "S", "Cl"]
max_dist_A = 5.0
min_dist_A = 1.6
radial_basis_size = 8

[active_learning]
enabled = true
n_rattled = 1
max_iterations = 1
max_selected_per_iteration = 1
max_reference_atoms = 60
local_radius_A = 5.0

[[active_learning.levels]]
level = 2
exploration_ps = 0.2
temperatures_K = [600.0]
"""
JOBS = {"pipeline": INPUT, "learning": LEARNING_INPUT}


def _expand(pattern: str) -> list[str]:
    """``{a,b}`` alternatives expanded (not nested)."""
    parts = re.split(r"(\{[^{}]*\})", pattern)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(c) for c in itertools.product(*choices)]


def _regex(pattern: str) -> re.Pattern:
    out = "".join("[^/]+" if tok.startswith("<") else re.escape(tok) for tok in re.split(r"(<[^<>]+>)", pattern))
    return re.compile(out + r"\Z")


def doc_layout() -> list[dict]:
    """Rows of the layout tables: ``| `path` | G/D | units | content |``."""
    rows = []
    for line in DOC.read_text().splitlines():
        m = re.match(r"\|\s*`(/[^`]*)`\s*\|\s*([GD])\s*\|([^|]*)\|", line)
        if not m:
            continue
        units = m.group(3).strip()
        for path in _expand(m.group(1)):
            rows.append({"path": path, "kind": m.group(2), "regex": _regex(path), "units": units})
    return rows


def test_doc_table_parses():
    rows = doc_layout()
    assert len(rows) > 100
    paths = {r["path"] for r in rows}
    for p in ("/provenance/input_toml", "/md/<material>/<structure>/T<T>/trajectory/positions_A",
              "/learning/level<L>/iterations/<k>/train/rmse_force_eV_per_A", "/fe/<case>/D_eff_m2_per_s",
              "/arrhenius/<material>/structures/<structure>/<kind>/Ea_eV", "/microstructure/<d>/mesh/cell_kind"):
        assert p in paths, p


@pytest.fixture(scope="module", params=["pipeline", pytest.param("learning", marks=pytest.mark.slow)])
def archive(request, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("layout")
    run_input(d, JOBS[request.param], timeout=300)
    return d / "out.h5"


def _objects(path: Path) -> tuple[dict[str, object], set[str]]:
    datasets, groups = {}, set()
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                u = obj.attrs.get("units")
                datasets["/" + name] = u.decode() if isinstance(u, bytes) else u
            else:
                groups.add("/" + name)
        f.visititems(visit)
    return datasets, groups


def test_every_dataset_has_units(archive):
    datasets, _ = _objects(archive)
    assert len(datasets) > 100
    missing = sorted(p for p, u in datasets.items() if u is None)
    assert missing == []


def test_every_path_is_documented(archive):
    rows = doc_layout()
    datasets, groups = _objects(archive)
    drows = [r for r in rows if r["kind"] == "D"]
    undocumented, wrong_units = [], []
    for path, units in sorted(datasets.items()):
        hits = [r for r in drows if r["regex"].match(path)]
        if not hits:
            undocumented.append(path)
            continue
        doc_units = {r["units"] for r in hits}
        if len(doc_units) == 1:
            (want,) = doc_units
            if "," not in want and " or " not in want and want != (units or ""):
                wrong_units.append(f"{path}: archive {units!r}, doc {want!r}")
    assert undocumented == [] and wrong_units == []
    # groups: a listed group, or a parent of a listed path
    listed = [r["regex"] for r in rows if r["kind"] == "G"]
    parents = set()
    for r in rows:
        segs = r["path"].split("/")
        parents.update("/".join(segs[:k]) for k in range(2, len(segs)))
    parent_res = [_regex(p) for p in parents]
    bad = sorted(g for g in groups if not any(x.match(g) for x in listed + parent_res))
    assert bad == []


def test_documented_stages_all_present(archive):
    """Between them the jobs cover every stage; each documented group of a stage a job ran has a match."""
    _, groups = _objects(archive)
    rows = doc_layout()
    learning = "/learning" in groups
    stages = ("/structures", "/learning", "/summary", "/provenance") if learning else (
        "/structures", "/potential", "/md", "/check", "/analysis", "/arrhenius", "/microstructure", "/fe", "/summary",
        "/provenance")
    for prefix in stages:
        assert any(g == prefix or g.startswith(prefix + "/") for g in groups), prefix
        for r in rows:
            optional = "<gb>" in r["path"] and learning  # the learning job has no grain boundary
            if r["kind"] == "G" and r["path"].startswith(prefix) and not optional:
                assert any(r["regex"].match(g) for g in groups), r["path"]
    a = open_archive(archive)
    assert {t["status"] for t in a.tasks.values()} == {"done"}
    for tid, info in a.tasks.items():   # the task journal of docs/archive.md
        assert info["group"] == "/" + tid and info["task_hash"] and info["finished_at"] and info["wall_s"] >= 0
    if learning:
        assert {"/learning/initial_data/training_set", "/learning/level2/iterations/0"} <= groups
    else:
        assert "/structures/LPSCl/gb_sigma5_310/t1" in groups
