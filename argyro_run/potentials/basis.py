"""MTP level bases: which contractions of moment tensors are basis functions, and how the
``.mtp`` tables (``alpha_index_basic``, ``alpha_index_times``, ``alpha_moment_mapping``) compute them.

The rule (reproduces the sizes of MLIP's published level templates 2..26):

* moment M_{mu,nu} has level 2 + 4 mu + nu; a basis function is a full contraction of a product
  of moments to a scalar, its level the sum of its factors' levels; the level-L basis holds every
  such contraction with level <= L that
  - has at most 4 factors,
  - contracts no tensor with itself (a trace of M_{mu,nu} is M_{mu,nu-2}: nothing new),
  - uses radial functions mu < 6 and tensor ranks nu <= 10
  (the last two caps only matter from level 26 on, where they remove M_{6,0} and M_{0,11}.M_{0,11}).
* Two contractions are the same basis function when their contraction graphs (nodes: moments,
  edge multiplicity: indices contracted between two of them) are isomorphic.

Encoding (how the functions are computed from basic moment components): the basic moments
``[mu, a, b, c]`` are the components of the symmetric tensors M_{mu, a+b+c} (unit-vector monomials
u_x^a u_y^b u_z^c summed over neighbours). A connected graph is contracted node by node; an
intermediate tensor keeps its free indices grouped by the node they will be contracted with, and
stores, for every group, the *sum* over orderings of the group's indices (so every coefficient is
an integer and the multiplicity of a symmetric contraction, e.g. 2 for xy in M_{0,2}:M_{0,2}, lands
in ``mult``). The elimination order of each graph is the one adding the fewest new intermediate
components given those already made (intermediates are shared between basis functions).
Disconnected graphs are products of their connected parts, built as c1 * (c2 * (c3 * c4)) with the
parts sorted by level. Results are cached per level.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from math import factorial

import numpy as np

MAX_FACTORS = 4
MAX_MU = 5
MAX_NU = 10
LEVELS = tuple(range(2, 29, 2))


@dataclass(frozen=True)
class LevelBasis:
    level: int
    radial_funcs_count: int
    alpha_index_basic: np.ndarray      # (nb, 4) int
    alpha_index_times: np.ndarray      # (nt, 4) int
    alpha_moment_mapping: np.ndarray   # (ns,) int
    alpha_moments_count: int
    descriptions: tuple = ()           # one readable contraction per scalar basis function

    @property
    def alpha_scalar_moments(self) -> int:
        return len(self.alpha_moment_mapping)


def node_level(node) -> int:
    mu, nu = node
    return 2 + 4 * mu + nu


def _monomials(r: int) -> list[tuple[int, int, int]]:
    """Monomials (a, b, c), a+b+c = r, in MLIP's order (x-power descending, then y)."""
    return [(a, b, r - a - b) for a in range(r, -1, -1) for b in range(r - a, -1, -1)]


def _mult(m) -> int:
    a, b, c = m
    return factorial(a + b + c) // (factorial(a) * factorial(b) * factorial(c))


def _add(*ms):
    return tuple(sum(x) for x in zip(*ms)) if ms else (0, 0, 0)


# ------------------------------------------------------------------------------------------------
# enumeration of contraction graphs
# ------------------------------------------------------------------------------------------------

def _node_multisets(level: int):
    nodes = [(mu, nu) for mu in range(MAX_MU + 1) for nu in range(MAX_NU + 1) if node_level((mu, nu)) <= level]
    out = []

    def rec(start, cur, lev):
        if cur:
            out.append(tuple(cur))
        if len(cur) == MAX_FACTORS:
            return
        for k in range(start, len(nodes)):
            lv = node_level(nodes[k])
            if lev + lv <= level:
                cur.append(nodes[k])
                rec(k, cur, lev + lv)
                cur.pop()

    rec(0, [], 0)
    return out


