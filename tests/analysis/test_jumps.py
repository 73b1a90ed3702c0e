"""Jumps between the 48h sites of an argyrodite (analysis/jumps.py).

Asserted: the site lattice of a 2x1x1 supercell (96 sites in 8 cages of 12, each site's doublet partner
1.88 A away at a = 9.86 A, cage centres a/sqrt 2 apart); scripted jumps of a few ions through their
transition paths are counted once each and classified; ions off the lattice are refused, ions spread over
their cages (off every site) are not and their cage changes count; and on a random
walk that relocates each ion within its cage before every possible intercage jump (so successive cage
changes are uncorrelated) the long-time MSD gives the diffusivity of the cage walk, D_cage = Gamma d_cc^2 / 6.
"""

import numpy as np
import pytest

from argyro_run.analysis.jumps import (
    KINDS,
    argyrodite_sites,
    assign_cages,
    assign_sites,
    count_jumps,
    jump_statistics,
)

A = 9.86


def _cell(reps):
    return np.diag(A * np.asarray(reps, float))


def test_site_lattice_of_a_supercell():
    lat = argyrodite_sites(_cell([2, 1, 1]), [2, 1, 1])
    pos, pair, cage = lat["positions_A"], lat["pair"], lat["cage"]
    assert pos.shape == (96, 3) and lat["cage_centres_A"].shape == (8, 3)
    assert np.all(pair[pair] == np.arange(96)) and np.all(pair != np.arange(96))
    assert np.bincount(cage).tolist() == [12] * 8
    assert np.all(cage[pair] == cage)                     # a doublet lies in one cage
    d = pos[pair] - pos
    d -= np.round(d / np.diag(_cell([2, 1, 1]))) * np.diag(_cell([2, 1, 1]))
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.88, atol=0.01)
    assert lat["cage_distance_A"] == pytest.approx(A / np.sqrt(2), rel=1e-12)


def _neighbours(lat, cell):
    pos = lat["positions_A"]
    d = pos[:, None] - pos[None]
    box = np.diag(cell)
    d -= np.round(d / box) * box
    r = np.linalg.norm(d, axis=-1)
    np.fill_diagonal(r, np.inf)
    return r, d


def test_scripted_jumps_are_counted_once_and_classified():
    reps = [1, 1, 1]
    cell = _cell(reps)
    lat = argyrodite_sites(cell, reps)
    r, d = _neighbours(lat, cell)
    pos, pair, cage = lat["positions_A"], lat["pair"], lat["cage"]
    s0 = 0
    intra = int(np.flatnonzero((cage == cage[s0]) & (np.abs(r[s0] - 2.23) < 0.02))[0])
    inter = int(np.flatnonzero((cage != cage[s0]) & (np.abs(r[s0] - 2.86) < 0.02))[0])
    starts = [s0, s0, s0]
    targets = [int(pair[s0]), intra, inter]
    n_frames = 60
    rng = np.random.default_rng(7)
    x = np.empty((n_frames, 3, 3))
    for ion, (a, b) in enumerate(zip(starts, targets)):
        hop = -d[a, b]                       # a -> b, minimum image
        for k in range(n_frames):
            # on a until frame 20, through the path in 10 frames, on b until frame 40, then back the same way
            f = np.clip((k - 20) / 10, 0, 1) - np.clip((k - 40) / 10, 0, 1)
            x[k, ion] = pos[a] + f * hop + rng.normal(0, 0.1, 3)
    site_of = assign_sites(x, cell, pos)
    assert site_of[0].tolist() == starts and site_of[35].tolist() == targets and site_of[-1].tolist() == starts
    cage_of = assign_cages(x, cell, lat["cage_centres_A"])
    assert cage_of[35].tolist() == [cage[s0], cage[s0], cage[inter]] and np.all(cage_of[-1] == cage[s0])
    c = count_jumps(site_of, cage_of, pair, cage)
    assert c["per_ion"].tolist() == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]   # there and back, once each
    st = jump_statistics(x, cell, 0.1, reps)
    assert st["counts"].tolist() == [2, 2, 2]
    np.testing.assert_allclose(st["rate_per_ps"], 2 / (3 * 5.9))
    assert KINDS == ("doublet", "intracage", "intercage")


