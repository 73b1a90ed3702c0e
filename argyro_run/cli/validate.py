from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("validate", help="check an input file; exit 0 if valid, 2 otherwise")
    p.add_argument("input", help="input TOML file")
    p.set_defaults(func=not_built("validate", "input language, issue 3"))
