"""Pretrained universal potentials as references (``calculator = "chgnet" | "sevenn"``), for real.

Asserted: labels from the worker subprocess, run with every network connection refused and an
empty home directory (so no download and no user cache can be used), equal the same model
evaluated in this process; forces are -dE/dx and the stress is (1/V) dE/d(strain) by central
finite differences (ASE sign convention); the model and the package version are in the cache
key; the worker runs torch on the threads it is given; a failure is recorded and retried with the
fallback like any reference; an unknown model is an input error naming ``reference.model``;
the initial-data task labels with CHGNet through the real worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from argyro_run.learning import reference as ref
from argyro_run.learning.reference import FOUNDATION_MODELS, ReferenceSpec, check_spec, label_structures, make_calculator

pytest.importorskip("chgnet", reason="the 'foundation' extra is not installed (pip install -e '.[foundation]')")
pytest.importorskip("sevenn", reason="the 'foundation' extra is not installed (pip install -e '.[foundation]')")

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = [("chgnet", "0.3.0"), ("sevenn", "7net-0")]


def li2s(seed: int, strain: float = 0.01) -> Atoms:
    """12-atom antifluorite Li2S cell, rattled and sheared (no symmetry left)."""
    a = bulk("Li2S", "fluorite", a=5.71, cubic=True)
    rng = np.random.default_rng(seed)
    eps = strain * rng.uniform(-1, 1, (3, 3))
    a.set_cell(a.cell[:] @ (np.eye(3) + (eps + eps.T) / 2), scale_atoms=True)
    a.rattle(0.05, seed=seed)
    return a


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Workers started from here cannot open a network connection nor read a user cache."""
    site = tmp_path / "offline_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(textwrap.dedent("""
        import socket

        def _refuse(self, *args, **kwargs):
            raise OSError("network disabled for this test")

        socket.socket.connect = _refuse
        socket.socket.connect_ex = _refuse
        socket.create_connection = lambda *a, **k: _refuse(None)
    """))
    monkeypatch.setenv("PYTHONPATH", f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    monkeypatch.setenv("HOME", str(tmp_path / "empty_home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty_home" / ".cache"))
    return site


def test_network_is_really_blocked_in_workers(offline):
    code = "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert r.returncode != 0 and "network disabled for this test" in r.stderr


@pytest.mark.slow
def test_worker_labels_offline_equal_in_process_model(tmp_path, offline):
    structs = [li2s(1), li2s(2)]
    for calc, model in DEFAULTS:
        spec = ReferenceSpec(calculator=calc, timeout_s=300.0, max_retries=0)  # model None: the default
        outs = label_structures(structs, spec, tmp_path / calc, cache_dir=tmp_path / "cache", keep_workdirs=True,
                                threads=2)
        assert all(o.ok and not o.cached for o in outs), [o.error for o in outs]
        # the worker ran torch on the threads it was given
        rec = json.loads(next((tmp_path / calc).glob("job_*/out_0.json")).read_text())
        assert rec["torch_threads"] == 2
        here = make_calculator(ReferenceSpec(calculator=calc, model=model), tmp_path)
        for a, o in zip(structs, outs):
            b = a.copy()
            b.calc = here
            assert o.energy_eV == pytest.approx(b.get_potential_energy(), abs=2e-4)
            np.testing.assert_allclose(o.forces_eV_per_A, b.get_forces(), atol=2e-4)
            np.testing.assert_allclose(o.stress_eV_per_A3, b.get_stress(voigt=True), atol=2e-5)
            assert np.abs(o.forces_eV_per_A.sum(axis=0)).max() < 1e-4       # Newton's third law
            assert np.abs(o.forces_eV_per_A).max() > 0.05                   # rattled: real forces
        again = label_structures(structs, spec, tmp_path / f"{calc}2", cache_dir=tmp_path / "cache")
        assert all(o.cached for o in again) and [o.energy_eV for o in again] == [o.energy_eV for o in outs]


def _energy(atoms, calc) -> float:
    b = atoms.copy()
    b.calc = calc
    return float(b.get_potential_energy())


@pytest.mark.parametrize("calc,model", [("chgnet", "0.3.0"), ("chgnet", "r2scan"), ("sevenn", "7net-0"),
                                        ("sevenn", "7net-mf-0-r2scan")])
def test_forces_and_stress_are_energy_derivatives(calc, model, tmp_path):
    atoms = li2s(3)
    c = make_calculator(ReferenceSpec(calculator=calc, model=model), tmp_path)
    a = atoms.copy()
    a.calc = c
    forces = a.get_forces()
    stress = a.get_stress(voigt=False)
    h = 5e-3  # A; the models run in float32 (energy resolution ~1e-5 eV)
    for i, k in [(0, 0), (5, 1), (9, 2)]:
        p, m = atoms.copy(), atoms.copy()
        p.positions[i, k] += h
        m.positions[i, k] -= h
        fd = -(_energy(p, c) - _energy(m, c)) / (2 * h)
        assert fd == pytest.approx(forces[i, k], abs=5e-3), (i, k)
    e = 2e-3
    vol = atoms.get_volume()
    for i, j in [(0, 0), (1, 2), (0, 1)]:
        d = np.zeros((3, 3))
        d[i, j] = d[j, i] = e / (1 if i == j else 2)
        p, m = atoms.copy(), atoms.copy()
        p.set_cell(atoms.cell[:] @ (np.eye(3) + d), scale_atoms=True)
        m.set_cell(atoms.cell[:] @ (np.eye(3) - d), scale_atoms=True)
        # symmetric strain: d E / d eps_ij with eps_ij = eps_ji moved together = (1/V) (s_ij + s_ji) share
        fd = (_energy(p, c) - _energy(m, c)) / (2 * e) / vol
        assert fd == pytest.approx(stress[i, j], abs=2e-4), (i, j)
    assert np.abs(stress).max() > 1e-3  # the sheared cell is really stressed


def test_cache_key_holds_model_and_package_version(monkeypatch):
    chg = ReferenceSpec(calculator="chgnet")
    assert chg.key() == ReferenceSpec(calculator="chgnet", model="0.3.0").key()      # None means the default
    assert chg.key() != ReferenceSpec(calculator="chgnet", model="r2scan").key()
    assert ReferenceSpec(calculator="sevenn", model="7net-mf-0-pbe").key() != \
        ReferenceSpec(calculator="sevenn", model="7net-mf-0-r2scan").key()
    tb, before = ReferenceSpec().key(), chg.key()
    monkeypatch.setattr(ref, "foundation_version", lambda calc: "99.0")
    assert chg.key() != before                                                         # new weights, new key
    assert ReferenceSpec().key() == tb                                                 # tblite keys unchanged


@pytest.mark.slow
def test_failure_is_recorded_and_retried_with_fallback(tmp_path):
    # a Li atom 8 A away from its periodic images has no neighbour within CHGNet's cutoff:
    # with on_isolated_atoms = "error" CHGNet refuses it, the fallback lets it through
    lone = Atoms("LiS", positions=[[0, 0, 0], [2.4, 0, 0]], cell=[10, 10, 10], pbc=True)
    lone.positions[0] = [5.0, 5.0, 5.0]
    spec = ReferenceSpec(calculator="chgnet", kwargs={"on_isolated_atoms": "error"}, max_retries=1,
                         fallback={"on_isolated_atoms": "ignore"}, timeout_s=300.0)
    out, = label_structures([lone], spec, tmp_path / "a")
    assert out.ok and out.attempts == 2 and np.isfinite(out.energy_eV)
    # an element SevenNet-0 was not trained on fails on every attempt: recorded, never raised
    og = Atoms("LiOg", positions=[[0, 0, 0], [2.5, 0, 0]], cell=[6, 6, 6], pbc=True)
    bad = ReferenceSpec(calculator="sevenn", max_retries=1, timeout_s=300.0)
    outs = label_structures([og, li2s(4)], bad, tmp_path / "b")
    assert not outs[0].ok and outs[0].attempts == 2 and "atomic number: 118" in outs[0].error
    assert outs[1].ok and outs[1].attempts == 1


def test_unknown_model_is_an_input_error(tmp_path):
    assert check_spec(ReferenceSpec(calculator="chgnet", model="9.9.9"))
    assert check_spec(ReferenceSpec(calculator="tblite", model="0.3.0"))        # model of another calculator
    assert not check_spec(ReferenceSpec(calculator="sevenn", model="7net-mf-0-pbe"))
    src = (ROOT / "inputs" / "quickstart.toml").read_text()
    bad = src.replace('calculator = "tblite"', 'calculator = "sevenn"\nmodel = "7net-omni"', 1)
    assert bad != src
    inp = tmp_path / "in.toml"
    inp.write_text(bad)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = subprocess.run([str(Path(sys.executable).parent / "argyro-run"), str(inp)], capture_output=True, text=True,
                       cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "reference.model" in r.stderr and "7net-omni" in r.stderr
    assert all(m in r.stderr for m in FOUNDATION_MODELS["sevenn"]) and "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_config_records_the_default_model():
    from argyro_run.config.loader import config_from_text

    work = '[[materials]]\nname = "LPSCl"\n'   # an input that asks for no work is an error (issue 15)
    cfg = config_from_text(work + '[reference]\ncalculator = "chgnet"\n', source="x.toml")
    assert cfg.reference.model == "0.3.0"
    assert json.loads(cfg.model_dump_json())["reference"]["model"] == "0.3.0"
    assert config_from_text(work + "[reference]\n", source="x.toml").reference.model is None
    from argyro_run.errors import UserError

    for key in ('method = "GFN2-xTB"', "electronic_temperature_K = 300.0", "fallback.electronic_temperature_K = 3000.0",
                "recheck_energy_meV_per_atom = 50.0"):
        with pytest.raises(UserError) as exc:   # a value given is used or rejected, never ignored
            config_from_text(work + f'[reference]\ncalculator = "sevenn"\n{key}\n', source="x.toml")
        assert [p for p in exc.value.problems if f"reference.{key.split(' ')[0]} does not apply" in p] == exc.value.problems


@pytest.mark.slow
def test_initial_data_task_with_chgnet_reference(tmp_path):
    from argyro_run.learning.tasks import run_initial_data
    from argyro_run.results import Result, add_atoms

    structs = Result()
    add_atoms(structs, "ordered", bulk("Li2S", "fluorite", a=5.71, cubic=True))
    params = {"reference": {"calculator": "chgnet", "model": "0.3.0", "kwargs": {}, "command": None,
                            "timeout_s": 300.0, "max_retries": 0, "fallback": {}},
              "n_rattled": 2, "rattle_amplitude_A": 0.05, "strain_amplitude": 0.01, "seed": 3}
    res = run_initial_data(params, {"structures/L": structs}, None, tmp_path)
    assert res.attrs[""]["n_images"] == 2 and res.attrs[""]["n_failed"] == 0
    from argyro_run.learning.dataset import training_set_from_result

    images = training_set_from_result(res, "training_set")
    c = make_calculator(ReferenceSpec(calculator="chgnet"), tmp_path)
    for img in images:
        assert img.get_potential_energy() == pytest.approx(_energy(img, c), abs=2e-4)


def test_provenance_records_the_packages_that_ship_the_weights():
    from importlib.metadata import version

    from argyro_run.runtime.driver import package_versions

    v = package_versions()
    assert v["chgnet"] == version("chgnet") and v["sevenn"] == version("sevenn") and v["torch"] == version("torch")
    assert ref.foundation_version("sevenn") == version("sevenn")
