from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("run", help="validate, plan and execute an input file (MPI-parallel)")
    p.add_argument("input", help="input TOML file")
    p.add_argument("--force", action="store_true", help="overwrite an archive made from a different input")
    p.set_defaults(func=not_built("run", "runtime, issue 4"))
