"""The moment tensor potential as data: :class:`MTP`, MLIP ``.mtp`` text I/O, new potentials.

MLIP formalism (Shapeev 2016; MLIP-2/3 file format). A potential holds

* the radial basis (``RBChebyshev``): Chebyshev polynomials T_b on [min_dist, max_dist] times
  ``scaling * (max_dist - r)^2``; radial functions f_mu(r) = sum_b radial_coeffs[t_i, t_j, mu, b] Q_b(r);
* the moment basis: ``alpha_index_basic`` rows ``[mu, a, b, c]`` (components of the moment
  tensors M_{mu, a+b+c}), ``alpha_index_times`` rows ``[k1, k2, mult, k3]``
  (``moment[k3] += mult * moment[k1] * moment[k2]``), ``alpha_moment_mapping`` (the scalar basis
  functions B_alpha);
* the linear part: site energy E_i = species_coeffs[t_i] + sum_alpha moment_coeffs[alpha] B_alpha(i).

Files: MLIP's text format, read and written exactly (numbers with 17 significant digits). The
element of each MTP type goes into MLIP's free-text field: ``potential_tag = species:Li,P,S,Cl``
(one token, so MLIP-3 and motep read the file unchanged; the LAMMPS plugin and argyro-run use it;
a ``species = ...`` line, as older argyro-run files have, is read too). Untrained MLIP templates
(no ``scaling``, ``radial_coeffs`` or coefficients) read as potentials with small random radial
coefficients (seed 0) and zero linear coefficients, as MLIP does before training.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from argyro_run.errors import UserError
from argyro_run.potentials.basis import LEVELS, fingerprints, level_basis, level_of_scalar_count


def _level_of(mtp) -> int | None:
    """The level of a potential whose scalar basis is one of the level bases (MLIP's templates or
    ours: same functions, possibly different intermediate bookkeeping), else None."""
    n_scalar = len(mtp.alpha_moment_mapping)
    level = level_of_scalar_count(n_scalar)
    if level is None:
        return None
    if LEVELS[level].mlip_alpha_moments == mtp.alpha_moments_count:    # MLIP's template of that level
        return level
    try:
        ours, theirs = fingerprints(level_basis(level)), fingerprints(mtp)
    except (IndexError, ValueError):
        return None
    return level if _match_rows(theirs, ours).min() >= 0 else None


def _match_rows(a: np.ndarray, b: np.ndarray, rtol: float = 1e-9) -> np.ndarray:
    """For every row of ``a`` the index of the row of ``b`` with the same values (-1: none)."""
    out = np.full(len(a), -1)
    if not len(a) or not len(b):
        return out
    scale = np.maximum(np.abs(a).max(axis=1), 1e-300)
    for i, row in enumerate(a):
        d = np.abs(b - row).max(axis=1)
        j = int(np.argmin(d))
        if d[j] <= rtol * scale[i]:
            out[i] = j
    return out
SPECIES_TAG = "species:"     # potential_tag = species:Li,P,S,Cl (element of each MTP type)


@dataclass
class MTP:
    """A moment tensor potential (all arrays numpy; lengths in Angstrom, energies in eV)."""

    species: list[str] | None
    radial_coeffs: np.ndarray            # (S, S, R, B)
    species_coeffs: np.ndarray           # (S,)
    moment_coeffs: np.ndarray            # (ns,)
    alpha_index_basic: np.ndarray        # (nb, 4) int
    alpha_index_times: np.ndarray        # (nt, 4) int
    alpha_moment_mapping: np.ndarray     # (ns,) int
    alpha_moments_count: int
    min_dist_A: float = 1.5
    max_dist_A: float = 5.0
    radial_basis_size: int = 8
    radial_funcs_count: int = 1
    scaling: float = 1.0
    potential_name: str = "MTP1m"
    level: int | None = None
    extra: dict = field(default_factory=dict)   # other key = value lines of the file, kept verbatim

    def __post_init__(self):
        self.radial_coeffs = np.asarray(self.radial_coeffs, dtype=float)
        self.species_coeffs = np.asarray(self.species_coeffs, dtype=float).ravel()
        self.moment_coeffs = np.asarray(self.moment_coeffs, dtype=float).ravel()
        self.alpha_index_basic = np.asarray(self.alpha_index_basic, dtype=int).reshape(-1, 4)
        self.alpha_index_times = np.asarray(self.alpha_index_times, dtype=int).reshape(-1, 4)
        self.alpha_moment_mapping = np.asarray(self.alpha_moment_mapping, dtype=int).ravel()
        self.alpha_moments_count = int(self.alpha_moments_count)
        if self.level is None:
            self.level = _level_of(self)

    @property
    def species_count(self) -> int:
        return len(self.species_coeffs)

    @property
    def n_scalar(self) -> int:
        return len(self.alpha_moment_mapping)

    def copy(self) -> "MTP":
        return copy.deepcopy(self)

    def check(self) -> None:
        """Raise ValueError if the arrays are inconsistent with each other."""
        S, R, B = self.species_count, self.radial_funcs_count, self.radial_basis_size
        problems = []
        if self.radial_coeffs.shape != (S, S, R, B):
            problems.append(f"radial_coeffs has shape {self.radial_coeffs.shape}, expected {(S, S, R, B)}")
        if len(self.moment_coeffs) != self.n_scalar:
            problems.append(f"{len(self.moment_coeffs)} moment_coeffs for {self.n_scalar} scalar moments")
        nb = len(self.alpha_index_basic)
        if nb and (self.alpha_index_basic[:, 0].max() >= R or self.alpha_index_basic.min() < 0):
            problems.append(f"alpha_index_basic uses radial functions outside 0..{R - 1}")
        n = self.alpha_moments_count
        t = self.alpha_index_times
        if len(t) and (t[:, [0, 1, 3]].max() >= n or t[:, [0, 1, 3]].min() < 0):
            problems.append(f"alpha_index_times refers to moments outside 0..{n - 1}")
        if len(t) and np.any(t[:, 3] < nb):
            problems.append("alpha_index_times writes into a basic moment")
        if self.n_scalar and (self.alpha_moment_mapping.max() >= n or self.alpha_moment_mapping.min() < 0):
            problems.append(f"alpha_moment_mapping refers to moments outside 0..{n - 1}")
        if not self.min_dist_A < self.max_dist_A:
            problems.append(f"min_dist {self.min_dist_A} must be below max_dist {self.max_dist_A}")
        if self.species is not None and len(self.species) != S:
            problems.append(f"{len(self.species)} species names for species_count {S}")
        if problems:
            raise ValueError("; ".join(problems))


# ------------------------------------------------------------------------------------------------
# MLIP text format
# ------------------------------------------------------------------------------------------------

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)", re.IGNORECASE)


def _numbers(text: str) -> list[float]:
    return [float(x) for x in _NUM.findall(text)]


def _int_rows(text: str) -> np.ndarray:
    rows = re.findall(r"\{([^{}]*)\}", text)
    out = [[int(x) for x in r.split(",") if x.strip()] for r in rows]
    out = [r for r in out if r]
    return np.array(out, dtype=int).reshape(-1, 4)


def parse_mtp(text: str, *, source: str = "<text>", seed: int = 0) -> MTP:
    """An :class:`MTP` from MLIP ``.mtp`` text (trained or an untrained template)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "MTP":
        raise ValueError(f"{source}: not an MLIP .mtp file (first line must be 'MTP')")
    kv: dict[str, str] = {}
    radial_blocks: dict[tuple[int, int], list[list[float]]] = {}
    k = 1
    while k < len(lines):
        s = lines[k].strip()
        k += 1
        if not s:
            continue
        if s == "radial_coeffs":
            while k < len(lines):
                h = lines[k].strip()
                m = re.fullmatch(r"(\d+)-(\d+)", h)
                if not m:
                    break
                k += 1
                rows = []
                while k < len(lines) and lines[k].strip().startswith("{"):
                    rows.append(_numbers(lines[k]))
                    k += 1
                radial_blocks[(int(m.group(1)), int(m.group(2)))] = rows
            continue
        if "=" in s:
            key, value = s.split("=", 1)
            kv[key.strip()] = value.strip()
    try:
        if kv.get("radial_basis_type", "RBChebyshev") != "RBChebyshev":
            raise ValueError(f"radial_basis_type {kv['radial_basis_type']!r} is not supported (only RBChebyshev)")
        S = int(kv["species_count"])
        R = int(kv["radial_funcs_count"])
        B = int(kv["radial_basis_size"])
        n_alpha = int(kv["alpha_moments_count"])
        basic = _int_rows(kv["alpha_index_basic"]) if int(kv.get("alpha_index_basic_count", 1)) else np.zeros((0, 4), int)
        times = _int_rows(kv.get("alpha_index_times", "")) if int(kv.get("alpha_index_times_count", 0)) else np.zeros((0, 4), int)
        mapping = np.array([int(x) for x in _numbers(kv["alpha_moment_mapping"])], dtype=int)
    except KeyError as e:
        raise ValueError(f"{source}: missing '{e.args[0]}'") from None
    if len(basic) != int(kv.get("alpha_index_basic_count", len(basic))):
        raise ValueError(f"{source}: alpha_index_basic has {len(basic)} rows, alpha_index_basic_count says "
                         f"{kv['alpha_index_basic_count']}")
    if len(times) != int(kv.get("alpha_index_times_count", len(times))):
        raise ValueError(f"{source}: alpha_index_times has {len(times)} rows, alpha_index_times_count says "
                         f"{kv['alpha_index_times_count']}")
    if len(mapping) != int(kv.get("alpha_scalar_moments", len(mapping))):
        raise ValueError(f"{source}: alpha_moment_mapping has {len(mapping)} entries, alpha_scalar_moments says "
                         f"{kv['alpha_scalar_moments']}")
    rng = np.random.default_rng(seed)
    if radial_blocks:
        rc = np.zeros((S, S, R, B))
        for a in range(S):
            for b in range(S):
                rows = radial_blocks.get((a, b))
                if rows is None or len(rows) != R or any(len(r) != B for r in rows):
                    raise ValueError(f"{source}: radial_coeffs block {a}-{b} must have {R} rows of {B} numbers")
                rc[a, b] = rows
    else:
        rc = _random_radial(rng, S, R, B)
    species = None
    tag = kv.get("potential_tag", "")
    if tag.startswith(SPECIES_TAG):
        species = tag[len(SPECIES_TAG):].replace(",", " ").split() or None
    for key in ("species", "species_names", "elements"):   # older argyro-run files, other tools
        if species is None and kv.get(key):
            species = kv[key].replace(",", " ").split()
    known = {"version", "potential_name", "scaling", "species_count", "radial_basis_type",
             "min_dist", "max_dist", "radial_basis_size", "radial_funcs_count", "alpha_moments_count",
             "alpha_index_basic_count", "alpha_index_basic", "alpha_index_times_count", "alpha_index_times",
             "alpha_scalar_moments", "alpha_moment_mapping", "species_coeffs", "moment_coeffs", "species",
             "species_names", "elements"}
    mtp = MTP(species=species, radial_coeffs=rc,
              species_coeffs=_numbers(kv["species_coeffs"]) if "species_coeffs" in kv else np.zeros(S),
              moment_coeffs=_numbers(kv["moment_coeffs"]) if "moment_coeffs" in kv else np.zeros(len(mapping)),
              alpha_index_basic=basic, alpha_index_times=times, alpha_moment_mapping=mapping,
              alpha_moments_count=n_alpha, min_dist_A=float(kv["min_dist"]), max_dist_A=float(kv["max_dist"]),
              radial_basis_size=B, radial_funcs_count=R, scaling=float(kv.get("scaling", 1.0)),
              potential_name=kv.get("potential_name", "MTP1m"),
              extra={k: v for k, v in kv.items() if k not in known})
    try:
        mtp.check()
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
    return mtp


