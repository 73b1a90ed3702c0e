"""Loader: every problem named by key path, line and allowed values; templates validate."""

from __future__ import annotations

import filecmp
import os
from pathlib import Path

import pytest

from argyro_run.config import config_from_text, load_config
from argyro_run.config.loader import key_lines
from argyro_run.errors import UserError
from argyro_run.templates import template_companions, template_names

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "argyro_run" / "templates"


def problems_of(text: str) -> list[str]:
    with pytest.raises(UserError) as exc:
        config_from_text(text)
    return exc.value.problems


@pytest.mark.parametrize("text", ["", "# nothing\n", '[run]\nname = "x"\nseed = 3\n',
                                  '[md]\ntemperatures_K = [600.0]\n', '[potential]\nlevel = 8\n'])
def test_input_asking_for_no_work_is_an_error(text):
    """No [[materials]] and no [microstructure]: the plan would be empty, so the input is refused
    with what a minimal input needs (also when other sections are set)."""
    (p,) = problems_of(text)
    assert p.startswith("the input asks for no work") and "[[materials]]" in p and "[microstructure]" in p
    assert "argyro-run init quickstart" in p


def test_minimal_input_is_valid_with_defaults():
    cfg = config_from_text('[[materials]]\nname = "LPSCl"\n')
    assert cfg.run.on_error == "stop" and cfg.reference.calculator == "tblite"
    assert [m.name for m in cfg.materials] == ["LPSCl"] and cfg.md is None
    assert config_from_text("[microstructure]\n").microstructure is not None


@pytest.mark.parametrize("name", ["quickstart", "Li6PS5Cl", "Li6PS5Br", "Li6PS5I", "new-material"])
def test_templates_validate_and_inputs_are_identical(name):
    assert name in template_names()
    cfg = load_config(TEMPLATES / f"{name}.toml", check_files=name != "new-material")
    assert cfg.base_dir == TEMPLATES.resolve()
    assert filecmp.cmp(TEMPLATES / f"{name}.toml", REPO / "inputs" / f"{name}.toml", shallow=False)


def test_inputs_has_no_extra_templates():
    assert sorted(p.stem for p in (REPO / "inputs").glob("*.toml")) == template_names()


def test_unknown_key_did_you_mean_with_line():
    (p,) = problems_of('[run]\nname = "x"\nsede = 3\n')
    assert p.startswith("run.sede (line 3): unknown key; did you mean 'seed'?")
    (p,) = problems_of('[potentail]\nlevel = 6\n')
    assert "potentail (line 1)" in p and "did you mean 'potential'?" in p


def test_unknown_key_looking_like_a_model_name():
    (p,) = problems_of('[run]\nMaterial = 1\n')
    assert p.startswith("run.Material (line 2): unknown key")


def test_nested_key_path_and_line():
    text = ('[[materials]]\nname = "a"\n[[materials]]\nname = "b"\n'
            '[[materials.grain_boundaries]]\nsigma = 5\n[[materials.grain_boundaries]]\nsigma = 4\n')
    probs = problems_of(text)
    assert any(p.startswith("materials[1].grain_boundaries[1].sigma (line 8):") and "odd" in p and "found 4" in p
               for p in probs), probs


def test_all_problems_reported_at_once():
    probs = problems_of('[run]\non_error = "ignore"\nseed = -1\n[potential]\nlevel = 7\n[parallel]\nranks_per_md = 0\n')
    keys = sorted(p.split(" ")[0] for p in probs)
    assert keys == ["parallel.ranks_per_md", "potential.level", "run.on_error", "run.seed"]
    assert any("'stop' or 'continue'" in p and "'ignore'" in p for p in probs)


def test_wrong_type_names_found_value():
    (p,) = problems_of('[md]\ntimestep_fs = "fast"\n')
    assert p.startswith("md.timestep_fs (line 2):") and "'fast'" in p


