"""Figure functions on synthetic data: the plotted lines carry the physics they claim."""

import math

import numpy as np
import pytest

from argyro_run.report import figures as F

KB = 8.617333262e-5


def _line(ax, gid):
    found = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, [ln.get_gid() for ln in ax.get_lines()]
    return found[0]


def _arrhenius(T, D0, Ea):
    return D0 * np.exp(-Ea / (KB * np.asarray(T, float)))


def test_arrhenius_line_slope_is_minus_Ea_over_kB_and_extrapolates_to_300K():
    D0, Ea = 3e-7, 0.31
    T = np.array([500.0, 600.0, 700.0, 800.0])
    D = _arrhenius(T, D0, Ea)
    d300 = float(_arrhenius(300.0, D0, Ea))
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, [{"key": "bulk", "label": "bulk", "temperatures_K": T, "D_m2_per_s": D,
                           "D_err_m2_per_s": 0.1 * D,
                           "fit": {"D0_m2_per_s": D0, "Ea_eV": Ea, "Ea_eV_err": 0.01, "D_300K_m2_per_s": d300,
                                   "D_300K_m2_per_s_err": 0.2 * d300}}])
    fit = _line(ax, "fit:bulk")
    x, y = fit.get_xdata(), fit.get_ydata()
    # in (1000/T, log10 D): slope = -Ea / (1000 k_B ln 10), i.e. d ln D / d(1/T) = -Ea/k_B
    slope = np.polyfit(x, y, 1)[0]
    assert slope * 1000.0 * math.log(10.0) == pytest.approx(-Ea / KB, rel=1e-9)
    # the solid line spans the data and passes through the (exact) points
    assert x.min() == pytest.approx(1000 / 800) and x.max() == pytest.approx(1000 / 500)
    np.testing.assert_allclose(np.interp(1000 / T[::-1], x, y), np.log10(D[::-1]), atol=1e-4)
    ext = _line(ax, "extrap:bulk")
    assert ext.get_linestyle() == "--"
    assert ext.get_xdata().max() == pytest.approx(1000 / 300)
    assert ext.get_ydata()[-1] == pytest.approx(math.log10(d300), abs=1e-9)
    mark = _line(ax, "d300:bulk")
    assert mark.get_xdata()[0] == pytest.approx(1000 / 300)
    assert mark.get_ydata()[0] == pytest.approx(math.log10(d300))
    assert "Ea = 0.310" in fit.get_label()


def test_no_extrapolation_when_the_data_reach_300K():
    T = np.array([300.0, 400.0])
    fig, (ax,) = F.new_figure()
    F.plot_arrhenius(ax, [{"key": "fe", "label": "fe", "temperatures_K": T, "D_m2_per_s": _arrhenius(T, 1e-8, 0.2),
                           "fit": {"D0_m2_per_s": 1e-8, "Ea_eV": 0.2}}])
    assert not [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("extrap")]


def test_arrhenius_fit_line_recovers_D0_Ea():
    T = np.array([300.0, 350.0, 450.0])
    D0, Ea = F.arrhenius_fit_line(T, _arrhenius(T, 2e-6, 0.42))
    assert D0 == pytest.approx(2e-6, rel=1e-9) and Ea == pytest.approx(0.42, rel=1e-9)
    assert F.arrhenius_fit_line([300.0], [1e-12]) is None


def test_log10_errorbars_are_propagated_standard_errors():
    D, e = np.array([1e-9, 2e-9]), np.array([1e-10, 0.0])
    np.testing.assert_allclose(F.log10_errorbars(D, e), [0.1 / math.log(10.0), 0.0])
    # the bar brackets log10(D +- e) to first order
    assert F.log10_errorbars([1e-9], [1e-12])[0] == pytest.approx(math.log10(1e-9 + 1e-12) + 9, rel=1e-3)


def test_msd_fit_line_has_slope_6D():
    D = 2.5e-9                                        # m^2/s = 0.25 A^2/ps
    lag = np.linspace(0, 10, 101)
    msd = np.stack([2 * D * 1e8 * lag + 0.3] * 3, axis=1)  # 2 D t per component
    fig, (ax,) = F.new_figure()
    F.plot_msd(ax, [{"temperature_K": 600.0, "lag_ps": lag, "msd_A2": msd, "fit_start_ps": 2.0, "fit_end_ps": 6.0}],
               [D])
    ln = _line(ax, "msdfit:T600")
    x, y = ln.get_xdata(), ln.get_ydata()
    assert list(x) == [2.0, 6.0]
    assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(6 * D * 1e8)
    assert y[0] == pytest.approx(6 * D * 1e8 * 2.0 + 0.9)  # through the data (offset 3 x 0.3)
    curve = [c for c in ax.get_lines() if c.get_label() == "600 K"][0]
    np.testing.assert_allclose(curve.get_ydata(), msd.sum(axis=1))


