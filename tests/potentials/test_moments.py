"""The training engine on a small hand-written two-species MTP (no file I/O needed): pair search
against ASE, forces and stress as derivatives of the energy, exact radial gradients, recovery of a
known potential, zero force weights, 1 vs 2 MPI ranks."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list

from argyro_run.potentials import train as T
from argyro_run.potentials.moments import Frame, MomentTables, atom_types, pairs_within
from tests.potentials.training_runs import json_on_ranks, refit_from_perturbed


def toy_mtp(seed: int = 0):
    """Two species, two radial functions, basic moments of rank 0 and 1, contractions to depth 2."""
    rng = np.random.default_rng(seed)
    basic = [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
             [1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 0, 1]]
    times = [[1, 1, 1, 8], [2, 2, 1, 8], [3, 3, 1, 8],       # m8 = |v0|^2
             [1, 5, 1, 9], [2, 6, 1, 9], [3, 7, 1, 9],       # m9 = v0 . v1
             [0, 8, 1, 10], [4, 9, 2, 11]]                   # depth 2
    return SimpleNamespace(species=["Li", "S"], potential_name="toy", level=None, scaling=1.0,
                           min_dist_A=1.2, max_dist_A=4.2, radial_basis_size=6, radial_funcs_count=2,
                           radial_coeffs=rng.normal(scale=0.3, size=(2, 2, 2, 6)),
                           species_coeffs=np.array([-1.5, -3.0]), moment_coeffs=rng.normal(scale=0.2, size=6),
                           alpha_index_basic=np.array(basic), alpha_index_times=np.array(times),
                           alpha_moment_mapping=np.array([0, 4, 8, 9, 10, 11]), alpha_moments_count=12)


def toy_cells(n: int, seed: int = 0) -> list:
    """Random Li/S cells (periodic, skewed, 10 atoms, min distance 1.6 A) and one cluster."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        cell = np.diag([5.0, 5.5, 6.0]) + rng.uniform(-0.6, 0.6, (3, 3))
        a = Atoms("Li6S4", cell=cell, pbc=True, scaled_positions=rng.uniform(size=(10, 3)))
        d = a.get_all_distances(mic=True) + 10 * np.eye(10)
        if d.min() > 1.6:
            out.append(a)
    return out


def label(mtp, images):
    out = []
    for a in images:
        b = a.copy()
        p = T.predict(mtp, b)
        kw = {"energy": p["energy_eV"], "forces": p["forces_eV_per_A"]}
        if p["stress_eV_per_A3"] is not None:
            kw["stress"] = p["stress_eV_per_A3"]
        b.calc = SinglePointCalculator(b, **kw)
        out.append(b)
    return out


def noisy(images, seed=1, scale=0.05):
    rng = np.random.default_rng(seed)
    out = []
    for a in images:
        b = a.copy()
        r = a.calc.results
        kw = {"energy": r["energy"] + rng.normal() * scale,
              "forces": r["forces"] + rng.normal(size=(len(a), 3)) * scale}
        if "stress" in r:
            kw["stress"] = r["stress"] + rng.normal(size=6) * scale / 20
        b.calc = SinglePointCalculator(b, **kw)
        out.append(b)
    return out


def _sorted_pairs(i, j, D):
    key = np.lexsort((np.round(D[:, 2], 6), np.round(D[:, 1], 6), np.round(D[:, 0], 6), j, i))
    return i[key], j[key], D[key]


