"""MTP training (issue 6): the training engine against MLIP's reference numbers, exact gradients,
exact recovery of a known potential, monotone loss, per-atom force weights and per-image energy
weights, validation split, 1 vs 2 MPI ranks, and the ``mtp train`` command."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from argyro_run.potentials import train as T
from argyro_run.potentials.moments import MomentTables
from tests._support.env import BIN, FIXTURES
from tests.potentials.training_runs import json_on_ranks, refit_from_perturbed

CRYSTAL = FIXTURES / "crystals" / "noncubic"
METHANE = FIXTURES / "molecules" / "291"


def _mtp(path):
    """Minimal MLIP .mtp reader (reference fixtures; independent of argyro_run.potentials.mtp):
    the fields the trainer reads, under the contract's attribute names."""
    text = Path(path).read_text()

    def field(key):
        return re.search(rf"^\s*{key}\s*=\s*(.*)$", text, re.M).group(1).strip()

    def numbers(key):
        return np.array([float(x) for x in re.findall(r"[-+0-9.eE]+", field(key))])

    S, R, B = int(field("species_count")), int(field("radial_funcs_count")), int(field("radial_basis_size"))
    radial = np.zeros((S, S, R, B))
    block = text.split("radial_coeffs")[1].split("alpha_moments_count")[0]
    for a, b, body in re.findall(r"(\d+)-(\d+)\s*((?:\{[^}]*\}\s*)+)", block):
        for mu, row in enumerate(re.findall(r"\{([^}]*)\}", body)):
            radial[int(a), int(b), mu] = [float(x) for x in row.split(",")]
    return SimpleNamespace(species=None, level=None, potential_name=field("potential_name"),
                           scaling=float(field("scaling")), min_dist_A=float(field("min_dist")),
                           max_dist_A=float(field("max_dist")), radial_basis_size=B, radial_funcs_count=R,
                           radial_coeffs=radial, species_coeffs=numbers("species_coeffs"),
                           moment_coeffs=numbers("moment_coeffs"),
                           alpha_index_basic=numbers("alpha_index_basic").astype(int).reshape(-1, 4),
                           alpha_index_times=numbers("alpha_index_times").astype(int).reshape(-1, 4),
                           alpha_moment_mapping=numbers("alpha_moment_mapping").astype(int),
                           alpha_moments_count=int(field("alpha_moments_count")))


def _cfg(path):
    """Minimal MLIP .cfg reader (reference outputs): Atoms with per-atom ``mtp_type`` and the
    energy, forces and stress (from PlusStress = -V * stress) as a SinglePointCalculator."""
    out = []
    for block in Path(path).read_text().split("BEGIN_CFG")[1:]:
        lines = [ln.strip() for ln in block.splitlines()]
        k, cell, energy, virial = 0, None, None, None
        while k < len(lines):
            ln = lines[k]
            if ln == "Size":
                n = int(lines[k + 1])
            elif ln == "Supercell":
                cell = [[float(x) for x in lines[k + d].split()] for d in (1, 2, 3)]
            elif ln.startswith("AtomData"):
                rows = np.array([[float(x) for x in lines[k + 1 + d].split()] for d in range(n)])
            elif ln == "Energy":
                energy = float(lines[k + 1])
            elif ln.startswith("PlusStress"):
                virial = np.array([float(x) for x in lines[k + 1].split()])
            k += 1
        types = rows[:, 1].astype(int)
        atoms = Atoms(numbers=types, positions=rows[:, 2:5], cell=cell, pbc=cell is not None)
        atoms.arrays["mtp_type"] = types
        kw = {"energy": energy, "forces": rows[:, 5:8]}
        if virial is not None and cell is not None:
            kw["stress"] = -virial / atoms.get_volume()
        atoms.calc = SinglePointCalculator(atoms, **kw)
        out.append(atoms)
    return out


