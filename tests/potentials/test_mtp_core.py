"""MTP core: .mtp/.cfg I/O, the numpy evaluator against MLIP's reference outputs, derivatives,
invariances, site-basis rows, active sets and grades, the ASE calculator, the load_potential task."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from argyro_run.potentials.calculator import MTPCalculator
from argyro_run.potentials.cfg import format_cfg, parse_cfg, read_cfg, write_cfg
from argyro_run.potentials.evaluate import evaluate, site_basis
from argyro_run.potentials.grades import grade, load_active_set, save_active_set, select_active_set
from argyro_run.potentials.mtp import format_mtp, parse_mtp, read_mtp, write_mtp
from argyro_run.potentials.train import predict

LEVELS = ["02", "04", "06", "08", "10"]


def _fixture(root, kind, level):
    d = root / kind / level
    return read_mtp(d / "pot.mtp"), read_cfg(d / "out.cfg")


def _multi_species(root, seed=0):
    """The level-10 fixture potential re-dressed as a 2-species MTP (random radial coefficients
    per species pair, random moment coefficients) on a rattled 2-element cell."""
    m = read_mtp(root / "crystals/noncubic/10/pot.mtp")
    rng = np.random.default_rng(seed)
    S = 2
    m.radial_coeffs = np.repeat(np.repeat(m.radial_coeffs, S, axis=0), S, axis=1) * (
        1 + 0.2 * rng.normal(size=(S, S) + m.radial_coeffs.shape[2:]))
    m.species_coeffs = np.array([-1.0, -2.5])
    m.moment_coeffs = m.moment_coeffs * (1 + 0.1 * rng.normal(size=m.moment_coeffs.shape))
    m.species = ["Li", "S"]
    a = bulk("Li", "bcc", a=3.3, cubic=True).repeat((2, 2, 2))
    a.symbols[::3] = "S"
    a.set_cell(a.cell.array @ (np.eye(3) + 0.03 * rng.normal(size=(3, 3))), scale_atoms=True)
    a.rattle(0.1, seed=seed)
    return m, a


@pytest.mark.parametrize("level", LEVELS)
def test_mtp_text_roundtrip_exact(mlip_fixtures, level, tmp_path):
    for name in ("pot.mtp", "initial.mtp"):
        m = read_mtp(mlip_fixtures / "crystals/noncubic" / level / name)
        write_mtp(m, tmp_path / "x.mtp")
        back = read_mtp(tmp_path / "x.mtp")
        assert format_mtp(back) == format_mtp(m)
        for f in ("radial_coeffs", "species_coeffs", "moment_coeffs", "alpha_index_basic", "alpha_index_times",
                  "alpha_moment_mapping"):
            np.testing.assert_array_equal(getattr(back, f), getattr(m, f))
        assert back.scaling == m.scaling and back.max_dist_A == m.max_dist_A
    assert m.level == int(level)   # recognised from MLIP's template sizes


def test_mtp_read_errors(tmp_path):
    p = tmp_path / "bad.mtp"
    p.write_text("not an mtp\n")
    with pytest.raises(ValueError, match="bad.mtp"):
        read_mtp(p)
    good = (tmp_path / "g.mtp")
    text = format_mtp(parse_mtp("MTP\nspecies_count = 1\nradial_basis_type = RBChebyshev\nmin_dist = 1\n"
                                "max_dist = 5\nradial_basis_size = 4\nradial_funcs_count = 1\nalpha_moments_count = 1\n"
                                "alpha_index_basic_count = 1\nalpha_index_basic = {{0, 0, 0, 0}}\n"
                                "alpha_index_times_count = 0\nalpha_index_times = {}\nalpha_scalar_moments = 1\n"
                                "alpha_moment_mapping = {0}\n"))
    good.write_text(text.replace("alpha_moment_mapping = {0}", "alpha_moment_mapping = {3}"))
    with pytest.raises(ValueError, match="alpha_moment_mapping"):
        read_mtp(good)


@pytest.mark.parametrize("kind", ["crystals/noncubic", "molecules/291", "molecules/762"])
def test_evaluator_reproduces_mlip(mlip_fixtures, kind):
    """Energies to 1e-8 relative; forces and stresses to the printed precision of MLIP's output."""
    for level in LEVELS:
        d = mlip_fixtures / kind / level
        if not (d / "pot.mtp").is_file():
            continue
        m, images = read_mtp(d / "pot.mtp"), read_cfg(d / "out.cfg")
        for a in images:  # crystals: 30 configurations spread over MLIP's 1001 (tests/data/mlip/README.md)
            r = evaluate(m, a)
            e = a.get_potential_energy()
            assert abs(r["energy_eV"] - e) <= 1e-8 * max(abs(e), 1e-3)
            np.testing.assert_allclose(r["forces_eV_per_A"], a.get_forces(), rtol=0, atol=2e-6)
            if a.pbc.all():
                vol = a.get_volume()
                np.testing.assert_allclose(r["stress_eV_per_A3"] * vol, a.get_stress() * vol, rtol=0, atol=2e-5)
            else:
                assert r["stress_eV_per_A3"] is None
            assert r["energies_eV"].sum() == pytest.approx(r["energy_eV"], rel=1e-12)