@pytest.mark.parametrize("case", ["skewed", "small", "thin", "outside", "cluster", "slab", "big_box", "big_skewed"])
def test_pairs_within_matches_ase(case):
    rng = np.random.default_rng(3)
    if case.startswith("big"):  # 416 atoms: the k-d tree (orthorhombic) or ASE's list (skewed)
        from argyro_run.potentials.moments import _orthorhombic_short
        from argyro_run.structures.argyrodite import argyrodite

        a = argyrodite("Cl") * (2, 2, 2)
        a.rattle(0.3, seed=2)
        a.positions += [-13.1, 25.4, 0.7]                        # outside the cell, also negative
        if case == "big_skewed":
            a.set_cell(a.cell[:] + [[0, 0, 0], [1.5, 0, 0], [0, 0.8, 0]], scale_atoms=True)
        assert _orthorhombic_short(a.cell[:], 4.2) == (case == "big_box")
    elif case == "small":      # cell shorter than the cutoff: several images of each atom
        a = Atoms("Li2", cell=[[2.1, 0, 0], [0.4, 2.3, 0], [0.2, 0.3, 2.6]], pbc=True,
                  scaled_positions=[[0, 0, 0], [0.4, 0.5, 0.6]])
    elif case == "thin":       # widths just below the cutoff, atoms at opposite faces: the farthest images
        a = Atoms("Li3", cell=[[4.1, 0, 0], [1.3, 4.0, 0], [0.5, -0.9, 4.15]], pbc=True,
                  scaled_positions=[[0.001, 0.002, 0.999], [0.998, 0.997, 0.003], [0.5, 0.01, 0.99]])
        assert (4.2 * np.linalg.norm(np.linalg.inv(a.cell[:]).T, axis=1) > 1).all()
    elif case == "cluster":
        a = Atoms("Li4S3", positions=rng.uniform(0, 4, (7, 3)))
    elif case == "slab":     # mixed periodicity (ASE path)
        a = Atoms("Li4S3", positions=rng.uniform(0, 4, (7, 3)), cell=[5, 5, 20], pbc=[True, True, False])
    else:
        a = toy_cells(1, seed=4)[0]
        if case == "outside":
            a.positions += [7.3, -11.2, 3.9]
    i, j, D = pairs_within(a, 4.2)
    i2, j2, D2 = neighbor_list("ijD", a, 4.2)
    assert len(i) == len(i2) > 0
    x, y = _sorted_pairs(i, j, D), _sorted_pairs(i2, j2, D2)
    np.testing.assert_array_equal(x[0], y[0])
    np.testing.assert_array_equal(x[1], y[1])
    np.testing.assert_allclose(x[2], y[2], atol=1e-9)


def test_forces_and_stress_are_derivatives_of_the_energy():
    mtp = toy_mtp()
    a = toy_cells(1, seed=5)[0]
    p = T.predict(mtp, a)
    h = 1e-5
    for atom, comp in [(0, 0), (3, 1), (7, 2), (9, 0)]:
        b, c = a.copy(), a.copy()
        b.positions[atom, comp] += h
        c.positions[atom, comp] -= h
        fd = -(T.predict(mtp, b)["energy_eV"] - T.predict(mtp, c)["energy_eV"]) / (2 * h)
        assert p["forces_eV_per_A"][atom, comp] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    np.testing.assert_allclose(p["forces_eV_per_A"].sum(axis=0), 0.0, atol=1e-10)
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    for v, (x, y) in enumerate(voigt):
        eps = np.zeros((3, 3))
        eps[x, y] = eps[y, x] = h
        e = []
        for sign in (1, -1):
            b = a.copy()
            b.set_cell(a.cell[:] @ (np.eye(3) + sign * eps), scale_atoms=True)
            e.append(T.predict(mtp, b)["energy_eV"])
        dE = (e[0] - e[1]) / (2 * h) / (1 if x == y else 2)
        assert p["stress_eV_per_A3"][v] == pytest.approx(dE / a.get_volume(), rel=1e-6, abs=1e-9)


def test_radial_gradient_matches_finite_differences():
    mtp = toy_mtp(1)
    images = noisy(label(mtp, toy_cells(4, seed=6)))
    images[1].arrays["force_weight"] = np.linspace(0, 1, len(images[1]))
    images[2].info["energy_weight"] = 0.3
    basis = MomentTables.of(mtp)
    prepared = [T._prepare(mtp, basis, a, k) for k, a in enumerate(images)]
    problem = T._Problem(mtp, basis, prepared, list(range(4)), 4, None, 1.0, 0.05, 0.01)
    c = np.asarray(mtp.radial_coeffs).ravel() * 1.1
    _, grad = problem.loss_and_gradient(c)
    for k in np.argsort(-np.abs(grad))[:8]:
        h = 1e-6
        cp, cm = c.copy(), c.copy()
        cp[k] += h
        cm[k] -= h
        fd = (problem.loss_and_gradient(cp)[0] - problem.loss_and_gradient(cm)[0]) / (2 * h)
        assert grad[k] == pytest.approx(fd, rel=1e-5)


