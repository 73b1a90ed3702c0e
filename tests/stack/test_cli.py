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
