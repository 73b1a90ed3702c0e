"""``benchmarks/reference_accuracy.py``: the hop, the band file and the PBE barrier along a band
(docs/references.md quotes them); exact cases, no reference calculation."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from tests._support.env import REPO


def _module():
    spec = importlib.util.spec_from_file_location("reference_accuracy", REPO / "benchmarks" / "reference_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("halide", ["Cl", "I"])
def test_the_vacancy_hop_moves_one_li_into_the_emptied_site(halide):
    ra = _module()
    initial, final, (li, dist) = ra.vacancy_hop_endpoints(halide=halide)
    assert len(initial) == len(final) == 51 and (initial.numbers == 3).sum() == 23
    moved = np.flatnonzero(np.linalg.norm(final.positions - initial.positions, axis=1) > 1e-9)
    assert moved.tolist() == [li]
    assert np.linalg.norm(final.positions[li] - initial.positions[li]) == pytest.approx(dist, abs=1e-9)
    assert 2.5 < dist < 3.2          # the intercage jump of an argyrodite, not a doublet one (~1.9 A)


def test_the_band_file_keeps_the_images_in_order_with_their_energies(tmp_path):
    ra = _module()
    from ase.io import read

    initial, final, _ = ra.vacancy_hop_endpoints()
    band = [initial] + [initial.copy() for _ in range(3)] + [final]
    for k, im in enumerate(band[1:-1], 1):
        im.positions = initial.positions + k / 4 * (final.positions - initial.positions)
    e = np.array([-10.0, -9.8, -9.5, -9.7, -9.95])
    ra.write_band(tmp_path / ra.band_file("sevenn:7net-l3i5"), band, e)
    back = read(tmp_path / "band_sevenn_7net-l3i5.extxyz", ":")
    assert [a.info["image"] for a in back] == list(range(5))
    np.testing.assert_allclose([a.info["energy_eV"] for a in back], e, rtol=0, atol=1e-12)
    for a, b in zip(back, band):
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-8)
        np.testing.assert_allclose(a.cell[:], b.cell[:], atol=1e-12)


def test_pbe_labels_end_states_and_saddle_first():
    ra = _module()
    assert ra.pbe_order(np.array([0.0, 0.1, 0.2, 0.5, 0.3, 0.1, 0.0])) == [0, 3, 6, 2, 4, 1, 5]
    assert ra.pbe_order(np.array([0.0, 0.4, 0.1])) == [0, 1, 2]          # the saddle next to an end
    assert sorted(ra.pbe_order(np.array([0.0, 0.1, 0.2, 0.3, 0.4]))) == list(range(5))


def test_band_profile_barriers_from_the_labelled_images():
    ra = _module()
    rec = ra.band_profile({0: -5.0, 3: -4.4, 6: -4.9}, 7)
    assert rec["energy_profile_eV"] == [0.0, None, None, pytest.approx(0.6), None, None, pytest.approx(0.1)]
    assert rec["highest_image"] == 3
    assert rec["barrier_eV"] == pytest.approx(0.6) and rec["reverse_barrier_eV"] == pytest.approx(0.5)
    rec = ra.band_profile({0: -5.0, 3: -4.4, 6: -4.9, 4: -4.3}, 7)      # PBE's top is another image
    assert rec["highest_image"] == 4 and rec["barrier_eV"] == pytest.approx(0.7)
    assert "reverse_barrier_eV" not in ra.band_profile({0: -5.0, 2: -4.0}, 7)
    with pytest.raises(ValueError, match="image 0"):
        ra.band_profile({3: -4.4}, 7)


def test_band_energies_of_the_band_s_own_potential_give_back_its_profile(tmp_path):
    """An MTP evaluated along a band whose stored energies it produced reproduces them exactly,
    with its extrapolation grades per image."""
    ra = _module()
    mtp = REPO / "tests" / "data" / "mtp" / "Li6PS5Cl-l08.mtp"
    calc = ra._calculator(f"mtp:{mtp}", tmp_path)
    assert calc.active_set is not None                   # Li6PS5Cl-l08.als found beside it
    initial, final, _ = ra.vacancy_hop_endpoints()
    band = [initial.copy() for _ in range(5)]
    for k, im in enumerate(band):
        im.positions = initial.positions + k / 4 * (final.positions - initial.positions)
    energies = []
    for im in band:
        a = im.copy()
        a.calc = calc
        energies.append(a.get_potential_energy())
    ra.write_band(tmp_path / ra.band_file("sevenn:7net-l3i5"), band, np.array(energies))
    rec = ra.band_energies(tmp_path, "sevenn:7net-l3i5", f"mtp:{mtp}")
    np.testing.assert_allclose(rec["energy_profile_eV"], rec["reference_profile_eV"], atol=1e-4)
    assert rec["barrier_eV"] == pytest.approx(max(energies) - energies[0], abs=1e-9)
    assert len(rec["max_grade_along_band"]) == 5 and min(rec["max_grade_along_band"]) > 0
    import json
    saved = json.loads((tmp_path / "band_energies.json").read_text())
    assert list(saved["sevenn:7net-l3i5"]) == ["mtp:Li6PS5Cl-l08.mtp"]      # keyed by the file's name


def test_lowest_profile_takes_the_variational_minimum_per_image():
    """An SCF stuck in a local minimum (OT's image 5 of the Li6PS5Cl band, 4.75 eV too high) is
    replaced by the other SCF's lower energy; images only one SCF labelled keep theirs."""
    ra = _module()
    ot = [0.0, 0.06, 0.12, 0.24, 0.62, 4.75, 0.04]
    diag = [0.0, None, None, None, 0.6201, 0.25, None]
    rec = ra.lowest_profile(ot, diag)
    assert rec["energy_profile_eV"] == [0.0, 0.06, 0.12, 0.24, 0.62, 0.25, 0.04]
    assert rec["from_profile"] == [0, 0, 0, 0, 0, 1, 0]
    assert rec["highest_image"] == 4 and rec["barrier_eV"] == 0.62
    assert ra.lowest_profile(ot)["highest_image"] == 5            # without the check, the spurious top
