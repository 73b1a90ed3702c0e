"""Which MPI launcher started this process, and can the MPICH-ABI library of the stack join it?

Plain functions on an environment mapping (``os.environ`` by default); nothing here imports
MPI, so ``argyro_run._stack`` calls :func:`check_launcher` *before* ``mpi4py`` initialises MPI.

The stack's MPI is an MPICH-ABI library (the ``mpich`` wheel's ``libmpi.so.12``, or a site
library of the same ABI, see ``docs/cluster.md``). It joins a parallel job through the PMI-1/PMI-2
wire protocol that Hydra's ``mpiexec`` and ``srun --mpi=pmi2`` speak. It cannot join Open MPI's
``mpirun`` (PMIx/ORTE) or ``srun --mpi=pmix``: MPICH aborts in ``MPI_Init`` with "unsupported PMI
version PMIx". Under ``srun`` without any PMI plugin (``--mpi=none``) every task would initialise
as its own 1-rank job and all of them would write the same archive.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

# Set it to 1 to skip the check (a site MPICH-ABI library built with PMIx support, e.g.).
SKIP_VARIABLE = "ARGYRO_RUN_SKIP_LAUNCHER_CHECK"

FIXES = (
    "  * the virtual environment's own launcher: .venv/bin/mpiexec -n N argyro-run input.toml\n"
    "  * under Slurm: srun --mpi=pmi2 -n N argyro-run input.toml (argyro-run plan input.toml --sbatch job.sh "
    "writes a batch script)\n"
    "  * the site's MPICH-ABI MPI (Intel MPI, Cray MPICH, MVAPICH, MPICH) with its own mpiexec: "
    "see docs/cluster.md, 'The site's MPI'"
)


def _int(env: Mapping[str, str], key: str) -> int | None:
    try:
        return int(env[key])
    except (KeyError, ValueError):
        return None


def launcher_of(env: Mapping[str, str] | None = None) -> dict:
    """What started this process: ``{"name", "protocol", "size", "rank"}``.

    ``protocol`` is ``"pmi"`` (Hydra mpiexec, srun --mpi=pmi2: joinable), ``"pmix"`` (Open MPI
    mpirun, srun --mpi=pmix: not joinable by MPICH), ``"none"`` (no launcher, or srun without a
    PMI plugin).
    """
    env = os.environ if env is None else env
    pmi = any(k in env for k in ("PMI_FD", "PMI_PORT")) or "PMI_RANK" in env
    pmix = "PMIX_RANK" in env or "PMIX_NAMESPACE" in env
    ompi = "OMPI_COMM_WORLD_SIZE" in env
    slurm_step = "SLURM_STEP_ID" in env or "SLURM_STEPID" in env
    if pmi:
        hydra = "HYDI_CONTROL_FD" in env or "MPI_LOCALNRANKS" in env   # Hydra's own, also inside an srun step
        name = "srun (pmi2)" if slurm_step and not hydra else "mpiexec (Hydra, PMI)"
        return {"name": name, "protocol": "pmi", "size": _int(env, "PMI_SIZE"), "rank": _int(env, "PMI_RANK")}
    if ompi:
        return {"name": "Open MPI mpirun (PMIx)", "protocol": "pmix",
                "size": _int(env, "OMPI_COMM_WORLD_SIZE"), "rank": _int(env, "OMPI_COMM_WORLD_RANK")}
    if pmix:
        name = "srun --mpi=pmix" if slurm_step else "a PMIx launcher"
        return {"name": name, "protocol": "pmix", "size": _int(env, "SLURM_STEP_NUM_TASKS"),
                "rank": _int(env, "PMIX_RANK")}
    if slurm_step:
        return {"name": "srun without PMI (--mpi=none)", "protocol": "none",
                "size": _int(env, "SLURM_STEP_NUM_TASKS") or _int(env, "SLURM_NTASKS"), "rank": _int(env, "SLURM_PROCID")}
    return {"name": "none (a 1-rank run)", "protocol": "none", "size": None, "rank": None}


def launcher_problem(env: Mapping[str, str] | None = None) -> str | None:
    """None if the MPICH-ABI library can start under this launcher; else what is wrong and the fixes."""
    env = os.environ if env is None else env
    if env.get(SKIP_VARIABLE, "") not in ("", "0"):
        return None
    info = launcher_of(env)
    if info["protocol"] == "pmix":
        return (f"this process was started by {info['name']}, which speaks PMIx; the MPI library of "
                "argyro-run (MPICH ABI, libmpi.so.12) joins only PMI-1/PMI-2 launchers and would abort "
                "in MPI_Init. Start it with one of:\n" + FIXES)
    if info["protocol"] == "none" and (info["size"] or 1) > 1:
        return (f"this process is one of {info['size']} tasks started by {info['name']}: without a PMI "
                "plugin each task would run alone as a 1-rank job, all writing the same archive. Start it with one of:\n"
                + FIXES)
    return None


def check_launcher(env: Mapping[str, str] | None = None) -> None:
    """Raise ``UserError`` (exit 2) if :func:`launcher_problem` finds one."""
    msg = launcher_problem(env)
    if msg:
        from argyro_run.errors import UserError

        rank = launcher_of(env)["rank"]
        if rank:  # every task stops; one explanation (rank 0's) is enough
            raise UserError(f"launcher not supported (task {rank}; see the message of task 0)")
        raise UserError(msg + f"\n(set {SKIP_VARIABLE}=1 to skip this check if the site's MPI library does speak PMIx)")


# Every rank is one core: the planner costs a task's ranks as cores, and the Slurm script binds
# them so (``slurm.cpus_per_rank`` -> OMP_NUM_THREADS). BLAS and OpenMP libraries read these
# variables once, when they load; left unset, OpenBLAS starts one thread per core in every rank,
# and two ranks on two cores spin four threads: the learning loop's refits (numpy QR and matrix
# products) ran 3-5x slower than on one pinned rank (docs/costs.md, "Threads per rank").
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pin_rank_threads(env: MutableMapping[str, str] | None = None) -> str:
    """Give every thread variable of ``env`` (``os.environ`` by default) that is unset the value of
    OMP_NUM_THREADS, or 1: one core per rank unless the user or the batch script says otherwise.
    Must run before numpy (OpenBLAS) is imported to take effect in this process; returns the count."""
    env = os.environ if env is None else env
    n = env.get("OMP_NUM_THREADS", "").strip() or "1"
    for key in THREAD_VARIABLES:
        if not env.get(key, "").strip():
            env[key] = n
    return n
