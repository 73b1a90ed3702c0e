from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("inspect", help="print the tree and key results of a results archive")
    p.add_argument("archive", help="results .h5 file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=not_built("inspect", "archive, issue 4"))
