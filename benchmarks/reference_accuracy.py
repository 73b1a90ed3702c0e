"""Which reference to trust: GFN1-xTB, CHGNet and SevenNet against PBE (CP2K) on one fixed set of
52-atom Li6PS5Cl configurations.

Usage (WORK is a scratch folder; every step resumes from what is already there)::

    python benchmarks/reference_accuracy.py build WORK        # the configuration set -> WORK/set.extxyz
    python benchmarks/reference_accuracy.py label WORK cp2k   # PBE labels, one configuration at a time
    python benchmarks/reference_accuracy.py label WORK all-cheap   # tblite, CHGNet, SevenNet
    python benchmarks/reference_accuracy.py compare WORK docs/references/accuracy.json  # + markdown tables
    python benchmarks/reference_accuracy.py neb WORK          # intercage Li hop, cheap references
    python benchmarks/reference_accuracy.py band-pbe WORK sevenn:7net-l3i5   # PBE along that band
    python benchmarks/reference_accuracy.py neb WORK mtp:FILE.mtp    # the same hop with a learned MTP
    python benchmarks/reference_accuracy.py band-energies WORK sevenn:7net-l3i5 mtp:FILE.mtp
    python benchmarks/reference_accuracy.py recheck WORK sevenn:7net-l3i5 --images 4,5,6   # the SCF guard

``--halide Br`` (or ``I``) anywhere builds the same set, and runs the NEB, for Li6PS5Br / Li6PS5I
(its MD frames from SevenNet-l3i5, since GFN1-xTB fails there); give each halide its own WORK.

Every label goes through argyro-run's own reference layer (``label_structures``: a worker
subprocess per call, results cached on disk by structure and settings in ``WORK/cache``), so an
interrupted run loses at most the configuration in progress. The set is built once and kept in
``WORK/set.extxyz`` (MD frames come from a tblite Langevin run through ``reference_md``, whose
floating-point path is not bit-reproducible across machines); later steps read that file.

The set (all Li24P4S20Cl4, 52 atoms, same composition so energies per atom compare directly):
ordered (rattled 0.05 A), anion site exchange 25 % and 50 % (two draws), a strained + rattled
cell, a Li at the midpoint of a doublet (intra-cage) jump and of an intercage jump, and MD frames
at 600 K and 900 K (tblite GFN1-xTB Langevin MD, 2 fs steps).

PBE settings (the issue's): DZVP-MOLOPT-SR-GTH basis, GTH-PBE pseudopotentials, 400 Ry density
cutoff, Gamma point, orbital transformation SCF to 1e-5 (:data:`CP2K_KWARGS`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RY_eV = 13.605693122994  # CODATA 2018 Rydberg energy in eV

# OT SCF (DIIS, FULL_SINGLE_INVERSE) to CP2K's default EPS_SCF 1e-5, in short inner loops (the
# calculator's ``max_scf``) inside an outer loop: each outer step rebuilds the preconditioner,
# which a single long inner loop never does (measured on the ordered cell: a 40-step inner loop
# converged by only a factor 0.87 per step after step 15). CP2K's default (diagonalisation, 50
# steps) could stop unconverged without failing; a non-converged outer SCF is reported.
_CP2K_INP = """&FORCE_EVAL
  &DFT
    &SCF
      EPS_SCF 1.0E-5
      &OT
        MINIMIZER DIIS
        PRECONDITIONER FULL_SINGLE_INVERSE
      &END OT
      &OUTER_SCF
        EPS_SCF 1.0E-5
        MAX_SCF 20
      &END OUTER_SCF
    &END SCF
  &END DFT
&END FORCE_EVAL
"""

# The same PBE by diagonalisation with Broyden density mixing (no smearing): a second, independent
# SCF path for a label OT may have converged to a local minimum of (band-pbe --scf diag).
_CP2K_INP_DIAG = """&FORCE_EVAL
  &DFT
    &SCF
      EPS_SCF 1.0E-5
      &DIAGONALIZATION
        ALGORITHM STANDARD
      &END DIAGONALIZATION
      &MIXING
        METHOD BROYDEN_MIXING
        ALPHA 0.2
        NBROYDEN 8
      &END MIXING
    &END SCF
  &END DFT
