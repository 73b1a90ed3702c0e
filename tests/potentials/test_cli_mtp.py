"""``argyro-run mtp init | eval | grade`` end to end (subprocesses, real files, real LAMMPS)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from ase.build import bulk

from argyro_run.potentials.cfg import read_cfg, write_cfg
from argyro_run.potentials.evaluate import evaluate
from argyro_run.potentials.mtp import read_mtp, write_mtp
from tests._support.env import BIN


def _cli(*args, timeout=300):
    return subprocess.run([str(BIN / "argyro-run"), "mtp", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def _two_species(root, tmp_path):
    m = read_mtp(root / "crystals/noncubic/08/pot.mtp")
    rng = np.random.default_rng(0)
    m.radial_coeffs = np.repeat(np.repeat(m.radial_coeffs, 2, axis=0), 2, axis=1) * (
        1 + 0.1 * rng.normal(size=(2, 2) + m.radial_coeffs.shape[2:]))
    m.species_coeffs = np.array([-1.0, -2.0])
    m.species = ["Li", "S"]
    write_mtp(m, tmp_path / "p.mtp")
    images = []
    for s in range(5):
        a = bulk("Li", "bcc", a=3.4, cubic=True).repeat(2)
        a.symbols[::4] = "S"
        a.rattle(0.1, seed=s)
        images.append(a)
    write_cfg(tmp_path / "in.cfg", images, species=m.species)
    return m, images


def test_init_writes_level_basis(tmp_path):
    out = tmp_path / "sub" / "init.mtp"
    p = _cli("init", "--level", 8, "--species", "Li,P,S,Cl", "--cutoff", 5.5, "--seed", 3, "-o", out)
    assert p.returncode == 0, p.stderr
    m = read_mtp(out)
    assert m.species == ["Li", "P", "S", "Cl"] and m.level == 8 and m.max_dist_A == 5.5
    assert (m.alpha_moments_count, m.n_scalar) == (18, 9)
    assert m.radial_coeffs.shape == (4, 4, m.radial_funcs_count, 8)
    # bad input: exit 2, message naming the option, nothing written
    bad = tmp_path / "bad.mtp"
    for args, word in ((["--level", 7, "--species", "Li"], "--level"), (["--level", 8, "--species", "Li,Xx"], "--species"),
                       (["--level", 8, "--species", "Li,Li"], "--species")):
        p = _cli("init", *args, "-o", bad)
        assert p.returncode == 2 and word in p.stderr and "Traceback" not in p.stderr and not bad.exists()


def test_eval_python_and_lammps_agree(mlip_fixtures, tmp_path):
    m, images = _two_species(mlip_fixtures, tmp_path)
    for engine, out in (("python", tmp_path / "py.cfg"), ("lammps", tmp_path / "lmp.cfg"),
                        ("python", tmp_path / "py.extxyz")):
        p = _cli("eval", tmp_path / "p.mtp", tmp_path / "in.cfg", "-o", out, "--engine", engine)
        assert p.returncode == 0, p.stderr
    import ase.io

    py = read_cfg(tmp_path / "py.cfg", species=m.species)
    lmp = read_cfg(tmp_path / "lmp.cfg", species=m.species)
    xyz = ase.io.read(tmp_path / "py.extxyz", ":")
    for a, b, c, d in zip(images, py, lmp, xyz):
        ref = evaluate(m, a)
        assert b.get_potential_energy() == pytest.approx(ref["energy_eV"], rel=1e-12)
        assert c.get_potential_energy() == pytest.approx(ref["energy_eV"], rel=1e-10)
        np.testing.assert_allclose(c.get_forces(), ref["forces_eV_per_A"], atol=1e-9)
        np.testing.assert_allclose(c.get_stress(), ref["stress_eV_per_A3"], atol=1e-10)
        np.testing.assert_allclose(d.get_forces(), ref["forces_eV_per_A"], atol=1e-7)   # extxyz: 8 decimals
        assert d.get_chemical_symbols() == a.get_chemical_symbols()
    p = _cli("eval", tmp_path / "p.mtp", tmp_path / "missing.cfg", "-o", tmp_path / "x.cfg")
    assert p.returncode == 2 and "missing.cfg" in p.stderr


def test_grade_cli(mlip_fixtures, tmp_path):
    m, images = _two_species(mlip_fixtures, tmp_path)
    far = images[0].copy()
    far.set_cell(far.cell.array * 0.85, scale_atoms=True)
    write_cfg(tmp_path / "new.cfg", [images[1], far], species=m.species)
    p = _cli("grade", tmp_path / "p.mtp", tmp_path / "in.cfg", tmp_path / "new.cfg", "-o", tmp_path / "g.cfg",
             "--save-active-set", tmp_path / "a.als")
    assert p.returncode == 0, p.stderr
    g = read_cfg(tmp_path / "g.cfg", species=m.species)
    assert g[0].arrays["grade"].max() <= 1.0 + 2e-3      # a training configuration interpolates
    assert g[1].arrays["grade"].max() > 1.5              # the compressed one extrapolates
    # the active set it saved gives the same grades through LAMMPS
    p = _cli("eval", tmp_path / "p.mtp", tmp_path / "new.cfg", "-o", tmp_path / "e.cfg", "--engine", "lammps",
             "--active-set", tmp_path / "a.als")
    assert p.returncode == 0, p.stderr
    e = read_cfg(tmp_path / "e.cfg", species=m.species)
    for a, b in zip(g, e):
        np.testing.assert_allclose(b.arrays["grade"], a.arrays["grade"], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize("case", ["molecules/291/10", "crystals/noncubic/06"])
def test_eval_on_mlip_files_as_they_are(mlip_fixtures, tmp_path, case):
    """``mtp eval pot.mtp in.cfg -o out.cfg`` on MLIP's own files (no element names, types 0..n-1),
    as ``mlp calc-efs`` does: the output keeps the types and reproduces MLIP's numbers (energies,
    forces, PlusStress) to their printed precision."""
    d = mlip_fixtures / case
    assert not read_mtp(d / "pot.mtp").species          # MLIP names no elements
    out = tmp_path / "out.cfg"
    p = _cli("eval", d / "pot.mtp", d / "out.cfg", "-o", out)
    assert p.returncode == 0, p.stderr
    ref, got = read_cfg(d / "out.cfg"), read_cfg(out)
    assert len(got) == len(ref) and "BEGIN_CFG" in out.read_text()
    for a, b in zip(ref, got):
        np.testing.assert_array_equal(b.arrays["mtp_type"], a.arrays["mtp_type"])
        np.testing.assert_allclose(b.positions, a.positions, atol=1e-12)
        e = a.get_potential_energy()
        assert abs(b.get_potential_energy() - e) <= 1e-8 * max(abs(e), 1e-3)
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), rtol=0, atol=2e-6)
        if a.pbc.all():
            vol = a.get_volume()
            np.testing.assert_allclose(b.get_stress() * vol, a.get_stress() * vol, rtol=0, atol=2e-5)
    if "molecules/291" in case:
        assert {int(t) for a in got for t in a.arrays["mtp_type"]} == {0, 1}


def test_grade_and_train_on_mlip_files_as_they_are(mlip_fixtures, tmp_path):
    """``mtp grade`` and ``mtp train`` take MLIP's untyped .cfg files too: the configurations of
    the training set grade <= 1 (MaxVol), grades equal the Python API's with the same types, and
    training on MLIP's labels from its own potential keeps the potential (errors at print
    precision) and writes no species line, as MLIP would not."""
    from argyro_run.potentials.grades import grade, select_active_set

    d = mlip_fixtures / "molecules/291/10"
    g = tmp_path / "g.cfg"
    p = _cli("grade", d / "pot.mtp", d / "out.cfg", d / "out.cfg", "-o", g)
    assert p.returncode == 0, p.stderr
    graded = read_cfg(g)
    m, images = read_mtp(d / "pot.mtp"), read_cfg(d / "out.cfg")
    active = select_active_set(m, images)
    for a, b in zip(images, graded):
        np.testing.assert_array_equal(b.arrays["mtp_type"], a.arrays["mtp_type"])
        np.testing.assert_allclose(b.arrays["grade"], grade(m, active, a)[1], rtol=1e-8, atol=1e-10)
        assert b.arrays["grade"].max() <= 1.0 + 1e-6
    out = tmp_path / "t.mtp"
    p = _cli("train", d / "pot.mtp", d / "out.cfg", "-o", out, "--max-iter", 3)
    assert p.returncode == 0, p.stderr
    force_rmse = float(p.stdout.split("force ")[1].split()[0])
    assert force_rmse < 1e-5
    text = out.read_text()
    assert "species:" not in text and "species_count = 2" in text and not read_mtp(out).species


def test_elements_needed_only_for_formats_without_types(mlip_fixtures, tmp_path):
    """With a potential that names no elements: extxyz in or out, and the LAMMPS engine, need them;
    the error (exit 2) says which and how (--species), and nothing is written; with --species the
    same commands work."""
    d = mlip_fixtures / "molecules/291/10"
    xyz = tmp_path / "in.extxyz"
    p = _cli("eval", d / "pot.mtp", d / "out.cfg", "-o", xyz, "--species", "C,H")
    assert p.returncode == 0, p.stderr
    cases = [("eval", d / "pot.mtp", d / "out.cfg", "-o", tmp_path / "x.extxyz"),
             ("eval", d / "pot.mtp", xyz, "-o", tmp_path / "x.cfg"),
             ("eval", d / "pot.mtp", d / "out.cfg", "-o", tmp_path / "x.cfg", "--engine", "lammps"),
             ("grade", d / "pot.mtp", xyz, d / "out.cfg", "-o", tmp_path / "x.cfg"),
             ("train", d / "pot.mtp", xyz, "-o", tmp_path / "x.mtp")]
    for args in cases:
        p = _cli(*args)
        assert p.returncode == 2, (args, p.stderr)
        assert "names no elements" in p.stderr and "--species" in p.stderr and "Traceback" not in p.stderr
        assert not any(x.name.startswith("x.") for x in tmp_path.iterdir()), args
    assert "x.extxyz" in _cli(*cases[0]).stderr and "--engine lammps" in _cli(*cases[2]).stderr
    p = _cli("train", d / "pot.mtp", xyz, "-o", tmp_path / "x.mtp", "--species", "C,H", "--max-iter", 1)
    assert p.returncode == 0, p.stderr
    p = _cli("eval", d / "pot.mtp", d / "out.cfg", "-o", tmp_path / "y.cfg", "--engine", "lammps", "--species", "C,H")
    assert p.returncode == 0, p.stderr
    np.testing.assert_allclose([a.get_potential_energy() for a in read_cfg(tmp_path / "y.cfg", species=["C", "H"])],
                               [a.get_potential_energy() for a in read_cfg(d / "out.cfg")], rtol=1e-10)


def _learning_archive(tmp_path):
    """An archive holding a finished learning task: the test MTP, an active set line and a training set
    of a whole cell and a local cut-out (energy weight 0, force weights 1 on its core, 0 on its rim)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from argyro_run.learning.dataset import training_set_to_result
    from argyro_run.results import Result
    from argyro_run.structures import argyrodite
    from tests._support.archive import write_results
    from tests._support.inputs import TEST_MTP

    rng = np.random.default_rng(3)
    images = []
    for k in range(2):
        a = argyrodite("Cl")
        a.rattle(0.05, seed=k)
        a.calc = SinglePointCalculator(a, energy=-200.0 - k, forces=rng.normal(size=(len(a), 3)),
                                       stress=rng.normal(size=6) * 1e-3)
        images.append(a)
    images[1].info["energy_weight"] = 0.0
    images[1].arrays["force_weight"] = (np.arange(len(images[1])) < 20).astype(float)
    r = Result()
    r.add("mtp/text", TEST_MTP.read_text(), "")
    r.add("mtp/species", "Li P S Cl", "")
    r.add("active_set/text", "MTP active set v1 (test)\n", "")
    training_set_to_result(r, "training_set", images)
    r.set_attrs("", converged=False)
    return write_results(tmp_path / "run.h5", "t", [("learning/level8", "active_learning", r)]), images


