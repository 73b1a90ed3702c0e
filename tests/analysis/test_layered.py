"""The bicrystal's GB diffusivities from the whole cell (analysis/layered.py): the Lifson-Jackson
law of a layered medium, checked against a simulated random walk on a layered lattice."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.analysis.layered import (
    crossing_ratio,
    gb_volume_fraction,
    layered_gb_diffusivities,
    layered_gb_with_errors,
)


def _layered_walk(rates, n_walkers: int, steps: int, dt: float, rng):
    """Walkers on a periodic chain (spacing 1 A) whose bond i (between sites i and i+1) is crossed
    at ``rates[i]`` per ps in either direction: a uniform equilibrium density, local diffusivity
    rate x spacing^2. Returns unwrapped positions (steps+1, walkers) in A."""
    M = len(rates)
    site = rng.integers(0, M, n_walkers)   # start in equilibrium (uniform)
    x = np.zeros((steps + 1, n_walkers))
    pos = site.astype(float)
    x[0] = pos
    for k in range(steps):
        u = rng.random(n_walkers)
        right = u < rates[site] * dt
        left = (u >= 0.5) & (u < 0.5 + rates[(site - 1) % M] * dt)
        site = (site + right - left) % M
        pos = pos + right - left
        x[k + 1] = pos
    return x


def test_a_layered_lattice_gives_back_its_gb_diffusivity():
    """A chain of 40 bonds, 8 of them (two 4-bond slabs, as two GB planes) 10x slower: the normal MSD
    at lags of many periods grows with the series mean, and the inversion returns the GB's D."""
    D_b, D_g = 0.4, 0.04                    # A^2/ps (rate = D / spacing^2)
    rates = np.full(40, D_b)
    rates[[0, 1, 2, 3, 20, 21, 22, 23]] = D_g
    phi = 8 / 40
    rng = np.random.default_rng(5)
    dt, steps = 0.5, 40000
    x = _layered_walk(rates, 1000, steps, dt, rng)
    lag = 16000                                  # 8000 ps: ~5 periods of 40 A across
    origins = range(0, steps - lag, 2000)
    msd = np.mean([np.mean((x[o + lag] - x[o]) ** 2) for o in origins])
    D_normal = msd / (2 * lag * dt)
    series = 1.0 / ((1 - phi) / D_b + phi / D_g)
    assert D_normal == pytest.approx(series, rel=0.1)           # the law itself
    assert crossing_ratio(msd, 40.0) > 1.0
    perp, par = layered_gb_diffusivities(D_normal, (1 - phi) * D_b + phi * D_g, D_b, phi, phi)
    assert perp == pytest.approx(D_g, rel=0.2) and par == pytest.approx(D_g, rel=1e-12)
    # the arithmetic mean (the short-lag regime) would put the GB 5x too fast: the law matters
    arithmetic = (D_normal - (1 - phi) * D_b) / phi
    assert not np.isfinite(arithmetic) or arithmetic < 0 or abs(arithmetic - D_g) > 0.5 * D_g


def test_inversion_of_the_two_phase_laws():
    """Forward laws, then back: for uniform and non-uniform ion densities; the bulk alone (a GB as
    fast as the bulk) is a fixed point; data faster across than any GB allows give NaN."""
    for phi, a in ((0.2, 0.2), (0.15, 0.3), (0.3, 0.1)):
        for D_b, D_perp, D_par in ((1e-10, 3e-11, 5e-10), (2e-11, 2e-10, 1e-12)):
            Dn = 1.0 / ((1 - phi) ** 2 / ((1 - a) * D_b) + phi ** 2 / (a * D_perp))
            Di = (1 - a) * D_b + a * D_par
            perp, par = layered_gb_diffusivities(Dn, Di, D_b, phi, a)
            assert perp == pytest.approx(D_perp, rel=1e-9) and par == pytest.approx(D_par, rel=1e-9)
    assert layered_gb_diffusivities(1e-10, 1e-10, 1e-10, 0.2, 0.2)[0] == pytest.approx(1e-10, rel=1e-12)
    # across faster than the bulk slabs alone allow (phi_b^2 / (a_b D_b) >= 1/D_normal): no positive GB D
    perp, par = layered_gb_diffusivities(1e-9, 1e-12, 1e-10, 0.2, 0.2)
    assert np.isnan(perp) and np.isnan(par)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        layered_gb_diffusivities(1e-10, 1e-10, 1e-10, 0.0, 0.2)