def test_msd_fit_line_is_the_stored_fit():
    """With the analysis' fit (kinisi: slope, intercept) the dashed line is exactly that line, not a
    line re-derived from D."""
    lag = np.linspace(0, 5, 51)
    msd = np.stack([0.4 * lag + 0.1] * 3, axis=1)
    fig, (ax,) = F.new_figure()
    F.plot_msd(ax, [{"temperature_K": 700.0, "lag_ps": lag, "msd_A2": msd, "fit_start_ps": 1.0, "fit_end_ps": 5.0,
                     "slope_A2_per_ps": 1.3, "intercept_A2": -0.2}], [1.3 / 6 * 1e-8])
    ln = _line(ax, "msdfit:T700")
    np.testing.assert_allclose(ln.get_xdata(), [1.0, 5.0])
    np.testing.assert_allclose(ln.get_ydata(), [-0.2 + 1.3, -0.2 + 6.5])


def _cube_tets(n=3):
    """Unit cube split into n^3 sub-cubes of 6 tetrahedra each (Kuhn triangulation)."""
    g = np.linspace(0, 1, n + 1)
    X, Y, Z = np.meshgrid(g, g, g, indexing="ij")
    pts = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)
    idx = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)
    perms = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    cells = []
    for i in range(n):
        for j in range(n):
            for k in range(n):
                for p in perms:
                    v = np.array([i, j, k])
                    tet = [idx[tuple(v)]]
                    for ax in p:
                        v = v.copy()
                        v[ax] += 1
                        tet.append(idx[tuple(v)])
                    cells.append(tet)
    return pts, np.array(cells)


@pytest.mark.parametrize("z0", [0.123, 0.5 + 1e-3, 0.871])
def test_tetrahedra_slice_tiles_the_cross_section(z0):
    pts, cells = _cube_tets(3)
    polys, idx = F.slice_tetrahedra(pts, cells, z0)
    assert all(len(p) in (3, 4) for p in polys) and len(polys) == len(idx)

    def area(p):
        x, y = p[:, 0], p[:, 1]
        return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

    assert sum(area(p) for p in polys) == pytest.approx(1.0, rel=1e-12)   # the whole unit square, no overlap
    for p in polys:
        assert np.all((p >= -1e-12) & (p <= 1 + 1e-12))


def test_mesh_plot_colours_gb_cells():
    pts = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [2, 0], [2, 1]], float)
    cells = np.array([[0, 1, 2], [0, 2, 3], [1, 4, 5], [1, 5, 2]])
    kind = np.array([0, 0, 1, 1])
    grain = np.array([0, 0, -1, -1])
    fig, (ax,) = F.new_figure()
    F.plot_mesh(ax, pts, cells, kind, grain)
    pc = [c for c in ax.collections if c.get_gid() == "mesh"][0]
    assert len(pc.get_paths()) == 4
    fc = pc.get_facecolors()
    np.testing.assert_allclose(fc[2], (0.55, 0.0, 0.0, 1.0))
    np.testing.assert_allclose(fc[3], (0.55, 0.0, 0.0, 1.0))
    assert not np.allclose(fc[0], fc[2])


def test_deff_ratio_panel_draws_the_ratio_and_marks_the_crossover():
    ratio = np.array([[1.5, 1.1, 1.02], [1.3, 1.2, 1.07]])
    case = {"case": "c", "grain_sizes_nm": [10.0, 100.0, 1000.0], "temperatures_K": [300.0, 400.0],
            "D_eff_over_D_bulk": ratio, "crossover_grain_size_nm": [1000.0, np.nan], "crossover_tolerance": 0.05}
    fig, (a,) = F.new_figure()
    F.plot_deff_vs_grain_size(a, case)
    np.testing.assert_allclose(_line(a, "ratio:T400").get_ydata(), ratio[1])
    np.testing.assert_allclose(_line(a, "crossover:T300").get_xydata(), [[1000.0, 1.02]])
    assert "crossover:T400" not in {ln.get_gid() for ln in a.get_lines()}  # not reached: not drawn
    assert a.get_xscale() == "log" and a.get_yscale() == "linear"


def test_mesh_plot_of_a_3d_mesh_cuts_it_and_keeps_the_gb_area():
    pts, cells = _cube_tets(3)
    cen = pts[cells].mean(axis=1)
    kind = ((cen[:, 0] > 1 / 3) & (cen[:, 0] < 2 / 3)).astype(int)    # the middle column of sub-cubes is "GB"
    grain = np.where(kind == 1, -1, (cen[:, 0] > 0.5).astype(int))
    fig, (ax,) = F.new_figure()
    F.plot_mesh(ax, pts, cells, kind, grain, z_nm=0.4)
    pc = [c for c in ax.collections if c.get_gid() == "mesh"][0]
    red = np.all(np.isclose(pc.get_facecolors(), (0.55, 0.0, 0.0, 1.0)), axis=1)

    def area(path):
        v = path.vertices[:-1] if len(path.vertices) > 3 and np.allclose(path.vertices[0], path.vertices[-1]) \
            else path.vertices
        x, y = v[:, 0], v[:, 1]
        return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))

    areas = np.array([area(p) for p in pc.get_paths()])
    assert areas.sum() == pytest.approx(1.0, rel=1e-9)
    assert areas[red].sum() == pytest.approx(1 / 3, rel=1e-9)
