from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("plan", help="print the execution plan (task DAG) of an input file")
    p.add_argument("input", help="input TOML file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=not_built("plan", "planner, issue 3"))
