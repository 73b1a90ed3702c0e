import numpy as np
import pytest

from argyro_run.errors import UserError
from argyro_run.structures import SUBLATTICE, argyrodite
from argyro_run.structures.disorder import site_exchange
from argyro_run.structures.files import make_supercell, read_structure, write_structure
from tests._support.geometry import charge


def _swapped(atoms, halide):
    sym = np.array(atoms.get_chemical_symbols())
    sub = atoms.arrays["sublattice"]
    on_4c = int(np.sum((sub == SUBLATTICE["site_4c"]) & (sym == halide)))
    s_on_4a = int(np.sum((sub == SUBLATTICE["site_4a"]) & (sym == "S")))
    return on_4c, s_on_4a


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.77, 1.0])
def test_exact_counts_in_supercell(fraction):
    bulk = make_supercell(argyrodite("Cl"), (2, 2, 2))
    n_4a = int(np.sum(bulk.arrays["sublattice"] == SUBLATTICE["site_4a"]))
    assert n_4a == 32
    out = site_exchange(bulk, fraction, seed=11)
    n = round(fraction * n_4a)
    assert _swapped(out, "Cl") == (n, n)
    assert out.info["n_site_exchanges"] == n
    assert out.get_chemical_formula() == bulk.get_chemical_formula()
    assert charge(out) == 0
    assert np.array_equal(out.positions, bulk.positions)  # species exchanged, sites kept
    changed = np.array(out.get_chemical_symbols()) != np.array(bulk.get_chemical_symbols())
    assert changed.sum() == 2 * n


def test_seeds():
    bulk = make_supercell(argyrodite("Br"), (2, 2, 1))
    a = site_exchange(bulk, 0.5, seed=1)
    b = site_exchange(bulk, 0.5, seed=1)
    c = site_exchange(bulk, 0.5, seed=2)
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    assert a.get_chemical_symbols() != c.get_chemical_symbols()


def test_half_is_fully_mixed_and_input_untouched():
    bulk = make_supercell(argyrodite("I"), (2, 2, 2))
    before = bulk.get_chemical_symbols()
    out = site_exchange(bulk, 0.5, seed=0)
    sym = np.array(out.get_chemical_symbols())
    sub = out.arrays["sublattice"]
    assert np.sum(sym[sub == SUBLATTICE["site_4a"]] == "I") == 16
    assert np.sum(sym[sub == SUBLATTICE["site_4c"]] == "I") == 16
    assert bulk.get_chemical_symbols() == before


def test_structure_from_file_without_labels(tmp_path):
    """Files carry no Wyckoff labels: halides and S outside PS4 are the two sublattices."""
    bulk = make_supercell(argyrodite("Cl"), (1, 1, 2))
    p = write_structure(tmp_path / "POSCAR", bulk)
    atoms = read_structure(p)
    assert "sublattice" not in atoms.arrays
    out = site_exchange(atoms, 0.25, seed=4)
    assert _swapped(out, "Cl") == (2, 2)
    # the same sites as the labelled path would use
    ref = site_exchange(bulk, 0.25, seed=4)
    assert out.get_chemical_symbols() == ref.get_chemical_symbols()


def test_bad_fraction():
    with pytest.raises(UserError, match=r"\[0, 1\]"):
        site_exchange(argyrodite(), 1.5, seed=0)


def test_mixed_halides_exact_counts():
    from argyro_run.structures.disorder import mix_halides

    bulk = site_exchange(make_supercell(argyrodite("Cl"), (2, 2, 2)), 0.5, seed=1)
    out = mix_halides(bulk, "Br", 0.25, seed=3)
    sym = np.array(out.get_chemical_symbols())
    assert np.sum(sym == "Br") == 8 and np.sum(sym == "Cl") == 24
    assert charge(out) == 0 and np.array_equal(out.positions, bulk.positions)
    changed = sym != np.array(bulk.get_chemical_symbols())
    assert set(np.array(bulk.get_chemical_symbols())[changed]) == {"Cl"}
    # on both sublattices after site exchange, the halide sites are the candidates
    assert set(out.arrays["sublattice"][changed]) <= {4, 5}
    assert mix_halides(bulk, "Br", 0.25, seed=3).get_chemical_symbols() == out.get_chemical_symbols()
    assert mix_halides(bulk, "Br", 0.25, seed=4).get_chemical_symbols() != out.get_chemical_symbols()
    with pytest.raises(UserError, match="exactly one other halide"):
        mix_halides(out, "I", 0.5, seed=0)