def test_recovers_a_known_potential_with_monotone_loss():
    """From 3 % perturbed radial and zeroed linear coefficients back to the potential that made the
    data (this toy has exact scale redundancies, so convergence is slower than for MLIP's bases:
    the fixture test in test_train.py asks for more)."""
    truth = toy_mtp(2)
    images = label(truth, toy_cells(8, seed=7))
    before, new, report = refit_from_perturbed(truth, images)
    e = report.train_errors
    assert e["rmse_force_eV_per_A"] < 0.01 * before["rmse_force_eV_per_A"]
    assert e["rmse_energy_meV_per_atom"] < 0.5 and e["rmse_force_eV_per_A"] < 0.01 and e["rmse_stress_GPa"] < 0.02
    held_out = label(truth, toy_cells(3, seed=99))
    assert T.errors(new, held_out)["rmse_force_eV_per_A"] < 0.02


def test_zero_weights_make_corrupted_labels_irrelevant():
    mtp = toy_mtp(3)
    clean = noisy(label(mtp, toy_cells(5, seed=8)), seed=2)
    for a in clean:
        a.arrays["force_weight"] = np.where(np.arange(len(a)) % 3 == 0, 0.0, 1.0)
    clean[1].info["energy_weight"] = 0.0
    dirty = []
    for k, a in enumerate(clean):
        b = a.copy()
        r = a.calc.results
        f = np.array(r["forces"])
        f[a.arrays["force_weight"] == 0] += 7.0
        b.calc = SinglePointCalculator(b, energy=r["energy"] + (50.0 if k == 1 else 0.0), forces=f,
                                       stress=r["stress"] + (1.0 if k == 1 else 0.0))
        dirty.append(b)
    a_new, a_rep = T.train(mtp, clean, max_iterations=6)
    b_new, b_rep = T.train(mtp, dirty, max_iterations=6)
    np.testing.assert_allclose(b_new.radial_coeffs, a_new.radial_coeffs, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(b_new.moment_coeffs, a_new.moment_coeffs, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(b_rep.loss_history, a_rep.loss_history, rtol=1e-10)
    assert a_rep.train_errors == pytest.approx(b_rep.train_errors, rel=1e-8)


def test_unknown_element_and_missing_labels_are_refused():
    mtp = toy_mtp()
    a = label(mtp, toy_cells(1))[0]
    b = a.copy()
    b.symbols[0] = "Cl"
    b.calc = SinglePointCalculator(b, energy=0.0, forces=np.zeros((len(b), 3)))
    with pytest.raises(ValueError, match="Cl"):
        T.train(mtp, [a, b], max_iterations=0)
    c = a.copy()
    with pytest.raises(ValueError, match="no labels"):
        T.train(mtp, [c], max_iterations=0)
    assert list(atom_types(mtp, a)) == [0] * 6 + [1] * 4
    assert Frame(MomentTables.of(mtp), a, atom_types(mtp, a)).P > 0


def test_one_and_two_ranks_identical(tmp_path):
    res = json_on_ranks("tests.potentials._mpi_moments", tmp_path)
    assert res[0] == res[1]
    assert len(res[0]["loss"]) > 3 and res[0]["loss"][-1] < res[0]["loss"][0]


def test_undetermined_directions_keep_their_warm_start_values():
    """All cells are Li6S4: only 6 e_Li + 4 e_S is fixed by the data. Starting from the true
    coefficients (moment coefficients zeroed) gives them back exactly; other starts fit the data
    equally well and differ only along the undetermined direction."""
    truth = toy_mtp(6)
    images = label(truth, toy_cells(4, seed=10))
    results = []
    for start_species in (truth.species_coeffs, [0.0, 0.0], [5.0, -2.0]):
        start = copy.deepcopy(truth)
        start.species_coeffs = np.array(start_species, dtype=float)
        start.moment_coeffs = np.zeros(6)
        new, report = T.train(start, images, max_iterations=0)
        assert report.train_errors["rmse_energy_meV_per_atom"] < 1e-6
        results.append(np.asarray(new.species_coeffs))
    np.testing.assert_allclose(results[0], truth.species_coeffs, rtol=1e-9)
    for sc in results[1:]:
        d = sc - truth.species_coeffs
        assert 6 * d[0] + 4 * d[1] == pytest.approx(0.0, abs=1e-8)
    assert np.abs(results[1] - results[2]).max() > 0.1
