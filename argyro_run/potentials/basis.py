"""MTP moment-basis generator: MLIP-equivalent level templates for any level 2..28.

The basis of level ``L`` (Shapeev 2016; MLIP-2) is built from the moment tensors
``M(mu, nu) = sum_j f_mu(r_ij) u_ij^(x)nu`` (``u`` the unit vector, ``lev M = 2 + 4 mu + nu``).
A scalar basis function is a full contraction of a product of moments, i.e. a multigraph whose
vertices are moments and whose edges are contracted index pairs (vertex degree = ``nu``; no
self-contractions: the trace of a moment over unit vectors is a lower moment). The level-``L``
basis is, exactly as in MLIP's published templates:

* every such contraction graph, up to isomorphism, with **at most 4 moments**, total level
  ``sum(2 + 4 mu + nu) <= L``, ``mu <= 5`` and ``nu <= 10``.

The functions are exactly MLIP's: for every level 2..28 each scalar of MLIP's published template
equals one of ours, one to one (checked on random neighbourhoods; the fixtures 02..10 in the
tests). Evaluation plan (the tree of pairwise contractions, which sets ``alpha_moments_count``):

* products of scalars (disconnected graphs): (smallest connected part) * (product of the rest);
* 2 moments: one pair contraction ``P(X, Y, k)``;
* 3 moments, connected: ``A . P(B, C, e_BC)`` with ``A`` the moment of lowest (nu, mu);
* 4 moments, connected: ``A . (B . P(C, D, e_CD))``; the vertex order follows (nu, mu) and,
  among equivalent orders, adds the fewest new components given the intermediates already made
  (intermediates are shared). Above level 16 any vertex order is allowed (cheaper).

With this plan ``alpha_moments_count`` equals MLIP's for levels 2..16 and is ~7-8 % smaller above
(MLIP's choice of plans there is not reproduced; the functions are the same).

The .mtp encoding: ``alpha_index_basic`` rows ``[mu, a, b, c]`` are the components of the
symmetric moments (monomials ``u_x^a u_y^b u_z^c``); ``alpha_index_times`` rows
``[k1, k2, mult, k3]`` mean ``moment[k3] += mult * moment[k1] * moment[k2]``; intermediate
(non-scalar) contractions are tensors whose free indices come in groups, one group per source
moment, each group stored by its symmetric components (a group is symmetric because it belongs to
one symmetric moment), ``mult`` the multinomial count of index orderings; a pair contraction of a
moment with itself is stored by unordered pairs of group components (MLIP does the same).
``alpha_moment_mapping`` lists the scalar components.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from functools import lru_cache
from math import factorial

import numpy as np

log = logging.getLogger(__name__)

MAX_MOMENTS = 4
MAX_MU = 5
MAX_NU = 10
# up to this level the evaluation plan reproduces MLIP's template bookkeeping (same
# alpha_moments_count); above it, each 4-moment contraction takes the cheapest elimination order
MLIP_BOOKKEEPING_MAX_LEVEL = 16


@dataclass(frozen=True)
class LevelSize:
    """Sizes of one MTP level's basis."""

    n_scalar: int                    # scalar basis functions (MLIP's templates and ours agree; unique per level)
    mlip_alpha_moments: int | None   # alpha_moments_count of MLIP's template file (None: MLIP ships none)


# The MTP levels (the one table: the allowed levels are its keys)
LEVELS = {2: LevelSize(1, 1), 4: LevelSize(2, 2), 6: LevelSize(5, 8), 8: LevelSize(9, 18), 10: LevelSize(16, 41),
          12: LevelSize(29, 84), 14: LevelSize(52, 174), 16: LevelSize(92, 350), 18: LevelSize(163, 718),
          20: LevelSize(288, 1352), 22: LevelSize(500, 2621), 24: LevelSize(864, 4991), 26: LevelSize(1464, 9396),
          28: LevelSize(2445, None)}

Moment = tuple  # (mu, nu)


