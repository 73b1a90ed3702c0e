"""``argyro-run init NAME [-o FILE]`` / ``init --list``: write an input template."""

from __future__ import annotations

from pathlib import Path

from argyro_run.errors import UserError


def _init(args) -> int:
    from argyro_run.templates import template_companions, template_names, template_text

    if args.list or not args.name:
        for n in template_names():
            print(n)
        return 0 if args.list else 2
    text = for_user(template_text(args.name))
    out = Path(args.output or f"{args.name}.toml")
    if out.exists():
        raise UserError(f"{str(out)!r} already exists; not overwriting (choose another name with -o)")
    try:
        with open(out, "x", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UserError(f"cannot write {str(out)!r}: {exc}") from None
    print(f"wrote {out}")
    for rel, data in template_companions(args.name).items():  # e.g. the example structure file
        target = out.parent / rel
        if target.exists():
            print(f"kept the existing {target} (the template's {rel} was not written)")
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as fh:
                fh.write(data)
        except OSError as exc:
            raise UserError(f"cannot write {str(target)!r} (needed by {out}): {exc}") from None
        print(f"wrote {target} (the input refers to it; replace it with your own)")
    return 0


SCHEMA_HINT = ("# Editor completion/checks: `argyro-run schema > argyro-run.schema.json`, then make the\n"
               "# first line `#:schema ./argyro-run.schema.json` (see docs/input.md).\n")


def for_user(text: str) -> str:
    """The template as written for a user: the repo-relative ``#:schema`` line becomes a hint."""
    first, _, rest = text.partition("\n")
    return SCHEMA_HINT + rest if first.startswith("#:schema") else text


def register(sub):
    p = sub.add_parser("init", help="write an input template (see --list)")
    p.add_argument("name", nargs="?", help="template name")
    p.add_argument("-o", "--output", help="output file")
    p.add_argument("--list", action="store_true", help="list templates")
    p.set_defaults(func=_init)
