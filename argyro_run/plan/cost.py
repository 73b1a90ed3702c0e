"""The planner's cost model: every constant behind a task's ``cost_s`` lives here (documented, with
where each number was measured, in ``docs/costs.md``).

``cost_s`` is the expected wall time of a task on its own ``ranks`` ranks of an otherwise idle
core each. Each kind of work has a size law:

* reference calculations (one energy + forces + stress of one cell on one core): a power law in
  the atom count, per calculator (:data:`REFERENCE_COSTS`; tblite measured: quadratic up to ~100
  atoms, cubic above, as for any DFT code); a batch is spread round robin over the ranks;
* MD with the MTP plugin: microseconds per atom and step at the MTP level (:func:`md_us_per_atom_step`)
  plus a fixed start-up per run (LAMMPS, plugin, archive);
* MTP training: per L-BFGS iteration, microseconds per training atom at the level;
* active learning: an expected number of select-label-retrain iterations, each exploring every
  structure at every temperature (most explorations stop early at ``gamma_break``), labelling
  ``max_selected_per_iteration`` cells of at most ``max_reference_atoms`` and retraining;
* analysis: all-origins MSD, proportional to samples x lags x atoms;
* FE and meshes are not estimated here: their cost belongs to ``argyro_run/fe/cost.py``.

Every task has a floor of :data:`FLOOR_S` (process start-up, archive writing): tasks whose work is
below ~1 s are dominated by it.

:func:`waves` replays the runtime's wave scheduler (``argyro_run/runtime/execute.py``: waves
of ready tasks in plan order, each on ``min(ranks, world)`` ranks, a wave ends when its slowest
task ends); :func:`schedule` gives from it the wall time of a whole plan on N ranks (used by
``plan --ranks`` and the Slurm batch script).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from argyro_run.plan.task import group_size


def human_s(s: float) -> str:
    """A duration as people read it: '95 s', '31 min', '2.4 h'."""
    return f"{s:.0f} s" if s < 120 else (f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h")


FLOOR_S = 1.0                      # every task: start-up, reading deps, writing the archive

# --------------------------------------------------------------------------------------------
# reference calculators
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferenceCost:
    """Seconds of one energy+forces(+stress) calculation on one core:
    ``seconds_ref * (N / ref_atoms) ** small_exponent`` up to ``crossover_atoms``, then growing as
    ``N ** exponent``. ``startup_s``: what every batch pays once before its first label, on every
    rank at the same time (the worker process starting, importing the code and loading its model)."""

    seconds_ref: float
    ref_atoms: int
    small_exponent: float
    exponent: float
    crossover_atoms: int
    source: str
    startup_s: float = 0.0

    def seconds(self, n_atoms: int) -> float:
        n = max(1, int(n_atoms))
        small = min(n, self.crossover_atoms)
        t = self.seconds_ref * (small / self.ref_atoms) ** self.small_exponent
        if n > self.crossover_atoms:
            t *= (n / self.crossover_atoms) ** self.exponent
        return t


# tblite GFN1-xTB, rattled Li6PS5Cl, one thread, quiet machine: 52 atoms 2.75 s CPU (benchmarks/
# references.py), 2.9 s per label in the quickstart's initial data; size law from 5.8 / 21.6 / 169 s
# for 52 / 104 / 208 atoms (issue 19, a slower machine); this law gives 2.9 / 11.6 / 93 s.
_TBLITE = ReferenceCost(2.9, 52, 2.0, 3.0, 104, "measured: GFN1-xTB, rattled Li6PS5Cl, 1 thread", 0.7)
# plane-wave / Gaussian DFT (PBE, converged SCF with forces): not measurable on this machine; an
# order of magnitude for a 52-atom sulfide cell on one core, cubic in the atom count.
_DFT = ReferenceCost(900.0, 52, 3.0, 3.0, 52, "estimate: DFT single point, not measured here", 1.0)
# pretrained universal potentials (graph networks with a fixed cutoff: linear in N), CPU seconds per
# rattled 52-atom Li6PS5Cl label on one thread, median of 5 (benchmarks/references.py, docs/benchmarks.md):
# CHGNet 0.3.0 0.17 s (r2scan 0.16 s), SevenNet-0 0.40 s (MF-0 0.42 s). Start-up of a batch's worker
# (python, torch, the model: CPU seconds of a fresh process less one label, benchmarks/references.py,
# 2026-11-30): SevenNet-0 7.6 s, -MF-0 8.0-8.2 s, -l3i5 8.8 s, CHGNet 5.0-5.6 s, tblite 0.7 s. It
# dominated the validation learning's labelling: 10-18 s a round for 4-6 labels a rank, where the
# labels alone give 4-6 s.
_CHGNET = ReferenceCost(0.17, 52, 1.0, 1.0, 52, "measured: CHGNet 0.3.0, rattled Li6PS5Cl, 1 thread", 5.3)
_SEVENN = ReferenceCost(0.40, 52, 1.0, 1.0, 52, "measured: SevenNet-0, rattled Li6PS5Cl, 1 thread", 8.0)
# SevenNet-l3i5 (the validation inputs' reference: a larger network): 1.02 s (benchmarks/references.py,
# 2026-11-30); its initial data in the eighth validation study, 39 labels on one rank under load: 1.5 s
_SEVENN_L3I5 = ReferenceCost(1.02, 52, 1.0, 1.0, 52, "measured: SevenNet-l3i5, rattled Li6PS5Cl, 1 thread", 8.8)
REFERENCE_COSTS: dict[str, ReferenceCost] = {
    "tblite": _TBLITE, "chgnet": _CHGNET, "sevenn": _SEVENN, "sevenn:7net-l3i5": _SEVENN_L3I5,
    "vasp": _DFT, "espresso": _DFT, "gpaw": _DFT, "cp2k": _DFT,
    # 'package.module:Class': unknown code; planned like DFT (the safe side), see docs/costs.md
    "custom": _DFT,
}


def reference_key(calculator: str, model: str | None = None) -> str:
    """The key of a reference's cost law: 'calculator:model' where that model has its own law
    (``REFERENCE_COSTS``), else the calculator."""
    return f"{calculator}:{model}" if model and f"{calculator}:{model}" in REFERENCE_COSTS else calculator


def reference_cost(calculator: str) -> ReferenceCost:
    """The law of ``reference.calculator`` or a :func:`reference_key` (a 'package.module:Class' is 'custom')."""
    return REFERENCE_COSTS.get(calculator, REFERENCE_COSTS["custom"])


def reference_batch_s(calculator: str, n_atoms_each: list[int], ranks: int = 1, cut_outs: list[bool] | None = None
                      ) -> float:
    """Wall time of labelling cells of ``n_atoms_each`` atoms spread round robin over ``ranks``
    ranks (one calculation per rank at a time, one thread each), with the worker's start-up.
    ``cut_outs``: which of them are cut-outs (:data:`CUTOUT_LABEL_FACTOR` x a bulk cell's cost)."""
    c = reference_cost(calculator)
    ranks = max(1, int(ranks))
    per_rank = [0.0] * ranks
    cut_outs = cut_outs or [False] * len(n_atoms_each)
    for k, (n, cut) in enumerate(zip(n_atoms_each, cut_outs)):
        per_rank[k % ranks] += c.seconds(n) * (CUTOUT_LABEL_FACTOR if cut else 1.0)
    return c.startup_s + max(per_rank) if n_atoms_each else 0.0


# --------------------------------------------------------------------------------------------
# MTP molecular dynamics and training
# --------------------------------------------------------------------------------------------

# pair_style mtp plugin, one rank, CPU time per atom and step with MLIP's level basis
# (potentials.basis, benchmarks/md_cost.py, 2026-11-29): level 6 1.02 (416 atoms) / 1.07 (52 atoms),
# level 10 1.76, level 16 6.67 (416 atoms; docs/benchmarks.md: 7.7 on 1404 atoms). Between and
# beyond the measured levels: exponential in the level through the nearest two.
MD_US_PER_ATOM_STEP = {6: 1.05, 10: 1.76, 16: 6.67}
MD_RUN_OVERHEAD_S = 0.3            # LAMMPS + plugin start-up, thermo/dump handling (quickstart, quiet machine,
                                   # 2026-11-30: 52 atoms x 22500 steps 1.51 s, 148 atoms 3.61 s)
QUENCH_STEPS = 2000                # FIRE steps of the quench after annealing (md/lammps_md.relax_positions)
MD_ATOMS_PER_RANK_MIN = 300        # below this many atoms per rank extra ranks do not speed a run up


def md_us_per_atom_step(level: int) -> float:
    """Microseconds per atom and MD step of the MTP plugin at ``level`` on one rank."""
    pts = sorted(MD_US_PER_ATOM_STEP.items())
    lv = int(level)
    k = 0
    while k < len(pts) - 2 and lv > pts[k + 1][0]:
        k += 1
    (l0, c0), (l1, c1) = pts[k], pts[k + 1]
    return c0 * math.exp(math.log(c1 / c0) / (l1 - l0) * (lv - l0))


def _useful_ranks(n_atoms: int, ranks: int) -> float:
    return max(1.0, min(float(max(1, ranks)), n_atoms / MD_ATOMS_PER_RANK_MIN))


def md_s(n_atoms: int, steps: float, level: int, ranks: int = 1) -> float:
    """One LAMMPS MD run of ``steps`` steps of ``n_atoms`` atoms with an MTP of ``level``."""
    work = n_atoms * steps * md_us_per_atom_step(level) * 1e-6
    return MD_RUN_OVERHEAD_S + work / _useful_ranks(n_atoms, ranks)


def anneal_s(n_atoms: int, steps: float, level: int, ranks: int = 1) -> float:
    """The anneal task: ``steps`` of MD and the quench (:data:`QUENCH_STEPS`, a minimisation step
    costs about one MD step)."""
    return md_s(n_atoms, steps + QUENCH_STEPS, level, ranks) + MD_RUN_OVERHEAD_S


# L-BFGS refit: per iteration energy+forces+stress and their gradients w.r.t. the coefficients of
# every training atom. Quickstart (level 6, 8 configurations, 443 atoms, 100 iterations): 2.5 s wall,
# 56 us per atom and iteration; other levels scale like the MD cost (94 at level 10).
TRAIN_US_PER_ATOM_ITERATION_L10 = 94.0
# extra ranks speed a refit up by this fraction of a rank each: 2 ranks 1.4x (docs/benchmarks.md,
# level 10, 1248 atoms); the validation LPSCl loop's refits on 2 ranks (level 10, 2546-6199 atoms,
# 2026-11-29) took 0.7-1.6x (mean 1.1x) of the estimate with it
TRAIN_RANK_EFFICIENCY = 0.4


def _loop_default(name: str):
    """A default of the active-learning loop (owned by ``LoopSettings``)."""
    from argyro_run.learning.settings import LoopSettings

    return getattr(LoopSettings, name)


def al_timestep_fs() -> float:
    return float(_loop_default("timestep_fs"))


def training_s(n_training_atoms: int, level: int, ranks: int = 1) -> float:
    """One refit (``LoopSettings.train_iterations`` L-BFGS iterations) on ``n_training_atoms`` atoms."""
    per = TRAIN_US_PER_ATOM_ITERATION_L10 * md_us_per_atom_step(level) / md_us_per_atom_step(10)
    speedup = 1.0 + TRAIN_RANK_EFFICIENCY * (max(1, ranks) - 1)
    return n_training_atoms * int(_loop_default("train_iterations")) * per * 1e-6 / speedup


# the learning loop's refits against training_s, by MTP level: the quickstart loop (level 6, 443 atoms,
# one rank) is what training_s's level-6 rate was measured on (1.0); the validation Li6PS5Br loop (level
# 10, 2 ranks, one BLAS thread per rank, 2026-11-30 night; 51-132 images of 52-atom cells and cut-outs,
# 2.6k-10.9k atoms) took 0.34-0.53x (mean 0.41x) per refit. Linear in the level between them, held beyond
# (no loop measured above level 10). The 3.0x measured on the Li6PS5Cl loop the evening before was
# OpenBLAS running a thread per core in each of the 2 ranks (fixed: launcher.pin_rank_threads);
# a refit benchmark (what benchmarks/refit_cost.py --export does) on that loop's own set and warm start (level 10, 15.6k atoms, 2
# ranks): 213 us CPU per atom and iteration unpinned, 34 pinned (docs/costs.md, "Threads per rank")
AL_REFIT_FACTOR = {6: 1.0, 10: 0.4}


def _by_level(table: dict[int, float], level: int) -> float:
    """A two-level table's value at ``level``: linear between its levels, held beyond them."""
    (l0, f0), (l1, f1) = sorted(table.items())
    lv = min(max(int(level), l0), l1)
    return f0 + (f1 - f0) * (lv - l0) / (l1 - l0)


def al_refit_s(n_training_atoms: int, level: int, ranks: int = 1) -> float:
    """One refit of the learning loop on ``n_training_atoms`` atoms: :func:`training_s` times
    :data:`AL_REFIT_FACTOR` at ``level``."""
    return _by_level(AL_REFIT_FACTOR, level) * training_s(n_training_atoms, level, ranks)


# --------------------------------------------------------------------------------------------
# learning tasks
# --------------------------------------------------------------------------------------------

AL_ITERATIONS_L6 = 4               # iterations a level-6 rung takes; each level more adds
AL_ITERATIONS_PER_LEVEL = 3.0      # this many (capped by max_iterations + 1): more basis functions, more
                                   # configurations to learn. With the collapse and framework checks: quickstart
                                   # level 6: 5 (2026-11-29), 4 (2026-11-30, three runs); validation level 10
                                   # (rounds, refits and clean confirming rounds): Li6PS5Cl 9 (max_iterations 8, not
                                   # converged), 15 (max_iterations 14, not converged), 16 (converged, 2026-11-30
                                   # evening), 22 (converged, ordered only, 20-ps explorations, 2026-12-01), 11
                                   # (converged, ordered only, 100-ps explorations, 2026-12-02), Li6PS5Br 18, Li6PS5I
                                   # 12 (converged): mean of the converged 15.8. Before them: quickstart 2, Li6PS5Cl
                                   # level 8: 6. Level 10 is expected at 16, level 6 at 4
AL_PICKS_PER_EXPLORATION = 1.0     # configurations labelled per exploration run and iteration (capped by
                                   # max_selected_per_iteration); quickstart 6-9 of 6 runs before the cap (4 after),
                                   # validation LPSCl 12 of 8 (the cap)
# How long an exploration runs before gamma_break in the iterations before the last: as if its break came
# after an exponentially distributed time of this mean (ps, by MTP level, linear between, held beyond), cut at
# exploration_ps L, so it runs tau (1 - exp(-L / tau)) on average (al_explore_fraction). Measured fractions of L:
# quickstart level 6, L = 20 ps (2026-11-30): 0.02, 0.09, 0.29 (tau 6: 0.29); validation level 10, L = 20 ps:
# Li6PS5Cl 0.44 (2026-11-29), 0.86 (2026-11-30 evening), Li6PS5Br 0.92 (2026-11-30 night) (tau 30: 0.73);
# L = 100 ps: ordered Li6PS5Cl 0.107 (11 ps, 2026-12-02; tau 30: 0.29). Until 2026-12-02 a fixed fraction of L
# (0.9 at level 10) planned 36 min for that 100-ps loop, which took 14 min.
AL_EXPLORE_TAU_PS = {6: 6.0, 10: 30.0}
AL_EXPLORE_SLOWDOWN = 1.0          # grading every few steps and the snapshots vs plain MD (quickstart level 6, quiet
                                   # machine 2026-11-30: 1.06 us per atom and step, the same as plain MD)
AL_EXPLORE_OVERHEAD_S = 0.1        # per exploration run (LAMMPS instance reused in the task)
AL_GRADE_US_PER_ATOM = 200.0       # grading and selecting a labelled cell (Python, per atom)
AL_SELECT_US_PER_ATOM = 250.0      # per atom of a run's kept candidates (LoopSettings.max_candidates_per_run of
                                   # them): the closest-pair test, the grades, cut-out trials (quickstart
                                   # 2026-12-02: 3.2-3.9 s a round for 6 runs of 52 and 148 atoms, 20 frames each)
AL_BOOKKEEPING_S = 6.0             # per refit round: training-set metrics, active set, the training set's grades
                                   # (iteration wall - explorations - labels - refit, quiet machine: validation
                                   # Li6PS5Cl level 10, 48-94 images, 2026-11-30 evening: 4-8 s; quickstart 1.5-6 s)


# cut-outs of the local learning (learning/local.py cut_out, periodic or cluster): about this
# fraction of the atoms of a sphere of the local radius at the material's density (measured on the
# Sigma5 bicrystal, docs/benchmarks.md: radius 6.5 A ~50 atoms, 7.5 A ~83 atoms, the sphere
# holds 62 and 96; the picks of real loops at 6 A, sphere 49: quickstart 34 atoms on average
# (10 cut-outs), validation LPSCl 44 (120), precursor cut-outs are centred off the atom)
CUTOUT_FILL = 0.75
# a cut-out costs its reference this many times a bulk cell of as many atoms: its box is mostly vacuum
# (local_mode = "periodic": a cube of the sphere's diameter plus vacuum). tblite GFN1-xTB, one thread,
# 2026-12-02 (the same load): a 55-atom cut-out of the quickstart's Sigma5 cell (a 23 A cube) 16.5 s,
# the 52-atom Li6PS5Cl cell 6.7 s. The quickstart's labels of 2026-12-02 (37-73 atoms, mostly cut-outs)
# took 2.5-4x the bulk law.
CUTOUT_LABEL_FACTOR = 2.4


def cutout_atoms(radius_A: float, atoms_per_A3: float) -> int:
    """Expected atoms of a cut-out of radius ``radius_A`` (``LoopSettings.local_radius()``)."""
    return max(1, int(round(CUTOUT_FILL * atoms_per_A3 * 4.0 / 3.0 * math.pi * radius_A ** 3)))


def initial_data_s(calculator: str, cell_atoms: list[int], n_rattled: int, md_steps: int, md_interval: int,
                   ranks: int = 1) -> float:
    """``n_rattled`` copies of every cell labelled, plus the optional reference MD (one calculation per
    step, structures spread over the ranks)."""
    jobs = [n for n in cell_atoms for _ in range(n_rattled)]
    t = reference_batch_s(calculator, jobs, ranks)
    if md_steps > 0:
        per_rank = [0.0] * max(1, ranks)
        for k, n in enumerate(cell_atoms):
            per_rank[k % len(per_rank)] += md_steps * reference_cost(calculator).seconds(n)
        t += max(per_rank)
    return FLOOR_S + t


def al_explore_fraction(level: int, exploration_ps: float) -> float:
    """Mean fraction of ``exploration_ps`` an exploration of MTP ``level`` runs before it breaks, in the
    iterations before the last (:data:`AL_EXPLORE_TAU_PS`)."""
    x = float(exploration_ps) / _by_level(AL_EXPLORE_TAU_PS, level)
    return 1.0 if x <= 0 else float(-math.expm1(-x) / x)


def al_expected_iterations(level: int) -> int:
    """Iterations one rung of MTP ``level`` is expected to take before it converges."""
    return max(2, int(round(AL_ITERATIONS_L6 + AL_ITERATIONS_PER_LEVEL * (int(level) - 6))))


def active_learning_s(*, calculator: str, level: int, structure_atoms: list[int], temperatures: int,
                      exploration_steps: float, max_iterations: int, max_selected: int, max_reference_atoms: int,
                      initial_images_atoms: int, cutout_atoms: int, ranks: int = 1, converged_rounds: int = 1,
                      iterations: int | None = None, check_frames: int = 0, check_cutout_atoms: int = 0) -> float:
    """Expected wall time of one rung of the ladder: :func:`al_expected_iterations` iterations, each
    exploring every structure at every temperature for :func:`al_explore_fraction` of its length
    (the last one runs in full), labelling :data:`AL_PICKS_PER_EXPLORATION` picks per exploration
    run, at most ``max_selected`` (spread evenly over the structures: a structure of at most
    ``max_reference_atoms`` whole, a larger one as a cut-out of ``cutout_atoms``) and refitting on
    the growing training set. A converged rung explores ``converged_rounds - 1`` more full rounds.
    ``iterations``: that many instead of the expected number (``max_iterations + 1``: a rung that
    does not converge, the most it can take). ``check_frames``: every exploration round also labels
    that many frames of each run (whole, or cut-outs of ``check_cutout_atoms``), as if every run
    were checked."""
    n_it = min(iterations or al_expected_iterations(level), max_iterations + 1)
    runs = [n for n in structure_atoms for _ in range(max(1, temperatures))]
    groups = max(1, min(ranks, len(runs)))
    us = md_us_per_atom_step(level) * AL_EXPLORE_SLOWDOWN

    checks = [n if n <= max_reference_atoms else check_cutout_atoms for n in runs for _ in range(check_frames)]
    checks_cut = [n > max_reference_atoms for n in runs for _ in range(check_frames)]

    def explore(fraction: float) -> float:
        per_group = [0.0] * groups
        for k, n in enumerate(runs):
            per_group[k % groups] += AL_EXPLORE_OVERHEAD_S + n * exploration_steps * fraction * us * 1e-6
        return max(per_group) + (reference_batch_s(calculator, checks, ranks, checks_cut) if checks else 0.0)

    from argyro_run.learning.settings import LoopSettings

    candidates = LoopSettings.__dataclass_fields__["max_candidates_per_run"].default
    picks = max(1, min(max_selected, math.ceil(AL_PICKS_PER_EXPLORATION * len(runs))))
    sizes = [n if n <= max_reference_atoms else cutout_atoms for n in structure_atoms] or [cutout_atoms]
    cut = [n > max_reference_atoms for n in structure_atoms] or [True]
    label_atoms = int(round(sum(sizes) / len(sizes)))
    labels = [sizes[k % len(sizes)] for k in range(picks)]          # the picks spread over the structures
    labels_cut = [cut[k % len(cut)] for k in range(picks)]
    t = al_refit_s(initial_images_atoms, level, ranks)
    train_atoms = initial_images_atoms
    for k in range(n_it):
        last = k == n_it - 1
        t += explore(1.0 if last else al_explore_fraction(level, exploration_steps * al_timestep_fs() / 1000.0))
        if last:
            if n_it <= max_iterations:     # expected to converge: the confirming clean rounds
                t += (max(1, int(converged_rounds)) - 1) * explore(1.0)
            break
        t += sum(runs) * candidates * AL_SELECT_US_PER_ATOM * 1e-6
        t += reference_batch_s(calculator, labels, ranks, labels_cut)
        t += picks * label_atoms * AL_GRADE_US_PER_ATOM * 1e-6
        train_atoms += picks * label_atoms
        t += al_refit_s(train_atoms, level, ranks) + AL_BOOKKEEPING_S
    return FLOOR_S + t


# --------------------------------------------------------------------------------------------
# analysis and the rest
# --------------------------------------------------------------------------------------------

# all-origins MSD (argyro_run.analysis.diffusion.msd): per (origin, lag) pair and mobile atom, CPU
# time 18.5-19 ns for 401x24, 401x148 and 2001x192 trajectories (2026-11-29, this machine)
ANALYSIS_NS_PER_PAIR_ATOM = 19.0
# one kinisi fit (diffusivity_bayes), CPU time on this machine (2026-12-01 02:13 UTC, quiet, random walks
# of 24 and 192 atoms, 601 and 1001 samples, fit ends at 100-400 lags: 1.6-6.5 s; least squares of the
# five cases: 85.7 ns per pair and atom, 2.6 ms per lag, law within 14 %, benchmarks/analysis_cost.py):
# its MSD with the variance of every lag, per (origin, lag) pair and atom (beside our own MSD of the same
# lags, which diffusivity_bayes compares it with); its covariance matrix, built lag by lag in Python, per
# lag up to the fit end; and the exact posterior draws, per fit (0.02-0.12 s for 300-500 lags). Before
# 2026-12-01 an emcee run took the place of the draws: 6.6 ms per lag and 0.3 s per fit.
KINISI_NS_PER_PAIR_ATOM = 66.0
KINISI_S_PER_LAG = 2.6e-3
ANALYSIS_S_PER_FIT = 0.05
ANALYSIS_IMPORT_S = 1.2            # importing kinisi (scipp, emcee, statsmodels): 1.15 s CPU, once per process
# GB cells: the GB-slab (twice: parallel, perpendicular) and bulk-region subsets, and the whole cell's
# normal component (the layered GB D): at most 4x the atoms of the whole-cell fit in all (the slab's
# atoms counted twice), 5 fits
ANALYSIS_GB_FACTOR = 4.0
ANALYSIS_GB_FITS = 5


def msd_pairs(samples: int, max_lag: int) -> float:
    """(origin, lag) pairs of an all-origins MSD of ``samples`` positions up to ``max_lag``."""
    k = max(0, min(int(max_lag), int(samples) - 1))
    return k * samples - k * (k + 1) / 2.0


def diffusion_s(runs: Sequence[tuple[int, int]], n_blocks: int, n_mobile: float, gb: bool = False) -> float:
    """Analysis of MD ``runs``, each given as (samples, the fit end's lag in samples). Per run and
    fit: kinisi's and our all-origins MSD of the fitted atoms up to the fit end, the ``n_blocks``
    blocks' MSDs of the block cross-check, kinisi's covariance (per lag) and the posterior draws. A run of a GB
    cell fits ``ANALYSIS_GB_FITS`` subsets holding ``ANALYSIS_GB_FACTOR`` times its mobile atoms in
    all. ``analysis.collective`` adds one more fit per run, not counted."""
    atoms = n_mobile * (ANALYSIS_GB_FACTOR if gb else 1.0)
    fits = ANALYSIS_GB_FITS if gb else 1
    total = ANALYSIS_IMPORT_S
    for samples, max_lag in runs:
        blocks_s = n_blocks * msd_pairs(samples // max(1, n_blocks), max_lag) * ANALYSIS_NS_PER_PAIR_ATOM * atoms * 1e-9
        total += fits * kinisi_fit_s(samples, max_lag, atoms / fits) + blocks_s
    return max(FLOOR_S, total)


def kinisi_fit_s(samples: int, max_lag: int, atoms: float) -> float:
    """CPU seconds of one ``diffusivity_bayes`` fit of ``atoms`` atoms over lags up to ``max_lag``:
    our MSD and kinisi's (with its per-lag variances), kinisi's covariance build and the posterior draws
    (benchmarks/analysis_cost.py measures it)."""
    lags = max(0, min(int(max_lag), int(samples) - 1))
    return (msd_pairs(samples, max_lag) * atoms * (ANALYSIS_NS_PER_PAIR_ATOM + KINISI_NS_PER_PAIR_ATOM) * 1e-9
            + lags * KINISI_S_PER_LAG + ANALYSIS_S_PER_FIT)


STRUCTURES_S_PER_STRUCTURE = 0.05  # builder + bicrystal overlap removal
SMALL_TASK_S = FLOOR_S             # arrhenius fits, summary, reading a potential file


# --------------------------------------------------------------------------------------------
# whole plans
# --------------------------------------------------------------------------------------------


def waves(tasks, world: int) -> list[list[tuple]]:
    """The waves the runtime's scheduler forms on ``world`` ranks, every task assumed to succeed:
    ``[[(task, ranks), ...], ...]``. Ready tasks (all dependencies done) join a wave in plan order
    while ranks are free, each on ``group_size(task.ranks, world)`` ranks; the next wave starts when
    the whole wave is done."""
    world = max(1, int(world))
    order = list(tasks)
    done: set[str] = set()
    out = []
    while len(done) < len(order):
        free = world
        wave = []
        for t in order:
            if not free:
                break
            if t.id in done or not all(d in done for d in t.deps):
                continue
            n = group_size(t.ranks, world)
            if n > free:
                continue
            free -= n
            wave.append((t, n))
        if not wave:
            raise ValueError("plan has a dependency cycle or unknown dependency")
        done.update(t.id for t, _ in wave)
        out.append(wave)
    return out


def schedule(tasks, world: int) -> dict:
    """Replay the runtime's wave scheduler (:func:`waves`) on ``world`` ranks with each task's
    ``cost_s`` (a task planned for more ranks than ``world`` gets ``world`` ranks and takes
    proportionally longer). Returns ``{"wall_s", "core_s", "waves", "task_wall_s"}``: estimated wall
    time, rank-seconds reserved (idle ranks of a wave included) and per-task seconds."""
    world = max(1, int(world))
    wall = core = 0.0
    task_wall: dict[str, float] = {}
    plan_waves = waves(tasks, world)
    for wave in plan_waves:
        secs = {t.id: t.cost_s * max(1, t.ranks) / n for t, n in wave}
        span = max(secs.values())
        wall += span
        core += span * world
        task_wall.update(secs)
    return {"wall_s": wall, "core_s": core, "waves": len(plan_waves), "task_wall_s": task_wall}