@dataclass(frozen=True, eq=False)
class LevelBasis:
    """One level's moment basis in MLIP's .mtp encoding (arrays are read-only)."""

    level: int
    radial_funcs_count: int
    alpha_index_basic: np.ndarray  # (nb, 4) int [mu, a, b, c]
    alpha_index_times: np.ndarray  # (nt, 4) int [k1, k2, mult, k3]
    alpha_moment_mapping: np.ndarray  # (ns,) int
    alpha_moments_count: int
    graphs: tuple = ()  # per scalar basis function: (moments tuple, edges tuple) in mapping order

    @property
    def alpha_scalar_moments(self) -> int:
        return int(len(self.alpha_moment_mapping))

    @property
    def descriptions(self) -> tuple:
        """One readable contraction per scalar basis function (mapping order), see ``describe``."""
        return tuple(describe(self))

    @property
    def alpha_index_basic_count(self) -> int:
        return int(len(self.alpha_index_basic))

    @property
    def alpha_index_times_count(self) -> int:
        return int(len(self.alpha_index_times))


def moment_level(m: Moment) -> int:
    return 2 + 4 * m[0] + m[1]


# ------------------------------------------------------------------------------------------------
# contraction graphs
# ------------------------------------------------------------------------------------------------

def _canonical(ms: tuple, E: dict) -> tuple:
    """Canonical edge tuple of the graph on sorted vertex labels ``ms`` (minimum over the
    label-preserving vertex permutations)."""
    n = len(ms)
    pairs = list(itertools.combinations(range(n), 2))
    best = None
    for p in itertools.permutations(range(n)):
        if any(ms[p[i]] != ms[i] for i in range(n)):
            continue
        F = {}
        for (i, j), v in E.items():
            F[(min(p[i], p[j]), max(p[i], p[j]))] = v
        key = tuple(F.get(q, 0) for q in pairs)
        if best is None or key < best:
            best = key
    return best


def _graphs(ms: tuple) -> list:
    """All non-isomorphic loop-free multigraphs with vertex labels ``ms`` (sorted moments) and
    vertex degree ``nu``; each as the canonical edge tuple over ``combinations(range(n), 2)``."""
    n = len(ms)
    pairs = list(itertools.combinations(range(n), 2))
    out = set()
    deg = [m[1] for m in ms]
    e: list = []

    def rec(k):
        if k == len(pairs):
            if not any(deg):
                out.add(_canonical(ms, dict(zip(pairs, e))))
            return
        i, j = pairs[k]
        # the remaining degree of i must be reachable by its later pairs
        for v in range(min(deg[i], deg[j]) + 1):
            deg[i] -= v
            deg[j] -= v
            e.append(v)
            if all(deg[q] == 0 or any(q in pairs[t] for t in range(k + 1, len(pairs))) for q in (i, j)):
                rec(k + 1)
            e.pop()
            deg[i] += v
            deg[j] += v

    rec(0)
    return sorted(out)


def _components(n: int, E: dict) -> list:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for (i, j), v in E.items():
        if v:
            parent[find(i)] = find(j)
    comps: dict = {}
    for i in range(n):
        comps.setdefault(find(i), []).append(i)
    return sorted(comps.values())


def _subgraph(ms: tuple, E: dict, verts: list) -> tuple:
    """(sorted moments, canonical edges) of the subgraph on ``verts``."""
    order = sorted(verts, key=lambda v: (ms[v], v))
    pos = {v: i for i, v in enumerate(order)}
    sub_ms = tuple(ms[v] for v in order)
    F = {}
    for (i, j), v in E.items():
        if i in pos and j in pos:
            a, b = pos[i], pos[j]
            F[(min(a, b), max(a, b))] = v
    return sub_ms, _canonical(sub_ms, F)


def _scalar_graphs(level: int) -> list:
    """All (moments, edges) of the level's scalar basis functions, in a fixed order."""
    moms = [(mu, nu) for mu in range(MAX_MU + 1) for nu in range(MAX_NU + 1) if moment_level((mu, nu)) <= level]
    out = []
    for n in range(1, MAX_MOMENTS + 1):
        for ms in itertools.combinations_with_replacement(moms, n):
            if sum(map(moment_level, ms)) > level:
                continue
            for g in _graphs(ms):
                out.append((ms, g))
    return out


