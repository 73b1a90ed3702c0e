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


# --- the recheck of labels far from the potential's energy (reference.recheck_energy_meV_per_atom) ---

def _pair_energy(atoms) -> float:
    from tests.learning.calcs import PairCalc

    a = atoms.copy()
    a.calc = PairCalc()
    return a.get_potential_energy()


def _triangles():
    """Three H3 molecules; the last is stretched (largest distance 3.2 A)."""
    return [Atoms("H3", positions=[[0, 0, 0], [2.1, 0, 0], [0, 1.9, 0]]),
            Atoms("H3", positions=[[0, 0, 0], [1.8, 0, 0], [0, 2.2, 0]]),
            Atoms("H3", positions=[[0, 0, 0], [3.2, 0, 0], [0, 2.0, 0]])]


def stuck_spec(**kw) -> ReferenceSpec:
    """An SCF that converges 5 eV above the ground state on the stretched molecule; the fallback does not."""
    return ReferenceSpec(calculator="calcs:PairCalc", kwargs={"stuck_eV": 5.0, "stuck_beyond_A": 3.0},
                         fallback={"stuck_eV": 0.0}, max_retries=1, **kw)


def test_a_label_stuck_above_the_ground_state_is_replaced_by_the_fallbacks(tmp_path, calcs_on_path):
    from argyro_run.learning.reference import recheck_labels
    from tests.learning.calcs import PairCalc

    structs = _triangles()
    truth = [_pair_energy(a) for a in structs]
    spec = stuck_spec()
    first = label_structures(structs, spec, tmp_path / "w", cache_dir=tmp_path / "cache")
    assert all(o.ok and o.attempts == 1 for o in first)  # converged: no retry ever sees it
    assert first[2].energy_eV == pytest.approx(truth[2] + 5.0)
    # the potential's energies: right within 10 meV/atom, so only the stuck label is far from them
    predicted = [t + 0.01 * 3 * s for t, s in zip(truth, (1, -1, 1))]
    outs, recs = recheck_labels(structs, first, predicted, spec, tmp_path / "r", cache_dir=tmp_path / "cache")
    assert [r.index for r in recs] == [2]
    r = recs[0]
    assert r.replaced and r.energy_eV == pytest.approx(truth[2] + 5.0) and r.fallback_energy_eV == pytest.approx(truth[2])
    assert [o.energy_eV for o in outs] == pytest.approx(truth)
    assert outs[2].attempts == 2
    assert outs[:2] == first[:2]
    ref = structs[2].copy()
    ref.calc = PairCalc()
    np.testing.assert_allclose(outs[2].forces_eV_per_A, ref.get_forces(), atol=1e-12)
    # the fallback labelled the suspect only: one more cache entry than the three first labels
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 4


def test_a_right_label_the_potential_gets_wrong_stands(tmp_path, calcs_on_path):
    """The potential 1 eV/atom too low on a label the fallback confirms: the label stays (that is what
    active learning learns from); a fallback higher by more than the threshold never replaces it."""
    from argyro_run.learning.reference import recheck_labels

    structs = _triangles()[:2]
    truth = [_pair_energy(a) for a in structs]
    spec = ReferenceSpec(calculator="calcs:PairCalc", fallback={"stuck_eV": 2.0, "stuck_beyond_A": 0.1})
    first = label_structures(structs, spec, tmp_path / "w", cache_dir=tmp_path / "cache")
    outs, recs = recheck_labels(structs, first, [truth[0] - 3.0, truth[1]], spec, tmp_path / "r",
                                cache_dir=tmp_path / "cache")
    assert [r.index for r in recs] == [0] and not recs[0].replaced
    assert recs[0].fallback_energy_eV == pytest.approx(truth[0] + 2.0)  # the fallback ran, higher
    assert outs == first


def test_a_failed_fallback_keeps_the_first_label(tmp_path, calcs_on_path):
    from argyro_run.learning.reference import recheck_labels

    structs = _triangles()[2:]
    spec = ReferenceSpec(calculator="calcs:PairCalc", kwargs={"stuck_eV": 5.0, "stuck_beyond_A": 3.0},
                         fallback={"fail": True}, max_retries=3)
    first = label_structures(structs, spec, tmp_path / "w")
    outs, recs = recheck_labels(structs, first, [_pair_energy(structs[0])], spec, tmp_path / "r")
    assert len(recs) == 1 and not recs[0].replaced and recs[0].fallback_energy_eV is None
    assert "SCF did not converge" in recs[0].error
    assert outs == first


def _outcomes(energies_eV):
    from argyro_run.learning.reference import LabelOutcome

    return [LabelOutcome(ok=True, energy_eV=e) for e in energies_eV]


