import importlib
from pathlib import Path

import numpy as np
import pytest

from argyro_run.config import load_config
from argyro_run.config.loader import config_from_text
from argyro_run.config.materials import Material
from argyro_run.errors import UserError
from argyro_run.plan import TASK_KINDS, build_plan
from argyro_run.results import get_atoms
from argyro_run.structures import argyrodite
from argyro_run.structures.files import write_structure
from argyro_run.structures.tasks import build_material, run_build_structures
from tests._support.geometry import charge

REPO = Path(__file__).resolve().parents[2]


def _task_function():
    mod, name = TASK_KINDS["build_structures"].function.split(":")
    return getattr(importlib.import_module(mod), name)


def test_task_from_planned_quickstart(tmp_path):
    cfg = load_config(REPO / "inputs" / "quickstart.toml")
    task = build_plan(cfg)["structures/LPSCl"]
    fn = _task_function()
    assert fn is run_build_structures
    result = fn(task.params, {}, None, tmp_path)
    names = task.params["structures"]
    assert names == ["disordered", "gb_sigma5_310"]
    bulk, ordered = get_atoms(result, "disordered"), argyrodite("Cl")
    assert len(bulk) == 52 and charge(bulk) == 0
    assert np.array_equal(bulk.arrays["sublattice"], ordered.arrays["sublattice"])
    # site_disorder 0.5: two of the four 4a Cl exchanged with two free S2-, on the same sites
    assert np.allclose(bulk.positions, ordered.positions) and bulk.get_chemical_formula() == ordered.get_chemical_formula()
    moved = np.flatnonzero(bulk.numbers != ordered.numbers)
    assert len(moved) == 4 and sorted(bulk.get_chemical_symbols()[i] for i in moved) == ["Cl", "Cl", "S", "S"]
    gb = get_atoms(result, "gb_sigma5_310")
    for name in ("grain_id", "gb_distance_A", "gb_normal", "unit_id"):
        assert name in gb.arrays
    assert gb.arrays["gb_normal"].shape == (len(gb), 3)
    assert gb.info["gb_sigma"] == 5 and gb.info["gb_plane"] == "3 1 0"
    assert result.get_attrs("")["halide"] == "Cl"
    assert result.get_attrs("gb_sigma5_310/positions")["units"] == "Angstrom"
    assert result.get_attrs("gb_sigma5_310/arrays/gb_distance_A")["units"] == "Angstrom"
    # same params -> same structures (deterministic task)
    again = fn(task.params, {}, None, tmp_path)
    assert np.array_equal(again.get("gb_sigma5_310/positions"), result.get("gb_sigma5_310/positions"))


def test_templates_build_every_structure(tmp_path):
    cfg = load_config(REPO / "inputs" / "Li6PS5I.toml")
    task = build_plan(cfg)["structures/LPSI"]
    result = run_build_structures(task.params, {}, None, tmp_path)
    for name in task.params["structures"]:
        atoms = get_atoms(result, name)
        assert charge(atoms) == 0
        assert atoms.info["structure"] == name
    dis = get_atoms(result, "disordered")
    assert len(dis) == 416 and dis.info["n_site_exchanges"] == 16


def test_translations_and_disorder_copies():
    m = Material(name="M", halide="Br", variants=["disordered", "ordered"], disorder_copies=3, site_disorder=0.25,
                 supercell=[1, 1, 2],
                 grain_boundaries=[{"sigma": 5, "plane": [0, 0, 1], "axis": [0, 0, 1],
                                    "translations": [[0, 0], [0.5, 0.0], [0.25, 0.5]]}])
    assert m.structure_names() == ["disordered", "disordered_1", "disordered_2", "ordered", "gb_sigma5_001"]
    out = build_material(m, seed=10)
    assert list(out)[:4] == ["disordered", "disordered_1", "disordered_2", "ordered"]
    assert {"gb_sigma5_001", "gb_sigma5_001/t0", "gb_sigma5_001/t1", "gb_sigma5_001/t2"} <= set(out)
    assert out["gb_sigma5_001"] is out["gb_sigma5_001/t0"]
    t = [out[f"gb_sigma5_001/t{k}"] for k in range(3)]
    assert [x.info["gb_translation"] for x in t] == ["0 0", "0.5 0", "0.25 0.5"]
    grain2 = [np.sort(np.round(x.positions[x.arrays["grain_id"] == 2], 4), axis=0) for x in t]
    assert not np.array_equal(grain2[0], grain2[1]) and not np.array_equal(grain2[1], grain2[2])
    syms = [out[n].get_chemical_symbols() for n in ("disordered", "disordered_1", "disordered_2")]
    assert syms[0] != syms[1] and syms[1] != syms[2]
    assert all(out[n].info["n_site_exchanges"] == 2 for n in ("disordered", "disordered_1"))
    assert [out[n].info["disorder_seed"] for n in ("disordered", "disordered_1")] == [10, 11]
    fixed = Material(name="M", variants=["disordered"], disorder_seed=3)
    assert build_material(fixed, seed=1)["disordered"].get_chemical_symbols() == \
        build_material(fixed, seed=99)["disordered"].get_chemical_symbols()


