"""Result <-> HDF5 round trip, done_tasks, crash leftovers."""

import h5py
import numpy as np
from ase.build import bulk

from argyro_run.archive import ArchiveWriter, done_tasks, open_archive
from argyro_run.plan.task import Task
from argyro_run.results import Result, add_atoms


def _task(tid, h="h1", kind="k"):
    return Task(id=tid, kind=kind, params={}, archive_group="/" + tid, hash=h)


def test_result_round_trip_with_atoms_strings_attrs(tmp_path):
    atoms = bulk("NaCl", "rocksalt", a=5.6, cubic=True).repeat(2)
    rng = np.random.default_rng(0)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    atoms.new_array("gb_distance_A", rng.uniform(0, 5, len(atoms)))
    atoms.new_array("grain_id", np.arange(len(atoms)) % 2)
    atoms.new_array("gb_normal", rng.normal(size=(len(atoms), 3)))
    atoms.info["sigma"] = 5
    r = Result()
    add_atoms(r, "ordered", atoms)
    r.add("msd/t_ps", np.linspace(0, 1, 5), "ps", origin="test")
    r.add("note", "hello µ", "")
    r.add("labels", np.asarray(["x", "yy", "zzz"], dtype=object), "")
    r.add("empty", np.asarray([], dtype=object), "")
    r.add("flags", np.array([True, False]), "")
    r.set_attrs("", method="unit", params={"a": 1, "b": [1, 2]}, temps=[300.0, 400.0])
    r.set_attrs("msd", comment="group attr")
    w = ArchiveWriter(tmp_path / "a.h5")
    w.start(provenance={"run_name": "t", "input_toml": "[run]\n"}, plan_json='{"tasks": []}')
    w.write_task(_task("md/X/T600"), r, status="done", wall_s=1.5, finished_at="now")
    a = open_archive(tmp_path / "a.h5")
    back = a.result("md/X/T600")
    assert back.datasets.keys() == r.datasets.keys()
    for k in r.datasets:
        assert np.array_equal(np.asarray(back.get(k)), np.asarray(r.get(k))), k
        assert back.get(k).dtype.kind == ("O" if r.get(k).dtype.kind == "O" else r.get(k).dtype.kind), k
        assert back.get_attrs(k) == r.get_attrs(k), k
    top = back.get_attrs("")
    assert set(top) == {"method", "params", "temps"} and top["method"] == "unit"
    assert top["params"] == {"a": 1, "b": [1, 2]}          # nested -> JSON text -> dict
    np.testing.assert_array_equal(top["temps"], [300.0, 400.0])  # numeric lists -> arrays
    assert back.get_attrs("msd") == {"comment": "group attr"}
    assert str(back.get("note")[()]) == "hello µ"
    at = a.atoms("md/X/T600", "ordered")
    assert np.array_equal(at.numbers, atoms.numbers) and np.array_equal(at.positions, atoms.positions)
    assert np.array_equal(at.cell[:], atoms.cell[:]) and list(at.pbc) == list(atoms.pbc)
    for name in ("gb_distance_A", "grain_id", "gb_normal"):
        assert np.array_equal(at.arrays[name], atoms.arrays[name])
    assert at.info["sigma"] == 5
    assert a.tasks["md/X/T600"]["wall_s"] == 1.5 and a.provenance["input_toml"] == "[run]\n"
    assert a.units("/md/X/T600/msd/t_ps") == "ps"


def test_done_tasks_replace_and_leftover_tmp(tmp_path):
    path = tmp_path / "a.h5"
    w = ArchiveWriter(path)
    w.start(provenance={}, plan_json="{}")
    r = Result()
    r.add("x", [1.0, 2.0], "eV")
    w.write_task(_task("a", "h1"), r, status="done", wall_s=0, finished_at="t")
    w.write_task(_task("b", "h2"), None, status="failed", wall_s=0, finished_at="t",
                 extra_attrs={"error_message": "boom"})
    assert done_tasks(path) == {"a": "h1"}
    # a crash between copy and rename leaves a half-written .tmp: ignored, then overwritten
    (tmp_path / "a.h5.tmp").write_bytes(b"garbage")
    assert done_tasks(path) == {"a": "h1"}
    r2 = Result()
    r2.add("y", [3.0], "eV")
    w.write_task(_task("a", "h3"), r2, status="done", wall_s=0, finished_at="t")
    assert done_tasks(path) == {"a": "h3"}
    with h5py.File(path, "r") as f:
        assert "x" not in f["a"] and list(f["a/y"][()]) == [3.0]
    assert not (tmp_path / "a.h5.tmp").exists()
    assert done_tasks(tmp_path / "missing.h5") == {}
