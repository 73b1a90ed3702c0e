"""Reference calculations: real tblite labels, caching, retries with fallback, timeouts."""

import os
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from argyro_run.learning.reference import ReferenceSpec, cached_label, check_spec, label_structures

HERE = Path(__file__).parent


@pytest.fixture
def calcs_on_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def licl(seed):
    a = bulk("LiCl", "rocksalt", a=5.13) * (2, 1, 1)
    a.rattle(0.05, seed=seed)
    return a


def test_tblite_labels_match_in_process_and_are_cached(tmp_path):
    from tblite.ase import TBLite

    structs = [licl(1), licl(2)]
    spec = ReferenceSpec()
    outs = label_structures(structs, spec, tmp_path / "w", cache_dir=tmp_path / "cache")
    assert all(o.ok and not o.cached for o in outs)
    ref = structs[0].copy()
    ref.calc = TBLite(method="GFN1-xTB", electronic_temperature=300.0, verbosity=0)
    assert outs[0].energy_eV == pytest.approx(ref.get_potential_energy(), abs=1e-8)
    np.testing.assert_allclose(outs[0].forces_eV_per_A, ref.get_forces(), atol=1e-7)
    np.testing.assert_allclose(outs[0].stress_eV_per_A3, ref.get_stress(), atol=1e-8)
    # Newton's third law: forces of a periodic cell sum to zero
    assert np.abs(outs[1].forces_eV_per_A.sum(axis=0)).max() < 1e-6
    again = label_structures(structs, spec, tmp_path / "w2", cache_dir=tmp_path / "cache")
    assert all(o.cached for o in again)
    assert [o.energy_eV for o in again] == [o.energy_eV for o in outs]
    # a different setting is a different cache entry
    hot = label_structures(structs[:1], ReferenceSpec(electronic_temperature_K=3000.0), tmp_path / "w3",
                           cache_dir=tmp_path / "cache")
    assert not hot[0].cached
    # cached_label reads the cache only: the labelled cells, never a new one
    hit = cached_label(structs[1], spec, tmp_path / "cache")
    assert hit.cached and hit.energy_eV == outs[1].energy_eV
    np.testing.assert_array_equal(hit.forces_eV_per_A, outs[1].forces_eV_per_A)
    assert cached_label(licl(3), spec, tmp_path / "cache") is None
    assert cached_label(structs[1], ReferenceSpec(electronic_temperature_K=1000.0), tmp_path / "cache") is None


def test_failure_is_retried_with_fallback_then_succeeds(tmp_path, calcs_on_path):
    atoms = Atoms("H3", positions=[[0, 0, 0], [2.1, 0, 0], [0, 1.9, 0]])
    spec = ReferenceSpec(calculator="calcs:PairCalc", kwargs={"fail": True}, max_retries=1,
                         fallback={"fail": False})
    out, = label_structures([atoms], spec, tmp_path)
    assert out.ok and out.attempts == 2
    assert out.energy_eV == pytest.approx(0.1 ** 2 + 0.1 ** 2 + (np.hypot(2.1, 1.9) - 2) ** 2)


def test_persistent_failure_and_timeout_are_recorded_not_raised(tmp_path, calcs_on_path):
    good = Atoms("H2", positions=[[0, 0, 0], [2.5, 0, 0]])
    bad_spec = ReferenceSpec(calculator="calcs:PairCalc", kwargs={"fail": True}, max_retries=1)
    outs = label_structures([good, good.copy()], bad_spec, tmp_path / "a")
    assert not any(o.ok for o in outs)
    assert "SCF did not converge" in outs[0].error and outs[0].attempts == 2

    slow = ReferenceSpec(calculator="calcs:PairCalc", kwargs={"sleep_s": 30.0}, timeout_s=3.0, max_retries=0)
    other = Atoms("H2", positions=[[0, 0, 0], [2.2, 0, 0]])
    outs = label_structures([good, other], slow, tmp_path / "b")
    assert [o.ok for o in outs] == [False, False]
    assert all("timeout" in o.error for o in outs)


def test_unknown_calculator_is_reported():
    assert check_spec(ReferenceSpec(calculator="dft-magic"))
    assert not check_spec(ReferenceSpec())


def test_label_images_reports_each_failure_once_with_its_origin(tmp_path, calcs_on_path, caplog):
    """The failures are reported by label_images, after the ranks' outcomes are together (so the
    task's lead rank prints them, also those computed on other ranks), naming the configuration."""
    import logging

    from argyro_run.learning.dataset import label_images

    good = Atoms("H2", positions=[[0, 0, 0], [2.5, 0, 0]])
    good.info["origin"] = "bulk/T900/step120"
    bad_spec = ReferenceSpec(calculator="calcs:PairCalc", kwargs={"fail": True}, max_retries=1)
    with caplog.at_level(logging.DEBUG, logger="argyro_run.learning"):
        images, st = label_images([good], bad_spec, tmp_path)
    assert images == [] and st.failed == 1
    msgs = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(msgs) == 1 and msgs[0].startswith("reference calculation of bulk/T900/step120 (2 atoms) failed after "
                                                 "2 attempt(s): ") and "SCF did not converge" in msgs[0], msgs
