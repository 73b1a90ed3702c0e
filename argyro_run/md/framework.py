"""Does the host framework stay the crystal it started as? The check of every MD run.

A diffusion coefficient of the mobile ion means something only while the host lattice (for an
argyrodite: the PS4 units, the halide and the free S2- on their sites) stays in place. A potential
with a hole can let the framework melt or transform at a temperature where the real material is a
solid; the mobile ions then diffuse through a liquid or a collapsed structure, fast and with a
meaningless activation energy. Issue 16's first validation runs did exactly this unnoticed: the
framework atoms moved 2-5 Angstrom in 30 ps at 600 K while the potential energy fell by 60 meV/atom.

Thermal vibration alone moves a framework ion by a large fraction of an Angstrom between two
snapshots (at 900 K the halide's RMS amplitude is ~0.5 A, and the difference of two independent
snapshots is sqrt(2) larger), so snapshots cannot tell vibration from drift. :func:`host_displacement_A`
therefore compares *time-averaged* positions: the run is cut into ``n_windows`` equal windows, each
host atom's mean position per window is taken, and the RMS (over the host units -- a PS4 ion or a
single anion, when the structure carries ``unit_id`` -- their common drift removed) of the change of
that mean from the first window is returned per window. In a crystal
the window means sit on the lattice sites (a tenth of an Angstrom or two apart); a framework that
melts, amorphises or exchanges sites moves them by Angstroms. ``md.max_host_displacement_A`` (the
config owns the limit and why) decides ``framework_stable``; the diffusion analysis leaves an
unstable temperature out of the Arrhenius fit.
"""

from __future__ import annotations

import numpy as np


def window_means(positions_A: np.ndarray, n_windows: int) -> np.ndarray:
    """Mean positions (n_windows, atoms, 3) over ``n_windows`` consecutive equal windows of the
    samples (the last few samples that do not fill a window are left out)."""
    x = np.asarray(positions_A, dtype=float)
    n = len(x) // n_windows
    if n < 1:
        raise ValueError(f"{len(x)} samples cannot be cut into {n_windows} windows")
    return x[: n * n_windows].reshape(n_windows, n, *x.shape[1:]).mean(axis=1)


def host_displacement_A(positions_A: np.ndarray, host: np.ndarray, n_windows: int = 10,
                        units: np.ndarray | None = None) -> np.ndarray:
    """Per window: RMS over the ``host`` atoms (bool mask) of the change of their window-mean
    position from the first window, the host's mean drift removed (Angstrom; the first entry is 0).
    ``positions_A``: (samples, atoms, 3), unwrapped. Zeros when there is no host atom.

    ``units`` (an integer id per atom, e.g. the structures' ``unit_id``: the P and four S of a PS4
    share one): the displacement of each unit is the mean of its atoms' and the RMS is over units,
    so a molecular ion that turns on its site (a PS4 reorientation moves its S by ~3 A) is not a
    framework change; only units leaving their sites are."""
    x = np.asarray(positions_A, dtype=float)
    host = np.asarray(host, dtype=bool)
    if x.ndim != 3 or x.shape[1] != host.size:
        raise ValueError(f"positions of shape {x.shape} do not match a host mask of {host.size} atoms")
    n_windows = max(1, min(int(n_windows), len(x)))
    if not host.any():
        return np.zeros(n_windows)
    m = window_means(x[:, host], n_windows)
    d = m - m[:1]                                              # (windows, host atoms, 3)
    if units is not None:
        u = np.asarray(units)
        if u.shape != host.shape:
            raise ValueError(f"{u.size} unit ids do not match {host.size} atoms")
        _, inv = np.unique(u[host], return_inverse=True)
        n = np.bincount(inv).astype(float)
        d = np.stack([np.stack([np.bincount(inv, weights=d[w, :, k]) / n for k in range(3)], axis=1)
                      for w in range(len(d))])                 # (windows, units, 3)
    d -= d.mean(axis=1, keepdims=True)
    return np.sqrt(np.mean(np.sum(d * d, axis=2), axis=1))
