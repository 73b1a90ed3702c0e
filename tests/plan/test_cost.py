"""Cost model (``argyro_run/plan/cost.py``): the measured laws, the wave schedule, and the plan's
use of them (initial data on unit cells, never above max_reference_atoms)."""

from __future__ import annotations

import math
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from argyro_run.config import config_from_dict, load_config
from argyro_run.errors import UserError
from argyro_run.plan import build_plan, cost
from argyro_run.plan.task import Task

REPO = Path(__file__).resolve().parents[2]


def test_tblite_law_reproduces_the_measured_timings():
    # one thread, rattled Li6PS5Cl, quiet machine: 52 atoms 2.75 s CPU (benchmarks/references.py) and
    # 2.9 s per label in the quickstart's initial data; the size law from issue 19's timings on a
    # slower machine: 52 atoms 5.8 s, 104 atoms 21.6 s, 208 atoms 169 s
    law = cost.reference_cost("tblite")
    assert law.seconds(52) == pytest.approx(2.9, rel=0.06)
    assert law.seconds(104) / law.seconds(52) == pytest.approx(21.6 / 5.8, rel=0.12)
    assert law.seconds(208) / law.seconds(104) == pytest.approx(169.0 / 21.6, rel=0.12)
    # cubic above the crossover, as for any DFT code
    assert law.seconds(832) / law.seconds(416) == pytest.approx(8.0)
    assert cost.reference_cost("mypkg.calc:Calc") is cost.REFERENCE_COSTS["custom"]


def test_pretrained_references_are_planned_at_their_measured_cost_not_as_dft():
    # benchmarks/references.py, one thread, rattled 52-atom Li6PS5Cl: CHGNet 0.17 s, SevenNet-0 0.40 s
    # (median CPU); graph networks with a fixed cutoff grow linearly with the atom count
    for calc, t52 in (("chgnet", 0.17), ("sevenn", 0.40)):
        law = cost.reference_cost(calc)
        assert law is not cost.REFERENCE_COSTS["custom"]
        assert law.seconds(52) == pytest.approx(t52)
        assert law.seconds(416) / law.seconds(52) == pytest.approx(8.0)
        assert law.seconds(52) < cost.reference_cost("tblite").seconds(52) / 5


def test_reference_batch_is_spread_round_robin():
    c = cost.reference_cost("tblite")
    t52, up = c.seconds(52), c.startup_s
    assert cost.reference_batch_s("tblite", [52] * 5, ranks=2) == pytest.approx(up + 3 * t52)
    assert cost.reference_batch_s("tblite", [52] * 5, ranks=8) == pytest.approx(up + t52)
    assert cost.reference_batch_s("tblite", [], ranks=2) == 0.0


def test_a_batch_pays_the_workers_start_up_once():
    """Every batch starts its worker (python, torch, the model) on every rank at once: a batch of one
    SevenNet label costs mostly its start-up, and two batches cost two start-ups where one batch of
    both labels costs one (the validation learning measured 10-18 s a round for 4-6 labels a rank)."""
    c = cost.reference_cost("sevenn")
    assert c.startup_s > 10 * c.seconds(52)
    one = cost.reference_batch_s("sevenn", [52], ranks=2)
    assert one == pytest.approx(c.startup_s + c.seconds(52))
    assert 2 * one > cost.reference_batch_s("sevenn", [52, 52], ranks=1) == pytest.approx(c.startup_s + 2 * c.seconds(52))


def test_md_rate_goes_through_the_measured_levels_and_grows():
    for level, us in cost.MD_US_PER_ATOM_STEP.items():
        assert cost.md_us_per_atom_step(level) == pytest.approx(us)
    rates = [cost.md_us_per_atom_step(lv) for lv in range(2, 30, 2)]
    assert all(b > a for a, b in zip(rates, rates[1:]))


def test_md_ranks_pay_only_for_large_cells():
    big, small = 100 * cost.MD_ATOMS_PER_RANK_MIN, cost.MD_ATOMS_PER_RANK_MIN // 2
    w1 = cost.md_s(big, 1000, 16, 1) - cost.MD_RUN_OVERHEAD_S
    w4 = cost.md_s(big, 1000, 16, 4) - cost.MD_RUN_OVERHEAD_S
    assert w1 == pytest.approx(big * 1000 * cost.MD_US_PER_ATOM_STEP[16] * 1e-6) and w4 == pytest.approx(w1 / 4)
    assert cost.md_s(small, 1000, 16, 4) == pytest.approx(cost.md_s(small, 1000, 16, 1))