def _canonical(nodes, edges) -> tuple:
    """Canonical form of a graph: (sorted nodes, edge list) minimal over type-preserving permutations."""
    n = len(nodes)
    order = sorted(range(n), key=lambda i: nodes[i])
    snodes = tuple(nodes[i] for i in order)
    best = None
    groups = [list(g) for _, g in itertools.groupby(range(n), key=lambda k: snodes[k])]
    for perms in itertools.product(*[itertools.permutations(g) for g in groups]):
        pos = {}
        for g, p in zip(groups, perms):
            for src, dst in zip(g, p):
                pos[order[src]] = dst
        key = tuple(sorted((min(pos[i], pos[j]), max(pos[i], pos[j]), m) for (i, j), m in edges.items() if m))
        if best is None or key < best:
            best = key
    return snodes, best


def _graphs(nodes) -> list:
    """Every contraction (multigraph without loops, degree of node = its rank) of ``nodes``,
    up to isomorphism, as canonical (nodes, edges)."""
    n = len(nodes)
    deg = [nu for _, nu in nodes]
    if sum(deg) % 2:
        return []
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    found = {}

    def rec(k, rem, E):
        if k == len(pairs):
            if not any(rem):
                c = _canonical(nodes, E)
                found.setdefault(c, None)
            return
        i, j = pairs[k]
        for m in range(min(rem[i], rem[j]) + 1):
            rem[i] -= m
            rem[j] -= m
            E[(i, j)] = m
            rec(k + 1, rem, E)
            rem[i] += m
            rem[j] += m
        del E[(i, j)]

    rec(0, deg[:], {})
    return sorted(found)


def scalar_graphs(level: int) -> list:
    """All basis-function graphs of a level, sorted by (level, factors, canonical form)."""
    out = []
    for ms in _node_multisets(level):
        out += _graphs(ms)
    return sorted(out, key=lambda g: (sum(node_level(x) for x in g[0]), len(g[0]), g))


def _components(nodes, edges) -> list:
    """Connected components as canonical sub-graphs."""
    n = len(nodes)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, m in edges:
        if m:
            parent[find(i)] = find(j)
    comps = {}
    for i in range(n):
        comps.setdefault(find(i), []).append(i)
    out = []
    for members in comps.values():
        idx = {v: k for k, v in enumerate(members)}
        sub_edges = {(idx[i], idx[j]): m for i, j, m in edges if i in idx and j in idx}
        out.append(_canonical([nodes[i] for i in members], sub_edges))
    return sorted(out, key=lambda g: (sum(node_level(x) for x in g[0]), len(g[0]), g))


def describe_graph(graph) -> str:
    """E.g. ``M(0,1)a M(0,2)b M(0,1)c : a-b x1, b-c x1`` (nodes lettered, edges with the number of
    contracted indices); a single scalar moment is just ``M(mu,0)``."""
    nodes, edges = graph
    letters = "abcdefgh"
    if len(nodes) == 1:
        return f"M({nodes[0][0]},{nodes[0][1]})"
    head = " ".join(f"M({mu},{nu}){letters[k]}" for k, (mu, nu) in enumerate(nodes))
    body = ", ".join(f"{letters[i]}-{letters[j]} x{m}" for i, j, m in edges if m)
    return head + (" : " + body if body else "")


# ------------------------------------------------------------------------------------------------
# encoding as alpha_index_times
# ------------------------------------------------------------------------------------------------

