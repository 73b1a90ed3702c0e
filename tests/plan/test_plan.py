"""Planner: determinism, hash locality, DAG completeness, ranks from [parallel]."""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from argyro_run.config import config_from_dict
from argyro_run.plan import TASK_KINDS, build_plan
from argyro_run.plan.build import task_hash
from argyro_run.plan.task import content_hash

REPO = Path(__file__).resolve().parents[2]
DOC = tomllib.loads((REPO / "inputs" / "quickstart.toml").read_text())


def plan_of(**changes):
    doc = tomllib.loads((REPO / "inputs" / "quickstart.toml").read_text())
    for path, value in changes.items():
        section, key = path.split("__")
        doc[section][key] = value
    return build_plan(config_from_dict(doc))


def hashes(plan):
    return {t.id: t.hash for t in plan.tasks}


def test_hashes_stable_across_processes():
    code = ("import tomllib,json;from argyro_run.config import config_from_dict;from argyro_run.plan import build_plan;"
            f"d=tomllib.load(open({str(REPO / 'inputs' / 'quickstart.toml')!r},'rb'));"
            "print(json.dumps({t.id:t.hash for t in build_plan(config_from_dict(d)).tasks}))")
    import json
    outs = [json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      env={"PYTHONHASHSEED": str(s), "PATH": ""}).stdout) for s in (1, 2)]
    assert outs[0] == outs[1] == hashes(plan_of())


def test_dag_acyclic_complete_and_topological():
    plan = plan_of()
    seen = set()
    for t in plan.tasks:
        assert set(t.deps) <= seen, t.id  # every dependency exists and comes earlier: no cycle
        seen.add(t.id)
        assert t.kind in TASK_KINDS and t.archive_group == "/" + t.id
        want = task_hash(t.kind, t.params, {d: plan[d].hash for d in t.deps})
        assert t.hash == want
    kinds = [t.kind for t in plan.tasks]
    assert kinds.count("md_run") == 2 * 3  # (disordered + one GB) x 3 temperatures
    assert kinds.count("mesh") == 1 and kinds.count("fe_sweep") == 1  # one interface mesh, one case
    assert [t.dynamic for t in plan.tasks if t.kind == "active_learning"] == [True]
    # everything reaches the summary
    assert set(plan.by_id) - {"summary"} <= {a for a in plan.by_id if "summary" in plan.dependants(a)}


def test_changing_md_temperature_changes_only_that_branch():
    a, b = hashes(plan_of()), hashes(plan_of(md__temperatures_K=[500.0, 600.0, 750.0]))
    changed = {k for k in a.keys() & b.keys() if a[k] != b[k]}
    assert set(a) - set(b) == {"md/LPSCl/disordered/T700", "md/LPSCl/gb_sigma5_310/T700"}
    assert set(b) - set(a) == {"md/LPSCl/disordered/T750", "md/LPSCl/gb_sigma5_310/T750"}
    assert changed == {"analysis/LPSCl/disordered", "analysis/LPSCl/gb_sigma5_310", "arrhenius/LPSCl",
                       "fe/LPSCl-disordered", "summary"}


def test_changing_fe_setting_changes_only_fe_and_summary():
    a, b = hashes(plan_of()), hashes(plan_of(fe__temperatures_K=[300.0, 350.0]))
    assert {k for k in a if a[k] != b[k]} == {"fe/LPSCl-disordered", "summary"}


def test_ranks_follow_parallel():
    plan = plan_of(parallel__ranks_per_md=3, parallel__ranks_per_fe=5)
    plan2 = plan_of(parallel__ranks_per_md=1, parallel__ranks_per_fe=1)
    for t in plan.tasks:
        # the quickstart's 2-D interface mesh (a few hundred DOFs) runs fastest on 1 rank (fe/cost.py)
        want = {"md_run": 3, "fe_sweep": 1, "initial_data": 1, "active_learning": 3}.get(t.kind, 1)
        assert t.ranks == want, t.id
    # a mesh large enough for 5 ranks (3-D, 100 grains, ~440k DOFs) gets ranks_per_fe
    from argyro_run.fe.cost import DOFS_PER_RANK_MIN, estimate_dofs

    doc = tomllib.loads((REPO / "inputs" / "quickstart.toml").read_text())
    doc["parallel"] = {"ranks_per_fe": 5}
    doc["microstructure"].update(dimension=3, n_grains=100, mesh_size_fraction=0.052)
    big = build_plan(config_from_dict(doc))
    micro = config_from_dict(doc).microstructure.model_dump(mode="json")
    assert estimate_dofs(micro) > 5 * DOFS_PER_RANK_MIN
    assert {t.ranks for t in big.tasks if t.kind == "fe_sweep"} == {5}
    # the quickstart's 52- and 148-atom cells are too small for more MD ranks to pay (cost model)
    from argyro_run.plan.cost import MD_ATOMS_PER_RANK_MIN

    for md in (t for t in plan.tasks if t.kind == "md_run"):
        assert md.n_atoms < MD_ATOMS_PER_RANK_MIN and md.cost_s == pytest.approx(plan2[md.id].cost_s)


