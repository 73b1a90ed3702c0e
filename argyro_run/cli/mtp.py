"""``argyro-run mtp ...``: moment tensor potential tools (MLIP-compatible)."""


def register(sub):
    p = sub.add_parser("mtp", help="moment tensor potentials: init, eval, train, grade, export, lammps-plugin")
    g = p.add_subparsers(dest="mtp_verb", metavar="MTP_VERB")
    p.set_defaults(func=lambda a: p.print_help() or 2)

    from argyro_run.cli import mtp_tools

    mtp_tools.add_init(g.add_parser("init", help="write an untrained MTP of a level for given species"))
    mtp_tools.add_eval(g.add_parser("eval", help="energies, forces, stress (and grades) of configurations"))

    q = g.add_parser("train", help="fit a potential to a training set")
    from argyro_run.cli import mtp_train

    mtp_train.add_arguments(q)
    q.set_defaults(func=mtp_train.run)

    mtp_tools.add_grade(g.add_parser("grade", help="extrapolation grades of configurations against a training set"))

    q = g.add_parser("export", help="a learned potential, its active set and training set out of an archive")
    from argyro_run.cli import mtp_export

    mtp_export.add_arguments(q)

    q = g.add_parser("lammps-plugin", help="print the path of the built LAMMPS pair_style mtp plugin")
    q.add_argument("--rebuild", action="store_true")
    from argyro_run.potentials.plugin import cli_lammps_plugin

    q.set_defaults(func=cli_lammps_plugin)
