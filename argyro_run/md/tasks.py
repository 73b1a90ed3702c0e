"""``run_md_run``: one structure at one temperature (task ``md/<material>/<structure>/T<T>``).

Result (below the task's archive group): ``time_ps``, ``thermo/{temperature_K, potential_energy_eV,
total_energy_eV, pressure_bar, volume_A3}``, ``trajectory/positions_A`` (samples x kept atoms x 3,
unwrapped, lab frame, float32; ``md.trajectory_atoms``: the analysed species or all atoms),
``trajectory/numbers``, ``trajectory/atom_index``, ``trajectory/cell_A``, ``framework/host_displacement_A``
with attrs ``framework_stable`` and ``host_displacement_A`` (``md/framework.py``), GB geometry when the
structure is a bicrystal (``gb/plane_z_A``, ``gb/period_A``, ``gb/normal``), attrs with the run
settings. A run that loses atoms, extrapolates beyond ``md.gamma_break`` or misses its
temperature raises (the runtime records the failure and its message).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from argyro_run.results import Result, add_atoms, as_text, get_atoms

log = logging.getLogger(__name__)


def potential_of(deps: dict) -> tuple[str, str | None, list[str], str]:
    """(.mtp text, active-set text or None, species, dependency id) of the potential dependency."""
    ids = [d for d in deps if d.startswith(("potential/", "learning/level"))]
    if len(ids) != 1:
        raise ValueError(f"an MD run needs exactly one potential dependency, got {sorted(ids)}")
    r = deps[ids[0]]
    species = as_text(r.get("mtp/species")).split()
    als = as_text(r.get("active_set/text")) if "active_set/text" in r else None
    return as_text(r.get("mtp/text")), als, species, ids[0]


def structure_of(deps: dict, name: str):
    """Structure ``name`` from the dependencies: annealed (``md/.../anneal``) when it was, else as built."""
    ids = [d for d in deps if d.startswith("md/") and d.endswith("/anneal")] + \
          [d for d in deps if d.startswith("structures/")]
    for d in ids:
        if f"{name}/numbers" in deps[d]:
            return get_atoms(deps[d], name)
    raise ValueError(f"structure {name!r} is in none of {ids}")


def _framework_check(r: Result, run, atoms, md: dict, name: str, T: float) -> None:
    """``framework/host_displacement_A`` (per window) and the attrs ``host_displacement_A`` (the
    largest window) and ``framework_stable`` (``md/framework.check_framework`` against
    ``md.max_host_displacement_A``): does the host stay a crystal?"""
    from argyro_run.md.framework import check_framework, grain_ids

    mobile = md.get("species")
    host = np.array(atoms.get_chemical_symbols()) != mobile if mobile else np.zeros(len(atoms), bool)
    if not host.any() or len(run.time_ps) < 2:
        return
    units = atoms.arrays.get("unit_id")          # P + 4 S of a PS4 share one (structures/argyrodite.py)
    grains = grain_ids(atoms)                    # a bicrystal: each grain's drift on its own (sliding)
    chk = check_framework(run.positions_A, host, float(md["max_host_displacement_A"]), units=units, grains=grains)
    r.add("framework/host_displacement_A", chk.displacement_A, "Angstrom",
          note=f"RMS change of the window-mean positions of the {int(host.sum())} atoms that are not {mobile} "
               f"({'per unit: a PS4 counts once, at its centre' if units is not None else 'per atom'}) from the "
               f"first of {chk.n_windows} equal windows of the production, their mean drift "
               f"{'(per grain) ' if grains is not None else ''}removed (argyro_run/md/framework.py)")
    r.set_attrs("framework", host_displacement_A=chk.worst_A, max_host_displacement_A=chk.limit_A,
                framework_stable=chk.stable, n_windows=chk.n_windows,
                note="host_displacement_A: the largest window against the first; unstable when it passes the limit")
    if not chk.stable:
        log.warning("MD %s at %g K: the host framework moved %.2f A RMS (> md.max_host_displacement_A = %g A): it "
                    "melted or transformed; this temperature is left out of the Arrhenius fit (a potential with a "
                    "hole, or a temperature above the material's stability)", name, T, chk.worst_A, chk.limit_A)


def unconverged_learning(deps: dict) -> tuple[str, str] | None:
    """(task id, reason) when the potential dependency is a learned MTP level that stopped
    unconverged (attr ``converged`` false: ``active_learning.max_iterations`` reached), else None
    (converged, or a potential read from a file)."""
    for d in deps:
        if d.startswith("learning/level"):
            at = deps[d].get_attrs("")
            if "converged" in at and not bool(at["converged"]):
                return d, str(at.get("reason", "not converged"))
    return None


def _check_learning(params: dict, deps: dict, what: str) -> None:
    """``md.require_converged_learning``: refuse to run ``what`` on an unconverged level, else warn."""
    from argyro_run.errors import UserError

    bad = unconverged_learning(deps)
    if bad is None:
        return
    tid, reason = bad
    if params.get("require_converged_learning", False):
        raise UserError(f"{what}: md.require_converged_learning = true, but {tid} stopped unconverged ({reason}). "
                        f"Learn on from it (argyro-run mtp export ARCHIVE -o DIR, then potential.training_set = "
                        f"DIR/{tid.split('/')[-1]}.cfg, docs/learning.md), or set md.require_converged_learning = "
                        f"false to run the MD with it anyway")
    log.warning("%s runs with %s, which stopped unconverged (%s): runs longer than its explorations may "
                "extrapolate (md.require_converged_learning = true refuses them)", what, tid, reason)


def _potential_files(deps: dict, workdir: Path, comm) -> tuple[Path, Path | None, list[str], str]:
    """(.mtp path, active-set path or None, species, dependency id): the potential written to ``workdir``."""
    mtp_text, als_text, species, pot_id = potential_of(deps)
    mtp_path, als_path = workdir / "potential.mtp", None
    if comm is None or comm.rank == 0:
        workdir.mkdir(parents=True, exist_ok=True)
        mtp_path.write_text(mtp_text)
        if als_text:
            (workdir / "potential.als").write_text(als_text)
    if als_text:
        als_path = workdir / "potential.als"
    if comm is not None:
        comm.Barrier()
    return mtp_path, als_path, species, pot_id


def _failed(name: str, T: float, status: str, message: str, what: str = "MD") -> RuntimeError:
    hint = {"extrapolation": " (the potential extrapolates: learn more, e.g. add this temperature/structure "
                             "to [active_learning], or raise md.gamma_break)",
            "lost_atoms": " (atoms flew away: the potential is unstable here or the time step is too long)",
            "temperature": " (check md.thermostat_damping_fs and the potential)"}.get(status, "")
    return RuntimeError(f"{what} of {name} at {T:g} K failed: {status}: {message}{hint}")


def run_md_anneal(params: dict, deps: dict, comm, workdir: Path) -> Result:
    """Anneal structure ``params['structure']`` (``md.anneal_ps`` of NVT MD at
    ``md.anneal_temperature_K``) and quench it (fixed-cell minimisation with the MTP to
    ``md.relax_force_eV_per_A``): the start of every MD run of it (task ``md/<material>/<structure>/anneal``).

    Result: the structure (``add_atoms`` under its name: what :func:`structure_of` reads), and
    ``anneal/host_displacement_A`` (the framework check over the anneal: how far the as-built
    structure reconstructed), ``anneal/time_ps``, ``anneal/potential_energy_eV``, attrs of the
    quench (energies, largest force, steps) and ``host_rms_displacement_A`` (relaxed vs built,
    as ``framework.host_displacement_A`` measures it)."""
    from ase.geometry import find_mic

    from argyro_run.md.framework import check_framework, grain_ids, host_displacement_A
    from argyro_run.md.lammps_md import relax_positions, run_md

    md = params["md"]
    name = params["structure"]
    T = float(params["temperature_K"])         # MDSection.annealing_temperature_K()
    atoms = structure_of(deps, name)
    workdir = Path(workdir)
    _check_learning(params, deps, f"annealing {name} at {T:g} K")
    mtp_path, als_path, species, pot_id = _potential_files(deps, workdir, comm)
    brk = md.get("gamma_break") or None
    run = run_md(atoms, mtp_path, species, temperature_K=T, timestep_fs=md["timestep_fs"], equilibration_ps=0.0,
                 production_ps=float(md["anneal_ps"]), thermostat=md.get("thermostat", "nose-hoover"),
                 thermostat_damping_fs=md["thermostat_damping_fs"], sample_interval_fs=md["dump_interval_fs"],
                 seed=int(params.get("seed", 1)) % 900_000_000 + 1, active_set=als_path, gamma_break=brk,
                 temperature_tolerance=md.get("temperature_tolerance_fraction", 0.25), comm=comm,
                 logfile=workdir / "anneal.lammps")
    if run.status != "ok":
        raise _failed(name, T, run.status, run.message, "annealing")
    hot = atoms.copy()
    hot.positions = run.positions_A[-1]
    hot.wrap()
    q = relax_positions(hot, mtp_path, species, force_tolerance_eV_per_A=float(md.get("relax_force_eV_per_A", 0.01)),
                        active_set=als_path, gamma_break=brk, comm=comm, logfile=workdir / "relax.lammps")
    if q.status != "ok":
        raise _failed(name, T, q.status, q.message, "the quench after annealing")
    r = Result()
    add_atoms(r, name, q.atoms)
    mobile = md.get("species")
    host = np.array(atoms.get_chemical_symbols()) != mobile if mobile else np.ones(len(atoms), bool)
    chk = check_framework(run.positions_A, host, float(md["max_host_displacement_A"]), units=atoms.arrays.get("unit_id"),
                          grains=grain_ids(atoms))
    r.add("anneal/time_ps", run.time_ps, "ps")
    r.add("anneal/potential_energy_eV", run.potential_energy_eV, "eV")
    r.add("anneal/host_displacement_A", chk.displacement_A, "Angstrom",
          note="the framework check over the anneal (md/framework.py): how far the as-built host reconstructed")
    # quenched vs built (the anneal's first sample: as LAMMPS placed it), along the anneal's unwrapped
    # path (no wrap-around), measured as the framework check measures (per unit, each grain's drift removed)
    quench, _ = find_mic(q.atoms.positions - hot.positions, hot.cell, hot.pbc)
    ends = np.stack([run.positions_A[0], run.positions_A[-1] + quench])
    rms = float(host_displacement_A(ends, host, n_windows=2, units=atoms.arrays.get("unit_id"),
                                    grains=grain_ids(atoms))[-1])
    r.set_attrs("anneal", temperature_K=T, anneal_ps=float(md["anneal_ps"]), potential=pot_id,
                mean_temperature_K=float(np.mean(run.temperature_K[1:])) if len(run.temperature_K) > 1 else T,
                quench_initial_energy_eV=q.initial_energy_eV, quench_energy_eV=q.energy_eV,
                quench_max_force_eV_per_A=q.max_force_eV_per_A, quench_steps=q.steps,
                host_rms_displacement_A=rms, framework_stable=chk.stable,
                note="energies: eV; host_rms_displacement_A: the quenched structure's host atoms against the built "
                     "ones, Angstrom")
    log.info("annealed %s at %g K for %g ps and quenched: the host moved %.2f A RMS (largest window %.2f A); "
             "quench %.3f -> %.3f eV, largest force %.3g eV/A after %d steps", name, T, float(md["anneal_ps"]), rms,
             chk.worst_A, q.initial_energy_eV, q.energy_eV, q.max_force_eV_per_A, q.steps)
    return r


def run_md_run(params: dict, deps: dict, comm, workdir: Path) -> Result:
    from argyro_run.md.lammps_md import run_md

    md = params["md"]
    T = float(params["temperature_K"])
    name = params["structure"]
    atoms = structure_of(deps, name)
    workdir = Path(workdir)
    _check_learning(params, deps, f"MD of {name} at {T:g} K")
    mtp_path, als_path, species, pot_id = _potential_files(deps, workdir, comm)
    run = run_md(atoms, mtp_path, species, temperature_K=T, timestep_fs=md["timestep_fs"],
                 equilibration_ps=md["equilibration_ps"], production_ps=md["production_ps"],
                 thermostat=md.get("thermostat", "nose-hoover"),
                 thermostat_damping_fs=md["thermostat_damping_fs"], ensemble=md.get("ensemble", "nvt"),
                 pressure_bar=md.get("pressure_bar", 1.0), barostat_damping_fs=md.get("barostat_damping_fs", 1000.0),
                 sample_interval_fs=md["dump_interval_fs"], seed=int(params.get("seed", 1)) % 900_000_000 + 1,
                 active_set=als_path, gamma_break=md.get("gamma_break") or None,
                 temperature_tolerance=md.get("temperature_tolerance_fraction", 0.25), comm=comm,
                 logfile=workdir / "log.lammps")
    log.info("MD %s at %g K: %s, %d steps, %.1f s", name, T, run.status, run.steps_done, run.wall_s)
    if run.status != "ok":
        raise _failed(name, T, run.status, run.message)
    r = Result()
    r.add("time_ps", run.time_ps, "ps")
    r.add("thermo/temperature_K", run.temperature_K, "K")
    r.add("thermo/potential_energy_eV", run.potential_energy_eV, "eV")
    r.add("thermo/total_energy_eV", run.total_energy_eV, "eV")
    r.add("thermo/pressure_bar", run.pressure_bar, "bar")
    r.add("thermo/volume_A3", run.volume_A3, "Angstrom^3")
    keep = np.ones(len(atoms), bool)
    if md.get("trajectory_atoms", "species") == "species" and md.get("species"):
        keep = np.array(atoms.get_chemical_symbols()) == md["species"]
        if not keep.any():
            raise ValueError(f"the analysed species {md['species']!r} (materials.mobile_ion or analysis.species) is "
                             f"not in structure {name!r} ({sorted(set(atoms.get_chemical_symbols()))}); "
                             "allowed: one of its elements")
    _framework_check(r, run, atoms, md, name, T)
    r.add("trajectory/positions_A", run.positions_A[:, keep].astype(np.float32), "Angstrom",
          note="unwrapped, lab frame, single precision; the atoms of trajectory/atom_index (md.trajectory_atoms)")
    r.add("trajectory/numbers", atoms.numbers[keep].astype(np.int32), "")
    r.add("trajectory/atom_index", np.flatnonzero(keep).astype(np.int32), "", note="indices in the structure")
    r.add("trajectory/cell_A", run.cell_A, "Angstrom")
    for k, v in run.equilibration.items():
        r.add(f"equilibration/{k}", v, "Angstrom^3")
    if "gb_plane_1_z_A" in atoms.info:
        r.add("gb/plane_z_A", np.array([atoms.info["gb_plane_1_z_A"], atoms.info["gb_plane_2_z_A"]], float), "Angstrom")
        r.add("gb/period_A", float(run.cell_A[2, 2]), "Angstrom")
        r.add("gb/normal", np.array([0.0, 0.0, 1.0]), "1")
    r.set_attrs("", structure=name, temperature_K=T, potential=pot_id, steps=run.steps_done, lammps_wall_s=run.wall_s,
                n_atoms=len(atoms),
                mean_temperature_K=float(np.mean(run.temperature_K[1:])) if len(run.temperature_K) > 1 else T)
    return r