def test_the_recheck_measures_a_label_from_the_potentials_error_on_the_rest_of_the_batch():
    """recheck_suspects on 8 labels of 52-atom cells (meV/atom residuals = label - prediction)."""
    from argyro_run.learning.reference import recheck_suspects

    n = 52
    cells = [Atoms(f"H{n}")] * 8
    truth = np.linspace(-200.0, -190.0, 8)
    rng = np.random.default_rng(3)
    # a good potential, 5 meV/atom scatter: one label stuck 90 meV/atom up (CP2K's OT) is the only suspect
    pred = truth + 1e-3 * n * rng.normal(0.0, 5.0, 8)
    labels = truth.copy()
    labels[4] += 1e-3 * n * 90.0
    assert recheck_suspects(cells, _outcomes(labels), list(pred), 50.0) == [4]
    # an early potential 1 eV/atom too low on every cell (its per-atom offset not learned yet): the old
    # absolute criterion rechecked all 8 labels; measured from the other labels only the stuck one is left
    assert recheck_suspects(cells, _outcomes(labels), list(pred - 1e-3 * n * 1000.0), 50.0) == [4]
    # ... and with its error the other way, too
    assert recheck_suspects(cells, _outcomes(labels), list(pred + 1e-3 * n * 1000.0), 50.0) == [4]
    # a label *below* its prediction is never a suspect: a wrong SCF state lies above the ground state
    low = truth.copy()
    low[4] -= 1e-3 * n * 500.0
    assert recheck_suspects(cells, _outcomes(low), list(pred), 50.0) == []
    # a potential whose own scatter (200 meV/atom) hides a 90 meV/atom shift does not recheck all of its
    # misses; a shift beyond 3 sigma of its scatter (1.5 eV/atom) is still caught
    wide = truth + 1e-3 * n * np.array([150.0, -250.0, 30.0, 0.0, -120.0, 210.0, -40.0, 90.0])
    assert recheck_suspects(cells, _outcomes(labels), list(wide), 50.0) == []
    far = truth.copy()
    far[4] += 1e-3 * n * 1500.0
    assert recheck_suspects(cells, _outcomes(far), list(wide), 50.0) == [4]
    # with the old criterion (|residual| > 50 meV/atom) 5 of these 8 labels would have been rechecked
    assert sum(abs(x) > 50.0 for x in (labels - wide) / (1e-3 * n)) == 5


def test_the_recheck_of_a_small_batch_is_absolute():
    """Fewer than RECHECK_MIN_OTHERS other predictions: the threshold alone (one-sided); cut-outs (no
    prediction) and failed labels are neither judged nor counted among the others."""
    from argyro_run.learning.reference import RECHECK_MIN_OTHERS, LabelOutcome, recheck_suspects

    assert RECHECK_MIN_OTHERS == 3
    cells = [Atoms("H10")] * 4
    e = [-10.0, -10.0, -10.0, -10.0]
    # two labels 0.6 eV/atom above a potential that is 0.6 eV/atom too low everywhere: both rechecked
    # (with only one other label there is no batch to measure the potential's error from)
    assert recheck_suspects(cells[:2], _outcomes(e[:2]), [-16.0, -16.0], 50.0) == [0, 1]
    # one label, 49 vs 51 meV/atom above its prediction
    assert recheck_suspects(cells[:1], _outcomes(e[:1]), [-10.49], 50.0) == []
    assert recheck_suspects(cells[:1], _outcomes(e[:1]), [-10.51], 50.0) == [0]
    # 4 labels, but two without a prediction (cut-outs) and one failed: the one left is judged alone
    outs = _outcomes(e)
    outs[3] = LabelOutcome(ok=False, error="SCF")
    assert recheck_suspects(cells, outs, [None, float("nan"), -11.0, -11.0], 50.0) == [2]
    # the same with three predicted others that agree with their labels: measured from them
    assert recheck_suspects(cells, _outcomes(e), [-11.0, -10.0, -10.0, -10.0], 50.0) == [0]
    assert recheck_suspects(cells, _outcomes(e), [-10.0, -11.0, -11.0, -11.0], 50.0) == []


def test_a_stuck_label_among_labels_the_potential_is_off_on_is_the_one_rechecked(tmp_path, calcs_on_path):
    """Through the real worker: six molecules, the potential 1 eV/atom too low on all of them, one label
    stuck 5 eV up. Only that one is computed again (the absolute criterion computed all six again)."""
    from argyro_run.learning.reference import recheck_labels

    structs = [Atoms("H3", positions=[[0, 0, 0], [1.8 + 0.05 * k, 0, 0], [0, 2.0, 0]]) for k in range(5)]
    structs.insert(3, _triangles()[2])  # stretched: stuck
    truth = [_pair_energy(a) for a in structs]
    spec = stuck_spec()
    first = label_structures(structs, spec, tmp_path / "w", cache_dir=tmp_path / "cache")
    predicted = [t - 3.0 for t in truth]
    outs, recs = recheck_labels(structs, first, predicted, spec, tmp_path / "r", cache_dir=tmp_path / "cache")
    assert [r.index for r in recs] == [3] and recs[0].replaced
    assert [o.energy_eV for o in outs] == pytest.approx(truth)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 7