def test_structure_file_material(tmp_path):
    write_structure(tmp_path / "cell.vasp", argyrodite("Cl", lattice_constant_A=9.9))
    m = Material(name="F", structure_file="cell.vasp", variants=["ordered", "disordered"], site_disorder=0.5,
                 grain_boundaries=[{"sigma": 3, "plane": [-1, 1, 1], "axis": [1, 1, 0]}])
    out = build_material(m, seed=0, base_dir=tmp_path)
    assert out["ordered"].cell[0, 0] == pytest.approx(9.9)
    assert out["disordered"].info["n_site_exchanges"] == 2
    assert out["gb_sigma3_-111"].info["gb_lattice"] == "fcc" and charge(out["gb_sigma3_-111"]) == 0
    with pytest.raises(UserError, match="does not exist"):
        build_material(m, seed=0, base_dir=tmp_path / "elsewhere")
    wrong = Material(name="F", halide="Br", structure_file="cell.vasp")
    with pytest.raises(UserError, match=r"says 'Br' but cell.vasp contains \['Cl'\]"):
        build_material(wrong, seed=0, base_dir=tmp_path)
    with pytest.raises(ValueError, match="builder only"):
        Material(name="F", structure_file="cell.vasp", lattice_constant_A=10.0)


def _problems(text):
    with pytest.raises(UserError) as exc:
        config_from_text(text)
    return "\n".join(exc.value.problems)


def test_material_config_errors():
    assert "does not match halide" in _problems('[[materials]]\nname = "a"\nformula = "Li6PS5Cl"\nhalide = "I"\n')
    text = _problems('[[materials]]\nname = "a"\n[[materials.grain_boundaries]]\nsigma = 5\naxis = [1, 1, 1]\n')
    assert "materials[0].grain_boundaries[0]" in text and "no Sigma5 CSL rotation about [1 1 1]" in text
    text = _problems('[[materials]]\nname = "a"\n[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]\n'
                     '[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]\ntranslations = [[0.5, 0]]\n')
    assert "gb_sigma5_310" in text and "label" in text
    assert "2 numbers" in _problems('[[materials]]\nname = "a"\n[[materials.grain_boundaries]]\nsigma = 3\n'
                                   'axis = [1, 1, 0]\nplane = [1, -1, 2]\ntranslations = [[0.5]]\n')
    ok = config_from_text('[[materials]]\nname = "a"\n[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]\n'
                          '[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]\nlabel = "gb_shifted"\n'
                          'translations = [[0.5, 0]]\n')
    assert ok.materials[0].structure_names() == ["ordered", "gb_sigma5_310", "gb_shifted"]


def test_unknown_names_rejected():
    with pytest.raises(UserError, match="unknown structure name"):
        build_material(Material(name="M"), ["ordered", "gb_sigma9_221"])


def test_task_on_two_ranks_and_hash_seeds_agree(tmp_path):
    """Every rank of the task's communicator builds the same structures, in processes with
    different hash seeds too (no dependence on set/dict iteration order)."""
    import os
    import subprocess
    import sys

    from tests._support.env import run_mpi

    script = str(Path(__file__).with_name("_mpi_build.py"))
    args = [script, str(REPO / "inputs" / "Li6PS5Br.toml"), "structures/LPSBr"]
    proc = run_mpi(2, args, timeout=240, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    digest = [line for line in proc.stdout.splitlines() if line.startswith("DIGEST")][0]
    env = dict(os.environ, PYTHONHASHSEED="12345", OMP_NUM_THREADS="1")
    other = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=240, cwd=REPO, env=env)
    assert other.returncode == 0, other.stderr[-3000:]
    assert digest in other.stdout


