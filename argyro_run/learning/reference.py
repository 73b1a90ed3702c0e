"""Reference calculations (the "DFT" side of active learning) through any ASE calculator.

Every calculation runs in a worker subprocess (``python -m argyro_run.learning._worker``) with
its own work directory, so a crash, a hang (timeout) or a segfault of a quantum code never
takes the run down. Failures are retried with the ``fallback`` settings, then recorded and
skipped. Results are cached on disk by a hash of the structure and the calculator settings, so
reruns never recompute.

Built-in calculator names: ``tblite`` (GFN1-xTB by default, embedded), ``chgnet`` and
``sevenn`` (pretrained universal potentials whose weights ship inside their wheels, the
``foundation`` extra; ``model`` names the pretrained model, see :data:`FOUNDATION_MODELS`),
``vasp``, ``espresso``, ``gpaw``, ``cp2k``; or ``"package.module:Class"`` with keyword arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from argyro_run.config.reference import (
    BUILTIN_CALCULATORS,
    FOUNDATION_MODELS,
    RECHECK_ENERGY_MEV_PER_ATOM,
    RECHECK_MIN_OTHERS,
    RECHECK_SPREAD_FACTOR,
    calculator_problems,
    foundation_model_name,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReferenceSpec:
    """Settings of the reference calculator (mirrors the ``[reference]`` TOML section)."""

    calculator: str = "tblite"
    method: str = "GFN1-xTB"                 # tblite only
    model: str | None = None                 # chgnet / sevenn only: pretrained model (None: the default)
    electronic_temperature_K: float = 300.0  # tblite Fermi smearing; small, for metallic snapshots
    kwargs: dict[str, Any] = field(default_factory=dict)     # passed to the ASE calculator
    command: str | None = None               # launch command of a DFT code, e.g. "mpirun -n 16 vasp_std"
    timeout_s: float = 1800.0
    max_retries: int = 1                     # attempts after the first, each with `fallback` applied
    fallback: dict[str, Any] = field(default_factory=dict)   # overrides for retries (e.g. electronic_temperature_K)
    recheck_energy_meV_per_atom: float = RECHECK_ENERGY_MEV_PER_ATOM  # recheck_labels; 0: never

    def with_overrides(self, overrides: dict[str, Any]) -> "ReferenceSpec":
        d = asdict(self)
        kw = dict(d["kwargs"])
        for k, v in overrides.items():
            if k in d and k not in ("kwargs", "fallback"):
                d[k] = v
            else:
                kw[k] = v
        d["kwargs"] = kw
        return ReferenceSpec(**d)

    def fallback_spec(self) -> "ReferenceSpec":
        """The spec of a retry or a recheck: ``fallback`` applied."""
        return self.with_overrides(self.fallback)

    def key(self) -> str:
        """Hash of what determines the result (not timeouts or retry policy)."""
        d = {"calculator": self.calculator, "method": self.method,
             "electronic_temperature_K": self.electronic_temperature_K, "kwargs": self.kwargs}
        if self.calculator in FOUNDATION_MODELS:  # model and the package that ships its weights
            d["model"] = foundation_model(self)
            d["package_version"] = foundation_version(self.calculator)
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class LabelOutcome:
    """Result of one reference calculation."""

    ok: bool
    energy_eV: float | None = None
    forces_eV_per_A: np.ndarray | None = None
    stress_eV_per_A3: np.ndarray | None = None   # Voigt (xx, yy, zz, yz, xz, xy), ASE sign convention
    error: str = ""
    attempts: int = 0
    wall_s: float = 0.0
    cached: bool = False


def foundation_model(spec: ReferenceSpec) -> str:
    """The pretrained model of a ``chgnet`` / ``sevenn`` spec (its default when ``model`` is None)."""
    return foundation_model_name(spec.calculator, spec.model)


def foundation_version(calculator: str) -> str:
    """Installed version of the package that ships the weights of ``calculator``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(calculator)
    except PackageNotFoundError:
        return "not installed"


