"""``build_plan(config) -> Plan``: the deterministic task DAG of a validated input."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from typing import Any

from argyro_run.analysis.diffusion import ARRHENIUS_METHOD, ESTIMATOR
from argyro_run.config.analysis import block_length_ps, production_samples
from argyro_run.config.md import MDSection
from argyro_run.learning.check import check_radius_A
from argyro_run.plan import cost
from argyro_run.plan.kinds import TASK_KINDS
from argyro_run.plan.task import Task, content_hash

log = logging.getLogger(__name__)

ATOMS_PER_CELL = 52           # Li6PS5X conventional cubic cell (fallback estimate only)


@dataclass
class Plan:
    """Tasks in topological order (each after all its dependencies)."""

    tasks: list[Task] = field(default_factory=list)

    def __post_init__(self):
        self.by_id = {t.id: t for t in self.tasks}

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, task_id: str) -> Task:
        return self.by_id[task_id]

    def dependants(self, task_id: str) -> set[str]:
        """Ids of every task that depends on ``task_id``, directly or not."""
        out: set[str] = set()
        for t in self.tasks:
            if task_id in t.deps or out.intersection(t.deps):
                out.add(t.id)
        return out

    def total_cost_s(self) -> float:
        return sum(t.cost_s for t in self.tasks)

    def to_json(self, done: set[str] | None = None) -> str:
        rows = []
        for t in self.tasks:
            d = t.to_dict()
            d["function"] = TASK_KINDS[t.kind].function
            if done is not None:
                d["done"] = t.id in done
            rows.append(d)
        return json.dumps({"tasks": rows, "total_cost_s": self.total_cost_s()}, indent=2, sort_keys=True)


def task_seed(master_seed: int, task_id: str) -> int:
    """Deterministic per-task seed derived from ``[run].seed`` and the task id."""
    return int(content_hash([master_seed, task_id]), 16) % (2**31 - 1)


def task_hash(kind: str, params: dict, dep_hashes: dict[str, str]) -> str:
    """A task's content hash: its kind, its (JSON) params less the keys at their
    :data:`HASH_NEUTRAL_VALUES` and the policy keys :data:`HASH_EXCLUDED_KEYS`, and its dependencies'
    hashes by id."""
    hashed = {k: v for k, v in params.items()
              if k not in HASH_EXCLUDED_KEYS and not (k in HASH_NEUTRAL_VALUES and v == HASH_NEUTRAL_VALUES[k])}
    return content_hash({"kind": kind, "params": hashed, "deps": dep_hashes})


class _Builder:
    def __init__(self, cfg):
        self.cfg = cfg
        self.tasks: list[Task] = []
        self.by_id: dict[str, Task] = {}

    def add(self, id: str, kind: str, params: dict[str, Any], deps: list[str], *, ranks: int = 1,
            cost_s: float = 1.0, dynamic: bool = False, description: str = "", n_atoms: int = 0) -> str:
        assert id not in self.by_id, id
        params = json.loads(json.dumps(params, default=str))  # JSON-serialisable, as hashed
        deps = sorted(set(deps))
        h = task_hash(kind, params, {d: self.by_id[d].hash for d in deps})
        t = Task(id=id, kind=kind, params=params, deps=deps, ranks=int(ranks), cost_s=float(cost_s),
                 archive_group="/" + id, stage=TASK_KINDS[kind].stage, dynamic=dynamic,
                 description=description, n_atoms=int(n_atoms), hash=h)
        self.tasks.append(t)
        self.by_id[id] = t
        return id


def _mobile_ion(cfg, m) -> str:
    """The material's diffusing ion (``Material.mobile_species``: its ``mobile_ion``, else Li)."""
    return m.mobile_species(cfg.base_dir)


def _ion_charge(symbol: str) -> int:
    """Formal charge of the analysed ion (``structures.ions``); an ion without one is an input error."""
    from argyro_run.errors import UserError
    from argyro_run.structures.ions import ion_charge

    try:
        return ion_charge(symbol)
    except KeyError as exc:
        raise UserError(f"analysis.species / materials.mobile_ion: {exc.args[0]}") from None


