"""Cost of MaxVol extrapolation grades in the LAMMPS ``pair_style mtp`` plugin.

Same cell and potential as ``mtp_speed.py`` (Li6PS5Cl 3x3x3, 1404 atoms, MLIP's level-16 basis,
random coefficients, atoms at rest). An active set of the right size (species + scalar moments
rows; random entries: the cost does not depend on them) with ``select``/``break`` thresholds
that are never reached, so the grades are computed and checked but nothing is written or
stopped. Timed: NVE steps without grades, and with ``every N`` for each N of ``--every``; rounds
alternate between the variants and the minimum CPU time per variant is kept (the machine is
shared: the minimum is the least disturbed). Overhead = (t_N - t_plain) / t_plain.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mtp_grade_cost.py [--level 16] [--every 1 5 10]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from mtp_speed import MPI, bench_lammps, cell, write_level_mtp  # noqa: E402


def write_active_set(path, n_rows, seed=0):
    """An 'MTP active set v1' file (neighborhood mode) with a random n_rows x n_rows inverse."""
    a = np.random.default_rng(seed).normal(0, 1e-3, (n_rows, n_rows))
    with open(path, "w") as fh:
        fh.write(f"MTP active set v1\nmode neighborhood\nn_rows {n_rows}\ninverse\n")
        for row in a:
            fh.write(" ".join(f"{v:.17g}" for v in row) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--level", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--plugin-lib", help="time this plugin library instead of the current build")
    ap.add_argument("--every", type=int, nargs="+", default=[1, 5, 10])
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    atoms = cell()
    n = len(atoms)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        pot, als, dump = tmp / "bench.mtp", tmp / "bench.als", tmp / "selected.cfg"
        counts = write_level_mtp(pot, args.level)
        n_rows = 4 + counts["alpha_scalar_moments"]
        write_active_set(als, n_rows)
        print(f"atoms {n}, level {args.level}, active set {n_rows} x {n_rows}, {args.steps} NVE steps per round, "
              f"{args.rounds} rounds")
        variants = {"plain": ""}
        for e in args.every:
            variants[f"every {e}"] = f" active_set {als} select 1e300 break 1e300 dump {dump} every {e}"
        best = {k: float("inf") for k in variants}
        for _ in range(args.rounds):
            for name, extra in variants.items():
                _, _, cpu = bench_lammps(pot, atoms, args.steps, comm, args.plugin_lib, style_extra=extra)
                best[name] = min(best[name], cpu / args.steps / n * 1e6)
        assert not dump.exists()
        base = best["plain"]
        for name, t in best.items():
            over = "" if name == "plain" else f"  overhead {100 * (t - base) / base:+6.1f} %"
            print(f"{name:9s} {t:7.2f} us/atom/step CPU{over}")


if __name__ == "__main__":
    main()
