import numpy as np
import pytest
from ase.io import read

from argyro_run.errors import UserError
from argyro_run.structures import argyrodite
from argyro_run.structures.disorder import site_exchange
from argyro_run.structures.files import make_supercell, read_structure, write_structure


def _same_structure(a, b, tol=1e-4):
    assert len(a) == len(b)
    assert np.allclose(a.cell[:], b.cell[:], atol=tol)
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    d = a.get_scaled_positions() - b.get_scaled_positions()
    d -= np.round(d)
    assert np.abs(d).max() < tol


def _partition(uid):
    return {tuple(np.flatnonzero(uid == u)) for u in np.unique(uid)}


@pytest.mark.parametrize("name", ["s.extxyz", "s.cif", "s.vasp", "POSCAR"])
def test_round_trip(tmp_path, name):
    at = site_exchange(make_supercell(argyrodite("Br"), (1, 2, 1)), 0.5, seed=3)
    p = write_structure(tmp_path / name, at)
    back = read_structure(p)
    _same_structure(at, back)
    assert _partition(back.arrays["unit_id"]) == _partition(at.arrays["unit_id"])  # PS4 units found again


def test_extxyz_keeps_per_atom_arrays(tmp_path):
    at = argyrodite("Cl")
    p = write_structure(tmp_path / "a.extxyz", at)
    back = read(p)
    for name in ("sublattice", "unit_id"):
        assert np.array_equal(back.arrays[name], at.arrays[name])


def test_supercell_units():
    at = make_supercell(argyrodite("Cl"), (2, 1, 3))
    assert len(at) == 52 * 6
    assert len(set(at.arrays["unit_id"])) == 36 * 6
    uid = at.arrays["unit_id"]
    sym = np.array(at.get_chemical_symbols())
    for u in np.unique(uid[sym == "P"]):
        idx = np.flatnonzero(uid == u)
        assert sorted(sym[idx]) == ["P", "S", "S", "S", "S"]
        p = idx[sym[idx] == "P"][0]
        assert at.get_distances(p, idx, mic=True).max() < 2.1  # the S of this unit bond to its P
    with pytest.raises(UserError):
        make_supercell(at, (0, 1, 1))


PARTIAL_CIF = """data_lpscl
_cell_length_a 9.86
_cell_length_b 9.86
_cell_length_c 9.86
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'F -4 3 m'
_symmetry_Int_Tables_number 216
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
Li1 Li 0.3175 0.3175 0.0225 0.5
P1 P 0.5 0.5 0.5 1.0
S1 S 0.6196 0.6196 0.6196 1.0
S2 S 0.25 0.25 0.25 1.0
Cl1 Cl 0 0 0 1.0
"""


def test_partial_occupancy_is_user_error(tmp_path):
    p = tmp_path / "lpscl.cif"
    p.write_text(PARTIAL_CIF)
    with pytest.raises(UserError, match=r"partially occupied sites: Li1 \(Li 0.5\)"):
        read_structure(p)
    mixed = PARTIAL_CIF.replace("Li1 Li 0.3175 0.3175 0.0225 0.5", "Li1 Li 0.3175 0.3175 0.0225 1.0").replace(
        "Cl1 Cl 0 0 0 1.0", "Cl1 Cl 0 0 0 0.75\nS3 S 0 0 0 0.25")
    p.write_text(mixed)
    with pytest.raises(UserError, match="Cl1"):
        read_structure(p)


def test_bad_files(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        read_structure(tmp_path / "missing.cif")
    (tmp_path / "junk.cif").write_text("not a cif\n")
    with pytest.raises(UserError, match="cannot read"):
        read_structure(tmp_path / "junk.cif")
    from ase.build import bulk

    write_structure(tmp_path / "fe.extxyz", bulk("Fe", cubic=True))  # no formal charge in the ion table
    with pytest.raises(UserError, match=r"\['Fe'\].*no formal charge"):
        read_structure(tmp_path / "fe.extxyz")
    with pytest.raises(UserError, match="unknown structure format"):
        write_structure(tmp_path / "a.pdf", argyrodite())