def foundation_weights(calculator: str, model: str) -> Path:
    """The weights file of the pretrained ``model`` of ``calculator`` inside the installed package;
    ``FileNotFoundError`` when the package is absent or does not ship that model."""
    import importlib.util

    if model not in FOUNDATION_MODELS[calculator]:
        raise ValueError(f"{model!r} is not a {calculator} model; allowed: {', '.join(FOUNDATION_MODELS[calculator])}")
    if importlib.util.find_spec(calculator) is None:
        raise FileNotFoundError(f"the Python package {calculator!r} is not installed")
    if calculator == "chgnet":  # CHGNet.load reads chgnet/pretrained/<model_name>/*.pth.tar
        folder = Path(importlib.util.find_spec("chgnet").origin).parent / "pretrained" / FOUNDATION_MODELS["chgnet"][model]
        files = sorted(folder.glob("*.pth.tar"))
        if not files:
            raise FileNotFoundError(f"chgnet {foundation_version('chgnet')} does not ship the weights of {model!r} "
                                    f"(expected {folder}/*.pth.tar)")
        return files[0]
    from sevenn import _const

    path = Path(getattr(_const, FOUNDATION_MODELS["sevenn"][model][0]))
    if not path.is_file():  # a path (not a name) never makes sevenn try its download links
        raise FileNotFoundError(f"sevenn {foundation_version('sevenn')} does not ship the weights of {model!r} "
                                f"(expected {path})")
    return path


