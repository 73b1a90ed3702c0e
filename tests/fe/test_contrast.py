"""Regression: the quickstart's 2-D Voronoi polycrystal (4 grains, 20 nm, 1 nm GBs) with the
Arrhenius laws of one quickstart run (bulk Ea 0.47 eV, GB 0.28/0.24 eV) at 250-500 K. With
GAMG's default Chebyshev/Jacobi smoothing CG stopped with KSP_DIVERGED_INDEFINITE_PC at 250 K
(contrast D_gb/D_bulk ~ 300); the solver must converge and give D_eff inside the bounds of the
local diffusivities, with an apparent activation energy between the phases' ones."""

from __future__ import annotations

import subprocess

import numpy as np

from argyro_run.archive import open_archive
from tests._support.env import CLI

INPUT = """
[run]
name = "fe-contrast"
archive = "out.h5"

[microstructure]
kind = "voronoi"
n_grains = 4
grain_sizes_nm = [20.0]
gb_thickness_nm = 1.0
dimension = 2

[fe]
temperatures_K = [250.0, 300.0, 350.0, 400.0, 500.0]
bulk = { D0_m2_per_s = 4.28e-6, Ea_eV = 0.468 }
gb_parallel = { D0_m2_per_s = 2.57e-7, Ea_eV = 0.284 }
gb_perpendicular = { D0_m2_per_s = 1.10e-7, Ea_eV = 0.243 }
"""


def test_high_contrast_polycrystal_converges_within_bounds(tmp_path):
    (tmp_path / "in.toml").write_text(INPUT)
    p = subprocess.run([CLI, "run", str(tmp_path / "in.toml")], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    fe = open_archive(tmp_path / "out.h5").result("fe/explicit")
    local = np.concatenate([fe.get(f"inputs/{k}/D_m2_per_s") for k in ("bulk", "gb_parallel", "gb_perpendicular")])
    D = fe.get("D_eff_m2_per_s")[:, 0]  # the one grain size
    for i in range(len(D)):
        ev = np.linalg.eigvalsh(0.5 * (D[i] + D[i].T))
        assert local[:, i].min() * (1 - 1e-9) <= ev.min() and ev.max() <= local[:, i].max() * (1 + 1e-9)
    ea = fe.get("Ea_app_eV")[:, 0]
    assert np.all((ea > 0.243) & (ea < 0.468))
    assert np.all(np.diff(ea) > 0)        # GB-controlled at low T, bulk-controlled at high T