def test_export_writes_the_learned_potential_and_its_weighted_training_set(tmp_path):
    """`mtp export`: the .mtp, active set and .cfg of the archive's learning task; the .cfg gives back
    every label and the cut-out's weights (so [potential] training_set keeps its rim out of the fit);
    a second export into the same folder and an unknown task exit 2 naming the option, nothing
    overwritten."""
    from tests._support.inputs import TEST_MTP

    archive, images = _learning_archive(tmp_path)
    p = _cli("export", archive, "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    assert "learning/level8" in p.stdout and "not converged" in p.stdout and "1 local cut-outs" in p.stdout
    assert (tmp_path / "out" / "level8.mtp").read_text() == TEST_MTP.read_text()
    assert (tmp_path / "out" / "level8.als").read_text().startswith("MTP active set v1")
    back = read_cfg(tmp_path / "out" / "level8.cfg", ["Li", "P", "S", "Cl"])
    assert len(back) == 2
    for a, b in zip(images, back):
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-12)
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-12)
        np.testing.assert_allclose(b.get_stress(), a.get_stress(), atol=1e-12)
    assert "force_weight" not in back[0].arrays and back[0].info.get("energy_weight", 1.0) == 1.0
    np.testing.assert_array_equal(back[1].arrays["force_weight"], images[1].arrays["force_weight"])
    assert back[1].info["energy_weight"] == 0.0
    before = (tmp_path / "out" / "level8.cfg").stat().st_mtime_ns
    again = _cli("export", archive, "-o", tmp_path / "out")
    assert again.returncode == 2 and "-o/--output" in again.stderr and "Traceback" not in again.stderr
    assert (tmp_path / "out" / "level8.cfg").stat().st_mtime_ns == before
    wrong = _cli("export", archive, "--task", "learning/level6", "-o", tmp_path / "other")
    assert wrong.returncode == 2 and "--task" in wrong.stderr and "learning/level8" in wrong.stderr
    assert not (tmp_path / "other").exists()


def test_force_weights_that_do_not_match_the_atoms_are_an_error(tmp_path):
    a = bulk("Li", "bcc", a=3.4, cubic=True)
    a.arrays["force_weight"] = np.array([1.0, 0.0])
    write_cfg(tmp_path / "w.cfg", [a], species=["Li"])
    text = (tmp_path / "w.cfg").read_text()
    assert " Feature   force_weight 1 0" in text
    (tmp_path / "bad.cfg").write_text(text.replace("force_weight 1 0", "force_weight 1 0 1"))
    with pytest.raises(ValueError, match="force_weight has 3 values for 2 atoms"):
        read_cfg(tmp_path / "bad.cfg", species=["Li"])
