"""Training sets of the active-learning loop: labelling, Result (de)serialisation.

A training image is an ASE ``Atoms`` whose ``calc`` is a ``SinglePointCalculator`` holding the
reference energy/forces/stress (the label contract of ``potentials/train.py``), with optional
``info['energy_weight']`` (0 for local cut-outs: total energy and stress excluded) and
``arrays['force_weight']`` (per-atom force weights: 1 on the core of a cut-out, 0 on its rim),
and ``info['origin']`` (where the image came from, e.g. ``LPSCl/ordered/rattle3`` or
``level6/it2/LPSCl/gb_sigma5_310/T600/cut123``).

In a :class:`~argyro_run.results.Result`, a training set lives below a prefix as flat arrays
(images concatenated along the atom axis, ``n_atoms`` to split them again).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from argyro_run.config.reference import RECHECK_ENERGY_MEV_PER_ATOM
from argyro_run.learning.reference import (
    LabelOutcome,
    ReferenceSpec,
    label_distributed,
    label_structures,
    recheck_labels,
    recheck_skipped_because,
)
from argyro_run.results import as_text

log = logging.getLogger(__name__)


def spec_from_params(ref: dict) -> ReferenceSpec:
    """``ReferenceSpec`` from the ``[reference]`` section as dumped into task params."""
    fb = dict(ref.get("fallback") or {})
    fallback = dict(fb.get("kwargs") or {})
    if fb.get("electronic_temperature_K") is not None:
        fallback["electronic_temperature_K"] = float(fb["electronic_temperature_K"])
    return ReferenceSpec(calculator=ref.get("calculator", "tblite"), method=ref.get("method", "GFN1-xTB"),
                         model=ref.get("model"),
                         electronic_temperature_K=float(ref.get("electronic_temperature_K", 300.0)),
                         kwargs=dict(ref.get("kwargs") or {}), command=ref.get("command"),
                         timeout_s=float(ref.get("timeout_s", 1800.0)), max_retries=int(ref.get("max_retries", 1)),
                         fallback=fallback, recheck_energy_meV_per_atom=float(
                             ref.get("recheck_energy_meV_per_atom", RECHECK_ENERGY_MEV_PER_ATOM)))


def labelled(atoms, outcome: LabelOutcome):
    """A copy of ``atoms`` carrying the reference labels of ``outcome`` as a SinglePointCalculator."""
    from ase.calculators.singlepoint import SinglePointCalculator

    a = atoms.copy()
    kw = {"energy": float(outcome.energy_eV), "forces": np.asarray(outcome.forces_eV_per_A, dtype=float)}
    if outcome.stress_eV_per_A3 is not None and a.pbc.all():
        kw["stress"] = np.asarray(outcome.stress_eV_per_A3, dtype=float)
    a.calc = SinglePointCalculator(a, **kw)
    return a


@dataclass
class LabelStats:
    """Cost of a batch of reference calculations (rank 0's view of the whole batch)."""

    calls: int = 0            # structures sent (cache hits included)
    computed: int = 0         # calculations actually run (not from the cache)
    failed: int = 0
    atoms: int = 0            # reference atoms in the structures sent
    atoms_computed: int = 0   # reference atoms actually computed
    wall_s: float = 0.0       # wall time of the batch
    cpu_s: float = 0.0        # sum of per-calculation wall times (as recorded by the workers)
    errors: list = field(default_factory=list)   # (origin, message) of failures
    rechecked: int = 0        # converged labels computed again with the fallback (reference.recheck_labels)
    relabelled: int = 0       # of those, replaced by the fallback's lower energy

    def __add__(self, other: "LabelStats") -> "LabelStats":
        """Two batches as one (counts, atoms and times summed, failures joined)."""
        return LabelStats(**{f: getattr(self, f) + getattr(other, f) for f in
                             ("calls", "computed", "failed", "atoms", "atoms_computed", "wall_s", "cpu_s", "errors",
                              "rechecked", "relabelled")})


def label_images(structures: list, spec: ReferenceSpec, workdir: Path, comm=None,
                 cache_dir: Path | None = None, predict=None) -> tuple[list, LabelStats]:
    """Label ``structures`` with the reference (distributed over ``comm`` when given).

    Returns the successfully labelled images (input order, failures dropped and recorded in the
    stats; never raises for a failed calculation) and the cost. Every rank gets the same answer.
    ``predict``: the learning potential's energy (eV) of an ``Atoms``; with it, the labels of whole
    cells (``info['energy_weight']`` 1) far from their prediction are rechecked with the fallback
    settings (:func:`~argyro_run.learning.reference.recheck_labels`, ``reference.recheck_energy_meV_per_atom``).
    """
    t0 = time.perf_counter()
    workdir = Path(workdir)
    cache_dir = Path(cache_dir) if cache_dir else workdir / "cache"
    if comm is not None and comm.size > 1:
        outs = label_distributed(structures, spec, workdir, comm, cache_dir=cache_dir)
    else:
        outs = label_structures(structures, spec, workdir, cache_dir=cache_dir)
    st = LabelStats(calls=len(structures))
    if predict is not None and not recheck_skipped_because(spec):
        predicted = [float(predict(a)) if o.ok and float(a.info.get("energy_weight", 1.0)) == 1.0 else None
                     for a, o in zip(structures, outs)]
        outs, rechecks = recheck_labels(structures, outs, predicted, spec, workdir / "recheck", cache_dir=cache_dir,
                                        comm=comm)
        st.rechecked = len(rechecks)
        st.relabelled = sum(r.replaced for r in rechecks)
        for r in rechecks:
            a = structures[r.index]
            fb = (f"{r.fallback_energy_eV:.4f} eV" if r.fallback_energy_eV is not None
                  else f"failed ({r.error.splitlines()[0] if r.error else 'no message'})")
            what = ("kept the fallback's lower energy: the first SCF had converged to a state above the ground state"
                    if r.replaced else "kept the first label")
            log.log(logging.WARNING if r.replaced else logging.INFO,
                    "reference label of %s (%d atoms) lies %.0f meV/atom above the potential's energy "
                    "(reference.recheck_energy_meV_per_atom = %g, from the potential's error on the rest of the "
                    "batch): %.4f eV, with reference.fallback %s; %s",
                    a.info.get("origin", "?"), r.n_atoms, 1e3 * (r.energy_eV - r.predicted_eV) / r.n_atoms,
                    spec.recheck_energy_meV_per_atom, r.energy_eV, fb, what)
    images = []
    for a, o in zip(structures, outs):
        st.atoms += len(a)
        if not o.cached and o.ok:
            st.computed += 1
            st.atoms_computed += len(a)
            st.cpu_s += float(o.wall_s)
        if o.ok:
            images.append(labelled(a, o))
        else:
            st.failed += 1
            st.errors.append((str(a.info.get("origin", "?")), o.error))
            log.warning("reference calculation of %s (%d atoms) failed after %d attempt(s): %s",
                        a.info.get("origin", "?"), len(a), o.attempts, o.error)
    st.wall_s = time.perf_counter() - t0
    return images, st


# --- training sets in a Result -------------------------------------------------------------

def training_set_to_result(result, prefix: str, images: list) -> None:
    """Store labelled ``images`` below ``prefix`` of ``result`` (flat arrays with units)."""
    pre = prefix.strip("/")
    n = np.array([len(a) for a in images], dtype=np.int64)
    result.add(f"{pre}/n_atoms", n, "")
    if not images:
        result.set_attrs(pre, n_images=0, n_atoms_total=0)
        return
    result.add(f"{pre}/numbers", np.concatenate([a.numbers for a in images]).astype(np.int32), "")
    result.add(f"{pre}/positions", np.concatenate([a.positions for a in images]), "Angstrom")
    result.add(f"{pre}/cells", np.stack([np.asarray(a.cell[:]) for a in images]), "Angstrom")
    result.add(f"{pre}/pbc", np.stack([np.asarray(a.pbc, dtype=bool) for a in images]), "")
    e, f, s = [], [], []
    for a in images:
        c = a.calc
        e.append(c.get_property("energy", a, allow_calculation=False))
        f.append(c.get_property("forces", a, allow_calculation=False))
        st = c.results.get("stress") if hasattr(c, "results") else None
        s.append(np.full(6, np.nan) if st is None else np.asarray(st, dtype=float).reshape(-1)[:6])
    result.add(f"{pre}/energy", np.array(e, dtype=float), "eV")
    result.add(f"{pre}/forces", np.concatenate(f), "eV/Angstrom")
    result.add(f"{pre}/stress", np.stack(s), "eV/Angstrom^3", convention="Voigt xx yy zz yz xz xy, ASE sign; NaN = none")
    result.add(f"{pre}/energy_weight", np.array([float(a.info.get("energy_weight", 1.0)) for a in images]), "1")
    result.add(f"{pre}/force_weight",
               np.concatenate([np.asarray(a.arrays.get("force_weight", np.ones(len(a))), dtype=float) for a in images]), "1")
    result.add(f"{pre}/origin", "\n".join(str(a.info.get("origin", "")) for a in images), "")
    result.set_attrs(pre, n_images=len(images), n_atoms_total=int(n.sum()))


def training_set_from_result(result, prefix: str) -> list:
    """The labelled images stored by :func:`training_set_to_result`."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    pre = prefix.strip("/")
    n = np.asarray(result.get(f"{pre}/n_atoms"), dtype=np.int64)
    if len(n) == 0:
        return []
    off = np.concatenate([[0], np.cumsum(n)])
    numbers = np.asarray(result.get(f"{pre}/numbers"))
    pos = np.asarray(result.get(f"{pre}/positions"), dtype=float)
    cells = np.asarray(result.get(f"{pre}/cells"), dtype=float)
    pbc = np.asarray(result.get(f"{pre}/pbc"), dtype=bool)
    energy = np.asarray(result.get(f"{pre}/energy"), dtype=float)
    forces = np.asarray(result.get(f"{pre}/forces"), dtype=float)
    stress = np.asarray(result.get(f"{pre}/stress"), dtype=float)
    ew = np.asarray(result.get(f"{pre}/energy_weight"), dtype=float)
    fw = np.asarray(result.get(f"{pre}/force_weight"), dtype=float)
    origins = as_text(result.get(f"{pre}/origin")).split("\n")
    images = []
    for k in range(len(n)):
        sl = slice(off[k], off[k + 1])
        a = Atoms(numbers=numbers[sl], positions=pos[sl], cell=cells[k], pbc=pbc[k])
        kw = {"energy": float(energy[k]), "forces": forces[sl].copy()}
        if not np.isnan(stress[k]).any():
            kw["stress"] = stress[k].copy()
        a.calc = SinglePointCalculator(a, **kw)
        if ew[k] != 1.0:
            a.info["energy_weight"] = float(ew[k])
        if not np.all(fw[sl] == 1.0):
            a.arrays["force_weight"] = fw[sl].copy()
        a.info["origin"] = origins[k] if k < len(origins) else ""
        images.append(a)
    return images


def structures_of(result) -> dict[str, object]:
    """Every ``Atoms`` stored with ``add_atoms`` at the top level of a structures ``Result``."""
    from argyro_run.results import get_atoms

    names = sorted(p for p, a in result.attrs.items() if p and "/" not in p and a.get("kind") == "atoms")
    return {name: get_atoms(result, name) for name in names}


def is_interface_cell(atoms) -> bool:
    """True for grain-boundary/interface cells (they carry ``gb_distance_A`` or ``grain_id``)."""
    return "gb_distance_A" in atoms.arrays or "grain_id" in atoms.arrays