def test_fe_alone_from_explicit_diffusivities():
    law = {"D0_m2_per_s": 1e-7, "Ea_eV": 0.3}
    doc = {"microstructure": {"grain_sizes_nm": [30.0]},
           "fe": {"temperatures_K": [300.0], "bulk": law, "gb_parallel": law, "gb_perpendicular": law}}
    plan = build_plan(config_from_dict(doc))
    assert [t.id for t in plan.tasks] == ["microstructure/voronoi", "fe/explicit", "summary"]


def test_md_from_given_potential_skips_learning():
    doc = {"materials": [{"name": "L"}], "active_learning": {"enabled": False},
           "potential": {"file": "x.mtp"}, "md": {"temperatures_K": [600.0], "production_ps": 10.0}}
    kinds = [t.kind for t in build_plan(config_from_dict(doc)).tasks]
    assert "active_learning" not in kinds and "load_potential" in kinds and kinds.count("md_run") == 1


def test_task_kind_functions_are_named_per_convention():
    for kind, entry in TASK_KINDS.items():
        module, func = entry.function.split(":")
        assert func == f"run_{kind}" and module.startswith("argyro_run.") and module.endswith(".tasks")
        assert callable(getattr(importlib.import_module(module), func)), f"{module} lacks {func}"
        assert importlib.util.find_spec(f"argyro_run.{entry.stage}") is not None, f"{kind}: no stage {entry.stage}"


def test_every_planned_task_has_its_kinds_stage():
    from argyro_run.templates import template_text

    for template in ("quickstart", "Li6PS5Cl"):
        plan = build_plan(config_from_dict(tomllib.loads(template_text(template))))
        assert {t.stage for t in plan.tasks} >= {"structures", "learning", "md", "analysis", "report"}
        assert all(t.stage == TASK_KINDS[t.kind].stage for t in plan.tasks)


def test_editing_a_structure_file_changes_its_branch(tmp_path):
    from argyro_run.config import load_config
    from argyro_run.templates import template_companions

    cif = template_companions("new-material")["example_Li6PS5Cl.cif"]  # files are read at validation
    (tmp_path / "s.cif").write_bytes(cif)
    (tmp_path / "in.toml").write_text('[[materials]]\nname = "L"\nstructure_file = "s.cif"\n'
                                      '[[materials]]\nname = "M"\n[active_learning]\nenabled = false\n')
    a = hashes(build_plan(load_config(tmp_path / "in.toml")))
    (tmp_path / "s.cif").write_bytes(cif + b"# edited\n")
    b = hashes(build_plan(load_config(tmp_path / "in.toml")))
    assert {k for k in a if a[k] != b[k]} == {"structures/L", "summary"}


def test_done_tasks_without_archive(tmp_path):
    from argyro_run.plan.done import done_task_ids

    plan = plan_of()
    assert done_task_ids(plan, tmp_path / "none.h5") == set()
    (tmp_path / "a.h5").write_bytes(b"")
    got = done_task_ids(plan, tmp_path / "a.h5")
    assert got is None  # an empty file is not an archive: "unknown", not "nothing done"


@pytest.mark.parametrize("template", ["quickstart", "Li6PS5Cl"])
def test_atom_counts_are_those_of_the_built_structures(template):
    """Planned sizes (md tasks, structures task) equal the atom counts of the structures the
    structures task really builds; MD cost is proportional to them."""
    from argyro_run.config import load_config
    from argyro_run.structures.tasks import run_build_structures

    cfg = load_config(REPO / "inputs" / f"{template}.toml")
    plan = build_plan(cfg)
    for m in cfg.materials:
        st = plan[f"structures/{m.name}"]
        res = run_build_structures({**st.params, "input_dir": str(cfg.base_dir)}, {}, None, None)
        built = {name: len(res.get(f"{name}/numbers")) for name in st.params["structures"]}
        assert st.n_atoms == sum(built.values())
        mds = [t for t in plan.tasks if t.kind == "md_run" and t.id.startswith(f"md/{m.name}/")]
        assert {t.params["structure"] for t in mds} == set(built)
        for t in mds:
            assert t.n_atoms == built[t.params["structure"]], t.id
            assert f"{t.n_atoms} atoms" in t.description
        by_size = sorted(mds, key=lambda t: (t.n_atoms, t.cost_s))   # same steps: cost grows with the atoms
        assert [t.cost_s for t in by_size] == sorted(t.cost_s for t in by_size)
    gb = [t for t in plan.tasks if t.kind == "md_run" and "gb_sigma5" in t.id][0]
    if template == "quickstart":
        assert gb.n_atoms == 148  # the Sigma5 (310) bicrystal of one unit cell, not 2 x 52


