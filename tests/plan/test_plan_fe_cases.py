"""Planner, FE part: one fe_sweep task per case with only the Arrhenius tasks it reads, one
interface mesh per tessellation (or one layer mesh per grain size), the case parameters."""

from __future__ import annotations

import copy

import pytest

from argyro_run.config import config_from_dict
from argyro_run.plan import build_plan

LAW = {"D0_m2_per_s": 1e-7, "Ea_eV": 0.3}


def _material(name, variants=("ordered", "disordered"), gbs=(5, 3)):
    gb = {5: {"sigma": 5, "plane": [3, 1, 0], "axis": [0, 0, 1]},
          3: {"sigma": 3, "plane": [-1, 1, 1], "axis": [1, 1, 0]}}
    return {"name": name, "variants": list(variants), "grain_boundaries": [gb[s] for s in gbs]}


BASE = {"materials": [_material("A"), _material("B", variants=("ordered",), gbs=(5,))],
        "potential": {"file": "x.mtp"}, "active_learning": {"enabled": False},
        "md": {"temperatures_K": [600.0, 700.0], "production_ps": 20.0},
        "microstructure": {"kind": "voronoi", "n_grains": 4, "dimension": 2,
                           "grain_sizes_nm": [10.0, 100.0, 1000.0]},
        "fe": {"temperatures_K": [300.0, 400.0]}}


def plan_of(**sections):
    doc = copy.deepcopy(BASE)
    for k, v in sections.items():
        doc[k] = v if not isinstance(v, dict) or k not in doc else {**doc[k], **v}
    return build_plan(config_from_dict(doc))


def test_default_cases_per_material_and_bulk_variant_with_that_materials_gbs():
    plan = plan_of()
    fe = {t.id: t for t in plan.tasks if t.kind == "fe_sweep"}
    assert set(fe) == {"fe/A-ordered", "fe/A-disordered", "fe/B-ordered"}
    a = fe["fe/A-disordered"].params["case"]
    assert a["bulk"] == "A/disordered" and a["gb"] == ["A/gb_sigma5_310", "A/gb_sigma3_-111"]
    assert a["gb_fractions"] == [0.5, 0.5]
    assert a["sources"]["bulk"]["md"] == [{"task": "arrhenius/A", "fit": "structures/disordered/tracer",
                                           "structure": "A/disordered"}]
    assert [f["fit"] for f in a["sources"]["gb_perpendicular"]["md"]] == [
        "structures/gb_sigma5_310/gb_perpendicular", "structures/gb_sigma3_-111/gb_perpendicular"]
    # only the Arrhenius task of its own material, the one mesh, and its structures (carrier density)
    assert fe["fe/A-disordered"].deps == ["arrhenius/A", "microstructure/voronoi", "structures/A"]
    assert fe["fe/B-ordered"].deps == ["arrhenius/B", "microstructure/voronoi", "structures/B"]
    assert fe["fe/B-ordered"].params["case"]["gb"] == ["B/gb_sigma5_310"]


def test_one_interface_mesh_serves_every_grain_size():
    plan = plan_of()
    meshes = [t for t in plan.tasks if t.kind == "mesh"]
    assert [t.id for t in meshes] == ["microstructure/voronoi"]
    assert "grain_size_nm" not in meshes[0].params and "grain_sizes_nm" not in meshes[0].params["microstructure"]
    fe = plan["fe/A-ordered"].params
    assert fe["grain_sizes_nm"] == [10.0, 100.0, 1000.0]
    assert fe["meshes"] == [[g, "microstructure/voronoi"] for g in (10.0, 100.0, 1000.0)]
    # a longer sweep re-plans the FE, not the mesh
    other = plan_of(microstructure={"grain_sizes_nm": [10.0, 100.0, 1000.0, 10000.0]})
    assert other["microstructure/voronoi"].hash == plan["microstructure/voronoi"].hash
    assert other["fe/A-ordered"].hash != plan["fe/A-ordered"].hash


def test_layer_model_meshes_each_grain_size():
    plan = plan_of(microstructure={"gb_model": "layer"})
    meshes = [t.id for t in plan.tasks if t.kind == "mesh"]
    assert meshes == ["microstructure/d10nm", "microstructure/d100nm", "microstructure/d1000nm"]
    assert plan["fe/A-ordered"].params["meshes"] == [[10.0, "microstructure/d10nm"],
                                                    [100.0, "microstructure/d100nm"],
                                                    [1000.0, "microstructure/d1000nm"]]
    assert set(meshes) <= set(plan["fe/A-ordered"].deps)
    # one solver per layer mesh: its cost is the sum over the grain sizes (2 temperatures each)
    from argyro_run.fe.cost import estimate_solve_seconds

    micro = config_from_dict(copy.deepcopy({**BASE, "microstructure": {**BASE["microstructure"], "gb_model": "layer"}})
                             ).microstructure.model_dump(mode="json")
    assert plan["fe/A-ordered"].cost_s == pytest.approx(sum(estimate_solve_seconds(micro, 2, 1, g)
                                                            for g in (10.0, 100.0, 1000.0)))


