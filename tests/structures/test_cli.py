from pathlib import Path

import numpy as np
from ase.io import read

from argyro_run.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_structure_verb_with_input(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["structure", str(REPO / "inputs" / "quickstart.toml"), "-o", str(out), "--format", "extxyz", "cif"]) == 0
    text = capsys.readouterr().out
    assert "gb_sigma5_310" in text and "wrote 2 structure(s)" in text
    files = sorted(p.name for p in (out / "LPSCl").iterdir())
    assert files == ["disordered.cif", "disordered.extxyz", "gb_sigma5_310.cif", "gb_sigma5_310.extxyz"]
    gb = read(out / "LPSCl" / "gb_sigma5_310.extxyz")
    assert set(gb.arrays["grain_id"]) == {1, 2}
    assert gb.arrays["gb_distance_A"].min() >= 0 and np.allclose(gb.arrays["gb_normal"], [0, 0, 1])
    assert len(read(out / "LPSCl" / "disordered.cif")) == 52


def test_structure_verb_single(tmp_path, capsys):
    p = tmp_path / "s.extxyz"
    assert main(["structure", "--halide", "Br", "--supercell", "2", "2", "2", "--site-exchange", "0.25", "-o", str(p)]) == 0
    at = read(p)
    assert len(at) == 416
    sym = np.array(at.get_chemical_symbols())
    assert np.sum((at.arrays["sublattice"] == 5) & (sym == "Br")) == 8
    p = tmp_path / "POSCAR"
    assert main(["structure", "--halide", "I", "--gb-sigma", "3", "--gb-plane", "-1", "1", "1", "--gb-axis", "1", "1", "0",
                 "-o", str(p)]) == 0
    assert "I" in read(p, format="vasp").get_chemical_symbols()


def test_structure_verb_errors(tmp_path, capsys):
    assert main(["structure", "-o", str(tmp_path / "x")]) == 2
    assert "give an input TOML file" in capsys.readouterr().err
    assert main(["structure", "--halide", "Cl", "-o", str(tmp_path / "x.pdf")]) == 2
    assert main(["structure", str(REPO / "inputs" / "quickstart.toml"), "--halide", "Cl", "-o", str(tmp_path)]) == 2
    assert main(["structure", "--halide", "Cl", "--gb-sigma", "5", "--gb-axis", "1", "1", "1",
                 "-o", str(tmp_path / "g.extxyz")]) == 2
    assert "no Sigma5" in capsys.readouterr().err
    assert not (tmp_path / "g.extxyz").exists()


def test_structure_verb_writes_nothing_when_a_material_fails(tmp_path, capsys):
    (tmp_path / "cell.vasp").write_text("not a POSCAR\n")
    inp = tmp_path / "in.toml"
    inp.write_text('[[materials]]\nname = "good"\n[[materials]]\nname = "bad"\nstructure_file = "cell.vasp"\n')
    assert main(["structure", str(inp), "-o", str(tmp_path / "out")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