&END FORCE_EVAL
"""

CP2K_KWARGS = {"xc": "PBE", "basis_set": "DZVP-MOLOPT-SR-GTH", "basis_set_file": "BASIS_MOLOPT",
               "pseudo_potential": "GTH-PBE", "potential_file": "GTH_POTENTIALS",
               "cutoff": 400.0 * RY_eV, "max_scf": 15, "inp": _CP2K_INP, "label": "pbe"}

# label -> ReferenceSpec arguments of the cheap references
CHEAP = {"tblite:GFN1-xTB": {"calculator": "tblite"},
         "chgnet:0.3.0": {"calculator": "chgnet", "model": "0.3.0"},
         "chgnet:r2scan": {"calculator": "chgnet", "model": "r2scan"},
         "sevenn:7net-0": {"calculator": "sevenn", "model": "7net-0"},
         "sevenn:7net-l3i5": {"calculator": "sevenn", "model": "7net-l3i5"},
         "sevenn:7net-mf-0-pbe": {"calculator": "sevenn", "model": "7net-mf-0-pbe"},
         "sevenn:7net-mf-0-r2scan": {"calculator": "sevenn", "model": "7net-mf-0-r2scan"}}

# PBE order of work: one of each kind first, so an early stop still covers every kind
PRIORITY = ["ordered", "disorder50_a", "md600_a", "md900_a", "strained", "hop_intercage",
            "disorder25", "md600_b", "md900_b", "disorder50_b", "hop_doublet"]


def cp2k_spec(ranks: int):
    from argyro_run.learning.reference import ReferenceSpec

    command = "cp2k_shell.psmp" if ranks <= 1 else f"mpirun.openmpi --oversubscribe -n {ranks} cp2k_shell.psmp"
    return ReferenceSpec(calculator="cp2k", kwargs=CP2K_KWARGS, command=command, timeout_s=6 * 3600.0,
                         max_retries=0)


def _empty_48h(atoms, halide: str = "Cl") -> np.ndarray:
    """Cartesian positions of the 48h sites the ordered cell of Li6PS5``halide`` leaves empty."""
    from ase.spacegroup import crystal

    from argyro_run.structures.argyrodite import LATTICE_CONSTANTS_A, LI48H_XZ

    a = LATTICE_CONSTANTS_A[halide]
    x, z = LI48H_XZ[halide]
    full = crystal("Li", [(x, x, z)], spacegroup=216, cellpar=[a, a, a, 90, 90, 90]).positions
    li = atoms.positions[atoms.numbers == 3]
    d = _mic(full[:, None, :] - li[None, :, :], a)
    return full[np.linalg.norm(d, axis=2).min(axis=1) > 0.1]


def _mic(d: np.ndarray, a: float) -> np.ndarray:
    return d - a * np.round(d / a)


def _cage(pos: np.ndarray, atoms) -> int:
    """Index of the 4c anion (cage centre) nearest to ``pos``."""
    from argyro_run.structures.argyrodite import SUBLATTICE

    centres = np.flatnonzero(atoms.arrays["sublattice"] == SUBLATTICE["site_4c"])
    d = np.linalg.norm(_mic(atoms.positions[centres] - pos, atoms.cell[0, 0]), axis=1)
    return int(centres[np.argmin(d)])


def hop(atoms, kind: str, halide: str = "Cl") -> tuple[int, np.ndarray]:
    """(index of Li 0-th in the cell, target empty 48h site) of a doublet (same cage) or an
    intercage jump: the nearest empty site in the same / in another cage."""
    li0 = int(np.flatnonzero(atoms.numbers == 3)[0])
    empty = _empty_48h(atoms, halide)
    home = _cage(atoms.positions[li0], atoms)
    d = np.linalg.norm(_mic(empty - atoms.positions[li0], atoms.cell[0, 0]), axis=1)
    same = np.array([_cage(p, atoms) == home for p in empty])
    pick = same if kind == "doublet" else ~same
    k = np.flatnonzero(pick)[np.argmin(d[pick])]
    return li0, atoms.positions[li0] + _mic(empty[k] - atoms.positions[li0], atoms.cell[0, 0])


def _rattle(atoms, amplitude: float, seed: int, strain: float = 0.0):
    from argyro_run.learning.initial import rattled_and_strained

    out = rattled_and_strained(atoms, 1, rattle_amplitude_A=amplitude, strain_amplitude=strain, seed=seed,
                               min_distance_A=1.5)[0]
    return out


def build(work: Path, halide: str = "Cl") -> None:
    from ase.io import read, write

    from argyro_run.learning.initial import reference_md
    from argyro_run.learning.reference import ReferenceSpec
    from argyro_run.structures.argyrodite import argyrodite
    from argyro_run.structures.disorder import site_exchange

    work.mkdir(parents=True, exist_ok=True)
    path = work / "set.extxyz"
    have = {a.info["name"]: a for a in read(path, ":")} if path.exists() else {}
    base = argyrodite(halide)
    static = {
        "ordered": lambda: _rattle(base, 0.05, 1),
        "disorder50_a": lambda: _rattle(site_exchange(base, 0.5, seed=1), 0.05, 2),
        "disorder50_b": lambda: _rattle(site_exchange(base, 0.5, seed=2), 0.05, 3),
        "disorder25": lambda: _rattle(site_exchange(base, 0.25, seed=3), 0.05, 4),
        "strained": lambda: _rattle(base, 0.08, 5, strain=0.03),
    }
    for kind in ("doublet", "intercage"):
        def _make(kind=kind):
            a = base.copy()
            i, target = hop(a, kind, halide)
            a.positions[i] = 0.5 * (a.positions[i] + target)
            return _rattle(a, 0.03, 6 if kind == "doublet" else 7)
        static[f"hop_{kind}"] = _make
    for name, make in static.items():
        if name not in have:
            a = make()
            a.info = {"name": name}
            have[name] = a
            write(path, [have[k] for k in have], format="extxyz")
            print(f"built {name}", flush=True)
    # GFN1-xTB's forces on Li6PS5Br/I are hundreds of eV/A (docs/references.md): their frames come
    # from SevenNet-l3i5 MD (the validation study's reference, so they favour it a little)
    md_ref = "tblite" if halide == "Cl" else "sevenn:7net-l3i5"
    spec = (ReferenceSpec(calculator="tblite", timeout_s=600.0) if md_ref == "tblite"
            else ReferenceSpec(**CHEAP[md_ref], timeout_s=600.0))
    for T in (600, 900):
        names = [f"md{T}_a", f"md{T}_b"]
        if all(n in have for n in names):
            continue
        t0 = time.perf_counter()
        frames, status = reference_md(base, spec, work / f"md{T}", steps=60, temperature_K=float(T),
                                      timestep_fs=2.0, interval=30, seed=T, friction_per_fs=0.02)
        if not status.get("ok") or len(frames) < 2:
            raise SystemExit(f"{md_ref} MD at {T} K failed: {status}")
        for n, f in zip(names, frames[-2:]):
            a = base.copy()
            a.positions = f.positions
            a.info = {"name": n, "md_temperature_K": T, "md_reference": md_ref}
            have[n] = a
        write(path, [have[k] for k in have], format="extxyz")
        print(f"built md{T} frames (60 steps of 2 fs, frames at 60 and 120 fs) in {time.perf_counter() - t0:.0f} s",
              flush=True)


def _load_set(work: Path) -> dict:
    from ase.io import read

    frames = read(work / "set.extxyz", ":")
    out = {}
    for a in frames:
        a.calc = None
        name = a.info["name"]
        clean = a.__class__(numbers=a.numbers, positions=a.positions, cell=a.cell, pbc=a.pbc)
        clean.info["name"] = name
        out[name] = clean
    return out


def _claim(work: Path, name: str) -> bool:
    """Reserve ``name`` for this process (several PBE label processes may share one WORK)."""
    (work / "claims").mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(work / "claims" / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def label(work: Path, which: str, ranks: int = 2) -> None:
    from argyro_run.learning.reference import ReferenceSpec, label_structures

    cache = work / "cache"
    if which == "cp2k":
        spec = cp2k_spec(ranks)
        done: set[str] = set()
        while True:  # re-read the set: MD frames may be added while PBE runs
            configs = _load_set(work)
            todo = [n for n in PRIORITY if n in configs and n not in done]
            name = next((n for n in todo if _claim(work, n)), None)
            if name is None:  # all done or taken by another label process: wait for MD frames
                if all(n in configs for n in PRIORITY):
                    return
                time.sleep(30)
                continue
            t0 = time.perf_counter()
            c0 = os.times()
            out = label_structures([configs[name]], spec, work / "jobs" / "pbe", cache_dir=cache)[0]
            c1 = os.times()
            cpu = (c1.children_user + c1.children_system) - (c0.children_user + c0.children_system)
            done.add(name)
            rec = {"name": name, "ok": out.ok, "cached": out.cached, "wall_s": round(time.perf_counter() - t0, 1),
                   "children_cpu_s": round(cpu, 1), "error": out.error}
            with open(work / "pbe_log.jsonl", "a") as f:
                f.write(json.dumps(rec) + "\n")
            print(json.dumps(rec), flush=True)
            if not out.ok:
                raise SystemExit(f"PBE label of {name} failed: {out.error}")
    names = list(CHEAP) if which == "all-cheap" else [which]
    configs = _load_set(work)
    for label_name in names:
        spec = ReferenceSpec(**CHEAP[label_name], timeout_s=1800.0, max_retries=0)
        t0 = time.perf_counter()
        outs = label_structures(list(configs.values()), spec, work / "jobs" / label_name.replace(":", "_"),
                                cache_dir=cache)
        bad = [n for n, o in zip(configs, outs) if not o.ok]
        print(f"{label_name}: {len(outs) - len(bad)}/{len(outs)} labelled in {time.perf_counter() - t0:.0f} s"
              + (f"; failed: {bad} {[o.error for o in outs if not o.ok]}" if bad else ""), flush=True)


def kind_of(name: str) -> str:
    if name.startswith("disorder"):
        return "disordered"
    if name.startswith("hop"):
        return "Li hop"
    if name.startswith("md"):
        return f"MD {name[2:5]} K"
    return name


def metrics(e_ref: np.ndarray, e: np.ndarray, f_ref: list, f: list, natoms: np.ndarray) -> dict:
    """Energies: per atom, each relative to its own mean over the configurations (constant offsets
    drop out); forces: all Cartesian components pooled."""
    r_ref = e_ref / natoms - np.mean(e_ref / natoms)
    r = e / natoms - np.mean(e / natoms)
    de = (r - r_ref) * 1000.0
    fr, fc = np.concatenate([x.ravel() for x in f_ref]), np.concatenate([x.ravel() for x in f])
    df = fc - fr
    a, b = np.concatenate(f_ref), np.concatenate(f)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    ok = norms > 1e-8
    cos = np.sum(a * b, axis=1)[ok] / norms[ok]
    return {"relative_energy_mae_meV_per_atom": float(np.mean(np.abs(de))),
            "relative_energy_rmse_meV_per_atom": float(np.sqrt(np.mean(de ** 2))),
            "relative_energy_max_error_meV_per_atom": float(np.max(np.abs(de))),
            "force_mae_eV_per_A": float(np.mean(np.abs(df))),
            "force_rmse_eV_per_A": float(np.sqrt(np.mean(df ** 2))),
            "force_pearson_r": float(np.corrcoef(fr, fc)[0, 1]),
            "force_cosine_mean": float(np.mean(cos)),
            "force_magnitude_ratio": float(np.linalg.norm(fc) / np.linalg.norm(fr))}


def _pbe_cpu_s(work: Path, names: list[str]) -> dict[str, float]:
    """CPU seconds of each PBE label (worker and CP2K), from the label processes' log."""
    log_path = work / "pbe_log.jsonl"
    recs = [json.loads(ln) for ln in log_path.read_text().splitlines()] if log_path.exists() else []
    return {r["name"]: r["children_cpu_s"] for r in recs if r["ok"] and not r["cached"] and r["name"] in names}


