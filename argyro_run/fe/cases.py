"""Polycrystal FE cases: which bulk structure and GB models each ``fe/<case>`` takes its
diffusivities from, where each kind comes from (provenance), GB-model-to-face assignment,
carrier density and the crossover grain size (see docs/fe.md, "Cases").

:func:`resolve_cases` is used by the input validation (``config/root.py``: its problems are input
errors) and by the planner (its cases become the ``fe_sweep`` task parameters); the rest are
plain functions used by the ``fe_sweep`` task.
"""

from __future__ import annotations

import numpy as np

from argyro_run.config.fe import FIT_KINDS
from argyro_run.structures.ions import DEFAULT_MOBILE_ION, ion_charge

DEFAULT_CARRIER_DENSITY_PER_NM3 = 25.0  # Li6PS5Cl: 24 Li per cubic cell of 0.986 nm
DEFAULT_CARRIER_SOURCE = "default: Li6PS5Cl, 24 Li / (0.986 nm)^3 (no bulk structure in the case)"
GB_KINDS = ("gb_parallel", "gb_perpendicular")


def _gb_names(m) -> list[str]:
    return [g.name() for g in getattr(m, "grain_boundaries", [])]


def _bulk_names(m) -> list[str]:
    gbs = set(_gb_names(m))
    return [s for s in m.structure_names() if s not in gbs]


def _simulated(cfg, structure: str) -> bool:
    """True when the plan runs MD (and so an Arrhenius fit) for ``structure`` ('<material>/<name>')."""
    if cfg.md is None:
        return False
    wanted = getattr(cfg.md, "structures", None)
    return not wanted or structure.split("/", 1)[1] in wanted


def _why_not_simulated(cfg, structure: str) -> str:
    if cfg.md is None:
        return "there is no [md] section to compute it"
    return f"md.structures {list(cfg.md.structures)} does not include {structure.split('/', 1)[1]!r}"


def _md_fit(structure: str, kind: str) -> dict:
    mat, name = structure.split("/", 1)
    fit = f"structures/{name}/{'tracer' if kind == 'bulk' else kind}"
    return {"task": f"arrhenius/{mat}", "fit": fit, "structure": structure}


def _default_cases(cfg) -> list[dict]:
    fe = cfg.fe
    explicit = set(fe.explicit_kinds())
    if not cfg.materials:
        return [{"name": "explicit", "bulk": None, "gb": [], "gb_fractions": [], "gb_seed": 0}]
    out = []
    for m in cfg.materials:
        gbs = [f"{m.name}/{g}" for g in _gb_names(m)]
        if cfg.md is not None:
            gbs = [g for g in gbs if _simulated(cfg, g)] or gbs  # unsimulated ones are reported below
        gbs = [] if explicit >= set(GB_KINDS) else gbs
        variants = _bulk_names(m)
        if "bulk" in explicit:
            variants = variants[:1]  # the bulk variants differ only in their (overridden) diffusivity
        elif cfg.md is not None:
            variants = [v for v in variants if _simulated(cfg, f"{m.name}/{v}")] or variants
        for v in variants:
            out.append({"name": f"{m.name}-{v}", "bulk": f"{m.name}/{v}", "gb": gbs,
                        "gb_fractions": [1.0 / len(gbs)] * len(gbs) if gbs else [], "gb_seed": 0})
    return out