# ------------------------------------------------------------------------------------------------
# tensors with grouped symmetric free indices
# ------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def monomials(s: int) -> tuple:
    """Symmetric components of a rank-``s`` tensor in MLIP's order: (a, b, c), a+b+c = s,
    a descending then b descending."""
    return tuple((a, b, s - a - b) for a in range(s, -1, -1) for b in range(s - a, -1, -1))


@lru_cache(maxsize=None)
def _multinomial(g: tuple) -> int:
    return factorial(sum(g)) // (factorial(g[0]) * factorial(g[1]) * factorial(g[2]))


def _add(a: tuple, b: tuple) -> tuple:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


class _Builder:
    """Allocates components and times rows; items are memoised by a structural key."""

    def __init__(self, basics: list):
        self.basic_rows: list = []
        self.basic_index: dict = {}  # (mu, nu) -> {monomial: index}
        for m in basics:
            idx = {}
            for mono in monomials(m[1]):
                idx[mono] = len(self.basic_rows)
                self.basic_rows.append((m[0],) + mono)
            self.basic_index[m] = idx
        self.n = len(self.basic_rows)
        self.times: list = []
        self.items: dict = {}  # key -> _Item

    def new_index(self) -> int:
        self.n += 1
        return self.n - 1


class _Item:
    """A derived tensor: ``groups`` = free-index group sizes (one group per source vertex);
    ``index`` maps a tuple of monomials (one per group) to a component index; ``sym``: two equal
    groups stored by unordered pairs."""

    def __init__(self, groups: tuple, sym: bool = False):
        self.groups = groups
        self.sym = sym
        self.index: dict = {}

    def lookup(self, key: tuple) -> int:
        if self.sym:
            key = tuple(sorted(key, reverse=True))
        return self.index[key]


def _basic_item(b: _Builder, m: Moment) -> _Item:
    it = _Item((m[1],))
    it.index = {(mono,): i for mono, i in b.basic_index[m].items()}
    return it


def _contract(b: _Builder, X: Moment, T: _Item, ks: tuple, sym: bool = False) -> _Item:
    """Contract the basic moment ``X`` with ``k_i`` indices of group ``i`` of ``T``. Result groups:
    X's remaining indices, then T's remaining groups (zero-size groups kept: one component)."""
    nx = X[1]
    kx = sum(ks)
    assert kx <= nx and all(k <= s for k, s in zip(ks, T.groups))
    fx = nx - kx
    frees = [s - k for s, k in zip(T.groups, ks)]
    groups = (fx,) + tuple(frees)
    res = _Item(groups, sym=sym)
    xidx = b.basic_index[X]
    gamma_sets = [[(g, _multinomial(g)) for g in monomials(k)] for k in ks]
    free_sets = [monomials(f) for f in frees]
    for bx in monomials(fx):
        for bt in itertools.product(*free_sets):
            key = (bx,) + tuple(bt)
            if sym and tuple(sorted(key, reverse=True)) in res.index:
                continue
            rows: dict = {}
            for gs in itertools.product(*gamma_sets):
                xm = bx
                mult = 1
                tkey = []
                for (g, c), bi in zip(gs, bt):
                    xm = _add(xm, g)
                    mult *= c
                    tkey.append(_add(bi, g))
                k1, k2 = xidx[xm], T.lookup(tuple(tkey))
                rk = (k1, k2) if k1 <= k2 else (k2, k1)
                rows[rk] = rows.get(rk, 0) + mult
            k3 = b.new_index()
            for (k1, k2), mult in rows.items():
                b.times.append((k1, k2, mult, k3))
            res.index[tuple(sorted(key, reverse=True)) if sym else key] = k3
    return res


def _only(it: _Item) -> int:
    (k,) = it.index.values()
    return k


def _pair(b: _Builder, X: Moment, Y: Moment, k: int) -> _Item:
    """The pair contraction P(X, Y, k) of two basic moments (X <= Y, k indices contracted), memoised.
    Groups: X's remaining indices, Y's remaining indices (unordered pairs when X == Y)."""
    key = ("P", X, Y, k)
    if key not in b.items:
        b.items[key] = _contract(b, X, _basic_item(b, Y), (k,), sym=(X == Y and X[1] - k > 0))
    return b.items[key]


