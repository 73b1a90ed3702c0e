"""``argyro-run mtp init | eval | grade`` end to end (subprocesses, real files, real LAMMPS)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from ase.build import bulk

from argyro_run.potentials.cfg import read_cfg, write_cfg
from argyro_run.potentials.evaluate import evaluate
from argyro_run.potentials.mtp import read_mtp, write_mtp
from tests.conftest import BIN


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
