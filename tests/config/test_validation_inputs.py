"""The validation study's inputs (``inputs/validation-*.toml``, docs/validation.md) validate, plan,
and compare like with like: the same reference, potential settings, MD protocol and analysis
window for every halide (claim b compares their activation energies), the ordered and the 50 %-disordered
variant in each, ordered and disordered Li6PS5Cl with a GB model per phase (claims a, c) and the Li6PS5I
polycrystal (ordered grains) over 250-500 K and 20 nm - 1 um (claim d). Read from the shipped
templates, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from argyro_run.config import load_config
from argyro_run.plan import build_plan

TEMPLATES = Path(__file__).resolve().parents[2] / "argyro_run" / "templates"
HALIDES = {"Cl": "LPSCl", "Br": "LPSBr", "I": "LPSI"}


def _cfg(x: str):
    return load_config(TEMPLATES / f"validation-{HALIDES[x]}.toml")


@pytest.fixture(scope="module")
def configs():
    return {x: _cfg(x) for x in HALIDES}


def test_every_validation_input_plans(configs):
    shipped = sorted(p.stem for p in TEMPLATES.glob("validation-*.toml"))
    assert shipped == sorted(f"validation-{n}" for n in HALIDES.values())
    for x, cfg in configs.items():
        ids = {t.id for t in build_plan(cfg).tasks}
        m = HALIDES[x]
        assert f"arrhenius/{m}" in ids and f"analysis/{m}/disordered" in ids, x
        assert all(f"md/{m}/disordered/T{T:g}" in ids for T in cfg.md.temperatures_K), x


# how long the learning may go and how hard it is checked may differ between the halides (the sixth
# study learned Li6PS5Br with check_frames = 2 and 20 iterations, docs/validation.md; each potential is
# checked against the reference on its own MD); what the claim compares must not
_LEARNING_EFFORT = {"max_iterations", "check_frames", "check_force_ratio"}


def test_halides_share_reference_potential_md_and_analysis(configs):
    def same(cfg):
        return (cfg.reference.model_dump(), cfg.potential.model_dump(exclude={"species"}),
                cfg.active_learning.model_dump(exclude=_LEARNING_EFFORT),
                cfg.md.model_dump(exclude={"structures", "gamma_break"}), cfg.analysis.model_dump())

    ref = same(configs["Cl"])
    assert all(same(c) == ref for c in configs.values())
    # SevenNet-l3i5 (docs/references.md): tblite's GFN1-xTB fails on Li6PS5Br and Li6PS5I
    assert (configs["Cl"].reference.calculator, configs["Cl"].reference.model) == ("sevenn", "7net-l3i5")
    # the study's learning: collapse filters and the framework check, every atom's trajectory kept
    al = configs["Cl"].active_learning
    assert al.check_framework and al.max_force_eV_per_A == 30.0 and al.max_iterations >= 8
    assert configs["Cl"].md.trajectory_atoms == "all" and min(configs["Cl"].md.temperatures_K) == 500.0
    for x, cfg in configs.items():
        (m,) = cfg.materials
        # claim b is compared in each variant: the ordered lattice (where the reference's own barrier grows with
        # the radius, docs/references.md) and the 50 %-disordered one
        assert m.halide == x and set(m.variants) == {"ordered", "disordered"} and m.site_disorder == 0.5
        assert m.supercell == [2, 2, 2]
        assert cfg.md.structures is None or {"ordered", "disordered"} <= set(cfg.md.structures)   # simulated everywhere
        assert cfg.md.reference_check_frames >= 3            # every potential checked on its own MD


def test_claims_a_c_have_both_phases_and_a_gb_per_phase(configs):
    (m,) = configs["Cl"].materials
    assert set(m.variants) == {"ordered", "disordered"}
    gbs = {g.name(): g.site_disorder for g in m.grain_boundaries}
    assert sorted(v or 0.0 for v in gbs.values()) == [0.0, 0.5]


def test_claim_d_polycrystal_sweep(configs):
    cfg = configs["I"]
    T = cfg.fe.temperatures_K
    assert min(T) == 250.0 and max(T) == 500.0 and len(T) >= 5   # c/T^2 needs more points than 3 parameters
    d = cfg.microstructure.grain_sizes_nm
    assert min(d) == 20.0 and max(d) == 1000.0
    case = {c.name: c for c in cfg.fe.cases}["ordered"]           # Li6PS5I's physical phase
    assert case.bulk == "LPSI/ordered" and case.gb == ["LPSI/gb_sigma5_310"]
    ids = {t.id for t in build_plan(cfg).tasks}
    assert "fe/ordered" in ids and "md/LPSI/ordered/T500" in ids