def compare(work: Path, out_json: Path, ranks: int = 2, truth: str = "pbe") -> dict:
    """Each cheap reference against the PBE labels (``truth`` a key of :data:`CHEAP`: against that
    one instead, a check of the script while PBE runs)."""
    from importlib.metadata import version

    from argyro_run.learning.reference import ReferenceSpec, cached_label

    configs = _load_set(work)
    cache = work / "cache"
    pbe_spec = cp2k_spec(ranks)

    def cached(spec):  # cache reads only
        return {n: cached_label(a, spec, cache) for n, a in configs.items()}

    truth_spec = pbe_spec if truth == "pbe" else ReferenceSpec(**CHEAP[truth])
    pbe = {n: o for n, o in cached(truth_spec).items() if o is not None}
    names = [n for n in PRIORITY if n in pbe]
    natoms = np.array([len(configs[n]) for n in names], dtype=float)
    e_pbe = np.array([pbe[n].energy_eV for n in names])
    f_pbe = [pbe[n].forces_eV_per_A for n in names]
    result = {"configurations": names, "kinds": {n: kind_of(n) for n in names},
              "pbe": {"code": "CP2K 2023.1 (Debian cp2k_shell.psmp)", "settings": {k: v for k, v in CP2K_KWARGS.items()
                                                                                 if k not in ("inp", "label")},
                      "scf": "OT DIIS, FULL_SINGLE_INVERSE, EPS_SCF 1e-5 (inner 15 x outer 20), Gamma point",
                      "relative_energy_meV_per_atom": dict(zip(names, ((e_pbe / natoms - np.mean(e_pbe / natoms))
                                                                       * 1000).round(2).tolist())),
                      "force_rms_eV_per_A": dict(zip(names, [float(np.sqrt(np.mean(f ** 2))) for f in f_pbe])),
                      "net_force_norm_eV_per_A": {n: float(np.linalg.norm(f.sum(axis=0))) for n, f in zip(names, f_pbe)},
                      "wall_s": {n: pbe[n].wall_s for n in names},
                      "cpu_s": _pbe_cpu_s(work, names)},
              "references": {}}
    for label_name, kw in CHEAP.items():
        spec = ReferenceSpec(**kw)
        got = cached(spec)
        if any(got[n] is None for n in names):
            continue
        e = np.array([got[n].energy_eV for n in names])
        f = [got[n].forces_eV_per_A for n in names]
        entry = {"package_version": version(kw["calculator"]), "all": metrics(e_pbe, e, f_pbe, f, natoms),
                 "forces_by_kind": {}}
        for kind in sorted(set(kind_of(n) for n in names)):
            idx = [i for i, n in enumerate(names) if kind_of(n) == kind]
            m = metrics(e_pbe[idx], e[idx], [f_pbe[i] for i in idx], [f[i] for i in idx], natoms[idx])
            entry["forces_by_kind"][kind] = {k: m[k] for k in ("force_mae_eV_per_A", "force_rmse_eV_per_A",
                                                              "force_cosine_mean")}
        entry["relative_energy_meV_per_atom"] = dict(zip(names, ((e / natoms - np.mean(e / natoms))
                                                                 * 1000).round(2).tolist()))
        result["references"][label_name] = entry
    neb = work / "neb.json"
    if neb.exists():
        result["neb_intercage_barrier"] = json.loads(neb.read_text())
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(result, indent=1) + "\n")
    return result


