"""``argyro-run mtp ...``: moment tensor potential tools (MLIP-compatible)."""

from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("mtp", help="moment tensor potentials: init, eval, train, grade, lammps-plugin")
    g = p.add_subparsers(dest="mtp_verb", metavar="MTP_VERB")
    p.set_defaults(func=lambda a: p.print_help() or 2)

    q = g.add_parser("init", help="write an untrained MTP of a level for given species")
    q.add_argument("--level", type=int, required=True)
    q.add_argument("--species", required=True, help="comma separated, e.g. Li,P,S,Cl")
    q.add_argument("--cutoff", type=float, default=5.0, help="max_dist in Angstrom")
    q.add_argument("--min-dist", type=float, default=1.5, help="min_dist in Angstrom")
    q.add_argument("--radial-basis-size", type=int, default=8)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("-o", "--output", required=True)
    q.set_defaults(func=not_built("mtp init", "MTP engine, issue 6"))

    q = g.add_parser("eval", help="energies, forces, stress (and grades) of configurations")
    q.add_argument("potential")
    q.add_argument("configurations", help=".cfg or extxyz")
    q.add_argument("-o", "--output", required=True)
    q.add_argument("--engine", choices=["python", "lammps"], default="python")
    q.set_defaults(func=not_built("mtp eval", "MTP engine, issue 6"))

    q = g.add_parser("train", help="fit a potential to a training set")
    from argyro_run.potentials import _train_cli

    _train_cli.add_arguments(q)
    q.set_defaults(func=_train_cli.run)

    q = g.add_parser("grade", help="extrapolation grades of configurations against a training set")
    q.add_argument("potential")
    q.add_argument("training_set")
    q.add_argument("configurations")
    q.add_argument("-o", "--output", required=True)
    q.set_defaults(func=not_built("mtp grade", "MTP engine, issue 6"))

    q = g.add_parser("lammps-plugin", help="print the path of the built LAMMPS pair_style mtp plugin")
    q.add_argument("--rebuild", action="store_true")
    from argyro_run.potentials.plugin import cli_lammps_plugin

    q.set_defaults(func=cli_lammps_plugin)