def test_cross_field_checks():
    base = '[[materials]]\nname = "L"\nhalide = "Br"\n[potential]\nlevel = 6\nspecies = ["Li", "P", "S", "Cl"]\n' \
           '[[active_learning.levels]]\nlevel = 6\ngamma_select = 3.0\ngamma_break = 2.0\n' \
           '[md]\nproduction_ps = 10.0\n[analysis]\nfit_start_ps = 12.0\n[microstructure]\n' \
           'grain_sizes_nm = [0.5]\ngb_thickness_nm = 1.0\n'
    text = "\n".join(problems_of(base))
    assert "gamma_break (2.0) must be larger than gamma_select (3.0)" in text
    assert "grain size 0.5 nm must be larger than gb_thickness_nm" in text
    fixed = base.replace("gamma_break = 2.0", "gamma_break = 5.0").replace("[0.5]", "[50.0]")
    text = "\n".join(problems_of(fixed))
    assert "potential.species" in text and "['Br']" in text
    assert "analysis.fit_start_ps (12.0) must be inside md.production_ps (10.0)" in text
    ok = fixed.replace('"Cl"]', '"Br"]').replace("fit_start_ps = 12.0", "fit_start_ps = 0.5")
    config_from_text(ok)


def test_fe_alone_needs_explicit_diffusivities():
    text = "[microstructure]\ngrain_sizes_nm = [50.0]\n[fe]\ntemperatures_K = [300.0]\n"
    assert any("fe.bulk" in p for p in problems_of(text))
    law = "D0_m2_per_s = 1e-7\nEa_eV = 0.3\n"
    cfg = config_from_text(text + "".join(f"[fe.{k}]\n{law}" for k in ("bulk", "gb_parallel", "gb_perpendicular")))
    assert cfg.fe.bulk.Ea_eV == 0.3


def test_md_from_given_potential_without_learning():
    text = ('[[materials]]\nname = "L"\n[active_learning]\nenabled = false\n[md]\nproduction_ps = 20.0\n')
    assert any("potential.file" in p for p in problems_of(text))
    config_from_text(text + '[potential]\nfile = "x.mtp"\n')


def test_toml_syntax_error_has_line():
    with pytest.raises(UserError) as exc:
        config_from_text('[run]\nname = "x"\nseed = = 3\n')
    assert "not valid TOML" in str(exc.value) and "line 3" in exc.value.problems[0]


@pytest.mark.parametrize("content", [b"\xff\xfe\x00junk", b"\x00\x01\x02", b"a" * 100 + b"\n\x80"])
def test_binary_and_non_utf8_files(tmp_path, content):
    f = tmp_path / "bad.toml"
    f.write_bytes(content)
    with pytest.raises(UserError):
        load_config(f)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(UserError, match="is a directory"):
        load_config(tmp_path)