NEB_REFERENCES = ("chgnet:0.3.0", "sevenn:7net-0", "sevenn:7net-mf-0-pbe")


def vacancy_hop_endpoints(kind: str = "intercage", halide: str = "Cl"):
    """(initial, final, (Li index, jump distance)) of a vacancy-mediated jump in the ordered cell:
    the occupied 48h site nearest to Li 0 in another cage (``intercage``) or in its own cage
    (``doublet``) is emptied (its Li removed) and Li 0 jumps there."""
    from argyro_run.structures.argyrodite import argyrodite

    base = argyrodite(halide)
    a = base.cell[0, 0]
    li = np.flatnonzero(base.numbers == 3)
    i = int(li[0])
    home = _cage(base.positions[i], base)
    others = [j for j in li[1:] if (_cage(base.positions[j], base) != home) == (kind == "intercage")]
    d = [np.linalg.norm(_mic(base.positions[j] - base.positions[i], a)) for j in others]
    x = int(others[int(np.argmin(d))])
    target = base.positions[i] + _mic(base.positions[x] - base.positions[i], a)
    initial = base.copy()
    del initial[x]
    i_new = i if i < x else i - 1
    final = initial.copy()
    final.positions[i_new] = target
    for at in (initial, final):
        for k in list(at.arrays):
            if k not in ("numbers", "positions"):
                del at.arrays[k]
    return initial, final, (i_new, float(min(d)))


