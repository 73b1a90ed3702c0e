"""The closed active-learning loop of one quality level (issue 7).

Each iteration::

    explore  LAMMPS MD with the current MTP through the pair_style mtp plugin (active set,
             select/break thresholds), every structure x temperature of the level, in parallel
             groups of ranks; configurations graded above gamma_select are dumped, a run stops
             at gamma_break (the break configuration is kept too)
    check    converged when at most ``converged_fraction`` of the runs needed a selection
             (default 0: every run went its full length below gamma_select)
    select   greedy D-optimal choice against the current active set (neighbourhood mode):
             repeatedly take the candidate neighbourhood of highest grade, add its configuration
             (or, for cells above ``max_reference_atoms``, the core of its cut-out) to a trial
             active set, re-grade, until nothing is above gamma_select or the cap is reached
    label    reference calculations: whole cells, or local cut-outs around the chosen atoms of
             large cells (force weights 1 on the core, 0 on the rim; energy/stress weight 0)
    retrain  warm start from the current parameters on all data; rebuild the active set

The loop runs at most ``max_iterations`` select-label-retrain steps, followed by a final
exploration that decides whether the level converged; it says so (``reason``) either way.

Every rank of ``comm`` calls :func:`run_level`; selection and the active set are computed on
rank 0 and broadcast, explorations are split over groups of ranks, reference calculations are
distributed round robin, training takes the comm.
"""

from __future__ import annotations

import copy
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from argyro_run.errors import UserError
from argyro_run.learning.dataset import LabelStats, label_images, spec_from_params, training_set_to_result
from argyro_run.learning.reference import ReferenceSpec
from argyro_run.results import Result

log = logging.getLogger(__name__)

GRADE_BIN_EDGES = np.array([0.0, 1.0, 1.1, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4, np.inf])


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------

@dataclass
class LoopSettings:
    """Everything one level of the loop needs (from the task params, or built directly)."""

    level: int
    species: list[str]
    gamma_select: float = 2.0
    gamma_break: float = 10.0
    exploration_ps: float = 10.0
    temperatures_K: list[float] = field(default_factory=lambda: [600.0])
    max_iterations: int = 20
    max_selected_per_iteration: int = 20
    converged_fraction: float = 0.0
    max_reference_atoms: int = 200
    local_radius_A: float = 6.0
    local_buffer_A: float = 1.0        # cut-out radius >= cutoff + this (else the core is one atom)
    local_mode: str = "periodic"
    vacuum_A: float = 8.0
    max_dist_A: float = 5.0
    min_dist_A: float = 1.6
    radial_basis_size: int = 8
    energy_weight: float = 1.0
    force_weight: float = 0.01
    stress_weight: float = 0.001
    train_iterations: int = 100        # L-BFGS iterations of each (warm-started) refit
    timestep_fs: float = 1.0
    grade_every_steps: int = 5           # the plugin grades (and dumps) every this many steps
    thermostat_damping_fs: float = 100.0
    max_candidates_per_run: int = 20
    explorer: str = "lammps"           # "lammps" (plugin; the production path) or "ase" (pure Python, slow)
    reference: ReferenceSpec = field(default_factory=ReferenceSpec)
    seed: int = 0

    @classmethod
    def from_params(cls, params: dict) -> "LoopSettings":
        """From the ``active_learning`` task params built by ``plan/build.py``."""
        step = params["step"]
        pot = params.get("potential") or {}
        kw = {k: params[k] for k in ("max_iterations", "max_selected_per_iteration", "converged_fraction",
                                     "max_reference_atoms", "local_radius_A", "local_mode", "vacuum_A",
                                     "train_iterations", "timestep_fs", "grade_every_steps") if k in params}
        kw.update({k: pot[k] for k in ("max_dist_A", "min_dist_A", "radial_basis_size", "energy_weight",
                                       "force_weight", "stress_weight") if k in pot})
        return cls(level=int(step["level"]), species=list(pot.get("species") or ["Li", "P", "S", "Cl"]),
                   gamma_select=float(step["gamma_select"]), gamma_break=float(step["gamma_break"]),
                   exploration_ps=float(step["exploration_ps"]),
                   temperatures_K=[float(t) for t in step["temperatures_K"]],
                   reference=spec_from_params(params.get("reference") or {}), seed=int(params.get("seed", 0)), **kw)

    @property
    def n_steps(self) -> int:
        return max(1, int(round(self.exploration_ps * 1000.0 / self.timestep_fs)))

    def local_radius(self) -> float:
        return max(self.local_radius_A, self.max_dist_A + self.local_buffer_A)


