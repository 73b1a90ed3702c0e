"""Training of moment tensor potentials (variable projection: exact linear least squares for the
linear coefficients, L-BFGS for the radial coefficients).

Loss (``n`` training images; image c with N_c atoms, energy weight e_c = ``info['energy_weight']``
(default 1), per-atom force weights f_j = ``arrays['force_weight']`` (default 1))::

    L = 1/n sum_c [ energy_weight * e_c * ((E_c - E_c^ref) / N_c)^2                (eV/atom)^2
                  + force_weight / N_c * sum_j f_j |F_j - F_j^ref|^2               (eV/A)^2
                  + stress_weight * e_c * sum_v (S_cv - S_cv^ref)^2 ]              GPa^2, periodic
                                                                                   images with a
                                                                                   stress label
The energy is linear in theta = (species_coeffs, moment_coeffs); for fixed radial coefficients c
the optimal theta(c) solves the normal equations (scaled, pseudo-inverse for the directions the data
do not determine, e.g. species coefficients of a fixed composition: the solution is the
minimum-norm change, in column-scaled coordinates, from the given coefficients, so a warm start
keeps what the data cannot see). The projected loss
L(c) = L(c, theta(c)) is minimised by L-BFGS-B with its exact gradient (envelope theorem: dL/dc at
fixed theta = theta(c)); the force and stress parts of that gradient are the c-derivative of a
directional derivative of the energy along the weighted residuals (``moments``), so one
iteration costs about two energy+force evaluations. MPI: configurations are dealt round robin over
``comm``; per-configuration contributions are gathered and summed in image order, so any number of
ranks gives bit-identical results.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from argyro_run.potentials.moments import Frame, MomentTables, atom_types

log_ = logging.getLogger(__name__)

EV_PER_A3_TO_GPA = 160.21766208
MOMENT_CACHE_BYTES = 2 * 1024**3     # per rank; above it moments are recomputed in the gradient pass


@dataclass
class TrainReport:
    """What a training run did and how well the result fits."""

    iterations: int = 0
    evaluations: int = 0
    loss_history: list = field(default_factory=list)   # projected loss after the initial LLS and each iteration
    converged: bool = False
    message: str = ""
    wall_s: float = 0.0
    n_train: int = 0
    n_validation: int = 0
    train_errors: dict = field(default_factory=dict)
    validation_errors: dict = field(default_factory=dict)


@dataclass
class _Image:
    frame: Frame
    energy: float
    forces: np.ndarray
    stress: np.ndarray | None      # Voigt, eV/A^3
    energy_weight: float
    force_weight: np.ndarray


def _labels(atoms, index: int):
    calc = atoms.calc
    if calc is None:
        raise ValueError(f"training image {index} has no labels (atoms.calc is None)")
    results = getattr(calc, "results", {})
    if "energy" not in results or "forces" not in results:
        raise ValueError(f"training image {index} lacks an energy or forces label")
    energy = float(results["energy"])
    forces = np.asarray(results["forces"], dtype=float).reshape(len(atoms), 3)
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (3, 3):
            stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        stress = stress.reshape(6)
    return energy, forces, stress


def _prepare(mtp, basis: MomentTables, atoms, index: int) -> _Image:
    energy, forces, stress = _labels(atoms, index)
    frame = Frame(basis, atoms, atom_types(mtp, atoms))
    if not frame.pbc:
        stress = None
    fw = atoms.arrays.get("force_weight")
    fw = np.ones(len(atoms)) if fw is None else np.asarray(fw, dtype=float).reshape(len(atoms))
    return _Image(frame, energy, forces, stress, float(atoms.info.get("energy_weight", 1.0)), fw)


def _gathered(comm, local: dict[int, np.ndarray], n: int) -> list[np.ndarray]:
    """Per-image arrays of all ranks in image order (rank-count independent)."""
    if comm is not None and comm.Get_size() > 1:
        merged = {}
        for part in comm.allgather(local):
            merged.update(part)
    else:
        merged = local
    return [merged[k] for k in range(n)]


def _gather_stack(comm, local: dict[int, np.ndarray], n: int) -> np.ndarray:
    """Per-image arrays of all ranks stacked in image order."""
    return np.concatenate(_gathered(comm, local, n))


def _gather_sum(comm, local: dict[int, np.ndarray], n: int) -> np.ndarray:
    """Sum of per-image arrays over all ranks, added in image order."""
    return np.sum(np.stack(_gathered(comm, local, n)), axis=0)


class _Problem:
    """Projected loss and gradient over the local share of the training images."""

    def __init__(self, mtp, basis: MomentTables, images: list[_Image], indices: list[int], n_total: int, comm,
                 energy_weight: float, force_weight: float, stress_weight: float):
        self.mtp, self.basis, self.images, self.indices = mtp, basis, images, indices
        self.n_total, self.comm = n_total, comm
        self.wE, self.wF, self.wS = energy_weight, force_weight, stress_weight
        self.evaluations = 0
        self._last = None
        # keep per-image moment Jacobians between the two passes of an evaluation if they fit
        per_image = [8 * (im.frame.n * basis.n_alpha * (basis.nb + 1) + im.frame.P * basis.nb * 3) for im in images]
        self.keep_moments = sum(per_image) <= MOMENT_CACHE_BYTES
        self.theta0 = np.concatenate([np.asarray(mtp.species_coeffs, float), np.asarray(mtp.moment_coeffs, float)])
        self.theta = self.theta0.copy()

    def _weighted_rows(self, img: _Image, e_row, f_rows, s_rows):
        """Rows A and targets y of sqrt-weighted residuals for one image."""
        n = img.frame.n
        rows, ys = [], []
        ce = np.sqrt(self.wE * img.energy_weight) / n
        if ce > 0:
            rows.append(ce * e_row[None, :])
            ys.append([ce * img.energy])
        cf = np.sqrt(self.wF * img.force_weight / n)
        if np.any(cf > 0):
            rows.append((cf[:, None, None] * f_rows).reshape(3 * n, -1))
            ys.append((cf[:, None] * img.forces).ravel())
        if s_rows is not None and img.stress is not None:
            cs = np.sqrt(self.wS * img.energy_weight) * EV_PER_A3_TO_GPA
            if cs > 0:
                rows.append(cs * s_rows)
                ys.append(cs * img.stress)
        if not rows:
            return np.zeros((0, self.basis.n_lin)), np.zeros(0)
        return np.concatenate(rows), np.concatenate([np.asarray(y, float) for y in ys])

    def solve_linear(self, c: np.ndarray):
        """theta(c) by least squares (QR of each image's weighted rows, then of the stacked R
        factors: no squared condition number); caches moments and design rows per image."""
        nl = self.basis.n_lin
        local, self.cache = {}, {}
        for k, img in zip(self.indices, self.images):
            m, dv, M, J = img.frame.moments(self.basis, c)
            e_row, f_rows, s_rows = img.frame.design(self.basis, M, J, dv)
            self.cache[k] = (M, J, dv, e_row, f_rows, s_rows) if self.keep_moments else (None, None, None, e_row,
                                                                                          f_rows, s_rows)
            A, y = self._weighted_rows(img, e_row, f_rows, s_rows)
            local[k] = _r_factor(np.column_stack([A, y]), nl + 1)
        total = _gather_stack(self.comm, local, self.n_total)
        R = _r_factor(total, nl + 1)
        # minimum-norm change from the starting coefficients: what the data do not determine
        # (e.g. species coefficients of a single composition) keeps its warm-start value
        self.theta = self.theta0 + _lstsq_from_r(R[:, :nl], R[:, nl] - R[:, :nl] @ self.theta0)
        return self.theta

    def loss_and_gradient(self, c_flat: np.ndarray):
        if self._last is not None and np.array_equal(self._last[0], c_flat):
            return self._last[1], self._last[2].copy()
        self.evaluations += 1
        bs = self.basis
        c = c_flat.reshape(bs.S, bs.S, bs.R, bs.B)
        theta = self.solve_linear(c)
        mc = theta[bs.S:]
        local = {}
        for k, img in zip(self.indices, self.images):
            M, J, dv, e_row, f_rows, s_rows = self.cache[k]
            fr = img.frame
            if M is None:
                _, dv, M, J = fr.moments(bs, c)
            n = fr.n
            dE = e_row @ theta - img.energy
            aE = self.wE * img.energy_weight
            loss = aE * (dE / n) ** 2
            dF = f_rows @ theta - img.forces
            fw = self.wF * img.force_weight / n
            loss += np.sum(fw[:, None] * dF ** 2)
            q = 2.0 * fw[:, None] * dF
            w_pairs = -(q[fr.j] - q[fr.i])
            if s_rows is not None and img.stress is not None and self.wS * img.energy_weight > 0:
                dS = (s_rows @ theta - img.stress) * EV_PER_A3_TO_GPA
                aS = self.wS * img.energy_weight
                loss += aS * np.sum(dS ** 2)
                sig = 2.0 * aS * dS * EV_PER_A3_TO_GPA / fr.volume
                Wm = np.array([[sig[0], 0.5 * sig[5], 0.5 * sig[4]],
                               [0.5 * sig[5], sig[1], 0.5 * sig[3]],
                               [0.5 * sig[4], 0.5 * sig[3], sig[2]]])
                w_pairs = w_pairs + fr.r @ Wm
            g = fr.radial_gradient(bs, c, mc, M, J, dv, 2.0 * aE * dE / n ** 2, w_pairs)
            local[k] = np.concatenate([[loss], g.ravel()])
        total = _gather_sum(self.comm, local, self.n_total) / self.n_total
        self.cache = {}
        self._last = (np.array(c_flat, copy=True), float(total[0]), total[1:].copy())
        return float(total[0]), total[1:]


def _r_factor(Ay: np.ndarray, width: int) -> np.ndarray:
    """The (width x width) R factor of a QR decomposition (zero-padded for short inputs)."""
    import scipy.linalg

    R = scipy.linalg.qr(Ay, mode="r", check_finite=False)[0] if len(Ay) else np.zeros((0, width))
    out = np.zeros((width, width))
    out[:min(len(R), width)] = R[:width]
    return out


def _lstsq_from_r(R: np.ndarray, z: np.ndarray, rcond: float = 1e-12) -> np.ndarray:
    """Least-squares solution of R x = z with column scaling; directions whose scaled singular
    value is below ``rcond`` times the largest are left at zero (minimum norm in scaled units)."""
    d = np.linalg.norm(R, axis=0)
    s = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0)
    U, w, Vt = np.linalg.svd(R * s[None, :], full_matrices=False)
    keep = w > rcond * max(w.max(initial=0.0), 1e-300)
    x = Vt[keep].T @ ((U[:, keep].T @ z) / w[keep])
    return x * s


def _with(mtp, c: np.ndarray, theta: np.ndarray, S: int):
    new = copy.deepcopy(mtp)
    new.radial_coeffs = np.array(c, dtype=float).reshape(np.shape(mtp.radial_coeffs))
    new.species_coeffs = np.array(theta[:S], dtype=float)
    new.moment_coeffs = np.array(theta[S:], dtype=float)
    return new


def _emit(log, msg: str, *args) -> None:
    if log is None:
        log_.info(msg, *args)
    elif isinstance(log, logging.Logger):
        log.info(msg, *args)
    else:
        log(msg % args if args else msg)


def train(mtp, images, *, energy_weight: float = 1.0, force_weight: float = 0.01, stress_weight: float = 0.001,
          max_iterations: int = 100, seed: int = 0, comm=None, validation_fraction: float = 0.0, log=None,
          tolerance: float = 1e-12):
    """Fit ``mtp`` (warm start from its coefficients) to the labelled ``images``.

    Returns ``(new_mtp, TrainReport)`` on every rank of ``comm`` (identical). ``max_iterations``
    L-BFGS iterations on the radial coefficients (0: linear least squares only); the run stops
    early when the relative loss decrease of an iteration falls below ``tolerance``.
    ``validation_fraction`` of the images (seeded choice) are held out and scored.
    """
    t0 = time.perf_counter()
    images = list(images)
    if not images:
        raise ValueError("train: no training images")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    if max_iterations < 0:
        raise ValueError(f"max_iterations must be >= 0, got {max_iterations}")
    n_val = int(round(validation_fraction * len(images)))
    if validation_fraction > 0 and len(images) > 1:
        n_val = min(max(n_val, 1), len(images) - 1)
    order = np.random.default_rng(seed).permutation(len(images)) if n_val else np.arange(len(images))
    val_idx = sorted(order[:n_val].tolist())
    train_idx = sorted(order[n_val:].tolist())
    train_images = [images[k] for k in train_idx]
    val_images = [images[k] for k in val_idx]

    basis = MomentTables.of(mtp)
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    mine = list(range(rank, len(train_images), size))
    prepared = [_prepare(mtp, basis, train_images[k], train_idx[k]) for k in mine]
    problem = _Problem(mtp, basis, prepared, mine, len(train_images), comm, energy_weight, force_weight,
                       stress_weight)
    c0 = np.asarray(mtp.radial_coeffs, dtype=float).ravel().copy()
    report = TrainReport(n_train=len(train_images), n_validation=len(val_images))

    loss0, _ = problem.loss_and_gradient(c0)
    report.loss_history.append(loss0)
    _emit(log, "train: %d images (%d validation), %d linear + %d radial parameters, loss after LLS %.6g",
          len(train_images), len(val_images), basis.n_lin, basis.n_radial, loss0)
    c = c0
    if max_iterations > 0:
        from scipy.optimize import minimize

        def callback(intermediate_result):
            report.loss_history.append(float(intermediate_result.fun))
            it = len(report.loss_history) - 1
            if it % 10 == 0:
                _emit(log, "train: iteration %d loss %.6g", it, intermediate_result.fun)

        res = minimize(problem.loss_and_gradient, c0, jac=True, method="L-BFGS-B", callback=callback,
                       options={"maxiter": int(max_iterations), "ftol": float(tolerance), "gtol": 0.0,
                                "maxcor": 30, "maxls": 40})
        c = res.x
        report.iterations = int(res.nit)
        report.converged = bool(res.success) and res.nit < max_iterations
        report.message = str(res.message)
    theta = problem.solve_linear(c.reshape(np.shape(mtp.radial_coeffs)))
    local = {}
    for k, img in zip(problem.indices, problem.images):
        _, _, _, e_row, f_rows, s_rows = problem.cache[k]
        local[k] = _error_sums(e_row @ theta, f_rows @ theta, None if s_rows is None else s_rows @ theta, img)
    problem.cache = {}
    report.train_errors = _rmse_dict(_gather_sum(comm, local, len(train_images)), len(train_images))
    report.evaluations = problem.evaluations
    new = _with(mtp, c, theta, basis.S)
    if val_images:
        report.validation_errors = errors(new, val_images, comm=comm)
    report.wall_s = time.perf_counter() - t0
    _emit(log, "train: %d iterations, %.1f s; train RMSE %.3g meV/atom %.3g eV/A%s", report.iterations,
          report.wall_s, report.train_errors["rmse_energy_meV_per_atom"], report.train_errors["rmse_force_eV_per_A"],
          "" if not val_images else "; validation RMSE %.3g meV/atom %.3g eV/A" % (
              report.validation_errors["rmse_energy_meV_per_atom"], report.validation_errors["rmse_force_eV_per_A"]))
    return new, report


def predict(mtp, atoms) -> dict:
    """Energy (eV), forces (eV/A) and stress (eV/A^3, Voigt, ASE sign; None if not periodic) of
    ``atoms`` with the training engine (the same numbers as ``evaluate.evaluate``)."""
    basis = MomentTables.of(mtp)
    frame = Frame(basis, atoms, atom_types(mtp, atoms))
    theta = np.concatenate([np.asarray(mtp.species_coeffs, float), np.asarray(mtp.moment_coeffs, float)])
    _, dv, M, J = frame.moments(basis, np.asarray(mtp.radial_coeffs, float))
    e_row, f_rows, s_rows = frame.design(basis, M, J, dv)
    return {"energy_eV": float(e_row @ theta), "forces_eV_per_A": f_rows @ theta,
            "stress_eV_per_A3": None if s_rows is None else s_rows @ theta}


def _error_sums(energy_pred, forces_pred, stress_pred, img: _Image) -> np.ndarray:
    """Squared-error sums and counts (energy, force, stress) of one image."""
    sums = np.zeros(6)
    n = img.frame.n
    if img.energy_weight > 0:
        sums[0] = ((energy_pred - img.energy) / n) ** 2
        sums[1] = 1
    mask = img.force_weight > 0
    sums[2] = np.sum((forces_pred[mask] - img.forces[mask]) ** 2)
    sums[3] = 3 * mask.sum()
    if img.energy_weight > 0 and img.stress is not None and stress_pred is not None:
        sums[4] = np.sum(((stress_pred - img.stress) * EV_PER_A3_TO_GPA) ** 2)
        sums[5] = 6
    return sums


def _rmse_dict(tot: np.ndarray, n_images: int) -> dict:
    def rms(s, n):
        return float(np.sqrt(s / n)) if n > 0 else float("nan")

    return {"rmse_energy_meV_per_atom": 1000.0 * rms(tot[0], tot[1]), "rmse_force_eV_per_A": rms(tot[2], tot[3]),
            "rmse_stress_GPa": rms(tot[4], tot[5]), "n": n_images}


def errors(mtp, images, *, comm=None) -> dict:
    """Root-mean-square errors of ``mtp`` against the labels of ``images``: energy per atom (meV/atom,
    images with energy_weight > 0), force components (eV/A, atoms with force_weight > 0), stress
    components (GPa, periodic images with a stress label and energy_weight > 0; NaN if none).
    ``n`` is the number of images. With ``comm`` the images are shared over its ranks."""
    images = list(images)
    basis = MomentTables.of(mtp)
    theta = np.concatenate([np.asarray(mtp.species_coeffs, float), np.asarray(mtp.moment_coeffs, float)])
    c = np.asarray(mtp.radial_coeffs, float)
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    local = {}
    for k in range(rank, len(images), size):
        img = _prepare(mtp, basis, images[k], k)
        _, dv, M, J = img.frame.moments(basis, c)
        e_row, f_rows, s_rows = img.frame.design(basis, M, J, dv)
        local[k] = _error_sums(e_row @ theta, f_rows @ theta, None if s_rows is None else s_rows @ theta, img)
    tot = _gather_sum(comm, local, len(images)) if images else np.zeros(6)
    return _rmse_dict(tot, len(images))