def test_mixed_halide_material():
    m = Material(name="CB", halide="Cl", mixed_halide="Br", mixed_halide_fraction=0.5, variants=["ordered", "disordered"],
                 supercell=[2, 1, 1], grain_boundaries=[{"sigma": 3, "plane": [-1, 1, 1], "axis": [1, 1, 0],
                                                         "translations": [[0, 0], [0.5, 0]]}])
    assert m.elements() == ["Li", "P", "S", "Cl", "Br"]
    out = build_material(m, seed=2)
    assert out["ordered"].cell[0, 0] == pytest.approx(2 * (9.86 + 9.99) / 2)
    for name, atoms in out.items():
        sym = atoms.get_chemical_symbols()
        n_x = sym.count("Cl") + sym.count("Br")
        assert sym.count("Br") == round(0.5 * n_x), name
        assert charge(atoms) == 0
    assert out["gb_sigma3_-111"] is out["gb_sigma3_-111/t0"]
    # asking for a subset of the names gives the same structures (seeds do not depend on it)
    part = build_material(m, ["gb_sigma3_-111", "ordered"], seed=2)
    for name in part:
        assert part[name].get_chemical_symbols() == out[name].get_chemical_symbols()
    text = _problems('[[materials]]\nname = "a"\nmixed_halide = "Cl"\n')
    assert "must differ" in text
    assert "needs mixed_halide" in _problems('[[materials]]\nname = "a"\nmixed_halide_fraction = 0.3\n')
    text = _problems('[[materials]]\nname = "a"\nmixed_halide = "Br"\nmixed_halide_fraction = 0.3\n'
                     '[md]\n[potential]\nspecies = ["Li", "P", "S", "Cl"]\n')
    assert "['Br']" in text


def test_disordered_grain_boundary():
    m = Material(name="D", grain_boundaries=[{"sigma": 5, "plane": [3, 1, 0], "site_disorder": 0.5}])
    gb = build_material(m, seed=4)["gb_sigma5_310"]
    sym = np.array(gb.get_chemical_symbols())
    sub = gb.arrays["sublattice"]
    n_a, n_c = np.sum(sub == 4), np.sum(sub == 5)
    n = round(0.5 * min(n_a, n_c))
    assert gb.info["n_site_exchanges"] == n > 0
    assert np.sum((sub == 5) & (sym == "Cl")) == n and np.sum((sub == 4) & (sym == "S")) == n
    assert charge(gb) == 0
    ordered = build_material(Material(name="D", grain_boundaries=[{"sigma": 5, "plane": [3, 1, 0]}]), seed=4)["gb_sigma5_310"]
    assert np.array_equal(ordered.positions, gb.positions)
    assert "n_site_exchanges" not in ordered.info


def test_relative_structure_file_through_runtime_from_another_cwd(tmp_path):
    """``structure_file = "my.cif"`` next to the input works when ``argyro-run run`` is started
    from another directory: the runtime's ``input_dir`` is what a relative path starts at."""
    import subprocess

    from argyro_run.archive import open_archive
    from tests._support.env import CLI

    case, elsewhere = tmp_path / "case", tmp_path / "elsewhere"
    case.mkdir(), elsewhere.mkdir()
    mine = argyrodite("Cl", lattice_constant_A=9.95, li_seed=11)  # differs from every default cell
    write_structure(case / "my.cif", mine)
    (case / "in.toml").write_text('[run]\nname = "file"\narchive = "out.h5"\n\n[[materials]]\nname = "mine"\n'
                                  'halide = "Cl"\nstructure_file = "my.cif"\n\n[active_learning]\nenabled = false\n')
    p = subprocess.run([CLI, "run", str(case / "in.toml")], capture_output=True, text=True,
                       timeout=120, cwd=str(elsewhere))
    assert p.returncode == 0, p.stdout + p.stderr
    assert not list(elsewhere.iterdir())  # nothing written at the cwd
    a = open_archive(case / "out.h5")
    assert a.tasks["structures/mine"]["status"] == "done"
    got = a.atoms("structures/mine", "ordered")
    assert got.get_chemical_symbols() == mine.get_chemical_symbols()
    np.testing.assert_allclose(got.cell[:], mine.cell[:], atol=1e-4)
    d = got.get_scaled_positions() - mine.get_scaled_positions()
    assert np.abs(d - np.round(d)).max() < 1e-4
    # the task itself: input_dir (what the runtime passes) resolves the file, wherever the cwd is
    task = build_plan(load_config(case / "in.toml"))["structures/mine"]
    res = run_build_structures({**task.params, "input_dir": str(case)}, {}, None, tmp_path)
    assert len(get_atoms(res, "ordered")) == 52