def _on_cage_shells(lat, n_ions, rng):
    """One ion in each of ``n_ions`` cages, at a random direction on the shell through the cage's sites
    (spread over the cage, not on a site)."""
    r0 = np.linalg.norm(lat["positions_A"][0] - lat["cage_centres_A"][lat["cage"][0]])
    u = rng.normal(size=(n_ions, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    return lat["cage_centres_A"][np.arange(n_ions) % len(lat["cage_centres_A"])] + r0 * u


def test_ions_off_the_lattice_are_refused_and_ions_spread_over_their_cages_are_not():
    reps = [2, 2, 2]
    cell = _cell(reps)
    lat = argyrodite_sites(cell, reps)
    rng = np.random.default_rng(5)
    anywhere = rng.random((1, 64, 3)) @ cell
    with pytest.raises(ValueError, match="not this site lattice"):
        jump_statistics(np.repeat(anywhere, 3, axis=0), cell, 0.1, reps)
    spread = _on_cage_shells(lat, 64, rng)
    # most of them off every site (beyond the core radius) ...
    from argyro_run.analysis.jumps import CORE_RADIUS_A, cage_shell_offset_A
    d = spread[:, None, :] - lat["positions_A"][None]
    d -= np.round(d / np.diag(cell)) * np.diag(cell)
    assert np.median(np.linalg.norm(d, axis=-1).min(axis=1)) > CORE_RADIUS_A
    assert cage_shell_offset_A(spread, cell, lat) == pytest.approx(0.0, abs=1e-12)
    st = jump_statistics(np.repeat(spread[None], 3, axis=0), cell, 0.1, reps)   # ... but on their lattice
    assert st["counts"].tolist() == [0, 0, 0] and st["fraction_on_site"] < 0.5
    # the share on a site is the one fraction_on_site gives (its brute-force count here)
    from argyro_run.analysis.jumps import fraction_on_site
    on = float(np.mean(np.linalg.norm(d, axis=-1).min(axis=1) <= CORE_RADIUS_A))
    assert fraction_on_site(spread, cell, lat["positions_A"]) == pytest.approx(on, abs=1e-15)
    assert st["fraction_on_site"] == pytest.approx(on, abs=1e-15)
    for shift in ([A / 4, 0, 0], [A / 2, 0, 0], [A / 8, 0, 0]):      # the same ions, the lattice shifted
        with pytest.raises(ValueError, match="off the shells"):
            jump_statistics(np.repeat(spread[None] + np.array(shift), 3, axis=0), cell, 0.1, reps)


def test_ions_spread_over_their_cages_count_their_cage_changes():
    """Ions off every site (on their cage's shell) that move to a neighbouring cage's shell and back: two
    intercage jumps each, whatever their site assignment does."""
    reps = [2, 2, 2]
    cell = _cell(reps)
    lat = argyrodite_sites(cell, reps)
    rng = np.random.default_rng(11)
    start = _on_cage_shells(lat, 8, rng)
    centres = lat["cage_centres_A"]
    cage0 = assign_cages(start[None], cell, centres)[0]
    d = centres[None, :, :] - centres[cage0][:, None, :]
    d -= np.round(d / np.diag(cell)) * np.diag(cell)
    r = np.linalg.norm(d, axis=-1)
    r[r < 1e-9] = np.inf
    nxt = d[np.arange(8), np.argmin(r, axis=1)]                           # to the nearest other cage centre
    x = np.repeat(start[None], 60, axis=0)
    x[20:40] += nxt[None]
    st = jump_statistics(x, cell, 0.1, reps)
    assert st["counts"][2] == 16
    np.testing.assert_allclose(st["rate_per_ps"][2], 16 / (8 * 5.9))


def test_an_uncorrelated_cage_walk_has_the_diffusivity_of_its_jump_rate():
    reps = [2, 2, 2]
    cell = _cell(reps)
    lat = argyrodite_sites(cell, reps)
    r, d = _neighbours(lat, cell)
    cage = lat["cage"]
    members = [np.flatnonzero(cage == c) for c in range(cage.max() + 1)]
    inter = [np.flatnonzero((cage != cage[s]) & (np.abs(r[s] - 2.86) < 0.02)) for s in range(len(cage))]
    assert all(len(i) == 2 for i in inter)
    rng = np.random.default_rng(11)
    n_ions, n_steps, p = 60, 3000, 0.05
    site = rng.choice(len(cage), n_ions)
    x = np.empty((n_steps, n_ions, 3))
    x[0] = lat["positions_A"][site]
    for k in range(1, n_steps):
        x[k] = x[k - 1]
        for i in range(n_ions):
            s = site[i]
            t = rng.choice(members[cage[s]])          # anywhere in the cage (resets the memory of the last jump)
            if rng.random() < p:
                t = rng.choice(inter[t])
            x[k, i] += -d[s, t]                         # s -> t, minimum image
            site[i] = t
    dt = 0.1
    st = jump_statistics(x, cell, dt, reps)
    # the jumps counted are the walk's intercage moves (every move within a cage is doublet or intracage)
    assert st["counts"][2] == pytest.approx(p * n_ions * (n_steps - 1), rel=0.05)
    lag = 1000                                             # >> 1/p steps: the bounded intracage term is small
    msd = np.mean(np.sum((x[lag:] - x[:-lag]) ** 2, axis=-1))
    D_msd = msd / (6 * lag * dt) * 1e-8                     # A^2/ps -> m^2/s
    assert D_msd == pytest.approx(st["D_cage_m2_per_s"], rel=0.1)
    assert st["D_cage_err_m2_per_s"] < 0.05 * st["D_cage_m2_per_s"]

