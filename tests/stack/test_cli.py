"""The command line: --version, doctor, --help of every verb, clean exit 2 for unbuilt verbs."""

import subprocess
import sys

import pytest

from argyro_run import __version__
from argyro_run.cli import VERBS, build_parser, main

EXE = [sys.executable, "-m", "argyro_run.cli"]


def run(*args):
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=300)


def test_version():
    p = run("--version")
    assert p.returncode == 0 and p.stdout.strip() == f"argyro-run {__version__}"


def test_doctor_reports_every_component():
    p = run("doctor")
    assert p.returncode == 0, p.stderr
    for name in ("python", "mpi library", "mpi4py", "lammps", "dolfinx/petsc", "gmsh", "h5py/hdf5", "tblite"):
        assert name in p.stdout
    assert "PLUGIN" in p.stdout


def _blas_threads(env_threads: dict) -> tuple[str, list[int]]:
    """doctor's 'threads per rank' row and the OpenBLAS thread counts in it, run with the thread
    variables of this environment replaced by ``env_threads``."""
    import os
    import re

    from argyro_run.launcher import THREAD_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES} | env_threads
    p = subprocess.run([*EXE, "doctor"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith("threads per rank"))
    return row, [int(n) for n in re.findall(r"\.so[^:]*: (\d+)", row)]


def test_a_rank_is_one_core_unless_the_user_says_otherwise():
    """Unset, OpenBLAS would start a thread per core in every rank (2 ranks on 2 cores: 4 spinning
    threads, the learning loop's refits 3-5x slower); argyro-run pins every BLAS to one thread
    before numpy loads, and follows OMP_NUM_THREADS (the Slurm script's cpus_per_rank) when set."""
    row, counts = _blas_threads({})
    assert "OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, MKL_NUM_THREADS=1" in row
    assert counts and all(n == 1 for n in counts), row       # numpy's and scipy's OpenBLAS both
    row, counts = _blas_threads({"OMP_NUM_THREADS": "2"})
    assert "OPENBLAS_NUM_THREADS=2" in row and counts and all(n == 2 for n in counts), row
    row, counts = _blas_threads({"OPENBLAS_NUM_THREADS": "2"})    # the user's own choice stays
    assert "OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=2" in row and all(n == 2 for n in counts), row


@pytest.mark.parametrize("verb", list(VERBS))
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as exc:
        main([verb, "--help"])
    assert exc.value.code == 0
    assert "usage: argyro-run" in capsys.readouterr().out


def test_mtp_group_has_all_subcommands():
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions)
    mtp = sub.choices["mtp"]
    names = set(next(a for a in mtp._subparsers._group_actions).choices)
    assert names == {"init", "eval", "train", "grade", "export", "lammps-plugin"}


def test_bare_toml_argument_means_run(tmp_path):
    p = run(str(tmp_path / "does-not-exist.toml"))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert not any(tmp_path.iterdir())
