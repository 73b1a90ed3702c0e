"""Cost of one kinisi fit (``argyro_run.analysis.diffusion.diffusivity_bayes``) against the planner's
law (``argyro_run/plan/cost.py``: ``KINISI_NS_PER_PAIR_ATOM``, ``KINISI_S_PER_LAG``,
``ANALYSIS_S_PER_FIT`` beside our own MSD's ``ANALYSIS_NS_PER_PAIR_ATOM``): CPU time of the fit of
3-d random walks of several sizes and fit windows, and the law's prediction.

    .venv/bin/python benchmarks/analysis_cost.py
"""

from __future__ import annotations

import time

import numpy as np

from argyro_run.analysis.diffusion import diffusivity_bayes
from argyro_run.plan import cost

# (samples, atoms, first lag, last lag of the fit window), sampled every 0.1 ps
CASES = ((1001, 192, 100, 400), (1001, 192, 50, 200), (1001, 192, 25, 100), (1001, 24, 100, 400), (601, 192, 30, 300))


def main() -> int:
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(scale=0.1, size=(101, 8, 3)), axis=0)
    diffusivity_bayes(walk, 0.1, fit_start_ps=1.0, fit_end_ps=3.0)          # imports kinisi: not timed
    print(f"{'samples':>8} {'atoms':>6} {'lags':>9} {'CPU [s]':>8} {'law [s]':>8} {'law/CPU':>8}")
    for samples, atoms, k0, k1 in CASES:
        x = np.cumsum(rng.normal(scale=0.1, size=(samples, atoms, 3)), axis=0)
        t0 = time.process_time()
        diffusivity_bayes(x, 0.1, fit_start_ps=k0 * 0.1, fit_end_ps=k1 * 0.1)
        cpu = time.process_time() - t0
        law = cost.kinisi_fit_s(samples, k1, atoms)
        print(f"{samples:>8} {atoms:>6} {k0:>4}-{k1:<4} {cpu:>8.2f} {law:>8.2f} {law / cpu:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