def test_errors_from_draws_and_undetermined_values():
    """The draws' spread shrinks with the inputs' errors; a GB D the data do not fix (most draws
    admit no positive value) is NaN with its valid fraction reported."""
    phi = a = 0.2
    D_b, D_g = 1e-10, 2e-11
    Dn = 1.0 / ((1 - phi) / D_b + phi / D_g)
    Di = (1 - a) * D_b + a * D_g
    small = layered_gb_with_errors(Dn, 0.01 * Dn, Di, 0.01 * Di, D_b, 0.01 * D_b, phi, a, seed=1)
    large = layered_gb_with_errors(Dn, 0.05 * Dn, Di, 0.05 * Di, D_b, 0.05 * D_b, phi, a, seed=1)
    assert small["perpendicular"] == pytest.approx(D_g, rel=1e-9)
    assert 0 < small["perpendicular_err"] < large["perpendicular_err"]
    assert small["perpendicular_valid_fraction"] == 1.0
    # in-plane slower than the bulk share alone: no positive GB parallel D, and most draws agree
    vague = layered_gb_with_errors(Dn, 0.05 * Dn, 0.97 * (1 - a) * D_b, 0.03 * D_b, D_b, 0.03 * D_b, phi, a, seed=1)
    assert 0 < vague["parallel_valid_fraction"] < 0.5 and np.isnan(vague["parallel"]) and np.isnan(vague["parallel_err"])
    assert np.isfinite(vague["perpendicular"])
    assert gb_volume_fraction([0.0, 20.0], 40.0, 4.0) == pytest.approx(0.2)


def test_the_task_archives_the_layered_gb_of_a_homogeneous_cell():
    """Through the diffusion and Arrhenius tasks: a 'bicrystal' whose GB slabs are no different from
    its bulk (one random walk everywhere) has a layered GB D equal to the walk's, across and along
    the planes, within its errors; the volume and ion fractions and the crossing ratio are archived."""
    from argyro_run.analysis.tasks import run_arrhenius, run_diffusion
    from tests.analysis.test_kinisi import _md_result, random_walk

    rng = np.random.default_rng(21)
    dt, laws = 0.1, {600.0: 0.4, 800.0: 1.2}                  # A^2/ps
    deps = {f"md/m/s/T{T:g}": _md_result(T, random_walk(D, dt, 300, 96, rng), dt) for T, D in laws.items()}
    an = {"species": "Li", "n_blocks": 3, "fit_start_ps": 1.0, "fit_end_ps": 4.0, "gb_width_A": 4.0}
    out = run_diffusion({"analysis": an, "structure": "s", "material": "m", "seed": 3}, deps, None, None)
    truth = np.array(list(laws.values())) * 1e-8                  # m^2/s
    for kind in ("perpendicular", "parallel"):
        D = out.get(f"gb/D_{kind}_layered_m2_per_s")
        err = out.get(f"gb/D_{kind}_layered_err_m2_per_s")
        assert np.all(err > 0) and np.all(np.abs(D - truth) < 4 * err), (kind, D, err, truth)
    np.testing.assert_allclose(out.get("gb/volume_fraction"), 2 * 4.0 / 15.0)
    assert np.all(np.abs(out.get("gb/ion_fraction") - 8.0 / 15.0) < 0.1)   # uniform density: ion share = volume share
    msd_z = out.get("msd/T600/msd_A2")[10, 2]                                  # lag 1 ps = the fit start
    assert out.get("gb/crossing_ratio")[0] == pytest.approx(msd_z / 15.0 ** 2, rel=1e-9)
    for key in ("gb/D_cell_normal", "gb/D_cell_inplane"):
        assert np.all(np.abs(out.get(f"{key}_m2_per_s") - truth) < 4 * out.get(f"{key}_err_m2_per_s"))
    arr = run_arrhenius({"material": "m"}, {"analysis/m/s": out}, None, None)
    assert "structures/s/gb_perpendicular_layered/Ea_eV" in arr and "structures/s/gb_parallel_layered/Ea_eV" in arr
