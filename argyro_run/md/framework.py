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
that mean from the first window is returned per window. In a bicrystal (``grains``: the grain of
each atom, :func:`grain_ids`) each grain's own drift is removed instead: the grains may slide
along their boundary, a rigid shift of one grain against the other that is GB physics, not a
framework coming apart. In a crystal
the window means sit on the lattice sites (a tenth of an Angstrom or two apart); a framework that
melts, amorphises or exchanges sites moves them by Angstroms. :func:`check_framework` is the one
rule of MD runs and of the learning loop's explorations: unstable when any window passes
``md.max_host_displacement_A`` (the config owns the limit and why); the diffusion analysis leaves an
unstable temperature out of the Arrhenius fit, the learning loop labels where it happened.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def window_means(positions_A: np.ndarray, n_windows: int) -> np.ndarray:
    """Mean positions (n_windows, atoms, 3) over ``n_windows`` consecutive equal windows of the
    samples (the last few samples that do not fill a window are left out)."""
    x = np.asarray(positions_A, dtype=float)
    n = len(x) // n_windows
    if n < 1:
        raise ValueError(f"{len(x)} samples cannot be cut into {n_windows} windows")
    return x[: n * n_windows].reshape(n_windows, n, *x.shape[1:]).mean(axis=1)


MAX_WINDOWS = 10   # windows of a run; each holds at least 2 samples (:func:`n_windows_for`)


def n_windows_for(samples: int, max_windows: int = MAX_WINDOWS) -> int:
    """Windows for ``samples`` samples: ``max_windows``, fewer when a window would hold < 2 samples."""
    return max(1, min(int(max_windows), int(samples) // 2))


def grain_ids(atoms) -> np.ndarray | None:
    """The grain of each atom of a bicrystal: the builder's ``grain_id`` array (``structures/gb.py``)
    when it is there, else from ``info`` ``gb_plane_1_z_A``, ``gb_plane_2_z_A`` (boundary planes normal
    to z, periodic with the cell's z length): 1 between the two planes, 0 outside; None for any
    other structure."""
    info = atoms.info
    if "grain_id" in atoms.arrays and "gb_plane_1_z_A" in info:
        return np.asarray(atoms.arrays["grain_id"]).astype(np.int64)
    if "gb_plane_1_z_A" not in info or "gb_plane_2_z_A" not in info:
        return None
    period = float(atoms.cell[2, 2])
    lo, hi = sorted((float(info["gb_plane_1_z_A"]) % period, float(info["gb_plane_2_z_A"]) % period))
    z = np.mod(np.asarray(atoms.positions, dtype=float)[:, 2], period)
    return ((z >= lo) & (z < hi)).astype(np.int64)


def _unit_displacements(x: np.ndarray, host: np.ndarray, n_windows: int, units: np.ndarray | None,
                        grains: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(windows, units, 3) change of each host unit's window-mean position from the first window,
    the mean over the units (over each grain's units, with ``grains``) removed; and the atom index
    that stands for each unit (its first)."""
    m = window_means(x[:, host], n_windows)
    d = m - m[:1]                                              # (windows, host atoms, 3)
    atoms = np.flatnonzero(host)
    if units is not None:
        u = np.asarray(units)
        if u.shape != host.shape:
            raise ValueError(f"{u.size} unit ids do not match {host.size} atoms")
        _, first, inv = np.unique(u[host], return_index=True, return_inverse=True)
        n = np.bincount(inv).astype(float)
        d = np.stack([np.stack([np.bincount(inv, weights=d[w, :, k]) / n for k in range(3)], axis=1)
                      for w in range(len(d))])                 # (windows, units, 3)
        atoms = atoms[first]
    if grains is None:
        return d - d.mean(axis=1, keepdims=True), atoms
    g = np.asarray(grains)
    if g.shape != host.shape:
        raise ValueError(f"{g.size} grain ids do not match {host.size} atoms")
    g = g[atoms]
    for k in np.unique(g):
        d[:, g == k] -= d[:, g == k].mean(axis=1, keepdims=True)
    return d, atoms


def host_displacement_A(positions_A: np.ndarray, host: np.ndarray, n_windows: int = MAX_WINDOWS,
                        units: np.ndarray | None = None, grains: np.ndarray | None = None) -> np.ndarray:
    """Per window: RMS over the ``host`` atoms (bool mask) of the change of their window-mean
    position from the first window, the host's mean drift removed (Angstrom; the first entry is 0).
    ``positions_A``: (samples, atoms, 3), unwrapped. Zeros when there is no host atom.

    ``units`` (an integer id per atom, e.g. the structures' ``unit_id``: the P and four S of a PS4
    share one): the displacement of each unit is the mean of its atoms' and the RMS is over units,
    so a molecular ion that turns on its site (a PS4 reorientation moves its S by ~3 A) is not a
    framework change; only units leaving their sites are. ``grains`` (:func:`grain_ids`): each
    grain's mean drift is removed on its own (grain sliding is not a framework change)."""
    x, host, n_windows = _checked(positions_A, host, n_windows)
    if not host.any():
        return np.zeros(n_windows)
    return _rms(_unit_displacements(x, host, n_windows, units, grains)[0])


def _rms(d: np.ndarray) -> np.ndarray:
    """Per window: the RMS over the units of their (windows, units, 3) displacements."""
    return np.sqrt(np.mean(np.sum(d * d, axis=2), axis=1))


def _checked(positions_A, host, n_windows) -> tuple[np.ndarray, np.ndarray, int]:
    x = np.asarray(positions_A, dtype=float)
    host = np.asarray(host, dtype=bool)
    if x.ndim != 3 or x.shape[1] != host.size:
        raise ValueError(f"positions of shape {x.shape} do not match a host mask of {host.size} atoms")
    return x, host, max(1, min(int(n_windows), len(x)))


@dataclass(frozen=True)
class FrameworkCheck:
    """The verdict on one run (MD or exploration): ``displacement_A`` per window
    (:func:`host_displacement_A`), unstable from the first window beyond ``limit_A`` on."""

    displacement_A: np.ndarray
    limit_A: float
    first_over: int | None = None     # first window beyond the limit
    centre: int | None = None         # the host atom (a unit's first atom) that had moved most by then

    @property
    def stable(self) -> bool:
        return self.first_over is None

    @property
    def n_windows(self) -> int:
        return len(self.displacement_A)

    @property
    def worst_A(self) -> float:
        return float(np.max(self.displacement_A)) if len(self.displacement_A) else 0.0


def check_framework(positions_A: np.ndarray, host: np.ndarray, limit_A: float, units: np.ndarray | None = None,
                    max_windows: int = MAX_WINDOWS, grains: np.ndarray | None = None) -> FrameworkCheck:
    """The one rule of MD runs and explorations: cut the samples into :func:`n_windows_for` windows;
    the framework is unstable when any window's :func:`host_displacement_A` exceeds ``limit_A``
    (``md.max_host_displacement_A``). Never unstable without host atoms or a limit."""
    x, host, n_windows = _checked(positions_A, host, n_windows_for(len(positions_A), max_windows))
    if not host.any() or len(x) < 2:
        return FrameworkCheck(np.zeros(n_windows), float(limit_A))
    d, atoms = _unit_displacements(x, host, n_windows, units, grains)
    disp = _rms(d)
    over = np.flatnonzero(disp > limit_A) if limit_A else np.zeros(0, int)
    if not len(over):
        return FrameworkCheck(disp, float(limit_A))
    w = int(over[0])
    return FrameworkCheck(disp, float(limit_A), w, int(atoms[np.argmax(np.sum(d[w] ** 2, axis=1))]))