# ------------------------------------------------------------------------------------------------
# the tree (evaluation plan) of every scalar basis function
# ------------------------------------------------------------------------------------------------

def _sort_key(m: Moment) -> tuple:
    return (m[1], m[0])


def _nc(r: int) -> int:
    return (r + 1) * (r + 2) // 2


def _pair_cost(X, Y, k) -> int:
    fx, fy = X[1] - k, Y[1] - k
    if X == Y:
        n = _nc(fx)
        return n * (n + 1) // 2 if fx else 1
    return _nc(fx) * _nc(fy)


def _v_sym(P, kB, kA) -> bool:
    """B . P(C, C) contracting equally from both (symmetric) groups of P and keeping none of
    B's indices is symmetric under swapping its two remaining groups: stored by unordered pairs."""
    return P[0] == P[1] and kB[0] == kB[1] and kA[0] == 0 and kA[1] > 0


def _v_cost(P, kB, kA) -> int:
    if _v_sym(P, kB, kA):
        n = _nc(kA[1])
        return n * (n + 1) // 2
    return _nc(kA[0]) * _nc(kA[1]) * _nc(kA[2])


def _plan(graphs: list, free_order: bool = False) -> list:
    """For every scalar graph a plan tuple:
    ('basic', m) | ('pair', X, Y, k) | ('prod', first_graph, rest_graph) |
    ('tri', A, (X, Y, k), ks) | ('quad', A, B, (X, Y, k), kB, kA)
    where the pair (X, Y, k) has groups (X rem, Y rem), ``ks``/``kB``/``kA`` the numbers of
    indices contracted from each group."""
    plans = []
    have_p: set = set()
    have_v: set = set()

    def e(E, i, j):
        return E.get((min(i, j), max(i, j)), 0)

    for ms, g in graphs:
        n = len(ms)
        E = dict(zip(itertools.combinations(range(n), 2), g))
        if n == 1:
            plans.append(("basic", ms[0]))
            continue
        comps = _components(n, E)
        if len(comps) > 1:
            # product: (first connected part) * (product of the others), parts ordered by size
            subs = sorted((_subgraph(ms, E, c), i) for i, c in enumerate(comps))
            subs.sort(key=lambda s: (len(s[0][0]), s[0]))
            first, i_first = subs[0]
            rest_verts = [v for i, c in enumerate(comps) if i != i_first for v in c]
            plans.append(("prod", first, _subgraph(ms, E, rest_verts)))
            continue
        if n == 2:
            plans.append(("pair", ms[0], ms[1], g[0]))
            have_p.add((ms[0], ms[1], g[0]))
            continue
        if n == 3:
            a = min(range(3), key=lambda i: (_sort_key(ms[i]), i))
            bb, cc = [i for i in range(3) if i != a]  # ms sorted, so ms[bb] <= ms[cc]
            P = (ms[bb], ms[cc], e(E, bb, cc))
            have_p.add(P)
            plans.append(("tri", ms[a], P, (e(E, a, bb), e(E, a, cc))))
            continue
        # n == 4: A . (B . P(C, D)); among orderings consistent with the (nu, mu) order pick the
        # one adding the fewest new components (earlier ordering on ties)
        keys = sorted(_sort_key(m) for m in ms)
        best = None
        for p in itertools.permutations(range(4)):
            if not free_order and [_sort_key(ms[i]) for i in p] != keys:
                continue
            a, bb, c, d = p
            if (ms[c], c) > (ms[d], d):
                c, d = d, c
            if ms[c] == ms[d] and e(E, bb, c) < e(E, bb, d):  # P(C, C) is symmetric: put the
                c, d = d, c  # group B contracts more of first
            P = (ms[c], ms[d], e(E, c, d))
            kB = (e(E, bb, c), e(E, bb, d))
            kA = (e(E, a, bb), e(E, a, c), e(E, a, d))
            vkey = (ms[bb], P, kB)
            cost = (0 if P in have_p else _pair_cost(*P)) + (0 if vkey in have_v else _v_cost(P, kB, kA))
            if best is None or cost < best[0]:
                best = (cost, ("quad", ms[a], ms[bb], P, vkey[2], kA), P, vkey)
        _, plan, P, vkey = best
        have_p.add(P)
        have_v.add(vkey)
        plans.append(plan)
    return plans