def resolve_cases(cfg) -> tuple[list[dict], list[str]]:
    """The FE cases of a config as JSON-ready dicts, and the input problems found (each naming
    its key). Per case: ``name``, ``material``, ``bulk``, ``gb``, ``gb_fractions``, ``gb_seed``,
    ``sources`` (kind -> ``{"source": text, "input": law}`` or ``{"source": text, "md": [fits]}``
    with one fit per GB model for the GB kinds), ``arrhenius`` (the task ids it reads) and
    ``structures_task`` (the task whose bulk structure gives the carrier density, or None)."""
    fe = cfg.fe
    if fe is None:
        return [], []
    problems: list[str] = []
    explicit = set(fe.explicit_kinds())
    materials = {m.name: m for m in cfg.materials}
    bulk_allowed = sorted(f"{n}/{s}" for n, m in materials.items() for s in _bulk_names(m))
    gb_allowed = sorted(f"{n}/{s}" for n, m in materials.items() for s in _gb_names(m))
    given = bool(fe.cases)
    if given:
        raw = [{"name": c.name, "bulk": c.bulk, "gb": list(c.gb), "gb_fractions": c.fractions() if c.gb else [],
                "gb_seed": c.gb_seed} for c in fe.cases]
        case_laws = [{k: (f"fe.cases[{i}].laws.{k}", getattr(c.laws, k)) for k in FIT_KINDS
                      if getattr(c.laws, k) is not None} for i, c in enumerate(fe.cases)]
        keys = [f"fe.cases[{i}]" for i in range(len(raw))]
    else:
        if not cfg.materials and explicit != set(FIT_KINDS):
            missing = [f"fe.{k}" for k in FIT_KINDS if k not in explicit]
            return [], [f"{', '.join(missing)}: not given, and there are no [[materials]] to compute "
                        f"{'it' if len(missing) == 1 else 'them'} from (give D0_m2_per_s and Ea_eV, or add "
                        "[[materials]] and [md])"]
        raw = _default_cases(cfg)
        keys = ["fe" for c in raw]
        case_laws = [{} for c in raw]
    cases = []
    for key, c, own in zip(keys, raw, case_laws):
        bad = False
        laws = {k: (f"fe.{k}", getattr(fe, k)) for k in explicit}
        laws.update(own)  # the case's own laws first
        if c["bulk"] is not None and c["bulk"] not in bulk_allowed:
            problems.append(f"{key}.bulk: {c['bulk']!r} is not a bulk structure of [[materials]]; allowed: "
                            f"{bulk_allowed or 'none (no [[materials]])'}")
            bad = True
        unknown = [g for g in c["gb"] if g not in gb_allowed]
        if unknown:
            problems.append(f"{key}.gb: {unknown} are not grain-boundary structures of [[materials]]; allowed: "
                            f"{gb_allowed or 'none (no grain_boundaries)'}")
            bad = True
        mats = sorted({s.split("/", 1)[0] for s in ([c["bulk"]] if c["bulk"] else []) + c["gb"]})
        if len(mats) > 1:
            problems.append(f"{key}: bulk and gb name structures of different materials {mats}; a case is one material")
            bad = True
        if bad:
            continue
        sources: dict[str, dict] = {}
        absent: dict[str, list[str]] = {"bulk": [], "gb": []}
        for kind in FIT_KINDS:
            if kind in laws:
                named = ([c["bulk"]] if c["bulk"] else []) if kind == "bulk" else c["gb"]
                over = ", ".join(s for s in named if _simulated(cfg, s))
                where, law = laws[kind]
                sources[kind] = {"source": f"input: {where}" + (f" (overrides MD of {over})" if over else ""),
                                 "input": {"D0_m2_per_s": float(law.D0_m2_per_s), "Ea_eV": float(law.Ea_eV)}}
                continue
            field = "bulk" if kind == "bulk" else "gb"
            structs = ([c["bulk"]] if c["bulk"] else []) if kind == "bulk" else c["gb"]
            if not structs:
                absent[field].append(kind)
                continue
            off = [s for s in structs if not _simulated(cfg, s)]
            if off:
                why = _why_not_simulated(cfg, off[0])
                problems.append(f"{key}.{field}: the {kind} diffusivity of {off} is not computed: {why}; allowed: "
                                f"simulate it or set fe.{kind}" if given else
                                f"fe.{kind}: not given, and it is not computed: {why}; allowed: give fe.{kind} "
                                "(D0_m2_per_s, Ea_eV) or run the MD of the structures it comes from")
                bad = True
                continue
            fits = [_md_fit(s, kind) for s in structs]
            sources[kind] = {"source": "md: " + "; ".join(f"{f['task']} {f['fit']}" for f in fits), "md": fits}
        for field, kinds in absent.items():
            if not kinds:
                continue
            bad = True
            names = " and ".join(f"fe.{k}" for k in kinds)
            if given:
                allowed = bulk_allowed if field == "bulk" else gb_allowed
                problems.append(f"{key}.{field}: needed for the {', '.join(kinds)} diffusivity ({names} not given); "
                                f"allowed: {allowed or 'none'}, or give {names} or {key}.laws."
                                f"{' and laws.'.join(kinds)}")
            else:
                what = "bulk structure" if field == "bulk" else "grain_boundaries"
                problems.append(f"{names}: not given, and material {mats[0] if mats else '?'!r} has no {what} whose MD "
                                f"gives {'it' if len(kinds) == 1 else 'them'}; allowed: "
                                f"give {names} (D0_m2_per_s, Ea_eV), add [[materials.grain_boundaries]] or name "
                                "[[fe.cases]]")
        if bad:
            continue
        mat = mats[0] if mats else None
        arr = sorted({f["task"] for s in sources.values() for f in s.get("md", [])})
        ion = materials[mat].mobile_species(cfg.base_dir) if mat else DEFAULT_MOBILE_ION
        cases.append({**c, "material": mat, "sources": sources, "arrhenius": arr,
                      "structures_task": f"structures/{mat}" if c["bulk"] else None,
                      "mobile_ion": ion, "charge_e": ion_charge(ion)})
    return cases, list(dict.fromkeys(problems))


def gb_model_counts(n_faces: int, fractions) -> np.ndarray:
    """Faces per GB model: ``fractions * n_faces`` rounded by largest remainder (sum = n_faces;
    ties go to the earlier model)."""
    f = np.asarray(fractions, float)
    exact = f * n_faces
    counts = np.floor(exact).astype(int)
    rest = n_faces - int(counts.sum())
    order = sorted(range(len(f)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:rest]:
        counts[i] += 1
    return counts


def assign_gb_models(n_faces: int, fractions, seed: int) -> np.ndarray:
    """Model index of every GB face: exactly :func:`gb_model_counts` faces per model, placed by a
    random permutation drawn with ``numpy.random.default_rng(seed)``."""
    counts = gb_model_counts(n_faces, fractions)
    idx = np.repeat(np.arange(len(counts)), counts)
    return np.random.default_rng(seed).permutation(idx).astype(np.int64)


def crossover_grain_size(grain_sizes_nm, ratio, tolerance: float = 0.05) -> float:
    """Smallest grain size of the sweep from which on every larger one has
    |D_eff/D_bulk - 1| < tolerance (GBs no longer matter); NaN if the largest does not."""
    d = np.asarray(grain_sizes_nm, float)
    r = np.asarray(ratio, float)
    o = np.argsort(d)
    ok = np.abs(r[o] - 1.0) < tolerance
    if not ok.size or not ok[-1]:
        return float("nan")
    k = len(ok) - 1
    while k > 0 and ok[k - 1]:
        k -= 1
    return float(d[o][k])


def mobile_ion_density_per_nm3(atoms, symbol: str = "Li") -> float:
    """Number density of ``symbol`` atoms in a periodic ASE ``Atoms`` cell, per nm^3."""
    n = sum(1 for s in atoms.get_chemical_symbols() if s == symbol)
    if n == 0:
        raise ValueError(f"no {symbol} atoms in the structure")
    return n / (abs(float(atoms.cell.volume)) * 1e-3)