class _Builder:
    def __init__(self, basic_nodes):
        self.basic = []          # rows [mu, a, b, c]
        self.index = {}          # key -> moment index
        for mu, nu in basic_nodes:
            for m in _monomials(nu):
                self.index[("b", mu, m)] = len(self.basic)
                self.basic.append([mu, *m])
        self.derived: list[tuple] = []            # keys of derived moments, in creation order
        self.terms: dict[tuple, dict] = {}         # derived key -> {(k1, k2): coeff}

    def basic_component(self, node, m) -> int:
        return self.index[("b", node[0], m)]

    def _new(self, key, terms: dict) -> int:
        """Index of derived moment ``key`` computed by ``terms`` {(k1, k2): mult}; created if new."""
        if key in self.index:
            return self.index[key]
        clean = {k: c for k, c in terms.items() if c}
        if not clean:
            raise ValueError(f"contraction {key} vanishes identically")
        k = len(self.basic) + len(self.derived)
        self.index[key] = k
        self.derived.append(key)
        self.terms[key] = clean
        return k

    # -- connected graphs: node elimination ------------------------------------------------------
    def _contract(self, nodes, edges, order, dry: set | None):
        """Build the scalar of a connected graph eliminating nodes in ``order``; with ``dry`` (a
        set) only count the keys that would be new. Returns the moment index (or None if dry)."""
        E = {}
        for i, j, m in edges:
            E[(i, j)] = E[(j, i)] = m
        n = len(nodes)

        def groups_of(members):
            out = {}
            for y in range(n):
                if y in members:
                    continue
                c = sum(E.get((x, y), 0) for x in members)
                if c:
                    out[y] = c
            return out

        # state after two nodes
        x1, x2 = order[0], order[1]
        members = {x1, x2}
        G = groups_of(members)
        ext = sorted(G)
        comps = {}
        c12 = E.get((x1, x2), 0)
        # x1's indices toward each y, x2's toward each y
        for gm in itertools.product(*[_monomials(G[y]) for y in ext]):
            terms: dict = {}
            for split in itertools.product(*[self._splits(gm[k], E.get((x1, y), 0), E.get((x2, y), 0))
                                             for k, y in enumerate(ext)]):
                w_open = 1
                b1, b2 = [], []
                for (p, q) in split:
                    w_open *= _mult(p) * _mult(q)
                    b1.append(p)
                    b2.append(q)
                for mj in _monomials(c12):
                    k1 = self.basic_component(nodes[x1], _add(mj, *b1))
                    k2 = self.basic_component(nodes[x2], _add(mj, *b2))
                    kk = (min(k1, k2), max(k1, k2))
                    terms[kk] = terms.get(kk, 0) + w_open * _mult(mj)
            comps[gm] = terms
        state = self._materialise(nodes, edges, members, ext, comps, dry)
        for x in order[2:]:
            G_old = groups_of(members)
            ext_old = sorted(G_old)
            members = members | {x}
            G = groups_of(members)
            ext = sorted(G)
            comps = {}
            for gm in itertools.product(*[_monomials(G[y]) for y in ext]):
                terms = {}
                gmap = dict(zip(ext, gm))
                # split each new group monomial into T's part (G_old[y]) and x's part (E[x,y])
                for split in itertools.product(*[self._splits(gmap[y], G_old.get(y, 0), E.get((x, y), 0))
                                                 for y in ext]):
                    w = 1
                    xb = []
                    tparts = {}
                    for y, (p, q) in zip(ext, split):
                        w *= _mult(q)
                        xb.append(q)
                        tparts[y] = p
                    for mj in _monomials(G_old[x]):
                        tkey = tuple(mj if y == x else tparts[y] for y in ext_old)
                        k1 = state[tkey]
                        k2 = self.basic_component(nodes[x], _add(mj, *xb))
                        kk = (min(k1, k2), max(k1, k2))
                        terms[kk] = terms.get(kk, 0) + w
                comps[gm] = terms
            state = self._materialise(nodes, edges, members, ext, comps, dry)
        return None if dry is not None else state[()]

    @staticmethod
    def _splits(m, p: int, q: int):
        """Ways to write monomial m (rank p+q) as a + b with rank(a) = p, rank(b) = q."""
        out = []
        for a in _monomials(p):
            b = (m[0] - a[0], m[1] - a[1], m[2] - a[2])
            if min(b) >= 0:
                out.append((a, b))
        return out

    def _materialise(self, nodes, edges, members, ext, comps, dry):
        """Create (or count) the derived moments of an intermediate; returns {group-monomials: index}."""
        ident, perm, ties = _intermediate_identity(nodes, edges, sorted(members), ext)
        out = {}
        for gm, terms in comps.items():
            cgm = [gm[k] for k in perm]
            for lo, hi in ties:
                cgm[lo:hi] = sorted(cgm[lo:hi])
            key = ("i", ident, tuple(cgm))
            if dry is not None:
                if key not in self.index:
                    dry.add(key)
                out[gm] = -1
            else:
                out[gm] = self._new(key, terms)
        return out

    def connected(self, graph) -> int:
        nodes, edges = graph
        if len(nodes) == 1:
            return self.basic_component(nodes[0], (0, 0, 0))
        # orders whose every prefix (from 2 nodes on) is connected
        best = None
        for order in itertools.permutations(range(len(nodes))):
            if order[0] > order[1]:
                continue
            if not _prefixes_connected(order, edges):
                continue
            try:
                dry: set = set()
                self._contract(nodes, edges, order, dry)
            except KeyError:
                continue
            if best is None or len(dry) < best[0]:
                best = (len(dry), order)
        return self._contract(nodes, edges, best[1], None)

    def product(self, parts: list[int]) -> int:
        """c1 * (c2 * (...)) of scalar moment indices."""
        if len(parts) == 1:
            return parts[0]
        rest = self.product(parts[1:])
        a, b = parts[0], rest
        return self._new(("p", a, b), {(min(a, b), max(a, b)): 1})


