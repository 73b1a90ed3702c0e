"""D uncertainties propagated into the Arrhenius law and the FE inputs.

Asserted: the weighted Arrhenius fit's covariance gives sigma(ln D(T)) that matches a Monte Carlo of
the Arrhenius law over its parameter covariance and the fit's own D(300 K) error; the FE stage reads
each MD law's covariance (NaN for an input law) and stores D_err = D sigma(ln D) per model and
temperature.
"""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.analysis.diffusion import K_B_EV, arrhenius_fit
from argyro_run.fe.tasks import case_laws, law_sigma_lnD
from argyro_run.results import Result


def _fit():
    T = np.array([500.0, 600.0, 700.0, 800.0])
    D = 2e-7 * np.exp(-0.3 / (K_B_EV * T)) * np.array([1.1, 0.93, 1.04, 0.97])
    return T, D, arrhenius_fit(T, D, 0.08 * D)


def test_sigma_lnD_matches_monte_carlo_and_the_fit_prediction():
    _, _, f = _fit()
    temps = np.array([300.0, 450.0, 900.0])
    sig = law_sigma_lnD(f["cov"][None], temps)
    assert sig.shape == (1, 3)
    d300, e300 = f["predict"](300.0)
    assert sig[0, 0] == pytest.approx(e300 / d300, rel=1e-12)
    rng = np.random.default_rng(1)
    p = rng.multivariate_normal([np.log(f["D0_m2_per_s"]), f["Ea_eV"]], f["cov"], size=200_000)
    lnD = p[:, :1] - p[:, 1:] / (K_B_EV * temps[None, :])
    np.testing.assert_allclose(sig[0], lnD.std(axis=0), rtol=0.02)
    # extrapolation far from the fitted temperatures is less certain than inside them
    assert sig[0, 0] > sig[0, 1] and sig[0, 2] < sig[0, 0]


def test_fe_case_laws_carry_the_fit_covariance():
    _, _, f = _fit()
    r = Result()
    for kind in ("tracer", "gb_parallel", "gb_perpendicular"):
        r.add(f"structures/s/{kind}/D0_m2_per_s", f["D0_m2_per_s"], "m^2/s")
        r.add(f"structures/s/{kind}/Ea_eV", f["Ea_eV"], "eV")
        r.add(f"structures/s/{kind}/cov_lnD0_Ea", f["cov"], "1, eV")
    md = lambda k: {"source": "md", "md": [{"task": "arrhenius/L", "fit": f"structures/s/{k}",  # noqa: E731
                                              "structure": "L/s"}]}
    case = {"name": "c", "sources": {"bulk": md("tracer"), "gb_parallel": md("gb_parallel"),
                                     "gb_perpendicular": {"source": "input", "input": {"D0_m2_per_s": 1e-8,
                                                                                        "Ea_eV": 0.2}}}}
    laws = case_laws(case, {"arrhenius/L": r})
    np.testing.assert_array_equal(laws["bulk"]["cov_lnD0_Ea"][0], f["cov"])
    assert laws["gb_parallel"]["cov_lnD0_Ea"].shape == (1, 2, 2)
    assert np.isnan(laws["gb_perpendicular"]["cov_lnD0_Ea"]).all()
    assert np.isnan(law_sigma_lnD(laws["gb_perpendicular"]["cov_lnD0_Ea"], [300.0])).all()
