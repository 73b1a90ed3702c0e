"""``argyro-run mtp init | eval | grade``: argument handling and printing (the work is in
``mtp``, ``evaluate``, ``grades``, ``cfg``).

Like MLIP's ``mlp``, a potential without a species line works on ``.cfg`` files as they are: atoms
are MTP types 0..n-1 in and out. Element names (the potential's species line or ``--species``)
are needed only where a format has no types: extxyz and other ASE formats, and LAMMPS."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from argyro_run.errors import UserError


def parse_species(text: str, option: str = "--species") -> list[str]:
    """Element symbols of a comma-separated option value (one per MTP type, in order)."""
    from ase.data import chemical_symbols

    out = [s.strip() for s in str(text).split(",") if s.strip()]
    bad = [s for s in out if s not in chemical_symbols[1:]]
    if not out or bad:
        raise UserError(f"{option}: comma-separated element symbols, e.g. Li,P,S,Cl (not {bad or text!r})")
    if len(set(out)) != len(out):
        raise UserError(f"{option}: elements must be distinct (got {out})")
    return out


def read_potential(path: str, species_opt: str | None):
    """The .mtp of a command line (UserError if missing or unreadable), with --species applied."""
    from argyro_run.potentials.mtp import read_mtp

    p = Path(path)
    if not p.is_file():
        raise UserError(f"potential {p}: no such file")
    try:
        mtp = read_mtp(p)
    except ValueError as e:
        raise UserError(f"potential: {e}") from None
    if species_opt:
        sp = parse_species(species_opt)
        if len(sp) != mtp.species_count:
            raise UserError(f"--species: {len(sp)} elements given, the potential has {mtp.species_count} species")
        mtp.species = sp
    return mtp


def require_elements(mtp, potential, configurations=(), output=None, engine=None) -> None:
    """``UserError`` naming what needs element names, when the potential has none (MLIP's types
    only) and a file format or the engine needs them; nothing when all is ``.cfg`` and Python."""
    if mtp.species:
        return
    needs = [f"configurations {p} (a {Path(p).suffix or 'non-.cfg'} file names elements, not MTP types)"
             for p in configurations if Path(p).suffix != ".cfg"]
    if output is not None and Path(output).suffix != ".cfg":
        needs.append(f"-o {output} (only .cfg output keeps MTP types)")
    if engine == "lammps":
        needs.append("--engine lammps (LAMMPS maps atom types to the potential by element)")
    if needs:
        raise UserError(f"potential {potential} names no elements (MLIP types 0..{mtp.species_count - 1}), but "
                        f"{'; '.join(needs)} needs them: give --species with one element per MTP type, e.g. "
                        f"--species {','.join(['Li', 'P', 'S', 'Cl', 'Br', 'I'][:mtp.species_count]) or 'Li'}, "
                        "or use .cfg files (and --engine python)")


def _read_images(path: str, species):
    p = Path(path)
    if not p.is_file():
        raise UserError(f"configurations {p}: no such file")
    try:
        if p.suffix == ".cfg":
            from argyro_run.potentials.cfg import read_cfg

            images = read_cfg(p, species=species)
        else:
            import ase.io

            images = ase.io.read(p, ":")
    except Exception as e:  # noqa: BLE001 - any parse error is the user's file
        raise UserError(f"configurations {p}: cannot read ({e})") from None
    if not images:
        raise UserError(f"configurations {p}: no configurations")
    return images


def _write_images(path: str, images, species) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".cfg":
        from argyro_run.potentials.cfg import write_cfg

        write_cfg(p, images, species=species)
    else:
        import ase.io

        tmp = p.with_name(p.name + ".tmp" + p.suffix)
        ase.io.write(tmp, images, format="extxyz" if p.suffix in (".xyz", ".extxyz") else None)
        tmp.replace(p)


def add_init(q) -> None:
    q.add_argument("--level", type=int, required=True, help="MTP level: even, 2..28")
    q.add_argument("--species", required=True, help="comma separated elements in MTP type order, e.g. Li,P,S,Cl")
    q.add_argument("--cutoff", type=float, default=5.0, help="max_dist in Angstrom (default 5)")
    q.add_argument("--min-dist", type=float, default=1.5, help="min_dist in Angstrom (default 1.5)")
    q.add_argument("--radial-basis-size", type=int, default=8, help="Chebyshev polynomials (default 8)")
    q.add_argument("--seed", type=int, default=0, help="seed of the random radial coefficients")
    q.add_argument("-o", "--output", required=True, help="output .mtp file")
    q.set_defaults(func=run_init)


def run_init(args) -> int:
    from argyro_run.potentials.mtp import write_mtp, init_mtp

    if args.level not in range(2, 29, 2):
        raise UserError(f"--level: {args.level} is not an MTP level; allowed: even numbers 2..28")
    species = parse_species(args.species)
    mtp = init_mtp(args.level, species, max_dist_A=args.cutoff, min_dist_A=args.min_dist,
                   radial_basis_size=args.radial_basis_size, seed=args.seed)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_mtp(mtp, out)
    print(f"level-{args.level} MTP for {','.join(species)}: {mtp.alpha_moments_count} moments, "
          f"{mtp.n_scalar} basis functions, {mtp.radial_funcs_count} radial functions -> {out}")
    return 0


def add_eval(q) -> None:
    q.add_argument("potential", help=".mtp file")
    q.add_argument("configurations", help=".cfg (MLIP) or anything ASE reads (extxyz)")
    q.add_argument("-o", "--output", required=True, help="output: .cfg or extxyz (with energies, forces, stress)")
    q.add_argument("--engine", choices=["python", "lammps"], default="python",
                   help="python (numpy evaluator) or lammps (the pair_style mtp plugin)")
    q.add_argument("--active-set", default=None, help="active-set file: also per-atom extrapolation grades")
    q.add_argument("--species", default=None, help="elements per MTP type (comma-separated), for potentials without "
                                                   "a species line; needed "
                   "only for extxyz files or --engine lammps")
    q.set_defaults(func=run_eval)


def _labelled_copy(atoms, r: dict):
    from ase.calculators.singlepoint import SinglePointCalculator

    b = atoms.copy()
    kw = {"energy": r["energy_eV"], "forces": np.asarray(r["forces_eV_per_A"]),
          "energies": np.asarray(r["energies_eV"])}
    if r.get("stress_eV_per_A3") is not None:
        kw["stress"] = np.asarray(r["stress_eV_per_A3"])
    b.calc = SinglePointCalculator(b, **kw)
    if r.get("grades") is not None:
        b.arrays["grade"] = np.asarray(r["grades"], dtype=float)
    return b


def run_eval(args) -> int:
    mtp = read_potential(args.potential, args.species)
    require_elements(mtp, args.potential, [args.configurations], args.output, args.engine)
    images = _read_images(args.configurations, mtp.species)
    active = None
    if args.active_set:
        from argyro_run.potentials.grades import load_active_set

        try:
            active = load_active_set(args.active_set)
        except (OSError, ValueError) as e:
            raise UserError(f"--active-set: {e}") from None
    out = []
    if args.engine == "python":
        from argyro_run.potentials.evaluate import evaluate
        from argyro_run.potentials.grades import grade

        for a in images:
            try:
                r = evaluate(mtp, a)
            except ValueError as e:
                raise UserError(f"configurations {args.configurations}: {e}") from None
            if active is not None:
                r["grades"] = grade(mtp, active, a)[1]
            out.append(_labelled_copy(a, r))
    else:
        import tempfile

        from argyro_run.potentials.grades import save_active_set
        from argyro_run.potentials.lammps_eval import lammps_evaluate
        from argyro_run.potentials.mtp import write_mtp

        with tempfile.TemporaryDirectory() as d:
            pot = Path(d) / "pot.mtp"
            write_mtp(mtp, pot)
            als = None
            if active is not None:
                als = Path(d) / "pot.als"
                save_active_set(als, active)
            for a in images:
                out.append(_labelled_copy(a, lammps_evaluate(pot, mtp.species, a, active_set=als)))
    _write_images(args.output, out, mtp.species)
    e = np.array([b.get_potential_energy() / len(b) for b in out])
    print(f"{len(out)} configuration(s) evaluated ({args.engine}); energy per atom {e.min():.6f} .. {e.max():.6f} eV"
          + (f"; max grade {max(float(b.arrays['grade'].max()) for b in out):.4g}" if active is not None else "")
          + f" -> {args.output}")
    return 0


def add_grade(q) -> None:
    q.add_argument("potential", help=".mtp file")
    q.add_argument("training_set", help="configurations the active set is selected from (.cfg or extxyz)")
    q.add_argument("configurations", help="configurations to grade (.cfg or extxyz)")
    q.add_argument("-o", "--output", required=True, help="graded configurations (.cfg with nbh_grades, or extxyz)")
    q.add_argument("--mode", choices=["neighborhood", "configuration"], default="neighborhood",
                   help="MaxVol rows per atom (neighborhood, default) or per configuration")
    q.add_argument("--save-active-set", default=None, help="also write the active set to this file")
    q.add_argument("--species", default=None, help="elements per MTP type (comma-separated), for potentials "
                   "without a species line; needed only for extxyz files")
    q.set_defaults(func=run_grade)


def run_grade(args) -> int:
    from argyro_run.potentials.grades import grade, save_active_set, select_active_set

    mtp = read_potential(args.potential, args.species)
    require_elements(mtp, args.potential, [args.training_set, args.configurations], args.output)
    train = _read_images(args.training_set, mtp.species)
    images = _read_images(args.configurations, mtp.species)
    try:
        active = select_active_set(mtp, train, mode=args.mode)
    except ValueError as e:
        raise UserError(f"training set {args.training_set}: {e}") from None
    n_filled = int(np.sum(active.filled))
    out, gammas = [], []
    for a in images:
        g, per_atom = grade(mtp, active, a)
        b = a.copy()
        b.calc = a.calc
        b.arrays["grade"] = per_atom
        b.info["MV_grade"] = g
        out.append(b)
        gammas.append(g)
    _write_images(args.output, out, mtp.species)
    if args.save_active_set:
        save_active_set(args.save_active_set, active)
    gammas = np.array(gammas)
    print(f"active set: {n_filled}/{len(active.inverse)} rows from {len(train)} configuration(s) ({args.mode} mode)")
    print(f"{len(out)} configuration(s) graded: max grade {gammas.max():.4g}, median {np.median(gammas):.4g}; "
          f"{int(np.sum(gammas > 1.0 + 1e-9))} extrapolate (grade > 1) -> {args.output}")
    if n_filled < len(active.inverse):
        print(f"warning: the training set spans only {n_filled} of {len(active.inverse)} basis directions; "
              "grades along the others are huge")
    return 0
