from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("init", help="write an input template (see --list)")
    p.add_argument("name", nargs="?", help="template name")
    p.add_argument("-o", "--output", help="output file")
    p.add_argument("--list", action="store_true", help="list templates")
    p.set_defaults(func=not_built("init", "templates, issue 3"))
