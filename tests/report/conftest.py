"""Session fixtures: small real archives made by really running tiny inputs (``argyro-run run``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support.inputs import LPSCL, SIGMA5_310, TEST_POTENTIAL, run_input

FE_INPUT = """
[run]
name = "report-fe"
archive = "fe.h5"
workdir = "work"
seed = 5
""" + LPSCL + """
[active_learning]
enabled = false

[microstructure]
kind = "voronoi"
gb_model = "layer"
n_grains = 4
grain_sizes_nm = [10.0, 30.0]
gb_thickness_nm = 1.0
dimension = 2
mesh_size_fraction = 0.25

[fe]
temperatures_K = [300.0, 400.0, 500.0]
bulk = { D0_m2_per_s = 1e-7, Ea_eV = 0.35 }
gb_parallel = { D0_m2_per_s = 1e-8, Ea_eV = 0.25 }
gb_perpendicular = { D0_m2_per_s = 1e-9, Ea_eV = 0.45 }
"""

MD_INPUT = """
[run]
name = "report-md"
archive = "md.h5"
workdir = "work"
seed = 3
""" + LPSCL + SIGMA5_310 + TEST_POTENTIAL + """
[md]
temperatures_K = [700.0, 800.0]
# 1 fs: with the small test MTP the 148-atom bicrystal at 800 K and 2 fs sits at the edge of
# stability; round-off-level changes of the plugin's summation order decide whether atoms fly away
timestep_fs = 1.0
equilibration_ps = 2.0
production_ps = 10.0
gamma_break = 0
max_host_displacement_A = 5.0   # the bulk-trained test MTP lets the thin-grain bicrystal rearrange by
                                # a few A; a melted temperature enters no fit, and the FE needs the GB fits

[analysis]
n_blocks = 4

[microstructure]
kind = "laminate"
gb_model = "layer"
n_grains = 2
grain_sizes_nm = [10.0, 20.0]
gb_thickness_nm = 1.0
dimension = 2

[fe]
temperatures_K = [300.0, 400.0]
"""


def _run(d: Path, text: str, archive: str) -> Path:
    run_input(d, text)
    return d / archive


@pytest.fixture(scope="session")
def fe_archive(tmp_path_factory) -> Path:
    """structures + 2 Voronoi layer meshes (10, 30 nm) + FE case ``L-ordered`` at 300/400/500 K with explicit Arrhenius laws."""
    return _run(tmp_path_factory.mktemp("report_fe"), FE_INPUT, "fe.h5")


@pytest.fixture(scope="session")
def md_archive(tmp_path_factory) -> Path:
    """52-atom Li6PS5Cl + its 148-atom Sigma5(310) bicrystal with the test MTP: MD at 700/800 K (10 ps),
    diffusion (GB-resolved), Arrhenius fits, laminate FE with the MD diffusivities (~20 s)."""
    return _run(tmp_path_factory.mktemp("report_md"), MD_INPUT, "md.h5")