def neb(work: Path, which: str, images: int = 5, halide: str = "Cl") -> dict:
    """Climbing-image NEB of :func:`vacancy_hop_endpoints` with a cheap reference or a learned MTP
    (:func:`_calculator`; endpoints relaxed at fixed cell to 0.05 eV/A, band to 0.1 eV/A, FIRE),
    evaluated in this process. The converged band is kept in WORK (:func:`band_file`)."""
    from ase.mep import NEB
    from ase.optimize import FIRE

    work.mkdir(parents=True, exist_ok=True)
    out_path = work / "neb.json"
    done = json.loads(out_path.read_text()) if out_path.exists() else {}
    if _label(which) in done:
        return done[_label(which)]
    calc = _calculator(which, work)
    initial, final, (li, dist) = vacancy_hop_endpoints(halide=halide)
    c0, t0 = time.process_time(), time.perf_counter()
    ends = []
    for at in (initial, final):
        at.calc = calc
        FIRE(at, logfile=None).run(fmax=0.05, steps=300)
        ends.append(at)
    band = [ends[0]] + [ends[0].copy() for _ in range(images)] + [ends[1]]
    for im in band:
        im.calc = calc
    nebo = NEB(band, climb=True, method="improvedtangent", allow_shared_calculator=True)
    nebo.interpolate(mic=True)
    converged = FIRE(nebo, logfile=None).run(fmax=0.1, steps=400)
    energies = np.array([im.get_potential_energy() for im in band])
    write_band(work / band_file(_label(which)), band, energies)
    prof = band_profile(dict(enumerate(energies.tolist())), len(band))
    rec = {"images": images, "jump_distance_A": dist, "converged": bool(converged),
           **{k: prof[k] for k in ("barrier_eV", "reverse_barrier_eV", "energy_profile_eV")},
           "cpu_s": round(time.process_time() - c0, 1), "wall_s": round(time.perf_counter() - t0, 1)}
    if which.startswith("mtp:"):
        rec["max_grade_along_band"] = _max_grades(band, calc)
    done = json.loads(out_path.read_text()) if out_path.exists() else {}
    done[_label(which)] = rec
    out_path.write_text(json.dumps(done, indent=1))
    print(_label(which), json.dumps(rec), flush=True)
    return rec


def _label(which: str) -> str:
    """The name a calculator's results go under: ``mtp:PATH`` by its file name."""
    return f"mtp:{Path(which[4:]).name}" if which.startswith("mtp:") else which


def _calculator(which: str, work: Path):
    """A cheap reference (a key of :data:`CHEAP`, through the reference worker's
    ``make_calculator``, one thread) or ``mtp:PATH`` (a learned MTP, e.g. from ``argyro-run mtp
    export``, with its active set PATH.als where there is one, for extrapolation grades)."""
    if which.startswith("mtp:"):
        from argyro_run.potentials.calculator import MTPCalculator

        path = Path(which[4:])
        als = path.with_suffix(".als")
        return MTPCalculator(path, active_set=als if als.exists() else None)
    from argyro_run.learning.reference import ReferenceSpec, make_calculator

    return make_calculator(ReferenceSpec(**CHEAP[which]), work, threads=1)


