from argyro_run.cli._common import not_built


def register(sub):
    p = sub.add_parser("report", help="write PNG figures and a Markdown summary from a results archive")
    p.add_argument("archive", help="results .h5 file")
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.set_defaults(func=not_built("report", "reports, issue 10"))
