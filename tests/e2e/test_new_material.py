"""The non-argyrodite worked example end to end at quickstart size: ``argyro-run init Na3PS4``
(tetragonal Na3PS4 from the shipped literature-coordinate CIF, mobile ion Na) shrunk to the
16-atom cell, a level-4 MTP and short MD, run with ``mpiexec -n 2 argyro-run`` (two ranks: the
structures task reads the file on one rank only, which must not be an MPI collective; ASE's
default parallel read was one and desynchronised the ranks).

Asserted: every task done; the MTP species are the file's elements (Na, P, S, no default Li/Cl);
the structures task read the file (Na6P2S8 cell, mobile_ion attribute Na); MD keeps only Na in the
trajectories (the material's mobile ion, no analysis.species given); the analysis names Na with
charge +1 and 6 carriers per cell; its conductivity is Nernst-Einstein recomputed here from the
archived D, the Na count and the cell volume; MD temperatures near their targets.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from argyro_run.archive import open_archive
from tests._support.env import CLI, run_mpi

pytestmark = pytest.mark.slow

E_C = 1.602176634e-19
K_B = 1.380649e-23

#: quickstart-size learning and MD (the template's [[materials]] and [reference] are kept as shipped)
SMALL = """
[active_learning]
enabled = true
n_rattled = 4
max_iterations = 2
max_selected_per_iteration = 3
max_reference_atoms = 40
local_mode = "periodic"

[[active_learning.levels]]
level = 4
gamma_select = 2.0
gamma_break = 8.0
exploration_ps = 2.0
temperatures_K = [600.0]

[md]
temperatures_K = [600.0, 800.0]
timestep_fs = 2.0
equilibration_ps = 1.0
production_ps = 8.0
dump_interval_fs = 20.0

[analysis]
fit_start_ps = 0.4
fit_end_ps = 1.5
n_blocks = 2
"""


def small_input(text: str) -> str:
    """The template cut at [active_learning], with the 16-atom cell and level 4."""
    head = text[: text.index("[active_learning]")]
    head = head.replace("supercell = [2, 2, 2]", "supercell = [1, 1, 1]")
    head = re.sub(r"(?m)^level = 10", "level = 4", head)
    assert "supercell = [1, 1, 1]" in head and "level = 4" in head
    return head + SMALL


@pytest.fixture(scope="module")
def run_na(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("na3ps4")
    p = subprocess.run([CLI, "init", "Na3PS4", "-o", str(tmp / "na.toml")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    (tmp / "na.toml").write_text(small_input((tmp / "na.toml").read_text()))
    p = run_mpi(2, [CLI, str(tmp / "na.toml")], timeout=1500, cwd=str(tmp))
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    return tmp, p


def test_every_task_done_with_the_files_species(run_na):
    tmp, _ = run_na
    a = open_archive(tmp / "Na3PS4.h5")
    assert {info["status"] for info in a.tasks.values()} == {"done"}
    kinds = {info["kind"] for info in a.tasks.values()}
    assert kinds >= {"build_structures", "initial_data", "active_learning", "md_run", "diffusion", "arrhenius"}
    st = a.result("structures/NPS")
    assert st.get_attrs("")["mobile_ion"] == "Na"
    numbers = np.asarray(st.get("ordered/numbers"))
    assert sorted(np.bincount(numbers)[[11, 15, 16]]) == [2, 6, 8]
    species = np.asarray(a.result("learning/level4").get("mtp/species")).item()
    assert (species.decode() if isinstance(species, bytes) else str(species)).split() == ["Na", "P", "S"]


def test_na_is_analysed_with_its_charge(run_na):
    tmp, _ = run_na
    a = open_archive(tmp / "Na3PS4.h5")
    for T in (600, 800):
        md = a.result(f"md/NPS/ordered/T{T}")
        assert set(np.asarray(md.get("trajectory/numbers")).tolist()) == {11}  # only Na kept
        assert np.asarray(md.get("trajectory/positions_A")).shape[1] == 6
        assert abs(md.get_attrs("")["mean_temperature_K"] - T) < 0.25 * T
    res = a.result("analysis/NPS/ordered")
    at = res.get_attrs("")
    assert at["species"] == "Na" and float(at["charge_e"]) == 1.0 and int(at["n_carriers"]) == 6
    D = np.asarray(res.get("D_m2_per_s"), float)
    T = np.asarray(res.get("temperatures_K"), float)
    assert np.all(np.isfinite(D))
    vol_m3 = float(at["volume_A3"]) * 1e-30
    sigma_mS_per_cm = 6 / vol_m3 * E_C**2 * D / (K_B * T) * 10.0  # Nernst-Einstein, z = 1, H = 1
    np.testing.assert_allclose(np.asarray(res.get("sigma_mS_per_cm"), float), sigma_mS_per_cm, rtol=1e-10)
    assert 300.0 < float(at["volume_A3"]) < 400.0  # the 16-atom cell (343 A^3), maybe NVT-fixed
