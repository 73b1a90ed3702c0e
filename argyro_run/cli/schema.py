"""``argyro-run schema``: print the JSON Schema of the input file."""

from __future__ import annotations

import sys


def _schema(args) -> int:
    from argyro_run.config import json_schema_text

    sys.stdout.write(json_schema_text())
    return 0


def register(sub):
    p = sub.add_parser("schema", help="print the JSON Schema of the input file")
    p.set_defaults(func=_schema)