def test_forces_and_stress_are_energy_derivatives(mlip_fixtures):
    m, a = _multi_species(mlip_fixtures)
    r = evaluate(m, a)
    h = 1e-5
    for i, x in [(0, 0), (3, 1), (7, 2)]:
        ap, am = a.copy(), a.copy()
        ap.positions[i, x] += h
        am.positions[i, x] -= h
        fd = -(evaluate(m, ap)["energy_eV"] - evaluate(m, am)["energy_eV"]) / (2 * h)
        assert r["forces_eV_per_A"][i, x] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    # stress = (1/V) dE/d(strain), Voigt order xx yy zz yz xz xy
    V = a.get_volume()
    for k, (p, q) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
        eps = np.zeros((3, 3))
        eps[p, q] = eps[q, p] = h
        ep, em = a.copy(), a.copy()
        ep.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        em.set_cell(a.cell.array @ (np.eye(3) - eps), scale_atoms=True)
        dE = (evaluate(m, ep)["energy_eV"] - evaluate(m, em)["energy_eV"]) / (2 * h)
        if p != q:
            dE /= 2.0
        assert r["stress_eV_per_A3"][k] * V == pytest.approx(dE, rel=1e-6, abs=1e-8)


def test_invariances_and_independent_engine(mlip_fixtures):
    m, a = _multi_species(mlip_fixtures, seed=3)
    r = evaluate(m, a)
    # the trainer's design-row engine gives the same numbers by another route
    p = predict(m, a)
    assert p["energy_eV"] == pytest.approx(r["energy_eV"], rel=1e-12)
    np.testing.assert_allclose(p["forces_eV_per_A"], r["forces_eV_per_A"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(p["stress_eV_per_A3"], r["stress_eV_per_A3"], rtol=0, atol=1e-12)
    # rotation: energy and per-atom energies invariant, forces rotate
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    b = a.copy()
    b.set_cell(a.cell.array @ Q.T, scale_atoms=False)
    b.positions = a.positions @ Q.T
    rb = evaluate(m, b)
    assert rb["energy_eV"] == pytest.approx(r["energy_eV"], rel=1e-12)
    np.testing.assert_allclose(rb["energies_eV"], r["energies_eV"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rb["forces_eV_per_A"], r["forces_eV_per_A"] @ Q.T, atol=1e-10)
    # permutation of atoms: per-atom quantities permute
    perm = rng.permutation(len(a))
    c = a[perm]
    rc = evaluate(m, c)
    np.testing.assert_allclose(rc["energies_eV"], r["energies_eV"][perm], rtol=1e-12, atol=1e-12)
    # translation by a lattice vector of one atom changes nothing
    d = a.copy()
    d.positions[2] += a.cell[1]
    assert evaluate(m, d)["energy_eV"] == pytest.approx(r["energy_eV"], rel=1e-13)
    # site energies are species coefficient + moment part: the site-basis rows times theta
    R = site_basis(m, a)
    theta = np.concatenate([m.species_coeffs, m.moment_coeffs])
    np.testing.assert_allclose(R @ theta, r["energies_eV"], rtol=1e-12, atol=1e-12)


def test_isolated_atoms_and_empty_neighbourhoods(mlip_fixtures):
    m, _ = _multi_species(mlip_fixtures)
    far = Atoms("LiS", positions=[[0, 0, 0], [20, 0, 0]], pbc=False)
    r = evaluate(m, far)
    # the first basis moment is a product of radial sums: zero without neighbours
    assert r["energy_eV"] == pytest.approx(m.species_coeffs.sum(), abs=1e-12)
    assert np.all(r["forces_eV_per_A"] == 0)


def test_cfg_roundtrip(mlip_fixtures, tmp_path):
    images = read_cfg(mlip_fixtures / "crystals/noncubic/06/out.cfg")[:5]
    mol = read_cfg(mlip_fixtures / "molecules/291/06/out.cfg")[:2]
    for imgs in (images, mol):
        write_cfg(tmp_path / "a.cfg", imgs)
        back = read_cfg(tmp_path / "a.cfg")
        assert len(back) == len(imgs)
        for a, b in zip(imgs, back):
            np.testing.assert_allclose(b.positions, a.positions, atol=1e-12)
            np.testing.assert_array_equal(b.arrays["mtp_type"], a.arrays["mtp_type"])
            assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=1e-12)
            np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-12)
            assert bool(b.pbc.all()) == bool(a.pbc.all())
            if a.pbc.all():
                np.testing.assert_allclose(b.get_stress(), a.get_stress(), atol=1e-12)
    # species names, grades and features survive
    a = bulk("Li", "bcc", a=3.4).repeat(2)
    a.symbols[0] = "S"
    a.arrays["grade"] = np.linspace(0.5, 3.0, len(a))
    a.info["origin"] = "test/step 3"
    text = format_cfg([a], species=["Li", "S"])
    (b,) = parse_cfg(text, species=["Li", "S"])
    assert b.get_chemical_symbols() == a.get_chemical_symbols()
    np.testing.assert_allclose(b.arrays["grade"], a.arrays["grade"])
    assert b.info["origin"] == "test/step 3"
    with pytest.raises(ValueError, match="not among"):
        format_cfg([a], species=["Li"])


def test_active_set_and_grades(mlip_fixtures, tmp_path):
    m, a = _multi_species(mlip_fixtures)
    images = []
    for s in range(6):
        b = a.copy()
        b.rattle(0.08, seed=10 + s)
        images.append(b)
    active = select_active_set(m, images)
    # every training neighbourhood interpolates (grade <= 1 up to the swap threshold)
    for b in images:
        g, per_atom = grade(m, active, b)
        assert g <= 1.0 + 2e-3 and per_atom.shape == (len(b),)
    # a compressed cell extrapolates
    c = a.copy()
    c.set_cell(a.cell.array * 0.85, scale_atoms=True)
    assert grade(m, active, c)[0] > 1.5
    # the file round-trips (inverse and rows) and the rows are the chosen site-basis rows
    save_active_set(tmp_path / "a.als", active)
    back = load_active_set(tmp_path / "a.als")
    np.testing.assert_array_equal(back.inverse, active.inverse)
    np.testing.assert_allclose(back.rows @ back.inverse, np.eye(len(back.rows)), atol=1e-6)
    assert grade(m, back, c)[0] == pytest.approx(grade(m, active, c)[0], rel=1e-12)
    # configuration mode: one row per configuration, per-atom grades 0
    conf = select_active_set(m, images * 4, mode="configuration")
    g, per_atom = grade(m, conf, images[0])
    assert np.all(per_atom == 0) and g > 0


def test_calculator_and_md_step(mlip_fixtures):
    from ase import units
    from ase.md.verlet import VelocityVerlet

    m, a = _multi_species(mlip_fixtures)
    a.calc = MTPCalculator(copy.deepcopy(m))
    e0 = a.get_potential_energy()
    assert e0 == pytest.approx(evaluate(m, a)["energy_eV"], rel=1e-14)
    assert a.get_stress().shape == (6,)
    # velocity Verlet with these forces conserves energy to second order in the time step
    dev = []
    for dt in (0.2, 0.1):
        b = a.copy()
        b.calc = MTPCalculator(m)
        b.set_velocities(np.random.default_rng(0).normal(scale=0.01, size=(len(a), 3)))
        etot0 = b.get_total_energy()
        errs = []
        dyn = VelocityVerlet(b, dt * units.fs)
        dyn.attach(lambda: errs.append(abs(b.get_total_energy() - etot0)), interval=1)
        dyn.run(int(round(4.0 / dt)))
        dev.append(max(errs))
    assert 2.5 < dev[0] / dev[1] < 6.0


def test_load_potential_task(mlip_fixtures, tmp_path):
    from argyro_run.errors import UserError
    from argyro_run.potentials.tasks import run_load_potential

    m, a = _multi_species(mlip_fixtures)
    write_mtp(m, tmp_path / "p.mtp")
    res = run_load_potential({"potential": {"file": "p.mtp", "species": ["Li", "S"]}, "input_dir": str(tmp_path)},
                             {}, None, tmp_path)
    assert format_mtp(parse_mtp(str(np.asarray(res.get("mtp/text")).item() if np.asarray(res.get("mtp/text")).shape == ()
                                    else res.get("mtp/text")))) == format_mtp(m)
    assert "active_set/text" not in res
    images = []
    for s in range(4):
        b = a.copy()
        b.rattle(0.05, seed=s)
        b.calc = MTPCalculator(m)
        b.get_forces()
        images.append(b)
    write_cfg(tmp_path / "train.cfg", images, species=m.species)
    res = run_load_potential({"potential": {"file": str(tmp_path / "p.mtp"), "species": ["Li", "S"],
                                            "training_set": "train.cfg"}, "input_dir": str(tmp_path)}, {}, None, tmp_path)
    assert "active_set/text" in res
    with pytest.raises(UserError, match="potential.species"):
        run_load_potential({"potential": {"file": str(tmp_path / "p.mtp"), "species": ["S", "Li"]}}, {}, None, tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        run_load_potential({"potential": {"file": "nope.mtp"}, "input_dir": str(tmp_path)}, {}, None, tmp_path)


def test_committed_test_potential_is_consistent():
    """tests/data/mtp (made by make_test_mtp.py): the potential fits its own tblite data and its
    active set is the MaxVol set of that data (every training neighbourhood grades <= 1)."""
    from pathlib import Path

    from argyro_run.potentials.train import errors

    d = Path(__file__).resolve().parents[1] / "data" / "mtp"
    m = read_mtp(d / "Li6PS5Cl-l08.mtp")
    assert m.species == ["Li", "P", "S", "Cl"] and m.level == 8
    data = read_cfg(d / "Li6PS5Cl-l08.cfg", species=m.species)
    err = errors(m, data[::4])
    assert err["rmse_force_eV_per_A"] < 0.15 and err["rmse_energy_meV_per_atom"] < 10
    active = load_active_set(d / "Li6PS5Cl-l08.als")
    assert max(grade(m, active, a)[0] for a in data[::8]) <= 1.0 + 2e-3


def test_files_readable_by_motep(mlip_fixtures, tmp_path):
    """Our .mtp files (species in potential_tag) read unchanged by motep (MLIP-format reader)."""
    motep_mtp = pytest.importorskip("motep.io.mlip.mtp")
    m, _ = _multi_species(mlip_fixtures)
    write_mtp(m, tmp_path / "p.mtp")
    d = motep_mtp.read_mtp(tmp_path / "p.mtp")
    np.testing.assert_array_equal(np.asarray(d.radial_coeffs).reshape(m.radial_coeffs.shape), m.radial_coeffs)
    np.testing.assert_array_equal(np.asarray(d.moment_coeffs), m.moment_coeffs)
    np.testing.assert_array_equal(np.asarray(d.alpha_index_times), m.alpha_index_times)
    assert read_mtp(tmp_path / "p.mtp").species == ["Li", "S"]


@pytest.mark.parametrize("lo,hi", [(6, 8), (8, 16), (16, 18)])
def test_extend_level_keeps_the_potential(lo, hi, tmp_path):
    """Raising the level keeps every shared basis function's coefficient: same energies and forces
    before any training; the level is read back from the file (also above MLIP's sizes)."""
    from argyro_run.potentials.mtp import extend_level, init_mtp
    from argyro_run.structures.argyrodite import argyrodite

    a = argyrodite("Cl")
    a.rattle(0.05, seed=1)
    m = init_mtp(lo, ["Li", "P", "S", "Cl"], seed=2)
    m.species_coeffs = np.array([-1.0, -2.0, -3.0, -4.0])
    m.moment_coeffs = np.random.default_rng(3).normal(scale=1e-3, size=m.n_scalar)
    n = extend_level(m, hi)
    assert n.level == hi and int(np.count_nonzero(n.moment_coeffs)) == m.n_scalar
    r0, r1 = evaluate(m, a), evaluate(n, a)
    assert r1["energy_eV"] == pytest.approx(r0["energy_eV"], rel=1e-12)
    np.testing.assert_allclose(r1["forces_eV_per_A"], r0["forces_eV_per_A"], atol=1e-12)
    write_mtp(n, tmp_path / "n.mtp")
    assert read_mtp(tmp_path / "n.mtp").level == hi