# --------------------------------------------------------------------------------------------
# potentials: thin seams over the MTP contracts
# --------------------------------------------------------------------------------------------

def mtp_text(mtp) -> str:
    from argyro_run.potentials.mtp import write_mtp

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "p.mtp"
        write_mtp(mtp, p)
        return p.read_text()


def mtp_from_text(text: str):
    from argyro_run.potentials.mtp import read_mtp

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "p.mtp"
        p.write_text(text)
        return read_mtp(p)


def active_set_text(active) -> str:
    from argyro_run.potentials.grades import save_active_set

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "a.als"
        save_active_set(p, active)
        return p.read_text()


def _text(x) -> str:
    if isinstance(x, np.ndarray):
        x = x.item() if x.shape == () else x.tolist()
    return x.decode() if isinstance(x, bytes) else str(x)


def starting_point(prev_result, settings: LoopSettings, images: list, comm=None):
    """The MTP a level starts from: the previous level's potential with its basis extended
    (``extend_level``: coefficients of shared basis functions kept), or a fresh ``init_mtp``."""
    from argyro_run.potentials.mtp import extend_level, init_mtp

    if prev_result is not None and "mtp/text" in prev_result:
        mtp = mtp_from_text(_text(prev_result.get("mtp/text")))
        if mtp.level is not None and mtp.level > settings.level:
            raise UserError(f"active_learning.levels: level {settings.level} comes after a level-{mtp.level} potential; "
                            "levels must increase")
        if mtp.level != settings.level:
            mtp = extend_level(mtp, settings.level)
        return mtp
    return init_mtp(settings.level, list(settings.species), max_dist_A=settings.max_dist_A,
                    min_dist_A=settings.min_dist_A, radial_basis_size=settings.radial_basis_size, seed=settings.seed)


def fit(mtp, images: list, settings: LoopSettings, comm=None, iteration: int = 0):
    """Warm-started training on all ``images`` (the training contract); returns the new MTP."""
    from argyro_run.potentials.train import train

    new, _report = train(mtp, images, energy_weight=settings.energy_weight, force_weight=settings.force_weight,
                         stress_weight=settings.stress_weight, max_iterations=settings.train_iterations,
                         seed=settings.seed + iteration, comm=comm)
    return new


def training_rows(mtp, images: list) -> tuple[np.ndarray, list]:
    """Neighbourhood rows (``site_basis``) of every trained atom: atoms of cut-outs with force
    weight 0 (the rim, whose neighbourhood is not the parent's) are left out."""
    from argyro_run.potentials.evaluate import site_basis

    rows, labels = [], []
    for k, a in enumerate(images):
        R = np.asarray(site_basis(mtp, a), dtype=float)
        w = np.asarray(a.arrays.get("force_weight", np.ones(len(a))), dtype=float)
        keep = np.flatnonzero(w > 0) if "force_weight" in a.arrays else np.arange(len(a))
        rows.append(R[keep])
        labels += [(k, int(i)) for i in keep]
    return (np.concatenate(rows) if rows else np.zeros((0, 0))), labels


def build_active_set(mtp, images: list):
    """Neighbourhood-mode MaxVol active set of the trained neighbourhoods of ``images``."""
    from argyro_run.potentials import grades as G

    has_local = any("force_weight" in a.arrays for a in images)
    if not has_local:
        return G.select_active_set(mtp, images, mode="neighborhood")
    from argyro_run.potentials.maxvol import ActiveSet

    rows, labels = training_rows(mtp, images)
    # the contract's active set is maxvol.ActiveSet (rows + inverse); cut-outs need the rim left out,
    # which select_active_set cannot express, so the set is built here from the masked rows
    active = ActiveSet(rows.shape[1])
    active.update(rows, labels=labels)
    active.mode = "neighborhood"
    return active


def active_inverse(active) -> np.ndarray:
    return np.asarray(active.inverse, dtype=float)