def _estimated_n_atoms(m, structure: str) -> int:
    """Fallback when the structures cannot be built at plan time (e.g. an unreadable file)."""
    n = ATOMS_PER_CELL * math.prod(m.supercell)
    return 2 * n if structure.startswith("gb") else n


def structure_sizes(cfg, m) -> dict[str, int]:
    """Atom count of every structure of material ``m`` from the real builder's geometry (unit cell
    or structure file, supercell, bicrystal with overlap removal; ~0.03 s per grain boundary);
    the rough estimate only if building fails (the structures task then reports the error)."""
    from argyro_run.structures.tasks import structure_sizes as built_sizes

    builder_log = logging.getLogger("argyro_run.structures")
    level = builder_log.level
    builder_log.setLevel(logging.WARNING)    # the structures task reports its builds; planning stays quiet
    try:
        return built_sizes(m, base_dir=cfg.base_dir)
    except Exception as exc:  # noqa: BLE001 - a size estimate must never stop planning
        log.warning("plan: cannot build the structures of %s for their sizes (%s); using an estimate", m.name, exc)
        return {s: _estimated_n_atoms(m, s) for s in m.structure_names()}
    finally:
        builder_log.setLevel(level)


def file_digest(cfg, path: str | None) -> str | None:
    """SHA-256 (16 hex) of an input file named in the config, so editing it changes the hashes."""
    if not path:
        return None
    p = cfg.resolve(path)
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.is_file() else None
    except OSError:
        return None


def initial_cells(cfg, sizes: dict[str, dict[str, int]]) -> tuple[list[dict], list[int]]:
    """The cells of the initial data: per material its bulk structures at
    ``active_learning.initial_cell_repeat`` (the unit cell by default, never the MD supercell), as
    params of the ``initial_data`` task (material dump with that ``supercell``, bulk names, the
    structures task's seed), and their atom counts. A cell larger than
    ``active_learning.max_reference_atoms`` is an input error (it would be labelled whole)."""
    from argyro_run.errors import UserError

    al = cfg.active_learning
    cells, atoms = [], []
    for m in cfg.materials:
        gbs = {g.name() for g in m.grain_boundaries}
        bulk = [s for s in m.structure_names() if s not in gbs]
        if not bulk:
            continue
        n_unit = sizes[m.name][bulk[0]] // max(1, math.prod(m.supercell))
        n = n_unit * math.prod(al.initial_cell_repeat)
        if n > al.max_reference_atoms:
            raise UserError(f"active_learning.initial_cell_repeat: {al.initial_cell_repeat} of the {n_unit}-atom unit "
                            f"cell of {m.name} has {n} atoms, more than active_learning.max_reference_atoms "
                            f"({al.max_reference_atoms}); a reference calculation is never run on a larger cell. "
                            "Use a smaller repeat or raise max_reference_atoms")
        dump = m.model_dump(mode="json")
        dump["supercell"] = list(al.initial_cell_repeat)
        cells.append({"material": dump, "structures": bulk, "seed": task_seed(cfg.run.seed, f"structures/{m.name}")})
        atoms += [n] * len(bulk)
    return cells, atoms


def _unit_cell_stats(cfg, m, species: str) -> tuple[float, float]:
    """(fraction of ``species`` atoms, atoms per A^3) of material ``m``'s unit cell; for an
    estimate only: (1, 0.054, an argyrodite's density) if the cell cannot be built."""
    from argyro_run.structures.tasks import unit_cell

    try:
        cell = unit_cell(m, base_dir=cfg.base_dir)
        symbols = cell.get_chemical_symbols()
        return symbols.count(species) / max(1, len(symbols)), len(cell) / cell.get_volume()
    except Exception:  # noqa: BLE001 - an estimate never stops planning
        return 1.0, 0.054


def _md_level(cfg) -> int:
    """MTP level the MD runs with: the last rung of the active-learning ladder, else potential.level."""
    if cfg.active_learning.enabled and cfg.potential.file is None:
        return cfg.active_learning.levels[-1].level
    return cfg.potential.level


