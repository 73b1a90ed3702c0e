"""Validation of FE cases: every bad input names its key and what is allowed, exits 2 through
``argyro-run validate`` / ``run`` and writes nothing; a kind that is neither given nor computed
is an error, never a substitution."""

from __future__ import annotations

import subprocess

import pytest

from argyro_run.cli import main
from argyro_run.config import config_from_text
from argyro_run.errors import UserError
from tests._support.env import CLI
from tests._support.inputs import SIGMA5_310, TEST_POTENTIAL

BASE = """
[run]
archive = "out.h5"
workdir = "work"

[[materials]]
name = "L"
variants = ["ordered", "disordered"]
""" + SIGMA5_310 + """
[[materials.grain_boundaries]]
sigma = 3
plane = [-1, 1, 1]
axis = [1, 1, 0]
""" + TEST_POTENTIAL + """
[md]
temperatures_K = [600.0, 700.0]
production_ps = 20.0

[microstructure]
grain_sizes_nm = [10.0, 100.0]
n_grains = 4
dimension = 2

[fe]
temperatures_K = [300.0]
"""

CASE = """
[[fe.cases]]
name = "c"
bulk = "L/ordered"
gb = ["L/gb_sigma5_310", "L/gb_sigma3_-111"]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(UserError) as exc:
        config_from_text(text)
    return exc.value.problems


def test_base_and_a_good_case_validate():
    config_from_text(BASE)
    cfg = config_from_text(BASE + CASE + "gb_fractions = [0.3, 0.7]\ngb_seed = 2\n")
    assert cfg.fe.cases[0].fractions() == [0.3, 0.7]
    assert config_from_text(BASE + CASE).fe.cases[0].fractions() == [0.5, 0.5]


@pytest.mark.parametrize("extra, key, allowed", [
    (CASE.replace('"L/ordered"', '"L/orderd"'), "fe.cases[0].bulk", "['L/disordered', 'L/ordered']"),
    (CASE.replace('"L/ordered"', '"L/gb_sigma5_310"'), "fe.cases[0].bulk", "['L/disordered', 'L/ordered']"),
    (CASE.replace('"L/ordered"', '"X/ordered"'), "fe.cases[0].bulk", "allowed"),
    (CASE.replace('"L/gb_sigma3_-111"', '"L/gb_sigma7"'), "fe.cases[0].gb", "['L/gb_sigma3_-111', 'L/gb_sigma5_310']"),
    (CASE.replace('"L/ordered"', '"ordered"'), "fe.cases[0].bulk", "'<material>/<structure>'"),
    (CASE + "gb_fractions = [0.5, 0.6]\n", "fe.cases[0].gb_fractions", "must sum to 1"),
    (CASE + "gb_fractions = [1.0]\n", "gb_fractions has 1 entries, gb has 2", "one fraction per GB model"),
    (CASE.replace('gb = [', 'gb = ["L/gb_sigma5_310", '), "fe.cases[0].gb", "duplicates"),
    (CASE + "gb_fractions = [1.5, -0.5]\n", "fe.cases[0].gb_fractions[1]", "greater than or equal to 0"),
    (CASE.replace('bulk = "L/ordered"\n', ""), "fe.cases[0].bulk", "fe.bulk"),
    (CASE.replace('gb = ["L/gb_sigma5_310", "L/gb_sigma3_-111"]\n', ""), "fe.cases[0].gb", "fe.gb_parallel"),
    (CASE + CASE, "fe", "names must be unique"),
])
def test_bad_case_names_its_key(extra, key, allowed):
    text = "\n".join(problems_of(BASE + extra))
    assert key in text and allowed in text, text


def test_gb_model_not_simulated_is_an_error_not_a_substitution():
    text = BASE.replace("production_ps = 20.0", 'production_ps = 20.0\nstructures = ["ordered", "gb_sigma5_310"]')
    msg = "\n".join(problems_of(text + CASE))
    assert "fe.cases[0].gb" in msg and "gb_sigma3_-111" in msg and "md.structures" in msg
    # without [md] nothing is computed: each MD kind of the case is an error naming its key
    no_md = BASE[:BASE.index("[md]")] + BASE[BASE.index("[microstructure]"):]
    msg = "\n".join(problems_of(no_md + CASE))
    assert "fe.cases[0].bulk" in msg and "fe.cases[0].gb" in msg and "no [md]" in msg


def test_missing_gb_kinds_in_default_cases_name_the_fe_keys():
    no_gb = BASE.replace(BASE[BASE.index("[[materials.grain_boundaries]]"):BASE.index("[potential]")], "")
    msg = problems_of(no_gb)
    assert len(msg) == 1  # one message for both variants and both kinds
    assert msg[0].startswith("fe.gb_parallel and fe.gb_perpendicular: not given") and "grain_boundaries" in msg[0]
    law = "{ D0_m2_per_s = 1e-8, Ea_eV = 0.3 }"
    assert problems_of(no_gb.replace("[fe]", f"[fe]\ngb_parallel = {law}"))[0].startswith("fe.gb_perpendicular:")
    config_from_text(no_gb.replace("[fe]", f"[fe]\ngb_parallel = {law}\ngb_perpendicular = {law}"))


def test_fe_without_materials_needs_every_law():
    text = "[microstructure]\ngrain_sizes_nm = [50.0]\n[fe]\ntemperatures_K = [300.0]\n"
    assert problems_of(text)[0].startswith("fe.bulk, fe.gb_parallel, fe.gb_perpendicular: not given")
    law = "{ D0_m2_per_s = 1e-7, Ea_eV = 0.3 }"
    msg = problems_of(text + f"bulk = {law}\n")
    assert msg[0].startswith("fe.gb_parallel, fe.gb_perpendicular: not given")
    config_from_text(text + f"bulk = {law}\ngb_parallel = {law}\ngb_perpendicular = {law}\n")


def test_cases_of_two_materials_are_rejected():
    two = BASE.replace("[potential]", '[[materials]]\nname = "M"\nvariants = ["ordered"]\n\n[potential]')
    msg = "\n".join(problems_of(two + CASE.replace('"L/ordered"', '"M/ordered"')))
    assert "fe.cases[0]: bulk and gb name structures of different materials ['L', 'M']" in msg


def test_delta_not_below_grain_size_is_an_error():
    msg = "\n".join(problems_of(BASE.replace("n_grains = 4", "n_grains = 4\ngb_thickness_nm = 10.0")))
    assert "microstructure" in msg and "10" in msg and "gb_thickness_nm" in msg


@pytest.mark.parametrize("verb", ["validate", "run"])
def test_cli_exit_2_key_named_nothing_written(tmp_path, capsys, verb):
    bad = tmp_path / "in.toml"
    bad.write_text(BASE + CASE + "gb_fractions = [0.5, 0.6]\n")
    (tmp_path / "out.h5").write_bytes(b"an older archive")
    before = sorted(p.name for p in tmp_path.iterdir())
    if verb == "validate":
        assert main(["validate", str(bad)]) == 2
        err = capsys.readouterr().err
    else:
        p = subprocess.run([CLI, "run", str(bad)], capture_output=True, text=True, timeout=300,
                           cwd=str(tmp_path))
        assert p.returncode == 2
        err = p.stderr + p.stdout
        assert "Traceback" not in err
    assert "fe.cases" in err and "gb_fractions" in err and "sum to 1" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "out.h5").read_bytes() == b"an older archive"


def test_case_laws_make_md_structures_unnecessary():
    law = "{ D0_m2_per_s = 1e-9, Ea_eV = 0.5 }"
    no_gb = CASE.replace('gb = ["L/gb_sigma5_310", "L/gb_sigma3_-111"]\n', "")
    msg = "\n".join(problems_of(BASE + no_gb))
    assert "fe.cases[0].gb" in msg and "fe.cases[0].laws.gb_parallel and laws.gb_perpendicular" in msg
    cfg = config_from_text(BASE + no_gb + f"laws.gb_parallel = {law}\nlaws.gb_perpendicular = {law}\n")
    assert cfg.fe.cases[0].laws.gb_perpendicular.Ea_eV == 0.5
    msg = "\n".join(problems_of(BASE + CASE + "laws.gb_paralel = " + law + "\n"))
    assert "fe.cases[0].laws.gb_paralel" in msg
