"""Annealing and quenching a structure before its MD (``md.anneal_ps``; ``md/tasks.run_md_anneal``,
``md/lammps_md.relax_positions``) with real LAMMPS and the trained test MTP.

Asserted: the quench leaves no force component above the tolerance and lowers the energy, both
checked with the Python MTP (an independent implementation of the same potential); the plan anneals
the bicrystal only (``anneal_structures = "grain_boundaries"``) and its MD runs depend on the
anneal, while the bulk's do not and keep their hashes; through the runtime every MD run of the
bicrystal starts from the quenched structure (its first sample, without equilibration, is that
structure), and the anneal records how far the as-built host moved.
"""

from __future__ import annotations

import numpy as np
import pytest
from ase.geometry import find_mic

from argyro_run._stack import MPI  # noqa: F401  (import order)
from argyro_run.archive import open_archive
from argyro_run.config import config_from_text
from argyro_run.md.lammps_md import relax_positions
from argyro_run.plan import build_plan
from argyro_run.potentials.evaluate import evaluate
from argyro_run.potentials.mtp import parse_mtp
from argyro_run.structures.argyrodite import argyrodite
from tests._support.inputs import LPSCL, SIGMA5_310, TEST_MTP, TEST_POTENTIAL, run_input

SPECIES = ["Li", "P", "S", "Cl"]


def test_quench_leaves_forces_below_the_tolerance(tmp_path):
    a = argyrodite("Cl")
    a.rattle(stdev=0.08, seed=3)
    mtp = parse_mtp(TEST_MTP.read_text())
    before = evaluate(mtp, a)
    assert np.abs(before["forces_eV_per_A"]).max() > 0.5
    q = relax_positions(a, TEST_MTP, SPECIES, force_tolerance_eV_per_A=0.01, logfile=tmp_path / "relax.lammps")
    assert q.status == "ok", q.message
    after = evaluate(mtp, q.atoms)
    assert np.abs(after["forces_eV_per_A"]).max() <= 0.01 + 1e-6
    assert q.max_force_eV_per_A == pytest.approx(np.abs(after["forces_eV_per_A"]).max(), rel=1e-6, abs=1e-9)
    assert q.energy_eV == pytest.approx(after["energy_eV"], rel=1e-9)
    assert q.initial_energy_eV == pytest.approx(before["energy_eV"], rel=1e-9)
    assert q.energy_eV < q.initial_energy_eV - 0.1
    # the framework stays where it was, only relaxed (no swap, no wrap-around jump; Li may change site)
    moved, _ = find_mic(q.atoms.positions - a.positions, a.cell, a.pbc)
    host = moved[a.numbers != 3]
    assert np.linalg.norm(host - host.mean(axis=0), axis=1).max() < 1.0     # a site change is >= 2 A
    assert list(q.atoms.numbers) == list(a.numbers)


INPUT = """
[run]
name = "anneal"
archive = "out.h5"
seed = 5
""" + LPSCL + SIGMA5_310 + TEST_POTENTIAL + """
[md]
temperatures_K = [600.0, 700.0]
timestep_fs = 2.0
equilibration_ps = 0.0
production_ps = 1.0
dump_interval_fs = 20.0
gamma_break = 0
max_host_displacement_A = 5.0
trajectory_atoms = "all"
"""
ANNEAL = """anneal_ps = 2.0
anneal_temperature_K = 800.0
"""


def test_plan_anneals_the_bicrystal_only():
    plain = build_plan(config_from_text(INPUT))
    annealed = build_plan(config_from_text(INPUT + ANNEAL))
    ids = {t.id for t in annealed.tasks}
    assert "md/LPSCl/gb_sigma5_310/anneal" in ids and "md/LPSCl/ordered/anneal" not in ids
    assert not any(t.id.endswith("/anneal") for t in plain.tasks)
    for T in (600, 700):
        gb, bulk = f"md/LPSCl/gb_sigma5_310/T{T}", f"md/LPSCl/ordered/T{T}"
        assert "md/LPSCl/gb_sigma5_310/anneal" in annealed[gb].deps
        assert annealed[bulk].hash == plain[bulk].hash          # the bulk's runs are untouched
        assert annealed[gb].hash != plain[gb].hash
    t = annealed["md/LPSCl/gb_sigma5_310/anneal"]
    assert t.kind == "md_anneal" and t.params["temperature_K"] == 800.0 and t.cost_s > 0
    every = build_plan(config_from_text(INPUT + ANNEAL + 'anneal_structures = "all"\n'))
    assert "md/LPSCl/ordered/anneal" in {t.id for t in every.tasks}


def test_md_starts_from_the_annealed_structure(tmp_path):
    run_input(tmp_path, INPUT + ANNEAL)
    a = open_archive(tmp_path / "out.h5")
    assert {t["status"] for t in a.tasks.values()} == {"done"}
    ann = a.result("md/LPSCl/gb_sigma5_310/anneal")
    quenched = a.atoms("md/LPSCl/gb_sigma5_310/anneal", "gb_sigma5_310")
    built = a.atoms("structures/LPSCl", "gb_sigma5_310")
    assert list(quenched.numbers) == list(built.numbers)
    assert quenched.info["gb_plane_1_z_A"] == built.info["gb_plane_1_z_A"]        # the GB geometry goes along
    np.testing.assert_array_equal(quenched.arrays["unit_id"], built.arrays["unit_id"])
    at = ann.attrs["anneal"]
    assert at["temperature_K"] == 800.0 and at["quench_max_force_eV_per_A"] <= 0.01 + 1e-6
    assert at["host_rms_displacement_A"] > 0.05                 # the as-built bicrystal moved
    assert len(ann.get("anneal/time_ps")) == 101 and len(ann.get("anneal/host_displacement_A")) > 1
    mtp = parse_mtp(TEST_MTP.read_text())
    assert np.abs(evaluate(mtp, quenched)["forces_eV_per_A"]).max() <= 0.01 + 1e-6
    for T in (600, 700):
        md = a.result(f"md/LPSCl/gb_sigma5_310/T{T}")
        x0 = md.get("trajectory/positions_A")[0]               # no equilibration: the starting structure
        np.testing.assert_allclose(x0, quenched.positions, atol=1e-4)
        bulk = a.result(f"md/LPSCl/ordered/T{T}").get("trajectory/positions_A")[0]
        np.testing.assert_allclose(bulk, a.atoms("structures/LPSCl", "ordered").positions, atol=1e-4)