def _materialise(level: int, graphs: list, plans: list) -> LevelBasis:
    basics = sorted({m for ms, _ in graphs for m in ms})
    b = _Builder(basics)
    scalar_of: dict = {}

    def pair_item(P):
        X, Y, k = P
        return _pair(b, X, Y, k)

    # pair contractions of two basic moments first (they need only basic components), ordered
    # like MLIP's (radial indices, then ranks, then contracted indices); then the other
    # components stage by stage (number of moments), so every row reads earlier components
    pairs_needed = {pl[2] for pl in plans if pl[0] == "tri"} | {pl[3] for pl in plans if pl[0] == "quad"}
    pairs_needed |= {pl[1:4] for pl in plans if pl[0] == "pair"}
    for P in sorted(pairs_needed, key=lambda P: (P[0][0], P[1][0], P[0][1], P[1][1], P[2])):
        it = pair_item(P)
        if P[0][1] + P[1][1] == 2 * P[2]:
            scalar_of[("pairkey", P)] = _only(it)
    order = sorted(range(len(graphs)), key=lambda i: (len(graphs[i][0]), i))
    for i in order:
        ms, g = graphs[i]
        pl = plans[i]
        kind = pl[0]
        if kind == "basic":
            scalar_of[(ms, g)] = b.basic_index[pl[1]][(0, 0, 0)]
        elif kind == "pair":
            scalar_of[(ms, g)] = scalar_of[("pairkey", pl[1:4])]
        elif kind == "prod":
            k1, k2 = scalar_of[pl[1]], scalar_of[pl[2]]
            k3 = b.new_index()
            b.times.append((min(k1, k2), max(k1, k2), 1, k3))
            scalar_of[(ms, g)] = k3
        elif kind == "tri":
            _, A, P, ks = pl
            it = _contract(b, A, pair_item(P), ks)
            scalar_of[(ms, g)] = _only(it)
        elif kind == "quad":
            _, A, B, P, kB, kA = pl
            vkey = ("V", B, P, kB)
            if vkey not in b.items:
                pit = pair_item(P)
                b.items[vkey] = _contract(b, B, pit, kB, sym=_v_sym(P, kB, kA))
            V = b.items[vkey]
            # V's groups: B rem (kA[0]), P's C rem (kA[1]), P's D rem (kA[2])
            assert tuple(kA) == V.groups, (kA, V.groups)
            it = _contract(b, A, V, tuple(kA))
            scalar_of[(ms, g)] = _only(it)
    mapping = np.array([scalar_of[(ms, g)] for ms, g in graphs], dtype=np.int64)
    basic = np.array(b.basic_rows, dtype=np.int64).reshape(-1, 4)
    times = np.array(b.times, dtype=np.int64).reshape(-1, 4)
    used = _used(len(basic), times, mapping, b.n)
    if not used.all():  # drop components no scalar needs (none expected)
        basic, times, mapping, n = _prune(basic, times, mapping, used)
    else:
        n = b.n
    for arr in (basic, times, mapping):
        arr.setflags(write=False)
    return LevelBasis(level=level, radial_funcs_count=int(basic[:, 0].max()) + 1, alpha_index_basic=basic,
                      alpha_index_times=times, alpha_moment_mapping=mapping, alpha_moments_count=int(n),
                      graphs=tuple(graphs))


def _used(nb: int, times: np.ndarray, mapping: np.ndarray, n: int) -> np.ndarray:
    used = np.zeros(n, bool)
    used[mapping] = True
    for k1, k2, _, k3 in times[::-1]:
        if used[k3]:
            used[k1] = used[k2] = True
    return used


def _prune(basic, times, mapping, used):
    new = -np.ones(len(used), np.int64)
    new[used] = np.arange(int(used.sum()))
    nb = len(basic)
    basic = basic[used[:nb]]
    t = times[used[times[:, 3]]]
    times = np.stack([new[t[:, 0]], new[t[:, 1]], t[:, 2], new[t[:, 3]]], axis=1)
    return basic, times, new[mapping], int(used.sum())