def read_mtp(path, *, seed: int = 0) -> MTP:
    """Read an MLIP ``.mtp`` file (ValueError with the file name on malformed input)."""
    p = Path(path)
    return parse_mtp(p.read_text(encoding="utf-8"), source=str(p), seed=seed)


def read_mtp_for(path, key: str) -> MTP:
    """The potential at ``path`` that the user setting ``key`` (a TOML key or a command-line
    argument) names; a missing or unreadable file is a ``UserError`` naming ``key``."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{key}: {p} does not exist")
    try:
        return read_mtp(p)
    except ValueError as e:
        raise UserError(f"{key}: {e}") from None


def _fmt(x: float) -> str:
    return "%.17g" % float(x)


def _braces(v) -> str:
    return "{" + ", ".join(_fmt(x) for x in np.ravel(v)) + "}"


def _int_braces(rows) -> str:
    return "{" + ", ".join("{" + ", ".join(str(int(x)) for x in r) + "}" for r in np.asarray(rows).reshape(-1, 4)) + "}"


def format_mtp(mtp: MTP) -> str:
    """MLIP ``.mtp`` text of ``mtp`` (trained-potential layout, ``species`` line when known)."""
    mtp.check()
    S = mtp.species_count
    tag = SPECIES_TAG + ",".join(mtp.species) if mtp.species else mtp.extra.get("potential_tag", "")
    L = ["MTP", "version = 1.1.0", f"potential_name = {mtp.potential_name}", "scaling = " + _fmt(mtp.scaling),
         f"species_count = {S}", f"potential_tag = {tag}", "radial_basis_type = RBChebyshev",
         "\tmin_dist = " + _fmt(mtp.min_dist_A),
         "\tmax_dist = " + _fmt(mtp.max_dist_A), f"\tradial_basis_size = {mtp.radial_basis_size}",
         f"\tradial_funcs_count = {mtp.radial_funcs_count}", "\tradial_coeffs"]
    for a in range(S):
        for b in range(S):
            L.append(f"\t\t{a}-{b}")
            L += ["\t\t\t" + _braces(mtp.radial_coeffs[a, b, mu]) for mu in range(mtp.radial_funcs_count)]
    L += [f"alpha_moments_count = {mtp.alpha_moments_count}",
          f"alpha_index_basic_count = {len(mtp.alpha_index_basic)}",
          "alpha_index_basic = " + _int_braces(mtp.alpha_index_basic),
          f"alpha_index_times_count = {len(mtp.alpha_index_times)}",
          "alpha_index_times = " + _int_braces(mtp.alpha_index_times),
          f"alpha_scalar_moments = {mtp.n_scalar}",
          "alpha_moment_mapping = {" + ", ".join(str(int(x)) for x in mtp.alpha_moment_mapping) + "}",
          "species_coeffs = " + _braces(mtp.species_coeffs),
          "moment_coeffs = " + _braces(mtp.moment_coeffs)]
    return "\n".join(L) + "\n"


def write_mtp(mtp: MTP, path) -> None:
    """Write ``mtp`` as an MLIP ``.mtp`` file (atomically: a partial file never replaces a good one)."""
    p = Path(path)
    text = format_mtp(mtp)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(p)


# ------------------------------------------------------------------------------------------------
# new potentials
# ------------------------------------------------------------------------------------------------

def _random_radial(rng, S: int, R: int, B: int) -> np.ndarray:
    """Small random radial coefficients; the first Chebyshev term dominates so every radial
    function starts smooth and of one sign (MLIP-like initialisation)."""
    rc = rng.uniform(-0.1, 0.1, size=(S, S, R, B)) / (1.0 + np.arange(B))
    rc[..., 0] += 0.5 * np.sign(rng.uniform(-1, 1, size=(S, S, R)))
    return rc


def _basis(level: int):
    return level_basis(int(level))


def init_mtp(level: int, species, *, max_dist_A: float = 5.0, min_dist_A: float = 1.5,
             radial_basis_size: int = 8, seed: int = 0, scaling: float | None = None) -> MTP:
    """An untrained level-``level`` MTP for ``species`` (element symbols, one per MTP type):
    MLIP's level basis, small random radial coefficients (``seed``), zero linear coefficients.

    ``scaling`` defaults to 1 / (max_dist - min_dist)^2 so the radial basis is O(1) over the
    cut-off range whatever its width.
    """
    species = [str(s) for s in species]
    if not species or len(set(species)) != len(species):
        raise UserError(f"potential.species: need distinct element symbols, got {species}")
    if not 0.0 < min_dist_A < max_dist_A:
        raise UserError(f"potential.min_dist_A/max_dist_A: need 0 < min_dist_A < max_dist_A "
                        f"(got {min_dist_A}, {max_dist_A})")
    if radial_basis_size < 2:
        raise UserError(f"potential.radial_basis_size: must be >= 2 (got {radial_basis_size})")
    b = _basis(level)
    S, R, B = len(species), int(b.radial_funcs_count), int(radial_basis_size)
    rng = np.random.default_rng(seed)
    if scaling is None:
        scaling = 1.0 / (max_dist_A - min_dist_A) ** 2
    return MTP(species=species, radial_coeffs=_random_radial(rng, S, R, B), species_coeffs=np.zeros(S),
               moment_coeffs=np.zeros(len(b.alpha_moment_mapping)), alpha_index_basic=b.alpha_index_basic,
               alpha_index_times=b.alpha_index_times, alpha_moment_mapping=b.alpha_moment_mapping,
               alpha_moments_count=b.alpha_moments_count, min_dist_A=float(min_dist_A),
               max_dist_A=float(max_dist_A), radial_basis_size=B, radial_funcs_count=R, scaling=float(scaling),
               potential_name=f"argyro-run_L{int(level):02d}", level=int(level))


def extend_level(mtp: MTP, level: int, *, seed: int = 0) -> MTP:
    """``mtp`` with the basis of ``level`` (higher than its own): radial coefficients of the
    radial functions both have are kept (new ones small random), species coefficients kept,
    moment coefficients of scalar basis functions present in both bases kept (matched by their
    values on fixed random neighbourhoods, ``basis.fingerprints``, so any evaluation plan works),
    new ones zero. So the extended potential starts where the old one was."""
    if mtp.level is not None and level < mtp.level:
        raise UserError(f"active_learning.levels: cannot go from level {mtp.level} down to level {level}")
    new = init_mtp(level, mtp.species or [f"T{k}" for k in range(mtp.species_count)],
                   max_dist_A=mtp.max_dist_A, min_dist_A=mtp.min_dist_A,
                   radial_basis_size=mtp.radial_basis_size, seed=seed, scaling=mtp.scaling)
    if not mtp.species:
        new.species = None
    R = min(mtp.radial_funcs_count, new.radial_funcs_count)
    new.radial_coeffs[:, :, :R, :] = mtp.radial_coeffs[:, :, :R, :]
    if new.radial_funcs_count > mtp.radial_funcs_count:
        new.radial_coeffs[:, :, R:, :] *= 1e-3     # new radial functions start almost switched off
    new.species_coeffs = mtp.species_coeffs.copy()
    where = _match_rows(fingerprints(new), fingerprints(mtp))
    new.moment_coeffs = np.where(where >= 0, mtp.moment_coeffs[np.maximum(where, 0)], 0.0)
    new.potential_name = mtp.potential_name
    return new