def _cutout_geometry(cfg) -> tuple[float, float]:
    """(radius in A, atoms per A^3) of the local cut-outs labelled for large cells (learning, reference check)."""
    from argyro_run.learning.settings import LoopSettings

    density = max(_unit_cell_stats(cfg, m, cfg.analysis.species)[1] for m in cfg.materials)
    radius = LoopSettings.of(2, [], local_radius_A=cfg.active_learning.local_radius_A,
                             max_dist_A=cfg.potential.max_dist_A).local_radius()
    return radius, density


def _fmt(x: float) -> str:
    return f"{x:g}"


# keys of a task's params added after archives existed -> the value that does what runs did before the
# key: at that value a key stays out of the task's hash (not its params), so the archives made before
# the key existed stay valid (a resume reuses them). confirmed_drift_ratio = 0: every drift learned
HASH_NEUTRAL_VALUES = {"converged_rounds": 1, "confirmed_drift_ratio": 0.0, "check_frames": 0}
# task params that decide whether a task may run, not what it computes: never hashed, so a result
# made under either value is reused under the other
HASH_EXCLUDED_KEYS = ("require_converged_learning",)
# [md] keys that only the anneal task (md/<material>/<structure>/anneal) reads, and keys no MD run reads
_ANNEAL_KEYS = ("anneal_ps", "anneal_temperature_K", "anneal_structures", "relax_force_eV_per_A")
_NOT_MD_RUN_KEYS = _ANNEAL_KEYS + ("reference_check_frames",) + HASH_EXCLUDED_KEYS


def _warn_md_hotter_than_explorations(cfg) -> None:
    """A warning when the production MD runs hotter than the last level's explorations: the MD
    then reaches configurations no exploration graded (the third validation study's blow-ups)."""
    if cfg.md is None:
        return
    explored, md_top = max(cfg.active_learning.levels[-1].temperatures_K), max(cfg.md.temperatures_K)
    if md_top > explored:
        log.warning("active_learning.levels[%d].temperatures_K: the last level explores up to %g K, but "
                    "md.temperatures_K goes up to %g K; the production MD will reach configurations no exploration "
                    "graded (add %g K to the explorations)", len(cfg.active_learning.levels) - 1, explored, md_top,
                    md_top)


# Where an MSD fit window may end, as a fraction of the run it is fitted in, before kinisi's D is biased
# low and its intervals under-cover: measured on vibrating random walks (docs/md.md, "Windows that end
# near the run's end"): 5-11 % low and 0.7-0.9 coverage at 50-95 %, unbiased and covered at 25 %.
FIT_END_RUN_FRACTION_WARN = 0.5


def _warn_fit_window_near_run_end(cfg) -> None:
    """A warning when ``analysis.fit_end_ps`` ends past ``FIT_END_RUN_FRACTION_WARN`` of a production
    run: kinisi fits the whole run's all-origins MSD, so its D is then biased low (the blocks are only
    the cross-check's; that the window fits in one is an input error of the analysis)."""
    if cfg.md is None or cfg.analysis.fit_end_ps is None:
        return
    end = float(cfg.analysis.fit_end_ps)
    dt_ps = cfg.md.dump_interval_fs / 1000.0
    over = []
    for T, prod in zip(cfg.md.temperatures_K, cfg.md.production_lengths_ps()):
        run = (production_samples(prod, cfg.md.dump_interval_fs) - 1) * dt_ps   # the longest lag of the run
        if end > FIT_END_RUN_FRACTION_WARN * run + 1e-9:
            over.append(f"{T:g} K ({run:g} ps)")
    if over:
        log.warning("analysis.fit_end_ps (%g ps) ends past %g of the run it is fitted in at %s: kinisi's D "
                    "is then biased low by 5-11 %% and its 95 %% intervals hold the truth only 70-90 %% of the time "
                    "(docs/md.md); end the window at about a quarter of the run, or run longer",
                    end, FIT_END_RUN_FRACTION_WARN, ", ".join(over))


