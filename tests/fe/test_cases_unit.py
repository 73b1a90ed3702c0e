"""FE case logic without a solver: GB-model-to-face assignment, crossover grain size, carrier
density, Nernst-Einstein charge, where each diffusivity comes from (provenance)."""

from __future__ import annotations

import numpy as np
import pytest

from argyro_run.errors import UserError
from argyro_run.fe.cases import assign_gb_models, crossover_grain_size, gb_model_counts, mobile_ion_density_per_nm3
from argyro_run.fe.tasks import case_carrier_density, case_laws, nernst_einstein_mS_per_cm
from argyro_run.results import Result


@pytest.mark.parametrize("n, fr, want", [(10, [0.5, 0.5], [5, 5]), (7, [0.5, 0.5], [4, 3]),
                                         (7, [0.2, 0.3, 0.5], [1, 2, 4]), (3, [1.0], [3]), (0, [0.3, 0.7], [0, 0]),
                                         (100, [1 / 3, 1 / 3, 1 / 3], [34, 33, 33]), (5, [0.0, 1.0], [0, 5])])
def test_counts_are_the_fractions_rounded_by_largest_remainder(n, fr, want):
    c = gb_model_counts(n, fr)
    assert c.tolist() == want and c.sum() == n
    assert np.all(np.abs(c - np.asarray(fr) * n) < 1.0)  # as exact as the face count allows


def test_assignment_is_seeded_exact_and_shuffled():
    a = assign_gb_models(40, [0.25, 0.75], seed=3)
    assert a.shape == (40,) and a.dtype == np.int64
    assert np.bincount(a).tolist() == [10, 30]
    assert np.array_equal(a, assign_gb_models(40, [0.25, 0.75], seed=3))
    b = assign_gb_models(40, [0.25, 0.75], seed=4)
    assert not np.array_equal(a, b) and np.bincount(b).tolist() == [10, 30]
    assert not np.array_equal(a, np.sort(a))  # not simply the first faces to the first model


def test_crossover_on_an_analytic_sweep():
    """D_eff/D_bulk = 1 + a/d (fast GBs, brick-layer-like): the crossover is the first sweep size
    with a/d < tolerance."""
    d = np.array([10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000], float)
    a = 40.0
    assert crossover_grain_size(d, 1 + a / d) == 1000.0  # 40/1000 = 4 % < 5 %; 40/500 = 8 %
    assert crossover_grain_size(d, 1 - a / d) == 1000.0  # blocking GBs: same on the other side
    assert crossover_grain_size(d, 1 + a / d, tolerance=0.01) == 5000.0
    assert np.isnan(crossover_grain_size(d, 1 + 1000.0 / d))  # 10 % at 10 um: not reached
    # order of the sweep does not matter; a re-entry outside the band moves the crossover up
    p = np.random.default_rng(0).permutation(len(d))
    assert crossover_grain_size(d[p], (1 + a / d)[p]) == 1000.0
    r = 1 + a / d
    r[7] = 1.2
    assert crossover_grain_size(d, r) == 5000.0
    assert crossover_grain_size(d, np.ones_like(d)) == 10.0


def test_carrier_density_of_li6ps5cl_and_charge_in_nernst_einstein():
    from argyro_run.structures import argyrodite

    at = argyrodite("Cl", lattice_constant_A=9.86)
    n = mobile_ion_density_per_nm3(at, "Li")
    assert n == pytest.approx(24 / 0.986 ** 3, rel=1e-12)  # 24 Li per cubic cell
    assert mobile_ion_density_per_nm3(at, "Cl") == pytest.approx(4 / 0.986 ** 3, rel=1e-12)
    with pytest.raises(ValueError):
        mobile_ion_density_per_nm3(at, "Na")
    s1 = nernst_einstein_mS_per_cm(1e-12, temperature_K=300.0, carrier_density_per_nm3=n)
    s2 = nernst_einstein_mS_per_cm(1e-12, temperature_K=300.0, carrier_density_per_nm3=n, charge=2)
    assert s2 == pytest.approx(4 * s1, rel=1e-14)
    # sigma = n e^2 D / (k_B T): 1 S/m = 10 mS/cm
    assert s1 == pytest.approx(n * 1e27 * 1.602176634e-19 ** 2 * 1e-12 / (1.380649e-23 * 300.0) * 10, rel=1e-12)


