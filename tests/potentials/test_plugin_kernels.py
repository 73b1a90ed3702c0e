"""C++ unit tests of the LAMMPS ``pair_style mtp`` plugin's LAMMPS-free parts.

``argyro_run/potentials/lammps_plugin/test_mtp_kernels.cpp`` is compiled with the plugin's own
flags (and GCC's run-time dispatch to AVX2 where the CPU has it) and run on MLIP fixture
potentials and on MLIP's level-16/20 bases: every kernel (radial functions, monomials, basic
moments, the times recursion forward and adjoint, per-neighbour gradients, MaxVol grades) against
an independent plain implementation (cos(b acos x) Chebyshev, std::pow, complex-step and
finite-difference derivatives, a naive matrix product) and the file readers' error lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

from argyro_run.potentials.plugin import CXXFLAGS, HEADERS, SOURCE_DIR, SOURCES


@pytest.fixture(scope="module")
def kernel_test_exe(tmp_path_factory):
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    assert cxx, "no C++ compiler (the plugin needs one too)"
    kernel_sources = [s for s in SOURCES if s.startswith("mtp_")]
    assert set(kernel_sources) == {"mtp_file.cpp", "mtp_kernels.cpp"}
    assert {"mtp_file.h", "mtp_kernels.h"} <= set(HEADERS)
    exe = tmp_path_factory.mktemp("kernels") / "test_mtp_kernels"
    flags = [f for f in CXXFLAGS if f not in ("-fPIC", "-shared")]
    cmd = [cxx, *flags, str(SOURCE_DIR / "test_mtp_kernels.cpp"), *[str(SOURCE_DIR / s) for s in kernel_sources],
           "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return exe


def _run(exe, pot):
    proc = subprocess.run([str(exe), str(pot)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok ")
    return int(proc.stdout.split()[1])


@pytest.mark.parametrize("level", ["02", "06", "10"])
def test_kernels_on_mlip_fixture_potentials(kernel_test_exe, mlip_fixtures, level):
    assert _run(kernel_test_exe, mlip_fixtures / "crystals/noncubic" / level / "pot.mtp") > 100


@pytest.mark.parametrize("level", [16, 20])
def test_kernels_on_high_level_bases(kernel_test_exe, tmp_path, level):
    """Level 16: four radial functions (the vector radial kernel), tensors to rank 6; level 20:
    five (the generic radial path), rank 8."""
    from argyro_run.potentials.mtp import init_mtp, write_mtp

    mtp = init_mtp(level, ["Li", "P", "S", "Cl"], max_dist_A=5.0, min_dist_A=1.5, radial_basis_size=8, seed=level)
    mtp.moment_coeffs = np.random.default_rng(level).normal(0, 1, mtp.n_scalar)
    pot = tmp_path / f"l{level}.mtp"
    write_mtp(mtp, pot)
    assert _run(kernel_test_exe, pot) > 1000


def test_pair_style_reports_file_and_line(mlip_fixtures, tmp_path):
    """A broken .mtp or active set stops pair_style mtp with the file name and the line of the
    offending key (read on rank 0, parsed on every rank)."""
    from argyro_run._stack import lammps_module
    from argyro_run.potentials.plugin import plugin_path

    lines = (mlip_fixtures / "crystals/noncubic/06/pot.mtp").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.strip().startswith("alpha_moment_mapping"))
    lines[k] = lines[k].replace("{", "{9999, ", 1)
    bad = tmp_path / "bad.mtp"
    bad.write_text("\n".join(lines) + "\n")
    als = tmp_path / "bad.als"
    als.write_text("MTP active set v1\nmode neighborhood\nn_rows 2\ninverse\n1 0\n0 1\n")
    good = mlip_fixtures / "crystals/noncubic/06/pot.mtp"
    for style, match in ((f"pair_style mtp {bad}", rf"{bad}:{k + 1}: 'alpha_moment_mapping' has"),
                         (f"pair_style mtp {good} active_set {als}", rf"active set {als}:3: n_rows is 2"),
                         (f"pair_style mtp {tmp_path / 'missing.mtp'}", "cannot open or read")):
        lmp = lammps_module().lammps(cmdargs=["-log", "none", "-screen", "none"])
        try:
            lmp.command(f"plugin load {plugin_path()}")
            with pytest.raises(Exception, match=match):
                lmp.command(style)
        finally:
            lmp.close()