def _t(id, cost_s, ranks=1, deps=()):
    return Task(id=id, kind="summary", params={}, deps=list(deps), ranks=ranks, cost_s=cost_s)


def test_schedule_replays_the_wave_rule():
    tasks = [_t("a", 10.0), _t("b", 4.0), _t("c", 6.0), _t("d", 1.0, deps=["a", "b", "c"])]
    # 2 ranks: wave 1 = a, b (10 s), wave 2 = c (6 s), wave 3 = d (1 s)
    s = cost.schedule(tasks, 2)
    assert s["waves"] == 3 and s["wall_s"] == pytest.approx(17.0) and s["core_s"] == pytest.approx(34.0)
    # 4 ranks: a, b, c together, then d
    assert cost.schedule(tasks, 4)["wall_s"] == pytest.approx(11.0)
    # a 4-rank task on a 2-rank world takes twice its planned time
    s = cost.schedule([_t("w", 10.0, ranks=4)], 2)
    assert s["wall_s"] == pytest.approx(20.0) and s["task_wall_s"]["w"] == pytest.approx(20.0)


def _template(name):
    return tomllib.loads((REPO / "inputs" / f"{name}.toml").read_text())


def test_initial_data_labels_unit_cells_not_md_supercells():
    cfg = load_config(REPO / "inputs" / "Li6PS5Cl.toml")
    assert cfg.materials[0].supercell == [2, 2, 2]
    t = build_plan(cfg)["learning/initial_data"]
    assert t.n_atoms == 2 * 52                     # ordered + disordered unit cells, not 2 x 416
    (cells,) = t.params["cells"]
    assert cells["material"]["supercell"] == [1, 1, 1] and cells["structures"] == ["ordered", "disordered"]
    assert t.params["max_reference_atoms"] == cfg.active_learning.max_reference_atoms
    # 2 x 40 tblite calculations of 52 atoms on 2 ranks
    c = cost.reference_cost("tblite")
    assert t.cost_s == pytest.approx(cost.FLOOR_S + c.startup_s + 40 * c.seconds(52), rel=1e-9)