# ------------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def level_basis(level: int) -> LevelBasis:
    """MLIP-equivalent moment basis of an MTP of ``level`` (even, 2..28)."""
    if isinstance(level, bool) or int(level) != level or int(level) not in LEVELS:
        raise ValueError(f"MTP level must be one of {list(LEVELS)} (got {level!r})")
    level = int(level)
    graphs = _scalar_graphs(level)
    plans = _plan(graphs, free_order=level > MLIP_BOOKKEEPING_MAX_LEVEL)
    basis = _materialise(level, graphs, plans)
    log.debug("level %d basis: %d basic, %d components, %d scalars, %d times rows", level,
              basis.alpha_index_basic_count, basis.alpha_moments_count, basis.alpha_scalar_moments,
              basis.alpha_index_times_count)
    return basis


def level_of_scalar_count(n_scalar: int) -> int | None:
    """The level whose basis has ``n_scalar`` scalar basis functions (None if no level has): tells
    the level of an .mtp file from MLIP or from this generator alike, whatever its bookkeeping."""
    return {size.n_scalar: lev for lev, size in LEVELS.items()}.get(int(n_scalar))


def _moment_name(m: Moment) -> str:
    return f"M({m[0]},{m[1]})"


def describe(basis: LevelBasis) -> list[str]:
    """Each scalar basis function (mapping order) as a readable contraction: ``M(mu,nu)`` a moment,
    ``A·B`` / ``A:B`` / ``A[k]B`` two moments contracted over 1 / 2 / k indices, ``*`` a product of
    scalars, ``[A B C] 0-2:1 1-2:1`` a connected contraction of 3-4 moments with its edges
    (vertex i-j: number of contracted indices). E.g. ``M(0,0)*M(0,1)·M(0,1)``."""
    out = []
    for ms, g in basis.graphs:
        n = len(ms)
        E = dict(zip(itertools.combinations(range(n), 2), g))
        parts = []
        for comp in _components(n, E):
            if len(comp) == 1:
                parts.append(_moment_name(ms[comp[0]]))
            elif len(comp) == 2:
                i, j = comp
                k = E[(i, j)]
                sep = {1: "·", 2: ":"}.get(k, f"[{k}]")
                parts.append(_moment_name(ms[i]) + sep + _moment_name(ms[j]))
            else:
                edges = " ".join(f"{comp.index(i)}-{comp.index(j)}:{v}" for (i, j), v in E.items()
                                 if v and i in comp)
                parts.append("[" + " ".join(_moment_name(ms[i]) for i in comp) + "] " + edges)
        out.append("*".join(parts))
    return out


def fingerprints(tables, samples: int = 6) -> np.ndarray:
    """Values (ns, samples) of the scalar basis functions of ``tables`` (anything with the .mtp
    attributes ``alpha_index_basic``, ``alpha_index_times``, ``alpha_moment_mapping``,
    ``alpha_moments_count``) on fixed pseudo-random neighbourhoods, with fixed pseudo-random
    radial values per ``mu``. Equal functions have equal fingerprints whatever their evaluation
    plan, so they identify basis functions across levels and generators (e.g. to carry
    coefficients over when a potential's level is raised); compare with a relative tolerance."""
    rng = np.random.default_rng(20161)
    n_nb = 9
    u = rng.normal(size=(samples, n_nb, 3))
    u /= np.linalg.norm(u, axis=2, keepdims=True)
    f = rng.uniform(0.5, 1.5, size=(samples, MAX_MU + 1, n_nb))
    basic = np.asarray(tables.alpha_index_basic, dtype=np.int64).reshape(-1, 4)
    m = np.zeros((int(tables.alpha_moments_count), samples))
    for i, (mu, a, b, c) in enumerate(basic):
        m[i] = np.sum(f[:, mu] * u[..., 0] ** a * u[..., 1] ** b * u[..., 2] ** c, axis=1)
    for k1, k2, mult, k3 in np.asarray(tables.alpha_index_times, dtype=np.int64).reshape(-1, 4):
        m[k3] += mult * m[k1] * m[k2]
    return m[np.asarray(tables.alpha_moment_mapping, dtype=np.int64)]
