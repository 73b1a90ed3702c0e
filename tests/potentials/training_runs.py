"""Training checks shared by ``test_train.py`` and ``test_moments.py``: refitting a known potential
from perturbed coefficients, and a training script under 1 and 2 MPI ranks."""

from __future__ import annotations

import copy
import json

import numpy as np

from argyro_run.potentials import train as T
from tests._support.env import REPO, run_mpi


def refit_from_perturbed(truth, images):
    """Train from ``truth`` with its radial coefficients perturbed by 3 % and its linear coefficients
    zeroed (300 iterations); asserts that the loss never increases and falls below 1e-5 of its start.
    Returns (errors of the start, the new MTP, the training report)."""
    start = copy.deepcopy(truth)
    rng = np.random.default_rng(0)
    start.radial_coeffs = np.asarray(truth.radial_coeffs) * (1 + 0.03 * rng.normal(size=np.shape(truth.radial_coeffs)))
    start.species_coeffs = np.zeros_like(np.asarray(truth.species_coeffs))
    start.moment_coeffs = np.zeros_like(np.asarray(truth.moment_coeffs))
    before = T.errors(start, images)
    new, report = T.train(start, images, max_iterations=300)
    hist = np.array(report.loss_history)
    assert np.all(np.diff(hist) <= 1e-12 * hist[0])
    assert hist[-1] < 1e-5 * hist[0]
    return before, new, report


def json_on_ranks(module: str, tmp_path, ranks=(1, 2)) -> list:
    """The JSON each run of ``python -m module OUT`` (it writes its result to the file OUT) leaves,
    one per rank count in ``ranks``."""
    results = []
    for n in ranks:
        out = tmp_path / f"r{n}.json"
        proc = run_mpi(n, ["-m", module, str(out)], timeout=300, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results.append(json.loads(out.read_text()))
    return results