def test_nothing_is_rechecked_without_an_scf_to_redo(tmp_path, calcs_on_path):
    from argyro_run.learning.reference import recheck_labels, recheck_skipped_because

    structs = _triangles()[2:]
    wrong = [-100.0]
    for spec, why in [(ReferenceSpec(calculator="calcs:PairCalc"), "reference.fallback changes nothing"),
                      (ReferenceSpec(calculator="calcs:PairCalc", fallback={"stuck_eV": 0.0},
                                     recheck_energy_meV_per_atom=0.0), "= 0"),
                      (ReferenceSpec(calculator="sevenn", fallback={"device": "cpu"}), "pretrained potential")]:
        assert why in recheck_skipped_because(spec)
        first = label_structures(structs, stuck_spec(), tmp_path / "w", cache_dir=tmp_path / "c")
        assert recheck_labels(structs, first, wrong, spec, tmp_path / "r") == (first, [])
        assert not (tmp_path / "r").exists()
    assert recheck_skipped_because(stuck_spec()) == ""
    assert recheck_skipped_because(ReferenceSpec(fallback={"electronic_temperature_K": 1000.0})) == ""


def test_label_images_rechecks_whole_cells_against_the_potential(tmp_path, calcs_on_path, caplog):
    """Through label_images (the learning's path): the stuck whole cell is relabelled and counted, with a
    warning naming it; a stuck cut-out (energy_weight 0: its energy is not learned) is not rechecked."""
    import logging

    from argyro_run.learning.dataset import label_images

    structs = _triangles()
    for k, a in enumerate(structs):
        a.info["origin"] = f"LPSCl/ordered/T900/step{k}"
    cut = structs[2].copy()
    cut.info = {"origin": "cut", "energy_weight": 0.0}
    structs.append(cut)
    truth = {id(a): _pair_energy(a) for a in structs}
    with caplog.at_level(logging.INFO, logger="argyro_run.learning"):
        images, st = label_images(structs, stuck_spec(), tmp_path, predict=lambda a: _pair_energy(a))
    assert st.rechecked == 1 and st.relabelled == 1 and st.failed == 0
    energies = [img.get_potential_energy() for img in images]
    assert energies[:3] == pytest.approx([truth[id(a)] for a in structs[:3]])
    assert energies[3] == pytest.approx(truth[id(cut)] + 5.0)  # the cut-out is left as labelled
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and warned[0].startswith("reference label of LPSCl/ordered/T900/step2 (3 atoms) lies 1667 "
                                                     "meV/atom above the potential's energy"), warned
    assert "kept the fallback's lower energy" in warned[0]
    # without a potential (the initial data) nothing is rechecked
    images, st = label_images(structs, stuck_spec(), tmp_path / "b")
    assert st.rechecked == 0 and images[2].get_potential_energy() == pytest.approx(truth[id(structs[2])] + 5.0)


def test_the_recheck_threshold_reaches_the_spec_from_the_input():
    from argyro_run.config.loader import config_from_text
    from argyro_run.config.reference import RECHECK_ENERGY_MEV_PER_ATOM
    from argyro_run.errors import UserError
    from argyro_run.learning.dataset import spec_from_params

    work = '[[materials]]\nname = "LPSCl"\n'
    cfg = config_from_text(work + "[reference]\nrecheck_energy_meV_per_atom = 20.0\n[reference.fallback]\n"
                           "electronic_temperature_K = 1000.0\n", source="x.toml")
    assert spec_from_params(cfg.reference.model_dump(mode="json")).recheck_energy_meV_per_atom == 20.0
    default = RECHECK_ENERGY_MEV_PER_ATOM
    assert spec_from_params({}).recheck_energy_meV_per_atom == default == ReferenceSpec().recheck_energy_meV_per_atom
    with pytest.raises(UserError) as exc:
        config_from_text(work + "[reference]\nrecheck_energy_meV_per_atom = -1\n", source="x.toml")
    assert any("reference.recheck_energy_meV_per_atom" in p for p in exc.value.problems), exc.value.problems
    # given without fallback settings it could recheck nothing: rejected, not silently unused
    with pytest.raises(UserError) as exc:
        config_from_text(work + "[reference]\nrecheck_energy_meV_per_atom = 30.0\n", source="x.toml")
    assert any("reference.recheck_energy_meV_per_atom" in p and "[reference.fallback]" in p
               for p in exc.value.problems), exc.value.problems
    for ok in ("recheck_energy_meV_per_atom = 0.0\n",
               "recheck_energy_meV_per_atom = 30.0\n[reference.fallback]\nelectronic_temperature_K = 1000.0\n"):
        assert config_from_text(work + "[reference]\n" + ok, source="x.toml").reference is not None


def test_a_relative_workdir_works(tmp_path, calcs_on_path, monkeypatch):
    """The worker runs inside its job folder: a workdir given relative to the caller's must still reach it."""
    monkeypatch.chdir(tmp_path)
    atoms = _triangles()[0]
    out, = label_structures([atoms], ReferenceSpec(calculator="calcs:PairCalc", max_retries=0), "rel/w",
                            cache_dir="rel/cache")
    assert out.ok, out.error
    assert out.energy_eV == pytest.approx(_pair_energy(atoms))
    assert len(list((tmp_path / "rel" / "cache").glob("*.npz"))) == 1