def _max_grades(images: list, calc) -> list[float] | None:
    """The MTP's largest extrapolation grade on each image (None without an active set)."""
    if getattr(calc, "active_set", None) is None:
        return None
    out = []
    for im in images:
        a = im.copy()
        a.calc = calc
        a.get_potential_energy()
        out.append(round(float(calc.results["max_grade"]), 3))
    return out


def band_energies(work: Path, band_which: str, which: str) -> dict:
    """``which``'s energies along ``band_which``'s converged band (same images, no relaxation):
    how far another potential (e.g. the MTP learned from that reference) follows the reference on
    the reference's own path. Written to WORK/band_energies.json."""
    from ase.io import read

    band = read(work / band_file(band_which), ":")
    calc = _calculator(which, work)
    e, grades = [], []
    for im in band:
        a = im.copy()
        a.info = {}
        a.calc = calc
        e.append(a.get_potential_energy())
        grades.append(round(float(calc.results["max_grade"]), 3) if "max_grade" in calc.results else None)
    rec = band_profile(dict(enumerate(e)), len(band))
    rec["reference_profile_eV"] = [round(a.info["energy_eV"] - band[0].info["energy_eV"], 4) for a in band]
    if which.startswith("mtp:"):
        rec["max_grade_along_band"] = grades if None not in grades else None
    path = work / "band_energies.json"
    done = json.loads(path.read_text()) if path.exists() else {}
    done.setdefault(band_which, {})[_label(which)] = rec
    path.write_text(json.dumps(done, indent=1))
    print(band_which, _label(which), json.dumps(rec), flush=True)
    return rec


def band_file(which: str) -> str:
    """The file :func:`neb` keeps a reference's converged band in (inside WORK)."""
    return f"band_{which.replace(':', '_')}.extxyz"


def write_band(path: Path, band: list, energies: np.ndarray) -> None:
    """The band's images in order, each with the reference's energy (``info['energy_eV']``)."""
    from ase import Atoms
    from ase.io import write

    frames = []
    for k, (im, e) in enumerate(zip(band, energies)):
        a = Atoms(numbers=im.numbers, positions=im.positions, cell=im.cell, pbc=True)
        a.info.update(image=k, energy_eV=float(e))
        frames.append(a)
    write(path, frames, format="extxyz")


def pbe_order(energies: np.ndarray) -> list[int]:
    """The order in which to label a band's images with PBE: the end states and the reference's
    highest image first (so a stopped run still has a barrier), then the saddle's neighbours,
    then the rest."""
    n = len(energies)
    top = int(np.argmax(energies))
    first = [0, top, n - 1, top - 1, top + 1]
    order = [k for k in dict.fromkeys(first) if 0 <= k < n]
    return order + [k for k in range(n) if k not in order]


def band_profile(energies: dict[int, float], n_images: int) -> dict:
    """Energies along a band (image -> eV) as a profile relative to the initial state; barriers
    from the highest labelled image. Needs the initial state (image 0); images not labelled are
    None in the profile."""
    if 0 not in energies:
        raise ValueError("the initial state (image 0) is not labelled")
    e0 = energies[0]
    top = max(energies, key=energies.get)
    rec = {"labelled_images": sorted(energies),
           "energy_profile_eV": [round(energies[k] - e0, 4) if k in energies else None for k in range(n_images)],
           "highest_image": top, "barrier_eV": float(energies[top] - e0)}
    if n_images - 1 in energies:
        rec["reverse_barrier_eV"] = float(energies[top] - energies[n_images - 1])
    return rec


def lowest_profile(*profiles: list) -> dict:
    """Per image the lowest of several PBE profiles of one band (relative to the same, converged
    initial state; None where an SCF did not label that image): a variational SCF that stops in a
    local minimum can only be too high. Also which profile gave each image, and the barrier."""
    n = len(profiles[0])
    best, source = [], []
    for k in range(n):
        vals = [(p[k], i) for i, p in enumerate(profiles) if p[k] is not None]
        e, i = min(vals) if vals else (None, None)
        best.append(e)
        source.append(i)
    top = max((k for k in range(n) if best[k] is not None), key=lambda k: best[k])
    return {"energy_profile_eV": best, "from_profile": source, "highest_image": top, "barrier_eV": best[top]}


