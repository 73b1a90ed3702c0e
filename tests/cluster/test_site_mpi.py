"""The site's MPI: the wheels run against another MPICH-ABI library (Debian's MPICH 4.0 here,
standing in for Intel MPI / Cray MPICH / MVAPICH), chosen by library path, started by that MPI's
own ``mpiexec``.

Asserted: ``argyro-run doctor`` reports the site library as the one mapped into the process
(MPICH 4.0, /usr/lib/...), the launcher as joinable, and says why the dolfinx/PETSc wheel cannot
use it (MPICH >= 4.1 extensions); the study without FE run on 2 ranks with the site library gives
an archive (provenance: MPICH 4.0) equal, entry for entry, to the one of the venv's own MPICH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from argyro_run.archive import open_archive
from tests._support.env import CLI, run_mpi
from tests.cluster._study import STUDY, assert_same_archive

pytestmark = [pytest.mark.mpi, pytest.mark.slow]
SITE_LIB = Path("/usr/lib/x86_64-linux-gnu")


def site_env(tmp: Path) -> dict[str, str]:
    """The recipe of docs/cluster.md: a folder of libmpi*.so.12 names pointing at the site's
    MPICH-ABI libraries, on LD_LIBRARY_PATH, and MPI4PY_LIBMPI naming its libmpi.so.12."""
    libdir = tmp / "site-mpi"
    libdir.mkdir()
    for name, target in (("libmpi.so.12", "libmpich.so.12"), ("libmpicxx.so.12", "libmpichcxx.so.12"),
                         ("libmpifort.so.12", "libmpichfort.so.12")):
        (libdir / name).symlink_to(SITE_LIB / target)
    env = dict(os.environ, MPI4PY_LIBMPI=str(libdir / "libmpi.so.12"), OMP_NUM_THREADS="1")
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(libdir), os.environ.get("LD_LIBRARY_PATH")]))
    return env


@pytest.mark.skipif(shutil.which("mpiexec.mpich") is None or not (SITE_LIB / "libmpich.so.12").exists(),
                    reason="Debian's mpich (mpiexec.mpich, libmpich.so.12) not installed")
def test_site_mpich_runs_the_study_like_the_wheel(tmp_path):
    env = site_env(tmp_path)
    d = subprocess.run(["mpiexec.mpich", "-n", "1", CLI, "doctor"], env=env, capture_output=True, text=True,
                       timeout=300)
    rows = dict(line.split(None, 1) if "  " not in line else [p.strip() for p in line.split("  ", 1)]
                for line in d.stdout.splitlines() if line.strip())
    assert rows["mpi library file"] == str((SITE_LIB / "libmpich.so.12").resolve()), d.stdout
    assert rows["mpi library"].startswith("MPICH Version:") and "4.0" in rows["mpi library"], d.stdout
    assert rows["mpi launcher"] == "mpiexec (Hydra, PMI), 1 task(s): ok"
    assert "dolfinx/PETSc wheel needs MPICH >= 4.1 extensions" in d.stderr

    wheel, site = tmp_path / "wheel", tmp_path / "site"
    for folder in (wheel, site):
        folder.mkdir()
        (folder / "study.toml").write_text(STUDY)
    p = run_mpi(2, [CLI, "study.toml"], timeout=600, cwd=str(wheel))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    p = subprocess.run(["mpiexec.mpich", "-n", "2", CLI, "study.toml"], env=env, cwd=str(site),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "run finished: 8 executed" in p.stdout
    assert "4.0" in open_archive(site / "study.h5").provenance["mpi_library"]
    assert "5.0" in open_archive(wheel / "study.h5").provenance["mpi_library"]
    assert_same_archive(wheel / "study.h5", site / "study.h5")
