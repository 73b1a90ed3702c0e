"""Explorations of the active-learning loop: MD with the current MTP that collects the
configurations it extrapolates on.

:func:`explore` runs every structure x temperature of a level in parallel groups of ranks, each
with :func:`explore_one` (LAMMPS and the ``pair_style mtp`` plugin: NVT, configurations graded
above ``gamma_select`` dumped, the run stopped at ``gamma_break``) or :func:`explore_one_ase`
(ASE Langevin MD with ``MTPCalculator``; no plugin needed, slow).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from argyro_run.errors import UserError
from argyro_run.learning.settings import LoopSettings

log = logging.getLogger(__name__)


@dataclass
class Exploration:
    name: str
    temperature_K: float
    steps_target: int
    steps_done: int = 0
    broke: bool = False
    error: str = ""
    wall_s: float = 0.0
    candidates: list = field(default_factory=list)   # Atoms with arrays['grade'], info['step']
    n_dumped: int = 0
    n_unphysical: int = 0                             # candidates dropped: a pair closer than min_distance_A
    snapshots: list = field(default_factory=list)     # the last snapshots (every snapshot_every_steps), rank 0
    host_displacement_A: np.ndarray = field(default_factory=lambda: np.zeros(0))   # md/framework.py, per window
    drifted: bool = False                             # the host framework moved beyond max_host_displacement_A
    drift_snapshot: object = None                     # the snapshot where it first did (its atom: info['center'])
    check_snapshots: list = field(default_factory=list)  # active_learning.check_frames of them, evenly spaced, rank 0
    max_grade: float = 0.0                            # over the dumped configurations (0: none)

    @property
    def completed(self) -> bool:
        return self.steps_done >= self.steps_target and not self.broke and not self.error

    def needs_selection(self, gamma_select: float) -> bool:
        return (not self.completed) or self.max_grade > gamma_select or self.drifted


def explore_one(atoms, name: str, temperature_K: float, mtp_path: Path, active_path: Path, settings: LoopSettings,
                rundir: Path, comm, seed: int) -> Exploration:
    """One exploration MD run (NVT, Nose-Hoover) with LAMMPS and the MTP plugin on ``comm``."""
    from argyro_run._stack import lammps_module
    from argyro_run.md.framework import grain_ids
    from argyro_run.md.lammps_io import current_atoms, write_data_file
    from argyro_run.potentials.plugin import lammps_commands

    ex = Exploration(name=name, temperature_K=temperature_K, steps_target=settings.n_steps)
    rundir = Path(rundir)
    species = list(settings.species)
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(species))
    if unknown:
        raise UserError(f"potential.species: {name} contains {unknown}, which are not among {species}")
    dump = rundir / "selected.cfg"
    if comm.rank == 0:
        rundir.mkdir(parents=True, exist_ok=True)
        if dump.exists():
            dump.unlink()
        write_data_file(rundir / "in.data", atoms, species)
    comm.Barrier()
    t0 = time.perf_counter()
    lmp = lammps_module().lammps(comm=comm, cmdargs=["-screen", "none", "-log", str(rundir / "log.lammps"), "-nocite"])
    try:
        dt_ps = settings.timestep_fs / 1000.0
        for c in ["units metal", "atom_style atomic", "boundary p p p", "atom_modify map array",
                  f"read_data {rundir / 'in.data'}",
                  *lammps_commands(str(mtp_path), species, active_set=str(active_path), select=settings.gamma_select,
                                   break_=settings.gamma_break, dump=str(dump), every=settings.grade_every_steps),
                  "neighbor 1.0 bin", "neigh_modify every 1 delay 0 check yes", f"timestep {dt_ps:.10g}",
                  f"velocity all create {temperature_K:.10g} {seed} mom yes rot no dist gaussian",
                  f"fix nvt all nvt temp {temperature_K:.10g} {temperature_K:.10g} "
                  f"{settings.thermostat_damping_fs / 1000.0:.10g}",
                  "thermo 100"]:
            lmp.command(c)
        snaps: list = []

        def snapshot(step):
            a = current_atoms(lmp, species, unwrapped=True)
            a.info["step"] = int(step)
            snaps.append(a)

        try:
            snapshot(0)
            done, chunk = 0, max(1, settings.snapshot_every_steps)
            while done < settings.n_steps:
                k = min(chunk, settings.n_steps - done)
                lmp.command(f"run {k} pre {'yes' if done == 0 else 'no'} post no")
                done += k
                snapshot(done)
        except Exception as e:  # LAMMPS raises on 'MTP extrapolation break' (and on lost atoms etc.)
            msg = str(e)
            if "MTP extrapolation break" in msg:
                ex.broke = True
            else:
                ex.error = msg.strip()[:500] or type(e).__name__
        ex.steps_done = int(lmp.extract_global("ntimestep"))
        last = None
        if ex.broke or ex.error:
            try:
                last = current_atoms(lmp, species)
            except Exception:  # the state after an error may be unusable; the dump still has it
                last = None
    finally:
        lmp.close()
    ex.wall_s = time.perf_counter() - t0
    if comm.rank == 0:
        ex.candidates = _read_dump(dump, species)
        ex.n_dumped = len(ex.candidates)
        if last is not None and ex.broke and not _same_as_any(last, ex.candidates):
            last.info["step"] = ex.steps_done
            ex.candidates.append(last)
        for c in ex.candidates:
            where = f"step{c.info['step']}" if "step" in c.info else f"dump{c.info.get('dump_index', '?')}"
            c.info["origin"] = f"{name}/T{temperature_K:g}/{where}"
        for a in snaps:
            a.info["origin"] = f"{name}/T{temperature_K:g}/snapshot{a.info['step']}"
        if snaps and "unit_id" in atoms.arrays:          # LAMMPS keeps the structure's atom order
            snaps[0].arrays["unit_id"] = np.asarray(atoms.arrays["unit_id"])
        grains = grain_ids(atoms)
        if snaps and grains is not None:                 # a bicrystal: its grains may slide
            snaps[0].arrays["grain_id"] = grains
        _framework(ex, snaps, settings)
        ex.check_snapshots = check_snapshots(snaps, settings)
    return ex


def check_snapshots(snaps: list, settings: LoopSettings) -> list:
    """The snapshots a reference check of the exploration labels (``active_learning.check_frames``):
    evenly spaced after the run's first tenth (``learning/check.frame_indices``, as the MD's check)."""
    from argyro_run.learning.check import frame_indices

    return [snaps[i] for i in frame_indices(len(snaps), settings.check_frames)]


def _framework(ex: Exploration, snaps: list, settings: LoopSettings) -> None:
    """The exploration's framework check (``md/framework.check_framework``, the MD's rule and limit
    ``md.max_host_displacement_A``) on its snapshots; keeps the last ``n_precursors + 1`` snapshots
    (the precursors of a collapse) and, when the framework drifted, the snapshot that ends the first
    window beyond the limit, centred on the host unit that had moved most."""
    from argyro_run.md.framework import check_framework

    ex.snapshots = snaps[-(settings.n_precursors + 1):]
    host = ~np.isin(snaps[0].get_chemical_symbols(), list(settings.mobile_species)) if snaps else np.zeros(0, bool)
    limit = settings.max_host_displacement_A
    if len(snaps) < 4 or not host.any() or not limit:
        return
    x = np.stack([a.arrays["unwrapped"] for a in snaps])
    chk = check_framework(x, host, limit, units=snaps[0].arrays.get("unit_id"), grains=snaps[0].arrays.get("grain_id"))
    ex.host_displacement_A = chk.displacement_A
    if chk.stable:
        return
    ex.drifted = True
    per = len(snaps) // chk.n_windows
    a = snaps[min(len(snaps) - 1, (chk.first_over + 1) * per - 1)].copy()
    a.info["center"] = chk.centre
    ex.drift_snapshot = a


def _same_as_any(a, images) -> bool:
    return any(len(b) == len(a) and np.allclose(b.positions, a.positions, atol=1e-6) for b in images)


def _read_dump(path: Path, species: list[str]) -> list:
    if not Path(path).exists() or Path(path).stat().st_size == 0:
        return []
    from argyro_run.potentials.cfg import read_cfg

    out = []
    for k, a in enumerate(read_cfg(path, species=species)):
        a.calc = None
        a.info["dump_index"] = k
        out.append(a)
    return out


def explore_one_ase(atoms, name: str, temperature_K: float, mtp, active, settings: LoopSettings, seed: int
                    ) -> Exploration:
    """The same exploration as :func:`explore_one` with ASE (Langevin, ``MTPCalculator``,
    ``grades.grade`` every ``grade_every_steps``): no LAMMPS plugin needed, but slow."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from argyro_run.potentials.calculator import MTPCalculator
    from argyro_run.potentials.grades import grade

    ex = Exploration(name=name, temperature_K=temperature_K, steps_target=settings.n_steps)
    t0 = time.perf_counter()
    a = atoms.copy()
    for key in [k for k in a.arrays if k not in ("numbers", "positions")]:
        del a.arrays[key]
    a.calc = MTPCalculator(mtp)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(a, temperature_K=temperature_K, rng=rng)
    dyn = Langevin(a, settings.timestep_fs * units.fs, temperature_K=temperature_K,
                   friction=1.0 / (settings.thermostat_damping_fs * units.fs), rng=rng)
    every = max(1, settings.grade_every_steps)
    step = 0
    snaps = [_plain_copy(a, 0)]
    try:
        while step < settings.n_steps:
            n = min(every, settings.n_steps - step)
            dyn.run(n)
            step += n
            if step % max(1, settings.snapshot_every_steps) < n:
                snaps.append(_plain_copy(a, step))
            g_conf, g_atoms = grade(mtp, active, a)
            gmax = float(np.max(g_atoms))
            if gmax > settings.gamma_select:
                c = a.copy()
                c.calc = None
                c.arrays["grade"] = np.asarray(g_atoms, dtype=float)
                c.info["step"] = step
                ex.candidates.append(c)
            if gmax >= settings.gamma_break:
                ex.broke = True
                break
    except Exception as e:  # e.g. the MTP blew up
        ex.error = (str(e).strip() or type(e).__name__)[:500]
    ex.steps_done = step
    ex.n_dumped = len(ex.candidates)
    ex.wall_s = time.perf_counter() - t0
    for c in ex.candidates:
        c.info["origin"] = f"{name}/T{temperature_K:g}/step{c.info['step']}"
    for c in snaps:
        c.info["origin"] = f"{name}/T{temperature_K:g}/snapshot{c.info['step']}"
    ex.check_snapshots = check_snapshots(snaps, settings)
    return ex