def test_explicit_cases_and_explicit_laws():
    cases = [{"name": "ord", "bulk": "A/ordered", "gb": ["A/gb_sigma3_-111", "A/gb_sigma5_310"],
              "gb_fractions": [0.25, 0.75], "gb_seed": 4},
             {"name": "dis", "bulk": "A/disordered", "gb": ["A/gb_sigma5_310"]}]
    plan = plan_of(fe={"cases": cases, "gb_parallel": LAW})
    fe = {t.id: t for t in plan.tasks if t.kind == "fe_sweep"}
    assert set(fe) == {"fe/ord", "fe/dis"}  # no default cases next to explicit ones
    c = fe["fe/ord"].params["case"]
    assert c["gb_fractions"] == [0.25, 0.75] and c["gb_seed"] == 4
    assert c["sources"]["gb_parallel"] == {"source": "input: fe.gb_parallel (overrides MD of A/gb_sigma3_-111, "
                                                     "A/gb_sigma5_310)", "input": LAW}
    assert c["sources"]["gb_perpendicular"]["source"] == (
        "md: arrhenius/A structures/gb_sigma3_-111/gb_perpendicular; arrhenius/A structures/gb_sigma5_310/gb_perpendicular")
    assert "arrhenius/B" not in fe["fe/ord"].deps
    # all kinds explicit: no Arrhenius dependency at all
    plan = plan_of(fe={"cases": cases, "bulk": LAW, "gb_parallel": LAW, "gb_perpendicular": LAW})
    assert not [d for d in plan["fe/ord"].deps if d.startswith("arrhenius/")]
    assert plan["fe/ord"].params["case"]["sources"]["bulk"]["source"] == "input: fe.bulk (overrides MD of A/ordered)"


def test_explicit_bulk_law_collapses_bulk_variants_in_default_cases():
    plan = plan_of(fe={"bulk": LAW})
    assert sorted(t.id for t in plan.tasks if t.kind == "fe_sweep") == ["fe/A-ordered", "fe/B-ordered"]


def test_md_structures_limits_default_gb_models():
    plan = plan_of(md={"structures": ["ordered", "gb_sigma5_310"]})
    fe = {t.id: t for t in plan.tasks if t.kind == "fe_sweep"}
    assert set(fe) == {"fe/A-ordered", "fe/B-ordered"}  # disordered is not simulated
    assert fe["fe/A-ordered"].params["case"]["gb"] == ["A/gb_sigma5_310"]


@pytest.mark.parametrize("ranks", [1, 4])
def test_fe_cost_comes_from_the_cost_model(ranks):
    from argyro_run.fe.cost import estimate_mesh_seconds, estimate_solve_seconds

    plan = plan_of(parallel={"ranks_per_fe": ranks})
    micro = config_from_dict(copy.deepcopy(BASE)).microstructure.model_dump(mode="json")
    assert plan["microstructure/voronoi"].cost_s == pytest.approx(estimate_mesh_seconds(micro))
    # this 2-D mesh (a few hundred DOFs) is planned on 1 rank whatever ranks_per_fe (faster than more)
    assert plan["fe/A-ordered"].ranks == 1
    assert plan["fe/A-ordered"].cost_s == pytest.approx(estimate_solve_seconds(micro, 2 * 3, 1))


def test_case_laws_override_fe_laws_and_md_for_that_case_only():
    slow = {"D0_m2_per_s": 1e-9, "Ea_eV": 0.5}
    cases = [{"name": "md", "bulk": "A/ordered", "gb": ["A/gb_sigma5_310"]},
             {"name": "blocking", "bulk": "A/ordered", "gb": ["A/gb_sigma5_310"], "laws": {"gb_perpendicular": slow}}]
    plan = plan_of(fe={"cases": cases, "gb_parallel": LAW})
    md, blocking = plan["fe/md"].params["case"]["sources"], plan["fe/blocking"].params["case"]["sources"]
    assert md["gb_perpendicular"]["md"][0]["fit"] == "structures/gb_sigma5_310/gb_perpendicular"
    assert blocking["gb_perpendicular"] == {"source": "input: fe.cases[1].laws.gb_perpendicular (overrides MD of "
                                                      "A/gb_sigma5_310)", "input": slow}
    assert md["gb_parallel"]["input"] == blocking["gb_parallel"]["input"] == LAW  # the [fe] law for both
    plan = plan_of(fe={"cases": [dict(cases[1], laws={"gb_parallel": slow})], "gb_parallel": LAW})
    assert plan["fe/blocking"].params["case"]["sources"]["gb_parallel"]["input"] == slow  # the case's law wins
