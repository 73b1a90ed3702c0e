"""Pieces of test inputs shared by several tests (TOML text to concatenate; a table's keys may be
continued by the text that follows it) and running an input through ``argyro-run``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests._support.env import CLI, run_mpi

#: the trained level-8 MTP of Li6PS5Cl carried by the repository (tests/data/mtp/README.md)
TEST_MTP = Path(__file__).resolve().parents[1] / "data" / "mtp" / "Li6PS5Cl-l08.mtp"

#: the 52-atom ordered Li6PS5Cl cell of the built-in builder
LPSCL = """
[[materials]]
name = "LPSCl"
halide = "Cl"
variants = ["ordered"]
"""

#: the Sigma5(310)[001] bicrystal of the preceding material (148 atoms from LPSCL)
SIGMA5_310 = """
[[materials.grain_boundaries]]
sigma = 5
plane = [3, 1, 0]
axis = [0, 0, 1]
"""

#: MD with the test MTP instead of learning one
TEST_POTENTIAL = f"""
[potential]
file = "{TEST_MTP}"
level = 8

[active_learning]
enabled = false
"""

#: a 2D two-grain laminate with coarse meshes (grain sizes and the GB model added by the caller)
LAMINATE = """
[microstructure]
kind = "laminate"
n_grains = 2
dimension = 2
lloyd_iterations = 0
mesh_size_fraction = 0.25
"""

#: explicit Arrhenius laws of the three FE diffusivities (keys of the [fe] table)
FE_LAWS = """
bulk = { D0_m2_per_s = 1e-7, Ea_eV = 0.35 }
gb_parallel = { D0_m2_per_s = 1e-8, Ea_eV = 0.2 }
gb_perpendicular = { D0_m2_per_s = 1e-8, Ea_eV = 0.2 }
"""


def run_input(directory: Path, text: str, *, ranks: int = 1, timeout: float = 600,
              check: bool = True) -> subprocess.CompletedProcess:
    """Write ``text`` to ``directory/in.toml`` and run ``argyro-run run`` on it there (``ranks`` > 1:
    under the venv's mpiexec); ``check``: assert it succeeded (its output tail is the message)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "in.toml").write_text(text)
    args = [CLI, "run", str(directory / "in.toml")]
    if ranks == 1:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=str(directory))
    else:
        p = run_mpi(ranks, args, timeout=timeout, cwd=str(directory))
    if check:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p
