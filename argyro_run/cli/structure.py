from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("structure", help="build every structure an input defines and write extxyz files")
    p.add_argument("input", help="input TOML file")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=not_built("structure", "structures, issue 5"))