def _arrhenius_result():
    r = Result()
    for name, kind, d0, ea in (("ordered", "tracer", 1e-7, 0.30), ("g5", "gb_parallel", 1e-6, 0.2),
                               ("g5", "gb_perpendicular", 1e-8, 0.4), ("g3", "gb_parallel", 2e-7, 0.25)):
        r.add(f"structures/{name}/{kind}/D0_m2_per_s", d0, "m^2/s")
        r.add(f"structures/{name}/{kind}/Ea_eV", ea, "eV")
    r.set_attrs("structures/g3/gb_perpendicular", no_fit="1 temperature with a positive diffusivity")
    return r


def _case(**law_override):
    fits = lambda s, k: {"task": "arrhenius/L", "fit": f"structures/{s}/{k}", "structure": f"L/{s}"}  # noqa: E731
    src = {"bulk": {"source": "md: b", "md": [fits("ordered", "tracer")]},
           "gb_parallel": {"source": "md: p", "md": [fits("g5", "gb_parallel"), fits("g3", "gb_parallel")]},
           "gb_perpendicular": {"source": "md: n", "md": [fits("g5", "gb_perpendicular")]}}
    src.update(law_override)
    return {"name": "c", "bulk": "L/ordered", "gb": ["L/g5", "L/g3"], "sources": src,
            "structures_task": "structures/L"}


def test_case_laws_take_each_kind_from_its_named_source():
    laws = case_laws(_case(), {"arrhenius/L": _arrhenius_result()})
    assert laws["bulk"]["D0_m2_per_s"].tolist() == [1e-7] and laws["bulk"]["models"] == ["L/ordered"]
    assert laws["gb_parallel"]["D0_m2_per_s"].tolist() == [1e-6, 2e-7]  # one law per GB model, in order
    assert laws["gb_parallel"]["Ea_eV"].tolist() == [0.2, 0.25]
    assert laws["gb_parallel"]["models"] == ["L/g5", "L/g3"] and laws["gb_parallel"]["source"] == "md: p"
    law = {"D0_m2_per_s": 5e-9, "Ea_eV": 0.1}
    laws = case_laws(_case(gb_perpendicular={"source": "input: fe.gb_perpendicular", "input": law}),
                     {"arrhenius/L": _arrhenius_result()})
    assert laws["gb_perpendicular"]["models"] == ["input"] and laws["gb_perpendicular"]["Ea_eV"].tolist() == [0.1]
    assert laws["gb_perpendicular"]["source"] == "input: fe.gb_perpendicular"


def test_a_missing_fit_is_an_error_never_a_substitution():
    case = _case()
    case["sources"]["gb_perpendicular"]["md"].append(
        {"task": "arrhenius/L", "fit": "structures/g3/gb_perpendicular", "structure": "L/g3"})
    with pytest.raises(UserError) as exc:
        case_laws(case, {"arrhenius/L": _arrhenius_result()})
    msg = str(exc.value)
    assert "structures/g3/gb_perpendicular" in msg and "1 temperature" in msg and "fe.gb_perpendicular" in msg


def test_carrier_density_source():
    from argyro_run.results import add_atoms
    from argyro_run.structures import argyrodite

    r = Result()
    add_atoms(r, "ordered", argyrodite("Cl", lattice_constant_A=10.0))
    n, src = case_carrier_density(_case(), {}, {"structures/L": r})
    assert n == pytest.approx(24.0, rel=1e-12) and "L/ordered" in src
    n, src = case_carrier_density(_case(), {"carrier_density_per_nm3": 20.0}, {"structures/L": r})
    assert (n, src) == (20.0, "input: fe.carrier_density_per_nm3")
    n, src = case_carrier_density({"name": "explicit", "bulk": None, "structures_task": None}, {}, {})
    assert n == 25.0 and src.startswith("default")