def metrics(mtp, images: list, comm=None) -> dict:
    """RMSEs of ``mtp`` on labelled ``images`` (``potentials.train.errors``: energies/stresses of
    images with ``energy_weight`` 0 and forces of atoms with ``force_weight`` 0 left out;
    meV/atom, eV/A, GPa). Collective over ``comm`` when given."""
    from argyro_run.potentials.train import errors

    return dict(errors(mtp, images, comm=comm))


# --------------------------------------------------------------------------------------------
# explore
# --------------------------------------------------------------------------------------------

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
    max_grade: float = 0.0                            # over the dumped configurations (0: none)

    @property
    def completed(self) -> bool:
        return self.steps_done >= self.steps_target and not self.broke and not self.error

    def needs_selection(self, gamma_select: float) -> bool:
        return (not self.completed) or self.max_grade > gamma_select


def _lammps_cell(lmp) -> tuple[np.ndarray, np.ndarray]:
    boxlo, boxhi, xy, yz, xz, _per, _chg = lmp.extract_box()
    h = np.array(boxhi) - np.array(boxlo)
    return np.array([[h[0], 0, 0], [xy, h[1], 0], [xz, yz, h[2]]]), np.array(boxlo)


def _current_atoms(lmp, species: list[str]):
    """The configuration in LAMMPS now (atom id order), in LAMMPS's frame."""
    from ase import Atoms

    n = lmp.get_natoms()
    x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
    t = np.ctypeslib.as_array(lmp.gather_atoms("type", 0, 1), shape=(n,)).copy()
    cell, lo = _lammps_cell(lmp)
    return Atoms(symbols=[species[i - 1] for i in t], positions=x - lo, cell=cell, pbc=True)


def explore_one(atoms, name: str, temperature_K: float, mtp_path: Path, active_path: Path, settings: LoopSettings,
                rundir: Path, comm, seed: int) -> Exploration:
    """One exploration MD run (NVT, Nose-Hoover) with LAMMPS and the MTP plugin on ``comm``."""
    from ase.io import write

    from argyro_run._stack import lammps_module
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
        a = atoms.copy()
        a.calc = None
        write(rundir / "in.data", a, format="lammps-data", specorder=species, masses=True, atom_style="atomic",
              parallel=False)
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
        try:
            lmp.command(f"run {settings.n_steps}")
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
                last = _current_atoms(lmp, species)
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
    return ex


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

    from argyro_run.potentials.evaluate import MTPCalculator
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
    try:
        while step < settings.n_steps:
            n = min(every, settings.n_steps - step)
            dyn.run(n)
            step += n
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
    return ex


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
            seed = 1 + int(np.random.SeedSequence([settings.seed, settings.level, iteration, j]).generate_state(1)[0]
                           % 900_000_000)
            rundir = Path(workdir) / f"explore_{j:03d}"
            if settings.explorer == "ase":
                ex = explore_one_ase(atoms, name, T, mtp, active, settings, seed)
            elif settings.explorer == "lammps":
                ex = explore_one(atoms, name, T, mtp_path, active_path, settings, rundir, sub, seed)
            else:
                raise ValueError(f"explorer must be 'lammps' or 'ase', got {settings.explorer!r}")
            log.info("explore %s at %g K: %d/%d steps%s, %d dumped, max grade %.3g", name, T, ex.steps_done,
                     ex.steps_target, " (break)" if ex.broke else (f" ({ex.error})" if ex.error else ""), ex.n_dumped,
                     max([float(np.max(c.arrays["grade"])) for c in ex.candidates if "grade" in c.arrays] or [0.0]))
            mine.append((j, ex if sub.rank == 0 else None))
    finally:
        sub.Free()
    gathered = comm.allgather([(j, e) for j, e in mine if e is not None])
    out: list = [None] * len(jobs)
    for part in gathered:
        for j, e in part:
            out[j] = e
    if comm.rank != 0:
        for e in out:
            e.candidates = []
    return out


# --------------------------------------------------------------------------------------------
# select
# --------------------------------------------------------------------------------------------

@dataclass
class Pick:
    """A chosen configuration (``center`` None: label it whole) or neighbourhood (``center``:
    the atom to cut out around)."""

    atoms: object
    center: int | None
    grade: float
    origin: str