def build_plan(cfg) -> Plan:
    """Compile a validated ``Config`` into a ``Plan`` (same input -> same tasks and hashes)."""
    b = _Builder(cfg)
    seed = cfg.run.seed
    par = cfg.parallel
    ref = cfg.reference.model_dump(mode="json")
    ref_cost_key = cost.reference_key(cfg.reference.calculator, cfg.reference.model)  # its cost law
    pot = cfg.potential.model_dump(mode="json")
    pot["file_sha256"] = file_digest(cfg, cfg.potential.file)
    pot["training_set_sha256"] = file_digest(cfg, cfg.potential.training_set)

    struct_ids: dict[str, str] = {}
    sizes = {m.name: structure_sizes(cfg, m) for m in cfg.materials}
    for m in cfg.materials:
        sid = f"structures/{m.name}"
        names = m.structure_names()
        n = sizes[m.name]
        b.add(sid, "build_structures", {"material": m.model_dump(mode="json"), "structures": names,
                                        "structure_file_sha256": file_digest(cfg, m.structure_file),
                                        "seed": task_seed(seed, sid)}, [],
              cost_s=cost.FLOOR_S + cost.STRUCTURES_S_PER_STRUCTURE * len(names), n_atoms=sum(n[s] for s in names),
              description=f"build {', '.join(f'{s} ({n[s]} atoms)' for s in names)} of {m.name}")
        struct_ids[m.name] = sid

    potential_id = None
    needs_potential = bool(cfg.materials) and cfg.md is not None
    if cfg.potential.file is not None and (needs_potential or not cfg.active_learning.enabled):
        potential_id = b.add("potential/file", "load_potential", {"potential": pot}, [], cost_s=cost.SMALL_TASK_S,
                             description=f"read {cfg.potential.file}")
    elif cfg.active_learning.enabled and cfg.materials:
        al = cfg.active_learning
        cells, cell_atoms = initial_cells(cfg, sizes)
        r_ref = par.ranks_per_reference
        init_params = {"reference": ref, "n_rattled": al.n_rattled, "rattle_amplitude_A": al.rattle_amplitude_A,
                       "strain_amplitude": al.strain_amplitude, "training_set": cfg.potential.training_set,
                       "cells": cells, "max_reference_atoms": al.max_reference_atoms,
                       "max_force_eV_per_A": al.max_force_eV_per_A,
                       "initial_md": {"steps": al.initial_md_steps, "temperature_K": al.initial_md_temperature_K,
                                      "timestep_fs": al.initial_md_timestep_fs, "interval": al.initial_md_interval},
                       "seed": task_seed(seed, "learning/initial_data")}
        if cfg.potential.training_set:
            # the elements of the MTP types: a .cfg training set names its atoms by type index only
            # (only here, so the task's hash without a training set is what it was)
            init_params["potential"] = {"species": cfg.potential.species}
        init = b.add("learning/initial_data", "initial_data", init_params,
                     list(struct_ids.values()), ranks=r_ref,
                     cost_s=cost.initial_data_s(ref_cost_key, cell_atoms, al.n_rattled,
                                                al.initial_md_steps, al.initial_md_interval, r_ref),
                     n_atoms=sum(cell_atoms),
                     description=f"{al.n_rattled} rattled/strained copies of each bulk unit cell "
                                 f"x{'x'.join(map(str, al.initial_cell_repeat))} ({', '.join(map(str, cell_atoms))} "
                                 "atoms), labelled")
        prev = init
        common = al.model_dump(mode="json", exclude={"levels", "enabled", "n_rattled", "rattle_amplitude_A", "strain_amplitude",
                                                     "initial_md_steps", "initial_md_temperature_K",
                                                     "initial_md_timestep_fs", "initial_md_interval",
                                                     "initial_cell_repeat"})
        if not al.check_framework:
            common.pop("confirmed_drift_ratio", None)       # no drift is checked: the key changes nothing
        if not al.check_frames:
            common.pop("check_force_ratio", None)           # no exploration is checked: likewise
            common.pop("check_confidence", None)
        explored = [sizes[m.name][s] for m in cfg.materials for s in m.structure_names()]
        radius, density = _cutout_geometry(cfg)
        train_atoms = (al.n_rattled + al.initial_md_steps // max(1, al.initial_md_interval)) * sum(cell_atoms)
        # what the explorations' framework check needs: the mobile ions and the MD's limit (one owner: [md])
        framework = {"mobile_species": sorted({cfg.analysis.species or _mobile_ion(cfg, m) for m in cfg.materials}),
                     "max_host_displacement_A": ((cfg.md or MDSection()).max_host_displacement_A
                                                 if al.check_framework else None)}
        for step in al.levels:
            tid = f"learning/level{step.level}"
            r_al = max(par.ranks_per_reference, par.ranks_per_md)
            al_cost = dict(calculator=ref_cost_key, level=step.level,
                           structure_atoms=explored, temperatures=len(step.temperatures_K),
                           exploration_steps=step.exploration_ps * 1000.0 / cost.al_timestep_fs(),
                           max_iterations=al.max_iterations, max_selected=al.max_selected_per_iteration,
                           max_reference_atoms=al.max_reference_atoms, initial_images_atoms=train_atoms,
                           cutout_atoms=cost.cutout_atoms(radius, density), ranks=r_al,
                           converged_rounds=al.converged_rounds, check_frames=al.check_frames,
                           check_cutout_atoms=cost.cutout_atoms(check_radius_A(radius, cfg.potential.max_dist_A),
                                                                density))
            expected = min(cost.al_expected_iterations(step.level), al.max_iterations + 1)
            worst = cost.active_learning_s(**al_cost, iterations=al.max_iterations + 1)
            prev = b.add(tid, "active_learning",
                         {"step": step.model_dump(mode="json"), **common, "reference": ref, **framework,
                          "potential": {**pot, "level": step.level}, "seed": task_seed(seed, tid)},
                         [prev, *struct_ids.values()], ranks=r_al,
                         cost_s=cost.active_learning_s(**al_cost), dynamic=True,
                         description=f"MTP level {step.level}: ~{expected} iterations expected, up to "
                                     f"{al.max_iterations} (~{cost.human_s(worst)} then), decided at run time")
        potential_id = prev
        _warn_md_hotter_than_explorations(cfg)
    _warn_fit_window_near_run_end(cfg)

    arrhenius_ids: list[str] = []
    if cfg.md is not None and cfg.materials and potential_id is not None:
        md = cfg.md.model_dump(mode="json")
        analysis = cfg.analysis.model_dump(mode="json")
        md_level = _md_level(cfg)
        dump_ps = cfg.md.dump_interval_fs / 1000.0
        n_blocks = cfg.analysis.n_blocks
        # per temperature (md.production_ps may differ): MD steps, samples and the fit window's last lag
        steps, samples, block_lag = {}, {}, {}
        for T in cfg.md.temperatures_K:
            prod = cfg.md.production_ps_at(T)
            steps[T] = (cfg.md.equilibration_ps + prod) * 1000.0 / cfg.md.timestep_fs
            samples[T] = production_samples(prod, cfg.md.dump_interval_fs)
            fit_end = cfg.analysis.fit_end_ps or 0.5 * block_length_ps(samples[T], dump_ps, n_blocks)
            block_lag[T] = int(fit_end / dump_ps + 1e-9)
        mobile = {m.name: _unit_cell_stats(cfg, m, cfg.analysis.species or _mobile_ion(cfg, m))[0] for m in cfg.materials}
        for m in cfg.materials:
            analysis_ids = []
            wanted = cfg.md.structures
            # the diffusing ion of this material (analysis.species overrides it for every material)
            species = cfg.analysis.species or _mobile_ion(cfg, m)
            m_analysis = dict(analysis, species=species, charge_e=_ion_charge(species))
            for s in m.structure_names():
                if wanted and s not in wanted:
                    continue
                md_ids = []
                # the atoms kept ("species"); the host is every other. The annealing keys are the anneal task's
                md_params = {k: v for k, v in md.items() if k != "temperatures_K" and k not in _NOT_MD_RUN_KEYS}
                md_params["species"] = species
                # md.structures picks which runs exist, not what one computes: kept at its default, so
                # a run made under one selection is reused under another (and archives of the default keep
                # their hashes)
                md_params["structures"] = None
                start = [struct_ids[m.name], potential_id]
                gb = s in {g.name() for g in m.grain_boundaries}
                if cfg.md.anneal_ps > 0 and (gb or cfg.md.anneal_structures == "all"):
                    nid = f"md/{m.name}/{s}/anneal"
                    t_anneal = cfg.md.annealing_temperature_K()
                    start.append(b.add(nid, "md_anneal",
                                       {"md": {**md_params, **{k: md[k] for k in _ANNEAL_KEYS}},
                                        "temperature_K": t_anneal, "structure": s, "seed": task_seed(seed, nid),
                                        "require_converged_learning": cfg.md.require_converged_learning},
                                       [struct_ids[m.name], potential_id], ranks=par.ranks_per_md,
                                       cost_s=max(cost.FLOOR_S, cost.anneal_s(
                                           sizes[m.name][s], cfg.md.anneal_ps * 1000.0 / cfg.md.timestep_fs,
                                           md_level, par.ranks_per_md)),
                                       n_atoms=sizes[m.name][s],
                                       description=f"{s} of {m.name} annealed {cfg.md.anneal_ps:g} ps at "
                                                   f"{_fmt(t_anneal)} K and quenched"))
                for T in cfg.md.temperatures_K:
                    tid = f"md/{m.name}/{s}/T{_fmt(T)}"
                    run_params = {**md_params, "production_ps": cfg.md.production_ps_at(T)}
                    md_ids.append(b.add(tid, "md_run", {"md": run_params, "temperature_K": T, "structure": s,
                                                        "seed": task_seed(seed, tid),
                                                        "require_converged_learning":
                                                            cfg.md.require_converged_learning},
                                        start, ranks=par.ranks_per_md,
                                        cost_s=max(cost.FLOOR_S, cost.md_s(sizes[m.name][s], steps[T], md_level,
                                                                              par.ranks_per_md)),
                                        n_atoms=sizes[m.name][s],
                                        description=f"{s} of {m.name} at {_fmt(T)} K, {sizes[m.name][s]} atoms"))
                if cfg.md.reference_check_frames:
                    al = cfg.active_learning
                    cid = f"check/{m.name}/{s}"
                    n_check = cfg.md.reference_check_frames * len(md_ids)
                    radius, density = _cutout_geometry(cfg)
                    radius = check_radius_A(radius, cfg.potential.max_dist_A)
                    check_atoms = (sizes[m.name][s] if sizes[m.name][s] <= al.max_reference_atoms
                                   else cost.cutout_atoms(radius, density))
                    b.add(cid, "reference_check",
                          {"structure": s, "frames": cfg.md.reference_check_frames, "reference": ref,
                           "species": species, "max_reference_atoms": al.max_reference_atoms, "radius_A": radius,
                           "cutoff_A": cfg.potential.max_dist_A, "local_mode": al.local_mode,
                           "seed": task_seed(seed, cid)},
                          [struct_ids[m.name], potential_id, *start[2:], *md_ids], ranks=par.ranks_per_reference,
                          cost_s=max(cost.FLOOR_S, cost.reference_batch_s(ref_cost_key,
                                                                          [check_atoms] * n_check,
                                                                          par.ranks_per_reference)),
                          description=f"{cfg.md.reference_check_frames} frame(s) of each MD run of {s} checked "
                                      "against the reference")
                aid = f"analysis/{m.name}/{s}"
                d_params = {"analysis": m_analysis, "structure": s, "material": m.name, "seed": task_seed(seed, aid),
                            "estimator": ESTIMATOR}
                if species == "Li" and not gb and m.structure_file is None:   # a built argyrodite cell: 48h jumps
                    d_params["li_sites"] = {"supercell": list(m.supercell), "halide": m.builder_halide()}
                analysis_ids.append(b.add(aid, "diffusion", d_params, md_ids,
                                          cost_s=cost.diffusion_s([(samples[T], block_lag[T])
                                                                   for T in cfg.md.temperatures_K], n_blocks,
                                                                  sizes[m.name][s] * mobile[m.name], gb=gb),
                                          description=f"MSD and diffusivity of {s}"))
            arrhenius_ids.append(b.add(f"arrhenius/{m.name}", "arrhenius", {"material": m.name, "method": ARRHENIUS_METHOD},
                                       analysis_ids,
                                       cost_s=cost.SMALL_TASK_S,
                                       description=f"Arrhenius fits of {m.name}"))

    fe_ids: list[str] = []
    if cfg.microstructure is not None:
        from argyro_run.fe.cost import estimate_mesh_seconds, estimate_solve_seconds, fe_ranks

        full = cfg.microstructure.model_dump(mode="json")
        micro = {k: v for k, v in full.items() if k != "grain_sizes_nm"}
        grain_sizes = list(full["grain_sizes_nm"])
        mesh_of: dict[float, str] = {}
        if micro.get("gb_model", "interface") == "layer":
            # GB layers resolved in the mesh: one mesh per grain size
            for g in grain_sizes:
                mid = f"microstructure/d{_fmt(g)}nm"
                mesh_of[g] = b.add(mid, "mesh", {"microstructure": micro, "grain_size_nm": g,
                                                 "seed": task_seed(seed, mid)},
                                   [], cost_s=estimate_mesh_seconds(full, g),
                                   description=f"polycrystal mesh with GB layers, grain size {_fmt(g)} nm")
        else:
            # GBs as interfaces: one mesh of the tessellation serves every grain size
            mid = f"microstructure/{micro['kind']}"
            b.add(mid, "mesh", {"microstructure": micro, "seed": task_seed(seed, mid)}, [],
                  cost_s=estimate_mesh_seconds(full),
                  description=f"polycrystal mesh ({micro['kind']}, {micro['n_grains']} grains) for grain sizes "
                              f"{', '.join(map(_fmt, grain_sizes))} nm")
            mesh_of = {g: mid for g in grain_sizes}
        if cfg.fe is not None:
            from argyro_run.fe.cases import resolve_cases

            fe = cfg.fe.model_dump(mode="json", exclude={"cases"})
            temps = fe["temperatures_K"]
            fe_r = fe_ranks(full, par.ranks_per_fe, grain_sizes)  # a small mesh: fewer ranks are faster
            if micro.get("gb_model", "interface") == "layer":  # one solver (mesh) per grain size
                fe_cost = sum(estimate_solve_seconds(full, len(temps), fe_r, g) for g in grain_sizes)
            else:  # one solver for every temperature x grain size
                fe_cost = estimate_solve_seconds(full, len(temps) * len(grain_sizes), fe_r)
            for case in resolve_cases(cfg)[0]:
                tid = f"fe/{case['name']}"
                deps = sorted(set(mesh_of.values())) + case["arrhenius"]
                deps += [case["structures_task"]] if case["structures_task"] else []
                fe_ids.append(b.add(tid, "fe_sweep",
                                    {"fe": fe, "case": case, "grain_sizes_nm": grain_sizes,
                                     "gb_thickness_nm": full["gb_thickness_nm"],
                                     "meshes": [[g, mesh_of[g]] for g in grain_sizes]},
                                    deps, ranks=fe_r,
                                    cost_s=fe_cost,
                                    description=f"FE case {case['name']}: D_eff at {len(temps)} temperatures x "
                                                f"{len(grain_sizes)} grain sizes"))

    terminal = arrhenius_ids + fe_ids
    if terminal or b.tasks:
        # the summary tabulates fits, D_eff, D(T) and the active-learning record
        shown = [t.id for t in b.tasks if t.kind in ("diffusion", "active_learning")]
        b.add("summary", "summary", {"run": cfg.run.model_dump(mode="json")}, cost_s=cost.SMALL_TASK_S,
              deps=
              (terminal + shown) if terminal else [t.id for t in b.tasks if not any(t.id in o.deps for o in b.tasks)],
              description="tables and figures of the whole run")
    return Plan(b.tasks)
