"""``md.require_converged_learning``: the MD after a learned level that stopped unconverged.

Asserted with real LAMMPS and the repository's test MTP, its potential dependency built as a
learning task's result: with the key true an MD run and an anneal refuse to start (no LAMMPS log is
written), naming the key, the learning task and its reason; with it false the run goes on and
warns; a converged level and a potential read from a file run under either value; the key decides
whether a task runs, not what it computes, so it leaves every hash of the plan unchanged.
"""

from __future__ import annotations

import logging

import pytest

from argyro_run._stack import MPI  # noqa: F401  (import order)
from argyro_run.config import config_from_text
from argyro_run.errors import UserError
from argyro_run.md.tasks import run_md_anneal, run_md_run, unconverged_learning
from argyro_run.plan import build_plan
from argyro_run.results import Result, add_atoms
from argyro_run.structures.argyrodite import argyrodite
from tests._support.inputs import LPSCL, SIGMA5_310, TEST_MTP, TEST_POTENTIAL

SPECIES = ["Li", "P", "S", "Cl"]
REASON = "not converged: stopped at max_iterations = 3; 1 of 2 exploration(s) still need selection"
MD = {"timestep_fs": 1.0, "equilibration_ps": 0.0, "production_ps": 0.05, "thermostat_damping_fs": 100.0,
      "dump_interval_fs": 10.0, "gamma_break": 0, "max_host_displacement_A": 5.0, "species": "Li",
      "anneal_ps": 0.05, "relax_force_eV_per_A": 0.5, "temperature_tolerance_fraction": 10.0}


def _deps(source: str, converged: bool | None) -> dict:
    pot = Result()
    pot.add("mtp/text", TEST_MTP.read_text(), "")
    pot.add("mtp/species", " ".join(SPECIES), "")
    if converged is not None:
        pot.set_attrs("", converged=converged, reason=REASON if not converged else "converged")
    st = Result()
    add_atoms(st, "ordered", argyrodite("Cl"))
    return {source: pot, "structures/LPSCl": st}


def _params(require: bool) -> dict:
    return {"md": dict(MD), "temperature_K": 600.0, "structure": "ordered", "seed": 7,
            "require_converged_learning": require}


@pytest.mark.parametrize("task", [run_md_run, run_md_anneal])
def test_refused_after_an_unconverged_level(tmp_path, task):
    with pytest.raises(UserError) as e:
        task(_params(True), _deps("learning/level10", False), None, tmp_path)
    msg = str(e.value)
    assert "md.require_converged_learning = true" in msg and "learning/level10" in msg and REASON in msg
    assert "potential.training_set" in msg and "level10.cfg" in msg
    assert not list(tmp_path.iterdir())          # refused before anything was written or run


def test_runs_with_a_warning_when_not_required(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="argyro_run.md.tasks"):
        r = run_md_run(_params(False), _deps("learning/level10", False), None, tmp_path)
    assert len(r.get("time_ps")) == 6          # 0.05 ps in 0.01-ps samples, the start included
    warned = [m for m in caplog.messages if "stopped unconverged" in m]
    assert len(warned) == 1 and "learning/level10" in warned[0] and "md.require_converged_learning" in warned[0]


@pytest.mark.parametrize("source,converged", [("learning/level10", True), ("potential/file", None)])
def test_converged_or_file_potential_runs_when_required(tmp_path, caplog, source, converged):
    deps = _deps(source, converged)
    assert unconverged_learning(deps) is None
    with caplog.at_level(logging.WARNING, logger="argyro_run.md.tasks"):
        r = run_md_run(_params(True), deps, None, tmp_path)
    assert len(r.get("time_ps")) == 6          # 0.05 ps in 0.01-ps samples, the start included
    assert not [m for m in caplog.messages if "unconverged" in m]


def test_the_policy_leaves_every_hash_unchanged():
    text = "[run]\nname = \"p\"\n" + LPSCL + SIGMA5_310 + TEST_POTENTIAL + """
[md]
temperatures_K = [600.0, 700.0]
anneal_ps = 1.0
"""
    off = build_plan(config_from_text(text))
    on = build_plan(config_from_text(text + "require_converged_learning = true\n"))
    assert [t.hash for t in on.tasks] == [t.hash for t in off.tasks]
    md_on = [t for t in on.tasks if t.kind in ("md_run", "md_anneal")]
    assert len(md_on) == 5 and all(t.params["require_converged_learning"] is True for t in md_on)
    assert all("require_converged_learning" not in t.params["md"] for t in md_on)
    # a key that changes what the MD computes still changes its hash
    longer = build_plan(config_from_text(text.replace("anneal_ps = 1.0", "anneal_ps = 2.0")))
    assert {t.id for t in longer.tasks if t.hash not in {u.hash for u in off.tasks}} >= {"md/LPSCl/gb_sigma5_310/anneal"}
