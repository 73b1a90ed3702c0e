from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("schema", help="print the JSON Schema of the input file")
    p.set_defaults(func=not_built("schema", "input language, issue 3"))
