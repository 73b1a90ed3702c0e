"""The diffusion analysis uses the material's mobile ion and its formal charge: a divalent ion
(Zn2+ in zinc blende ZnS, from a structure file) is planned with charge 2 and its Nernst-Einstein
conductivity is 4 times that of the same walk counted as a monovalent ion."""

from __future__ import annotations

import numpy as np
from ase.build import bulk

from argyro_run.analysis.diffusion import conductivity_mS_per_cm
from argyro_run.analysis.tasks import run_diffusion
from argyro_run.config import load_config
from argyro_run.plan import build_plan
from argyro_run.results import Result
from argyro_run.structures.files import write_structure


def test_divalent_mobile_ion(tmp_path):
    zns = bulk("ZnS", "zincblende", a=5.41, cubic=True)
    write_structure(tmp_path / "ZnS.extxyz", zns)
    (tmp_path / "in.toml").write_text(
        '[[materials]]\nname = "z"\nstructure_file = "ZnS.extxyz"\nmobile_ion = "Zn"\n'
        "[md]\ntemperatures_K = [600.0]\nproduction_ps = 10.0\ndump_interval_fs = 10.0\n"
        "[analysis]\nfit_start_ps = 0.5\nfit_end_ps = 2.0\nn_blocks = 2\n")
    cfg = load_config(tmp_path / "in.toml")
    assert cfg.potential.species == ["Zn", "S"]
    plan = build_plan(cfg)
    md_task = next(t for t in plan.tasks if t.kind == "md_run")
    task = next(t for t in plan.tasks if t.kind == "diffusion")
    assert md_task.params["md"]["species"] == "Zn"
    assert task.params["analysis"]["species"] == "Zn" and task.params["analysis"]["charge_e"] == 2

    t = np.arange(0.0, 10.0 + 1e-9, 0.01)
    keep = np.array(zns.get_chemical_symbols()) == "Zn"
    rng = np.random.default_rng(4)
    x = zns.positions[keep] + np.cumsum(rng.normal(scale=0.02, size=(len(t), keep.sum(), 3)), axis=0)
    md = Result()
    md.add("time_ps", t, "ps")
    md.add("trajectory/positions_A", x, "Angstrom")
    md.add("trajectory/numbers", zns.numbers[keep], "")
    md.add("trajectory/cell_A", np.asarray(zns.cell[:]), "Angstrom")
    md.set_attrs("", temperature_K=600.0)
    res = run_diffusion(task.params, {task.deps[0]: md}, None, None)
    D = float(res.get("D_m2_per_s")[0])
    assert D > 0 and res.get_attrs("")["charge_e"] == 2 and res.get_attrs("")["n_carriers"] == 4
    sig1 = conductivity_mS_per_cm(D, 600.0, 4, zns.get_volume(), charge=1.0)
    assert np.isclose(float(res.get("sigma_mS_per_cm")[0]), 4 * sig1, rtol=1e-12)