def test_deep_nesting_and_huge_numbers():
    with pytest.raises(UserError):
        config_from_text("x = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(UserError):
        config_from_text("[run]\nseed = " + "9" * 400 + "\n")
    with pytest.raises(UserError):
        config_from_text("[md]\ntimestep_fs = 1e400\n")
    with pytest.raises(UserError):
        config_from_text("[md]\ntimestep_fs = nan\n")


def test_validation_creates_no_file(tmp_path):
    f = tmp_path / "in.toml"
    f.write_text((TEMPLATES / "quickstart.toml").read_text())
    before = sorted(os.listdir(tmp_path))
    load_config(f)
    assert sorted(os.listdir(tmp_path)) == before


def test_key_lines_array_tables():
    lines = key_lines('[[a]]\nx = 1\n[[a.b]]\ny = 2\n[[a]]\n[[a.b]]\ny = [\n 1,\n]\nz = 3\n')
    assert lines["a[0].x"] == 2 and lines["a[0].b[0].y"] == 4
    assert lines["a[1].b[0].y"] == 7 and lines["a[1].b[0].z"] == 10


def test_named_files_must_exist(tmp_path):
    f = tmp_path / "in.toml"
    f.write_text('[[materials]]\nname = "L"\nstructure_file = "s.cif"\n')
    with pytest.raises(UserError) as exc:
        load_config(f)
    assert exc.value.problems[0].startswith("materials[0].structure_file (line 3): file 's.cif' not found")
    (tmp_path / "s.cif").write_text("x")
    with pytest.raises(UserError) as exc:  # present but unreadable: the key and ASE's reason
        load_config(f)
    assert exc.value.problems[0].startswith("materials[0].structure_file: cannot read")
    (tmp_path / "s.cif").write_bytes(template_companions("new-material")["example_Li6PS5Cl.cif"])
    assert load_config(f).resolve("s.cif") == tmp_path.resolve() / "s.cif"


def test_fit_start_beyond_default_fit_end():
    """The default end of the MSD fit window is half a block: a start at or after it is caught at
    validation (before any MD runs), an explicit end or a smaller start is fine."""
    base = ('[[materials]]\nname = "L"\n[potential]\nfile = "x.mtp"\n[active_learning]\nenabled = false\n'
            '[md]\nproduction_ps = 100.0\n[analysis]\nn_blocks = 5\nfit_start_ps = 10.0\n')
    text = "\n".join(problems_of(base))
    assert "analysis.fit_start_ps (10.0) must be below the default end of the fit window" in text
    assert "(9.95 ps)" in text               # 1001 samples every 0.1 ps: blocks of 200, 19.9 ps of lags
    config_from_text(base + "fit_end_ps = 15.0\n")
    config_from_text(base.replace("fit_start_ps = 10.0", "fit_start_ps = 4.0"))


def test_fit_end_within_the_block_the_analysis_cuts():
    """The input check measures a block as the analysis task does (config.analysis.block_length_ps):
    600 ps sampled every 1 ps in 2 blocks hold 299 ps of lags, so a window ending at 300 ps is refused
    before any MD (the seventh validation study found it only in the analysis, after an hour), and
    one ending at 299 ps passes (the task computes its block with the same function)."""
    from argyro_run.config.analysis import block_length_ps, production_samples

    base = ('[[materials]]\nname = "L"\n[potential]\nfile = "x.mtp"\n[active_learning]\nenabled = false\n'
            '[md]\nproduction_ps = 600.0\ndump_interval_fs = 1000.0\n[analysis]\nn_blocks = 2\nfit_start_ps = 30.0\n')
    text = "\n".join(problems_of(base + "fit_end_ps = 300.0\n"))
    assert "analysis.fit_end_ps (300.0) must not exceed the block length (299 ps" in text and "<= 299" in text
    config_from_text(base + "fit_end_ps = 299.0\n")
    assert production_samples(600.0, 1000.0) == 601 and block_length_ps(601, 1.0, 2) == 299.0
    assert block_length_ps(production_samples(100.0, 100.0), 0.1, 5) == pytest.approx(19.9)


def test_production_length_per_temperature():
    """md.production_ps takes one length per temperature (in the order of temperatures_K); a list of
    another length is refused naming the key; the fit window must fit in the shortest run's block."""
    from argyro_run.config.analysis import block_length_ps, production_samples

    base = ('[[materials]]\nname = "L"\n[potential]\nfile = "x.mtp"\n[active_learning]\nenabled = false\n'
            '[md]\ntemperatures_K = [600.0, 700.0, 800.0]\ndump_interval_fs = 1000.0\n')
    cfg = config_from_text(base + "production_ps = [2000.0, 1000.0, 600.0]\n")
    assert cfg.md.production_lengths_ps() == [2000.0, 1000.0, 600.0]
    assert cfg.md.production_ps_at(700.0) == 1000.0
    with pytest.raises(ValueError, match="not one of md.temperatures_K"):
        cfg.md.production_ps_at(650.0)
    assert config_from_text(base + "production_ps = 300.0\n").md.production_lengths_ps() == [300.0] * 3
    text = "\n".join(problems_of(base + "production_ps = [2000.0, 1000.0]\n"))
    assert "md.production_ps" in text and "2 lengths for 3 temperatures_K" in text and "one length per temperature" in text
    text = "\n".join(problems_of(base + "production_ps = [2000.0, -1.0, 600.0]\n"))
    assert "production_ps" in text
    # the window is checked against the shortest run (600 ps in 2 blocks: 299 ps), not the longest
    window = "[analysis]\nn_blocks = 2\nfit_start_ps = 30.0\nfit_end_ps = {}\n"
    text = "\n".join(problems_of(base + "production_ps = [2000.0, 1000.0, 600.0]\n" + window.format(500.0)))
    assert "analysis.fit_end_ps (500.0) must not exceed the block length (299 ps: md.production_ps (the shortest)" in text
    config_from_text(base + "production_ps = [2000.0, 1000.0, 600.0]\n" + window.format(299.0))
    assert block_length_ps(production_samples(600.0, 1000.0), 1.0, 2) == 299.0
