"""Real LAMMPS MD with the MTP plugin and the trained level-8 Li6PS5Cl test potential
(argyro_run.md.lammps_md.run_md).

Asserted: microcanonical production conserves the total energy (drift and fluctuation far below
the potential-energy fluctuation); every thermostat holds the mean temperature near its target;
NPT equilibration changes the volume and the production runs at the mean NPT volume; unwrapped
positions are continuous (no jumps of a box length between samples) and equal the wrapped
positions modulo the cell; a hot 52-atom cell gives a finite, positive Li diffusivity with an
uncertainty, Li faster than the P/S framework, whose RMS displacement (the framework check) stays
a few tenths of an Angstrom; an extrapolation break ends the run with status
"extrapolation" instead of crashing; a run far from its target temperature is flagged "temperature".
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from argyro_run._stack import MPI  # noqa: F401  (import order)
from argyro_run.analysis.diffusion import diffusivity
from argyro_run.md.framework import host_displacement_A
from argyro_run.md.lammps_md import run_md
from argyro_run.structures.argyrodite import argyrodite

DATA = pathlib.Path(__file__).resolve().parents[1] / "data" / "mtp"
MTP = DATA / "Li6PS5Cl-l08.mtp"
ALS = DATA / "Li6PS5Cl-l08.als"
SPECIES = ["Li", "P", "S", "Cl"]


@pytest.fixture(scope="module")
def cell():
    from argyro_run.potentials.plugin import plugin_path

    try:
        plugin_path()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"MTP LAMMPS plugin not available: {exc}")
    return argyrodite("Cl")


def test_nve_conserves_energy(cell):
    run = run_md(cell, MTP, SPECIES, temperature_K=600.0, timestep_fs=1.0, equilibration_ps=0.5,
                 production_ps=3.0, ensemble="nve", sample_interval_fs=10.0, seed=4)
    assert run.status == "ok", run.message
    e, pe = run.total_energy_eV, run.potential_energy_eV
    assert len(e) == 301
    n = len(cell)
    drift = np.polyfit(run.time_ps, e, 1)[0]                  # eV/ps
    assert abs(drift) / n < 2e-5, drift                         # < 0.02 meV/atom/ps
    assert np.std(e) < 0.02 * np.std(pe), (np.std(e), np.std(pe))
    assert np.std(pe) / n > 1e-3                                # the system is really moving


@pytest.mark.parametrize("thermostat", ["nose-hoover", "langevin", "csvr"])
def test_nvt_mean_temperature(cell, thermostat):
    T = 700.0
    run = run_md(cell, MTP, SPECIES, temperature_K=T, timestep_fs=2.0, equilibration_ps=1.0, production_ps=8.0,
                 thermostat=thermostat, thermostat_damping_fs=100.0, sample_interval_fs=20.0, seed=9)
    assert run.status == "ok", run.message
    mean_T = run.temperature_K[1:].mean()
    assert abs(mean_T / T - 1) < 0.06, mean_T
    # canonical fluctuations of the kinetic temperature of N atoms: std(T)/T ~ sqrt(2 / (3 N))
    rel = run.temperature_K[1:].std() / mean_T
    assert 0.5 * np.sqrt(2 / (3 * len(cell))) < rel < 1.6 * np.sqrt(2 / (3 * len(cell))), rel


def test_npt_equilibration_sets_volume(cell):
    v0 = cell.get_volume()
    run = run_md(cell, MTP, SPECIES, temperature_K=600.0, timestep_fs=2.0, equilibration_ps=4.0, production_ps=1.0,
                 ensemble="npt", pressure_bar=0.0, barostat_damping_fs=500.0, sample_interval_fs=20.0, seed=2)
    assert run.status == "ok", run.message
    vols = run.equilibration["npt_volumes_A3"]
    assert np.ptp(vols) > 1e-3 * v0                                    # the barostat moved the cell
    np.testing.assert_allclose(run.volume_A3, run.equilibration["npt_mean_volume_A3"], rtol=1e-9)
    np.testing.assert_allclose(abs(np.linalg.det(run.cell_A)), run.volume_A3[-1], rtol=1e-9)


def test_hot_cell_diffuses_and_trajectory_is_unwrapped(cell):
    run = run_md(cell, MTP, SPECIES, temperature_K=900.0, timestep_fs=2.0, equilibration_ps=2.0,
                 production_ps=16.0, sample_interval_fs=20.0, seed=5)
    assert run.status == "ok", run.message
    x = run.positions_A
    step = np.linalg.norm(np.diff(x, axis=0), axis=2)
    assert step.max() < 2.0                      # no wrap jumps of a cell length (9.86 A) between samples
    frac = np.linalg.solve(run.cell_A.T, x[-1].T).T
    wrapped = frac - np.floor(frac)
    assert np.all((wrapped >= 0) & (wrapped < 1))
    li = np.array(cell.get_chemical_symbols()) == "Li"
    ps = np.isin(cell.get_chemical_symbols(), ["P", "S"])
    dt = float(run.time_ps[1] - run.time_ps[0])
    d_li = diffusivity(x[:, li], dt, fit_start_ps=0.5, fit_end_ps=2.0, n_blocks=4)
    d_ps = diffusivity(x[:, ps], dt, fit_start_ps=0.5, fit_end_ps=2.0, n_blocks=4)
    D, err = d_li["D_m2_per_s"], d_li["D_err_m2_per_s"]
    assert np.isfinite(D) and np.isfinite(err) and err > 0
    assert D > 3 * err and 1e-11 < D < 1e-7, (D, err)
    assert D > 5 * abs(d_ps["D_m2_per_s"])        # Li moves, the PS4/S framework vibrates
    # and the framework check (md/framework.py) sees a crystal: the host vibrates well below md.max_host_rmsd_A
    host = host_displacement_A(x, ~li)
    assert 0.05 < host[-1] < 0.6 and host.max() < 0.6, host


def test_extrapolation_break_is_a_status(cell):
    # a strongly compressed, hot cell leaves the training domain of the test potential at once
    squeezed = cell.copy()
    squeezed.set_cell(cell.cell * 0.9, scale_atoms=True)
    run = run_md(squeezed, MTP, SPECIES, temperature_K=1500.0, timestep_fs=1.0, equilibration_ps=0.0,
                 production_ps=2.0, sample_interval_fs=10.0, active_set=ALS, gamma_break=1.2, seed=3)
    assert run.status == "extrapolation", (run.status, run.message)
    assert "extrapolation" in run.message.lower()


def test_temperature_check(cell):
    # the ideal (experimental) cell is not at the potential's minimum: relaxing releases ~2 eV,
    # which a weak thermostat (2 ps) cannot remove in 1 ps, so the run ends up far above 300 K;
    # a strong thermostat with an equilibration holds it
    kw = dict(temperature_K=300.0, timestep_fs=2.0, production_ps=1.0, sample_interval_fs=20.0, seed=8,
              temperature_tolerance=0.25)
    hot = run_md(cell, MTP, SPECIES, equilibration_ps=0.0, thermostat_damping_fs=2000.0, **kw)
    assert hot.status == "temperature" and "from the target 300 K" in hot.message
    assert hot.temperature_K[1:].mean() > 375.0
    ok = run_md(cell, MTP, SPECIES, equilibration_ps=2.0, thermostat_damping_fs=50.0, **kw)
    assert ok.status == "ok", ok.message
