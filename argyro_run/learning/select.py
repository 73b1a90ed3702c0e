"""Selection of the active-learning loop: grading the explorations' candidates, greedy
D-optimal choice against the active set (:func:`select`, neighbourhood mode: a whole configuration,
or for cells above ``max_reference_atoms`` the core of a cut-out around its worst atom) and the
reference jobs of the picks (:func:`reference_jobs`)."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np

from argyro_run.learning.settings import LoopSettings

log = logging.getLogger(__name__)


@dataclass
class Pick:
    """A chosen configuration (``center`` None: label it whole) or neighbourhood (``center``:
    the atom to cut out around)."""

    atoms: object
    center: int | None
    grade: float
    origin: str
    kind: str = "maxvol"        # or "precursor" / "drift" (physics_picks), "check" (check_picks)


def min_distance_A(settings: LoopSettings) -> float:
    """Closest pair a selectable configuration may have: ``active_learning.min_distance_A``, by
    default ``potential.min_dist_A`` (where the MTP's radial basis begins)."""
    d = settings.learning.min_distance_A
    return float(settings.min_dist_A if d is None else d)


def _closest(atoms, r_max_A: float) -> tuple[float, int]:
    """(shortest interatomic distance, an atom of that pair) of ``atoms`` (minimum image);
    ``(inf, 0)`` when no pair is below ``r_max_A``."""
    from argyro_run.potentials.moments import pairs_within

    i, _, D = pairs_within(atoms, float(r_max_A))
    d = np.linalg.norm(D, axis=1)
    if not d.size:
        return float("inf"), 0
    k = int(np.argmin(d))
    return float(d[k]), int(i[k])


def closest_pair_A(atoms, r_max_A: float) -> float:
    """Shortest interatomic distance of ``atoms`` (minimum image), ``inf`` when none is below ``r_max_A``."""
    return _closest(atoms, r_max_A)[0]


_MAX_FAILED_CUTS = 3       # neighbourhoods of one candidate without a cut-out before the candidate is given up
_PROBE_RADIUS = 5          # frames either side of a thinned target tried in its place


def _physical_subset(candidates: list, d_min_A: float, max_kept: int | None) -> tuple[list, int]:
    """(kept, n_unphysical): at most ``max_kept`` candidates (None: all) with no pair closer than
    ``d_min_A``, in their dump order. Targets are the first, the last and evenly spaced frames between;
    an unphysical target gives way to the nearest physical frame within its share of the dump, at most
    ``_PROBE_RADIUS`` frames away (the earlier one on a tie), or to none. Only the frames examined are
    tested, each once: a 20-ps exploration above ``gamma_select`` dumps ~10^4 frames, thousands of
    them after a collapse. ``n_unphysical`` counts the examined frames found unphysical."""
    n = len(candidates)
    if max_kept is None or n <= max_kept:
        targets, radius = list(range(n)), 0
    else:
        targets = [int(t) for t in np.unique(np.round(np.linspace(0, n - 1, max(1, max_kept))).astype(int))]
        spacing = (n - 1) / max(1, len(targets) - 1)
        radius = min(_PROBE_RADIUS, max(1, int(spacing // 2)))
    physical: dict[int, bool] = {}

    def ok(i: int) -> bool:
        if i not in physical:
            physical[i] = closest_pair_A(candidates[i], d_min_A) >= d_min_A
        return physical[i]

    taken: set[int] = set()
    for t in targets:
        for step in range(radius + 1):
            hit = next((i for i in dict.fromkeys((t - step, t + step))
                        if 0 <= i < n and i not in taken and ok(i)), None)
            if hit is not None:
                taken.add(hit)
                break
    return [candidates[i] for i in sorted(taken)], sum(1 for v in physical.values() if not v)


def drop_unphysical(explorations: list, d_min_A: float, max_kept: int | None = None) -> int:
    """Keep at most ``max_kept`` (None: all) of each run's candidates, none with a pair closer than
    ``d_min_A`` (collapsed MD: the MTP cannot represent such a pair and their reference forces would
    swamp the fit; MaxVol would pick them first, as they extrapolate most). With a cap, only the frames
    needed to fill it are tested (:func:`_physical_subset`). Counts the unphysical frames found per run
    (``n_unphysical``); returns the total."""
    total = 0
    for ex in explorations:
        ex.candidates, bad = _physical_subset(ex.candidates, d_min_A, max_kept)
        ex.n_unphysical += bad
        total += bad
    return total


def grade_candidates(mtp, active, explorations: list, settings: LoopSettings) -> None:
    """Per-atom grades (``arrays['grade']``) of at most ``max_candidates_per_run`` physical candidates
    per run against ``active``, then each run's ``max_grade``. The kept ones are the first, the last
    and evenly spaced between (the earliest extrapolations are the most physical, the last the worst),
    each moved to a nearby frame without a pair closer than :func:`min_distance_A` where there is
    one (:func:`drop_unphysical`)."""
    from argyro_run.potentials.evaluate import site_basis

    n = drop_unphysical(explorations, min_distance_A(settings), settings.max_candidates_per_run)
    if n:
        log.info("%d candidate configuration(s) dropped: a pair closer than %.3g A", n, min_distance_A(settings))
    for ex in explorations:
        c = ex.candidates
        for a in c:
            R = np.asarray(site_basis(mtp, a), dtype=float)
            a.arrays["grade"] = active.grades(R)
            a.info["_rows"] = R
        ex.max_grade = max([float(a.arrays["grade"].max()) for a in c] or [0.0])


def _core_members(atoms, center: int, core_radius_A: float) -> np.ndarray:
    from ase.geometry import get_distances

    _, d = get_distances(atoms.positions[center], atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    return np.flatnonzero(d[0] <= core_radius_A + 1e-9)


def _cut_radius_A(kind: str, settings: LoopSettings) -> float:
    """Radius of a pick's cut-out: what a reference comparison needs (``check_radius``) for drift and
    check picks, the learning's ``local_radius`` otherwise."""
    return settings.check_radius() if kind in ("drift", "check") else settings.local_radius()


def _cut(atoms, center: int, kind: str, settings: LoopSettings):
    """The cut-out :func:`reference_jobs` labels for a pick (raises ValueError where none can be made)."""
    from argyro_run.learning.local import cut_out

    return cut_out(atoms, center, radius_A=_cut_radius_A(kind, settings), cutoff_A=settings.max_dist_A,
                   mode=settings.local_mode, vacuum_A=settings.vacuum_A)


def can_label(atoms, center: int | None, kind: str, settings: LoopSettings) -> bool:
    """Whether a pick can be labelled: a whole cell always, a neighbourhood where its cut-out can be made
    (charge neutral by whole molecular units: a collapsed or torn framework may have none)."""
    if center is None:
        return True
    try:
        _cut(atoms, center, kind, settings)
    except ValueError as e:
        log.info("no cut-out around atom %d of %s: %s", center, atoms.info.get("origin", "?"), e)
        return False
    return True


def select(active, explorations: list, settings: LoopSettings) -> list[Pick]:
    """Greedy D-optimal selection among the candidates (graded by :func:`grade_candidates`).

    Repeatedly: the candidate neighbourhood with the highest grade against a trial copy of
    ``active``; its configuration (small cells) or the core neighbourhoods of its cut-out (cells
    above ``max_reference_atoms``) go into the trial set by MaxVol swaps; stop when no candidate
    is above ``gamma_select`` or ``max_selected_per_iteration`` picks are made. A neighbourhood
    whose cut-out cannot be made (:func:`can_label`) is passed over for the next; after
    ``_MAX_FAILED_CUTS`` of them its whole configuration is.
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
    failed: dict[int, int] = {}
    while len(picks) < settings.max_selected_per_iteration and alive.any():
        g = np.where(alive, trial.grades(rows), 0.0)
        i = int(np.argmax(g))
        if g[i] <= settings.gamma_select:
            break
        k, c = int(owner[i]), int(atom[i])
        a = cands[k]
        if len(a) <= settings.max_reference_atoms:
            members = np.flatnonzero(owner == k)
            picks.append(Pick(atoms=a, center=None, grade=float(g[i]), origin=a.info["origin"]))
        elif not can_label(a, c, "maxvol", settings):      # the next best neighbourhood takes its place
            failed[k] = failed.get(k, 0) + 1
            alive[(owner == k) if failed[k] >= _MAX_FAILED_CUTS else i] = False     # a torn configuration: all of it
            continue
        else:
            core = _core_members(a, c, core_r)
            members = np.flatnonzero(owner == k)[core]
            picks.append(Pick(atoms=a, center=c, grade=float(g[i]), origin=f"{a.info['origin']}/atom{c}"))
        trial.update(rows[members], threshold=1.0 + 1e-3)
        alive[members] = False
    return picks


def physics_picks(explorations: list, settings: LoopSettings) -> list[Pick]:
    """What MaxVol cannot see, from the explorations' snapshots (``explore._framework``):

    * a run that broke or collapsed (a candidate with a pair closer than :func:`min_distance_A`):
      its last ``n_precursors`` *physical* snapshots before the end, i.e. the approach to the
      collapse, where the reference's forces teach the repulsion the MTP lacks (the linear
      grades of a pair type stay low while its radial functions are still near zero there);
    * a run whose host framework drifted (``md.max_host_displacement_A``): the snapshot where it
      first did, centred on the atom that moved most.

    Cells above ``max_reference_atoms`` are cut out around the closest pair's atom or the moved atom;
    a precursor without a cut-out (:func:`can_label`) gives way to the snapshot before it."""
    d_min = min_distance_A(settings)
    picks: list[Pick] = []

    def add(a, why: str, center: int) -> bool:
        small = len(a) <= settings.max_reference_atoms
        if not can_label(a, None if small else center, why, settings):
            return False
        origin = a.info.get("origin", "?") + f"/{why}" + ("" if small else f"/atom{center}")
        picks.append(Pick(atoms=a, center=None if small else center, grade=float("nan"), origin=origin, kind=why))
        return True

    for ex in explorations:
        if ex.broke or ex.error or ex.n_unphysical:
            physical = [a for a in ex.snapshots if closest_pair_A(a, d_min) >= d_min]
            # the latest physical snapshots whose neighbourhood can be cut out (a few tries more)
            n_added = 0
            for a in physical[::-1][:settings.n_precursors + _MAX_FAILED_CUTS]:
                if n_added == settings.n_precursors:
                    break
                n_added += add(a, "precursor", _closest(a, 3.0)[1])
        if ex.drifted and ex.drift_snapshot is not None:
            add(ex.drift_snapshot, "drift", int(ex.drift_snapshot.info.get("center", 0)))
    return picks


def check_picks(explorations: list, settings: LoopSettings, iteration: int) -> list[list[Pick]]:
    """Per exploration, the picks of its reference check (``active_learning.check_frames``): for a run
    the grades and the framework call clean (it needs no selection), its ``check_snapshots``, whole up
    to ``max_reference_atoms``, else centred on a random host atom (seeded by the loop's seed, the
    level, the iteration and the run) and cut out at ``settings.check_radius()``; an empty list for
    the other runs."""
    out: list[list[Pick]] = []
    for j, ex in enumerate(explorations):
        mine: list[Pick] = []
        if settings.check_frames and not ex.needs_selection(settings.gamma_select):
            rng = np.random.default_rng([settings.seed, settings.level, iteration, j])
            for a in ex.check_snapshots:
                small = len(a) <= settings.max_reference_atoms
                host = np.flatnonzero(~np.isin(a.get_chemical_symbols(), list(settings.mobile_species)))
                center = None if small else int(rng.choice(host if len(host) else np.arange(len(a))))
                origin = a.info.get("origin", "?") + "/check" + ("" if small else f"/atom{center}")
                mine.append(Pick(atoms=a, center=center, grade=float("nan"), origin=origin, kind="check"))
        out.append(mine)
    return out


def share_picks(maxvol: list[Pick], physics: list[Pick], cap: int) -> list[Pick]:
    """At most ``cap`` picks (``max_selected_per_iteration``): the physics picks (what the grades
    cannot see) get up to half of them and whatever MaxVol leaves free, MaxVol's picks the rest."""
    physics = physics[:max(cap - len(maxvol), (cap + 1) // 2)]
    return physics + maxvol[:max(0, cap - len(physics))]


def within_force_limit(images: list, max_force_eV_per_A: float) -> tuple[list, list]:
    """(kept, rejected) labelled ``images``: rejected when a reference force on an atom the fit
    uses (``force_weight`` > 0) exceeds ``max_force_eV_per_A`` (0: no limit)."""
    if not max_force_eV_per_A:
        return list(images), []
    kept, rejected = [], []
    for a in images:
        f = np.linalg.norm(np.asarray(a.get_forces()), axis=1)
        w = np.asarray(a.arrays.get("force_weight", np.ones(len(a))), dtype=float)
        (rejected if np.any(f[w > 0] > max_force_eV_per_A) else kept).append(a)
    return kept, rejected


def reference_jobs(picks: list[Pick], settings: LoopSettings, iteration: int) -> tuple[list, int]:
    """Structures to label for ``picks`` (whole cells or cut-outs with weights) and what
    labelling the parent cells whole would have cost (atoms)."""
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
            if p.kind == "drift":           # the moved host unit: where loop.compared_force_rmse looks
                b.info["drift_center"] = int(a.info.get("center", 0))
            jobs.append(b)
            continue
        try:       # what a reference check compares (loop.reference_rmse) needs a core of several atoms
            b = _cut(a, p.center, p.kind, settings)
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
