"""``argyro-run inspect results.h5 [--json] [--tree]``."""

from argyro_run.errors import UserError


def _inspect(args) -> int:
    from pathlib import Path

    from argyro_run.archive.inspect import render_json, render_text

    p = Path(args.archive)
    if not p.is_file():
        raise UserError(f"archive: {p} does not exist; allowed: a results .h5 written by 'argyro-run run'")
    if args.json:
        print(render_json(p))
    elif args.tree:
        print(render_text(p, show_tree=True))
    else:
        print(render_text(p, show_tree=False))
    return 0


def register(sub):
    p = sub.add_parser("inspect", help="print the tree and key results of a results archive")
    p.add_argument("archive", help="results .h5 file")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--tree", action="store_true", help="also print every group/dataset with shape and units")
    p.set_defaults(func=_inspect)