def _plain_copy(a, step: int):
    c = a.copy()
    c.calc = None
    c.info["step"] = int(step)
    return c


def explore(mtp_path: Path, active_path: Path, structures: list, settings: LoopSettings, comm, workdir: Path,
            iteration: int, mtp=None, active=None) -> list[Exploration]:
    """Every structure x temperature, split over groups of ranks; every rank gets all records
    (candidates only on rank 0)."""
    from argyro_run._stack import MPI

    comm = comm if comm is not None else MPI.COMM_SELF
    jobs = [(s, a, T) for s, a in structures for T in settings.temperatures_K]
    n_groups = max(1, min(comm.size, len(jobs)))
    color = comm.rank % n_groups
    sub = comm.Split(color, comm.rank)
    mine = []
    try:
        for j in range(color, len(jobs), n_groups):
            name, atoms, T = jobs[j]
            state = np.random.SeedSequence([settings.seed, settings.level, iteration, j]).generate_state(1)[0]
            seed = 1 + int(state % 900_000_000)
            rundir = Path(workdir) / f"explore_{j:03d}"
            if settings.explorer == "ase":
                ex = explore_one_ase(atoms, name, T, mtp, active, settings, seed)
            elif settings.explorer == "lammps":
                ex = explore_one(atoms, name, T, mtp_path, active_path, settings, rundir, sub, seed)
            else:
                raise ValueError(f"explorer must be 'lammps' or 'ase', got {settings.explorer!r}")
            mine.append((j, ex if sub.rank == 0 else None))
    finally:
        sub.Free()
    gathered = comm.allgather([(j, e) for j, e in mine if e is not None])
    out: list = [None] * len(jobs)
    for part in gathered:
        for j, e in part:
            out[j] = e
    for e in out:          # after the gather: the task's lead prints every group's runs (runtime/console.py)
        log.info("explore %s at %g K: %d/%d steps%s, %d dumped, max grade %.3g", e.name, e.temperature_K, e.steps_done,
                 e.steps_target, " (break)" if e.broke else (f" ({e.error})" if e.error else ""), e.n_dumped,
                 max([float(np.max(c.arrays["grade"])) for c in e.candidates if "grade" in c.arrays] or [0.0]))
    if comm.rank != 0:
        for e in out:
            e.candidates, e.snapshots, e.drift_snapshot, e.check_snapshots = [], [], None, []
    return out