def grade_candidates(mtp, active, explorations: list, settings: LoopSettings) -> None:
    """Per-atom grades (``arrays['grade']``) of every candidate against ``active``, then each run's
    ``max_grade``; keeps at most ``max_candidates_per_run`` per run (first, last and evenly
    spaced between: the earliest extrapolations are the most physical, the last the worst)."""
    from argyro_run.potentials.evaluate import site_basis

    inv = active_inverse(active)
    for ex in explorations:
        c = ex.candidates
        if len(c) > settings.max_candidates_per_run:
            keep = np.unique(np.round(np.linspace(0, len(c) - 1, settings.max_candidates_per_run)).astype(int))
            ex.candidates = c = [c[i] for i in keep]
        for a in c:
            R = np.asarray(site_basis(mtp, a), dtype=float)
            a.arrays["grade"] = np.abs(R @ inv).max(axis=1)
            a.info["_rows"] = R
        ex.max_grade = max([float(a.arrays["grade"].max()) for a in c] or [0.0])


def _core_members(atoms, center: int, core_radius_A: float) -> np.ndarray:
    from ase.geometry import get_distances

    _, d = get_distances(atoms.positions[center], atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    return np.flatnonzero(d[0] <= core_radius_A + 1e-9)


def select(active, explorations: list, settings: LoopSettings) -> list[Pick]:
    """Greedy D-optimal selection among the candidates (graded by :func:`grade_candidates`).

    Repeatedly: the candidate neighbourhood with the highest grade against a trial copy of
    ``active``; its configuration (small cells) or the core neighbourhoods of its cut-out (cells
    above ``max_reference_atoms``) go into the trial set by MaxVol swaps; stop when no candidate
    is above ``gamma_select`` or ``max_selected_per_iteration`` picks are made.
    """
    trial = copy.deepcopy(active)
    core_r = settings.local_radius() - settings.max_dist_A
    cands = [a for ex in explorations for a in ex.candidates if a.arrays["grade"].max() > settings.gamma_select]
    if not cands:
        return []
    rows = np.concatenate([a.info["_rows"] for a in cands])
    owner = np.concatenate([np.full(len(a), k) for k, a in enumerate(cands)])
    atom = np.concatenate([np.arange(len(a)) for a in cands])
    alive = np.ones(len(rows), dtype=bool)
    picks: list[Pick] = []
    while len(picks) < settings.max_selected_per_iteration and alive.any():
        g = np.where(alive, np.abs(rows @ trial.inverse).max(axis=1), 0.0)
        i = int(np.argmax(g))
        if g[i] <= settings.gamma_select:
            break
        k, c = int(owner[i]), int(atom[i])
        a = cands[k]
        if len(a) <= settings.max_reference_atoms:
            members = np.flatnonzero(owner == k)
            picks.append(Pick(atoms=a, center=None, grade=float(g[i]), origin=a.info["origin"]))
        else:
            core = _core_members(a, c, core_r)
            members = np.flatnonzero(owner == k)[core]
            picks.append(Pick(atoms=a, center=c, grade=float(g[i]), origin=f"{a.info['origin']}/atom{c}"))
        trial.update(rows[members], threshold=1.0 + 1e-3)
        alive[members] = False
    return picks


def reference_jobs(picks: list[Pick], settings: LoopSettings, iteration: int) -> tuple[list, int]:
    """Structures to label for ``picks`` (whole cells or cut-outs with weights) and what
    labelling the parent cells whole would have cost (atoms)."""
    from argyro_run.learning.local import cut_out

    jobs, parents = [], {}
    for p in picks:
        a = p.atoms
        parents[id(a)] = len(a)
        if p.center is None:
            b = a.copy()
            b.calc = None
            for key in [k for k in b.arrays if k not in ("numbers", "positions")]:
                del b.arrays[key]
            b.info = {"origin": f"level{settings.level}/it{iteration}/{p.origin}"}
            jobs.append(b)
            continue
        try:
            b = cut_out(a, p.center, radius_A=settings.local_radius(), cutoff_A=settings.max_dist_A,
                        mode=settings.local_mode, vacuum_A=settings.vacuum_A)
        except ValueError as e:
            log.warning("no cut-out around %s: %s", p.origin, e)
            continue
        core = np.asarray(b.arrays["core"], dtype=bool)
        for key in [k for k in b.arrays if k not in ("numbers", "positions", "parent_index")]:
            del b.arrays[key]
        b.arrays["force_weight"] = core.astype(float)
        b.info = {"origin": f"level{settings.level}/it{iteration}/{p.origin}", "energy_weight": 0.0}
        jobs.append(b)
    return jobs, int(sum(parents.values()))


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------

@dataclass
class IterationRecord:
    index: int
    n_explorations: int = 0
    n_completed: int = 0
    n_broken: int = 0
    n_failed: int = 0
    n_need_selection: int = 0
    steps_done: int = 0
    explore_wall_s: float = 0.0
    max_grades: np.ndarray = field(default_factory=lambda: np.zeros(0))       # per exploration run
    grade_histogram: np.ndarray = field(default_factory=lambda: np.zeros(len(GRADE_BIN_EDGES) - 1, dtype=np.int64))
    n_candidates: int = 0
    n_selected: int = 0
    n_local: int = 0
    n_added: int = 0
    label: LabelStats = field(default_factory=LabelStats)
    full_cell_atoms: int = 0             # reference atoms had the parents been labelled whole
    validation: dict = field(default_factory=dict)   # old MTP on the new data (before retraining)
    train: dict = field(default_factory=dict)        # new MTP on all data (after retraining)
    train_wall_s: float = 0.0
    max_grade_training: float = float("nan")         # of the training neighbourhoods vs the new active set
    wall_s: float = 0.0


@dataclass
class LevelOutcome:
    mtp: object
    active: object
    images: list
    iterations: list
    converged: bool
    reason: str
    initial_train: dict
    settings: LoopSettings
    wall_s: float = 0.0


def _write_potential_files(mtp, active, d: Path, comm) -> tuple[Path, Path]:
    from argyro_run.potentials.grades import save_active_set
    from argyro_run.potentials.mtp import write_mtp

    mtp_path, als_path = d / "current.mtp", d / "current.als"
    if comm.rank == 0:
        d.mkdir(parents=True, exist_ok=True)
        write_mtp(mtp, mtp_path)
        save_active_set(als_path, active)
    comm.Barrier()
    return mtp_path, als_path


def _bcast(comm, obj):
    return comm.bcast(obj if comm.rank == 0 else None, root=0)


def require_components(settings: LoopSettings) -> None:
    """Fail loudly (NotImplementedError naming them) when parts the loop calls are missing."""
    import importlib.util

    need = ["argyro_run.potentials.mtp", "argyro_run.potentials.evaluate", "argyro_run.potentials.grades",
            "argyro_run.potentials.train", "argyro_run.potentials.cfg"]
    if settings.explorer == "lammps":
        need.append("argyro_run.potentials.plugin")
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if missing:
        raise NotImplementedError("active learning needs " + ", ".join(missing) +
                                  " (MTP engine / LAMMPS plugin, issue 6), which are not available in this build")


def run_level(mtp, images: list, structures: list, settings: LoopSettings, comm=None, workdir: Path | None = None
              ) -> LevelOutcome:
    """Active learning of one level from ``mtp`` and labelled ``images`` over ``structures``
    (list of (name, Atoms)). Every rank of ``comm`` calls it and gets the same outcome."""
    from argyro_run._stack import MPI

    require_components(settings)

    comm = comm if comm is not None else MPI.COMM_SELF
    t_level = time.perf_counter()
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="argyro-al-"))
    if not images:
        raise UserError("active_learning: no training data to start from")
    images = list(images)
    mtp = fit(mtp, images, settings, comm, iteration=-1)
    active = _bcast(comm, build_active_set(mtp, images) if comm.rank == 0 else None)
    initial_train = metrics(mtp, images, comm=comm)
    log.info("level %d: start from %d image(s), train RMSE %s", settings.level, len(images), initial_train)
    records: list[IterationRecord] = []
    converged, reason = False, ""
    for k in range(settings.max_iterations + 1):
        t_it = time.perf_counter()
        rec = IterationRecord(index=k)
        itdir = workdir / f"level{settings.level}" / f"it{k:03d}"
        mtp_path, als_path = _write_potential_files(mtp, active, itdir, comm)
        t0 = time.perf_counter()
        exps = explore(mtp_path, als_path, structures, settings, comm, itdir, k, mtp=mtp, active=active)
        rec.explore_wall_s = time.perf_counter() - t0
        picks = None
        if comm.rank == 0:
            grade_candidates(mtp, active, exps, settings)
            rec.n_explorations = len(exps)
            rec.n_completed = sum(e.completed for e in exps)
            rec.n_broken = sum(e.broke for e in exps)
            rec.n_failed = sum(bool(e.error) for e in exps)
            rec.n_need_selection = sum(e.needs_selection(settings.gamma_select) for e in exps)
            rec.steps_done = sum(e.steps_done for e in exps)
            rec.max_grades = np.array([e.max_grade for e in exps])
            allg = np.concatenate([a.arrays["grade"] for e in exps for a in e.candidates] or [np.zeros(0)])
            rec.grade_histogram = np.histogram(allg, bins=GRADE_BIN_EDGES)[0].astype(np.int64)
            rec.n_candidates = sum(len(e.candidates) for e in exps)
            done = rec.n_need_selection <= settings.converged_fraction * len(exps)
            if not done and k < settings.max_iterations:
                picks = select(active, exps, settings)
            for e in exps:
                for a in e.candidates:
                    a.info.pop("_rows", None)
        rec = _bcast(comm, rec)
        picks = _bcast(comm, picks)
        if rec.n_need_selection <= settings.converged_fraction * rec.n_explorations:
            converged = True
            reason = (f"converged: {rec.n_completed} of {rec.n_explorations} exploration(s) ran their full "
                      f"{settings.exploration_ps:g} ps, {rec.n_need_selection} needed selection "
                      f"(allowed {settings.converged_fraction:g})")
            rec.wall_s = time.perf_counter() - t_it
            records.append(rec)
            break
        if k == settings.max_iterations:
            reason = (f"not converged: stopped at max_iterations = {settings.max_iterations}; "
                      f"{rec.n_need_selection} of {rec.n_explorations} exploration(s) still extrapolate "
                      f"(max grade {float(rec.max_grades.max()) if len(rec.max_grades) else float('nan'):.3g})")
            rec.wall_s = time.perf_counter() - t_it
            records.append(rec)
            break
        if not picks:
            reason = "stopped: explorations extrapolate but no candidate configuration could be selected"
            rec.wall_s = time.perf_counter() - t_it
            records.append(rec)
            break
        jobs, full = _bcast(comm, reference_jobs(picks, settings, k) if comm.rank == 0 else None)
        rec.n_selected = len(picks)
        rec.n_local = sum(p.center is not None for p in picks)
        rec.full_cell_atoms = full
        new, rec.label = label_images(jobs, settings.reference, workdir / "reference" / f"level{settings.level}_it{k:03d}",
                                      comm=comm, cache_dir=workdir / "reference_cache")
        rec.n_added = len(new)
        if not new:
            reason = f"stopped: every reference calculation of iteration {k} failed"
            rec.wall_s = time.perf_counter() - t_it
            records.append(rec)
            break
        rec.validation = metrics(mtp, new, comm=comm)
        images += new
        t0 = time.perf_counter()
        mtp = fit(mtp, images, settings, comm, iteration=k)
        rec.train_wall_s = time.perf_counter() - t0
        if comm.rank == 0:
            active = build_active_set(mtp, images)
            rows, _ = training_rows(mtp, images)
            rec.max_grade_training = float(np.abs(rows @ active_inverse(active)).max())
        active = _bcast(comm, active)
        rec.max_grade_training = _bcast(comm, rec.max_grade_training)
        rec.train = metrics(mtp, images, comm=comm)
        rec.wall_s = time.perf_counter() - t_it
        records.append(rec)
        log.info("level %d iteration %d: %d need selection, %d added (%d local), validation %s, train %s",
                 settings.level, k, rec.n_need_selection, rec.n_added, rec.n_local, rec.validation, rec.train)
    log.info("level %d: %s", settings.level, reason)
    return LevelOutcome(mtp=mtp, active=active, images=images, iterations=records, converged=converged, reason=reason,
                        initial_train=initial_train, settings=settings, wall_s=time.perf_counter() - t_level)


