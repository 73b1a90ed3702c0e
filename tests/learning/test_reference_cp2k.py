"""The built-in ``cp2k`` reference for real: Debian's CP2K shell labelling through the reference
worker (``label_structures``, the path the learning loop uses).

Asserted: two H2 cells labelled by the worker have the energies and forces of ASE's CP2K
calculator called directly in this process (the cells of tests/cluster/_label_job.py, 1e-6 eV,
1e-5 eV/A); the force along the bond is minus the central finite difference of worker energies
(+-0.005 A, to 1 %: GPW grid and SCF tolerance) and has no component across it (at this low
cutoff the real-space grid breaks translation invariance: the two atoms' forces differ by 0.9 eV/A,
so only the moved atom's force is compared with the energy difference); a second call is served
from the cache without starting CP2K; CP2K failing on its input (an unknown basis set) is recorded
as a failed label carrying CP2K's own ABORT message (the shell alone says nothing), never raised.
Skips where Debian's ``cp2k_shell.psmp`` is absent (CI may ``apt-get install cp2k`` as root).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from ase import Atoms

from argyro_run.learning.reference import ReferenceSpec, label_structures
from tests.cluster._label_job import CP2K_KWARGS, h2_cells, serial_cp2k

pytestmark = pytest.mark.skipif(shutil.which("cp2k_shell.psmp") is None,
                                reason="CP2K is not installed (Debian: apt-get install cp2k provides cp2k_shell.psmp)")


def spec(**kwargs) -> ReferenceSpec:
    return ReferenceSpec(calculator="cp2k", command="cp2k_shell.psmp", kwargs={**CP2K_KWARGS, **kwargs},
                         timeout_s=600, max_retries=0)


@pytest.mark.slow
def test_cp2k_through_the_worker_equals_ase_cp2k_and_finite_differences(tmp_path):
    cells = h2_cells()
    outs = label_structures(cells, spec(), tmp_path / "w", cache_dir=tmp_path / "cache")
    assert [o.ok for o in outs] == [True, True], [o.error for o in outs]
    assert not any(o.cached for o in outs)
    for o, (e, f) in zip(outs, serial_cp2k(tmp_path / "direct")):
        assert o.energy_eV == pytest.approx(e, abs=1e-6)
        np.testing.assert_allclose(o.forces_eV_per_A, f, atol=1e-5)
        assert o.stress_eV_per_A3 is not None and o.stress_eV_per_A3.shape == (6,)
    assert outs[0].energy_eV != pytest.approx(outs[1].energy_eV, abs=1e-3)

    # F_z(atom 1) = -dE/dd at d = 0.70 A, from worker energies at d +- h
    h = 0.005
    pair = [Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.70 + s]], cell=[4, 4, 4], pbc=True) for s in (h, -h)]
    ep, em = (o.energy_eV for o in label_structures(pair, spec(), tmp_path / "fd", cache_dir=tmp_path / "cache"))
    f0 = outs[0].forces_eV_per_A
    # to 1 %: CP2K's real-space grid and its default SCF tolerance (1e-5) make GPW forces agree with
    # energy differences to ~0.2 % here (measured 2.991 vs 2.984 eV/A), not to machine precision
    assert f0[1, 2] == pytest.approx(-(ep - em) / (2 * h), rel=1e-2)
    assert abs(f0[1, 2]) > 0.1  # 0.70 A is off the LDA bond length: a real force, not zero
    np.testing.assert_allclose(f0[:, :2], 0.0, atol=1e-6)  # along the bond only (the cell's symmetry)

    again = label_structures(cells, spec(), tmp_path / "w2", cache_dir=tmp_path / "cache")
    assert all(o.cached for o in again)
    assert not (tmp_path / "w2").exists()  # nothing started
    assert [o.energy_eV for o in again] == [o.energy_eV for o in outs]


def test_cp2k_failure_is_recorded_not_raised(tmp_path):
    out = label_structures(h2_cells()[:1], spec(basis_set="NO-SUCH-BASIS"), tmp_path / "w",
                           cache_dir=tmp_path / "cache")[0]
    assert not out.ok and out.energy_eV is None
    assert out.attempts == 1
    assert "The requested basis set <NO-SUCH-BASIS> for element <H> was not found" in out.error, out.error
    assert not any((tmp_path / "cache").glob("*.npz"))
