"""Is the MTP still right where its MD went? The reference check of MD frames (``md.reference_check_frames``;
the task ``check/<material>/<structure>`` is ``learning/tasks.run_reference_check``: it labels, as the loop does).

The learning loop's extrapolation grades see only the linear part of the MTP; a run can walk into
configurations whose grades stay low while the forces are wrong (issue 16: the validation Li6PS5Br
potential graded 0 at 900 K, yet on its own 800 K production frames the reference disagreed by
0.4-0.9 eV/A, 4-9x its training error, and the framework melted). The standard a-posteriori test is to
label a few frames of the production MD with the reference and compare. :func:`check_images`
builds them: ``n`` frames evenly spaced over each run (after its first tenth), whole when the cell
has at most ``max_reference_atoms`` atoms, else a cut-out around a seeded random host atom
(``learning.local.cut_out`` reaching :data:`CHECK_CORE_RADIUS_A` beyond the cutoff: forces of its
core only; :func:`check_radius_A`). The learning loop checks its explorations the same way
(``active_learning.check_frames``, ``loop.reference_rmse``). :func:`frame_errors` compares the MTP with
the labels: force RMSE on the weighted atoms and, for whole cells, the energy error per atom
(``potentials.train.errors`` of a run's images together makes one number of the run).

A check on a few frames is a sample: :func:`significant_force_bar` is the RMSE above which the
sample shows, at ``active_learning.check_confidence``, that the MTP's error there exceeds the limit
(a one-sided chi-square test on the compared force components), so that a run is not failed by
the noise of two or three cut-outs near the limit (issue 16, the template's Li6PS5Br learning).
"""

from __future__ import annotations

import numpy as np

CHECK_CORE_RADIUS_A = 3.0  # cut-outs of the check reach this far beyond the cutoff: ~7 core atoms in an
                           # argyrodite (at the learning's 6 A radius the core is the centre alone)


def check_radius_A(local_radius_A: float, cutoff_A: float) -> float:
    """Radius of a check's cut-out: the learning's own (``local_radius_A``) or, where that leaves a core
    of one atom, :data:`CHECK_CORE_RADIUS_A` beyond the potential's cutoff."""
    return max(float(local_radius_A), float(cutoff_A) + CHECK_CORE_RADIUS_A)


def significant_force_bar(limit_eV_per_A: float, n_components: int, confidence: float) -> float:
    """The force RMSE (eV/A) above which a reference check on ``n_components`` force components fails:
    the sample then shows, with one-sided ``confidence``, that the MTP's force error there has an RMS
    above ``limit_eV_per_A``.

    Under the hypothesis that the errors are normal with mean 0 and standard deviation ``limit``,
    n * RMSE^2 / limit^2 follows chi-square with n degrees of freedom; the bar is where that
    statistic reaches its ``confidence`` quantile, limit * sqrt(chi2.ppf(confidence, n) / n). It
    falls towards the limit as n grows (1.18x at n = 42, two cut-outs of 7 core atoms; 1.02x at
    n = 3000); at confidence 0.5 it is the limit to within 1/n. The components count as
    independent: errors correlated between neighbouring atoms make the true spread larger, so the bar
    is, if anything, too close to the limit (a good MTP fails a little more often than 1 - confidence,
    a bad one is not let through). NaN when nothing was compared or the limit is not finite."""
    from scipy.stats import chi2

    n = int(n_components)
    if n < 1 or not np.isfinite(limit_eV_per_A):
        return float("nan")
    return float(limit_eV_per_A) * float(np.sqrt(chi2.ppf(float(confidence), n) / n))


def frame_indices(n_samples: int, n: int) -> np.ndarray:
    """``n`` sample indices evenly spaced from the end of the run's first tenth to its last sample."""
    if n_samples < 2 or n < 1:
        return np.zeros(0, dtype=int)
    return np.unique(np.round(np.linspace(max(1, n_samples // 10), n_samples - 1, int(n))).astype(int))


def check_images(structure, positions_A: np.ndarray, cell_A: np.ndarray, n: int, *, max_reference_atoms: int,
                 radius_A: float, cutoff_A: float, mobile: str | None, seed: int, mode: str = "periodic",
                 vacuum_A: float = 8.0) -> list:
    """The structures to label for one MD run: frames of ``positions_A`` (samples, every atom of
    ``structure``, 3) at :func:`frame_indices`; each with ``info['sample']``, and ``force_weight``
    (the core) when cut out."""
    from ase import Atoms

    from argyro_run.learning.local import cut_out

    rng = np.random.default_rng(seed)
    host = np.flatnonzero(np.array(structure.get_chemical_symbols()) != mobile) if mobile else np.arange(len(structure))
    out = []
    for k in frame_indices(len(positions_A), n):
        a = Atoms(numbers=structure.numbers, positions=np.asarray(positions_A[k], dtype=float), cell=cell_A, pbc=True)
        a.wrap()
        if len(a) > max_reference_atoms:
            centre = int(rng.choice(host if len(host) else np.arange(len(a))))
            b = cut_out(a, centre, radius_A=radius_A, cutoff_A=cutoff_A, mode=mode, vacuum_A=vacuum_A)
            core = np.asarray(b.arrays["core"], dtype=bool)
            for key in [key for key in b.arrays if key not in ("numbers", "positions")]:
                del b.arrays[key]
            b.arrays["force_weight"] = core.astype(float)
            b.info = {"energy_weight": 0.0, "centre": centre}
            a = b
        a.info["sample"] = int(k)
        out.append(a)
    return out


def frame_errors(mtp, labelled: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(force RMSE in eV/A over the atoms with ``force_weight`` > 0 (all without it), energy error
    in meV/atom (NaN for cut-outs), the number of atoms the force RMSE is over) of ``mtp`` against
    each labelled image."""
    from argyro_run.potentials.train import errors

    f, e, n = [], [], []
    for img in labelled:
        m = errors(mtp, [img])
        f.append(m["rmse_force_eV_per_A"])
        whole = "force_weight" not in img.arrays
        e.append(float(m["rmse_energy_meV_per_atom"]) if whole else np.nan)
        n.append(len(img) if whole else int(np.sum(np.asarray(img.arrays["force_weight"]) > 0)))
    return np.asarray(f, dtype=float), np.asarray(e, dtype=float), np.asarray(n, dtype=np.int64)

