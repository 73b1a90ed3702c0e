"""``argyro-run validate FILE``: exit 0 if the input is valid, 2 (with every problem) otherwise."""

from __future__ import annotations


def _validate(args) -> int:
    from argyro_run.config import load_config

    cfg = load_config(args.input)
    print(f"{args.input}: valid ({len(cfg.materials)} material(s))")
    return 0


def register(sub):
    p = sub.add_parser("validate", help="check an input file; exit 0 if valid, 2 otherwise")
    p.add_argument("input", help="input TOML file")
    p.set_defaults(func=_validate)
