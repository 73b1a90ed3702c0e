"""``argyro-run mtp train POT TRAIN -o OUT.mtp``: argument handling and the run (parsing and
printing only; the fit is :func:`argyro_run.potentials.train.train`).

Like MLIP's ``mlp train``, a potential without a species line trains on ``.cfg`` files as they are
(MTP types); an extxyz training set needs element names (``--species``).

Runs under ``mpiexec -n N argyro-run mtp train ...`` too: configurations are shared over the ranks,
rank 0 writes the output."""

from __future__ import annotations

from pathlib import Path

from argyro_run.errors import UserError


def add_arguments(q) -> None:
    q.add_argument("potential", help="starting potential (.mtp); its coefficients are the warm start")
    q.add_argument("training_set", help="labelled configurations: MLIP .cfg or anything ASE reads (extxyz)")
    q.add_argument("-o", "--output", required=True, help="trained potential (.mtp)")
    q.add_argument("--max-iter", type=int, default=100, help="L-BFGS iterations on the radial coefficients "
                   "(0: linear least squares only; default 100)")
    q.add_argument("--energy-weight", type=float, default=1.0, help="weight of the energy per atom (default 1)")
    q.add_argument("--force-weight", type=float, default=0.01, help="weight of the forces (default 0.01)")
    q.add_argument("--stress-weight", type=float, default=0.001, help="weight of the stress in GPa (default 0.001)")
    q.add_argument("--validation-fraction", type=float, default=0.0,
                   help="fraction of the configurations held out for validation (default 0)")
    q.add_argument("--seed", type=int, default=0, help="seed of the validation split")
    q.add_argument("--species", default=None,
                   help="comma-separated elements per MTP type, for potentials that do not name them; needed only "
                        "for extxyz training sets (.cfg files work with MLIP's types as they are)")


def run(args) -> int:
    from argyro_run._stack import MPI
    from argyro_run.cli.mtp_tools import read_images, read_potential, require_elements
    from argyro_run.potentials.mtp import write_mtp
    from argyro_run.potentials.train import train

    comm = MPI.COMM_WORLD
    pot, data, out = Path(args.potential), Path(args.training_set), Path(args.output)
    for p, what in ((pot, "potential"), (data, "training set")):
        if not p.is_file():
            raise UserError(f"{what} {p}: no such file")
    if args.max_iter < 0:
        raise UserError(f"--max-iter: must be >= 0 (got {args.max_iter})")
    if not 0.0 <= args.validation_fraction < 1.0:
        raise UserError(f"--validation-fraction: must be in [0, 1) (got {args.validation_fraction})")
    mtp = read_potential(str(pot), args.species)
    require_elements(mtp, pot, [data])
    images = read_images(data, mtp.species, what="training set")
    try:
        new, report = train(mtp, images, energy_weight=args.energy_weight, force_weight=args.force_weight,
                            stress_weight=args.stress_weight, max_iterations=args.max_iter, seed=args.seed,
                            comm=comm, validation_fraction=args.validation_fraction,
                            log=print if comm.Get_rank() == 0 else (lambda *_: None))
    except ValueError as exc:
        raise UserError(f"training set {data}: {exc}") from None
    if comm.Get_rank() == 0:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_mtp(new, out)
        te = report.train_errors
        print(f"{report.n_train} training configurations, {report.iterations} iterations, {report.wall_s:.1f} s "
              f"({report.message or 'linear least squares only'})")
        print(f"train RMSE: energy {te['rmse_energy_meV_per_atom']:.3f} meV/atom, force "
              f"{te['rmse_force_eV_per_A']:.4f} eV/A, stress {te['rmse_stress_GPa']:.4f} GPa")
        if report.n_validation:
            ve = report.validation_errors
            print(f"validation RMSE ({report.n_validation} configurations): energy "
                  f"{ve['rmse_energy_meV_per_atom']:.3f} meV/atom, force {ve['rmse_force_eV_per_A']:.4f} eV/A, "
                  f"stress {ve['rmse_stress_GPa']:.4f} GPa")
        print(f"wrote {out}")
    return 0
