"""Molecular dynamics of one structure at one temperature with LAMMPS and the MTP plugin.

:func:`run_md` sets up the cell (metal units, one LAMMPS type per MTP species, masses from ASE),
equilibrates (NVT, or NPT at ``pressure_bar`` followed by a rescale of the cell to the mean
volume of the second half of the NPT run), then runs the NVT production in chunks of
``sample_interval_fs``, after each chunk gathering the unwrapped positions (x + image * box) of
all atoms and the thermodynamic state on every rank of ``comm``. Thermostats: Nose-Hoover
(``fix nvt``), Langevin (``fix langevin`` + ``fix nve``) or CSVR (``fix temp/csvr`` + ``fix nve``).
With ``ensemble="nve"`` the equilibration is thermostatted and the production is microcanonical
(unperturbed dynamics for transport; total energy conserved).

Health checks: a lost atom, an MTP extrapolation break (``pair_style mtp ... break G``) or any
other LAMMPS error ends the run with ``status`` "lost_atoms" / "extrapolation" / "error" and a
message; a mean production temperature outside the tolerance gives "temperature".
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def _set_up(lmp, atoms, mtp_path, species: list[str], active_set, gamma_break: float | None) -> np.ndarray:
    """Metal units, the periodic cell and atoms of ``atoms``, the MTP (with the active set's
    ``gamma_break`` when both are given), the neighbour list; returns the frame rotation R."""
    from argyro_run.md.lammps_io import create_structure
    from argyro_run.potentials.plugin import lammps_commands

    for c in ("units metal", "atom_style atomic", "atom_modify map array"):
        lmp.command(c)
    R = create_structure(lmp, atoms, species, periodic=True)
    brk = gamma_break if (active_set is not None and gamma_break) else None
    for c in lammps_commands(mtp_path, list(species), active_set=active_set, break_=brk):
        lmp.command(c)
    lmp.command("neighbor 1.0 bin")
    lmp.command("neigh_modify every 1 delay 0 check yes")
    return R


@dataclass
class MDRun:
    """Samples of a production run (rank-independent: every rank holds the same arrays)."""

    time_ps: np.ndarray                    # (T,)
    positions_A: np.ndarray                # (T, N, 3) unwrapped, lab frame, all atoms
    temperature_K: np.ndarray
    potential_energy_eV: np.ndarray
    total_energy_eV: np.ndarray
    pressure_bar: np.ndarray
    volume_A3: np.ndarray
    cell_A: np.ndarray                     # production cell (lab frame)
    status: str = "ok"
    message: str = ""
    steps_done: int = 0
    wall_s: float = 0.0
    equilibration: dict = field(default_factory=dict)


def run_md(atoms, mtp_path, species: list[str], *, temperature_K: float, timestep_fs: float = 1.0,
           equilibration_ps: float = 1.0, production_ps: float = 10.0, thermostat: str = "nose-hoover",
           thermostat_damping_fs: float = 100.0, ensemble: str = "nvt", pressure_bar: float = 1.0,
           barostat_damping_fs: float = 1000.0, sample_interval_fs: float = 100.0, seed: int = 1,
           active_set=None, gamma_break: float | None = None, temperature_tolerance: float = 0.25,
           comm=None, logfile: Path | None = None) -> MDRun:
    from argyro_run._stack import MPI, lammps_module
    from argyro_run.md.lammps_io import box_vectors, type_indices, unwrapped_positions

    comm = MPI.COMM_SELF if comm is None else comm
    t0 = time.perf_counter()
    n = len(atoms)
    type_indices(atoms, species)     # ValueError before LAMMPS starts
    dt_ps = timestep_fs / 1000.0
    every = max(1, int(round(sample_interval_fs / timestep_fs)))
    n_eq = int(round(equilibration_ps / dt_ps))
    n_samples = int(round(production_ps / dt_ps)) // every
    args = ["-log", str(logfile) if logfile else "none", "-screen", "none"]
    lmp = lammps_module().lammps(cmdargs=args, comm=comm)
    out_t, out_x, thermo = [], [], []
    status, message, steps = "ok", "", 0
    eq_info: dict = {}
    try:
        R = _set_up(lmp, atoms, mtp_path, species, active_set, gamma_break)
        lmp.command(f"timestep {dt_ps:.10g}")
        lmp.command("thermo_style custom step temp pe etotal press vol")
        lmp.command("thermo_modify lost error norm no")
        lmp.command(f"velocity all create {temperature_K:.10g} {int(seed)} mom yes rot no dist gaussian")
        damp = thermostat_damping_fs / 1000.0

        def thermostat_fixes(tag):
            if thermostat == "nose-hoover":
                return [f"fix {tag} all nvt temp {temperature_K} {temperature_K} {damp:.10g}"]
            if thermostat == "langevin":
                return [f"fix {tag}i all nve",
                        f"fix {tag} all langevin {temperature_K} {temperature_K} {damp:.10g} {int(seed) + 7} zero yes"]
            if thermostat == "csvr":
                return [f"fix {tag}i all nve",
                        f"fix {tag} all temp/csvr {temperature_K} {temperature_K} {damp:.10g} {int(seed) + 7}"]
            raise ValueError(f"md.thermostat: {thermostat!r}; allowed: nose-hoover, langevin, csvr")

        def unfix(cmds):
            for c in cmds:
                lmp.command(f"unfix {c.split()[1]}")

        lmp.command("run 0")
        if n_eq:
            if ensemble == "npt":
                pdamp = barostat_damping_fs / 1000.0
                lmp.command(f"fix eq all npt temp {temperature_K} {temperature_K} {damp:.10g} "
                            f"iso {pressure_bar} {pressure_bar} {pdamp:.10g}")
                vols = []
                chunk = max(1, n_eq // 20)
                done = 0
                while done < n_eq:
                    k = min(chunk, n_eq - done)
                    lmp.command(f"run {k} pre {'yes' if done == 0 else 'no'} post no")
                    done += k
                    vols.append(float(abs(np.linalg.det(box_vectors(lmp)))))
                lmp.command("unfix eq")
                v_mean = float(np.mean(vols[len(vols) // 2:]))
                scale = (v_mean / abs(np.linalg.det(box_vectors(lmp)))) ** (1.0 / 3.0)
                boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
                lmp.command(f"change_box all x scale {scale:.15g} y scale {scale:.15g} z scale {scale:.15g} "
                            f"xy final {xy * scale:.15g} xz final {xz * scale:.15g} yz final {yz * scale:.15g} remap")
                eq_info = {"npt_mean_volume_A3": v_mean, "npt_volumes_A3": np.array(vols)}
            else:
                fx = thermostat_fixes("eq")
                for c in fx:
                    lmp.command(c)
                lmp.command(f"run {n_eq} pre yes post no")
                unfix(fx)
            steps += n_eq
        fx = ["fix prod all nve"] if ensemble == "nve" else thermostat_fixes("prod")
        for c in fx:
            lmp.command(c)
        lmp.command("reset_timestep 0")
        lmp.command(f"thermo {every}")
        lmp.command("run 0 post no")
        box = box_vectors(lmp)
        for k in range(n_samples + 1):
            if k:
                lmp.command(f"run {every} pre no post no")
                steps += every
            out_t.append(k * every * dt_ps)
            out_x.append(unwrapped_positions(lmp, n, box) @ R.T)
            thermo.append([lmp.get_thermo(q) for q in ("temp", "pe", "etotal", "press", "vol")])
    except Exception as exc:  # noqa: BLE001 - LAMMPS errors become a status, never a crash
        text = str(exc).strip() or type(exc).__name__
        message = text[:1000]
        if "extrapolation break" in text:
            status = "extrapolation"
        elif "Lost atoms" in text or "lost" in text.lower():
            status = "lost_atoms"
        else:
            status = "error"
    finally:
        try:
            lmp.close()
        except Exception:  # noqa: BLE001
            pass
    th = np.array(thermo, dtype=float).reshape(-1, 5)
    run = MDRun(time_ps=np.array(out_t), positions_A=np.array(out_x).reshape(-1, n, 3),
                temperature_K=th[:, 0], potential_energy_eV=th[:, 1], total_energy_eV=th[:, 2],
                pressure_bar=th[:, 3], volume_A3=th[:, 4], cell_A=np.asarray(atoms.cell.array, float),
                status=status, message=message, steps_done=steps,
                wall_s=time.perf_counter() - t0, equilibration=eq_info)
    if len(th) and ensemble == "npt":
        run.cell_A = run.cell_A * (float(th[-1, 4]) / abs(np.linalg.det(run.cell_A))) ** (1.0 / 3.0)
    if status == "ok" and len(th) > 1:
        mean_T = float(np.mean(th[1:, 0]))
        if abs(mean_T - temperature_K) > temperature_tolerance * temperature_K:
            run.status = "temperature"
            run.message = (f"mean production temperature {mean_T:.1f} K is more than "
                           f"{100 * temperature_tolerance:.0f} % from the target {temperature_K:g} K")
    return run


@dataclass
class Relaxation:
    """A fixed-cell minimisation of the positions (rank-independent)."""

    atoms: object                          # the relaxed structure (wrapped into the cell, the input's arrays/info)
    initial_energy_eV: float
    energy_eV: float
    max_force_eV_per_A: float
    steps: int
    status: str = "ok"                     # or "extrapolation" / "error"
    message: str = ""


def relax_positions(atoms, mtp_path, species: list[str], *, force_tolerance_eV_per_A: float = 0.01,
                    max_steps: int = 5000, active_set=None, gamma_break: float | None = None, comm=None,
                    logfile: Path | None = None) -> Relaxation:
    """Minimise the potential energy of ``atoms`` over the positions (cell fixed) with the MTP:
    LAMMPS ``min_style fire`` until the largest force component falls below
    ``force_tolerance_eV_per_A`` or ``max_steps``. The quench of an annealed structure."""
    from argyro_run._stack import MPI, lammps_module
    from argyro_run.md.lammps_io import box_vectors, type_indices, unwrapped_positions

    comm = MPI.COMM_SELF if comm is None else comm
    type_indices(atoms, species)     # ValueError before LAMMPS starts
    lmp = lammps_module().lammps(cmdargs=["-log", str(logfile) if logfile else "none", "-screen", "none"], comm=comm)
    status, message, steps = "ok", "", 0
    e0 = e1 = fmax = float("nan")
    relaxed = atoms.copy()
    try:
        R = _set_up(lmp, atoms, mtp_path, species, active_set, gamma_break)
        lmp.command("thermo_style custom step pe fmax")
        lmp.command("thermo_modify norm no")
        lmp.command("run 0")
        e0 = float(lmp.get_thermo("pe"))
        lmp.command("min_style fire")
        lmp.command("min_modify norm inf")          # the largest force component, as the tolerance says
        lmp.command(f"minimize 0.0 {force_tolerance_eV_per_A:.10g} {int(max_steps)} {10 * int(max_steps)}")
        e1, fmax = float(lmp.get_thermo("pe")), float(lmp.get_thermo("fmax"))
        steps = int(lmp.get_thermo("step"))
        relaxed.positions = unwrapped_positions(lmp, len(atoms), box_vectors(lmp)) @ R.T    # lab frame, as run_md
        relaxed.wrap()
    except Exception as exc:  # noqa: BLE001 - LAMMPS errors become a status, never a crash
        text = str(exc).strip() or type(exc).__name__
        status, message = ("extrapolation" if "extrapolation break" in text else "error"), text[:1000]
    finally:
        try:
            lmp.close()
        except Exception:  # noqa: BLE001
            pass
    return Relaxation(atoms=relaxed, initial_energy_eV=e0, energy_eV=e1, max_force_eV_per_A=fmax, steps=steps,
                      status=status, message=message)
