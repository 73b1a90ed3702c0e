"""``argyro-run report results.h5 -o DIR``: PNG figures + ``summary.md`` (see docs/report.md)."""

from argyro_run.errors import UserError


def _report(args) -> int:
    from pathlib import Path

    p = Path(args.archive)
    if not p.is_file():
        raise UserError(f"archive: {p} does not exist; allowed: a results .h5 written by 'argyro-run run'")
    with open(p, "rb") as fh:
        if fh.read(8) != b"\x89HDF\r\n\x1a\n":
            raise UserError(f"archive: {p} is not an HDF5 file; allowed: a results .h5 written by 'argyro-run run'")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise UserError(f"-o/--output: {out} exists and is not a directory")
    if args.dpi < 30 or args.dpi > 1200:
        raise UserError(f"--dpi: {args.dpi}; allowed: 30 .. 1200")

    from argyro_run.report import make_report

    rep = make_report(p, out, dpi=args.dpi)
    for name, path in rep.figures.items():
        print(f"figure {name}: {path}")
    for name, why in rep.skipped.items():
        print(f"skipped {name}: {why}")
    print(f"summary: {rep.summary}")
    return 0


def register(sub):
    p = sub.add_parser("report", help="write PNG figures and a Markdown summary from a results archive")
    p.add_argument("archive", help="results .h5 file")
    p.add_argument("-o", "--output", required=True, help="output directory (created if needed)")
    p.add_argument("--dpi", type=int, default=120, help="resolution of the PNGs (default 120)")
    p.set_defaults(func=_report)