def band_pbe(work: Path, which: str, ranks: int = 2, charge: int = -1, scf: str = "ot",
             images: list[int] | None = None) -> dict:
    """PBE single points along ``which``'s converged band (:func:`neb`), so that the cheap
    reference's barrier can be read against PBE's energies on the same path.

    The hop cell lacks one Li; ``charge = -1`` removes a Li+ ion (a closed-shell V_Li', CP2K's
    neutralising background), as the cheap references see it; 0 would leave an odd electron
    count. The end states are the cheap reference's minima, not PBE's, and the path is not
    PBE's, so this is an estimate of PBE's barrier on the cheap reference's path; each image's
    largest PBE force says how far from PBE's band it is.

    ``scf = "diag"`` labels by diagonalisation and Broyden mixing instead of OT (a check of a label
    OT may have converged to a local minimum: the lower energy is the ground state), written to
    WORK/band_pbe_diag.json; ``images`` limits the labels to those images."""
    from ase.io import read

    from argyro_run.learning.reference import label_structures

    band = read(work / band_file(which), ":")
    e_ref = np.array([a.info["energy_eV"] for a in band])
    spec = cp2k_spec(ranks)
    kwargs = {**spec.kwargs, "charge": charge}
    if scf == "diag":
        kwargs.update(inp=_CP2K_INP_DIAG, max_scf=200)
    elif scf != "ot":
        raise SystemExit(f"--scf: {scf!r}; allowed: ot, diag")
    spec = dataclasses.replace(spec, kwargs=kwargs)
    out_json = work / ("band_pbe.json" if scf == "ot" else f"band_pbe_{scf}.json")
    energies: dict[int, float] = {}
    fmax: dict[int, float] = {}
    for k in [k for k in pbe_order(e_ref) if images is None or k in images]:
        a = band[k].copy()
        a.info = {}
        t0 = time.perf_counter()
        out = label_structures([a], spec, work / "jobs" / "band_pbe", cache_dir=work / "cache")[0]
        if not out.ok:
            raise SystemExit(f"PBE label of image {k} failed: {out.error}")
        energies[k] = out.energy_eV
        fmax[k] = float(np.linalg.norm(out.forces_eV_per_A, axis=1).max())
        rec = band_profile(energies, len(band)) if 0 in energies else {"energies_eV": energies}
        rec.update(reference=which, scf=scf, reference_profile_eV=(e_ref - e_ref[0]).round(4).tolist(),
                   reference_barrier_eV=float(e_ref.max() - e_ref[0]), charge=charge,
                   pbe_max_force_eV_per_A=[round(fmax[i], 3) if i in fmax else None for i in range(len(band))])
        other = work / ("band_pbe_diag.json" if scf == "ot" else "band_pbe.json")
        if other.exists() and 0 in energies:
            o = json.loads(other.read_text())
            if "energy_profile_eV" in o:
                pair = (rec["energy_profile_eV"], o["energy_profile_eV"]) if scf == "ot" else \
                    (o["energy_profile_eV"], rec["energy_profile_eV"])
                rec["lowest_of_ot_and_diag"] = lowest_profile(*pair)
        out_json.write_text(json.dumps(rec, indent=1))
        rel = f"{energies[k] - energies[0]:+.3f} eV" if 0 in energies else f"{energies[k]:.4f} eV (absolute)"
        print(f"image {k}: PBE {rel}, max |F| {fmax[k]:.2f} eV/A "
              f"({'cached' if out.cached else f'{time.perf_counter() - t0:.0f} s'})", flush=True)
    return rec


def band_recheck(work: Path, which: str, ranks: int = 2, charge: int = -1, images: list[int] | None = None) -> dict:
    """The learning's guard against a wrong SCF state (``reference.recheck_energy_meV_per_atom``) on
    ``which``'s band: the images labelled with the OT settings through ``dataset.label_images``, the
    path every learning label takes, with diagonalisation as ``[reference.fallback]`` and, as the
    potential's prediction, the first image's PBE energy plus ``which``'s energy relative to it (the
    cheap reference stands in for the MTP trained on it). Writes WORK/band_recheck.json."""
    from ase.io import read

    from argyro_run.learning.dataset import label_images

    band = read(work / band_file(which), ":")
    e_ref = np.array([a.info["energy_eV"] for a in band])
    spec = cp2k_spec(ranks)
    spec = dataclasses.replace(spec, kwargs={**spec.kwargs, "charge": charge},
                               fallback={"inp": _CP2K_INP_DIAG, "max_scf": 200})
    todo = [k for k in (images if images is not None else range(len(band))) if k != 0]
    cells = []
    for k in [0, *todo]:
        a = band[k].copy()
        a.info = {"origin": f"{which} band image {k}", "predicted_rel_eV": float(e_ref[k] - e_ref[0])}
        cells.append(a)
    first, _ = label_images(cells[:1], spec, work / "jobs" / "band_recheck", cache_dir=work / "cache")
    e0 = first[0].get_potential_energy()
    t0 = time.perf_counter()
    labelled, st = label_images(cells[1:], spec, work / "jobs" / "band_recheck", cache_dir=work / "cache",
                                predict=lambda a: e0 + float(a.info["predicted_rel_eV"]))
    rec = {"reference": which, "charge": charge, "threshold_meV_per_atom": spec.recheck_energy_meV_per_atom,
           "images": todo, "rechecked": st.rechecked, "relabelled": st.relabelled, "failed": st.failed,
           "wall_s": round(time.perf_counter() - t0, 1),
           "predicted_profile_eV": [round(float(e_ref[k] - e_ref[0]), 4) for k in todo],
           "final_profile_eV": [round(a.get_potential_energy() - e0, 4) for a in labelled]}
    (work / "band_recheck.json").write_text(json.dumps(rec, indent=1))
    print(json.dumps(rec, indent=1), flush=True)
    return rec


