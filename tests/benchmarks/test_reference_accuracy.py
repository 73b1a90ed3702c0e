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
