"""``[[materials]]`` from structure files: the material is what its file says (elements, counts,
cell), argyrodite-only keys only for files recognised as argyrodites, any mobile ion with its
charge, and bad files rejected at validation with the key and the reason (exit 2, nothing written)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from ase.build import bulk

from argyro_run.config import load_config
from argyro_run.errors import UserError
from argyro_run.structures import argyrodite, site_exchange
from argyro_run.structures.disorder import mix_halides
from argyro_run.structures.files import is_argyrodite, read_structure, write_structure
from argyro_run.templates import template_companions
from tests._support.env import CLI

LPSCL = template_companions("new-material")["example_Li6PS5Cl.cif"]
NA3PS4 = template_companions("Na3PS4")["example_Na3PS4.cif"]


def li2s():
    """Antifluorite Li2S, a = 5.7158 A (S on the fcc sites, Li in the tetrahedral holes), 12 atoms."""
    return bulk("SLi2", "fluorite", a=5.7158, cubic=True)


def write_input(tmp_path, material: str, extra: str = "") -> object:
    f = tmp_path / "in.toml"
    f.write_text(f"[[materials]]\n{material}\n{extra}")
    return f


def problems(path) -> list[str]:
    with pytest.raises(UserError) as exc:
        load_config(path)
    return exc.value.problems


def cli(*args, cwd):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, cwd=str(cwd))


def test_li2s_as_in_the_issue(tmp_path):
    """The issue's case: an antifluorite Li2S file with species Li, S and no halide is valid; the
    elements come from the file, and potential.species defaults to them in file order."""
    write_structure(tmp_path / "Li2S.cif", li2s())
    f = write_input(tmp_path, 'name = "li2s"\nstructure_file = "Li2S.cif"', '[potential]\nspecies = ["Li", "S"]\n')
    p = cli("validate", str(f), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    f = write_input(tmp_path, 'name = "li2s"\nstructure_file = "Li2S.cif"')
    cfg = load_config(f)
    (m,) = cfg.materials
    assert cfg.potential.species == ["S", "Li"]  # the file's order of first appearance
    assert m.composition(cfg.base_dir) == {"S": 4, "Li": 8}
    assert m.mobile_species(cfg.base_dir) == "Li" and m.mobile_charge(cfg.base_dir) == 1
    assert m.carrier_density_per_nm3(cfg.base_dir) == pytest.approx(8 / 0.57158**3)


def test_argyrodite_keys_rejected_for_other_structures(tmp_path):
    write_structure(tmp_path / "Li2S.cif", li2s())
    f = write_input(tmp_path, 'name = "li2s"\nstructure_file = "Li2S.cif"\nhalide = "Cl"\nformula = "Li6PS5Cl"\n'
                              'site_disorder = 0.3\nvariants = ["ordered", "disordered"]')
    (line,) = problems(f)
    assert line.startswith("materials[0]: halide, formula, site_disorder, variants = 'disordered' describe an "
                           "argyrodite Li6PS5X, but Li2S.cif (S4Li8) is not one")
    assert "composition Li:P:S:X = 6:1:5:1 and the F-43m anion framework" in line
    p = cli("validate", str(f), cwd=tmp_path)  # the CLI: exit 2, no traceback, a final newline
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.endswith("\n")
    assert "describe an argyrodite" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["Li2S.cif", "in.toml"]  # nothing written


def test_argyrodite_file_keeps_disorder_and_halide_from_the_file(tmp_path):
    """An argyrodite file is recognised (not assumed): halide read from it, the disordered
    variant available, a wrong halide rejected."""
    (tmp_path / "a.cif").write_bytes(LPSCL)
    f = write_input(tmp_path, 'name = "a"\nstructure_file = "a.cif"\nvariants = ["ordered", "disordered"]\n'
                              "site_disorder = 0.5")
    cfg = load_config(f)
    assert cfg.potential.species == ["Li", "P", "S", "Cl"]
    from argyro_run.structures.tasks import build_material

    out = build_material(cfg.materials[0], seed=3, base_dir=tmp_path)
    dis = out["disordered"]
    assert dis.info["n_site_exchanges"] == 2 and dis.info["halide"] == "Cl"
    assert sorted(dis.get_chemical_symbols()) == sorted(out["ordered"].get_chemical_symbols())
    f = write_input(tmp_path, 'name = "a"\nstructure_file = "a.cif"\nhalide = "Br"')
    (line,) = problems(f)
    assert line.startswith("materials[0].halide: 'Br' but a.cif contains ['Cl']")


def test_argyrodite_recognition():
    cell = argyrodite("Br")
    assert is_argyrodite(cell)
    assert is_argyrodite(site_exchange(cell, 0.5, seed=1))           # 4a/4c mixed
    assert is_argyrodite(mix_halides(argyrodite("Cl"), "Br", 0.5, seed=2))
    shuffled = cell.copy()  # right composition, wrong framework: P and S positions exchanged at random
    sym = np.array(shuffled.get_chemical_symbols())
    frame = np.flatnonzero(sym != "Li")
    perm = np.random.default_rng(0).permutation(frame)
    shuffled.positions[frame] = cell.positions[perm]
    assert not is_argyrodite(shuffled)
    assert not is_argyrodite(li2s())
    lpscl = argyrodite("Cl")
    assert not is_argyrodite(lpscl[[i for i, s in enumerate(lpscl.get_chemical_symbols()) if s != "Cl"]])


def test_mobile_ion(tmp_path):
    (tmp_path / "n.cif").write_bytes(NA3PS4)
    f = write_input(tmp_path, 'name = "n"\nstructure_file = "n.cif"')
    (line,) = problems(f)
    assert line == "materials[0].mobile_ion: required, n.cif (Na6P2S8) contains no Li; allowed: one of its cations ['Na']"
    f = write_input(tmp_path, 'name = "n"\nstructure_file = "n.cif"\nmobile_ion = "Ag"')
    (line,) = problems(f)
    assert line.startswith("materials[0].mobile_ion: 'Ag' is not in n.cif (Na6P2S8); allowed")
    f = write_input(tmp_path, 'name = "n"\nstructure_file = "n.cif"\nmobile_ion = "Na"', '[md]\n')
    cfg = load_config(f)
    m = cfg.materials[0]
    assert cfg.potential.species == ["Na", "P", "S"]
    assert m.mobile_charge(cfg.base_dir) == 1
    assert m.carrier_density_per_nm3(cfg.base_dir) == pytest.approx(6 / (6.956**2 * 7.088 * 1e-3))
    from argyro_run.plan import build_plan

    plan = build_plan(cfg)
    md = next(t for t in plan.tasks if t.kind == "md_run")
    an = next(t for t in plan.tasks if t.kind == "diffusion")
    assert md.params["md"]["species"] == "Na"
    assert an.params["analysis"]["species"] == "Na" and an.params["analysis"]["charge_e"] == 1
    f = write_input(tmp_path, 'name = "n"\nstructure_file = "n.cif"\nmobile_ion = "Na"', '[md]\n[analysis]\nspecies = "Li"\n')
    (line,) = problems(f)
    assert line.startswith("analysis.species 'Li' is not in materials[0] (n: ['Na', 'P', 'S'])")
    with pytest.raises(UserError) as exc:  # the builder makes Li6PS5X only
        load_config(write_input(tmp_path, 'name = "b"\nmobile_ion = "Na"'))
    assert "built-in builder makes Li6PS5X" in exc.value.problems[0]
    with pytest.raises(UserError) as exc:
        load_config(write_input(tmp_path, 'name = "b"\nstructure_file = "n.cif"\nmobile_ion = "S"'))
    assert "is not a cation" in exc.value.problems[0]


def test_species_default_over_materials(tmp_path):
    (tmp_path / "n.cif").write_bytes(NA3PS4)
    f = tmp_path / "in.toml"
    f.write_text('[[materials]]\nname = "a"\nhalide = "Br"\n[[materials]]\nname = "n"\nstructure_file = "n.cif"\n'
                 'mobile_ion = "Na"\n')
    assert load_config(f).potential.species == ["Li", "P", "S", "Br", "Na"]
    f.write_text(f.read_text() + '[potential]\nspecies = ["Li", "P", "S", "Br"]\n')
    (line,) = problems(f)
    assert line.startswith("potential.species ['Li', 'P', 'S', 'Br'] lacks ['Na']")


@pytest.mark.parametrize("case", ["missing", "unreadable", "partial", "charged", "no_cation"])
def test_bad_structure_files(tmp_path, case):
    name = "s.cif"
    if case == "unreadable":
        (tmp_path / name).write_text("data_x\n_cell_length_a oops\n")
    elif case == "partial":
        text = NA3PS4.decode().replace("Na  Na2  a  0.000  0.000  0.000  1.0",
                                       "Na  Na2  a  0.000  0.000  0.000  0.5")
        (tmp_path / name).write_text(text)
    elif case == "charged":
        a = li2s()
        del a[[i for i, s in enumerate(a.get_chemical_symbols()) if s == "Li"][:1]]
        write_structure(tmp_path / name, a)
    elif case == "no_cation":
        write_structure(tmp_path / name, bulk("NaCl", "rocksalt", a=5.64, cubic=True))
    f = write_input(tmp_path, f'name = "x"\nstructure_file = "{name}"\nmobile_ion = "Li"', "[md]\n")
    p = cli("validate", str(f), cwd=tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    expected = {"missing": "materials[0].structure_file (line 3): file 's.cif' not found",
                "unreadable": "materials[0].structure_file: cannot read",
                "partial": "materials[0].structure_file: " ,
                "charged": "materials[0].structure_file: s.cif (S4Li7) has a net formal charge of -1 e",
                "no_cation": "materials[0].mobile_ion: 'Li' is not in s.cif"}[case]
    assert expected in p.stderr, p.stderr
    if case == "partial":
        assert "partially occupied sites: Na2 (Na 0.5)" in p.stderr


def test_gb_needs_a_cubic_cell(tmp_path):
    (tmp_path / "n.cif").write_bytes(NA3PS4)
    f = write_input(tmp_path, 'name = "n"\nstructure_file = "n.cif"\nmobile_ion = "Na"\n'
                              "[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]")
    (line,) = problems(f)
    assert line.startswith("materials[0].grain_boundaries: the CSL grain-boundary builder handles cubic cells only")
    assert "6.956, 6.956, 7.088 A" in line


def test_gb_of_a_cubic_structure_file(tmp_path):
    """A Sigma5 bicrystal of a non-argyrodite cubic file (antifluorite Li2S) is built at plan time and
    by the structures task: neutral, grains of the bulk composition less whole Li2S units."""
    write_structure(tmp_path / "Li2S.cif", li2s())
    f = write_input(tmp_path, 'name = "l"\nstructure_file = "Li2S.cif"\n'
                              "[[materials.grain_boundaries]]\nsigma = 5\nplane = [3, 1, 0]\ngrain_thickness_cells = 2")
    cfg = load_config(f)
    from argyro_run.structures.tasks import build_material, structure_sizes

    out = build_material(cfg.materials[0], seed=1, base_dir=tmp_path)
    gb = out["gb_sigma5_310"]
    sym = np.array(gb.get_chemical_symbols())
    assert (sym == "Li").sum() == 2 * (sym == "S").sum()  # neutral Li2S
    assert gb.info["gb_lattice"] == "fcc" and gb.info["gb_sigma"] == 5
    assert structure_sizes(cfg.materials[0], base_dir=tmp_path)["gb_sigma5_310"] == len(gb)
    assert read_structure(tmp_path / "Li2S.cif").info.get("mobile_ion") is None


def test_builder_material_mobile_ion_and_carrier_density():
    """The built-in Li6PS5Cl: mobile ion Li (+1), 24 Li per (9.86 A)^3 = 25.04 nm^-3 (the FE
    stage's Nernst-Einstein density, fe.py's documented 25.0)."""
    from argyro_run.config.materials import Material

    m = Material(name="b")
    assert m.mobile_species() == "Li" and m.mobile_charge() == 1
    assert m.elements() == ["Li", "P", "S", "Cl"]
    assert m.carrier_density_per_nm3() == pytest.approx(24 / 0.986**3, rel=1e-12)
