"""The framework check of every MD run (``md/framework.py``): the RMS change of the host atoms'
window-mean positions, their drift removed, on hand-made trajectories with exact answers."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.md.framework import check_framework, host_displacement_A, n_windows_for, window_means


def _sites(n_samples=40, n_atoms=6, seed=0):
    rng = np.random.default_rng(seed)
    return np.repeat(rng.uniform(0, 10, (1, n_atoms, 3)), n_samples, axis=0)


def test_window_means():
    x = np.arange(10, dtype=float)[:, None, None] * np.ones((1, 2, 3))
    assert np.allclose(window_means(x, 5)[:, 0, 0], [0.5, 2.5, 4.5, 6.5, 8.5])
    assert np.allclose(window_means(x[:9], 4)[:, 0, 0], [0.5, 2.5, 4.5, 6.5])     # the odd sample is left out
    with pytest.raises(ValueError, match="cannot be cut"):
        window_means(x[:3], 5)


def test_a_rigid_drift_of_the_host_is_not_a_displacement():
    x = _sites()
    x += np.arange(40)[:, None, None] * np.array([0.7, -0.2, 3.0])     # the whole host drifts
    assert np.allclose(host_displacement_A(x, np.ones(6, bool)), 0.0, atol=1e-10)


def test_vibration_averages_out_a_site_change_does_not():
    rng = np.random.default_rng(1)
    n, d = 6, 1.5
    x = _sites(n_samples=400, n_atoms=n + 2) + rng.normal(scale=0.5, size=(400, n + 2, 3))   # thermal-size jitter
    host = np.array([True] * n + [False, False])
    x[:, n:, :] += np.arange(400)[:, None, None] * 0.3          # the mobile atoms run off: not counted
    vib = host_displacement_A(x, host)
    assert vib[0] == 0.0 and vib.max() < 0.25                   # 40-sample means: 0.5 / sqrt(40) per component
    x[200:, 2, 1] += d                                          # one host atom changes site half way
    # drift removed: that atom is off by d (1 - 1/n), the others by d/n -> RMS = d sqrt(n - 1) / n
    moved = host_displacement_A(x, host)
    assert moved[-1] == pytest.approx(d * np.sqrt(n - 1) / n, abs=0.12)
    assert np.all(moved[6:] > 0.5) and np.all(moved[:5] < 0.25)


def test_no_host_and_shape_errors():
    assert np.array_equal(host_displacement_A(_sites(), np.zeros(6, bool)), np.zeros(10))
    with pytest.raises(ValueError, match="do not match"):
        host_displacement_A(_sites(), np.ones(5, bool))


def test_a_molecular_ion_turning_on_its_site_is_not_a_framework_change():
    """A PS4-like unit (centre + 4 corners) rotated by 90 degrees about its centre: each corner moves
    by sqrt(2) r, the unit's centre not at all. Per atom that is a displacement, per unit none; a
    unit that leaves its site by d counts d once."""
    r = 2.0
    corners = r * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])       # 90 deg about z
    sites = np.array([[2.0, 2.0, 2.0], [8.0, 2.0, 2.0], [2.0, 8.0, 2.0], [8.0, 8.0, 8.0]])
    atoms = np.concatenate([np.concatenate([s[None], s + corners]) for s in sites])      # 4 units x 5 atoms
    units = np.repeat(np.arange(4), 5)
    x = np.repeat(atoms[None], 20, axis=0)
    x[10:, 1:5] = sites[0] + corners @ rot.T                                            # unit 0 turns
    host = np.ones(20, bool)
    per_atom = host_displacement_A(x, host, 2)[-1]
    assert per_atom > 0.5
    assert host_displacement_A(x, host, 2, units=units)[-1] == pytest.approx(0.0, abs=1e-12)
    x[10:, 5:10] += [0.0, 1.6, 0.0]                                                     # unit 1 moves 1.6 A
    # drift removed over 4 units: RMS = 1.6 sqrt(3) / 4
    assert host_displacement_A(x, host, 2, units=units)[-1] == pytest.approx(1.6 * np.sqrt(3) / 4, rel=1e-12)
    with pytest.raises(ValueError, match="unit ids"):
        host_displacement_A(x, host, 2, units=units[:-1])


def test_one_rule_any_window_past_the_limit_and_where():
    """``check_framework`` (MD runs and explorations): unstable from the first window past the limit
    on, even when the host comes back later (a transient collapse is no crystal either); the centre
    is the unit that moved; window counts keep >= 2 samples per window."""
    assert [n_windows_for(s) for s in (1, 3, 4, 19, 20, 1000)] == [1, 1, 2, 9, 10, 10]
    units = np.repeat(np.arange(4), 2)                              # 4 two-atom units
    x = _sites(n_samples=40, n_atoms=8)
    host = np.ones(8, bool)
    ok = check_framework(x, host, 1.0, units=units)
    assert ok.stable and ok.n_windows == 10 and ok.worst_A == 0.0 and ok.centre is None
    x[12:20, 4:6] += [0.0, 0.0, 3.0]                                # unit 2 leaves its site in windows 3-4, returns
    chk = check_framework(x, host, 1.0, units=units)
    d = host_displacement_A(x, host, 10, units=units)
    assert np.array_equal(chk.displacement_A, d)
    assert d[-1] == pytest.approx(0.0, abs=1e-12)                   # the last window alone would call it stable
    assert not chk.stable and chk.first_over == 3 and chk.centre == 4    # unit 2's first atom
    assert chk.worst_A == pytest.approx(3.0 * np.sqrt(3) / 4, rel=1e-12)
    assert check_framework(x, host, 2.0, units=units).stable        # 1.3 A < 2 A
    assert check_framework(x, np.zeros(8, bool), 1.0).stable        # no host: nothing to check


def test_grains_sliding_against_each_other_is_not_a_displacement():
    """Two grains shifted rigidly against each other (GB sliding): with the grains given, each
    grain's own drift is removed and nothing is left; without, the shift counts (exactly half of it
    per atom, equal grains). A site change inside a grain still counts."""
    x = _sites(n_atoms=8)
    grains = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    shift = np.array([1.2, -0.4, 0.0])
    x[20:, grains == 1] += shift                               # grain 1 slides half way through
    host = np.ones(8, bool)
    assert np.allclose(host_displacement_A(x, host, grains=grains), 0.0, atol=1e-10)
    assert host_displacement_A(x, host)[-1] == pytest.approx(0.5 * np.linalg.norm(shift), rel=1e-10)
    x[30:, 1, 0] += 2.0                                        # one atom of grain 0 leaves its site
    d = host_displacement_A(x, host, grains=grains)[-1]
    assert d == pytest.approx(np.sqrt(2.0 ** 2 * (3 / 4) / 8), rel=1e-10)      # 2 (1 - 1/4) and 3 x 2/4
    assert check_framework(x, host, 0.5, grains=grains).stable == (d <= 0.5)


def test_grain_ids_of_a_bicrystal():
    from ase import Atoms

    from argyro_run.md.framework import grain_ids

    a = Atoms("H6", positions=[[0, 0, z] for z in (1.0, 4.0, 6.0, 9.0, 11.0, 19.5)], cell=[5, 5, 20], pbc=True)
    assert grain_ids(a) is None
    a.info.update(gb_plane_1_z_A=5.0, gb_plane_2_z_A=15.0)
    assert list(grain_ids(a)) == [0, 0, 1, 1, 1, 0]
    a.info.update(gb_plane_1_z_A=25.0, gb_plane_2_z_A=15.0)    # a plane given beyond the period
    assert list(grain_ids(a)) == [0, 0, 1, 1, 1, 0]
    a.new_array("grain_id", np.array([1, 1, 2, 2, 2, 1], dtype=np.int32))      # the builder's own: it wins
    assert list(grain_ids(a)) == [1, 1, 2, 2, 2, 1]