def _prefixes_connected(order, edges) -> bool:
    adj = {}
    for i, j, m in edges:
        if m:
            adj.setdefault(i, set()).add(j)
            adj.setdefault(j, set()).add(i)
    seen = {order[0]}
    for x in order[1:]:
        if not adj.get(x, set()) & seen:
            return False
        seen.add(x)
    return True


def _intermediate_identity(nodes, edges, sub, ext):
    """Identity of an intermediate tensor, independent of the graph it appears in: member node
    types, internal edges and, per external group, which members connect to it how often; the
    groups in canonical order. Returns (identity, permutation of ``ext`` into that order, runs of
    groups with equal signature (the tensor is symmetric under swapping them))."""
    pos = {v: k for k, v in enumerate(sub)}
    E = {}
    for i, j, m in edges:
        E[(i, j)] = E[(j, i)] = m
    n = len(sub)
    best = None
    for p in itertools.permutations(range(n)):
        if any(nodes[sub[p[k]]] != nodes[sub[k]] for k in range(n)):
            continue
        internal = tuple(sorted((min(p[pos[i]], p[pos[j]]), max(p[pos[i]], p[pos[j]]), m)
                                for i, j, m in edges if m and i in pos and j in pos))
        sigs = [tuple(sorted((p[pos[x]], E.get((x, y), 0)) for x in sub if E.get((x, y), 0))) for y in ext]
        perm = sorted(range(len(ext)), key=lambda k: sigs[k])
        key = (tuple(nodes[s] for s in sub), internal, tuple(sigs[k] for k in perm))
        if best is None or key < best[0]:
            best = (key, perm)
    key, perm = best
    ties, k = [], 0
    groups = key[2]
    while k < len(groups):
        h = k
        while h + 1 < len(groups) and groups[h + 1] == groups[k]:
            h += 1
        if h > k:
            ties.append((k, h + 1))
        k = h + 1
    return key, perm, ties


@lru_cache(maxsize=None)
def level_basis(level: int) -> LevelBasis:
    """The level-``level`` MTP basis (even levels 2..28), MLIP-equivalent (see the module doc)."""
    level = int(level)
    if level not in LEVELS:
        raise ValueError(f"MTP level {level} is not supported; allowed: even numbers 2..28")
    graphs = scalar_graphs(level)
    used = sorted({x for g in graphs for x in g[0]})
    b = _Builder(used)
    mapping, desc = [], []
    for g in graphs:
        nodes, edges = g
        parts = [b.connected(c) for c in _components(nodes, edges)]
        mapping.append(b.product(parts))
        desc.append(describe_graph(g))
    times = []
    for key in b.derived:
        k3 = b.index[key]
        for (k1, k2), c in b.terms[key].items():
            times.append([k1, k2, int(c), k3])
    return LevelBasis(level=level, radial_funcs_count=max(mu for mu, _ in used) + 1,
                      alpha_index_basic=np.array(b.basic, dtype=int).reshape(-1, 4),
                      alpha_index_times=np.array(times, dtype=int).reshape(-1, 4),
                      alpha_moment_mapping=np.array(mapping, dtype=int),
                      alpha_moments_count=len(b.basic) + len(b.derived), descriptions=tuple(desc))