def test_initial_cell_above_max_reference_atoms_is_an_input_error(tmp_path):
    doc = _template("Li6PS5Cl")
    doc["active_learning"]["initial_cell_repeat"] = [2, 2, 1]       # 208 atoms > 200
    with pytest.raises(UserError, match=r"active_learning.initial_cell_repeat.*208 atoms.*max_reference_atoms \(200\)"):
        build_plan(config_from_dict(doc))
    doc["active_learning"]["max_reference_atoms"] = 208
    t = build_plan(config_from_dict(doc))["learning/initial_data"]
    assert t.n_atoms == 2 * 208 and t.params["cells"][0]["material"]["supercell"] == [2, 2, 1]
    # the CLI: exit code 2, the key named, no traceback
    text = (REPO / "inputs" / "Li6PS5Cl.toml").read_text().replace("max_reference_atoms = 200", "max_reference_atoms = 40")
    (tmp_path / "in.toml").write_text(text)
    p = subprocess.run([str(Path(sys.executable).parent / "argyro-run"), "plan", str(tmp_path / "in.toml")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "active_learning.initial_cell_repeat" in p.stderr and "Traceback" not in p.stderr
    assert "52 atoms" in p.stderr and sorted(x.name for x in tmp_path.iterdir()) == ["in.toml"]


def test_plan_verb_shows_the_cost_on_n_ranks(capsys):
    import json

    from argyro_run.cli import main

    qs = str(REPO / "inputs" / "quickstart.toml")
    walls = []
    for n in (1, 2, 8):
        assert main(["plan", "--json", "--ranks", str(n), qs]) == 0
        doc = json.loads(capsys.readouterr().out)
        walls.append(doc["schedule"]["wall_s"])
        total = doc["total_cost_s"]          # the quickstart's tasks are all serial
        assert total / n - 1e-9 <= walls[-1] <= total + 1e-9 and doc["schedule"]["ranks"] == n
    assert walls[0] == pytest.approx(sum(t.cost_s for t in build_plan(load_config(qs)).tasks))
    assert walls[0] > walls[1] >= walls[2]
    assert main(["plan", "--ranks", "2", qs]) == 0
    out = capsys.readouterr().out
    assert "core-hours" in out and "on 2 rank(s): about" in out


@pytest.mark.parametrize("name", ["Li6PS5Cl", "Li6PS5Br", "Li6PS5I"])
def test_template_header_states_the_planners_cost(name):
    """The production templates say what they cost; the numbers must be the planner's (within the
    rounding of the header and 15 % for later changes of FE/mesh estimates)."""
    import re

    text = (REPO / "inputs" / f"{name}.toml").read_text()
    head = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    plan = build_plan(load_config(REPO / "inputs" / f"{name}.toml"))
    core_h = sum(t.cost_s * t.ranks for t in plan.tasks) / 3600
    stated = float(re.search(r"about ([\d.]+) core-hours", head).group(1))
    assert stated == pytest.approx(core_h, rel=0.15)
    md_h = sum(t.cost_s * t.ranks for t in plan.tasks if t.stage == "md") / 3600
    assert float(re.search(r"MD ([\d.]+)\)?", head).group(1)) == pytest.approx(md_h, rel=0.15)
    for ranks, pat in ((2, r"about ([\d.]+) h on 2 ranks"), (16, r"([\d.]+) h on 16 ranks")):
        assert float(re.search(pat, head).group(1)) == pytest.approx(cost.schedule(plan.tasks, ranks)["wall_s"] / 3600,
                                                                     rel=0.15)
    # the advertised override is accepted and shortens the first level's explorations
    short = build_plan(load_config(REPO / "inputs" / f"{name}.toml",
                                   overrides=["active_learning.levels[0].exploration_ps=2"]))
    lv = f"learning/level{plan.tasks[2].params['step']['level']}"
    assert short[lv].params["step"]["exploration_ps"] == 2.0 and short[lv].cost_s < plan[lv].cost_s


def test_learning_cost_says_what_it_takes_when_it_does_not_converge():
    """The plan's learning task costs the expected iterations; its description gives the most it can
    take (every one of max_iterations refits and the final exploration), which grows with
    max_iterations while the expected cost does not (the expected number is below both caps)."""
    import re

    def learning(max_iterations):
        doc = tomllib.loads((REPO / "inputs" / "validation-LPSCl.toml").read_text())
        doc["active_learning"]["max_iterations"] = max_iterations
        return build_plan(config_from_dict(doc))["learning/level10"]

    t20, t30 = learning(20), learning(30)
    assert cost.al_expected_iterations(10) < 20
    assert t20.cost_s == pytest.approx(t30.cost_s, rel=1e-12)
    worst = []
    for t, n in ((t20, 20), (t30, 30)):
        m = re.search(r"~(\d+) iterations expected, up to (\d+) \(~(\d+(?:\.\d+)?) (s|min|h) then\)", t.description)
        assert m and int(m.group(2)) == n and int(m.group(1)) == cost.al_expected_iterations(10), t.description
        worst.append(float(m.group(3)) * {"s": 1, "min": 60, "h": 3600}[m.group(4)])
    assert t20.cost_s < worst[0] < worst[1]
    # the worst case is the same law run for max_iterations + 1 rounds; more rounds than that are capped
    kw = dict(calculator="sevenn", level=10, structure_atoms=[416, 416, 300, 300], temperatures=2,
              exploration_steps=20000, max_iterations=20, max_selected=12, max_reference_atoms=300,
              initial_images_atoms=2080, cutout_atoms=150, ranks=2, converged_rounds=2)
    assert cost.active_learning_s(**kw) == cost.active_learning_s(**kw, iterations=cost.al_expected_iterations(10))
    assert cost.active_learning_s(**kw, iterations=21) > cost.active_learning_s(**kw)
    assert cost.active_learning_s(**kw, iterations=21) == cost.active_learning_s(**kw, iterations=40)


def test_learning_cost_counts_the_check_labels_of_every_exploration_round():
    """active_learning.check_frames: each exploration round (the expected refits, the final one and the
    confirming clean rounds) labels that many frames per run: whole cells up to max_reference_atoms,
    cut-outs of check_cutout_atoms above."""
    kw = dict(calculator="sevenn", level=10, structure_atoms=[416, 300], temperatures=2, exploration_steps=20000,
              max_iterations=20, max_selected=12, max_reference_atoms=300, initial_images_atoms=2080,
              cutout_atoms=60, ranks=2, converged_rounds=2)
    base = cost.active_learning_s(**kw)
    checked = cost.active_learning_s(**kw, check_frames=3, check_cutout_atoms=120)
    rounds = cost.al_expected_iterations(10) + kw["converged_rounds"] - 1
    # the 416-atom runs' checks are cut-outs: their box costs the reference CUTOUT_LABEL_FACTOR x a bulk cell
    per_round = cost.reference_batch_s("sevenn", [120] * 6 + [300] * 6, 2, [True] * 6 + [False] * 6)
    assert per_round - cost.reference_batch_s("sevenn", [120] * 6 + [300] * 6, 2) == pytest.approx(
        3 * (cost.CUTOUT_LABEL_FACTOR - 1) * cost.reference_cost("sevenn").seconds(120), rel=1e-9)
    assert checked - base == pytest.approx(rounds * per_round, rel=1e-9)


def test_a_model_with_its_own_cost_law_is_planned_with_it():
    """SevenNet-l3i5 (the validation inputs' reference) is ~3x SevenNet-0 per label: the plan of an
    input naming it costs its labels with its own law, other models with the calculator's."""
    assert cost.reference_key("sevenn", "7net-l3i5") == "sevenn:7net-l3i5"
    assert cost.reference_key("sevenn", "7net-0") == "sevenn" and cost.reference_key("tblite") == "tblite"
    assert cost.reference_cost("sevenn:7net-l3i5").seconds(52) > 2 * cost.reference_cost("sevenn").seconds(52)
    doc = tomllib.loads((REPO / "inputs" / "validation-LPSCl.toml").read_text())
    slow = build_plan(config_from_dict(doc))["learning/initial_data"].cost_s
    doc["reference"]["model"] = "7net-0"
    assert slow > 2 * build_plan(config_from_dict(doc))["learning/initial_data"].cost_s


def test_explorations_are_planned_to_break_after_a_mean_time_not_a_fixed_fraction():
    """al_explore_fraction: an exploration of L ps whose break comes after an exponential time of mean tau
    runs tau (1 - exp(-L/tau)) on average: all of a short one, about tau of a long one, never more than
    either (the fourteenth validation study's 100-ps explorations ran 11 ps on average)."""
    tau10 = cost.AL_EXPLORE_TAU_PS[10]
    assert cost.al_explore_fraction(10, 1e-6) == pytest.approx(1.0, rel=1e-6)
    assert cost.al_explore_fraction(10, 1e5) * 1e5 == pytest.approx(tau10, rel=1e-9)
    assert cost.al_explore_fraction(10, tau10) == pytest.approx(1 - math.exp(-1.0), rel=1e-12)
    mean_ps = [L * cost.al_explore_fraction(10, L) for L in (5.0, 20.0, 100.0, 1000.0)]
    assert all(a < b < tau10 for a, b in zip(mean_ps, mean_ps[1:])) and all(m <= L for m, L in zip(mean_ps, (5.0, 20.0)))
    # the level-6 rung breaks sooner (linear in tau between the table's levels)
    assert cost.al_explore_fraction(6, 20.0) < cost.al_explore_fraction(8, 20.0) < cost.al_explore_fraction(10, 20.0)
    # the loop's cost: five times longer explorations cost far less than five times the explorations
    kw = dict(calculator="sevenn", level=10, structure_atoms=[416], temperatures=3, max_iterations=40,
              max_selected=12, max_reference_atoms=300, initial_images_atoms=1040, cutout_atoms=40, ranks=2,
              converged_rounds=2)
    short = cost.active_learning_s(**kw, exploration_steps=20000)
    long_ = cost.active_learning_s(**kw, exploration_steps=100000)
    assert short < long_ < 5 * short