def test_atom_counts_follow_supercell_repeats_and_structure_file(tmp_path):
    from argyro_run.config import load_config
    from argyro_run.structures import argyrodite
    from argyro_run.structures.files import make_supercell, write_structure
    from argyro_run.structures.tasks import build_material

    write_structure(tmp_path / "s.extxyz", make_supercell(argyrodite("Cl"), (1, 1, 2)))
    (tmp_path / "in.toml").write_text(
        '[[materials]]\nname = "F"\nstructure_file = "s.extxyz"\nsupercell = [2, 1, 1]\n'
        '[[materials]]\nname = "B"\nsupercell = [1, 2, 1]\nvariants = ["ordered", "disordered"]\n'
        '[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]\nrepeats_in_plane = [1, 2]\n'
        'translations = [[0.0, 0.0], [0.5, 0.5]]\n'
        '[[materials.grain_boundaries]]\nsigma = 3\nplane = [-1, 1, 1]\naxis = [1, 1, 0]\ngrain_thickness_cells = 2\n'
        '[potential]\nfile = "x.mtp"\n[active_learning]\nenabled = false\n'
        '[md]\ntemperatures_K = [600.0]\nproduction_ps = 10.0\n')
    (tmp_path / "x.mtp").write_text("placeholder: the plan does not read it")
    cfg = load_config(tmp_path / "in.toml")
    plan = build_plan(cfg)
    for m in cfg.materials:
        built = build_material(m, seed=1, base_dir=tmp_path)
        for t in plan.tasks:
            if t.kind == "md_run" and t.id.startswith(f"md/{m.name}/"):
                assert t.n_atoms == len(built[t.params["structure"]]), t.id
    assert plan["md/F/ordered/T600"].n_atoms == 52 * 4
    assert plan["md/B/disordered/T600"].n_atoms == 52 * 2


def test_learning_gets_the_framework_check_from_md_and_analysis():
    """The explorations' framework check uses [md]'s limit and the mobile ions; check_framework =
    false (the quickstart) passes no limit, and the loop's settings read both."""
    from argyro_run.config import load_config
    from argyro_run.learning.settings import LoopSettings

    on = build_plan(load_config(REPO / "inputs" / "validation-LPSCl.toml"))["learning/level10"].params
    assert on["mobile_species"] == ["Li"] and on["max_host_displacement_A"] == 1.0 and on["check_framework"]
    s = LoopSettings.from_params(on)
    assert s.mobile_species == ("Li",) and s.max_host_displacement_A == 1.0
    off = build_plan(load_config(REPO / "inputs" / "quickstart.toml"))["learning/level6"].params
    assert off["max_host_displacement_A"] is None and not off["check_framework"]
    assert LoopSettings.from_params(off).max_host_displacement_A is None


def test_md_hotter_than_the_explorations_is_warned_about(caplog):
    """The production MD above the last level's hottest exploration gets a warning naming both
    keys; MD within the explored range gets none."""
    import logging

    doc = tomllib.loads((REPO / "inputs" / "quickstart.toml").read_text())
    explored = max(doc["active_learning"]["levels"][-1]["temperatures_K"])
    doc["md"]["temperatures_K"] = [explored - 100.0, explored]
    with caplog.at_level(logging.WARNING, logger="argyro_run.plan"):
        build_plan(config_from_dict(doc))
    assert not [r for r in caplog.records if "md.temperatures_K" in r.getMessage()]
    doc["md"]["temperatures_K"] = [explored, explored + 100.0]
    with caplog.at_level(logging.WARNING, logger="argyro_run.plan"):
        build_plan(config_from_dict(doc))
    msg = [r.getMessage() for r in caplog.records if "md.temperatures_K" in r.getMessage()]
    assert len(msg) == 1 and "active_learning.levels[0].temperatures_K" in msg[0]
    assert f"up to {explored + 100.0:g} K" in msg[0]


