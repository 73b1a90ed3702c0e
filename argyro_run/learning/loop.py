"""The closed active-learning loop of one quality level (issue 7).

Each iteration::

    explore  LAMMPS MD with the current MTP through the pair_style mtp plugin (active set,
             select/break thresholds), every structure x temperature of the level, in parallel
             groups of ranks; configurations graded above gamma_select are dumped, a run stops
             at gamma_break (the break configuration is kept too)
    check    converged when at most ``converged_fraction`` of the runs needed a selection
             (default 0: every run went its full length below gamma_select, and its host
             framework stayed in place: md.max_host_displacement_A, ``md/framework.py``). When
             the only runs that need selection drifted, their drift snapshots are labelled first:
             a drift the reference confirms (:func:`reference_rmse`: the MTP's forces there as
             good as on its training set) counts as clean, a reconstruction and not a hole.
             With ``active_learning.check_frames`` the runs the grades call clean are checked
             against the reference on a few of their snapshots (``select.check_picks``); a run
             whose force RMSE there exceeds ``check_force_ratio`` x the training RMSE, by more
             than the few frames' noise allows (``check_confidence``,
             ``check.significant_force_bar``), needs selection, and those labels are learned
    select   greedy D-optimal choice against the current active set (neighbourhood mode):
             repeatedly take the candidate neighbourhood of highest grade, add its configuration
             (or, for cells above ``max_reference_atoms``, the core of its cut-out) to a trial
             active set, re-grade, until nothing is above gamma_select or the cap is reached
    physics  what the linear grades cannot see (``select.physics_picks``): the last physical
             snapshots before a collapse, the snapshot where a framework drifted
    label    reference calculations: whole cells, or local cut-outs around the chosen atoms of
             large cells (force weights 1 on the core, 0 on the rim; energy/stress weight 0)
    retrain  warm start from the current parameters on all data; rebuild the active set

The loop runs at most ``max_iterations`` select-label-retrain steps, followed by a final
exploration that decides whether the level converged; it says so (``reason``) either way. A level
converges after ``converged_rounds`` clean exploration rounds in a row (each with new velocities);
the clean rounds before the last add nothing and do not count as select-label-retrain steps.

This module holds the loop itself (:func:`run_level`, its records and when it stops, the
potential's fit and active set); the explorations are ``explore.py``, the selection
``select.py``, the settings ``settings.py``, the archive layout next to the task in ``tasks.py``.

Every rank of ``comm`` calls :func:`run_level`; selection and the active set are computed on
rank 0 and broadcast, explorations are split over groups of ranks, reference calculations are
distributed round robin, training takes the comm.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from argyro_run.errors import UserError
from argyro_run.learning.check import significant_force_bar
from argyro_run.learning.dataset import LabelStats, label_images
from argyro_run.learning.explore import explore
from argyro_run.learning.reference import recheck_skipped_because
from argyro_run.learning.select import (
    check_picks,
    grade_candidates,
    min_distance_A,
    physics_picks,
    reference_jobs,
    select,
    share_picks,
    within_force_limit,
)
from argyro_run.learning.settings import LoopSettings
from argyro_run.results import as_text

log = logging.getLogger(__name__)

GRADE_BIN_EDGES = np.array([0.0, 1.0, 1.1, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1e3, 1e4, np.inf])


def starting_point(prev_result, settings: LoopSettings, images: list, comm=None):
    """The MTP a level starts from: the previous level's potential with its basis extended
    (``extend_level``: coefficients of shared basis functions kept), or a fresh ``init_mtp``."""
    from argyro_run.potentials.mtp import extend_level, init_mtp, parse_mtp

    if prev_result is not None and "mtp/text" in prev_result:
        mtp = parse_mtp(as_text(prev_result.get("mtp/text")))
        if mtp.level is not None and mtp.level > settings.level:
            raise UserError(f"active_learning.levels: level {settings.level} comes after a level-{mtp.level} potential; "
                            "levels must increase")
        if mtp.level != settings.level:
            mtp = extend_level(mtp, settings.level)
        return mtp
    return init_mtp(settings.level, list(settings.species), max_dist_A=settings.max_dist_A,
                    min_dist_A=settings.min_dist_A, radial_basis_size=settings.radial_basis_size, seed=settings.seed)


def fit(mtp, images: list, settings: LoopSettings, comm=None, iteration: int = 0, record=None):
    """Warm-started training on all ``images`` (the training contract); returns the new MTP.
    ``record`` (an :class:`IterationRecord`): its ``train_*`` cost fields are filled in."""
    from argyro_run.potentials.train import train

    new, report = train(mtp, images, energy_weight=settings.energy_weight, force_weight=settings.force_weight,
                        stress_weight=settings.stress_weight, max_iterations=settings.train_iterations,
                        seed=settings.seed + iteration, comm=comm)
    if record is not None:
        record.train_atoms = sum(len(a) for a in images)
        record.train_lbfgs_iterations = report.iterations
        record.train_evaluations = report.evaluations
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


def metrics(mtp, images: list, comm=None) -> dict:
    """RMSEs of ``mtp`` on labelled ``images`` (``potentials.train.errors``: energies/stresses of
    images with ``energy_weight`` 0 and forces of atoms with ``force_weight`` 0 left out;
    meV/atom, eV/A, GPa). Collective over ``comm`` when given."""
    from argyro_run.potentials.train import errors

    return dict(errors(mtp, images, comm=comm))


def errors_text(m: dict) -> str:
    """``metrics`` in one short line: 'E 2.35 meV/atom, F 0.115 eV/A, S 0.126 GPa (39 images)'."""
    parts = [f"{label} {m[k]:.3g} {unit}" for k, label, unit in
             (("rmse_energy_meV_per_atom", "E", "meV/atom"), ("rmse_force_eV_per_A", "F", "eV/A"),
              ("rmse_stress_GPa", "S", "GPa")) if k in m and np.isfinite(m[k])]
    return ", ".join(parts or ["none"]) + (f" ({m['n']} images)" if "n" in m else "")


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
    n_unphysical: int = 0                # candidates dropped: a pair closer than active_learning.min_distance_A
    n_selected: int = 0
    n_drifted: int = 0                   # explorations whose host framework moved beyond md.max_host_displacement_A
    n_precursor_picks: int = 0           # snapshots before a collapse, labelled (select.physics_picks)
    n_drift_picks: int = 0               # snapshots where a framework drifted, labelled
    n_drift_confirmed: int = 0           # drifted explorations counted clean: the reference confirmed the drift
    drift_force_rmse: np.ndarray = field(default_factory=lambda: np.zeros(0))  # eV/A, per drift checked
    drift_force_limit: float = float("nan")        # eV/A: confirmed_drift_ratio x the training force RMSE
    n_checked: int = 0                   # clean explorations reference-checked (active_learning.check_frames)
    n_check_failed: int = 0              # of them, the MTP's force RMSE above the limit: they need selection
    n_check_picks: int = 0               # the failed checks' labelled frames, learned
    check_force_rmse: np.ndarray = field(default_factory=lambda: np.zeros(0))  # eV/A, per exploration checked
    check_force_limit: float = float("nan")        # eV/A: check_force_ratio x the training force RMSE
    check_force_components: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # per check
    check_force_bar: np.ndarray = field(default_factory=lambda: np.zeros(0))  # eV/A, per check: fails above it
    n_local: int = 0
    n_added: int = 0
    n_rejected_force: int = 0            # labelled, kept out: a reference force above max_force_eV_per_A
    label: LabelStats = field(default_factory=LabelStats)
    full_cell_atoms: int = 0             # reference atoms had the parents been labelled whole
    validation: dict = field(default_factory=dict)   # old MTP on the new data (before retraining)
    train: dict = field(default_factory=dict)        # new MTP on all data (after retraining)
    train_wall_s: float = 0.0
    # the rest of the round, phase by phase (wall_s - the phases = writing the potential files, broadcasts)
    select_wall_s: float = 0.0           # grading the candidates, the checks' and the selection's picks (rank 0)
    check_wall_s: float = 0.0            # reference checks of clean and drifted explorations (labels included)
    label_wall_s: float = 0.0            # cutting the picks' neighbourhoods and labelling them
    active_set_wall_s: float = 0.0       # the new active set and the training set's grades against it
    metrics_wall_s: float = 0.0          # errors of the old MTP on the new data and of the new one on all data
    train_atoms: int = 0                 # atoms of the training set refitted on (the planner's al_refit_s law)
    train_lbfgs_iterations: int = 0      # L-BFGS iterations of the refit (at most LoopSettings.train_iterations)
    train_evaluations: int = 0           # loss-and-gradient evaluations of the refit (line searches included)
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


def drift_only(ex, settings: LoopSettings) -> bool:
    """Whether exploration ``ex`` needs selection only because its framework drifted (it ran its
    full length, no grade above gamma_select)."""
    return (ex.drifted and ex.drift_snapshot is not None and ex.completed and not ex.error
            and ex.max_grade <= settings.gamma_select)


def compared_force_rmse(mtp, images: list, radius_A: float) -> float:
    """Force RMSE (eV/A) of ``mtp`` against the reference labels of ``images`` together, on the atoms a
    reference check compares (:func:`compared_force_components`). NaN without images."""
    return _rmse(mtp, _compared(images, radius_A))


def compared_force_components(images: list, radius_A: float) -> int:
    """How many force components :func:`compared_force_rmse` is over: 3 per compared atom, a cut-out's
    core (``force_weight`` > 0); a drift snapshot labelled whole (``info['drift_center']``), the atoms
    within ``radius_A`` (minimum image) of the moved host unit; any other whole cell, every atom."""
    return _components(_compared(images, radius_A))


def _rmse(mtp, compared: list) -> float:
    from argyro_run.potentials.train import errors

    return float(errors(mtp, compared)["rmse_force_eV_per_A"]) if compared else float("nan")


def _components(compared: list) -> int:
    n = 0
    for a in compared:
        w = a.arrays.get("force_weight")
        n += 3 * (len(a) if w is None else int(np.sum(np.asarray(w) > 0)))
    return n


def _compared(images: list, radius_A: float) -> list:
    """Copies of ``images`` (with their labels) weighted as a reference check compares them."""
    out = []
    for image in images:
        a = image.copy()
        a.calc = image.calc
        if "force_weight" not in a.arrays and "drift_center" in image.info:
            centre = int(image.info["drift_center"])
            near = np.zeros(len(a), dtype=bool)
            near[centre] = True
            others = np.flatnonzero(np.arange(len(a)) != centre)
            if len(others):
                near[others] = a.get_distances(centre, others, mic=True) <= radius_A
            a.arrays["force_weight"] = near.astype(float)
        a.info["energy_weight"] = 0.0
        out.append(a)
    return out


def energy_predictor(mtp):
    """The energy (eV) ``mtp`` gives an ``Atoms``: what a new label is rechecked against
    (``dataset.label_images``'s ``predict``, ``reference.recheck_energy_meV_per_atom``)."""
    from argyro_run.potentials.train import predict

    return lambda atoms: predict(mtp, atoms)["energy_eV"]


def reference_rmse(mtp, groups: list[list], settings: LoopSettings, iteration: int, workdir: Path, comm
                   ) -> tuple[np.ndarray, np.ndarray, LabelStats]:
    """Label the picks of each group (``select.Pick``; the same lists on every rank: a drift snapshot,
    an exploration's check frames) and measure the current MTP against them: per group the
    :func:`compared_force_rmse` of its labels together (NaN: none labelled) and the number of force
    components it is over (:func:`compared_force_components`). Returns (the RMSEs, the counts, the
    labelling's cost). The labels land in the reference cache: a pick labelled again for the refit
    (``reference_jobs`` makes the same structure) costs nothing."""
    jobs, by_origin = [], {}
    for n, group in enumerate(groups):
        for j in reference_jobs(group, settings, iteration)[0]:      # none when no cut-out could be made
            jobs.append(j)
            by_origin[j.info["origin"]] = n
    new, stats = label_images(jobs, settings.reference, workdir / "reference" / f"level{settings.level}_it{iteration:03d}",
                              comm=comm, cache_dir=workdir / "reference_cache", predict=energy_predictor(mtp))
    mine: list[list] = [[] for _ in groups]
    for img in new:
        n = by_origin.get(img.info.get("origin"))
        if n is not None:
            mine[n].append(img)
    compared = [_compared(m, settings.local_radius()) for m in mine]
    return (np.array([_rmse(mtp, c) for c in compared], dtype=float),
            np.array([_components(c) for c in compared], dtype=np.int64), stats)


def is_clean(rec: IterationRecord, settings: LoopSettings) -> bool:
    """Whether the exploration round of ``rec`` needed no new data (at most ``converged_fraction``
    of its runs needed a selection)."""
    return rec.n_need_selection <= settings.converged_fraction * rec.n_explorations


def stop_reason(rec: IterationRecord, settings: LoopSettings, n_refits: int, picks, labelled: list | None = None,
                clean_rounds: int = 1) -> tuple[bool, str]:
    """(converged, reason) when the round of record ``rec`` ends the level, else (False, "").

    ``n_refits``: select-label-retrain steps done before this round; ``clean_rounds``: consecutive
    clean rounds up to and including this one. In this order: ``converged_rounds`` clean rounds in
    a row (a clean round short of them goes on, exploring again); ``max_iterations`` refits are
    done; nothing could be selected; and, once the picks are labelled (``labelled``: the new
    images), none was."""
    if is_clean(rec, settings):
        if clean_rounds < settings.converged_rounds:
            return False, ""
        rounds = f" in {clean_rounds} consecutive rounds" if settings.converged_rounds > 1 else ""
        return True, (f"converged: {rec.n_completed} of {rec.n_explorations} exploration(s) ran their full "
                      f"{settings.exploration_ps:g} ps, {rec.n_need_selection} needed selection "
                      f"(allowed {settings.converged_fraction:g}){rounds}")
    if n_refits == settings.max_iterations:
        drift = f", {rec.n_drifted} with a drifting framework" if rec.n_drifted else ""
        if rec.n_check_failed:
            drift += f", {rec.n_check_failed} failed the reference check (active_learning.check_frames)"
        return False, (f"not converged: stopped at max_iterations = {settings.max_iterations}; "
                       f"{rec.n_need_selection} of {rec.n_explorations} exploration(s) still need selection{drift} "
                       f"(max grade {float(rec.max_grades.max()) if len(rec.max_grades) else float('nan'):.3g})")
    if not picks:
        why = ""
        if rec.n_unphysical:
            why = (f" ({rec.n_unphysical} candidate(s) had a pair closer than {min_distance_A(settings):g} A "
                   "(active_learning.min_distance_A): the MD collapsed before a physical configuration was graded "
                   "above gamma_select; a lower gamma_select or a smaller first level may help)")
        return False, "stopped: explorations extrapolate but no candidate configuration could be selected" + why
    if labelled is not None and not labelled:
        if rec.n_rejected_force:
            return False, (f"stopped: every configuration labelled in iteration {rec.index} had a reference force above "
                           f"active_learning.max_force_eV_per_A = {settings.max_force_eV_per_A:g} eV/A")
        return False, f"stopped: every reference calculation of iteration {rec.index} failed"
    return False, ""


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
    initial_train = train_now = metrics(mtp, images, comm=comm)
    log.info("level %d: start from %d image(s), train RMSE %s", settings.level, len(images), errors_text(initial_train))
    if why := recheck_skipped_because(settings.reference):
        log.info("level %d: labels far from the MTP's energy are not rechecked: %s", settings.level, why)
    records: list[IterationRecord] = []
    converged, reason = False, ""
    n_refits = clean = k = 0
    while True:
        t_it = time.perf_counter()
        rec = IterationRecord(index=k)
        itdir = workdir / f"level{settings.level}" / f"it{k:03d}"
        mtp_path, als_path = _write_potential_files(mtp, active, itdir, comm)
        t0 = time.perf_counter()
        exps = explore(mtp_path, als_path, structures, settings, comm, itdir, k, mtp=mtp, active=active)
        rec.explore_wall_s = time.perf_counter() - t0
        picks = to_confirm = to_check = None
        t0 = time.perf_counter()
        if comm.rank == 0:
            grade_candidates(mtp, active, exps, settings)
            rec.n_unphysical = sum(e.n_unphysical for e in exps)
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
            rec.n_drifted = sum(e.drifted for e in exps)
            only = [e for e in exps if drift_only(e, settings)]
            if (settings.confirmed_drift_ratio > 0 and settings.max_host_displacement_A and only
                    and rec.n_need_selection == len(only)):
                to_confirm = [p for p in physics_picks(only, settings) if p.kind == "drift"]
            to_check = [g for g in check_picks(exps, settings, k) if g]
            if (not is_clean(rec, settings) or to_check) and n_refits < settings.max_iterations:
                picks = share_picks(select(active, exps, settings), physics_picks(exps, settings),
                                    settings.max_selected_per_iteration)
                extra = [p for p in picks if p.kind != "maxvol"]
                rec.n_precursor_picks = sum(p.kind == "precursor" for p in extra)
                rec.n_drift_picks = sum(p.kind == "drift" for p in extra)
            for e in exps:
                for a in e.candidates:
                    a.info.pop("_rows", None)
                e.snapshots, e.drift_snapshot, e.check_snapshots = [], None, []
        rec = _bcast(comm, rec)
        picks = _bcast(comm, picks)
        to_confirm = _bcast(comm, to_confirm)
        to_check = _bcast(comm, to_check)
        rec.select_wall_s = time.perf_counter() - t0
        train_rmse = train_now["rmse_force_eV_per_A"]
        t0 = time.perf_counter()
        if to_confirm:      # every run that needs selection only drifted: does the reference confirm the drift?
            rec.drift_force_limit = settings.confirmed_drift_ratio * train_rmse
            rec.drift_force_rmse, _, stats = reference_rmse(mtp, [[p] for p in to_confirm], settings, k, workdir, comm)
            rec.n_drift_confirmed = int(np.sum(rec.drift_force_rmse <= rec.drift_force_limit))
            rec.n_need_selection -= rec.n_drift_confirmed
            rec.label = rec.label + stats
            log.info("level %d iteration %d: %d of %d drifting framework(s) confirmed by the reference (force RMSE "
                     "around the drift %s eV/A; limit %.3g = active_learning.confirmed_drift_ratio x the training "
                     "RMSE)", settings.level, k, rec.n_drift_confirmed, len(to_confirm),
                     ", ".join(f"{r:.3g}" for r in rec.drift_force_rmse), rec.drift_force_limit)
        if to_check:        # the runs the grades call clean: is the MTP right where they went?
            rec.check_force_limit = settings.check_force_ratio * train_rmse
            rec.check_force_rmse, rec.check_force_components, stats = reference_rmse(mtp, to_check, settings, k,
                                                                                     workdir, comm)
            rec.check_force_bar = np.array([significant_force_bar(rec.check_force_limit, n, settings.check_confidence)
                                            for n in rec.check_force_components], dtype=float)
            failed = rec.check_force_rmse > rec.check_force_bar
            rec.n_checked = len(to_check)
            rec.n_check_failed = int(failed.sum())
            rec.n_need_selection += rec.n_check_failed
            rec.label = rec.label + stats
            if picks is not None:           # the failed checks' frames are learned (their labels are cached)
                picks = picks + [p for g, bad in zip(to_check, failed) if bad for p in g]
                rec.n_check_picks = sum(len(g) for g, bad in zip(to_check, failed) if bad)
            log.info("level %d iteration %d: reference check of %d clean exploration(s): force RMSE %s eV/A, limit "
                     "%.3g (active_learning.check_force_ratio x the training RMSE), failing above %s (the limit "
                     "exceeded at active_learning.check_confidence = %g on %s force components); %d failed",
                     settings.level, k, len(to_check), ", ".join(f"{r:.3g}" for r in rec.check_force_rmse),
                     rec.check_force_limit, ", ".join(f"{b:.3g}" for b in rec.check_force_bar),
                     settings.check_confidence, ", ".join(str(int(n)) for n in rec.check_force_components),
                     rec.n_check_failed)
        rec.check_wall_s = time.perf_counter() - t0
        clean = clean + 1 if is_clean(rec, settings) else 0
        converged, reason = stop_reason(rec, settings, n_refits, picks, clean_rounds=clean)
        if reason or clean:
            rec.wall_s = time.perf_counter() - t_it
            records.append(rec)
            if reason:
                break
            log.info("level %d iteration %d: clean round %d of %d (active_learning.converged_rounds), exploring again",
                     settings.level, k, clean, settings.converged_rounds)
            k += 1
            continue
        t0 = time.perf_counter()
        jobs, full = _bcast(comm, reference_jobs(picks, settings, k) if comm.rank == 0 else None)
        rec.n_selected = len(picks)
        rec.n_local = sum(p.center is not None for p in picks)
        rec.full_cell_atoms = full
        new, stats = label_images(jobs, settings.reference, workdir / "reference" / f"level{settings.level}_it{k:03d}",
                                  comm=comm, cache_dir=workdir / "reference_cache", predict=energy_predictor(mtp))
        rec.label = rec.label + stats
        new, rejected = within_force_limit(new, settings.max_force_eV_per_A)
        rec.n_rejected_force = len(rejected)
        if rejected:
            log.warning("level %d iteration %d: %d labelled configuration(s) kept out of the training set: a reference "
                        "force above %g eV/A", settings.level, k, len(rejected), settings.max_force_eV_per_A)
        rec.n_added = len(new)
        rec.label_wall_s = time.perf_counter() - t0
        converged, reason = stop_reason(rec, settings, n_refits, picks, new)
        if reason:
            rec.wall_s = time.perf_counter() - t_it
            records.append(rec)
            break
        t0 = time.perf_counter()
        rec.validation = metrics(mtp, new, comm=comm)
        rec.metrics_wall_s = time.perf_counter() - t0
        images += new
        t0 = time.perf_counter()
        mtp = fit(mtp, images, settings, comm, iteration=k, record=rec)
        rec.train_wall_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        if comm.rank == 0:
            active = build_active_set(mtp, images)
            rows, _ = training_rows(mtp, images)
            rec.max_grade_training = float(active.grades(rows).max())
        active = _bcast(comm, active)
        rec.max_grade_training = _bcast(comm, rec.max_grade_training)
        rec.active_set_wall_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        rec.train = train_now = metrics(mtp, images, comm=comm)
        rec.metrics_wall_s += time.perf_counter() - t0
        rec.wall_s = time.perf_counter() - t_it
        records.append(rec)
        log.info("level %d iteration %d: %d need selection, %d added (%d local); RMSE of the old MTP on them: %s; "
                 "train: %s", settings.level, k, rec.n_need_selection, rec.n_added, rec.n_local,
                 errors_text(rec.validation), errors_text(rec.train))
        n_refits += 1
        k += 1
    log.info("level %d: %s", settings.level, reason)
    return LevelOutcome(mtp=mtp, active=active, images=images, iterations=records, converged=converged, reason=reason,
                        initial_train=initial_train, settings=settings, wall_s=time.perf_counter() - t_level)