# --------------------------------------------------------------------------------------------
# archive layout
# --------------------------------------------------------------------------------------------

def _add_metrics(result: Result, pre: str, m: dict) -> None:
    if not m:
        return
    result.add(f"{pre}/rmse_energy_meV_per_atom", m["rmse_energy_meV_per_atom"], "meV/atom")
    result.add(f"{pre}/rmse_force_eV_per_A", m["rmse_force_eV_per_A"], "eV/Angstrom")
    result.add(f"{pre}/rmse_stress_GPa", m["rmse_stress_GPa"], "GPa")
    result.add(f"{pre}/n_images", m["n"], "1")


def active_learning_result(out: LevelOutcome, settings: LoopSettings | None = None) -> Result:
    """The Result of ``run_active_learning``: final potential, active set, data, per-iteration log."""
    settings = settings or out.settings
    r = Result()
    r.add("mtp/text", mtp_text(out.mtp), "", format="MLIP .mtp")
    r.add("mtp/species", " ".join(settings.species), "", note="MTP type order, space separated")
    r.add("active_set/text", active_set_text(out.active), "", format="MTP active set v1")
    training_set_to_result(r, "training_set", out.images)
    _add_metrics(r, "initial_train", out.initial_train)
    total = LabelStats()
    for rec in out.iterations:
        p = f"iterations/{rec.index}"
        r.add(f"{p}/n_explorations", rec.n_explorations, "1")
        r.add(f"{p}/n_completed", rec.n_completed, "1")
        r.add(f"{p}/n_broken", rec.n_broken, "1")
        r.add(f"{p}/n_failed_md", rec.n_failed, "1")
        r.add(f"{p}/n_need_selection", rec.n_need_selection, "1")
        r.add(f"{p}/md_steps", rec.steps_done, "1")
        r.add(f"{p}/max_grades", rec.max_grades, "1", note="per exploration run, over its dumped configurations (0: none)")
        r.add(f"{p}/grade_histogram", rec.grade_histogram, "1", note="per-atom grades of the candidate configurations")
        r.add(f"{p}/grade_bin_edges", GRADE_BIN_EDGES, "1")
        r.add(f"{p}/n_candidates", rec.n_candidates, "1")
        r.add(f"{p}/n_selected", rec.n_selected, "1")
        r.add(f"{p}/n_local", rec.n_local, "1")
        r.add(f"{p}/n_added", rec.n_added, "1")
        r.add(f"{p}/reference_calls", rec.label.calls, "1")
        r.add(f"{p}/reference_failed", rec.label.failed, "1")
        r.add(f"{p}/reference_atoms", rec.label.atoms, "1")
        r.add(f"{p}/reference_atoms_computed", rec.label.atoms_computed, "1")
        r.add(f"{p}/full_cell_atoms", rec.full_cell_atoms, "1", note="reference atoms had whole cells been labelled")
        r.add(f"{p}/reference_wall_s", rec.label.wall_s, "s")
        r.add(f"{p}/explore_wall_s", rec.explore_wall_s, "s")
        r.add(f"{p}/train_wall_s", rec.train_wall_s, "s")
        r.add(f"{p}/wall_s", rec.wall_s, "s")
        r.add(f"{p}/max_grade_training", rec.max_grade_training, "1")
        _add_metrics(r, f"{p}/validation", rec.validation)
        _add_metrics(r, f"{p}/train", rec.train)
        total.calls += rec.label.calls
        total.atoms += rec.label.atoms
        total.failed += rec.label.failed
        total.wall_s += rec.label.wall_s
    r.add("reference_calls", total.calls, "1")
    r.add("reference_atoms", total.atoms, "1")
    r.add("full_cell_atoms", sum(x.full_cell_atoms for x in out.iterations), "1")
    r.add("reference_wall_s", total.wall_s, "s")
    r.set_attrs("", converged=bool(out.converged), n_iterations=len(out.iterations), reason=out.reason,
                level=int(settings.level), gamma_select=float(settings.gamma_select),
                gamma_break=float(settings.gamma_break), loop_wall_s=float(out.wall_s),
                local_radius_A=float(settings.local_radius()))
    return r