def test_the_fit_window_warning_measures_the_run_not_the_blocks(caplog):
    """kinisi fits the whole run (all origins): the warning compares analysis.fit_end_ps with the run's
    length, not with the cross-check's blocks. The validation templates (40 ps of 100 ps runs in two
    blocks of 50 ps) get none; 60 ps of the same runs, or 60 ps of a 100-ps run of the list, do."""
    import logging

    doc = tomllib.loads((REPO / "inputs" / "validation-LPSCl.toml").read_text())

    def warned(**analysis):
        doc["analysis"].update(analysis)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="argyro_run.plan"):
            build_plan(config_from_dict(doc))
        return [r.getMessage() for r in caplog.records if "analysis.fit_end_ps" in r.getMessage()]

    assert doc["analysis"]["fit_end_ps"] == 40.0 and doc["md"]["production_ps"] == 100.0
    assert warned() == []
    msg = warned(fit_end_ps=60.0, n_blocks=1)
    assert len(msg) == 1 and "ends past 0.5 of the run it is fitted in at 500 K (100 ps)" in msg[0]
    doc["md"]["production_ps"] = [400.0, 400.0, 400.0, 400.0, 100.0]
    msg = warned(fit_end_ps=60.0, n_blocks=1)
    assert len(msg) == 1 and "at 900 K (100 ps):" in msg[0] and "500 K" not in msg[0]


def test_planning_builds_the_structures_quietly(caplog):
    """The planner builds the bicrystals for their sizes without the builder's report (the
    structures task prints it once, when it builds them)."""
    import logging

    with caplog.at_level(logging.INFO, logger="argyro_run"):
        build_plan(config_from_dict(tomllib.loads((REPO / "inputs" / "validation-LPSCl.toml").read_text())))
    assert not [r for r in caplog.records if "bicrystal" in r.getMessage()]
    assert logging.getLogger("argyro_run.structures").level == logging.NOTSET      # restored


def test_a_later_key_at_its_neutral_value_keeps_the_hashes():
    """A key added later, at the value that does what runs did before it (active_learning.
    converged_rounds = 1, confirmed_drift_ratio = 0, check_frames = 0), leaves the hash a task had
    before the key existed (its params without it), so older archives stay reusable; the key stays
    in the params (the task reads it), check_force_ratio (read only with check_frames) does not.
    Another value changes the learning and its downstream."""
    old = plan_of(active_learning__confirmed_drift_ratio=0.0, active_learning__check_framework=True)
    for t in old.tasks:
        if t.kind != "active_learning":
            continue
        assert t.params["converged_rounds"] == 1 and t.params["confirmed_drift_ratio"] == 0.0
        assert t.params["check_frames"] == 0 and "check_force_ratio" not in t.params
        before = {k: v for k, v in t.params.items() if k not in ("converged_rounds", "confirmed_drift_ratio",
                                                                 "check_frames")}
        assert t.hash == content_hash({"kind": t.kind, "params": before,
                                       "deps": {d: old[d].hash for d in t.deps}}), t.id
    base = hashes(old)
    assert hashes(plan_of(active_learning__confirmed_drift_ratio=0.0, active_learning__converged_rounds=1,
                          active_learning__check_framework=True)) == base
    for change in ({"active_learning__converged_rounds": 2}, {"active_learning__confirmed_drift_ratio": 1.0},
                   {"active_learning__check_frames": 2}):
        changed = hashes(plan_of(**{"active_learning__confirmed_drift_ratio": 0.0,
                                    "active_learning__check_framework": True, **change}))
        differ = {t for t in base if base[t] != changed[t]}
        assert any(t.startswith("learning/level") for t in differ), change
        assert "learning/initial_data" not in differ and not any(t.startswith("structures/") for t in differ)


def test_a_new_diffusion_estimator_reanalyses_without_new_md(monkeypatch):
    """The diffusion task carries the estimator it computes D with (analysis.diffusion.ESTIMATOR):
    another estimator re-runs every analysis and what depends on it (Arrhenius, FE inputs, summary)
    on resume, and no MD, learning or structure task."""
    import argyro_run.plan.build as build

    base = hashes(plan_of())
    assert all(t.params["estimator"] == build.ESTIMATOR for t in plan_of().tasks if t.kind == "diffusion")
    monkeypatch.setattr(build, "ESTIMATOR", build.ESTIMATOR + " (changed)")
    changed = hashes(plan_of())
    differ = {t for t in base if base[t] != changed[t]}
    assert {t for t in base if t.startswith("analysis/")} <= differ
    assert not any(t.startswith(("md/", "learning/", "structures/", "check/")) for t in differ)