def _labelled(mtp, base_images, *, rattle_A=0.1, seed=0):
    """Copies of ``base_images``, rattled, labelled by the potential (the MTP core's evaluator when
    it is in the tree, else the trainer's own, checked against MLIP above)."""
    try:
        from argyro_run.potentials.evaluate import evaluate
    except ImportError:
        evaluate = T.predict
    out = []
    for k, a in enumerate(base_images):
        b = a.copy()
        b.calc = None
        b.rattle(rattle_A, seed=seed + k)
        r = evaluate(mtp, b)
        kw = {"energy": r["energy_eV"], "forces": np.asarray(r["forces_eV_per_A"])}
        if r["stress_eV_per_A3"] is not None:
            kw["stress"] = np.asarray(r["stress_eV_per_A3"])
        b.calc = SinglePointCalculator(b, **kw)
        out.append(b)
    return out


@pytest.mark.parametrize("system", ["crystals/noncubic", "molecules/291", "molecules/762"])
@pytest.mark.parametrize("level", ["02", "06", "10"])
def test_engine_reproduces_mlip_outputs(mlip_fixtures, system, level):
    """The trainer's design rows times the fitted coefficients give MLIP's energies, forces and
    stresses of the reference outputs (to the precision they are printed with)."""
    base = mlip_fixtures / system / level
    mtp = _mtp(base / "pot.mtp")
    for atoms in _cfg(base / "out.cfg")[:6]:
        ref = atoms.calc.results
        p = T.predict(mtp, atoms)
        assert p["energy_eV"] == pytest.approx(ref["energy"], rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(p["forces_eV_per_A"], ref["forces"], atol=2e-6)
        if "stress" in ref:
            s = np.asarray(ref["stress"], dtype=float)
            if s.shape == (3, 3):
                s = s[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            # PlusStress is printed with 5 decimals in eV (virial): compare as virials
            np.testing.assert_allclose(p["stress_eV_per_A3"] * atoms.get_volume(), s * atoms.get_volume(), atol=2e-5)


def _random_labels(mtp, images, seed=1):
    rng = np.random.default_rng(seed)
    out = []
    for a in images:
        b = a.copy()
        p = T.predict(mtp, b)
        kw = {"energy": p["energy_eV"] + rng.normal() * 0.05,
              "forces": p["forces_eV_per_A"] + rng.normal(size=(len(b), 3)) * 0.05}
        if p["stress_eV_per_A3"] is not None:
            kw["stress"] = p["stress_eV_per_A3"] + rng.normal(size=6) * 0.002
        b.calc = SinglePointCalculator(b, **kw)
        b.arrays["force_weight"] = rng.uniform(0.2, 1.0, len(b))
        out.append(b)
    return out


@pytest.mark.parametrize("system", ["crystals/noncubic", "molecules/291"])
def test_radial_gradient_matches_finite_differences(mlip_fixtures, system):
    base = mlip_fixtures / system / "06"
    mtp = _mtp(base / "pot.mtp")
    images = _random_labels(mtp, [a for a in _cfg(base / "out.cfg")[:5]])
    basis = MomentTables.of(mtp)
    prepared = [T._prepare(mtp, basis, a, k) for k, a in enumerate(images)]
    problem = T._Problem(mtp, basis, prepared, list(range(len(images))), len(images), None, 1.0, 0.01, 0.001)
    rng = np.random.default_rng(3)
    c = np.asarray(mtp.radial_coeffs).ravel() * (1 + 0.1 * rng.normal(size=basis.n_radial))
    _, grad = problem.loss_and_gradient(c)
    checked = 0
    for k in np.argsort(-np.abs(grad))[:6]:
        h = 1e-5 * max(abs(c[k]), 1e-2)
        cp, cm = c.copy(), c.copy()
        cp[k] += h
        cm[k] -= h
        fd = (problem.loss_and_gradient(cp)[0] - problem.loss_and_gradient(cm)[0]) / (2 * h)
        assert grad[k] == pytest.approx(fd, rel=1e-4, abs=1e-9 * np.abs(grad).max())
        checked += 1
    assert checked == 6


def test_linear_least_squares_is_exact(mlip_fixtures):
    """With the right radial coefficients, 0 iterations (LLS only) recover the linear part."""
    mtp = _mtp(METHANE / "10" / "pot.mtp")
    images = _labelled(mtp, _cfg(METHANE / "10" / "out.cfg")[:8])
    start = copy.deepcopy(mtp)
    start.species_coeffs = np.zeros_like(np.asarray(mtp.species_coeffs))
    start.moment_coeffs = np.zeros_like(np.asarray(mtp.moment_coeffs))
    new, report = T.train(start, images, max_iterations=0)
    assert report.iterations == 0
    np.testing.assert_allclose(new.radial_coeffs, mtp.radial_coeffs, rtol=0, atol=0)
    e = report.train_errors
    assert e["rmse_energy_meV_per_atom"] < 1e-6 and e["rmse_force_eV_per_A"] < 1e-8
    np.testing.assert_allclose(new.moment_coeffs, mtp.moment_coeffs, rtol=1e-5,
                               atol=1e-6 * np.abs(mtp.moment_coeffs).max())


def test_exact_recovery_from_perturbed_radial_coefficients(mlip_fixtures):
    """Data of a known MTP are fitted back to ~zero error from perturbed radial coefficients and
    zeroed linear coefficients; the loss never increases from one iteration to the next."""
    mtp = _mtp(CRYSTAL / "06" / "pot.mtp")
    images = _labelled(mtp, _cfg(CRYSTAL / "06" / "out.cfg")[:8])
    before, new, report = refit_from_perturbed(mtp, images)
    e = report.train_errors
    assert before["rmse_force_eV_per_A"] > 0.1
    assert e["rmse_energy_meV_per_atom"] < 0.05
    assert e["rmse_force_eV_per_A"] < 2e-3
    assert e["rmse_stress_GPa"] < 5e-3


def test_zero_force_weight_makes_forces_irrelevant(mlip_fixtures):
    """Corrupting the forces of atoms with force weight 0 (and the energy and stress of an image with
    energy weight 0) changes nothing: the same coefficients come out."""
    mtp = _mtp(CRYSTAL / "06" / "pot.mtp")
    clean = _random_labels(mtp, _cfg(CRYSTAL / "06" / "out.cfg")[:5], seed=4)
    for a in clean:
        a.arrays["force_weight"][::3] = 0.0
    clean[2].info["energy_weight"] = 0.0
    dirty = []
    rng = np.random.default_rng(9)
    for k, a in enumerate(clean):
        b = a.copy()
        r = a.calc.results
        forces = np.array(r["forces"])
        zero = a.arrays["force_weight"] == 0
        forces[zero] += rng.normal(size=(zero.sum(), 3)) * 10.0
        energy, stress = r["energy"], np.array(r["stress"])
        if k == 2:
            energy += 100.0
            stress += 1.0
        b.calc = SinglePointCalculator(b, energy=energy, forces=forces, stress=stress)
        dirty.append(b)
    a_new, a_rep = T.train(mtp, clean, max_iterations=5)
    b_new, b_rep = T.train(mtp, dirty, max_iterations=5)
    np.testing.assert_allclose(b_new.radial_coeffs, a_new.radial_coeffs, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(b_new.moment_coeffs, a_new.moment_coeffs, rtol=1e-8,
                               atol=1e-10 * np.abs(a_new.moment_coeffs).max())
    np.testing.assert_allclose(b_rep.loss_history, a_rep.loss_history, rtol=1e-9)
    # and the weights do act: without them the corrupted data give a different fit
    for b in dirty:
        b.arrays["force_weight"][:] = 1.0
        b.info.pop("energy_weight", None)
    c_new, _ = T.train(mtp, dirty, max_iterations=0)
    assert not np.allclose(c_new.moment_coeffs, a_new.moment_coeffs, rtol=1e-3)


def test_validation_split_is_seeded_and_reported(mlip_fixtures):
    mtp = _mtp(CRYSTAL / "06" / "pot.mtp")
    images = _random_labels(mtp, _cfg(CRYSTAL / "06" / "out.cfg")[:10], seed=2)
    _, r1 = T.train(mtp, images, max_iterations=2, validation_fraction=0.3, seed=5)
    _, r2 = T.train(mtp, images, max_iterations=2, validation_fraction=0.3, seed=5)
    assert (r1.n_train, r1.n_validation) == (7, 3)
    assert r1.validation_errors == r2.validation_errors and r1.loss_history == r2.loss_history
    assert r1.validation_errors["n"] == 3 and r1.train_errors["n"] == 7
    assert np.isfinite(r1.validation_errors["rmse_force_eV_per_A"])
    with pytest.raises(ValueError):
        T.train(mtp, images, validation_fraction=1.0)


def test_one_and_two_ranks_give_identical_results(mlip_fixtures, tmp_path):
    one, two = json_on_ranks("tests.potentials._mpi_train", tmp_path)
    assert one["radial"] == two["radial"] and one["moment"] == two["moment"] and one["species"] == two["species"]
    assert one["loss"] == two["loss"] and one["val"] == two["val"]
    assert len(one["loss"]) > 2


def test_cli_train(mlip_fixtures, tmp_path):
    from argyro_run.potentials.cfg import read_cfg, write_cfg
    from argyro_run.potentials.mtp import read_mtp

    mtp = read_mtp(CRYSTAL / "06" / "pot.mtp")
    images = _labelled(mtp, _cfg(CRYSTAL / "06" / "out.cfg")[:4])
    data = tmp_path / "train.cfg"
    write_cfg(data, images, species=mtp.species)
    start = copy.deepcopy(mtp)
    rng = np.random.default_rng(1)
    start.radial_coeffs = np.asarray(mtp.radial_coeffs) * (1 + 0.03 * rng.normal(size=np.shape(mtp.radial_coeffs)))
    from argyro_run.potentials.mtp import write_mtp

    write_mtp(start, tmp_path / "start.mtp")
    out = tmp_path / "out" / "fit.mtp"
    proc = subprocess.run([str(BIN / "argyro-run"), "mtp", "train", str(tmp_path / "start.mtp"), str(data), "-o",
                           str(out), "--max-iter", "20"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "train RMSE" in proc.stdout and out.is_file()
    fitted = read_mtp(out)
    back = read_cfg(data)
    assert T.errors(fitted, back)["rmse_force_eV_per_A"] < 0.3 * T.errors(start, back)["rmse_force_eV_per_A"]
    # a bad iteration count is a user error (exit 2), and no output is written
    bad = tmp_path / "bad.mtp"
    proc = subprocess.run([str(BIN / "argyro-run"), "mtp", "train", str(tmp_path / "start.mtp"), str(data), "-o",
                           str(bad), "--max-iter", "-1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and not bad.exists()


def test_warm_start_tolerance_and_errors_semantics(mlip_fixtures):
    """A fitted potential is a fixed point (warm start keeps it); a loose tolerance stops early;
    errors() leaves out energies of energy-weight-0 images and forces of force-weight-0 atoms."""
    mtp = _mtp(CRYSTAL / "06" / "pot.mtp")
    images = _labelled(mtp, _cfg(CRYSTAL / "06" / "out.cfg")[:6])
    new, report = T.train(mtp, images, max_iterations=20)
    assert report.loss_history[0] < 1e-20 and report.train_errors["rmse_force_eV_per_A"] < 1e-9
    np.testing.assert_allclose(new.radial_coeffs, mtp.radial_coeffs, rtol=1e-8)
    noisy = _random_labels(mtp, images, seed=8)
    _, loose = T.train(mtp, noisy, max_iterations=200, tolerance=1e-2)
    _, tight = T.train(mtp, noisy, max_iterations=40, tolerance=1e-12)
    assert loose.converged and loose.iterations < tight.iterations
    # error bookkeeping: corrupt only what is excluded
    bad = [a.copy() for a in images]
    for a, b in zip(images, bad):
        r = a.calc.results
        forces = np.array(r["forces"])
        forces[0] += 5.0
        b.calc = SinglePointCalculator(b, energy=r["energy"] + 3.0, forces=forces, stress=r["stress"] + 1.0)
        b.info["energy_weight"] = 0.0
        b.arrays["force_weight"] = np.r_[0.0, np.ones(len(b) - 1)]
    e = T.errors(mtp, bad)
    assert e["rmse_force_eV_per_A"] < 1e-9 and np.isnan(e["rmse_energy_meV_per_atom"]) and e["n"] == 6
    with pytest.raises(ValueError):
        T.train(mtp, [])