def _bind_torch_threads(threads: int) -> None:
    """Run torch on ``threads`` threads (the reference's share of the task's ranks), not on
    every core of the node; must precede the first torch operation of the process."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (a second calculator in this process)
        pass


def _foundation_calculator(spec: ReferenceSpec, kw: dict, threads: int):
    """CHGNet / SevenNet calculator from the weights inside the installed package (CPU unless
    ``kwargs`` chooses a device); never downloads."""
    model = foundation_model(spec)
    _bind_torch_threads(threads)
    if spec.calculator == "chgnet":
        from chgnet.model import CHGNet, CHGNetCalculator

        device = kw.pop("use_device", "cpu")
        net = CHGNet.load(model_name=FOUNDATION_MODELS["chgnet"][model], use_device=device, verbose=False)
        return CHGNetCalculator(model=net, use_device=device, **kw)
    from sevenn.calculator import SevenNetCalculator

    path = foundation_weights("sevenn", model)
    modal = FOUNDATION_MODELS["sevenn"][model][1]
    kw.setdefault("device", "cpu")
    return SevenNetCalculator(model=str(path), file_type="checkpoint", modal=modal, **kw)


def make_calculator(spec: ReferenceSpec, directory: str | os.PathLike, threads: int = 1):
    """Instantiate the ASE calculator described by ``spec`` working in ``directory``.

    ``threads``: CPU threads the calculator may use (set for the torch-based ones; the others
    follow ``OMP_NUM_THREADS`` of the worker's environment).
    """
    directory = str(directory)
    name = spec.calculator
    kw = dict(spec.kwargs)
    if name in FOUNDATION_MODELS:
        return _foundation_calculator(spec, kw, threads)
    if spec.model is not None:
        raise ValueError(f"reference.model applies to {' and '.join(FOUNDATION_MODELS)} only, "
                         f"not to calculator {name!r}")
    if name == "tblite":
        from tblite.ase import TBLite

        kw.setdefault("verbosity", 0)
        return TBLite(method=spec.method, electronic_temperature=float(spec.electronic_temperature_K), **kw)
    if name == "vasp":
        from ase.calculators.vasp import Vasp

        if spec.command:
            kw["command"] = spec.command
        return Vasp(directory=directory, **kw)
    if name == "espresso":
        from ase.calculators.espresso import Espresso, EspressoProfile

        pseudo_dir = kw.pop("pseudo_dir", None)
        if spec.command or pseudo_dir:
            kw["profile"] = EspressoProfile(command=spec.command or "pw.x", pseudo_dir=pseudo_dir or ".")
        return Espresso(directory=directory, **kw)
    if name == "gpaw":
        from gpaw import GPAW

        kw.setdefault("txt", os.path.join(directory, "gpaw.txt"))
        return GPAW(**kw)
    if name == "cp2k":
        from ase.calculators.cp2k import CP2K

        if spec.command:
            kw["command"] = spec.command
        return CP2K(directory=_short_path(directory), **kw)
    if ":" in name:
        import importlib

        mod, cls = name.split(":", 1)
        return getattr(importlib.import_module(mod), cls)(**kw)
    raise ValueError(f"unknown reference calculator {name!r}; allowed: {', '.join(BUILTIN_CALCULATORS)} or 'module:Class'")


def _short_path(directory: str) -> str:
    """``directory`` relative to the working directory when that is shorter: the CP2K shell takes
    file names of at most 80 characters and fails without a message on longer ones (a worker runs
    in its job folder, so its calculations' folders are a few characters from there)."""
    try:
        rel = os.path.relpath(directory)
    except ValueError:
        return directory
    return rel if len(rel) < len(directory) else directory


def failure_detail(spec: ReferenceSpec, directory: str | os.PathLike) -> str:
    """The reason a DFT code states for failing, from its output in ``directory`` ('' when none):
    CP2K's ABORT message (the CP2K shell only tells ASE that it stopped)."""
    if spec.calculator != "cp2k":
        return ""
    for out in sorted(Path(directory).glob("*.out")):
        lines = out.read_text(errors="replace").splitlines()
        start = next((k for k, ln in enumerate(lines) if "[ABORT]" in ln), None)
        if start is None:
            continue
        msg = []
        for ln in lines[start + 1:]:
            if set(ln.strip()) <= {"*"}:  # the closing row of stars
                break
            msg.append(ln.rstrip().rstrip("*")[14:].strip())  # the message column, after the ASCII art
        return "CP2K: " + " ".join(m for m in msg if m)
    return ""


def check_spec(spec: ReferenceSpec) -> list[str]:
    """Problems with a spec that can be seen without running it (the checks of the config validator)."""
    return calculator_problems(spec.calculator, spec.model)


def structure_key(atoms, spec: ReferenceSpec) -> str:
    """Cache key: structure (numbers, positions to 1e-8 A, cell, pbc) + calculator settings."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(atoms.numbers, dtype=np.int64).tobytes())
    h.update(np.round(np.asarray(atoms.positions, dtype=float), 8).tobytes())
    h.update(np.round(np.asarray(atoms.cell[:], dtype=float), 8).tobytes())
    h.update(np.asarray(atoms.pbc, dtype=bool).tobytes())
    h.update(spec.key().encode())
    return h.hexdigest()[:24]


# Variables an MPI launcher sets for each process it starts (Hydra mpiexec, srun --mpi=pmi2/pmix,
# Open MPI mpirun) and Slurm sets for the tasks of a job step. A worker inherits them from its
# rank; a parallel code it starts (reference.command = "mpirun -n 16 ..." or "srun --exact -n 16 ...")
# must not: its own launcher would see them and try to join this rank's job instead of starting its
# own. User settings of an MPI (OMPI_MCA_btl, OMPI_ALLOW_RUN_AS_ROOT, I_MPI_PMI_LIBRARY, MPICH_*,
# FI_*, UCX_*) and the job's SLURM_JOB_* / SLURM_NTASKS / SLURM_CPUS_* variables are kept.
LAUNCHER_VARIABLE_PREFIXES = (
    "PMI_", "PMIX_", "PMI2_", "HYDRA_", "HYDI_", "MPIR_", "PRTE_", "MPI_LOCALNRANKS", "MPI_LOCALRANKID",
    "OMPI_COMM_WORLD_", "OMPI_MCA_orte_", "OMPI_MCA_ess", "OMPI_MCA_pmix", "OMPI_MCA_initial_wdir",
    "OMPI_FILE_LOCATION", "OMPI_FIRST_RANKS", "OMPI_APP_CTX_", "OMPI_NUM_APP_CTX", "OMPI_UNIVERSE_SIZE",
    "OMPI_COMMAND", "OMPI_ARGV",
    "SLURM_STEP_", "SLURM_STEPID", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_TASK_PID", "SLURM_SRUN_COMM_",
    "SLURM_LAUNCH_NODE_IPADDR", "SLURM_CPU_BIND", "SLURM_MPI_TYPE", "SLURM_PMI", "SLURM_PMIX",
)


def launch_environment(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` without the per-process variables of the MPI launcher and the Slurm job step
    (``LAUNCHER_VARIABLE_PREFIXES``), its thread variables pinned as a rank's (``launcher.pin_rank_threads``:
    1 unless set): the environment of a reference worker and of every code it launches."""
    from argyro_run.launcher import pin_rank_threads

    env = {k: v for k, v in environ.items() if not k.startswith(LAUNCHER_VARIABLE_PREFIXES)}
    pin_rank_threads(env)
    return env


def _clean_env() -> dict[str, str]:
    """Environment for the worker: this rank's without its launcher's variables, so a DFT code's
    own ``mpirun``/``srun`` starts a fresh job and tblite does not join ours."""
    return launch_environment(dict(os.environ))


def _cache_load(path: Path) -> LabelOutcome | None:
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            stress = z["stress"] if z["has_stress"] else None
            return LabelOutcome(ok=True, energy_eV=float(z["energy"]), forces_eV_per_A=z["forces"].copy(),
                                stress_eV_per_A3=None if stress is None else stress.copy(),
                                attempts=0, wall_s=float(z["wall_s"]), cached=True)
    except Exception:  # a corrupt cache entry is recomputed, never trusted
        return None


def cached_label(atoms, spec: ReferenceSpec, cache_dir: str | os.PathLike) -> LabelOutcome | None:
    """The label of ``atoms`` in the cache ``cache_dir`` of :func:`label_structures`, or None when
    it has none (never computes)."""
    return _cache_load(Path(cache_dir) / f"{structure_key(atoms, spec)}.npz")


def _cache_store(path: Path, out: LabelOutcome) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
    np.savez(tmp, energy=out.energy_eV, forces=out.forces_eV_per_A,
             stress=np.zeros(6) if out.stress_eV_per_A3 is None else out.stress_eV_per_A3,
             has_stress=out.stress_eV_per_A3 is not None, wall_s=out.wall_s)
    os.replace(tmp, path)


def _run_worker(batch: list, spec: ReferenceSpec, jobdir: Path, timeout_s: float, threads: int = 1) -> dict[int, dict]:
    """Run the worker on ``batch`` (list of (index, Atoms)) on ``threads`` CPU threads;
    per-structure timeout.

    Returns {index: {"ok": bool, ...}} for every structure the worker finished or that timed
    out / crashed (the one in progress when the worker died). Structures never started are
    absent and must be resubmitted.
    """
    from ase.io import write

    jobdir = Path(jobdir).absolute()  # the worker runs in jobdir: a relative path would not reach it from there
    jobdir.mkdir(parents=True, exist_ok=True)
    for f in jobdir.glob("out_*"):
        f.unlink()
    # parallel=False: under MPI, ASE would let only world rank 0 write (and hang on a barrier)
    write(jobdir / "in.extxyz", [a for _, a in batch], format="extxyz", parallel=False)
    (jobdir / "job.json").write_text(json.dumps({"spec": asdict(spec), "indices": [i for i, _ in batch],
                                                  "threads": int(threads)}))
    log_f = open(jobdir / "worker.log", "a")
    # own session: a Ctrl-C in the terminal (SIGINT to the foreground process group) reaches the
    # runtime, which lets running tasks finish, not the worker in the middle of its calculation
    proc = subprocess.Popen([sys.executable, "-m", "argyro_run.learning._worker", str(jobdir)],
                            stdout=log_f, stderr=subprocess.STDOUT, env=_clean_env(), cwd=jobdir,
                            start_new_session=True)
    results: dict[int, dict] = {}
    last = time.monotonic()
    done_positions: set[int] = set()
    try:
        while True:
            finished = proc.poll() is not None
            for f in sorted(jobdir.glob("out_*.json")):
                pos = int(f.stem.split("_")[1])
                if pos in done_positions:
                    continue
                rec = json.loads(f.read_text())
                if rec["ok"]:
                    with np.load(jobdir / f"out_{pos}.npz") as z:
                        rec["energy"] = float(z["energy"])
                        rec["forces"] = z["forces"].copy()
                        rec["stress"] = z["stress"].copy() if z["has_stress"] else None
                results[batch[pos][0]] = rec
                done_positions.add(pos)
                last = time.monotonic()
            if finished:
                break
            if time.monotonic() - last > timeout_s:
                proc.kill()
                proc.wait()
                pos = len(done_positions)
                if pos < len(batch):
                    results[batch[pos][0]] = {"ok": False, "error": f"timeout after {timeout_s:g} s", "wall_s": timeout_s}
                return results
            time.sleep(0.05)
        if proc.returncode != 0 and len(done_positions) < len(batch):
            pos = len(done_positions)
            tail = (jobdir / "worker.log").read_text()[-800:]
            results[batch[pos][0]] = {"ok": False, "error": f"worker exited with code {proc.returncode}: {tail.strip()}",
                                      "wall_s": 0.0}
    finally:
        log_f.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return results


def label_structures(structures: list, spec: ReferenceSpec, workdir: str | os.PathLike,
                     cache_dir: str | os.PathLike | None = None, keep_workdirs: bool = False,
                     threads: int = 1) -> list[LabelOutcome]:
    """Label ``structures`` (ASE Atoms) with the reference; never raises for a failed calculation.

    Cached results are reused; each failure is retried up to ``spec.max_retries`` times with
    ``spec.fallback`` applied; outcomes are in input order. ``threads``: CPU threads of the
    worker (one per MPI rank doing the labelling; applied to the torch-based references).
    """
    workdir = Path(workdir)
    cache = Path(cache_dir) if cache_dir else workdir / "cache"
    outcomes: list[LabelOutcome | None] = [None] * len(structures)
    keys = [structure_key(a, spec) for a in structures]
    todo = []
    for i, (a, k) in enumerate(zip(structures, keys)):
        hit = _cache_load(cache / f"{k}.npz")
        if hit is not None:
            outcomes[i] = hit
        else:
            todo.append(i)
    attempt_spec = spec
    errors: dict[int, list[str]] = {i: [] for i in todo}
    for attempt in range(spec.max_retries + 1):
        if not todo:
            break
        if attempt > 0:
            attempt_spec = spec.fallback_spec()
            log.debug("retrying %d failed reference calculation(s) with fallback %s", len(todo), spec.fallback)
        pending = list(todo)
        failed = []
        while pending:
            jobdir = workdir / f"job_{keys[pending[0]]}_a{attempt}"
            res = _run_worker([(i, structures[i]) for i in pending], attempt_spec, jobdir, spec.timeout_s,
                              threads=threads)
            for i in list(pending):
                if i not in res:
                    continue
                rec = res[i]
                pending.remove(i)
                if rec["ok"]:
                    out = LabelOutcome(ok=True, energy_eV=rec["energy"], forces_eV_per_A=rec["forces"],
                                       stress_eV_per_A3=rec["stress"], attempts=attempt + 1, wall_s=rec["wall_s"])
                    _cache_store(cache / f"{keys[i]}.npz", out)
                    outcomes[i] = out
                else:
                    errors[i].append(rec["error"])
                    failed.append(i)
            if not keep_workdirs:
                shutil.rmtree(jobdir, ignore_errors=True)
            if not res:  # worker died before finishing anything and left no record: give up on all
                for i in pending:
                    errors[i].append("reference worker produced no result")
                failed.extend(pending)
                pending = []
        todo = failed
    for i in todo:
        msg = " | ".join(errors[i])
        # reported by dataset.label_images once the ranks' outcomes are together (the task's lead prints)
        log.debug("reference calculation %d failed after %d attempt(s): %s", i, spec.max_retries + 1, msg)
        outcomes[i] = LabelOutcome(ok=False, error=msg, attempts=spec.max_retries + 1)
    return outcomes  # type: ignore[return-value]


@dataclass
class Recheck:
    """A converged label computed again with the fallback settings (:func:`recheck_labels`)."""

    index: int                       # into the structures
    n_atoms: int
    energy_eV: float                 # the first label's
    predicted_eV: float              # the learning potential's
    fallback_energy_eV: float | None  # None: the fallback calculation failed
    replaced: bool                   # the fallback's label was kept (lower by more than the threshold)
    error: str = ""                  # the fallback's failure


def recheck_skipped_because(spec: ReferenceSpec) -> str:
    """Why :func:`recheck_labels` cannot recheck labels of ``spec`` ('' when it can)."""
    if spec.recheck_energy_meV_per_atom <= 0:
        return "reference.recheck_energy_meV_per_atom = 0"
    if spec.calculator in FOUNDATION_MODELS:
        return f"calculator {spec.calculator!r} is a pretrained potential (no SCF)"
    if spec.fallback_spec().key() == spec.key():
        return "reference.fallback changes nothing in the calculation (give it other SCF settings)"
    return ""


def _residuals_meV_per_atom(structures: list, outcomes: list[LabelOutcome], predicted_eV: list) -> list[float | None]:
    """(label - prediction) per atom in meV of each converged label with a finite prediction, else None."""
    return [1e3 * (o.energy_eV - p) / len(a) if o.ok and p is not None and np.isfinite(p) else None
            for a, o, p in zip(structures, outcomes, predicted_eV)]


def _recheck_bar_meV_per_atom(others: list[float], threshold_meV_per_atom: float) -> tuple[float, float]:
    """``(offset, bar)``: a label whose residual (meV/atom, label above prediction) exceeds ``offset + bar``
    is a suspect, given the residuals of the batch's ``others``.

    With at least :data:`RECHECK_MIN_OTHERS` others, ``offset`` is their median (the potential's common
    error on this batch, e.g. the per-atom shift of an early MTP) and ``bar`` the larger of the threshold
    and :data:`RECHECK_SPREAD_FACTOR` robust standard deviations of theirs (a potential whose own scatter
    is wider than the threshold cannot single out a wrong label below that scatter; rechecking every label
    it misses would double the reference's cost without finding one). With fewer, ``(0, threshold)``."""
    if len(others) < RECHECK_MIN_OTHERS:
        return 0.0, float(threshold_meV_per_atom)
    x = np.asarray(others, float)
    med = float(np.median(x))
    sigma = 1.4826 * float(np.median(np.abs(x - med)))
    return med, max(float(threshold_meV_per_atom), RECHECK_SPREAD_FACTOR * sigma)


def recheck_suspects(structures: list, outcomes: list[LabelOutcome], predicted_eV: list, threshold_meV_per_atom: float
                     ) -> list[int]:
    """Indices of the converged labels that lie too far *above* the potential's energy ``predicted_eV``
    (None or NaN: no prediction, e.g. a cut-out whose energy is not learned).

    An SCF stuck in the wrong state gives an energy above the ground state's, so only labels above their
    prediction are suspects. Each label's residual per atom is judged against the other labels of the
    batch (:func:`_recheck_bar_meV_per_atom`, leave-one-out so a wrong label does not hide itself): it is a
    suspect when it exceeds their median by more than ``threshold_meV_per_atom`` and by more than their
    own scatter allows; in a batch with fewer than :data:`RECHECK_MIN_OTHERS` other predictions, when it
    exceeds the threshold itself."""
    res = _residuals_meV_per_atom(structures, outcomes, predicted_eV)
    out = []
    for i, r in enumerate(res):
        if r is None:
            continue
        offset, bar = _recheck_bar_meV_per_atom([x for j, x in enumerate(res) if j != i and x is not None],
                                               threshold_meV_per_atom)
        if r - offset > bar:
            out.append(i)
    return out


def recheck_labels(structures: list, outcomes: list[LabelOutcome], predicted_eV: list, spec: ReferenceSpec,
                   workdir: str | os.PathLike, cache_dir: str | os.PathLike | None = None, comm=None
                   ) -> tuple[list[LabelOutcome], list[Recheck]]:
    """Guard against a self-consistent field that converged to the wrong state.

    An SCF code can report convergence in a local minimum of its energy functional above the ground
    state (CP2K's OT did, 4.7 eV up, on 2 of 11 charged 51-atom argyrodite cells: docs/references.md).
    Every converged label that lies above ``predicted_eV`` (the learning potential's energy of that
    structure; None where there is none) by more than ``spec.recheck_energy_meV_per_atom`` per atom,
    measured from the potential's common error on the rest of the batch and beyond its scatter there
    (:func:`recheck_suspects`), is computed again with ``spec.fallback`` (no retries). The fallback's
    label replaces the first when its energy is lower by more than the same threshold: of two
    self-consistent solutions the lower is nearer the ground state. Otherwise the first label stands
    (the potential was wrong, not the label).

    Returns the outcomes (replaced ones carry both calculations' attempts and wall time) and a
    :class:`Recheck` per recomputed label. With ``comm``, every rank passes and gets the same lists.
    Nothing is rechecked where :func:`recheck_skipped_because` names a reason.
    """
    if recheck_skipped_because(spec):
        return list(outcomes), []
    thr = spec.recheck_energy_meV_per_atom
    suspects = recheck_suspects(structures, outcomes, predicted_eV, thr)
    if not suspects:
        return list(outcomes), []
    fb = ReferenceSpec(**{**asdict(spec.fallback_spec()), "max_retries": 0})
    subset = [structures[i] for i in suspects]
    workdir = Path(workdir)
    if comm is not None and comm.size > 1:
        again = label_distributed(subset, fb, workdir, comm, cache_dir=cache_dir or workdir / "cache")
    else:
        again = label_structures(subset, fb, workdir, cache_dir=cache_dir)
    outcomes = list(outcomes)
    records = []
    for i, o2 in zip(suspects, again):
        o, n = outcomes[i], len(structures[i])
        lower = o2.ok and o2.energy_eV < o.energy_eV - 1e-3 * thr * n
        records.append(Recheck(index=i, n_atoms=n, energy_eV=float(o.energy_eV), predicted_eV=float(predicted_eV[i]),
                               fallback_energy_eV=float(o2.energy_eV) if o2.ok else None, replaced=bool(lower),
                               error="" if o2.ok else o2.error))
        if lower:
            outcomes[i] = LabelOutcome(ok=True, energy_eV=o2.energy_eV, forces_eV_per_A=o2.forces_eV_per_A,
                                       stress_eV_per_A3=o2.stress_eV_per_A3, attempts=o.attempts + o2.attempts,
                                       wall_s=o.wall_s + o2.wall_s, cached=o.cached and o2.cached)
    return outcomes, records


def label_distributed(structures: list, spec: ReferenceSpec, workdir: str | os.PathLike, comm,
                      cache_dir: str | os.PathLike | None = None) -> list[LabelOutcome]:
    """Label over the ranks of ``comm`` (round robin); every rank returns the full list."""
    mine = list(range(comm.rank, len(structures), comm.size))
    outs = label_structures([structures[i] for i in mine], spec, Path(workdir) / f"rank{comm.rank}",
                            cache_dir=cache_dir or Path(workdir) / "cache")
    gathered = comm.allgather(list(zip(mine, outs)))
    result: list[LabelOutcome | None] = [None] * len(structures)
    for part in gathered:
        for i, o in part:
            result[i] = o
    return result  # type: ignore[return-value]
