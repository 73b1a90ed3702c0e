"""Neighbour pairs of large cells: ``potentials.moments.pairs_within`` (scipy's periodic k-d tree
for orthorhombic cells longer than twice the cutoff) against ASE's ``neighbor_list``, and what it
buys in ``evaluate.site_basis`` (the MaxVol rows of one configuration: the active-learning loop
computes them for every exploration candidate it grades, and for its training set).

Cells: Li6PS5Cl 2x2x2 (416 atoms, the validation MD cell) and 3x3x3 (1404), rattled 0.1 A, the
MTP cutoff of the test potential (``tests/data/mtp/Li6PS5Cl-l08.mtp``, 5 A). Each timing is the
minimum over ``--rounds`` rounds (the machine is shared: the minimum is the least disturbed);
the pair sets are checked equal before timing.

Run:  .venv/bin/python benchmarks/neighbour_pairs.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import pathlib
import time

from ase.neighborlist import neighbor_list

from argyro_run.potentials.evaluate import site_basis
from argyro_run.potentials.moments import pairs_within
from argyro_run.potentials.mtp import parse_mtp
from argyro_run.structures.argyrodite import argyrodite

MTP = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "mtp" / "Li6PS5Cl-l08.mtp"


def best_ms(f, rounds: int) -> float:
    t = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return 1000.0 * min(t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    mtp = parse_mtp(MTP.read_text())
    cut = float(mtp.max_dist_A)
    print(f"cutoff {cut:g} A, minimum of {args.rounds} rounds")
    print("| cell | atoms | pairs | pairs_within [ms] | ASE neighbor_list [ms] | speed-up | site_basis [ms] |")
    print("|---|---|---|---|---|---|---|")
    for rep in (2, 3):
        a = argyrodite("Cl") * (rep, rep, rep)
        a.rattle(0.1, seed=1)
        i, j, _ = pairs_within(a, cut)
        i2, j2 = neighbor_list("ij", a, cut)
        assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(i2.tolist(), j2.tolist()))
        ours = best_ms(lambda: pairs_within(a, cut), args.rounds)
        ase = best_ms(lambda: neighbor_list("ijD", a, cut), args.rounds)
        sb = best_ms(lambda: site_basis(mtp, a), max(1, args.rounds // 2))
        print(f"| {rep}x{rep}x{rep} | {len(a)} | {len(i)} | {ours:.1f} | {ase:.1f} | {ase / ours:.0f}x | {sb:.0f} |")


if __name__ == "__main__":
    main()