def markdown(result: dict) -> str:
    """The tables of docs/references.md from a ``compare`` result."""
    refs = result["references"]
    lines = ["| reference | rel. energy MAE (meV/atom) | RMSE | max | force MAE (eV/A) | force RMSE | "
             "force r | mean cosine | |F| ratio |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in refs.items():
        m = r["all"]
        lines.append(f"| {name} | {m['relative_energy_mae_meV_per_atom']:.1f} | "
                     f"{m['relative_energy_rmse_meV_per_atom']:.1f} | {m['relative_energy_max_error_meV_per_atom']:.1f} | "
                     f"{m['force_mae_eV_per_A']:.3f} | {m['force_rmse_eV_per_A']:.3f} | {m['force_pearson_r']:.3f} | "
                     f"{m['force_cosine_mean']:.3f} | {m['force_magnitude_ratio']:.2f} |")
    kinds = sorted({k for r in refs.values() for k in r["forces_by_kind"]})
    lines += ["", "Force RMSE (eV/A) by kind of configuration (PBE force RMS in brackets):", "",
              "| reference | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
    pbe_rms = {}
    for n, k in result["kinds"].items():
        pbe_rms.setdefault(k, []).append(result["pbe"]["force_rms_eV_per_A"][n])
    lines.append("| PBE force RMS | " + " | ".join(f"({np.sqrt(np.mean(np.square(pbe_rms[k]))):.2f})"
                                                     for k in kinds) + " |")
    for name, r in refs.items():
        lines.append(f"| {name} | " + " | ".join(f"{r['forces_by_kind'][k]['force_rmse_eV_per_A']:.3f}"
                                                 for k in kinds) + " |")
    names = result["configurations"]
    lines += ["", "Energy per atom relative to the set's mean (meV/atom):", "",
              "| configuration | PBE | " + " | ".join(refs) + " |", "|---|---|" + "---|" * len(refs)]
    for n in names:
        lines.append(f"| {n} | {result['pbe']['relative_energy_meV_per_atom'][n]:.1f} | "
                     + " | ".join(f"{r['relative_energy_meV_per_atom'][n]:.1f}" for r in refs.values()) + " |")
    if "neb_intercage_barrier" in result:
        lines += ["", "| reference | highest image - initial (eV) | final - initial (eV) | band converged | "
                  "energies along the band (eV) | CPU s |", "|---|---|---|---|---|---|"]
        for name, r in result["neb_intercage_barrier"].items():
            lines.append(f"| {name} | {r['barrier_eV']:.3f} | {r['energy_profile_eV'][-1]:.3f} | {r['converged']} | "
                         f"{' '.join(f'{x:.2f}' for x in r['energy_profile_eV'])} | {r['cpu_s']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    halide = "Cl"
    if "--halide" in argv:              # the set and the NEB of Li6PS5Br / Li6PS5I (one WORK per halide)
        k = argv.index("--halide")
        halide, argv = argv[k + 1], argv[:k] + argv[k + 2:]
    cmd, work = argv[0], Path(argv[1])
    if cmd == "build":
        build(work, halide)
    elif cmd == "label":
        label(work, argv[2], ranks=int(argv[3]) if len(argv) > 3 else 2)
    elif cmd == "neb":
        for which in (argv[2:] or NEB_REFERENCES):
            neb(work, which, halide=halide)
    elif cmd == "band-energies":
        band_energies(work, argv[2], argv[3])
    elif cmd == "band-pbe":             # band-pbe WORK WHICH [RANKS] [--scf ot|diag] [--images 4,5]
        opts = {}
        for flag in ("--scf", "--images"):
            if flag in argv:
                k = argv.index(flag)
                opts[flag[2:]], argv = argv[k + 1], argv[:k] + argv[k + 2:]
        band_pbe(work, argv[2], ranks=int(argv[3]) if len(argv) > 3 else 2, scf=opts.get("scf", "ot"),
                 images=[int(i) for i in opts["images"].split(",")] if "images" in opts else None)
    elif cmd == "recheck":              # recheck WORK WHICH [RANKS] [--images 4,5]
        imgs = None
        if "--images" in argv:
            k = argv.index("--images")
            imgs, argv = [int(i) for i in argv[k + 1].split(",")], argv[:k] + argv[k + 2:]
        band_recheck(work, argv[2], ranks=int(argv[3]) if len(argv) > 3 else 2, images=imgs)
    elif cmd == "compare":
        print(markdown(compare(work, Path(argv[2]), truth=argv[3] if len(argv) > 3 else "pbe")))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
