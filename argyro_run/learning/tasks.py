"""Runtime task functions of the learning stage: ``initial_data`` and ``active_learning``.

Params are those built by ``argyro_run/plan/build.py``; see ``docs/learning.md``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from argyro_run.errors import UserError
from argyro_run.learning.dataset import (
    LabelStats,
    is_interface_cell,
    label_images,
    spec_from_params,
    structures_of,
    training_set_from_result,
    training_set_to_result,
)
from argyro_run.learning.select import within_force_limit
from argyro_run.results import Result

log = logging.getLogger(__name__)


def _sub_seed(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


def dependency_structures(deps: dict) -> list[tuple[str, str, object]]:
    """(material, structure name, Atoms) of every ``structures/<material>`` dependency, sorted."""
    out = []
    for dep_id in sorted(deps):
        if dep_id.startswith("structures/"):
            mat = dep_id.split("/", 1)[1]
            for name, atoms in structures_of(deps[dep_id]).items():
                out.append((mat, name, atoms))
    return out


def resolve_input_file(path: str, params: dict, key: str) -> Path:
    p = Path(path)
    if not p.is_absolute():
        base = params.get("input_dir") or params.get("base_dir")  # runtime passes input_dir
        p = (Path(base) / p) if base else p.resolve()
    if not p.is_file():
        raise UserError(f"{key}: file {path!r} not found (looked at {p})")
    return p


# LabelStats attribute -> units; archived as ``<prefix>/reference_<attribute>``
_LABEL_UNITS = {"calls": "1", "computed": "1", "failed": "1", "atoms": "1", "atoms_computed": "1", "wall_s": "s",
                "cpu_s": "s", "rechecked": "1", "relabelled": "1"}
_PER_ITERATION_LABELS = ("calls", "failed", "atoms", "atoms_computed", "wall_s", "rechecked", "relabelled")
# the initial data's labels: no potential yet to recheck them against
_BATCH_LABELS = tuple(k for k in _LABEL_UNITS if k not in ("rechecked", "relabelled"))


# The phases of a round beside exploring and refitting, timed so the planner's per-round rest can be
# calibrated from any archive (wall_s minus every phase: writing the potential files, broadcasts).
_ROUND_PHASES = (
    ("select", "grading the candidates and choosing the checks' and the selection's picks (rank 0)"),
    ("check", "reference checks of clean and of drifted explorations, their labels included"),
    ("label", "cutting the picks' neighbourhoods and labelling them (reference_wall_s is their sum with the checks')"),
    ("active_set", "building the new active set and grading the training set against it"),
    ("metrics", "errors of the old MTP on the new data and of the new MTP on the whole training set"),
)


def _add_label_stats(result: Result, prefix: str, st, which=_BATCH_LABELS) -> None:
    for key in which:
        result.add(f"{prefix}/reference_{key}", getattr(st, key), _LABEL_UNITS[key])


def initial_cells(params: dict, deps: dict) -> list[tuple[str, str, object]]:
    """(material, structure, Atoms) of the bulk cells whose rattled copies (and reference MD) make the
    initial data. The planner passes ``params['cells']``: per material its model dump with
    ``supercell`` set to ``active_learning.initial_cell_repeat``, the bulk structure names and the
    structures task's seed; these are built here by the structure builder (the unit cell of each
    bulk variant, not the MD supercell). Without ``cells`` (a direct call), the bulk structures of
    the ``structures/*`` deps. Interface (GB) cells are never taken (the loop learns them locally).
    A cell above ``params['max_reference_atoms']`` is an input error: it is never labelled whole."""
    if params.get("cells") is not None:
        from argyro_run.structures.tasks import build_material

        base = params.get("input_dir") or params.get("base_dir")
        out = []
        for c in params["cells"]:
            built = build_material(c["material"], list(c["structures"]), seed=int(c.get("seed", 0)),
                                   base_dir=Path(base) if base else None)
            out.extend((c["material"]["name"], name, atoms) for name, atoms in built.items() if "/" not in name)
    else:
        out = [(mat, name, atoms) for mat, name, atoms in dependency_structures(deps) if "/" not in name]
    bulk = []
    for mat, name, atoms in out:
        if is_interface_cell(atoms):
            log.info("initial data: skipping interface cell %s/%s (%d atoms; learned locally)", mat, name, len(atoms))
            continue
        bulk.append((mat, name, atoms))
    limit = params.get("max_reference_atoms")
    for mat, name, atoms in bulk:
        if limit is not None and len(atoms) > int(limit):
            raise UserError(f"active_learning.initial_cell_repeat: the initial-data cell of {mat}/{name} has "
                            f"{len(atoms)} atoms, more than active_learning.max_reference_atoms ({int(limit)}); "
                            "use a smaller repeat (default [1, 1, 1], the unit cell) or raise max_reference_atoms")
    return bulk


def _check_reference_forces(structs, kept: list, rejected: list, params: dict, spec) -> None:
    """Raise when every labelled copy of a structure was kept out by the force limit: copies of a
    crystal rattled by ``rattle_amplitude_A`` (~0.1 A) feel a few eV/A, so a force above the limit
    on *all* of them says the reference is wrong for this material, not that the rattle is large
    (tblite's GFN1-xTB gives 270-420 eV/A on the unrattled Li6PS5Br and Li6PS5I cells, docs/references.md)."""
    def prefix(a) -> str:
        return str(a.info.get("origin", "")).rsplit("/", 1)[0]

    have = {prefix(a) for a in kept}
    for mat, name, _ in structs:
        key = f"{mat}/{name}"
        mine = [a for a in rejected if prefix(a) == key]
        if mine and key not in have:
            worst = max(float(np.linalg.norm(np.asarray(a.get_forces()), axis=1).max()) for a in mine)
            raise UserError(
                f"reference.calculator: every labelled copy of {key} ({len(mine)}, rattled by "
                f"active_learning.rattle_amplitude_A = {float(params.get('rattle_amplitude_A', 0.05)):g} A) has a "
                f"force above active_learning.max_force_eV_per_A = {float(params['max_force_eV_per_A']):g} eV/A "
                f"(largest {worst:.3g} eV/A). A crystal rattled this little feels a few eV/A: the reference "
                f"{spec.calculator!r} is not usable for this material. Choose another reference (docs/references.md: "
                "tblite's GFN1-xTB fails on Li6PS5Br and Li6PS5I; calculator = \"sevenn\" or a DFT code work)")


def run_initial_data(params: dict, deps: dict, comm, workdir: Path) -> Result:
    """Rattled and strained copies of every bulk cell of :func:`initial_cells` (the unit cell of each
    bulk variant at ``active_learning.initial_cell_repeat``), labelled with the reference over
    ``comm``; plus the optional reference MD of the same cells and the ``training_set`` file.

    Interface (GB) cells are not labelled whole here: the loop learns them locally.
    Result: ``training_set/...`` (see ``dataset.training_set_to_result``), ``labels/...`` costs and
    failures; attrs ``n_images``, ``n_failed``, ``n_structures``, ``cell_atoms`` (atoms of each cell).
    """
    from argyro_run.learning.initial import rattled_and_strained

    workdir = Path(workdir)
    spec = spec_from_params(params["reference"])
    seed = int(params.get("seed", 0))
    n = int(params.get("n_rattled", 0))
    todo = []
    structs = initial_cells(params, deps)
    for j, (mat, name, atoms) in enumerate(structs):
        copies = rattled_and_strained(atoms, n, rattle_amplitude_A=float(params.get("rattle_amplitude_A", 0.05)),
                                      strain_amplitude=float(params.get("strain_amplitude", 0.02)),
                                      seed=_sub_seed(seed, j), min_distance_A=1.2)
        for c in copies:
            for key in list(c.arrays):
                if key not in ("numbers", "positions"):
                    del c.arrays[key]
            c.info = {"origin": f"{mat}/{name}/{c.info['origin']}"}
            todo.append(c)
    images, st = label_images(todo, spec, workdir / "reference", comm=comm, cache_dir=workdir / "reference_cache")
    md_frames, md_stats = _initial_reference_md(params, structs, spec, seed, comm, workdir)
    images, rejected = within_force_limit(images + md_frames, float(params.get("max_force_eV_per_A") or 0.0))
    if rejected:
        log.warning("initial data: %d labelled copy(ies) kept out, a reference force above "
                    "active_learning.max_force_eV_per_A = %g eV/A (lower active_learning.rattle_amplitude_A)",
                    len(rejected), params["max_force_eV_per_A"])
        _check_reference_forces(structs, images, rejected, params, spec)
    if params.get("training_set"):
        path = resolve_input_file(params["training_set"], params, "potential.training_set")
        species = (params.get("potential") or {}).get("species")
        from argyro_run.potentials.cfg import read_training_set

        from_file = read_training_set(path, species)
        images = from_file + images
        log.info("initial data: %d image(s) read from potential.training_set %s", len(from_file), path)
    if not images:
        raise UserError("active_learning: no initial training data (every reference calculation failed, or "
                        "n_rattled = 0 without potential.training_set); see the reference errors in the log")
    result = Result()
    training_set_to_result(result, "training_set", images)
    _add_label_stats(result, "labels", st)
    if st.errors:
        result.add("labels/failed_origin", "\n".join(o for o, _ in st.errors), "")
        result.add("labels/failed_error", "\n".join(e.replace("\n", " ") for _, e in st.errors), "")
    if md_stats:
        result.add("reference_md/n_frames", np.array([m["frames"] for m in md_stats], dtype=np.int64), "1",
                   note="labelled frames kept per bulk structure")
        result.add("reference_md/wall_s", np.array([m["wall_s"] for m in md_stats], float), "s")
        result.add("reference_md/ok", np.array([bool(m["ok"]) for m in md_stats]), "1")
        result.add("reference_md/structure", np.array([m["structure"] for m in md_stats], dtype=object), "")
        errors = [f"{m['structure']}: {m['error']}" for m in md_stats if not m["ok"]]
        if errors:
            result.set_attrs("reference_md/ok", errors="; ".join(errors)[:2000])
    result.set_attrs("", n_images=len(images), n_failed=st.failed, n_structures=len(structs), n_rejected_force=len(rejected),
                     cell_atoms=",".join(f"{mat}/{name}:{len(a)}" for mat, name, a in structs))
    log.info("initial data: %d image(s), %d failed, labelling %.1f s", len(images), st.failed, st.wall_s)
    return result


def _initial_reference_md(params: dict, structs: list, spec, seed: int, comm, workdir: Path) -> tuple[list, list]:
    """Optional short reference MD of every initial-data cell (``active_learning.initial_md_steps``),
    structures spread over the ranks of ``comm``; every rank returns all frames and stats."""
    from argyro_run.learning.initial import reference_md

    md = params.get("initial_md") or {}
    steps = int(md.get("steps", 0))
    if steps <= 0:
        return [], []
    bulk = [(j, mat, name, atoms) for j, (mat, name, atoms) in enumerate(structs)]
    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)
    mine = []
    for k, (j, mat, name, atoms) in enumerate(bulk):
        if k % size != rank:
            continue
        frames, st = reference_md(atoms, spec, Path(workdir) / "reference_md" / f"{mat}_{name}", steps=steps,
                                  temperature_K=float(md.get("temperature_K", 600.0)),
                                  timestep_fs=float(md.get("timestep_fs", 1.0)), interval=int(md.get("interval", 5)),
                                  seed=_sub_seed(seed + 1, j))
        for f in frames:
            f.info = {"origin": f"{mat}/{name}/md{int(f.info.get('md_step', 0))}"}
        st["structure"] = f"{mat}/{name}"
        if not st.get("ok"):
            log.warning("reference MD of %s/%s stopped: %s (%d frame(s) kept)", mat, name, st.get("error"), len(frames))
        log.info("reference MD of %s/%s: %d frame(s), %.1f s", mat, name, len(frames), st["wall_s"])
        mine.append((k, frames, st))
    if comm is not None and size > 1:
        mine = [x for part in comm.allgather(mine) for x in part]
    mine.sort(key=lambda x: x[0])
    return [f for _, frames, _ in mine for f in frames], [st for _, _, st in mine]


def run_active_learning(params: dict, deps: dict, comm, workdir: Path) -> Result:
    """One rung of the quality ladder (``params['step']``): closed-loop active learning
    starting from the previous rung's potential and data (or the initial data). See
    ``argyro_run.learning.loop``."""
    from argyro_run.learning.loop import require_components, run_level, starting_point
    from argyro_run.learning.settings import LoopSettings

    workdir = Path(workdir)
    settings = LoopSettings.from_params(params)
    require_components(settings)
    prev = [d for d in deps if d.startswith("learning/")]
    if len(prev) != 1:
        raise UserError(f"active_learning needs exactly one learning/* dependency, got {sorted(prev)}")
    prev_result = deps[prev[0]]
    images = training_set_from_result(prev_result, "training_set")
    structures = [(f"{mat}/{name}", atoms) for mat, name, atoms in dependency_structures(deps)]
    if not structures:
        raise UserError("active_learning: no structures to explore (no materials?)")
    mtp = starting_point(prev_result, settings, images, comm=comm)
    outcome = run_level(mtp, images, structures, settings, comm=comm, workdir=workdir)
    return active_learning_result(outcome, settings)


# metrics key (``potentials.train.errors``) -> (dataset, units)
_METRICS = {"rmse_energy_meV_per_atom": ("rmse_energy_meV_per_atom", "meV/atom"),
            "rmse_force_eV_per_A": ("rmse_force_eV_per_A", "eV/Angstrom"), "rmse_stress_GPa": ("rmse_stress_GPa", "GPa"),
            "n": ("n_images", "1")}


def _add_metrics(result: Result, pre: str, m: dict) -> None:
    for key, (name, units) in (_METRICS.items() if m else ()):
        result.add(f"{pre}/{name}", m[key], units)


def active_learning_result(out, settings=None) -> Result:
    """The Result of ``run_active_learning`` from a ``loop.LevelOutcome``: final potential, active
    set, data, per-iteration log."""
    from argyro_run.learning.loop import GRADE_BIN_EDGES
    from argyro_run.potentials.grades import format_active_set
    from argyro_run.potentials.mtp import format_mtp

    settings = settings or out.settings
    r = Result()
    r.add("mtp/text", format_mtp(out.mtp), "", format="MLIP .mtp")
    r.add("mtp/species", " ".join(settings.species), "", note="MTP type order, space separated")
    r.add("active_set/text", format_active_set(out.active), "", format="MTP active set v1")
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
        r.add(f"{p}/n_unphysical", rec.n_unphysical, "1",
              note="candidates examined for selection and dropped: a pair closer than active_learning.min_distance_A")
        r.add(f"{p}/n_selected", rec.n_selected, "1")
        r.add(f"{p}/n_drifted", rec.n_drifted, "1",
              note="explorations whose host framework moved beyond md.max_host_displacement_A (md/framework.py)")
        r.add(f"{p}/n_precursor_picks", rec.n_precursor_picks, "1",
              note="labelled snapshots from just before a collapse (learning/select.py physics_picks)")
        r.add(f"{p}/n_drift_picks", rec.n_drift_picks, "1", note="labelled snapshots where a framework drifted")
        r.add(f"{p}/n_drift_confirmed", rec.n_drift_confirmed, "1",
              note="drifted explorations counted clean: the reference confirmed the drift (loop.reference_rmse)")
        r.add(f"{p}/drift_force_rmse", rec.drift_force_rmse, "eV/A",
              note="per drift checked: the MTP's force RMSE against the reference around the moved host unit")
        r.add(f"{p}/drift_force_limit", rec.drift_force_limit, "eV/A",
              note="active_learning.confirmed_drift_ratio x the training force RMSE (NaN: no drift checked)")
        r.add(f"{p}/n_checked", rec.n_checked, "1",
              note="explorations the grades called clean, reference-checked on active_learning.check_frames snapshots")
        r.add(f"{p}/n_check_failed", rec.n_check_failed, "1",
              note="of them, the MTP's force RMSE above its check_force_bar: they needed selection")
        r.add(f"{p}/n_check_picks", rec.n_check_picks, "1", note="labelled frames of the failed checks, learned")
        r.add(f"{p}/check_force_rmse", rec.check_force_rmse, "eV/A",
              note="per exploration checked: the MTP's force RMSE against the reference on its check frames")
        r.add(f"{p}/check_force_limit", rec.check_force_limit, "eV/A",
              note="active_learning.check_force_ratio x the training force RMSE (NaN: nothing checked)")
        r.add(f"{p}/check_force_components", rec.check_force_components, "1",
              note="per exploration checked: the force components its RMSE is over (3 per compared atom)")
        r.add(f"{p}/check_force_bar", rec.check_force_bar, "eV/A",
              note="per exploration checked: the RMSE above which it failed, the limit exceeded at "
                   "active_learning.check_confidence (learning/check.py significant_force_bar)")
        r.add(f"{p}/n_local", rec.n_local, "1")
        r.add(f"{p}/n_added", rec.n_added, "1")
        r.add(f"{p}/n_rejected_force", rec.n_rejected_force, "1",
              note="labelled but kept out of the training set: a reference force above active_learning.max_force_eV_per_A")
        _add_label_stats(r, p, rec.label, _PER_ITERATION_LABELS)
        r.add(f"{p}/full_cell_atoms", rec.full_cell_atoms, "1", note="reference atoms had whole cells been labelled")
        r.add(f"{p}/explore_wall_s", rec.explore_wall_s, "s")
        r.add(f"{p}/train_wall_s", rec.train_wall_s, "s")
        for phase, note in _ROUND_PHASES:
            r.add(f"{p}/{phase}_wall_s", getattr(rec, f"{phase}_wall_s"), "s", note=note)
        r.add(f"{p}/train_atoms", rec.train_atoms, "1", note="atoms of the training set the round refitted on (0: no refit)")
        r.add(f"{p}/train_lbfgs_iterations", rec.train_lbfgs_iterations, "1",
              note="L-BFGS iterations of the refit (at most the loop's train_iterations)")
        r.add(f"{p}/train_evaluations", rec.train_evaluations, "1",
              note="loss-and-gradient evaluations of the refit, line searches included")
        r.add(f"{p}/wall_s", rec.wall_s, "s")
        r.add(f"{p}/max_grade_training", rec.max_grade_training, "1")
        _add_metrics(r, f"{p}/validation", rec.validation)
        _add_metrics(r, f"{p}/train", rec.train)
        total.calls += rec.label.calls
        total.atoms += rec.label.atoms
        total.failed += rec.label.failed
        total.wall_s += rec.label.wall_s
        total.rechecked += rec.label.rechecked
        total.relabelled += rec.label.relabelled
    r.add("reference_calls", total.calls, "1")
    r.add("reference_rechecked", total.rechecked, "1",
          note="labels far from the MTP's energy computed again with reference.fallback (reference.recheck_labels)")
    r.add("reference_relabelled", total.relabelled, "1",
          note="of them, replaced by the fallback's lower energy: the first SCF had stopped above the ground state")
    r.add("reference_atoms", total.atoms, "1")
    r.add("full_cell_atoms", sum(x.full_cell_atoms for x in out.iterations), "1")
    r.add("reference_wall_s", total.wall_s, "s")
    r.set_attrs("", converged=bool(out.converged), n_iterations=len(out.iterations), reason=out.reason,
                level=int(settings.level), gamma_select=float(settings.gamma_select),
                gamma_break=float(settings.gamma_break), loop_wall_s=float(out.wall_s),
                local_radius_A=float(settings.local_radius()))
    return r


def _training_force_rmse(deps: dict) -> float:
    """The potential's force RMSE on its own training set (the last refit of the learning; NaN for
    a potential read from a file)."""
    ids = [d for d in deps if d.startswith("learning/level")]
    if not ids:
        return float("nan")
    r = deps[ids[0]]
    n = int(r.get_attrs("").get("n_iterations", 0))
    for k in range(n - 1, -1, -1):
        if f"iterations/{k}/train/rmse_force_eV_per_A" in r:
            return float(r.get(f"iterations/{k}/train/rmse_force_eV_per_A"))
    return float(r.get("initial_train/rmse_force_eV_per_A")) if "initial_train/rmse_force_eV_per_A" in r else float("nan")


def run_reference_check(params: dict, deps: dict, comm, workdir: Path) -> Result:
    """``md.reference_check_frames`` frames of every finished MD run of ``params['structure']``
    labelled with the reference and compared with the MTP (``learning/check.py``; task
    ``check/<material>/<structure>``). Result: ``temperatures_K``, ``sample_index`` (runs x frames),
    ``force_rmse_eV_per_A``, ``energy_error_meV_per_atom`` (NaN: a cut-out or a failed label),
    ``n_atoms_compared``, ``run_force_rmse_eV_per_A`` (per run, over all its compared atoms), attrs
    ``train_force_rmse_eV_per_A`` and ``worst_force_ratio`` (the largest run RMSE over the training RMSE)."""
    from argyro_run.config.active_learning import CHECK_WARN_RATIO
    from argyro_run.learning.check import check_images, frame_errors
    from argyro_run.learning.dataset import label_images, spec_from_params
    from argyro_run.learning.loop import energy_predictor
    from argyro_run.md.tasks import potential_of, structure_of
    from argyro_run.potentials.mtp import parse_mtp
    from argyro_run.potentials.train import errors

    name, n = params["structure"], int(params["frames"])
    structure = structure_of(deps, name)
    mtp_text, _, _, pot_id = potential_of(deps)
    mtp = parse_mtp(mtp_text)
    runs = sorted((float(r.get_attrs("").get("temperature_K")), tid, r) for tid, r in deps.items()
                  if tid.startswith("md/") and not tid.endswith("/anneal"))
    if not runs:
        raise ValueError(f"reference check of {name} without MD runs")
    jobs, owner = [], []
    for i, (T, tid, r) in enumerate(runs):
        idx = r.get("trajectory/atom_index")
        if len(idx) != len(structure):
            raise ValueError(f"{tid} kept {len(idx)} of {len(structure)} atoms: md.reference_check_frames needs "
                             "md.trajectory_atoms = \"all\"")
        imgs = check_images(structure, r.get("trajectory/positions_A"), r.get("trajectory/cell_A"), n,
                            max_reference_atoms=int(params["max_reference_atoms"]), radius_A=float(params["radius_A"]),
                            cutoff_A=float(params["cutoff_A"]), mobile=params.get("species"),
                            seed=int(params.get("seed", 0)) + i, mode=params.get("local_mode", "periodic"))
        for a in imgs:
            a.info["origin"] = f"{tid}/sample{a.info['sample']}"
        jobs += imgs
        owner += [i] * len(imgs)
    labelled, stats = label_images(jobs, spec_from_params(params["reference"]), Path(workdir) / "reference", comm=comm,
                                   predict=energy_predictor(mtp))
    f_all, e_all, n_all = frame_errors(mtp, labelled)
    by_origin = {img.info["origin"]: (f, e, k) for img, f, e, k in zip(labelled, f_all, e_all, n_all)}
    width = max(1, max(owner.count(i) for i in range(len(runs))) if owner else 1)
    F = np.full((len(runs), width), np.nan)
    E = np.full((len(runs), width), np.nan)
    S = np.full((len(runs), width), -1, dtype=np.int64)
    A = np.zeros((len(runs), width), dtype=np.int64)
    for i in range(len(runs)):
        mine = [a for a, o in zip(jobs, owner) if o == i]
        for j, a in enumerate(mine):
            S[i, j] = a.info["sample"]
            F[i, j], E[i, j], A[i, j] = by_origin.get(a.info["origin"], (np.nan, np.nan, 0))
    train = _training_force_rmse(deps)
    run_of = {a.info["origin"]: o for a, o in zip(jobs, owner)}
    per_run = np.array([errors(mtp, mine)["rmse_force_eV_per_A"] if mine else np.nan      # over all their atoms
                        for mine in ([img for img in labelled if run_of[img.info["origin"]] == i]
                                     for i in range(len(runs)))])
    worst = float(np.nanmax(per_run) / train) if np.isfinite(train) and np.isfinite(per_run).any() else float("nan")
    r = Result()
    r.add("temperatures_K", np.array([T for T, _, _ in runs]), "K")
    r.add("sample_index", S, "1", note="index into the run's time_ps (-1: none)")
    r.add("force_rmse_eV_per_A", F, "eV/A", note="the MTP against the reference, per MD run and frame (cut-outs: "
                                                  "their core atoms)")
    r.add("energy_error_meV_per_atom", E, "meV/atom", note="|E_MTP - E_ref| per atom of whole cells (NaN: a cut-out)")
    r.add("n_atoms_compared", A, "1", note="atoms whose forces each frame's RMSE is over (a cut-out: its core)")
    r.add("run_force_rmse_eV_per_A", per_run, "eV/A", note="per MD run: the RMSE over every compared atom of its frames")
    r.set_attrs("", structure=name, potential=pot_id, frames_per_run=n, n_labelled=len(labelled),
                n_failed=stats.failed, n_rechecked=stats.rechecked, n_relabelled=stats.relabelled,
                train_force_rmse_eV_per_A=train, worst_force_ratio=worst,
                reference_wall_s=stats.wall_s)
    for (T, tid, _), row, pooled, n_at in zip(runs, F, per_run, A):
        ratio = pooled / train if np.isfinite(train) else float("nan")
        log.info("reference check %s at %g K: MTP force RMSE on its MD frames %.3g eV/A over %d atoms (frames %s; "
                 "training %.3g, %.1fx)", name, T, pooled, int(n_at.sum()),
                 ", ".join(f"{x:.3g}" for x in row if np.isfinite(x)), train, ratio)
        if ratio > CHECK_WARN_RATIO:
            log.warning("reference check %s at %g K: the MTP is %.1fx less accurate on its own MD frames than on its "
                        "training set: the MD went where the potential was not learned (learn at this temperature, "
                        "or leave it out)", name, T, ratio)
    return r