def test_production_length_per_temperature_reaches_each_run():
    """md.production_ps as a list: each MD task runs its own length (params and cost), a list of equal
    lengths plans exactly the tasks (same hashes) of the single number, so archives resume; lengthening
    one temperature re-runs only that run and the tasks that read it."""
    def plan_of(prod):
        doc = {"materials": [{"name": "L"}], "active_learning": {"enabled": False}, "potential": {"file": "x.mtp"},
               "md": {"temperatures_K": [600.0, 700.0], "production_ps": prod, "dump_interval_fs": 100.0}}
        return {t.id: t for t in build_plan(config_from_dict(doc)).tasks}

    one, same, longer = plan_of(20.0), plan_of([20.0, 20.0]), plan_of([60.0, 20.0])
    assert {i: t.hash for i, t in one.items()} == {i: t.hash for i, t in same.items()}
    runs = sorted(i for i, t in one.items() if t.kind == "md_run")
    cold, hot = runs  # T600, T700
    assert longer[cold].params["md"]["production_ps"] == 60.0 and longer[hot].params["md"]["production_ps"] == 20.0
    changed = {i for i in one if one[i].hash != longer[i].hash}
    assert cold in changed and hot not in changed
    assert {one[i].kind for i in changed} <= {"md_run", "diffusion", "arrhenius", "summary", "reference_check"}
    # MD cost grows with the steps; the analysis cost with the samples
    assert longer[cold].cost_s > one[cold].cost_s and longer[hot].cost_s == one[hot].cost_s
    ana = next(i for i, t in one.items() if t.kind == "diffusion")
    assert longer[ana].cost_s > one[ana].cost_s


def test_choosing_md_structures_keeps_the_runs_hashes():
    """md.structures picks which MD runs exist, not what one computes: a run planned under any
    selection has the hash it has with the default (every structure), so a subset run first and
    widened later (or split over archive copies) reuses its runs; the selection still decides which
    runs are planned. (The quickstart without its FE stage, which needs the GB's runs.)"""
    def plan(**md):
        doc = tomllib.loads((REPO / "inputs" / "quickstart.toml").read_text())
        for k in [k for k in doc if k in ("fe", "microstructure")]:
            del doc[k]
        doc["md"].update(md)
        return hashes(build_plan(config_from_dict(doc)))

    every = plan()
    runs = {t: h for t, h in every.items() if t.startswith("md/")}
    structures = sorted({t.split("/")[2] for t in runs})
    assert len(structures) == 2
    for pick in ([structures[0]], [structures[1]], structures[::-1]):
        sub = plan(structures=pick)
        planned = {t for t in sub if t.startswith("md/")}
        assert planned == {t for t in runs if t.split("/")[2] in pick}
        assert all(sub[t] == every[t] for t in planned), pick
    # a key a run does read still changes its hash
    longer = plan(structures=[structures[0]], production_ps=2 * DOC["md"]["production_ps"])
    assert all(longer[t] != every[t] for t in longer if t.startswith("md/"))


def test_a_fit_window_ending_past_half_the_run_is_warned_about(caplog):
    """analysis.fit_end_ps past half of a run's block (where kinisi's D is biased low, docs/md.md)
    gets a warning naming the key and the temperatures whose runs are too short; a window ending at a
    quarter of every run gets none."""
    import logging

    doc = tomllib.loads((REPO / "inputs" / "quickstart.toml").read_text())
    doc["analysis"].update(n_blocks=1, fit_start_ps=1.0)
    temps = doc["md"]["temperatures_K"][:2]
    doc["md"]["temperatures_K"], doc["md"]["production_ps"] = temps, [40.0, 20.0]
    doc["analysis"]["fit_end_ps"] = 5.0
    with caplog.at_level(logging.WARNING, logger="argyro_run.plan"):
        build_plan(config_from_dict(doc))
    assert not [r for r in caplog.records if "analysis.fit_end_ps" in r.getMessage()]
    doc["analysis"]["fit_end_ps"] = 15.0                       # 3/8 of the 40 ps run, 3/4 of the 20 ps one
    with caplog.at_level(logging.WARNING, logger="argyro_run.plan"):
        build_plan(config_from_dict(doc))
    msg = [r.getMessage() for r in caplog.records if "analysis.fit_end_ps" in r.getMessage()]
    assert len(msg) == 1 and f"{temps[1]:g} K" in msg[0] and f"{temps[0]:g} K" not in msg[0]
